"""Figures of pooling: one map before and after, and how much each layer's output changes under a transform.

`plot_pooling` draws a map and its pooled output side by side on one colour scale;
for max pooling it marks the value that won each window. `plot_invariance_curves`
and `plot_layer_change` draw an `InvarianceCurves`: the relative change of every
layer's output as the input is shifted, rotated or scaled, where a pooling layer
that lowers the change relative to the layer before it shows the (approximate)
invariance that pooling buys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

if TYPE_CHECKING:  # only for type hints: the figures need no torch
    from cnnviz.pooling import InvarianceCurves, PoolResult

_WINNER_COLOUR, _WINDOW_COLOUR = "#e4002b", "#ff7f0e"
_POOL_COLOUR, _CONV_COLOUR, _OTHER_COLOUR = "#d62728", "#1f77b4", "#9ecae1"
_SAME_COLOUR, _PROBABILITY_COLOUR = "#2ca02c", "#9467bd"
_KIND_TITLES = {"max": "max pool", "avg": "average pool", "blur": "blur pool"}
_AXIS_TITLES = {"translate": "shift to the right (pixels)", "rotate": "rotation, counter-clockwise (degrees)",
                "scale": "scale factor (1 = unchanged)"}
_AMOUNT_WORDS = {"translate": "a shift of {:g} pixel{}", "rotate": "a rotation of {:g}°{}", "scale": "scale {:g}×{}"}
_CHANGE_TITLE = "relative change ‖f(Tx) − f(x)‖ / ‖f(x)‖"


def _pool_title(result: PoolResult, out_hw: tuple[int, int]) -> str:
    size = f"{out_hw[0]}×{out_hw[1]}"
    if result.kind == "subsample":
        return f"subsample s={result.stride} → {size}"
    return f"{_KIND_TITLES.get(result.kind, result.kind)} k={result.kernel} s={result.stride} → {size}"


def _grid_lines(starts: Sequence[int], kernel: int, extent: tuple[float, float]) -> tuple[list, list]:
    """Vertical segments (x, y with None between) at each window start and at the end of the last window."""
    edges = sorted({s - 0.5 for s in starts} | {starts[-1] + kernel - 0.5})
    xs: list[float | None] = []
    ys: list[float | None] = []
    for edge in edges:
        xs += [edge, edge, None]
        ys += [extent[0], extent[1], None]
    return xs, ys


def plot_pooling(feature_map: np.ndarray, result: PoolResult, *, channel: int = 0) -> go.Figure:
    """A map (H, W) (or channel `channel` of maps (C, H, W)) and its pooled output side by side.

    Both panels share one colour scale, so a value keeps its colour; hover shows row,
    column and value. The input panel carries the window grid, lightly: lines at the
    start of every window and at the end of the last one (for kernel = stride these
    split the map into its windows; rows and columns beyond the last line are never
    pooled). When windows overlap or leave gaps (kernel ≠ stride), the first window is
    outlined too, to show its size. For max pooling a marker on each window's winner
    (at `result.winners[channel]`, one per window) shows which value passed on; for
    "subsample" markers show the values kept.
    """
    maps = np.asarray(feature_map, dtype=np.float64)
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3 or 0 in maps.shape:
        raise ValueError(f"the map must be (H, W) or (C, H, W) with no empty axis, not shape {maps.shape}")
    output = np.asarray(result.output, dtype=np.float64)
    if output.shape[0] != maps.shape[0]:
        raise ValueError(f"the result has {output.shape[0]} channels but the map {maps.shape[0]}")
    if not 0 <= channel < maps.shape[0]:
        raise ValueError(f"channel must be 0 to {maps.shape[0] - 1}, not {channel}")
    image, pooled = maps[channel], output[channel]
    (height, width), (out_h, out_w) = image.shape, pooled.shape
    finite = np.concatenate([image[np.isfinite(image)], pooled[np.isfinite(pooled)]])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(f"input {height}×{width}", _pool_title(result, (out_h, out_w))))
    fig.add_trace(go.Heatmap(
        z=image, coloraxis="coloraxis", name="input",
        hovertemplate="input row %{y}, col %{x}<br>value %{z:.4g}<extra></extra>"), row=1, col=1)
    pooled_hover = "output row %{y}, col %{x}<br>value %{z:.4g}"
    customdata = None
    if result.winners is not None:
        customdata = np.asarray(result.winners[channel])
        pooled_hover += "<br>from input row %{customdata[0]}, col %{customdata[1]}"
    fig.add_trace(go.Heatmap(z=pooled, coloraxis="coloraxis", name="output", customdata=customdata,
                             hovertemplate=pooled_hover + "<extra></extra>"), row=1, col=2)

    kernel, stride = result.kernel, result.stride
    if result.kind in ("max", "avg"):
        row_starts = [i * stride for i in range(out_h)]
        col_starts = [j * stride for j in range(out_w)]
        bottom, right = row_starts[-1] + kernel - 0.5, col_starts[-1] + kernel - 0.5
        vx, vy = _grid_lines(col_starts, kernel, (-0.5, bottom))
        hy, hx = _grid_lines(row_starts, kernel, (-0.5, right))
        # Fainter on large maps, where the lines are close together.
        alpha = 0.55 if max(out_h, out_w) <= 16 else 0.3
        fig.add_trace(go.Scatter(x=vx + hx, y=vy + hy, mode="lines", name="windows", hoverinfo="skip",
                                 line=dict(color=f"rgba(255, 255, 255, {alpha})", width=1), showlegend=False),
                      row=1, col=1)
        if kernel != stride:
            edge = kernel - 0.5
            fig.add_trace(go.Scatter(x=[-0.5, edge, edge, -0.5, -0.5], y=[-0.5, -0.5, edge, edge, -0.5],
                                     mode="lines", name=f"one {kernel}×{kernel} window", hoverinfo="skip",
                                     line=dict(color=_WINDOW_COLOUR, width=2, dash="dot")), row=1, col=1)

    # Markers about half a pixel across, from large on an 8x8 map to small on a 64x64 one.
    marker_size = float(np.clip(200 / max(height, width), 4, 14))
    if result.winners is not None:
        winners = np.asarray(result.winners[channel]).reshape(-1, 2)
        windows = np.stack(np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij"), axis=-1).reshape(-1, 2)
        fig.add_trace(go.Scatter(
            x=winners[:, 1], y=winners[:, 0], mode="markers", name="winner of a window",
            customdata=np.concatenate([windows, pooled.reshape(-1, 1)], axis=1),
            marker=dict(symbol="circle-open", size=marker_size, color=_WINNER_COLOUR, line=dict(width=2)),
            hovertemplate="window (%{customdata[0]}, %{customdata[1]}) won by<br>input row %{y}, col %{x}"
                          "<br>value %{customdata[2]:.4g}<extra></extra>"), row=1, col=1)
    elif result.kind == "subsample":
        rows, cols = np.meshgrid(np.arange(0, height, stride), np.arange(0, width, stride), indexing="ij")
        fig.add_trace(go.Scatter(
            x=cols.ravel(), y=rows.ravel(), mode="markers", name="kept value",
            marker=dict(symbol="circle-open", size=marker_size, color=_WINNER_COLOUR, line=dict(width=2)),
            hovertemplate="kept: input row %{y}, col %{x}<extra></extra>"), row=1, col=1)

    for col, (h, w) in ((1, (height, width)), (2, (out_h, out_w))):
        # Whole-number ticks only (pixel indices), about 8 per axis.
        ticks = dict(tickmode="linear", tick0=0, showgrid=False, zeroline=False, constrain="domain")
        fig.update_xaxes(range=[-0.5, w - 0.5], dtick=max(1, -(-w // 8)), row=1, col=col, **ticks)
        fig.update_yaxes(range=[h - 0.5, -0.5], dtick=max(1, -(-h // 8)), scaleanchor="x" if col == 1 else "x2",
                         row=1, col=col, **ticks)
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=low, cmax=high,
                                     colorbar=dict(title=dict(text="value"), thickness=12)),
                      height=480, plot_bgcolor="white", margin=dict(l=10, r=10, t=50, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.08, x=0))
    return fig


def _line_style(kind: str, pooling: bool, emphasised: bool) -> dict:
    """Pooling layers solid and thick, convolutions dashed, everything else thin and dotted."""
    if pooling:
        style = dict(width=4.0, dash="solid")
    elif "Conv" in kind:
        style = dict(width=2.0, dash="dash")
    else:
        style = dict(width=1.5, dash="dot")
    if emphasised:
        style["width"] += 2.0
    return style


def _check_highlight(curves: InvarianceCurves, highlight: Sequence[str]) -> set[str]:
    unknown = [name for name in highlight if name not in curves.layers]
    if unknown:
        raise ValueError(f"Unknown layer {', '.join(map(repr, unknown))}; the layers are: {', '.join(curves.layers)}")
    return set(highlight)


def plot_invariance_curves(curves: InvarianceCurves, *, highlight: Sequence[str] = ()) -> go.Figure:
    """Left: each layer's relative change against the amount; right: whether the prediction survives.

    One line per layer (legend in layer order): pooling layers solid and thick,
    convolutions dashed, other layers (activations, flatten, fully connected) thin
    and dotted; colours go from early (light) to late (dark) layers. Layers named in
    `highlight` are drawn thicker and the others faded. The right panel shows the
    fraction of images whose predicted class is unchanged (for one image: 1 or 0)
    and the mean probability of the originally predicted class. Raises ValueError
    for a highlighted name that is not a layer.
    """
    emphasised = _check_highlight(curves, highlight)
    amounts = np.asarray(curves.amounts, dtype=np.float64)
    change = np.asarray(curves.change, dtype=np.float64)
    pooling = curves.pooling
    batch = np.ndim(curves.predictions) == 2
    over = f" (mean over {np.shape(curves.predictions)[1]} images)" if batch else ""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35], horizontal_spacing=0.1,
                        subplot_titles=("change of each layer's output" + over, "prediction stability"))
    n_layers = len(curves.layers)
    for index, name in enumerate(curves.layers):
        kind = curves.kinds[index]
        # Light (early) to dark (late) blues, pooling layers in red: depth and kind at a glance.
        shade = index / max(n_layers - 1, 1)
        blue = f"rgb({int(110 - 90 * shade)}, {int(190 - 150 * shade)}, {int(245 - 145 * shade)})"
        colour = _POOL_COLOUR if pooling[index] else blue
        fig.add_trace(go.Scatter(
            x=amounts, y=change[:, index], mode="lines+markers", name=name, legendgroup="layers",
            legendgrouptitle_text="layers", opacity=1.0 if not emphasised or name in emphasised else 0.35,
            line=dict(color=colour, **_line_style(kind, bool(pooling[index]), name in emphasised)),
            marker=dict(size=5 if pooling[index] else 3),
            hovertemplate=f"<b>{name}</b> ({kind})<br>amount %{{x:g}}<br>change %{{y:.3f}}"
                          "<extra></extra>"), row=1, col=1)
    same_name = "images with the same prediction" if batch else "same prediction (1 = yes)"
    fig.add_trace(go.Scatter(
        x=amounts, y=np.asarray(curves.same_prediction, dtype=np.float64), mode="lines+markers", name=same_name,
        legendgroup="prediction", legendgrouptitle_text="prediction", line=dict(color=_SAME_COLOUR, width=2.5),
        hovertemplate="amount %{x:g}<br>" + ("%{y:.0%} unchanged" if batch else "%{y:.0f}") + "<extra></extra>"),
        row=1, col=2)
    fig.add_trace(go.Scatter(
        x=amounts, y=np.asarray(curves.original_probability, dtype=np.float64), mode="lines+markers",
        name="probability of the original class", legendgroup="prediction",
        line=dict(color=_PROBABILITY_COLOUR, width=2.5, dash="dash"),
        hovertemplate="amount %{x:g}<br>probability %{y:.1%}<extra></extra>"), row=1, col=2)
    axis_title = _AXIS_TITLES.get(curves.transform, "amount")
    fig.update_xaxes(title_text=axis_title, row=1, col=1)
    fig.update_xaxes(title_text=axis_title, row=1, col=2)
    fig.update_yaxes(title_text=_CHANGE_TITLE, rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="fraction / probability", range=[0, 1.05], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=480, margin=dict(l=60, r=10, t=50, b=50), plot_bgcolor="white",
                      legend=dict(traceorder="grouped", groupclick="toggleitem"))
    fig.update_xaxes(gridcolor="#eee", zeroline=False)
    fig.update_yaxes(gridcolor="#eee", zeroline=False)
    return fig


def plot_layer_change(curves: InvarianceCurves, amount: float) -> go.Figure:
    """Bars of each layer's relative change at one amount (one of `curves.amounts`), in layer order.

    Pooling layers are red, convolutions dark blue, other layers light blue, so a
    drop at each pooling layer, against the bar before it, reads layer by layer.
    Raises ValueError for an amount that was not measured.
    """
    amounts = np.asarray(curves.amounts, dtype=np.float64)
    matches = np.flatnonzero(np.isclose(amounts, float(amount), rtol=1e-9, atol=1e-9))
    if not matches.size:
        raise ValueError(f"{amount!r} was not measured; the amounts are {', '.join(f'{a:g}' for a in amounts)}")
    values = np.asarray(curves.change, dtype=np.float64)[matches[0]]
    kinds = curves.kinds
    colours = [_POOL_COLOUR if p else _CONV_COLOUR if "Conv" in k else _OTHER_COLOUR
               for p, k in zip(curves.pooling, kinds, strict=True)]
    fig = go.Figure(go.Bar(
        x=list(curves.layers), y=values, marker_color=colours, customdata=list(kinds),
        text=[f"{v:.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="<b>%{x}</b> (%{customdata})<br>change %{y:.3f}<extra></extra>"))
    measured = float(amounts[matches[0]])
    plural = "s" if curves.transform == "translate" and abs(measured) != 1 else ""
    words = _AMOUNT_WORDS.get(curves.transform, "amount {:g}{}").format(measured, plural)
    over = f", mean over {np.shape(curves.predictions)[1]} images" if np.ndim(curves.predictions) == 2 else ""
    fig.update_xaxes(type="category", title_text="layer in call order (red: pooling, dark blue: convolution)")
    fig.update_yaxes(title_text=_CHANGE_TITLE, rangemode="tozero", gridcolor="#eee")
    fig.update_layout(title=dict(text=f"Change of each layer's output after {words}{over}", font_size=13),
                      height=420, margin=dict(l=60, r=10, t=50, b=60), plot_bgcolor="white", showlegend=False)
    return fig
