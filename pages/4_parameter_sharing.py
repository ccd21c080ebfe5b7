"""Parameter sharing: one kernel everywhere makes convolution translation equivariant; see where it breaks."""

import streamlit as st

from cnnviz import (
    equivariance_errors,
    equivariance_view,
    feature_maps,
    first_convolution,
    layer_parameter_counts,
    toy_model,
)
from cnnviz.plots import plot_equivariance_errors, plot_equivariance_view, plot_parameter_counts
from cnnviz.safe_text import as_markdown_text
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import figure_labels, t
from pages.common.inputs import index_slider, pick_input
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model
from pages.common.shared_runs import shared_view, shared_with_figure
from pages.common.words_parameter_sharing import region_sentence, verdict

NETWORKS = ["current", "toy"]   # the current model, or a toy stack of three convolutions
PADDINGS, POOLS = ["zeros", "circular"], ["none", "max", "avg"]

frame = page_frame()
st.title(t("parameter_sharing.title"))
st.caption(t("parameter_sharing.caption"))

trained = current_model()
name = as_markdown_text(trained.info.name)
network = st.radio(t("parameter_sharing.network"), NETWORKS, horizontal=True,
                   format_func=lambda k: t(f"parameter_sharing.networks.{k}", name=name),
                   key=linked("eq_network", choices=NETWORKS))
mode = "zeros"
model_line = model_code()
if network == "toy":
    a, b, c = st.columns(3)
    padding = a.radio(t("parameter_sharing.padding"), PADDINGS, horizontal=True,
                      format_func=lambda k: t(f"parameter_sharing.paddings.{k}"),
                      key=linked("eq_padding", choices=PADDINGS), help=t("parameter_sharing.padding_help"))
    stride = b.radio(t("parameter_sharing.stride"), [1, 2], horizontal=True,
                     key=linked("eq_stride", choices=[1, 2]))
    pool = c.radio(t("parameter_sharing.pool"), POOLS, horizontal=True,
                   format_func=lambda k: t(f"parameter_sharing.pools.{k}"), key=linked("eq_pool", choices=POOLS))
    pool = None if pool == "none" else pool
    trained = toy_model(padding_mode=padding, stride=stride, pool=pool)
    model_line = f"trained = cnnviz.toy_model(padding_mode={padding!r}, stride={stride}, pool={pool!r})"
    mode = "circular" if padding == "circular" else "zeros"

left, right = st.columns([1, 2])
with left:
    picked = pick_input(trained, key="eq")
    s1, s2 = st.columns(2)
    dy = s1.slider(t("parameter_sharing.shift_down"), -8, 8, 0 if network == "toy" else 2,
                   key=linked("eq_dy", low=-8, high=8))
    dx = s2.slider(t("parameter_sharing.shift_right"), -8, 8, 3 if network == "toy" else 0,
                   key=linked("eq_dx", low=-8, high=8))
prep = trained.info.preprocessing
x = prep.apply(picked.image[None])[0]
errors, errors_figure = shared_with_figure("eq_errors", trained, (picked.image, dy, dx, mode),
                                           lambda: equivariance_errors(trained.model, x, (dy, dx), mode=mode),
                                           lambda found: plot_equivariance_errors(
                                               found, labels=figure_labels("equivariance_errors")))
with right:
    st.plotly_chart(errors_figure, key="eq_errors")
    border = t("parameter_sharing.border_circular" if mode == "circular" else "parameter_sharing.border_zeros")
    st.caption(t("parameter_sharing.errors_caption", border=border))

names = [e.name for e in errors]
first = first_convolution(trained.model, names)  # trained: the toy stack, if chosen
if st.session_state.get("eq_layer", first) not in names:
    # A layer of the other network (pool2, then the toy stack): set, not just drop, the value, so the
    # browser is told to show the new default; a dropped value leaves it showing the stale name.
    st.session_state["eq_layer"] = first
a, b = st.columns(2)
layer = a.selectbox(t("parameter_sharing.layer"), names, index=names.index(first),
                    key=linked("eq_layer", choices=names))
chosen = errors[names.index(layer)]
channels = shared_view("eq_channels", trained, (layer,),
                       lambda: feature_maps(trained.model, x, layers=[layer])[layer].shape[0])
channel = index_slider(t("parameter_sharing.channel"), channels, key="eq_channel", container=b)
view, figure = shared_with_figure("eq_view", trained, (picked.image, dy, dx, layer, channel, mode),
                                  lambda: equivariance_view(trained.model, x, (dy, dx), layer, channel, mode=mode),
                                  lambda found: plot_equivariance_view(
                                      found, labels=figure_labels("equivariance_view")))
st.plotly_chart(figure, key="eq_view")
reproduce_panel(figure, snippet(model_line, input_code(picked), "x = trained.info.preprocessing.apply(image[None])[0]",
                                f"view = cnnviz.equivariance_view(trained.model, x, {(dy, dx)}, {layer!r}, {channel}, "
                                f"mode={mode!r})",
                                "fig = cnnviz.plots.plot_equivariance_view(view)"),
                name="equivariance_view")
st.caption(region_sentence(chosen, mode))
(st.success if chosen.exact else st.warning)(verdict(chosen, view, (dy, dx), mode))

st.subheader(t("parameter_sharing.savings"))
st.caption(t("parameter_sharing.savings_caption"))
# The Receptive fields page shares this figure ("param_counts"): the same call, the same labels.
counts, counts_figure = shared_with_figure(
    "param_counts", trained, (), lambda: layer_parameter_counts(trained.model, prep.input_shape),
    lambda rows: plot_parameter_counts(rows, labels=figure_labels("parameter_counts")))
st.plotly_chart(counts_figure, key="eq_counts")
column = {key: t(f"parameter_sharing.columns.{key}")
          for key in ("layer", "conv", "locally_connected", "dense", "saves")}
st.dataframe([{column["layer"]: c.name, column["conv"]: c.conv, column["locally_connected"]: c.locally_connected,
               column["dense"]: c.dense, column["saves"]: f"{c.locally_connected / c.conv:,.0f}×"} for c in counts],
             hide_index=True)

close_page_frame(frame)
