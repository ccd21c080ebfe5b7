"""cnnviz.plots.features and cnnviz.plots.sparsity: traces, montage layout and the numbers they carry."""

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.analysis.sparsity import connectivity, layer_parameter_counts
from cnnviz.models.cnn import lenet5
from cnnviz.plots.features import (
    plot_class_probabilities,
    plot_feature_maps,
    plot_filters,
)
from cnnviz.plots.sparsity import plot_connectivity, plot_parameter_counts

# Three 2x2 maps, values 0..11: channel c holds 4c .. 4c+3.
MAPS = np.arange(12, dtype=np.float32).reshape(3, 2, 2)


def only_heatmap(fig: go.Figure) -> go.Heatmap:
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    assert isinstance(fig.data[0], go.Heatmap)
    return fig.data[0]


# --- feature maps ------------------------------------------------------------------------------

def test_feature_maps_are_one_montage_with_nan_gaps():
    # columns=2: 2 rows of up to 2 tiles; gaps 1 column (max(1, 2 // 8)) and 2 rows (room for titles).
    heat = only_heatmap(plot_feature_maps(MAPS, columns=2))
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (2 + 2 + 2, 2 + 1 + 2)
    np.testing.assert_array_equal(z[0:2, 0:2], MAPS[0])   # tile 0 at (0, 0)
    np.testing.assert_array_equal(z[0:2, 3:5], MAPS[1])   # tile 1 at (0, 3)
    np.testing.assert_array_equal(z[4:6, 0:2], MAPS[2])   # tile 2 at (4, 0)
    assert np.isnan(z[:, 2]).all() and np.isnan(z[2:4]).all() and np.isnan(z[4:6, 3:5]).all()
    assert heat.hoverongaps is False


def test_feature_map_hover_carries_channel_row_col_and_raw_value():
    heat = only_heatmap(plot_feature_maps(MAPS, columns=2))
    data = np.asarray(heat.customdata, dtype=float)
    assert data.shape == (6, 5, 4)
    assert data[1, 4].tolist() == [1, 1, 1, 7]    # channel 1, row 1, col 1: 4*1 + 3
    assert data[4, 1].tolist() == [2, 0, 1, 9]    # channel 2, row 0, col 1
    assert np.isnan(data[3, 0]).all()
    for key in ("customdata[0]", "customdata[1]", "customdata[2]", "customdata[3]"):
        assert key in heat.hovertemplate


def test_layer_scale_shares_one_colour_range_with_a_colour_bar():
    fig = plot_feature_maps(MAPS)
    heat = only_heatmap(fig)
    assert (heat.zmin, heat.zmax, heat.showscale) == (0.0, 11.0, True)
    assert [a.text for a in fig.layout.annotations] == ["ch 0", "ch 1", "ch 2"]
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.scaleanchor == "x"


def test_channel_scale_colours_each_channel_by_its_own_range_and_keeps_raw_hover():
    maps = np.stack([MAPS[0], MAPS[1] * 10, np.full((2, 2), 5.0)])  # the last channel is constant
    heat = only_heatmap(plot_feature_maps(maps, scale="channel", columns=3))
    z = np.asarray(heat.z, dtype=float)
    np.testing.assert_allclose(z[0:2, 0:2], [[0, 1 / 3], [2 / 3, 1]])  # 0..3 -> 0..1
    np.testing.assert_allclose(z[0:2, 3:5], [[0, 1 / 3], [2 / 3, 1]])  # 40..70 -> 0..1
    np.testing.assert_allclose(z[0:2, 6:8], 0.5)                       # constant: mid-scale
    assert (heat.zmin, heat.zmax, heat.showscale) == (0.0, 1.0, False)
    raw = np.asarray(heat.customdata, dtype=float)[..., 3]
    np.testing.assert_array_equal(raw[0:2, 3:5], [[40, 50], [60, 70]])


