"""cnnviz.plots.replay: one epoch of a training replay, on scales that stay the same for every epoch.

The replays are built by hand from small arrays (no model, no training), so every number is checkable.
"""

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import cnnviz.plots.replay as replay_plots
from cnnviz import EpochSnapshot, TrainingReplay
from cnnviz.plots import plot_replay_feature_maps, plot_replay_filters, plot_replay_histograms


def snapshot(epoch: int, scale: float) -> EpochSnapshot:
    """Filters and maps grow with `scale`; histograms of 2 layers (10 and 1,000 values) in 4 bins."""
    filters = scale * np.arange(-4, 4, dtype=np.float32).reshape(2, 1, 2, 2)
    maps = {"conv1": (scale * np.arange(8, dtype=np.float32).reshape(2, 2, 2)).astype(np.float16),
            "conv2": np.full((3, 1, 1), epoch, dtype=np.float16)}
    weight_counts = np.array([[1, 2, 3, 4], [0, 500, 500, 0]], dtype=np.int32)
    gradient_counts = np.array([[10, 0, 0, 0], [250, 250, 250, 250]], dtype=np.int32)
    ranges = np.array([[-scale, scale], [-1, 1]], dtype=np.float32)
    return EpochSnapshot(epoch, filters, maps, weight_counts, ranges, gradient_counts, ranges / 10, 1.0 / (1 + epoch))


REPLAY = TrainingReplay("conv1", ("conv1", "conv2"), ((2, 2, 2), (40, 1, 1)), ("conv1.weight", "fc.weight"), 7, 32,
                        (snapshot(0, 1.0), snapshot(1, 2.0), snapshot(2, 3.0)))


def heatmap(fig):
    (trace,) = fig.data
    return trace


def test_the_filters_are_drawn_on_one_scale_for_every_epoch():
    start, end = plot_replay_filters(REPLAY, 0), plot_replay_filters(REPLAY, 2)
    assert REPLAY.filter_bound() == 12.0                             # |-4| x 3, the largest of any epoch
    for fig in (start, end):
        assert (heatmap(fig).zmin, heatmap(fig).zmax) == (-12.0, 12.0)
    assert np.nanmax(np.abs(np.asarray(heatmap(start).z, float))) == 4.0
    assert np.nanmax(np.abs(np.asarray(heatmap(end).z, float))) == 12.0
    assert start.layout.title.text == "conv1 before training: 2 filters of 1×2×2"
    assert end.layout.title.text == "conv1 after epoch 2: 2 filters of 1×2×2"


def test_the_maps_are_drawn_on_one_scale_for_every_epoch():
    low, high = REPLAY.map_range("conv1")
    assert (low, high) == (0.0, 21.0)                                # 7 x 3 after epoch 2
    figs = [plot_replay_feature_maps(REPLAY, e) for e in (0, 2)]
    assert [(heatmap(f).zmin, heatmap(f).zmax) for f in figs] == [(0.0, 21.0)] * 2
    assert np.nanmax(np.asarray(heatmap(figs[0]).z, float)) == 7.0
    assert figs[0].layout.title.text.startswith("conv1 before training: maps of test image #7")
    other = plot_replay_feature_maps(REPLAY, 1, "conv2")
    # 3 of the layer's 40 channels kept; a constant layer still gets a range
    assert (heatmap(other).zmin, heatmap(other).zmax) == (0.0, 2.0)
    assert "(first 3 of 40 channels)" in other.layout.title.text
    with pytest.raises(ValueError, match="no maps of layer 'fc'"):
        plot_replay_feature_maps(REPLAY, 1, "fc")
    with pytest.raises(ValueError, match="epoch 5 was not recorded"):
        plot_replay_feature_maps(REPLAY, 5)


def test_histograms_show_each_layers_share_per_bin_on_fixed_log_axes():
    figs = [plot_replay_histograms(REPLAY, e) for e in (0, 2)]
    for fig in figs:
        assert len(fig.data) == 4 and all(t.type == "bar" for t in fig.data)   # 2 layers x (weights, gradients)
        weights_conv1 = fig.data[0]
        np.testing.assert_allclose(np.asarray(weights_conv1.y, float), [0.1, 0.2, 0.3, 0.4])   # shares of 10
        assert np.isnan(np.asarray(fig.data[1].y, float)[0])          # an empty bin draws nothing on a log axis
        assert [a.text for a in fig.layout.annotations] == ["weights", "gradients of the loss on 32 test images"]
        assert fig.layout.yaxis.title.text == "conv1.weight" and fig.layout.yaxis3.title.text == "fc.weight"
        assert fig.layout.yaxis.type == "log"
    # x: the union of every epoch's bins (conv1 weights span ±1, ±2, ±3); y: smallest to largest share
    start, end = figs
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2", "xaxis3", "yaxis4"):
        assert start.layout[axis].range == end.layout[axis].range, axis
    assert start.layout.xaxis.range == pytest.approx([-3.12, 3.12])
    assert start.layout.yaxis.range == pytest.approx([math.log10(0.1) - 0.15, math.log10(0.4) + 0.1])
    # the bars move: conv1's bins are 0.5 wide before training, 1.5 after epoch 2
    assert start.data[0].width == pytest.approx(0.5) and end.data[0].width == pytest.approx(1.5)
    assert "before training" in start.layout.title.text and "after epoch 2" in end.layout.title.text


def test_labels_are_arguments_and_reach_the_figures_they_reuse():
    fig = plot_replay_histograms(REPLAY, 1, labels={"weights": "权重", "gradients": "梯度 ({probe})",
                                                    "title": "直方图 {when}", "epoch": "第 {epoch} 轮后",
                                                    "hover": "值 {value}<br>占比 {share}"})
    assert [a.text for a in fig.layout.annotations] == ["权重", "梯度 (32)"]
    assert fig.layout.title.text == "直方图 第 1 轮后"
    assert fig.data[0].hovertemplate == "值 %{x:.3g}<br>占比 %{y:.2%}<extra></extra>"
    maps = plot_replay_feature_maps(REPLAY, 0, labels={"title": "{layer} {when} #{index}", "start": "训练前"},
                                    maps_labels={"colorbar": "数值", "tile": "通道 {channel}"})
    assert maps.layout.title.text == "conv1 训练前 #7"
    assert maps.data[0].colorbar.title.text == "数值" and maps.layout.annotations[0].text == "通道 0"
    filters = plot_replay_filters(REPLAY, 0, labels={"title": "{when}：{shape}", "start": "训练前"},
                                  filters_labels={"title": "{filters} 个卷积核"})
    assert filters.layout.title.text == f"训练前：{len(REPLAY.snapshot(0).filters)} 个卷积核"
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_replay_filters(REPLAY, 0, labels={"titel": "{when}"})


def test_the_plot_module_does_not_import_torch():
    tree = ast.parse(Path(replay_plots.__file__).read_text(encoding="utf-8"))
    imported = {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    imported |= {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert "torch" not in imported
