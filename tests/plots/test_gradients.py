"""cnnviz.plots.gradients: traces, values, colours, dashes, log axes, ranges and annotations, on hand-made data."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.analysis.gradients import ActivationStats, GradientNorms, GradientTrace
from cnnviz.plots.gradients import (
    plot_gradient_heatmap,
    plot_gradient_norms,
    plot_loss_curves,
)

RED, BLUE = "#d62728", "#1f77b4"
LAYERS = ("conv1", "layer1.0.conv1", "layer1.0.conv2", "fc")
PLAIN_NORMS = np.array([1e-4, 1e-3, 1e-2, 1e-1])
RESNET_NORMS = np.array([0.5, 0.4, 0.3, 0.2])
UNDERFLOW = "underflow"


def norms_of(values, layers=LAYERS) -> GradientNorms:
    return GradientNorms(tuple(layers), np.asarray(values, dtype=np.float64), 2.3)


def stats_of(std, layers=LAYERS) -> ActivationStats:
    std = np.asarray(std, dtype=np.float64)
    return ActivationStats(tuple(layers), np.zeros_like(std), std)


def two_nets() -> dict[str, GradientNorms]:
    return {"plain-20": norms_of(PLAIN_NORMS), "ResNet-20": norms_of(RESNET_NORMS)}


def trace_of(losses, norms=None, layers=LAYERS) -> GradientTrace:
    losses = np.asarray(losses, dtype=np.float64)
    if norms is None:
        norms = np.ones((len(losses), len(layers)))
    return GradientTrace(tuple(layers), losses, np.asarray(norms, dtype=np.float64).reshape(len(losses), len(layers)))


def texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def underflow_notes(fig: go.Figure) -> list[str]:
    return [t for t in texts(fig) if UNDERFLOW in t]


# --- plot_gradient_norms -----------------------------------------------------------------------

def test_gradient_norms_one_scatter_per_net_on_a_log_axis():
    fig = plot_gradient_norms(two_nets())
    assert len(fig.data) == 2 and all(isinstance(t, go.Scatter) for t in fig.data)
    plain, resnet = fig.data
    assert (plain.name, resnet.name) == ("plain-20", "ResNet-20")
    for trace, expected in ((plain, PLAIN_NORMS), (resnet, RESNET_NORMS)):
        assert list(trace.x) == [1, 2, 3, 4]
        np.testing.assert_allclose(trace.y, expected)
        assert list(trace.customdata) == list(LAYERS)
        assert trace.xaxis == "x" and trace.yaxis == "y"
        assert trace.mode == "lines+markers"
        assert trace.legendgroup == trace.name
    assert plain.line.color == RED and resnet.line.color == BLUE
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "gradient norm"
    assert fig.layout.xaxis.title.text.startswith("layer")
    assert "yaxis2" not in fig.layout.to_plotly_json()  # one row only
    assert texts(fig) == ["‖∂loss/∂W‖ of each layer's weights"]  # only the subplot title: no underflow note
    assert fig.layout.height == 326


def labelled_ticks(axis, values) -> list[str]:
    """The tick labels a reader sees: those of ticks inside the data's range."""
    low, high = min(values), max(values)
    return [text for value, text in zip(axis.tickvals, axis.ticktext, strict=True) if low <= value <= high]


@pytest.mark.parametrize(("values", "labels"), [
    ([0.6, 6.0], ["1", "2", "5"]),                               # one decade: 1-2-5, written whole
    ([0.2, 1.4], ["0.2", "0.5", "1"]),
    ([0.02, 50.0], ["0.1", "1", "10"]),                          # three decades: the powers of ten
    ([1e-9, 1.0], ["10<sup>-8</sup>", "10<sup>-6</sup>", "10<sup>-4</sup>", "10<sup>-2</sup>", "10<sup>0</sup>"]),
])
def test_log_axes_label_at_least_three_whole_numbers_and_at_most_eight(values, labels):
    stats = {"plain-20": stats_of(np.geomspace(values[0], values[1], 4))}
    fig = plot_gradient_norms({"plain-20": norms_of(np.geomspace(values[0], values[1], 4))}, stats)
    for axis in (fig.layout.yaxis, fig.layout.yaxis2):
        assert axis.tickmode == "array" and labelled_ticks(axis, values) == labels


