"""cnnviz.plots.visualisation: the optimised images (grey or colour), their titles, the window and the curves."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.analysis.visualisation import FeatureVisualisation
from cnnviz.plots.visualisation import FEATURE_VISUALISATION_LABELS, plot_feature_visualisation


def make(n: int = 1, channels: int = 1, size: int = 8, steps: int = 5, unit=None) -> FeatureVisualisation:
    """A visualisation made of numbers only: image i is filled with (i + 1) / 10, its objective rises by 1 a step."""
    images = np.stack([np.full((channels, size, size), (i + 1) / 10, np.float32) for i in range(n)])
    objective = np.arange(steps, dtype=np.float32)[:, None] + np.arange(n, dtype=np.float32)[None, :]
    return FeatureVisualisation(layer="conv2", channel=3, unit=unit, images=images, objective=objective,
                                activations=np.arange(n, dtype=np.float32) + 0.5, seed=0, parameterisation="fourier")


def kinds(fig: go.Figure) -> list[str]:
    return [type(t).__name__ for t in fig.data]


def test_one_grey_image_and_its_curve():
    fig = plot_feature_visualisation(make())
    assert kinds(fig) == ["Heatmap", "Scatter"]
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (8, 8) and (heat.zmin, heat.zmax) == (0, 1)
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), 0.1, rtol=1e-6)   # the pixels as they are
    np.testing.assert_array_equal(fig.data[1].x, [1, 2, 3, 4, 5])                  # steps from 1
    np.testing.assert_array_equal(fig.data[1].y, [0, 1, 2, 3, 4])
    texts = [a.text for a in fig.layout.annotations]
    assert "optimised for conv2, channel 3" in texts and "image 1: 0.50" in texts


def test_diversity_gives_one_tile_and_one_curve_per_image():
    fig = plot_feature_visualisation(make(n=3, unit=(2, 1)), window=(1, 2, 4, 5))
    assert kinds(fig) == ["Heatmap", "Scatter", "Scatter", "Scatter", "Scatter"]
    grid = np.asarray(fig.data[0].z, dtype=float)
    assert grid.shape == (8, 3 * 8 + 2 * 1)            # three 8x8 tiles, a gap of 8 // 8 = 1 pixel between
    assert np.isnan(grid[:, 8]).all() and grid[0, 9] == pytest.approx(0.2)
    outline = fig.data[1]
    assert outline.name == "input window of the unit"
    xs = [x for x in outline.x if x is not None]
    assert min(xs) == 1.5 and max(xs) == 2 * 9 + 5.5   # the window's columns 2..5 on the first and last tile
    assert [t.name for t in fig.data[2:]] == ["image 1", "image 2", "image 3"]
    texts = [a.text for a in fig.layout.annotations]
    assert "optimised for conv2, channel 3, unit (2, 1)" in texts
    assert ["image 1: 0.50", "image 2: 1.50", "image 3: 2.50"] == [t for t in texts if t.startswith("image")]


def test_colour_images_are_an_rgb_image_and_the_curve_can_be_left_out():
    fig = plot_feature_visualisation(make(n=2, channels=3), objective=False)
    assert kinds(fig) == ["Image"]
    rgb = np.asarray(fig.data[0].z)
    assert rgb.shape == (8, 17, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [26, 26, 26] and rgb[0, 9].tolist() == [51, 51, 51]   # 0.1 and 0.2 of 255
    assert rgb[0, 8].tolist() == [255, 255, 255]                                       # the gap is white


def test_labels_are_arguments_and_unknown_ones_are_refused():
    fig = plot_feature_visualisation(make(), labels={"tile": "图 {number}: {value:.1f}", "step": "步"})
    assert "图 1: 0.5" in [a.text for a in fig.layout.annotations]
    assert fig.layout.xaxis2.title.text == "步" and fig.layout.yaxis2.title.text == "activation"
    assert set(FEATURE_VISUALISATION_LABELS) >= {"tile", "images", "curve", "step", "objective"}
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_feature_visualisation(make(), labels={"titel": "x"})


def test_a_layer_name_from_a_file_is_text_not_markup():
    vis = make()
    odd = FeatureVisualisation(layer="<b>x</b>", channel=0, unit=None, images=vis.images, objective=vis.objective,
                               activations=vis.activations, seed=0, parameterisation="pixel")
    texts = [a.text for a in plot_feature_visualisation(odd).layout.annotations]
    assert not any("<b>" in t for t in texts)
