"""Pooling: downsample a map, see which value wins, and measure how much invariance pooling buys."""

import numpy as np
import streamlit as st

from cnnviz import (
    PoolResult,
    feature_maps,
    invariance_curves,
    pool,
    pooling_stages,
    spatial_layers,
)
from cnnviz.plots import plot_invariance_curves, plot_layer_change, plot_pooling
from cnnviz.safe_text import as_markdown_text
from pages.common.frame import close_page_frame, page_frame
from pages.common.inputs import index_slider, pick_input
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model, own_test_data
from pages.common.shared_runs import shared_view, shared_with_figure
from pages.common.words_frame import no_test_images

POOL_KINDS = {"max": "max", "avg": "average", "blur": "BlurPool: blur, then subsample (Zhang 2019)",
              "maxblur": "MaxBlurPool: max with stride 1, blur, then subsample (Zhang 2019)",
              "subsample": "subsample only (stride, no pooling)"}
KIND_NOTES = {
    "blur": "**BlurPool** (Zhang 2019) low-pass filters the map with a binomial kernel (the window size), then "
            "keeps every stride-th value. It is what Zhang puts in place of a strided convolution or average "
            "pooling. It takes no maximum: for max pooling see MaxBlurPool.",
    "maxblur": "**MaxBlurPool** (Zhang 2019) is the anti-aliased max pooling: the maximum of every window with "
               "stride 1 (nothing is dropped yet, so nothing aliases), then a binomial blur, then every "
               "stride-th value. BlurPool is only the last two steps.",
}
TRANSFORMS = {"translate": ("Shift right (pixels)", np.arange(0, 5, 1.0)),
              "rotate": ("Rotation (degrees)", np.arange(-15, 15.1, 2.5)),
              "scale": ("Scale factor", np.round(np.arange(0.8, 1.201, 0.05), 2))}



def winner_sentence(result: PoolResult) -> str:
    """What the dots mean, what a shift does to a max, and how many windows are ties: the count decides."""
    windows = int(np.prod(result.output.shape))
    ties = result.ties
    tie_words = ("" if ties == 0 else
                 f" {ties:,} of the {windows:,} windows are ties (their maximum occurs more than once, e.g. all "
                 f"zero after a ReLU): no single value wins them, so they have no dot.")
    return ("Dots mark the value that won each window: only it passes on. A small shift can change a window's "
            "output even if its winner stays inside it, because a larger value can move in. "
            "Row [0, 5, 9, 0], 2-wide windows, shifted left by one: 5 stays in window 0, but 9 joins it, and "
            "the output goes from 5 to 9. Pooling makes the output less sensitive to shifts, not unchanged."
            + tie_words)


frame = page_frame()
st.title("Pooling: downsampling that buys invariance")
st.caption("A pooling layer summarises each small window by one number (its maximum or its mean). The map "
           "gets smaller, and a small shift, rotation or scaling of the input changes the pooled output less "
           "than the map before it: pooling makes the representation approximately **invariant** to such "
           "changes. (Convolution alone is equivariant: its maps move with the input.)")

trained = current_model()
info = trained.info
prep = info.preprocessing

st.subheader("Pool one map")
left, right = st.columns([1, 2])
with left:
    picked = pick_input(trained, key="pool")
    x = prep.apply(picked.image[None])[0]
    map_choices = ["the input image", *shared_view("spatial_layers", trained, (),
                                                   lambda: spatial_layers(trained.model, prep.input_shape))]
    if st.session_state.get("pool_map", map_choices[0]) not in map_choices:
        # Another model's layer: set the default, so the browser is told (a dropped value stays shown there).
        st.session_state["pool_map"] = map_choices[0]
    source = st.selectbox("Map to pool", map_choices, key=linked("pool_map", choices=map_choices))
    if source == "the input image":
        maps = picked.image
    else:
        maps = shared_view("maps", trained, (picked.image, source),
                           lambda: feature_maps(trained.model, x, layers=[source])[source])
    channel = index_slider("Channel", maps.shape[0], key="pool_channel")
    kind = st.radio("Pooling", list(POOL_KINDS), format_func=POOL_KINDS.get,
                    key=linked("pool_kind", choices=list(POOL_KINDS)))
    k1, k2 = st.columns(2)
    kernel = k1.slider("Max window" if kind == "maxblur" else "Window (kernel)", 1, 5, 2,
                       key=linked("pool_kernel", low=1, high=5))
    stride = k2.slider("Stride", 1, 4, 2, key=linked("pool_stride", low=1, high=4))
    blur_size = 3
    if kind == "maxblur":
        blur_size = st.slider("Blur filter (binomial, size)", 1, 7, 3, key=linked("pool_blur", low=1, high=7),
                              help="Zhang 2019 tries sizes 2 to 7; 3 is [1, 2, 1]ᵀ[1, 2, 1] / 16.")