def test_legend_and_notes_sit_above_the_first_panels_title():
    zero = norms_of(np.array([1.0, 0.0, 0.1, 0.01]))
    figures = (plot_gradient_norms(two_nets()), plot_gradient_norms({"plain-56": zero}))
    assert [bool(underflow_notes(f)) for f in figures] == [False, True]
    for fig in figures:
        top = fig.layout.margin.t
        legend_top = (1 - fig.layout.legend.y) * fig.layout.height       # pixels from the figure's top
        assert fig.layout.legend.yref == "container" and legend_top + 24 <= top - 30   # 30 px for the title
        # the underflow note is the top line, its 16 px above the legend
        assert legend_top >= (24 if underflow_notes(fig) else 0)


def test_gradient_norms_x_follows_each_nets_own_depth():
    layers = tuple(f"l{i}" for i in range(7))
    fig = plot_gradient_norms({"plain-8": norms_of(np.arange(1, 8) / 10, layers), "ResNet-4": norms_of(RESNET_NORMS)})
    assert list(fig.data[0].x) == list(range(1, 8)) and list(fig.data[1].x) == [1, 2, 3, 4]
    assert list(fig.data[0].customdata) == list(layers)


def test_gradient_norms_with_stats_add_a_second_log_row():
    stats = {"plain-20": stats_of([1.0, 0.1, 0.01, 0.001]), "ResNet-20": stats_of([1.0, 1.2, 1.4, 1.6])}
    fig = plot_gradient_norms(two_nets(), stats)
    assert len(fig.data) == 4 and all(isinstance(t, go.Scatter) for t in fig.data)
    assert [t.name for t in fig.data] == ["plain-20", "plain-20", "ResNet-20", "ResNet-20"]
    plain_norms, plain_std, resnet_norms, resnet_std = fig.data
    assert plain_norms.yaxis == resnet_norms.yaxis == "y"
    assert plain_std.yaxis == resnet_std.yaxis == "y2" and plain_std.xaxis == "x2"
    np.testing.assert_allclose(plain_std.y, [1.0, 0.1, 0.01, 0.001])
    np.testing.assert_allclose(resnet_std.y, [1.0, 1.2, 1.4, 1.6])
    for std in (plain_std, resnet_std):
        assert list(std.x) == [1, 2, 3, 4]
        assert list(std.customdata) == list(LAYERS)
        assert std.line.dash == "dot"
        assert std.showlegend is False  # one legend entry per net
        assert std.legendgroup == std.name
    assert plain_std.line.color == plain_norms.line.color == RED
    assert resnet_std.line.color == resnet_norms.line.color == BLUE
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert fig.layout.yaxis2.title.text == "input std"
    assert fig.layout.xaxis2.matches == "x" or fig.layout.xaxis.matches == "x2"  # shared x
    assert texts(fig) == ["‖∂loss/∂W‖ of each layer's weights", "standard deviation of each layer's input"]
    assert fig.layout.height == 546


def test_gradient_norms_empty_stats_mapping_means_one_row():
    fig = plot_gradient_norms(two_nets(), {})
    assert len(fig.data) == 2 and "yaxis2" not in fig.layout.to_plotly_json()


def test_stats_for_a_net_without_norms_are_ignored():
    stats = {"ResNet-20": stats_of([1.0, 1.0, 1.0, 1.0]), "ghost-56": stats_of([0.5, 0.5, 0.5, 0.5])}
    fig = plot_gradient_norms(two_nets(), stats)
    assert [t.name for t in fig.data] == ["plain-20", "ResNet-20", "ResNet-20"]
    assert [t.yaxis for t in fig.data] == ["y", "y", "y2"]
    assert "ghost-56" not in {t.name for t in fig.data}


def test_a_zero_norm_leaves_a_gap_and_a_note_naming_the_net():
    nets = {"plain-56": norms_of([0.0, 0.0, 1e-3, 1e-1]), "ResNet-56": norms_of(RESNET_NORMS)}
    fig = plot_gradient_norms(nets)
    y = np.asarray(fig.data[0].y, dtype=float)
    assert np.isnan(y[:2]).all()
    np.testing.assert_allclose(y[2:], [1e-3, 1e-1])
    np.testing.assert_allclose(fig.data[1].y, RESNET_NORMS)
    notes = underflow_notes(fig)
    assert len(notes) == 1
    assert "plain-56" in notes[0] and "ResNet-56" not in notes[0]
    assert "0" in notes[0]


