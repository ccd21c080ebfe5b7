"""cnnviz.plots.receptive_field: trace types and counts, the numbers they carry, box coordinates, the picker."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.analysis.receptive_field import ReceptiveField
from cnnviz.plots.receptive_field import (
    plot_effective_receptive_field,
    plot_receptive_field_box,
    plot_receptive_field_sizes,
    plot_unit_picker,
)

GLOBAL = "global: after flatten every unit sees the whole input"
RECORDS = [
    ReceptiveField("input", "input", (1, 1), (1, 1), (0.0, 0.0), (1, 28, 28)),
    ReceptiveField("conv1", "Conv2d", (5, 5), (1, 1), (0.0, 0.0), (6, 28, 28)),
    ReceptiveField("pool1", "MaxPool2d", (6, 6), (2, 2), (0.5, 0.5), (6, 14, 14)),
    ReceptiveField("flatten", "Flatten", None, None, None, (1176,), GLOBAL),
    ReceptiveField("fc1", "Linear", None, None, None, (10,), GLOBAL),
]


# --- sizes per layer ---------------------------------------------------------------------------

def test_sizes_square_network_has_size_jump_and_undefined_traces():
    fig = plot_receptive_field_sizes(RECORDS)
    assert [type(t) for t in fig.data] == [go.Scatter] * 3
    size, jump, undefined = fig.data
    assert [t.name for t in fig.data] == ["size", "jump", "no receptive field"]
    assert list(size.x) == ["input", "conv1", "pool1", "flatten", "fc1"]
    assert list(size.y) == [1, 5, 6, None, None] and size.connectgaps is False  # gaps, not a line to 0
    assert list(jump.y) == [1, 1, 2, None, None]
    assert size.yaxis == "y" and jump.yaxis == "y2"  # jump on the second axis
    assert list(undefined.x) == ["flatten", "fc1"] and list(undefined.y) == [0, 0]
    assert GLOBAL in undefined.hovertext[0]
    assert "5×5 input pixels" in size.hovertext[1] and "row 0.5, col 0.5" in size.hovertext[2]
    assert fig.layout.xaxis.type == "category"
    assert fig.layout.xaxis.title.text == "layer" and "input pixels" in fig.layout.yaxis.title.text
    assert "jump" in fig.layout.yaxis2.title.text


def test_sizes_shows_columns_only_when_they_differ_and_keeps_repeated_names_apart():
    records = [
        ReceptiveField("input", "input", (1, 1), (1, 1), (0.0, 0.0), (1, 8, 10)),
        ReceptiveField("conv", "Conv2d", (3, 5), (1, 2), (1.0, 0.0), (1, 6, 5)),
        ReceptiveField("conv", "Conv2d", (5, 9), (1, 4), (2.0, 2.0), (1, 4, 3)),  # the same layer, called again
    ]
    fig = plot_receptive_field_sizes(records)
    assert [t.name for t in fig.data] == ["size (rows)", "size (cols)", "jump (rows)", "jump (cols)"]
    assert list(fig.data[0].y) == [1, 3, 5] and list(fig.data[1].y) == [1, 5, 9]
    assert list(fig.data[3].y) == [1, 2, 4]
    assert list(fig.data[0].x) == ["input", "conv", "conv (2)"]


def test_sizes_of_a_real_model_end_to_end():
    from cnnviz.analysis.receptive_field import receptive_fields
    from cnnviz.models.cnn import lenet5

    fig = plot_receptive_field_sizes(receptive_fields(lenet5(), (1, 28, 28)))
    sizes = dict(zip(fig.data[0].x, fig.data[0].y))
    assert (sizes["conv1"], sizes["pool1"], sizes["conv2"], sizes["pool2"], sizes["fc3"]) == (5, 6, 14, 16, None)


# --- a unit's window on the image --------------------------------------------------------------

def test_box_on_a_grey_image_is_a_heatmap_with_a_rectangle_on_pixel_edges():
    image = np.linspace(0, 1, 8 * 6).reshape(1, 8, 6)
    fig = plot_receptive_field_box(image, (1, 2, 4, 5), title="conv2 unit (0, 0)")
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), image[0])
    (rect,) = fig.layout.shapes
    # rows 1..4, cols 2..5: edges half a pixel outside the centres
    assert (rect.type, rect.x0, rect.x1, rect.y0, rect.y1) == ("rect", 1.5, 5.5, 0.5, 4.5)
    assert tuple(fig.layout.yaxis.range) == (7.5, -0.5)  # row 0 at the top
    assert fig.layout.yaxis.scaleanchor == "x"           # square pixels
    assert fig.layout.title.text == "conv2 unit (0, 0)"


def test_box_on_a_colour_image_is_an_image_trace():
    image = np.zeros((3, 4, 5))
    image[0] = 1.0  # red
    fig = plot_receptive_field_box(image, (0, 0, 0, 0))
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (4, 5, 3) and z[0, 0].tolist() == [255, 0, 0]
    rect = fig.layout.shapes[0]
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (-0.5, 0.5, -0.5, 0.5)
    assert "1×1 pixels" in fig.layout.title.text  # the default title describes the box


def test_box_none_draws_no_rectangle():
    assert len(plot_receptive_field_box(np.zeros((1, 3, 3)), None).layout.shapes) == 0


# --- effective receptive field -----------------------------------------------------------------

def test_erf_heatmap_sums_channels_and_draws_the_box():
    erf = np.zeros((2, 5, 5))
    erf[0, 2, 2], erf[1, 2, 2], erf[1, 0, 4] = 1.0, 2.0, 0.5
    fig = plot_effective_receptive_field(erf, (1, 1, 3, 3), fraction=0.24)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    z = np.asarray(fig.data[0].z)
    assert z[2, 2] == 3.0 and z[0, 4] == 0.5 and z.sum() == 3.5
    rect = fig.layout.shapes[0]
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (0.5, 3.5, 0.5, 3.5)
    assert "95% of the gradient in the box<br>lies in 24% of its pixels" in fig.layout.title.text
    assert "%" not in plot_effective_receptive_field(erf[0], None).layout.title.text


def test_erf_title_says_when_no_gradient_reaches_the_input():
    title = plot_effective_receptive_field(np.zeros((1, 5, 5)), (1, 1, 3, 3), fraction=0.0).layout.title.text
    assert "no gradient reaches the input" in title and "0%" not in title


# --- the unit picker ---------------------------------------------------------------------------

def test_picker_has_one_clickable_point_per_pixel_last():
    feature_map = np.arange(12, dtype=float).reshape(3, 4)
    fig = plot_unit_picker(feature_map, (2, 1))
    assert [type(t) for t in fig.data] == [go.Heatmap, go.Scatter]
    picker = fig.data[-1]
    assert len(picker.x) == len(picker.y) == 12
    custom = np.asarray(picker.customdata)
    assert custom.shape == (12, 2)
    # point k is pixel (row, col) = divmod(k, 4): customdata [row, col], x = col, y = row
    assert custom[6].tolist() == [1, 2] and picker.x[6] == 2 and picker.y[6] == 1
    assert all(custom[:, 0] == np.asarray(picker.y)) and all(custom[:, 1] == np.asarray(picker.x))
    assert picker.marker.opacity <= 0.05 and picker.marker.size >= 4
    assert picker.text[6] == "6"  # the hover names the activation, as the heatmap's own hover is covered
    (rect,) = fig.layout.shapes  # the selected unit (2, 1) outlined
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (0.5, 1.5, 1.5, 2.5)


def test_picker_without_selection_and_bad_input():
    fig = plot_unit_picker(np.zeros((5, 5)), None)
    assert len(fig.layout.shapes) == 0 and isinstance(fig.data[-1], go.Scatter)
    with pytest.raises(ValueError, match=r"one channel \(H, W\)"):
        plot_unit_picker(np.zeros((2, 5, 5)), None)


def test_a_deep_network_names_every_kth_layer_on_the_axis():
    from cnnviz.plots.receptive_field import MAX_LAYER_TICKS

    records = [ReceptiveField(f"layer{i}", "Conv2d", (1 + 2 * i, 1 + 2 * i), (1, 1), (0.0, 0.0), (1, 8, 8))
               for i in range(150)]
    fig = plot_receptive_field_sizes(records)
    step = -(-150 // MAX_LAYER_TICKS)                                   # 150 layers, at most 30 names: every 5th
    assert step == 5 and list(fig.layout.xaxis.tickvals) == [f"layer{i}" for i in range(0, 150, 5)]
    assert fig.layout.xaxis.title.text == "layer (every 5th named)"
    assert len(fig.data[0].x) == 150                                    # every layer is still a point
    few = plot_receptive_field_sizes(records[:12])
    assert few.layout.xaxis.tickvals is None and few.layout.xaxis.title.text == "layer"
