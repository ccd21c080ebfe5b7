"""Figures of one convolution output computed by hand: the numbers under the kernel, and where the window sits.

`plot_convolution_step` draws a `ConvolutionStep` as CNN Explainer does (Wang et al. 2020):
per input channel a row of three small grids, the input patch under the kernel, the kernel
and their product, every cell written out, then the sums, the bias, the total and the
activation in the title, next to the value the layer really gave. `plot_convolution_window`
shows where that window lies on the input map (reaching into the padding at the edges, with
gaps between the kernel's taps when it is dilated) and which output value it makes (stride).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels

if TYPE_CHECKING:  # only for type hints: the figures need no torch
    from cnnviz.analysis.convolution import ConvolutionStep

__all__ = ["CONVOLUTION_STEP_LABELS", "CONVOLUTION_WINDOW_LABELS", "plot_convolution_step",
           "plot_convolution_window"]

CONVOLUTION_STEP_LABELS = {
    "heading": "{layer}: output channel {channel} at (row {row}, col {col})",
    "equation": "sum over channels {sum} + bias {bias} = total {total}",
    "activation": " → {name} → {value}",
    "output_note": "the layer's output here: {output}",
    "cut_note": "… and {more} more channel(s), sum shown: {hidden}",
    "input_panel": "input ch {c}",
    "kernel_panel": "kernel for ch {c}",
    "products_panel": "products, sum = {sum}",
    "pad": "pad",
    "input_hover": "input row {row}, col {col}<br>value {value}",
    "padding_hover": "{mode} padding at row {row}, col {col}<br>value {value}",
    "kernel_hover": "kernel row {row}, col {col}<br>weight {value}",
    "products_hover": "patch × weight at row {row}, col {col}<br>{value}",
}
CONVOLUTION_WINDOW_LABELS = {
    "input_title": "input ch {c} of {layer}: window rows {top}–{bottom}, cols {left}–{right}",
    "output_title": "output ch {channel}: position ({row}, {col})",
    "row": "row",
    "column": "column",
    "map_hover": "row {row}, col {col}<br>{value}",
    "tap_hover": "tap at row {row}, col {col}",
}
_PAD_COLOUR, _WINDOW_COLOUR, _TAP_COLOUR = "#c8c8c8", "#e4002b", "#ff7f0e"
_DIVERGING = "RdBu_r"  # negative blue, positive red, white at 0
_ROW_HEIGHT, _HEADER = 240, 105


def _number(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}"


def _cells(values: np.ndarray) -> list[list[str]]:
    """Each value rounded to 2 decimals ("-0.00" written "0.00")."""
    return [[_two(float(v)) for v in row] for row in values]


def _two(value: float) -> str:
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def _exact(values: np.ndarray) -> list[list[str]]:
    return [[repr(float(v)) for v in row] for row in values]


def _axis_id(index: int) -> str:
    return "x" if index == 1 else f"x{index}"


def _plotly(template: str, **fields: str) -> str:
    """A label template as a plotly hovertemplate: each {field} becomes the plotly reference given for it."""
    return template.format(**{name: "%{" + ref + "}" for name, ref in fields.items()})


def _equation(step: ConvolutionStep, equation: str, activation: str) -> str:
    text = equation.format(sum=_number(float(np.sum(step.channel_sums))), bias=_number(step.bias),
                           total=_number(step.total))
    if step.activation is not None and step.activated is not None:
        text += activation.format(name=step.activation, value=_number(step.activated))
    return text


def plot_convolution_step(step: ConvolutionStep, *, max_channels: int = 3,
                          labels: Mapping[str, str] | None = None) -> go.Figure:
    """The output value of `step` computed before the reader's eyes, one row per input channel.

    Each of the first `max_channels` input channels of the group gets three heatmaps: the
    input patch under the kernel (cells on padding grey, written "pad" and their value),
    the kernel (a diverging scale symmetric around 0) and the product patch × kernel (the same
    kind of scale), every cell written to 2 decimals with its exact value on hover, and the
    channel's sum in the product's title. The title gives the heading, a note when channels
    were left out (their sum is in the total), the equation with the activation (when one
    directly follows) and the value the layer gave, equal to the total. `labels` over
    CONVOLUTION_STEP_LABELS give its words in another language.
    """
    words = chosen_labels(CONVOLUTION_STEP_LABELS, labels)
    if max_channels < 1:
        raise ValueError(f"max_channels must be at least 1, not {max_channels}")
    shown = min(max_channels, len(step.input_channels))
    kh, kw = step.kernel.shape[1:]
    titles = []
    for i in range(shown):
        c = step.input_channels[i]
        titles += [words["input_panel"].format(c=c), words["kernel_panel"].format(c=c),
                   words["products_panel"].format(c=c, sum=_number(float(step.channel_sums[i]), 2))]
    fig = make_subplots(rows=shown, cols=3, subplot_titles=titles, horizontal_spacing=0.05,
                        vertical_spacing=min(0.12, 0.3 / shown))
    patch_values = step.patch[:shown]
    low, high = float(patch_values.min()), float(patch_values.max())
    if low == high:
        low, high = low - 1.0, high + 1.0
    weight_bound = float(np.abs(step.kernel[:shown]).max()) or 1.0
    product_bound = float(np.abs(step.products[:shown]).max()) or 1.0
    top, left = step.window[:2]
    dr, dc = step.dilation
    input_rows = np.repeat((top + dr * np.arange(kh))[:, None], kw, axis=1)
    input_cols = np.repeat((left + dc * np.arange(kw))[None, :], kh, axis=0)
    for i in range(shown):
        row, c = i + 1, step.input_channels[i]
        padded = step.padded[i]
        patch_text = [[("" if padded[r, k] else t) for k, t in enumerate(line)]
                      for r, line in enumerate(_cells(step.patch[i]))]
        where = np.stack([input_rows, input_cols], axis=-1).tolist()
        patch_data = [[[*where[r][k], e] for k, e in enumerate(line)] for r, line in enumerate(_exact(step.patch[i]))]
        fig.add_trace(go.Heatmap(
            z=step.patch[i], zmin=low, zmax=high, colorscale="Viridis", showscale=False, name=f"patch ch {c}",
            text=patch_text, texttemplate="%{text}", customdata=patch_data,
            hovertemplate=_plotly(words["input_hover"], row="customdata[0]", col="customdata[1]",
                                  value="customdata[2]") + f"<extra>ch {c}</extra>"), row=row, col=1)
        if padded.any():
            pad_cells = [[f"{words['pad']}<br>{t}" if padded[r, k] else "" for k, t in enumerate(line)]
                         for r, line in enumerate(_cells(step.patch[i]))]
            fig.add_trace(go.Heatmap(
                z=np.where(padded, 1.0, np.nan), colorscale=[[0, _PAD_COLOUR], [1, _PAD_COLOUR]], showscale=False,
                name=f"padding ch {c}", text=pad_cells, texttemplate="%{text}", textfont_color="#333333",
                customdata=patch_data, hoverongaps=False,
                hovertemplate=words["padding_hover"].format(
                    mode=step.padding_mode, row="%{customdata[0]}", col="%{customdata[1]}", value="%{customdata[2]}")
                + f"<extra>ch {c}</extra>"), row=row, col=1)
        fig.add_trace(go.Heatmap(
            z=step.kernel[i], zmin=-weight_bound, zmax=weight_bound, zmid=0, colorscale=_DIVERGING, showscale=False,
            name=f"kernel ch {c}", text=_cells(step.kernel[i]), texttemplate="%{text}",
            customdata=_exact(step.kernel[i]),
            hovertemplate=_plotly(words["kernel_hover"], row="y", col="x", value="customdata")
            + f"<extra>ch {c}</extra>"),
            row=row, col=2)
        fig.add_trace(go.Heatmap(
            z=step.products[i], zmin=-product_bound, zmax=product_bound, zmid=0, colorscale=_DIVERGING,
            showscale=False, name=f"products ch {c}", text=_cells(step.products[i]), texttemplate="%{text}",
            customdata=_exact(step.products[i]),
            hovertemplate=_plotly(words["products_hover"], row="y", col="x", value="customdata")
            + f"<extra>ch {c}</extra>"),
            row=row, col=3)
        for col in range(1, 4):
            index = i * 3 + col
            fig.update_xaxes(range=[-0.5, kw - 0.5], showticklabels=False, showgrid=False, zeroline=False,
                             constrain="domain", row=row, col=col)
            fig.update_yaxes(range=[kh - 0.5, -0.5], showticklabels=False, showgrid=False, zeroline=False,
                             scaleanchor=_axis_id(index), constrain="domain", row=row, col=col)
    lines = [words["heading"].format(layer=step.layer, channel=step.channel, row=step.position[0],
                                     col=step.position[1])]
    more = len(step.input_channels) - shown
    if more:
        lines.append(words["cut_note"].format(more=more, hidden=_number(float(np.sum(step.channel_sums[shown:])))))
    lines.append(f"<b>{_equation(step, words['equation'], words['activation'])}</b>")
    lines.append(words["output_note"].format(output=_number(step.output)))
    header = _HEADER + 18 * (len(lines) - 3)
    fig.update_layout(title=dict(text="<br>".join(lines), x=0, xanchor="left", xref="paper", y=1, yref="container",
                                 yanchor="top", pad=dict(t=10), font_size=14),
                      height=header + _ROW_HEIGHT * shown, margin=dict(l=20, r=20, t=header, b=20),
                      showlegend=False)
    return fig


def _rectangle(top: float, left: float, bottom: float, right: float) -> tuple[list[float], list[float]]:
    """A closed outline (x, y) around the cells top..bottom, left..right (inclusive)."""
    x0, x1, y0, y1 = left - 0.5, right + 0.5, top - 0.5, bottom + 0.5
    return [x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0]


def _tick_step(size: int) -> int:
    """Whole-number ticks, about 6 to 10 of them: never a tick between two cells of a small map."""
    return max(1, -(-size // 8))


def plot_convolution_window(input_map: np.ndarray, output_map: np.ndarray, step: ConvolutionStep, *,
                            labels: Mapping[str, str] | None = None) -> go.Figure:
    """The input map (H, W) with the window of `step` on it, beside the output map (H_out, W_out) with its position.

    Pass `step.input_map` (the first input channel of the group) and `step.output_map`, or
    maps of your own of the same sizes. The window is outlined solid where it covers the map
    and dashed where it lies on padding (the grey area beyond the map's edges); a ring marks
    each of the kernel's taps, so a dilated kernel shows its gaps. On the output map the
    position is outlined and marked with a cross. Moving the position by one moves the window
    by the stride. `labels` over CONVOLUTION_WINDOW_LABELS give its words in another language.
    """
    words = chosen_labels(CONVOLUTION_WINDOW_LABELS, labels)
    values = np.asarray(input_map, dtype=np.float64)
    outputs = np.asarray(output_map, dtype=np.float64)
    if values.ndim != 2 or outputs.ndim != 2:
        raise ValueError(f"input_map and output_map must be (H, W) maps, not shapes {values.shape} and "
                         f"{outputs.shape}")
    row, col = step.position
    if not (0 <= row < outputs.shape[0] and 0 <= col < outputs.shape[1]):
        raise ValueError(f"position ({row}, {col}) is outside the {outputs.shape[0]}x{outputs.shape[1]} output map")
    height, width = values.shape
    top, left, bottom, right = step.window
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=(
        words["input_title"].format(c=step.input_channels[0], layer=step.layer, top=top, bottom=bottom, left=left,
                           right=right),
        words["output_title"].format(channel=step.channel, row=row, col=col)))
    fig.add_trace(go.Heatmap(z=values, colorscale="Viridis", showscale=False, name="input map",
                             hovertemplate=_plotly(words["map_hover"], row="y", col="x", value="z:.4g")
                             + "<extra></extra>"), row=1, col=1)
    outside = top < 0 or left < 0 or bottom >= height or right >= width
    if outside:
        x, y = _rectangle(top, left, bottom, right)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="window over padding", hoverinfo="skip",
                                 line=dict(color=_WINDOW_COLOUR, width=2, dash="dash")), row=1, col=1)
    clipped = max(top, 0), max(left, 0), min(bottom, height - 1), min(right, width - 1)
    if clipped[0] <= clipped[2] and clipped[1] <= clipped[3]:
        x, y = _rectangle(*clipped)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="window", hoverinfo="skip",
                                 line=dict(color=_WINDOW_COLOUR, width=3)), row=1, col=1)
    kh, kw = step.kernel.shape[1:]
    tap_rows = top + step.dilation[0] * np.arange(kh)
    tap_cols = left + step.dilation[1] * np.arange(kw)
    taps_y, taps_x = np.meshgrid(tap_rows, tap_cols, indexing="ij")
    fig.add_trace(go.Scatter(x=taps_x.ravel(), y=taps_y.ravel(), mode="markers", name="kernel taps",
                             marker=dict(symbol="circle-open", size=6, color=_TAP_COLOUR, line_width=1.5),
                             hovertemplate=_plotly(words["tap_hover"], row="y", col="x") + "<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Heatmap(z=outputs, colorscale="Viridis", showscale=False, name="output map",
                             hovertemplate=_plotly(words["map_hover"], row="y", col="x", value="z:.4g")
                             + "<extra></extra>"), row=1, col=2)
    x, y = _rectangle(row, col, row, col)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="output position outline", hoverinfo="skip",
                             line=dict(color=_WINDOW_COLOUR, width=3)), row=1, col=2)
    fig.add_trace(go.Scatter(x=[col], y=[row], mode="markers", name="output position",
                             marker=dict(symbol="x", size=10, color=_WINDOW_COLOUR),
                             hovertemplate=f"output ({row}, {col}) = {step.output:.6g}<extra></extra>"), row=1, col=2)
    x_range = [min(-0.5, left - 0.5) - 0.5, max(width - 0.5, right + 0.5) + 0.5] if outside else [-0.5, width - 0.5]
    y_range = [max(height - 0.5, bottom + 0.5) + 0.5, min(-0.5, top - 0.5) - 0.5] if outside else [height - 0.5, -0.5]
    fig.update_xaxes(range=x_range, showgrid=False, zeroline=False, constrain="domain",
                     title_text=words["column"], dtick=_tick_step(width), row=1, col=1)
    fig.update_yaxes(range=y_range, showgrid=False, zeroline=False, scaleanchor="x", constrain="domain",
                     title_text=words["row"], dtick=_tick_step(height), row=1, col=1)
    fig.update_xaxes(range=[-0.5, outputs.shape[1] - 0.5], showgrid=False, zeroline=False, constrain="domain",
                     title_text=words["column"], dtick=_tick_step(outputs.shape[1]), row=1, col=2)
    fig.update_yaxes(range=[outputs.shape[0] - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x2",
                     constrain="domain", dtick=_tick_step(outputs.shape[0]), row=1, col=2)
    fig.update_layout(height=420, margin=dict(l=40, r=20, t=60, b=40), showlegend=False,
                      plot_bgcolor=_PAD_COLOUR if outside else "white")
    return fig