def test_zero_norms_in_two_nets_name_both_in_one_note():
    nets = {"plain-20": norms_of([0.0, 1e-3, 1e-2, 1e-1]), "ResNet-20": norms_of([0.5, 0.0, 0.3, 0.2])}
    notes = underflow_notes(plot_gradient_norms(nets))
    assert len(notes) == 1 and "plain-20" in notes[0] and "ResNet-20" in notes[0]


def test_non_finite_norms_are_gaps_but_not_underflow():
    fig = plot_gradient_norms({"plain-20": norms_of([np.inf, np.nan, -1.0, 1e-2])})
    y = np.asarray(fig.data[0].y, dtype=float)
    assert np.isnan(y[:3]).all() and y[3] == pytest.approx(1e-2)
    assert underflow_notes(fig) == []


def test_gradient_norms_without_zeros_have_no_note_even_with_stats():
    fig = plot_gradient_norms(two_nets(), {"plain-20": stats_of([1.0, 0.5, 0.25, 0.125])})
    assert underflow_notes(fig) == []
    assert len(fig.layout.annotations) == 2  # the two subplot titles


def test_gradient_norms_of_no_net_raise():
    with pytest.raises(ValueError, match="at least one net"):
        plot_gradient_norms({})


@pytest.mark.parametrize(("label", "colour"), [
    ("plain-20", RED), ("Plain-110", RED), ("PLAIN", RED), ("ResNet-20", BLUE), ("resnet-56", BLUE), ("net", BLUE),
])
def test_gradient_norm_colour_follows_the_label(label, colour):
    assert plot_gradient_norms({label: norms_of(RESNET_NORMS)}).data[0].line.color == colour


def test_gradient_norms_do_not_change_the_inputs():
    nets = {"plain-20": norms_of([0.0, 1e-3, 1e-2, 1e-1])}
    before = nets["plain-20"].norms.copy()
    plot_gradient_norms(nets)
    np.testing.assert_array_equal(nets["plain-20"].norms, before)


# --- plot_loss_curves --------------------------------------------------------------------------

def running_mean_by_hand(values, window=10):
    values = np.asarray(values, dtype=float)
    return np.array([values[max(0, i - window + 1):i + 1].mean() for i in range(len(values))])


def four_runs(steps: int = 30) -> dict[str, GradientTrace]:
    losses = np.arange(1, steps + 1, dtype=float)
    return {label: trace_of(losses) for label in ("plain-20", "ResNet-20", "plain-56", "ResNet-56")}


def test_loss_curves_are_a_running_mean_over_ten_steps():
    losses = np.arange(1, 31, dtype=float)
    fig = plot_loss_curves({"plain-20": trace_of(losses)})
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Scatter)
    curve = fig.data[0]
    assert list(curve.x) == list(range(1, 31))
    y = np.asarray(curve.y, dtype=float)
    assert y[0] == pytest.approx(1.0)
    assert y[4] == pytest.approx(3.0)      # step 5: mean(1..5)
    assert y[9] == pytest.approx(5.5)      # step 10: mean(1..10)
    assert y[10] == pytest.approx(6.5)     # step 11: mean(2..11)
    assert y[19] == pytest.approx(15.5)    # step 20: mean(11..20)
    assert y[29] == pytest.approx(25.5)    # step 30: mean(21..30)
    np.testing.assert_allclose(y, running_mean_by_hand(losses))
    np.testing.assert_array_equal(curve.customdata, losses)  # the raw batch losses for the hover
    assert curve.mode == "lines"
    assert "customdata" in curve.hovertemplate


def test_loss_running_mean_of_noisy_losses_matches_a_direct_mean():
    losses = np.random.default_rng(0).uniform(0.5, 3.0, size=57)
    y = plot_loss_curves({"ResNet-20": trace_of(losses)}).data[0].y
    np.testing.assert_allclose(y, running_mean_by_hand(losses))


def test_loss_curves_shorter_than_the_window_average_what_there_is():
    y = plot_loss_curves({"plain-20": trace_of([4.0, 2.0, 0.0])}).data[0].y
    np.testing.assert_allclose(y, [4.0, 3.0, 2.0])


