"""cnnviz.plots.pooling: trace types and counts, winner markers, curve styles and bar values."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.analysis.invariance import InvarianceCurves
from cnnviz.analysis.pooling import pool
from cnnviz.plots.pooling import plot_invariance_curves, plot_layer_change, plot_pooling

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
    np.testing.assert_array_equal(np.asarray(pooled.customdata)[..., :2].astype(int), result.winners[0])


def test_tied_windows_get_no_winner_dot_and_the_title_counts_them():
    maps = np.array([[0, 0, 3, 1],
                     [0, 0, 2, 3],
                     [4, 4, 5, 1],
                     [0, 1, 2, 0]], dtype=np.float32)
    result = pool(maps, "max", 2, 2)                 # three ties: all-zero, 3 twice, 4 twice
    fig = plot_pooling(maps, result)
    winners = fig.data[-1]
    assert list(zip(winners.y, winners.x)) == [(2, 2)]  # only the 5 has a single winner
    assert titles(fig)[1] == "max pool k=2 s=2 → 2×2<br>3 of 4 windows tied (no dot)"
    words = np.asarray(fig.data[1].customdata)[..., 2]
    assert words[0, 0].startswith("tie") and words[1, 1] == ""
    relabelled = plot_pooling(maps, result, labels={"tie_note": "{ties}/{windows} égalités"})
    assert titles(relabelled)[1].endswith("3/4 égalités")
    assert "tied" not in titles(plot_pooling(M, pool(M, "max", 2, 2)))[1]   # no tie: no words


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
    ("maxblur", 2, ["Heatmap", "Heatmap"], "max-blur pool k=2 s=2 → 2×2<br>(max with stride 1, then blur 3)"),
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
    assert sorted(t.meta for t in fig.data[:8]) == sorted(LAYERS)  # every layer once (meta: its name)
    by_layer = {t.meta: t for t in fig.data[:8]}
    for index, name in enumerate(LAYERS):
        np.testing.assert_allclose(by_layer[name].y, data.change[:, index])
        assert by_layer[name].xaxis == "x"
    ranks = [by_layer[name].legendrank for name in LAYERS]
    assert ranks == sorted(ranks)                                    # the legend keeps layer order
    same, probability = fig.data[8:]
    assert same.xaxis == probability.xaxis == "x2"
    assert list(same.y) == [1.0, 0.5, 0.0] and list(probability.y) == [0.9, 0.6, 0.2]
    assert same.name == "images with the same prediction"
    assert "mean over 2 images" in fig.layout.annotations[0].text


def test_each_pooling_layer_has_its_own_colour_shared_with_the_layer_before_it():
    fig = plot_invariance_curves(curves())
    by_layer = {t.meta: t for t in fig.data[:8]}
    pool1, pool2, relu1, relu2 = (by_layer[n] for n in ("pool1", "pool2", "relu1", "relu2"))
    assert pool1.line.color != pool2.line.color                       # the issue: both were the same red
    assert (relu1.line.color, relu2.line.color) == (pool1.line.color, pool2.line.color)
    assert pool1.line.dash == "solid" and relu1.line.dash == "dash"
    assert (pool1.name, relu1.name, relu2.name) == ("pool1", "relu1 (input of pool1)", "relu2 (input of pool2)")
    assert pool1.line.width > relu1.line.width > by_layer["conv1"].line.width
    # The rest are secondary: thin, grey, faded, one legend entry for all of them.
    others = [by_layer[n] for n in ("conv1", "conv2", "flatten", "fc1")]
    assert {t.line.color for t in others} == {"#9a9a9a"} and all(t.opacity < 1 for t in others)
    assert {t.legendgroup for t in others} == {"others"}
    assert [bool(t.showlegend) for t in fig.data[:8] if t.legendgroup == "others"].count(True) == 1
    assert fig.layout.legend.groupclick == "togglegroup"
    labelled = plot_invariance_curves(curves(), labels={"input": "{layer} → {pooled}", "others": "autres"})
    assert {t.name for t in labelled.data[:8]} >= {"relu1 → pool1", "autres"}


def test_highlighted_layers_are_the_key_layers():
    fig = plot_invariance_curves(curves(), highlight=["conv2"])
    by_layer = {t.meta: t for t in fig.data[:8]}
    assert by_layer["conv2"].line.width == 4.0 and by_layer["conv2"].name == "conv2"
    assert by_layer["pool1"].name == "pool1 (input of conv2)"          # the layer just before conv2
    assert by_layer["pool2"].legendgroup == "others"
    with pytest.raises(ValueError, match="Unknown layer 'pool9'.*conv1, relu1"):
        plot_invariance_curves(curves(), highlight=["pool9"])


def test_a_model_without_pooling_gives_every_layer_its_own_colour():
    data = curves()
    plain = InvarianceCurves(data.transform, data.amounts, LAYERS, data.change, data.predictions,
                             data.same_prediction, data.original_probability, ("Conv2d",) * 8,
                             data.original_prediction)
    fig = plot_invariance_curves(plain)
    assert len({t.line.color for t in fig.data[:8]}) == 8 and [t.name for t in fig.data[:8]] == list(LAYERS)


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
    curve_colours = {t.meta: t.line.color for t in plot_invariance_curves(data).data[:8]}
    assert colours[2] == curve_colours["pool1"] != colours[5] == curve_colours["pool2"]  # as in the curves
    assert colours[1] == "rgba(214, 39, 40, 0.45)"         # relu1: pool1's red, paler
    assert colours[0] == colours[3] == colours[7] != colours[1]  # the others alike, grey
    assert "pooling" in fig.layout.xaxis.title.text
    assert "shift of 2 pixels" in fig.layout.title.text and "mean over 2 images" in fig.layout.title.text
    assert "shift of 1 pixel," in plot_layer_change(data, 1).layout.title.text
    np.testing.assert_allclose(plot_layer_change(data, np.float64(1.0)).data[0].y, data.change[1])
    with pytest.raises(ValueError, match="0.5 was not measured; the amounts are 0, 1, 2"):
        plot_layer_change(data, 0.5)


def test_pooling_figures_take_their_words_from_their_labels():
    fig = plot_pooling(M, pool(M, "max", 2, 2), labels={"max": "pooling max", "input_title": "entrée {height}×{width}",
                                                        "winner": "gagnant", "value": "valeur"})
    assert titles(fig) == ["entrée 4×4", "pooling max k=2 s=2 → 2×2"]
    assert fig.data[-1].name == "gagnant" and fig.layout.coloraxis.colorbar.title.text == "valeur"
    curves_fig = plot_invariance_curves(curves("rotate"), labels={"rotate": "rotation (degrés)", "stability": "stable"})
    assert curves_fig.layout.xaxis.title.text == "rotation (degrés)" and titles(curves_fig)[1] == "stable"
    bars = plot_layer_change(curves(), 2.0, labels={"translate": "un décalage de {amount:g} pixels",
                                                    "title_mean": "après {amount} ({images} images)"})
    assert bars.layout.title.text == "après un décalage de 2 pixels (2 images)"
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_layer_change(curves(), 2.0, labels={"axis_title": "x"})


def test_a_large_map_is_pooled_without_a_marker_per_window():
    from cnnviz.plots.pooling import MAX_MARKED_WINDOWS

    feature_map = np.random.default_rng(0).normal(size=(224, 224))
    result = pool(feature_map, "max", 2, 2)
    fig = plot_pooling(feature_map, result)
    assert MAX_MARKED_WINDOWS == 1024 and result.output.shape[-2:] == (112, 112)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]         # no grid lines, no 12,544 markers
    assert "12,544 windows: too many to mark (hover the output)" in fig.layout.annotations[1].text
    assert "from input row %{customdata[0]}" in fig.data[1].hovertemplate  # the winners are still in the hover
    small = plot_pooling(feature_map[:64, :64], pool(feature_map[:64, :64], "max", 2, 2))   # 1,024 windows
    assert "winner of a window" in [t.name for t in small.data]