def test_tiles_are_spread_evenly_over_rows_and_can_be_named():
    fig = plot_feature_maps(np.zeros((10, 4, 4)), columns=8)  # 2 rows of 5, not 8 + 2
    lefts = sorted({a.x for a in fig.layout.annotations})
    assert len(lefts) == 5 and len(fig.layout.annotations) == 10
    fig = plot_feature_maps(MAPS, names=["edge", "blob", "dot"])
    assert [a.text for a in fig.layout.annotations] == ["edge", "blob", "dot"]
    with pytest.raises(ValueError, match="2 entries for 3 channels"):
        plot_feature_maps(MAPS, names=["a", "b"])
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        plot_feature_maps(MAPS[0])


@pytest.mark.parametrize("shape", [(6, 5, 5), (6, 64, 64), (64, 5, 5), (64, 64, 64), (10, 26, 26)])
def test_feature_map_sizes_stay_on_a_screen(shape):
    fig = plot_feature_maps(np.random.default_rng(0).normal(size=shape))
    assert 120 <= fig.layout.height <= 1300
    assert np.asarray(fig.data[0].z).shape[1] <= 8 * (shape[2] + max(1, shape[2] // 8))


# --- filters -----------------------------------------------------------------------------------

def test_filters_montage_is_out_by_in_with_a_symmetric_diverging_scale():
    weights = np.zeros((2, 3, 2, 2), dtype=np.float32)
    weights[0, 0] = [[1, 2], [3, -5]]
    weights[1, 1] = [[0.5, 0], [0, 0]]
    weights[1, 2] = 9.0  # not shown with max_inputs=2
    fig = plot_filters(weights, max_inputs=2)
    heat = only_heatmap(fig)
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (2 * 3 - 1, 2 * 3 - 1)  # 2 rows, 2 columns of 2x2 tiles, gap 1
    np.testing.assert_array_equal(z[0:2, 0:2], [[1, 2], [3, -5]])
    np.testing.assert_array_equal(z[3:5, 3:5], [[0.5, 0], [0, 0]])
    assert (heat.zmin, heat.zmax, heat.zmid) == (-5.0, 5.0, 0.0)  # the largest shown |weight|
    assert heat.colorscale[0][1] == "rgb(103,0,31)"  # RdBu: dark red at the low end
    data = np.asarray(heat.customdata, dtype=float)
    assert data[4, 3].tolist() == [1, 1, 1, 0, 0]  # out 1, in 1, row 1, col 0, weight 0
    assert data[1, 1].tolist() == [0, 0, 1, 1, -5]
    assert "first 2 of 3 input channels" in fig.layout.title.text
    assert list(fig.layout.yaxis.ticktext) == ["out 0", "out 1"]
    assert list(fig.layout.xaxis.ticktext) == ["in 0", "in 1"]


def test_lenet_filters_show_every_input_when_they_fit():
    conv2 = lenet5(seed=0).conv2.weight.detach().numpy()  # (16, 6, 5, 5)
    fig = plot_filters(conv2)
    heat = only_heatmap(fig)
    assert "shown" not in fig.layout.title.text
    assert np.asarray(heat.z).shape == (16 * 6 - 1, 6 * 6 - 1)  # 5x5 tiles, gap round(5 / 4) = 1
    bound = float(np.abs(conv2).max())
    assert heat.zmax == pytest.approx(bound) and heat.zmin == pytest.approx(-bound)
    with pytest.raises(ValueError, match="Cout, Cin, kh, kw"):
        plot_filters(conv2[0])


def test_a_big_filter_bank_draws_its_first_filters_and_says_so():
    # EfficientNet-Lite0's head: 1,280 filters of 320x1x1; all of them would be 409,600 tiles.
    weights = np.arange(1280 * 320, dtype=np.float32).reshape(1280, 320, 1, 1)
    fig = plot_filters(weights)
    assert np.asarray(only_heatmap(fig).z).shape == (64 * 2 - 1, 8 * 2 - 1)  # 64 rows, 8 columns, gap 1
    assert fig.layout.title.text == "1280 filters of 320×1×1 (first 64 filters and first 8 of 320 input channels shown)"
    assert "first 3 filters shown" in plot_filters(weights[:5, :2], max_outputs=3).layout.title.text


# --- class probabilities -----------------------------------------------------------------------

def test_class_probabilities_highlight_the_top_class():
    fig = plot_class_probabilities(np.array([0.1, 0.7, 0.2]), ["cat", "dog", "fox"])
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Bar)
    bar = fig.data[0]
    assert bar.orientation == "h" and list(bar.y) == ["cat", "dog", "fox"]
    assert list(bar.x) == [0.1, 0.7, 0.2]
    assert list(bar.text) == ["10.0%", "70.0%", "20.0%"]
    colours = list(bar.marker.color)
    assert colours[0] == colours[2] != colours[1]
    with pytest.raises(ValueError, match="3 probabilities for 2 class names"):
        plot_class_probabilities(np.array([0.1, 0.7, 0.2]), ["cat", "dog"])


# --- connectivity ------------------------------------------------------------------------------

def segments(trace) -> list[tuple[float, float]]:
    """(bottom x, top x) of each line of a None-separated trace."""
    xs = list(trace.x)
    assert xs.count(None) * 3 == len(xs)
    return [(xs[i], xs[i + 1]) for i in range(0, len(xs), 3)]


def test_connectivity_dense_and_one_trace_per_shared_weight():
    fig = plot_connectivity(connectivity(5, 3))
    names = [t.name for t in fig.data]
    assert names == ["dense weight", "w0", "w1", "w2", "units", "units"]
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    assert len(segments(fig.data[0])) == 15  # every input to every output: 5 * 3
    # Outputs sit over the centres of their windows: s_j at x = j + 1.
    assert segments(fig.data[1]) == [(0, 1), (1, 2), (2, 3)]  # w0: x_j -> s_j
    assert segments(fig.data[3]) == [(2, 1), (3, 2), (4, 3)]  # w2: x_{j+2} -> s_j
    assert sum(len(segments(t)) for t in fig.data[1:4]) == 9
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0].startswith("Dense: 15 weights") and titles[1].startswith("Convolution: 3 shared weights")
    assert "9 connections" in titles[1]