def test_plain_dashed_red_residual_solid_blue_deeper_thicker():
    fig = plot_loss_curves(four_runs(), total_steps=30)
    assert [t.name for t in fig.data] == ["plain-20", "ResNet-20", "plain-56", "ResNet-56"]
    by_name = {t.name: t for t in fig.data}
    for label in ("plain-20", "plain-56"):
        assert by_name[label].line.dash == "dash" and by_name[label].line.color == RED
    for label in ("ResNet-20", "ResNet-56"):
        assert by_name[label].line.dash == "solid" and by_name[label].line.color == BLUE
    for label in ("plain-56", "ResNet-56"):
        assert by_name[label].line.width == 3.5
    for label in ("plain-20", "ResNet-20"):
        assert by_name[label].line.width == 1.5


def test_one_depth_only_draws_every_line_thin():
    runs = {"plain-20": trace_of([1.0, 2.0]), "ResNet-20": trace_of([1.0, 2.0])}
    assert [t.line.width for t in plot_loss_curves(runs).data] == [1.5, 1.5]


def test_three_depths_thicken_only_the_deepest():
    runs = {"plain-20": trace_of([1.0]), "plain-56": trace_of([1.0]), "plain-110": trace_of([1.0])}
    assert [t.line.width for t in plot_loss_curves(runs).data] == [1.5, 1.5, 3.5]


def test_loss_x_range_spans_total_steps():
    runs = four_runs(30)
    assert tuple(plot_loss_curves(runs, total_steps=300).layout.xaxis.range) == (0, 301)
    assert tuple(plot_loss_curves(runs).layout.xaxis.range) == (0, 31)  # by default the longest run
    uneven = {"plain-20": trace_of(np.ones(12)), "ResNet-20": trace_of(np.ones(5))}
    assert tuple(plot_loss_curves(uneven).layout.xaxis.range) == (0, 13)
    assert plot_loss_curves(runs).layout.yaxis.rangemode == "tozero"


def test_runs_in_progress_each_draw_only_their_finished_steps():
    runs = {"plain-20": trace_of(np.arange(1, 31, dtype=float)), "ResNet-20": trace_of([5.0, 3.0, 1.0])}
    fig = plot_loss_curves(runs, total_steps=100)
    assert len(fig.data[0].x) == 30 and list(fig.data[1].x) == [1, 2, 3]
    np.testing.assert_allclose(fig.data[1].y, [5.0, 4.0, 3.0])
    assert tuple(fig.layout.xaxis.range) == (0, 101)


def test_a_run_with_no_step_yet_draws_an_empty_line():
    runs = {"plain-20": trace_of(np.arange(1, 11, dtype=float)), "ResNet-20": trace_of([])}
    fig = plot_loss_curves(runs, total_steps=50)
    assert len(fig.data) == 2
    empty = fig.data[1]
    assert empty.name == "ResNet-20" and len(empty.x) == 0 and len(empty.y) == 0 and len(empty.customdata) == 0
    assert empty.line.color == BLUE and empty.line.dash == "solid"
    assert tuple(fig.layout.xaxis.range) == (0, 51)


def test_only_runs_with_no_step_and_no_total_still_draw():
    fig = plot_loss_curves({"plain-20": trace_of([])})
    assert len(fig.data) == 1 and len(fig.data[0].x) == 0
    assert fig.layout.xaxis.range[0] == 0


def test_no_runs_draw_an_empty_figure():
    fig = plot_loss_curves({}, total_steps=300)
    assert len(fig.data) == 0 and tuple(fig.layout.xaxis.range) == (0, 301)


# --- plot_gradient_heatmap ---------------------------------------------------------------------

# 3 steps x 4 layers, powers of ten so log10 is exact: layer k at step s has 10 ** (s - k - 1).
HEAT_NORMS = np.array([[10.0 ** (s - k - 1) for k in range(4)] for s in range(3)])
HEAT_LOG = np.array([[s - k - 1 for s in range(3)] for k in range(4)], dtype=float)  # layers x steps


def heat_trace(norms=HEAT_NORMS) -> GradientTrace:
    norms = np.asarray(norms, dtype=float)
    return trace_of(np.linspace(2.3, 1.0, len(norms)), norms)


