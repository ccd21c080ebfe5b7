"""cnnviz.plots.pooling: trace types and counts, winner markers, curve styles and bar values."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.plots.pooling import plot_invariance_curves, plot_layer_change, plot_pooling
from cnnviz.pooling import InvarianceCurves, pool

M = np.array([[1, 5, 0, 2],
              [3, 2, 7, 1],
              [0, 4, 1, 9],
              [8, 1, 6, 3]], dtype=np.float32)

LAYERS = ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1")
KINDS = ("Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "AvgPool2d", "Flatten", "Linear")


def curves(transform: str = "translate", batch: bool = True) -> InvarianceCurves:
    """Three amounts, 8 layers: change[a, l] = a * (l + 1) / 10, so every number is known."""
    amounts = np.array([0.0, 1.0, 2.0])
    change = amounts[:, None] * np.arange(1, 9)[None, :] / 10
    predictions = np.array([[3, 3], [3, 1], [1, 1]]) if batch else np.array([3, 3, 1])
    same = np.array([1.0, 0.5, 0.0]) if batch else np.array([True, True, False])
    original = np.array([3, 3]) if batch else np.array(3)
    return InvarianceCurves(transform, amounts, LAYERS, change, predictions, same, np.array([0.9, 0.6, 0.2]),
                            KINDS, original)


def titles(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


# --- plot_pooling ------------------------------------------------------------------------------

def test_max_pooling_figure_marks_each_winner_on_the_input():
    result = pool(M, "max", 2, 2)
    fig = plot_pooling(M, result)
    assert [type(t).__name__ for t in fig.data] == ["Heatmap", "Heatmap", "Scatter", "Scatter"]
    image, pooled, grid, winners = fig.data
    np.testing.assert_array_equal(np.asarray(image.z), M)
    np.testing.assert_array_equal(np.asarray(pooled.z), result.output[0])
    assert list(winners.x) == [1, 2, 0, 3] and list(winners.y) == [0, 1, 3, 2]  # (row, col) of 5, 7, 8, 9
    np.testing.assert_array_equal(winners.x, result.winners[0, ..., 1].ravel())
    np.testing.assert_array_equal(winners.y, result.winners[0, ..., 0].ravel())
    assert image.xaxis == "x" and pooled.xaxis == "x2" and winners.xaxis == "x" and grid.xaxis == "x"
    assert image.coloraxis == pooled.coloraxis == "coloraxis"  # one colour scale for both panels
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 9.0)
    assert titles(fig) == ["input 4×4", "max pool k=2 s=2 → 2×2"]
    # Windows of 2 from 0: grid lines at -0.5, 1.5, 3.5 in each direction.
    assert sorted({x for x in grid.x if x is not None and x in (-0.5, 1.5, 3.5)}) == [-0.5, 1.5, 3.5]
    assert "value" in image.hovertemplate and "customdata[0]" in pooled.hovertemplate
    np.testing.assert_array_equal(np.asarray(pooled.customdata), result.winners[0])


def test_overlapping_windows_outline_one_window_and_mark_every_winner():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 9, 9))
    result = pool(maps, "max", 3, 2)
    fig = plot_pooling(maps, result, channel=2)
    assert [t.name for t in fig.data] == ["input", "output", "windows", "one 3×3 window", "winner of a window"]
    winners = fig.data[-1]
    assert len(winners.x) == 16  # 4x4 windows
    np.testing.assert_array_equal(winners.x, result.winners[2, ..., 1].ravel())
    np.testing.assert_array_equal(winners.y, result.winners[2, ..., 0].ravel())
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), maps[2])
    assert max(fig.data[3].x) == 2.5  # the window spans columns 0..2


@pytest.mark.parametrize(("kind", "kernel", "types", "title"), [
    ("avg", 2, ["Heatmap", "Heatmap", "Scatter"], "average pool k=2 s=2 → 2×2"),
    ("blur", 3, ["Heatmap", "Heatmap"], "blur pool k=3 s=2 → 2×2"),
    ("subsample", 2, ["Heatmap", "Heatmap", "Scatter"], "subsample s=2 → 2×2"),
])
def test_other_kinds_have_no_winners(kind, kernel, types, title):
    result = pool(M, kind, kernel, 2)
    fig = plot_pooling(M, result)
    assert [type(t).__name__ for t in fig.data] == types
    assert titles(fig)[1] == title
    if kind == "subsample":
        kept = fig.data[2]
        assert list(kept.x) == [0, 2, 0, 2] and list(kept.y) == [0, 0, 2, 2]


def test_plot_pooling_errors():
    result = pool(np.zeros((2, 4, 4)), "max", 2, 2)
    with pytest.raises(ValueError, match="2 channels but the map 1"):
        plot_pooling(M, result)
    with pytest.raises(ValueError, match="channel must be 0 to 1"):
        plot_pooling(np.zeros((2, 4, 4)), result, channel=2)


# --- plot_invariance_curves --------------------------------------------------------------------

def test_curves_one_line_per_layer_then_the_stability_traces():
    data = curves()
    fig = plot_invariance_curves(data)
    assert all(isinstance(t, go.Scatter) for t in fig.data) and len(fig.data) == len(LAYERS) + 2
    assert [t.name for t in fig.data[:8]] == list(LAYERS)  # legend in layer order
    for index, trace in enumerate(fig.data[:8]):
        np.testing.assert_allclose(trace.y, data.change[:, index])
        assert trace.xaxis == "x"
    same, probability = fig.data[8:]
    assert same.xaxis == probability.xaxis == "x2"
    assert list(same.y) == [1.0, 0.5, 0.0] and list(probability.y) == [0.9, 0.6, 0.2]
    assert same.name == "images with the same prediction"
    assert "mean over 2 images" in fig.layout.annotations[0].text


def test_pooling_lines_are_solid_and_thicker_convolutions_dashed():
    fig = plot_invariance_curves(curves())
    by_name = {t.name: t for t in fig.data}
    for pooled in ("pool1", "pool2"):
        assert by_name[pooled].line.dash == "solid"
        assert by_name[pooled].line.width > by_name["conv1"].line.width > by_name["relu1"].line.width
    assert by_name["conv1"].line.dash == by_name["conv2"].line.dash == "dash"
    assert by_name["pool1"].line.color != by_name["conv1"].line.color


def test_highlighted_layers_are_emphasised_and_the_others_faded():
    plain = {t.name: t for t in plot_invariance_curves(curves()).data}
    fig = plot_invariance_curves(curves(), highlight=["pool1", "relu1"])
    by_name = {t.name: t for t in fig.data}
    assert by_name["pool1"].line.width > plain["pool1"].line.width
    assert by_name["relu1"].line.width > plain["relu1"].line.width and by_name["relu1"].opacity == 1.0
    assert by_name["conv1"].opacity < 1.0 and by_name["pool2"].opacity < 1.0
    with pytest.raises(ValueError, match="Unknown layer 'pool9'.*conv1, relu1"):
        plot_invariance_curves(curves(), highlight=["pool9"])


@pytest.mark.parametrize(("transform", "unit"), [("translate", "pixels"), ("rotate", "degrees"),
                                                 ("scale", "scale factor")])
def test_axis_titles_carry_units(transform, unit):
    fig = plot_invariance_curves(curves(transform))
    assert unit in fig.layout.xaxis.title.text and unit in fig.layout.xaxis2.title.text
    assert "‖f(Tx) − f(x)‖" in fig.layout.yaxis.title.text


def test_a_single_image_shows_same_prediction_as_one_or_zero():
    fig = plot_invariance_curves(curves(batch=False))
    assert list(fig.data[-2].y) == [1.0, 1.0, 0.0] and fig.data[-2].name == "same prediction (1 = yes)"
    assert "mean over" not in fig.layout.annotations[0].text


# --- plot_layer_change -------------------------------------------------------------------------

def test_layer_change_bars_equal_the_change_at_that_amount():
    data = curves()
    fig = plot_layer_change(data, 2.0)
    (bars,) = fig.data
    assert isinstance(bars, go.Bar) and list(bars.x) == list(LAYERS)
    np.testing.assert_allclose(bars.y, data.change[2])  # 0.2, 0.4, ... 1.6
    colours = list(bars.marker.color)
    assert colours[2] == colours[5] != colours[0]  # both pooling layers alike, unlike conv1
    assert len({colours[i] for i in (0, 1, 2)}) == 3  # conv, other, pooling
    assert "shift of 2 pixels" in fig.layout.title.text and "mean over 2 images" in fig.layout.title.text
    assert "shift of 1 pixel," in plot_layer_change(data, 1).layout.title.text
    np.testing.assert_allclose(plot_layer_change(data, np.float64(1.0)).data[0].y, data.change[1])
    with pytest.raises(ValueError, match="0.5 was not measured; the amounts are 0, 1, 2"):
        plot_layer_change(data, 0.5)
