"""cnnviz.plots: figures have the expected traces, and the traces carry the numbers given."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz import CNNSpec, ConvSpec, EpochReport, build_model, lenet5, model_summary
from cnnviz.plots import (
    plot_architecture,
    plot_confusion_matrix,
    plot_image_grid,
    plot_training_curves,
)


def history(test: bool, epochs: int = 3):
    return [EpochReport(e, epochs, 1.0 / e, 0.5 + 0.1 * e, 0.4 + 0.1 * e if test else None, 0.1)
            for e in range(1, epochs + 1)]


# --- architecture ------------------------------------------------------------------------------

def test_architecture_bars_are_labelled_with_shapes_and_skip_activations():
    fig = plot_architecture(model_summary(lenet5(), (1, 28, 28)), (1, 28, 28))
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    bar = fig.data[0]
    assert isinstance(bar, go.Bar)
    assert list(bar.x) == ["input", "conv1", "pool1", "conv2", "pool2", "fc1", "fc2", "fc3"]  # no relu, flatten
    assert list(bar.text) == ["1×28×28", "6×28×28", "6×14×14", "16×10×10", "16×5×5", "120", "84", "10"]
    assert list(bar.y) == [784, 4704, 1176, 1600, 400, 120, 84, 10]
    assert "48,120 parameters" in bar.hovertext[5]  # fc1
    assert fig.layout.yaxis.type == "log"


def test_architecture_shows_batch_norm_and_average_pooling():
    spec = CNNSpec("bn", 3, 10, (ConvSpec(4, 3, batch_norm=True, pool="avg"),), num_classes=2, activation="tanh")
    fig = plot_architecture(model_summary(build_model(spec), (3, 10, 10)), (3, 10, 10))
    assert list(fig.data[0].x) == ["input", "conv1", "bn1", "pool1", "fc1"]
    assert list(fig.data[0].text) == ["3×10×10", "4×8×8", "4×8×8", "4×4×4", "2"]
    colours = list(fig.data[0].marker.color)
    assert colours[1] != colours[2] != colours[3] != colours[4]  # each kind has its colour


# --- training curves ---------------------------------------------------------------------------

@pytest.mark.parametrize("with_test, traces", [(False, 2), (True, 3)])
def test_training_curves(with_test, traces):
    fig = plot_training_curves(history(with_test), total_epochs=10)
    assert len(fig.data) == traces and all(isinstance(t, go.Scatter) for t in fig.data)
    assert all(list(t.x) == [1, 2, 3] for t in fig.data)
    assert list(fig.data[0].y) == pytest.approx([1.0, 0.5, 1 / 3])           # loss, left
    assert list(fig.data[1].y) == pytest.approx([0.6, 0.7, 0.8])             # train accuracy, right
    assert fig.data[0].xaxis == "x" and fig.data[1].xaxis == "x2"
    if with_test:
        assert list(fig.data[2].y) == pytest.approx([0.5, 0.6, 0.7]) and fig.data[2].name == "test accuracy"
    assert tuple(fig.layout.xaxis.range) == (0.5, 10.5)  # room for the epochs still to come


def test_training_curves_without_total_and_empty():
    assert tuple(plot_training_curves(history(False, 4)).layout.xaxis.range) == (0.5, 4.5)
    empty = plot_training_curves([])
    assert len(empty.data) == 2 and list(empty.data[0].x) == []


# --- confusion matrix --------------------------------------------------------------------------

def test_confusion_matrix_heatmap_holds_the_counts():
    confusion = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    fig = plot_confusion_matrix(confusion, ["cat", "dog", "owl"])
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    heat = fig.data[0]
    assert np.array_equal(np.asarray(heat.z), confusion)
    assert list(heat.x) == list(heat.y) == ["cat", "dog", "owl"]
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    assert fig.layout.yaxis.autorange == "reversed"  # the first true class on top, as in a table


# --- image grids -------------------------------------------------------------------------------

def test_grey_images_become_heatmaps():
    images = np.random.default_rng(0).random((5, 1, 4, 4)).astype(np.float32)
    fig = plot_image_grid(images, [f"#{i}" for i in range(5)], columns=2)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    montage = np.asarray(fig.data[0].z, dtype=float)
    # 4x4 tiles, gaps of max(1, 4 // 8) = 1 column and max(2, ceil(4 * 2 / 5)) = 2 rows: 5 images in
    # 2 columns take 3 rows, so the montage is 3*6 - 2 = 16 rows by 2*5 - 1 = 9 columns.
    assert montage.shape == (16, 9)
    assert np.array_equal(montage[6:10, 5:9], images[3, 0])          # image 3: row 1, column 1
    assert np.isnan(montage[4:6]).all() and np.isnan(montage[:, 4]).all()  # the gaps
    assert np.isnan(montage[12:16, 5:9]).all()                        # no sixth image
    assert [a.text for a in fig.layout.annotations] == ["#0", "#1", "#2", "#3", "#4"]
    third = fig.layout.annotations[3]
    assert (third.x, third.y) == (6.5, 5.5)                           # centred above image 3


def test_colour_images_become_image_traces():
    images = np.zeros((2, 3, 2, 2))
    images[0, 0] = 1.0   # red
    images[1, 2] = 0.5   # half blue
    images[1, 1, 0, 0] = 7.0  # out of range: clipped to 1
    fig = plot_image_grid(images, ["r", "b"])
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    rgb = np.asarray(fig.data[0].z)
    assert rgb.shape == (2, 2 + 1 + 2, 3)                             # two tiles and a one-pixel gap
    assert rgb[0, 0].tolist() == [255, 0, 0]
    assert rgb[0, 2].tolist() == [255, 255, 255]                      # the gap is white
    assert rgb[0, 3].tolist() == [0, 255, 127]                        # 0.5 * 255 = 127.5, truncated


def test_image_grid_without_titles():
    fig = plot_image_grid(np.zeros((3, 1, 2, 2)), [])
    assert len(fig.data) == 1 and len(fig.layout.annotations) == 0