def test_heatmap_is_log10_of_the_norms_layers_by_steps():
    fig = plot_gradient_heatmap(heat_trace())
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (4, 3)  # layers x steps
    np.testing.assert_allclose(z, HEAT_LOG)
    np.testing.assert_allclose(z, np.log10(HEAT_NORMS).T)
    assert list(heat.x) == [1, 2, 3] and list(heat.y) == [1, 2, 3, 4]
    assert fig.layout.yaxis.autorange == "reversed"  # first layer on top
    customdata = np.asarray(heat.customdata)
    assert customdata.shape == (4, 3)
    for row, name in zip(customdata, LAYERS):
        assert list(row) == [name] * 3


def test_heatmap_default_colour_range_is_the_traces_own():
    heat = plot_gradient_heatmap(heat_trace()).data[0]
    assert (heat.zmin, heat.zmax) == (-4.0, 1.0)
    assert list(heat.colorbar.tickvals) == [-4, -3, -2, -1, 0, 1]
    assert list(heat.colorbar.ticktext) == ["1e-4", "1e-3", "1e-2", "1e-1", "1e0", "1e1"]


def test_zero_norms_are_blank_cells_and_left_out_of_the_range():
    norms = HEAT_NORMS.copy()
    norms[0, 3] = 0.0     # layer 4, step 1: 1e-4, the smallest value
    norms[2, 0] = 0.0     # layer 1, step 3: 1e1, the largest value
    heat = plot_gradient_heatmap(heat_trace(norms)).data[0]
    z = np.asarray(heat.z, dtype=float)
    assert np.isnan(z[3, 0]) and np.isnan(z[0, 2])
    assert np.isfinite(z).sum() == 10
    assert (heat.zmin, heat.zmax) == (-3.0, 0.0)


def test_all_zero_norms_fall_back_to_a_default_range():
    heat = plot_gradient_heatmap(heat_trace(np.zeros((3, 4)))).data[0]
    assert np.isnan(np.asarray(heat.z, dtype=float)).all()
    assert (heat.zmin, heat.zmax) == (-3.0, 1.0)


@pytest.mark.parametrize(("zrange", "ticks", "text"), [
    ((-4.0, 2.0), [-4, -3, -2, -1, 0, 1, 2], ["1e-4", "1e-3", "1e-2", "1e-1", "1e0", "1e1", "1e2"]),
    ((-3.5, 0.5), [-3, -2, -1, 0], ["1e-3", "1e-2", "1e-1", "1e0"]),
    ((-6, -5), [-6, -5], ["1e-6", "1e-5"]),
])
def test_zrange_sets_the_colour_scale_and_integer_ticks(zrange, ticks, text):
    heat = plot_gradient_heatmap(heat_trace(), zrange=zrange).data[0]
    assert (heat.zmin, heat.zmax) == zrange
    tickvals = np.asarray(heat.colorbar.tickvals, dtype=float)
    assert list(tickvals) == ticks
    assert all(float(t).is_integer() and zrange[0] <= t <= zrange[1] for t in tickvals)
    assert list(heat.colorbar.ticktext) == text
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), HEAT_LOG)  # the data are not clipped


def test_a_single_value_range_is_widened_by_one_decade_each_side():
    heat = plot_gradient_heatmap(heat_trace(), zrange=(-2.0, -2.0)).data[0]
    assert (heat.zmin, heat.zmax) == (-3.0, -1.0)
    assert list(heat.colorbar.tickvals) == [-3, -2, -1]
    one = plot_gradient_heatmap(trace_of([1.0], np.full((1, 4), 1e-2))).data[0]
    assert (one.zmin, one.zmax) == (-3.0, -1.0)


def test_a_range_inside_one_decade_labels_the_ends_of_the_colour_bar():
    norms = np.array([[0.2, 0.3, 0.5, 0.9]])  # log10 from -0.70 to -0.05: no integer in between
    heat = plot_gradient_heatmap(trace_of([1.0], norms)).data[0]
    assert list(heat.colorbar.ticktext) == ["0.2", "0.9"]


