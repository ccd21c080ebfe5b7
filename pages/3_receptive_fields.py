"""Receptive fields: what part of the input one unit sees, in theory and in its gradient; sparse interaction."""

from dataclasses import replace

import numpy as np
import streamlit as st

from cnnviz import (
    connectivity,
    effective_receptive_field,
    feature_maps,
    gradient_spread,
    layer_parameter_counts,
    receptive_fields,
)
from cnnviz.plots import (
    plot_connectivity,
    plot_effective_receptive_field,
    plot_parameter_counts,
    plot_receptive_field_box,
    plot_receptive_field_sizes,
    plot_unit_picker,
)
from cnnviz.safe_text import as_markdown_text
from pages.common import words_receptive_fields as words
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import figure_labels, t
from pages.common.inputs import index_slider, pick_input
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model, own_test_data
from pages.common.shared_runs import shared_view, shared_with_figure
from pages.common.words_frame import no_test_images

frame = page_frame()
st.title(t("receptive_fields.title"))
st.caption(t("receptive_fields.intro"))

trained = current_model()
info = trained.info
prep = info.preprocessing
records, sizes_figure = shared_with_figure("rf_sizes", trained, (), lambda: receptive_fields(
    trained.model, prep.input_shape), lambda found: plot_receptive_field_sizes(   # the notes in this language
        [replace(r, note=words.layer_note(r.note)) for r in found], labels=figure_labels("receptive_field_sizes")))

st.subheader(t("receptive_fields.every_layer"))
left, right = st.columns([3, 2])
with left:
    st.plotly_chart(sizes_figure, key="rf_sizes")
with right:   # English column names (tests read them), shown in the session's language
    st.dataframe([{"layer": r.name, "type": r.kind,
                   "size": "—" if r.size is None else f"{r.size[0]}×{r.size[1]}",
                   "jump": "—" if r.jump is None else f"{r.jump[0]}×{r.jump[1]}",
                   "start": "—" if r.start is None else f"({r.start[0]:g}, {r.start[1]:g})",
                   "note": words.layer_note(r.note)} for r in records], hide_index=True, height=320,
                 column_config={c: t(f"receptive_fields.table.{c}") for c in ("layer", "type", "size", "jump", "start",
                                                                             "note")})
st.caption(t("receptive_fields.table_note"))

st.subheader(t("receptive_fields.one_unit"))
picked = pick_input(trained, key="rf")
modules = dict(trained.model.named_modules())
with_rf = [r for r in records if r.name in modules and r.size is not None and r.output_shape is not None
           and len(r.output_shape) == 3]
names = [r.name for r in with_rf]
a, b = st.columns(2)
layer = a.selectbox(t("receptive_fields.unit.layer"), names, index=min(len(names) - 1, 3),
                    key=linked("rf_layer", choices=names))
record = with_rf[names.index(layer)]
channels, rows, cols = record.output_shape
channel = index_slider(t("receptive_fields.unit.channel"), channels, key="rf_channel", container=b)