def test_connectivity_with_padding_has_no_lines_to_padding():
    fig = plot_connectivity(connectivity(5, 3, padding=1))
    by_name = {t.name: t for t in fig.data}
    assert [len(segments(by_name[f"w{w}"])) for w in range(3)] == [4, 5, 4]  # 13 edges
    assert len(segments(by_name["dense weight"])) == 25
    assert list(by_name["padding (0)"].x) == [-1, 5]
    assert "13 connections" in fig.layout.annotations[1].text


def test_connectivity_stays_light_for_32_inputs():
    fig = plot_connectivity(connectivity(32, 5, stride=2, padding=2))  # (32 + 4 - 5) // 2 + 1 = 16 outputs
    assert len(segments(fig.data[0])) == 32 * 16
    assert len(fig.data) == 1 + 5 + 2 + 1
    assert fig.data[-2].mode == "markers"  # too many nodes for their names: hover only


def test_connectivity_hover_names_what_each_output_sees():
    fig = plot_connectivity(connectivity(3, 2, padding=2))
    conv_units = fig.data[-2]
    hover = list(conv_units.hovertext)
    assert hover[3] == "output s0: sees only padding"
    assert hover[5] == "output s2: sees x0, x1"


# --- parameter counts --------------------------------------------------------------------------

def test_parameter_count_bars_carry_the_counts_on_a_log_axis():
    rows = layer_parameter_counts(lenet5(seed=0), (1, 28, 28))
    fig = plot_parameter_counts(rows)
    assert [t.name for t in fig.data] == ["convolution (shared)", "locally connected (no sharing)",
                                          "dense (fully connected)"]
    assert all(isinstance(t, go.Bar) and list(t.x) == ["conv1", "conv2"] for t in fig.data)
    assert list(fig.data[0].y) == [156, 2416]
    assert list(fig.data[1].y) == [122304, 241600]
    assert list(fig.data[2].y) == [3692640, 1883200]
    assert list(fig.data[0].text) == ["156", "2,416"]
    assert list(fig.data[2].text) == ["3.69M", "1.88M"]
    assert fig.layout.yaxis.type == "log" and fig.layout.barmode == "group"
    assert fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] > math.log10(3692640)
    assert "3,692,640 parameters" in fig.data[2].hovertext[0]


def test_parameter_counts_without_convolutions_say_so():
    fig = plot_parameter_counts([])
    assert len(fig.data) == 3 and all(len(t.y) == 0 for t in fig.data)
    assert "no convolution layers" in fig.layout.annotations[0].text


