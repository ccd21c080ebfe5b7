"""cnnviz.plots.convolution: the numbers written in the cells, the padding marked, the equation, the window."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz.analysis.convolution import ConvolutionStep
from cnnviz.plots.convolution import plot_convolution_step, plot_convolution_window


def make_step(patch: np.ndarray, kernel: np.ndarray, padded: np.ndarray | None = None, *, bias: float = 0.25,
              window: tuple[int, int, int, int] = (-1, -1, 1, 1), position: tuple[int, int] = (0, 0),
              activation: str | None = "ReLU", output_shape: tuple[int, int] = (4, 4)) -> ConvolutionStep:
    """A step made of numbers only (no model): a 4x4 input, padding 1, stride 1, so the window is known."""
    patch, kernel = np.asarray(patch, dtype=np.float64), np.asarray(kernel, dtype=np.float64)
    products = patch * kernel
    sums = products.sum(axis=(1, 2))
    total = float(sums.sum()) + bias
    output_map = np.zeros(output_shape)
    output_map[position] = total
    return ConvolutionStep(
        layer="conv", channel=1, position=position, window=window, patch=patch,
        padded=np.zeros(patch.shape, dtype=bool) if padded is None else padded, kernel=kernel, products=products,
        channel_sums=sums, bias=bias, total=total, output=total + 1e-7, input_channels=tuple(range(len(patch))),
        stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, padding_mode="zeros", activation=activation,
        activation_layer="relu" if activation else None, activated=max(0.0, total) if activation else None,
        input_map=np.arange(16.0).reshape(4, 4), output_map=output_map)


CORNER_PATCH = np.array([[[0.0, 0.0, 0.0], [0.0, 1.234, -2.0], [0.0, 0.5, 3.0]]])
CORNER_PADDED = np.array([[[True] * 3, [True, False, False], [True, False, False]]])
KERNEL = np.array([[[1.0, -0.5, 0.25], [2.0, 1.0, 0.0], [-1.0, 0.125, 0.5]]])


def corner() -> ConvolutionStep:
    return make_step(CORNER_PATCH, KERNEL, CORNER_PADDED)


def six_channels(bias: float = -0.5) -> ConvolutionStep:
    rng = np.random.default_rng(0)
    return make_step(rng.normal(size=(6, 5, 5)), rng.normal(size=(6, 5, 5)), bias=bias, window=(3, 4, 7, 8),
                     position=(3, 4), output_shape=(10, 10))


def traces(fig: go.Figure, name: str) -> list:
    return [t for t in fig.data if t.name == name]


def title(fig: go.Figure) -> str:
    return fig.layout.title.text


# --- plot_convolution_step -------------------------------------------------------------------------

def test_one_channel_gives_patch_padding_kernel_and_products_heatmaps():
    fig = plot_convolution_step(corner())
    assert [type(t).__name__ for t in fig.data] == ["Heatmap"] * 4
    assert [t.name for t in fig.data] == ["patch ch 0", "padding ch 0", "kernel ch 0", "products ch 0"]


def test_cells_carry_their_numbers_rounded_to_two_decimals_and_exact_on_hover():
    fig = plot_convolution_step(corner())
    (kernel,) = traces(fig, "kernel ch 0")
    assert [list(row) for row in kernel.text] == [["1.00", "-0.50", "0.25"], ["2.00", "1.00", "0.00"],
                                                  ["-1.00", "0.12", "0.50"]]
    assert kernel.texttemplate == "%{text}" and kernel.customdata[2][1] == "0.125"  # exact value on hover
    (products,) = traces(fig, "products ch 0")
    assert [list(row) for row in products.text][1:] == [["0.00", "1.23", "0.00"], ["0.00", "0.06", "1.50"]]
    (patch,) = traces(fig, "patch ch 0")
    assert list(patch.text[1]) == ["", "1.23", "-2.00"]  # the padded cell is written by the padding trace
    assert patch.customdata[1][1] == [0, 0, "1.234"]  # input row, col, exact value


def test_padding_cells_are_grey_and_say_pad():
    fig = plot_convolution_step(corner())
    (padding,) = traces(fig, "padding ch 0")
    z = np.array(padding.z, dtype=float)
    np.testing.assert_array_equal(~np.isnan(z), CORNER_PADDED[0])
    assert {c for row in padding.colorscale for c in row[1:]} == {"#c8c8c8"}
    text = np.array(padding.text)
    assert (text[CORNER_PADDED[0]] == "pad<br>0.00").all() and (text[~CORNER_PADDED[0]] == "").all()
    assert "zeros padding" in padding.hovertemplate
    assert not traces(plot_convolution_step(six_channels()), "padding ch 0")  # no padding: no such trace


def test_kernel_and_products_use_a_diverging_scale_symmetric_around_zero():
    fig = plot_convolution_step(corner())
    (kernel,) = traces(fig, "kernel ch 0")
    (products,) = traces(fig, "products ch 0")
    assert (kernel.zmin, kernel.zmax, kernel.zmid) == (-2.0, 2.0, 0)
    assert (products.zmin, products.zmax) == (-1.5, 1.5)


def test_the_title_gives_the_equation_with_the_numbers_and_the_layer_output():
    step = corner()  # products sum 1.234 + 0.0625 + 1.5 = 2.7965; + bias 0.25 = 3.0465
    text = title(plot_convolution_step(step))
    assert "conv: output channel 1 at (row 0, col 0)" in text
    assert "sum over channels 2.7965 + bias 0.2500 = total 3.0465 → ReLU → 3.0465" in text
    assert "the layer's output here: 3.0465" in text
    assert "more channel" not in text
    subplot_titles = [a.text for a in plot_convolution_step(step).layout.annotations]
    assert subplot_titles == ["input ch 0", "kernel for ch 0", "products, sum = 2.80"]


def test_a_negative_total_is_rectified_and_no_activation_writes_no_arrow():
    step = make_step(CORNER_PATCH, -KERNEL, CORNER_PADDED, bias=0.0)
    assert "= total -2.7965 → ReLU → 0.0000" in title(plot_convolution_step(step))
    plain = make_step(CORNER_PATCH, KERNEL, CORNER_PADDED, activation=None)
    text = title(plot_convolution_step(plain))
    assert "= total 3.0465</b>" in text and "→" not in text


def test_six_channels_show_the_first_three_and_say_how_many_more():
    step = six_channels()
    fig = plot_convolution_step(step, max_channels=3)
    assert [type(t).__name__ for t in fig.data] == ["Heatmap"] * 9
    assert [t.name for t in fig.data if t.name.startswith("kernel")] == ["kernel ch 0", "kernel ch 1", "kernel ch 2"]
    hidden = step.channel_sums[3:].sum()
    assert f"… and 3 more channel(s), sum shown: {hidden:.4f}" in title(fig)
    assert f"sum over channels {step.channel_sums.sum():.4f} + bias -0.5000 = total {step.total:.4f}" in title(fig)
    sums = [a.text for a in fig.layout.annotations if a.text.startswith("products")]
    assert sums == [f"products, sum = {s:.2f}" for s in step.channel_sums[:3]]
    everything = plot_convolution_step(step, max_channels=6)
    assert len(everything.data) == 18 and "more channel" not in title(everything)
    assert "1 more channel(s)," in title(plot_convolution_step(step, max_channels=5))
    assert plot_convolution_step(step).layout.height > plot_convolution_step(step, max_channels=1).layout.height


def test_cells_stay_square_and_labels_can_be_translated():
    fig = plot_convolution_step(six_channels(), labels={
        "equation": "Summe {sum} + Bias {bias} = {total}", "cut_note": "… und {more} weitere Kanäle ({hidden})",
        "output_note": "Ausgabe: {output}", "kernel_hover": "Kern Zeile {row}, Spalte {col}<br>Gewicht {value}"})
    assert "Summe" in title(fig) and "weitere Kanäle" in title(fig) and "Ausgabe:" in title(fig)
    assert fig.data[1].hovertemplate.startswith("Kern Zeile %{y}, Spalte %{x}<br>Gewicht %{customdata}")
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_convolution_step(six_channels(), labels={"title": "x"})
    assert fig.layout.yaxis5.scaleanchor == "x5"
    with pytest.raises(ValueError, match="max_channels"):
        plot_convolution_step(six_channels(), max_channels=0)


# --- plot_convolution_window --------------------------------------------------------------------------

def test_the_window_is_outlined_dashed_over_padding_and_solid_on_the_map():
    step = corner()
    fig = plot_convolution_window(step.input_map, step.output_map, step)
    assert [type(t).__name__ for t in fig.data] == ["Heatmap", "Scatter", "Scatter", "Scatter", "Heatmap", "Scatter",
                                                    "Scatter"]
    (dashed,) = traces(fig, "window over padding")
    assert dashed.line.dash == "dash"
    assert list(dashed.x) == [-1.5, 1.5, 1.5, -1.5, -1.5] and list(dashed.y) == [-1.5, -1.5, 1.5, 1.5, -1.5]
    (solid,) = traces(fig, "window")
    assert solid.line.dash is None
    assert list(solid.x) == [-0.5, 1.5, 1.5, -0.5, -0.5] and list(solid.y) == [-0.5, -0.5, 1.5, 1.5, -0.5]
    (taps,) = traces(fig, "kernel taps")
    assert sorted(zip(taps.y, taps.x, strict=True)) == [(r, c) for r in (-1, 0, 1) for c in (-1, 0, 1)]
    assert fig.layout.xaxis.range[0] < -1.5 and fig.layout.yaxis.range[1] < -1.5  # the padding is in view
    assert "window rows -1–1, cols -1–1" in fig.layout.annotations[0].text


def test_the_output_position_is_marked():
    step = six_channels()
    fig = plot_convolution_window(np.zeros((12, 13)), step.output_map, step)
    (marker,) = traces(fig, "output position")
    assert (list(marker.x), list(marker.y)) == ([4], [3]) and marker.xaxis == "x2"
    (outline,) = traces(fig, "output position outline")
    assert list(outline.x) == [3.5, 4.5, 4.5, 3.5, 3.5] and list(outline.y) == [2.5, 2.5, 3.5, 3.5, 2.5]
    assert not traces(fig, "window over padding")  # inside the map: no dashed part
    (solid,) = traces(fig, "window")
    assert list(solid.x) == [3.5, 8.5, 8.5, 3.5, 3.5]
    assert tuple(fig.layout.xaxis.range) == (-0.5, 12.5)
    assert "position (3, 4)" in fig.layout.annotations[1].text


def test_window_errors():
    step = corner()
    with pytest.raises(ValueError, match=r"\(H, W\) maps"):
        plot_convolution_window(np.zeros((1, 4, 4)), step.output_map, step)
    with pytest.raises(ValueError, match="outside the 2x2 output map"):
        plot_convolution_window(step.input_map, np.zeros((2, 2)), make_step(CORNER_PATCH, KERNEL, position=(3, 3)))