# Each layer keeps its unit (rf_unit_<layer>) while another layer is shown; its Row/Column inputs
# carry it into the link. They are set before they are drawn, so a click (take_click) or a unit kept
# from another model, whose map may be larger (clamped), lands in them.
unit_key, picker_key = f"rf_unit_{layer}", f"picker_{layer}"
row_key = linked(f"rf_row_{layer}", low=0, high=rows - 1)
col_key = linked(f"rf_col_{layer}", low=0, high=cols - 1)
unit = st.session_state.get(unit_key, (rows // 2, cols // 2))
unit = (st.session_state.get(row_key, unit[0]), st.session_state.get(col_key, unit[1]))
st.session_state[row_key], st.session_state[col_key] = min(unit[0], rows - 1), min(unit[1], cols - 1)


def take_click() -> None:
    """A click on the map picks its unit (before the rerun, so the Row/Column inputs follow)."""
    points = st.session_state[picker_key].selection.get("points", [])
    if points:
        st.session_state[row_key], st.session_state[col_key] = int(points[0]["y"]), int(points[0]["x"])


x = prep.apply(picked.image[None])[0]
# Two by two, not three in a row: on a 1024 px projector a third of the page left the map ~60 px wide.
pick_col, box_col = st.columns(2)
with pick_col:
    st.markdown(t("receptive_fields.unit.pick", layer=layer, channel=channel))
    chart_slot = st.container()
    r_in, c_in = st.columns(2)
    unit = (int(r_in.number_input(t("receptive_fields.unit.row"), 0, rows - 1, key=row_key)),
            int(c_in.number_input(t("receptive_fields.unit.column"), 0, cols - 1, key=col_key)))
    st.session_state[unit_key] = unit
    picker = shared_view("rf_picker", trained, (picked.image, layer, channel, unit), lambda: plot_unit_picker(
        feature_maps(trained.model, x, layers=[layer])[layer][channel], unit, labels=figure_labels("unit_picker")))
    chart_slot.plotly_chart(picker, key=picker_key, on_select=take_click, selection_mode="points")

box = record.box(unit, (prep.size, prep.size))
with box_col:
    st.markdown(words.unit_sees(unit, layer, box, record.size, prep.size))
    st.plotly_chart(shared_view("rf_box", None, (picked.image, box, picked.label),
                                lambda: plot_receptive_field_box(picked.image, box, title=picked.label,
                                                                 labels=figure_labels("receptive_field_box"))),
                    key="rf_box")
erf_col, words_col = st.columns(2)
with words_col:
    test_data = own_test_data(trained)
    modes = [m for m in words.ERF_MODES if m != "test images" or test_data is not None]
    # The choices' words are looked up here, in this run's language: AppTest formats a value outside the run.
    mode = st.radio(t("receptive_fields.erf.gradient_of"), modes, format_func=words.erf_modes().__getitem__,
                    horizontal=True, key=linked("rf_mode", choices=modes), help=t("receptive_fields.erf.help"))
    if test_data is None:
        st.caption(no_test_images(t("receptive_fields.erf.no_test_images"), as_markdown_text(info.dataset)))
    # Each mode's inputs, and the same in the reproduce snippet (random inputs need numpy there).
    if mode == "this input":
        inputs, inputs_code = x, [input_code(picked), "inputs = prep.apply(image[None])[0]"]
    elif mode == "test images":
        inputs = prep.apply(test_data.x_test[:32])
        inputs_code = [f"inputs = prep.apply(cnnviz.load_image_dataset({test_data.name!r}).x_test[:32])"]
    else:
        inputs = prep.apply(np.random.default_rng(0).random((32, *prep.input_shape), dtype=np.float32))
        inputs_code = ["inputs = prep.apply(np.random.default_rng(0).random((32, *prep.input_shape), "
                       "dtype=np.float32))"]

    def erf_figure():
        erf = effective_receptive_field(trained.model, inputs, layer, unit, channel=channel)
        spread = gradient_spread(erf, box)
        return spread, plot_effective_receptive_field(erf, box, fraction=spread.fraction,
                                                      labels=figure_labels("effective_receptive_field"))

    spread, figure = shared_view("erf", trained, (picked.image if mode == "this input" else None, mode, layer,
                                                  unit, channel), erf_figure)
    if spread.peak is None:
        st.caption(words.switched_off(mode))
    else:
        st.caption(words.erf_sentence(spread))
with erf_col:
    st.plotly_chart(figure, key="erf")
    reproduce_panel(figure, snippet(
        *(["import numpy as np"] if mode == "random inputs" else []),
        model_code(), "prep = trained.info.preprocessing", *inputs_code,
        f"record = next(r for r in cnnviz.receptive_fields(trained.model, prep.input_shape) if r.name == {layer!r})",
        f"box = record.box({unit}, (prep.size, prep.size))",
        f"erf = cnnviz.effective_receptive_field(trained.model, inputs, {layer!r}, {unit}, channel={channel})",
        "fraction = cnnviz.gradient_mass_fraction(erf, box)",
        "fig = cnnviz.plots.plot_effective_receptive_field(erf, box, fraction=fraction)"), name="receptive_field")

st.subheader(t("receptive_fields.sparse"))
st.caption(t("receptive_fields.sparse_note"))
c1, c2, c3, c4 = st.columns(4)
n_inputs = c1.slider(t("receptive_fields.sparse_view.inputs"), 3, 32, 8, key=linked("sparse_n", low=3, high=32))
kernel = c2.slider(t("receptive_fields.sparse_view.kernel"), 1, 9, 3, key=linked("sparse_k", low=1, high=9))
stride = c3.slider(t("receptive_fields.sparse_view.stride"), 1, 3, 1, key=linked("sparse_stride", low=1, high=3))
padding = c4.slider(t("receptive_fields.sparse_view.padding"), 0, 4, 0, key=linked("sparse_padding", low=0, high=4))
if n_inputs + 2 * padding < kernel:    # no output: cnnviz.connectivity would say so, in English
    st.warning(words.no_output(n_inputs, kernel, padding))
else:
    conn, connectivity_figure = shared_with_figure(
        "connectivity", None, (n_inputs, kernel, stride, padding),
        lambda: connectivity(n_inputs, kernel, stride=stride, padding=padding),
        lambda found: plot_connectivity(found, labels=figure_labels("connectivity")))
    st.plotly_chart(connectivity_figure, key="connectivity")
    # Every number from cnnviz.connectivity, the function the lesson's counts come from too.
    for column, (name, value) in zip(st.columns(4), (
            ("outputs", conn.n_outputs), ("dense", conn.dense_connections), ("conv", conn.conv_connections),
            ("weights", conn.conv_weights)), strict=True):
        column.metric(t(f"receptive_fields.sparse_view.{name}"), f"{value:,}")
    if conn.padding_connections:
        st.caption(words.padding_connections(conn.padding_connections, conn.conv_connections,
                                             conn.input_connections))

st.markdown(t("receptive_fields.counts.heading", name=as_markdown_text(info.name)))
counts, counts_figure = shared_with_figure("param_counts", trained, (), lambda: layer_parameter_counts(
    trained.model, prep.input_shape), lambda found: plot_parameter_counts(found, labels=figure_labels(
        "parameter_counts")))
st.plotly_chart(counts_figure, key="param_counts")
st.dataframe([{"layer": c.name, "input": "×".join(map(str, c.input_shape)),
               "output": "×".join(map(str, c.output_shape)), "convolution": c.conv,
               "locally connected": c.locally_connected, "dense": c.dense} for c in counts], hide_index=True,
             column_config={c: t(f"receptive_fields.counts.{c.replace(' ', '_')}") for c in (
                 "layer", "input", "output", "convolution", "locally connected", "dense")})

close_page_frame(frame)