# --- many channels: capped, and built in one pass ------------------------------------------------

def test_many_channels_show_the_first_max_channels_with_a_note():
    from cnnviz.plots.features import MAX_FEATURE_MAPS, feature_maps_shown

    maps = np.arange(512 * 9, dtype=np.float32).reshape(512, 3, 3)
    fig = plot_feature_maps(maps)
    assert MAX_FEATURE_MAPS == 64 and feature_maps_shown(512) == 64 and feature_maps_shown(10) == 10
    assert [a.text for a in fig.layout.annotations] == [f"ch {i}" for i in range(64)]
    assert "first 64 of 512 channels" in fig.layout.title.text
    channels = np.asarray(only_heatmap(fig).customdata, dtype=float)[..., 0]
    assert set(np.unique(channels[np.isfinite(channels)]).astype(int)) == set(range(64))
    assert only_heatmap(fig).zmax == float(maps[:64].max())     # the layer's scale: of the channels drawn
    fig = plot_feature_maps(maps, max_channels=5, names=[f"n{i}" for i in range(512)])
    assert [a.text for a in fig.layout.annotations] == ["n0", "n1", "n2", "n3", "n4"]
    assert "first 5 of 512 channels" in fig.layout.title.text
    fig = plot_feature_maps(maps[:64])
    assert len(fig.layout.annotations) == 64 and "first" not in fig.layout.title.text  # all shown: no note
    with pytest.raises(ValueError, match="max_channels"):
        plot_feature_maps(maps, max_channels=0)
    with pytest.raises(ValueError, match="2 entries for 512 channels"):
        plot_feature_maps(maps, names=["a", "b"])


def test_tile_titles_are_set_in_one_layout_update_not_one_add_annotation_each(monkeypatch):
    # add_annotation re-validates the whole list on every call (quadratic in the channels drawn).
    calls = []
    monkeypatch.setattr(go.Figure, "add_annotation", lambda self, *a, **k: calls.append(k) or self)
    fig = plot_feature_maps(np.zeros((300, 2, 2), np.float32), max_channels=300)
    assert calls == [] and len(fig.layout.annotations) == 300


def test_large_maps_are_drawn_as_block_means_that_a_person_can_check():
    from cnnviz.plots.features import MAX_MONTAGE_CELLS, display_block

    # 64 maps of 112x112 (EfficientNet's blocks.1) are 802,816 values: 3x3 blocks give 64 * 38 * 38 = 92,416
    # cells, 2x2 would give 200,704, over the 160,000 allowed. 64 maps of 28x28 (50,176) are drawn whole.
    assert MAX_MONTAGE_CELLS == 160_000
    assert display_block(64, 112, 112) == 3 and display_block(64, 28, 28) == 1 and display_block(3, 225, 225) == 1
    assert display_block(1, 1000, 1000) == 3  # 334 * 334 = 111,556 cells
    maps = np.zeros((64, 112, 112), dtype=np.float32)
    maps[0, :3, :3] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]   # block (0, 0) of channel 0: mean 5
    maps[0, 111, 111] = 8.0                               # the last block holds just this value (111 = 3 * 37)
    fig = plot_feature_maps(maps)
    heat = only_heatmap(fig)
    custom = np.asarray(heat.customdata, dtype=float)
    assert np.asarray(heat.z).size < 200_000 and "feature maps of 112×112" in fig.layout.title.text
    assert "each cell the mean of 3×3 values" in fig.layout.title.text and "mean of 3×3" in heat.hovertemplate
    first = custom[custom[..., 0] == 0]                   # channel 0's cells: (channel, row, col, value)
    assert first.shape[0] == 38 * 38
    assert first[(first[:, 1] == 0) & (first[:, 2] == 0), 3].tolist() == [5.0]
    assert first[(first[:, 1] == 111) & (first[:, 2] == 111), 3].tolist() == [8.0]   # rows/cols of the map
    assert set(first[:, 1].astype(int)) == set(range(0, 112, 3))
    small = only_heatmap(plot_feature_maps(maps[:, :28, :28]))
    assert "value %{customdata[3]" in small.hovertemplate and "mean" not in small.hovertemplate
