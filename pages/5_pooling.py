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
from cnnviz.safe_text import as_markdown_text
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import figure_labels, t
from pages.common.inputs import index_slider, pick_input
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model, own_test_data
from pages.common.shared_runs import shared_view, shared_with_figure
from pages.common.words_frame import no_test_images
from pages.common.words_pooling import winner_sentence

POOL_KINDS = ["max", "avg", "blur", "maxblur", "subsample"]
KIND_NOTES = ("blur", "maxblur")    # kinds with a note under the pooled map
TRANSFORMS = {"translate": np.arange(0, 5, 1.0), "rotate": np.arange(-15, 15.1, 2.5),
              "scale": np.round(np.arange(0.8, 1.201, 0.05), 2)}
IMAGE = "image"                     # the map to pool is the input image, not a layer's

frame = page_frame()
st.title(t("pooling.title"))
st.caption(t("pooling.caption"))

trained = current_model()
info = trained.info
prep = info.preprocessing

st.subheader(t("pooling.one_map"))
left, right = st.columns([1, 2])
with left:
    picked = pick_input(trained, key="pool")
    x = prep.apply(picked.image[None])[0]
    map_choices = [IMAGE, *shared_view("spatial_layers", trained, (),
                                       lambda: spatial_layers(trained.model, prep.input_shape))]
    if st.session_state.get("pool_map", map_choices[0]) not in map_choices:
        # Another model's layer: set the default, so the browser is told (a dropped value stays shown there).
        st.session_state["pool_map"] = map_choices[0]
    source = st.selectbox(t("pooling.map"), map_choices, format_func=lambda m: t("pooling.image") if m == IMAGE else m,
                          key=linked("pool_map", choices=map_choices))
    if source == IMAGE:
        maps = picked.image
    else:
        maps = shared_view("maps", trained, (picked.image, source),
                           lambda: feature_maps(trained.model, x, layers=[source])[source])
    channel = index_slider(t("pooling.channel"), maps.shape[0], key="pool_channel")
    kind = st.radio(t("pooling.kind"), POOL_KINDS, format_func=lambda k: t(f"pooling.kinds.{k}"),
                    key=linked("pool_kind", choices=POOL_KINDS))
    k1, k2 = st.columns(2)
    kernel = k1.slider(t("pooling.max_window" if kind == "maxblur" else "pooling.window"), 1, 5, 2,
                       key=linked("pool_kernel", low=1, high=5))
    stride = k2.slider(t("pooling.stride"), 1, 4, 2, key=linked("pool_stride", low=1, high=4))
    blur_size = 3
    if kind == "maxblur":
        blur_size = st.slider(t("pooling.blur"), 1, 7, 3, key=linked("pool_blur", low=1, high=7),
                              help=t("pooling.blur_help"))
with right:
    try:
        result, figure = shared_with_figure(
            "pool", trained, (picked.image, source, channel, kind, kernel, stride, blur_size),
            lambda: pool(maps[channel], kind, kernel, stride, blur_size=blur_size),
            lambda pooled: plot_pooling(maps[channel], pooled, labels=figure_labels("pooling")))
    except ValueError as exc:
        st.warning(t("pooling.too_large", error=exc))
    else:
        st.plotly_chart(figure, key="pool_figure")
        maps_code = ("maps = image" if source == IMAGE else
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
            st.caption(t(f"pooling.notes.{kind}"))

st.subheader(t("pooling.invariance"))
t1, t2 = st.columns(2)
transform = t1.radio(t("pooling.transform"), list(TRANSFORMS), format_func=lambda k: t(f"pooling.transforms.{k}"),
                     horizontal=True, key=linked("pool_transform", choices=list(TRANSFORMS)))
test_data = own_test_data(trained)
over_choices = ["input", "test_images"] if test_data is not None else ["input"]
over = t2.radio(t("pooling.over"), over_choices, format_func=lambda k: t(f"pooling.overs.{k}"), horizontal=True,
                key=linked("pool_over", choices=over_choices), help=t("pooling.over_help"))
if test_data is None:
    t2.caption(no_test_images(t("pooling.no_test_images"), as_markdown_text(info.dataset)))
amounts = TRANSFORMS[transform]
stages = shared_view("pool_stages", trained, (), lambda: pooling_stages(trained.model, prep.input_shape))
measured_on = (picked.image if over == "input" else None, over, transform)
curves, curves_figure = shared_with_figure(
    "invariance", trained, measured_on, lambda: invariance_curves(
        trained.model, prep.apply(test_data.x_test[:64]) if over == "test_images" else x, transform, amounts),
    lambda found: plot_invariance_curves(found, highlight=[s.name for s in stages],
                                         labels=figure_labels("invariance_curves")))
st.plotly_chart(curves_figure, key="pool_curves")
amount = st.select_slider(t(f"pooling.amounts.{transform}"), list(amounts),
                          value=amounts[1] if transform == "translate" else amounts[-1],
                          key=linked(f"pool_amount_{transform}", choices=list(amounts)))
st.plotly_chart(shared_view("layer_change", trained, (*measured_on, amount),
                            lambda: plot_layer_change(curves, amount, labels=figure_labels("layer_change"))),
                key="pool_layer_change")
st.caption(t("pooling.change_caption"))

st.subheader(t("pooling.downsampling"))
if stages:
    column = {key: t(f"pooling.columns.{key}") for key in ("layer", "kind", "input", "output")}
    st.dataframe([{column["layer"]: s.name, column["kind"]: s.kind, column["input"]: "×".join(map(str, s.input_shape)),
                   column["output"]: "×".join(map(str, s.output_shape))} for s in stages], hide_index=True)
else:
    st.info(t("pooling.no_pooling", name=as_markdown_text(info.name)))

close_page_frame(frame)
