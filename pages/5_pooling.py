"""Pooling: downsample a map, see which value wins, and measure how much invariance pooling buys."""

import numpy as np
import streamlit as st

from cnnviz import (
    feature_maps,
    invariance_curves,
    pool,
    pooling_stages,
    spatial_layers,
)
from cnnviz.plots import plot_invariance_curves, plot_layer_change, plot_pooling
from pages.common.frame import close_page_frame, page_frame
from pages.common.inputs import index_slider, pick_input
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model, own_test_data

POOL_KINDS = {"max": "max", "avg": "average", "blur": "blur, then subsample (Zhang 2019)",
              "subsample": "subsample only (stride, no pooling)"}
TRANSFORMS = {"translate": ("Shift right (pixels)", np.arange(0, 5, 1.0)),
              "rotate": ("Rotation (degrees)", np.arange(-15, 15.1, 2.5)),
              "scale": ("Scale factor", np.round(np.arange(0.8, 1.201, 0.05), 2))}

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
    map_choices = ["the input image", *spatial_layers(trained.model, prep.input_shape)]
    source = st.selectbox("Map to pool", map_choices, key=linked("pool_map", choices=map_choices))
    if source == "the input image":
        maps = picked.image
    else:
        maps = feature_maps(trained.model, x, layers=[source])[source]
    channel = index_slider("Channel", maps.shape[0], key="pool_channel")
    kind = st.radio("Pooling", list(POOL_KINDS), format_func=POOL_KINDS.get,
                    key=linked("pool_kind", choices=list(POOL_KINDS)))
    k1, k2 = st.columns(2)
    kernel = k1.slider("Window (kernel)", 1, 5, 2, key=linked("pool_kernel", low=1, high=5))
    stride = k2.slider("Stride", 1, 4, 2, key=linked("pool_stride", low=1, high=4))
with right:
    try:
        result = pool(maps[channel], kind, kernel, stride)
    except ValueError as exc:
        st.warning(f"{exc} Choose a smaller window.")
    else:
        figure = plot_pooling(maps[channel], result)
        st.plotly_chart(figure, key="pool_figure")
        maps_code = ("maps = image" if source == "the input image" else
                     f"x = trained.info.preprocessing.apply(image[None])[0]\n"
                     f"maps = cnnviz.feature_maps(trained.model, x, layers=[{source!r}])[{source!r}]")
        reproduce_panel(figure, snippet(model_code(), input_code(picked), maps_code,
                                        f"result = cnnviz.pool(maps[{channel}], {kind!r}, {kernel}, {stride})",
                                        f"fig = cnnviz.plots.plot_pooling(maps[{channel}], result)"),
                        name="pooling")
        if kind == "max":
            st.caption("Dots mark the value that won each window: only it passes on, so a small move of the "
                       "input that keeps the winner inside its window leaves the output unchanged.")

st.subheader("Invariance, measured")
t1, t2 = st.columns(2)
transform = t1.radio("Transform", list(TRANSFORMS), horizontal=True,
                     key=linked("pool_transform", choices=list(TRANSFORMS)))
test_data = own_test_data(trained)
over_choices = ["this input", "64 test images"] if test_data is not None else ["this input"]
over = t2.radio("Measured on", over_choices, horizontal=True, key=linked("pool_over", choices=over_choices),
                help="The mean over many images shows the typical behaviour, not one image's.")
label, amounts = TRANSFORMS[transform]
inputs = x
if over == "64 test images":
    inputs = prep.apply(test_data.x_test[:64])
curves = invariance_curves(trained.model, inputs, transform, amounts)
stages = pooling_stages(trained.model, prep.input_shape)
pooled = [s.name for s in stages]
st.plotly_chart(plot_invariance_curves(curves, highlight=pooled), key="pool_curves")
amount = st.select_slider(label, list(amounts), value=amounts[1] if transform == "translate" else amounts[-1],
                          key=linked(f"pool_amount_{transform}", choices=list(amounts)))
st.plotly_chart(plot_layer_change(curves, amount), key="pool_layer_change")
st.caption("Relative change of each layer's output, ||f(Tx) − f(x)|| / ||f(x)||. Compare each pooling layer "
           "with the layer just before it: the drop is the invariance the pooling buys.")

st.subheader("Downsampling")
if stages:
    st.dataframe([{"pooling layer": s.name, "kind": s.kind, "input": "×".join(map(str, s.input_shape)),
                   "output": "×".join(map(str, s.output_shape))} for s in stages], hide_index=True)
else:
    st.info(f"{info.name} has no pooling layer.")

close_page_frame(frame)
