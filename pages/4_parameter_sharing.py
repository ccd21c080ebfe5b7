"""Parameter sharing: one kernel everywhere makes convolution translation equivariant; see where it breaks."""

import math

import streamlit as st

from cnnviz import (
    LayerEquivariance,
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
from pages.common.inputs import index_slider, pick_input
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model
from pages.common.shared_runs import shared_view, shared_with_figure

CURRENT = "the current model"
# Below this a relative error is float rounding (the figures say "≈0" below 1e-7, too).
ROUNDING = 1e-5


def region_sentence(chosen: LayerEquivariance, mode: str) -> str:
    """Which region the error is measured on, and what the edges outside it add: numbers decide the words."""
    if mode == "circular":
        return (f"Circular padding and a circular shift leave no border: all {chosen.compared:,} units per channel "
                "are compared, and the difference panel is the whole comparison.")
    if chosen.compared == 0:
        return ("No unit of this layer is out of reach of the borders for this shift, so no error is measured; "
                "the difference panel shows what the borders do to the whole map.")
    inside = ("exactly 0" if chosen.error == 0 else f"{chosen.error:.1e}" if chosen.error < ROUNDING
              else f"{chosen.error:.2f}")
    whole = chosen.full_error
    if math.isfinite(whole) and whole - chosen.error >= ROUNDING:
        edges = (f"over the whole map, edges included, it is {whole:.2f}: the extra error sits along the edges, "
                 "where zero padding (and the band the shift left empty) feeds in values the unshifted image "
                 "did not have.")
    elif math.isfinite(whole) and whole < ROUNDING:
        edges = (f"over the whole map, edges included, it is {'exactly 0' if whole == 0 else f'{whole:.1e}'}: "
                 "the edges add no error here.")
    else:
        edges = f"over the whole map, edges included, it is {whole:.2f}: the edges do not add to it."
    return (f"The error is measured inside the dashed box, on the {chosen.compared:,} units per channel that no "
            f"border reaches: {inside}; " + edges)
TOY = "a toy stack of three convolutions"

frame = page_frame()
st.title("Parameter sharing: convolution is equivariant")
st.caption("A convolution uses the same kernel at every position. So if the input moves, the feature maps "
           "move with it: f(shift x) = shift f(x). That is translation **equivariance**: the output changes, "
           "in step with the input. (An output that does not change at all would be **invariant**; pooling "
           "buys a little of that, see the Pooling page.)")

trained = current_model()
networks = {CURRENT: f"{CURRENT} ({as_markdown_text(trained.info.name)})", TOY: TOY}
network = st.radio("Network", list(networks), format_func=networks.get, horizontal=True,
                   key=linked("eq_network", choices=list(networks)))
mode = "zeros"
model_line = model_code()
if network == TOY:
    a, b, c = st.columns(3)
    padding = a.radio("Padding", ["zeros", "circular"], horizontal=True,
                      key=linked("eq_padding", choices=["zeros", "circular"]),
                      help="Circular padding wraps the image around: no border, so stride-1 convolutions "
                           "are exactly equivariant to every integer shift.")
    stride = b.radio("Stride of the second convolution", [1, 2], horizontal=True,
                     key=linked("eq_stride", choices=[1, 2]))
    pool = c.radio("Pooling after it", ["none", "max", "avg"], horizontal=True,
                   key=linked("eq_pool", choices=["none", "max", "avg"]))
    pool = None if pool == "none" else pool
    trained = toy_model(padding_mode=padding, stride=stride, pool=pool)
    model_line = f"trained = cnnviz.toy_model(padding_mode={padding!r}, stride={stride}, pool={pool!r})"
    mode = "circular" if padding == "circular" else "zeros"

left, right = st.columns([1, 2])
with left:
    picked = pick_input(trained, key="eq")
    s1, s2 = st.columns(2)
    dy = s1.slider("Shift down (pixels)", -8, 8, 0 if network == TOY else 2, key=linked("eq_dy", low=-8, high=8))
    dx = s2.slider("Shift right (pixels)", -8, 8, 3 if network == TOY else 0, key=linked("eq_dx", low=-8, high=8))
prep = trained.info.preprocessing
x = prep.apply(picked.image[None])[0]
errors, errors_figure = shared_with_figure("eq_errors", trained, (picked.image, dy, dx, mode),
                                           lambda: equivariance_errors(trained.model, x, (dy, dx), mode=mode),
                                           plot_equivariance_errors)
with right:
    st.plotly_chart(errors_figure, key="eq_errors")
    border = ("every unit, wrapping around" if mode == "circular" else
              "only the units whose receptive field sees neither padding nor the band the shift left empty "
              "(the dashed box in the maps below; the difference there shows the whole map)")
    st.caption(f"Relative difference between f(shift x) and shift f(x) per layer, measured on {border}. "
               "After a layer with jump j (its effective stride), the map can only move by shift / j: when "
               "the shift is not a multiple of j there is no exact match, and the nearest one is compared.")

names = [e.name for e in errors]
first = first_convolution(trained.model, names)  # trained: the toy stack, if chosen
if st.session_state.get("eq_layer", first) not in names:
    # A layer of the other network (pool2, then the toy stack): set, not just drop, the value, so the
    # browser is told to show the new default; a dropped value leaves it showing the stale name.
    st.session_state["eq_layer"] = first
a, b = st.columns(2)
layer = a.selectbox("Layer", names, index=names.index(first), key=linked("eq_layer", choices=names))
chosen = errors[names.index(layer)]
channels = shared_view("eq_channels", trained, (layer,),
                       lambda: feature_maps(trained.model, x, layers=[layer])[layer].shape[0])
channel = index_slider("Channel", channels, key="eq_channel", container=b)
view, figure = shared_with_figure("eq_view", trained, (picked.image, dy, dx, layer, channel, mode),
                                  lambda: equivariance_view(trained.model, x, (dy, dx), layer, channel, mode=mode),
                                  plot_equivariance_view)
st.plotly_chart(figure, key="eq_view")
reproduce_panel(figure, snippet(model_line, input_code(picked), "x = trained.info.preprocessing.apply(image[None])[0]",
                                f"view = cnnviz.equivariance_view(trained.model, x, {(dy, dx)}, {layer!r}, {channel}, "
                                f"mode={mode!r})",
                                "fig = cnnviz.plots.plot_equivariance_view(view)"),
                name="equivariance_view")
st.caption(region_sentence(chosen, mode))
if chosen.exact:
    match = "exactly (relative error 0)" if chosen.error == 0 else f"to a relative error of {chosen.error:.1e}"
    st.success(f"At {layer} the shift ({dy}, {dx}) is a whole multiple of the jump {chosen.jump}: the map moves "
               f"by {view.map_shift} and matches {match} "
               f"{'over the whole map' if mode == 'circular' else 'inside the dashed box'}. Equivariant.")
else:
    st.warning(f"At {layer} the jump is {chosen.jump}, so a shift of ({dy}, {dx}) pixels would move the map by "
               f"{chosen.map_shift} units, which no map can do; the nearest whole shift {view.map_shift} "
               f"leaves a relative error of {chosen.error:.2f} "
               f"{'over the whole map' if mode == 'circular' else 'inside the dashed box'}. "
               "Stride breaks exact equivariance.")

st.subheader("What sharing saves")
st.caption("Each convolution beside a locally connected layer (the same local windows but a separate kernel at "
           "every position: no sharing) and a dense layer between the same shapes.")
counts, counts_figure = shared_with_figure("param_counts", trained, (), lambda: layer_parameter_counts(
    trained.model, prep.input_shape), plot_parameter_counts)
st.plotly_chart(counts_figure, key="eq_counts")
st.dataframe([{"layer": c.name, "convolution (shared)": c.conv, "locally connected": c.locally_connected,
               "dense": c.dense, "sharing saves": f"{c.locally_connected / c.conv:,.0f}×"} for c in counts],
             hide_index=True)

close_page_frame(frame)