def test_a_trace_with_no_step_gives_an_empty_heatmap():
    fig = plot_gradient_heatmap(trace_of([]), total_steps=300)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap)
    assert np.asarray(heat.z).shape == (4, 0)
    assert len(heat.x) == 0 and list(heat.y) == [1, 2, 3, 4]
    assert (heat.zmin, heat.zmax) == (-3.0, 1.0)
    assert tuple(fig.layout.xaxis.range) == (0.5, 300.5)
    fig.to_json()  # serialisable as Streamlit would send it
    shared = plot_gradient_heatmap(trace_of([]), zrange=(-5.0, 0.0)).data[0]
    assert (shared.zmin, shared.zmax) == (-5.0, 0.0)


def test_heatmap_x_range_spans_total_steps():
    assert tuple(plot_gradient_heatmap(heat_trace(), total_steps=300).layout.xaxis.range) == (0.5, 300.5)
    assert tuple(plot_gradient_heatmap(heat_trace()).layout.xaxis.range) == (0.5, 3.5)
    assert tuple(plot_gradient_heatmap(trace_of([])).layout.xaxis.range) == (0.5, 1.5)


def test_heatmap_title_when_given():
    titled = plot_gradient_heatmap(heat_trace(), title="plain-56")
    assert titled.layout.title.text == "plain-56"
    assert titled.layout.margin.t == 40
    untitled = plot_gradient_heatmap(heat_trace())
    assert not untitled.layout.title.text
    assert untitled.layout.margin.t == 10


# --- the figures' words (labels) --------------------------------------------------------------

def test_labels_replace_every_word_and_keep_the_hover_placeholders():
    from cnnviz.plots.gradients import GRADIENT_HEATMAP_LABELS, GRADIENT_NORMS_LABELS, LOSS_CURVES_LABELS

    nets = {"plain-20": norms_of([0.0, 1e-3, 1e-2, 1e-1]), "ResNet-20": norms_of(RESNET_NORMS)}
    stats = {label: stats_of([1.0, 0.5, 0.2, 0.1]) for label in nets}
    words = {key: f"<{key}>" for key in GRADIENT_NORMS_LABELS}
    words.update(norms_hover="{net} L{layer} {name} {value}", underflow="0 in {nets}")
    fig = plot_gradient_norms(nets, stats, labels=words)
    assert texts(fig) == ["<norms_title>", "<std_title>", "0 in plain-20"]
    assert fig.layout.yaxis.title.text == "<norms_y>" and fig.layout.yaxis2.title.text == "<std_y>"
    assert fig.layout.xaxis2.title.text == "<x>"
    assert fig.data[0].hovertemplate == "plain-20 L%{x} %{customdata} %{y:.3g}<extra></extra>"
    assert fig.data[1].hovertemplate == "<std_hover><extra></extra>"

    runs = {"plain-20": trace_of([2.0, 1.0])}
    curves = plot_loss_curves(runs, labels={"hover": "{net}: {step} {loss} {batch}", "y": "loss!"})
    assert curves.data[0].hovertemplate == "plain-20: %{x} %{y:.3f} %{customdata:.3f}<extra></extra>"
    assert curves.layout.yaxis.title.text == "loss!"
    assert curves.layout.xaxis.title.text == LOSS_CURVES_LABELS["x"]          # the English default stays
    heatmap = plot_gradient_heatmap(trace_of([2.0, 1.0]), labels={"colorbar": "|g|", "hover": "{step}/{layer}/{value}"})
    assert heatmap.data[0].colorbar.title.text == "|g|"
    assert heatmap.data[0].hovertemplate == "%{x}/%{y}/%{z:.2f}<extra></extra>"
    assert heatmap.layout.yaxis.title.text == GRADIENT_HEATMAP_LABELS["y"]


def test_the_default_words_are_english_and_an_unknown_label_is_refused():
    fig = plot_gradient_norms({"plain-20": norms_of(PLAIN_NORMS)})
    assert fig.data[0].hovertemplate == "plain-20<br>layer %{x}: %{customdata}<br>‖grad‖ = %{y:.3g}<extra></extra>"
    heatmap = plot_gradient_heatmap(trace_of([2.0, 1.0]))
    assert heatmap.data[0].hovertemplate == ("step %{x}, layer %{y} (%{customdata})<br>log10 ‖grad‖ = %{z:.2f}"
                                             "<extra></extra>")
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_loss_curves({"plain-20": trace_of([2.0])}, labels={"title": "no such word"})