with right:
    try:
        result, figure = shared_with_figure(
            "pool", trained, (picked.image, source, channel, kind, kernel, stride, blur_size),
            lambda: pool(maps[channel], kind, kernel, stride, blur_size=blur_size),
            lambda pooled: plot_pooling(maps[channel], pooled))
    except ValueError as exc:
        st.warning(f"{exc} Choose a smaller window.")
    else:
        st.plotly_chart(figure, key="pool_figure")
        maps_code = ("maps = image" if source == "the input image" else
                     f"x = trained.info.preprocessing.apply(image[None])[0]\n"
                     f"maps = cnnviz.feature_maps(trained.model, x, layers=[{source!r}])[{source!r}]")
        reproduce_panel(figure, snippet(model_code(), input_code(picked), maps_code,
                                        f"result = cnnviz.pool(maps[{channel}], {kind!r}, {kernel}, {stride}"
                                        + (f", blur_size={blur_size})" if kind == "maxblur" else ")"),
                                        f"fig = cnnviz.plots.plot_pooling(maps[{channel}], result)"),
                        name="pooling")
        if kind == "max":
            st.caption(winner_sentence(result))
        elif kind in KIND_NOTES:
            st.caption(KIND_NOTES[kind])

st.subheader("Invariance, measured")
t1, t2 = st.columns(2)
transform = t1.radio("Transform", list(TRANSFORMS), horizontal=True,
                     key=linked("pool_transform", choices=list(TRANSFORMS)))
test_data = own_test_data(trained)
over_choices = ["this input", "64 test images"] if test_data is not None else ["this input"]
over = t2.radio("Measured on", over_choices, horizontal=True, key=linked("pool_over", choices=over_choices),
                help="The mean over many images shows the typical behaviour, not one image's.")
if test_data is None:
    t2.caption(no_test_images("The mean over 64 test images", as_markdown_text(info.dataset)))
label, amounts = TRANSFORMS[transform]
stages = shared_view("pool_stages", trained, (), lambda: pooling_stages(trained.model, prep.input_shape))
measured_on = (picked.image if over == "this input" else None, over, transform)
curves, curves_figure = shared_with_figure(
    "invariance", trained, measured_on, lambda: invariance_curves(
        trained.model, prep.apply(test_data.x_test[:64]) if over == "64 test images" else x, transform, amounts),
    lambda found: plot_invariance_curves(found, highlight=[s.name for s in stages]))
st.plotly_chart(curves_figure, key="pool_curves")
amount = st.select_slider(label, list(amounts), value=amounts[1] if transform == "translate" else amounts[-1],
                          key=linked(f"pool_amount_{transform}", choices=list(amounts)))
st.plotly_chart(shared_view("layer_change", trained, (*measured_on, amount),
                            lambda: plot_layer_change(curves, amount)), key="pool_layer_change")
st.caption("Relative change of each layer's output, ||f(Tx) − f(x)|| / ||f(x)||. Compare each pooling layer "
           "with the layer just before it: the drop is the invariance the pooling buys.")

st.subheader("Downsampling")
if stages:
    st.dataframe([{"pooling layer": s.name, "kind": s.kind, "input": "×".join(map(str, s.input_shape)),
                   "output": "×".join(map(str, s.output_shape))} for s in stages], hide_index=True)
else:
    st.info(f"{as_markdown_text(info.name)} has no pooling layer.")

close_page_frame(frame)
