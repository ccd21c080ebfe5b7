"""Figures of pooling: one map before and after, and how much each layer's output changes under a transform.

`plot_pooling` draws a map and its pooled output side by side on one colour scale;
for max pooling it marks the value that won each window. `plot_invariance_curves`
and `plot_layer_change` draw an `InvarianceCurves`: the relative change of every
layer's output as the input is shifted, rotated or scaled, where a pooling layer
that lowers the change relative to the layer before it shows the (approximate)
invariance that pooling buys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels

if TYPE_CHECKING:  # only for type hints: the figures need no torch
    from cnnviz.analysis.invariance import InvarianceCurves
    from cnnviz.analysis.pooling import PoolResult

_WINNER_COLOUR, _WINDOW_COLOUR = "#e4002b", "#ff7f0e"
# Pooling layers: one strong colour each (pool1 and pool2 must not look alike); the rest grey.
_KEY_COLOURS = ("#d62728", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
_LAYER_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf")
_OTHER_LINE, _OTHER_BAR = "#9a9a9a", "#c7c7c7"
_SAME_COLOUR, _PROBABILITY_COLOUR = "#2ca02c", "#333333"
_CHANGE_TITLE = "relative change ‖f(Tx) − f(x)‖ / ‖f(x)‖"
_AXIS_TITLES = {"translate": "shift to the right (pixels)", "rotate": "rotation, counter-clockwise (degrees)",
                "scale": "scale factor (1 = unchanged)", "amount": "amount"}
# The words of each figure (str.format templates), in English; `labels` give another language's.
POOLING_LABELS = {
    "input_title": "input {height}×{width}",
    "max": "max pool", "avg": "average pool", "blur": "blur pool",
    "pool_title": "{kind} k={kernel} s={stride} → {size}",
    "subsample_title": "subsample s={stride} → {size}",
    # Two lines: the half-width panel title must not run into the input's.
    "maxblur_title": "max-blur pool k={kernel} s={stride} → {size}<br>(max with stride 1, then blur {blur})",
    "tie_note": "{ties:,} of {windows:,} windows tied (no dot)",
    "too_many": "{windows:,} windows: too many to mark (hover the output)",
    "input_hover": "input row {row}, col {col}<br>value {value}",
    "output_hover": "output row {row}, col {col}<br>value {value}",
    "from_hover": "from input row {row}, col {col}",
    "tie": "tie: several equal maxima, no single winner",
    "window": "one {kernel}×{kernel} window",
    "winner": "winner of a window",
    "winner_hover": "window ({window_row}, {window_col}) won by<br>input row {row}, col {col}<br>value {value}",
    "kept": "kept value",
    "kept_hover": "kept: input row {row}, col {col}",
    "value": "value",
}
INVARIANCE_CURVES_LABELS = {
    "input": "{layer} (input of {pooled})",
    "others": "other layers (grey; hover for names)",
    "change": "change of each layer's output",
    "change_mean": "change of each layer's output (mean over {images} images)",
    "stability": "prediction stability",
    "hover": "amount {amount}<br>change {change}",
    "same_batch": "images with the same prediction",
    "same_one": "same prediction (1 = yes)",
    "same_hover": "amount {amount}<br>{share} unchanged",
    "same_hover_one": "amount {amount}<br>{same}",
    "probability": "probability of the original class",
    "probability_hover": "amount {amount}<br>probability {probability}",
    **_AXIS_TITLES,
    "y": _CHANGE_TITLE,
    "y_right": "fraction / probability",
}
LAYER_CHANGE_LABELS = {
    "x": "layer in call order (coloured: each pooling layer; paler: the layer before it)",
    "y": _CHANGE_TITLE,
    "hover": "change {change}",
    "title": "Change of each layer's output after {amount}",
    "title_mean": "Change of each layer's output after {amount}, mean over {images} images",
    "translate_one": "a shift of {amount:g} pixel",
    "translate": "a shift of {amount:g} pixels",
    "rotate": "a rotation of {amount:g}°",
    "scale": "scale {amount:g}×",
    "amount": "amount {amount:g}",
}


def _pool_title(result: PoolResult, out_hw: tuple[int, int], words: Mapping[str, str]) -> str:
    size = f"{out_hw[0]}×{out_hw[1]}"
    if result.kind == "subsample":
        return words["subsample_title"].format(stride=result.stride, size=size)
    if result.kind == "maxblur":
        return words["maxblur_title"].format(kernel=result.kernel, stride=result.stride, size=size,
                                             blur=result.blur_size)
    kind = words[result.kind] if result.kind in ("max", "avg", "blur") else result.kind
    return words["pool_title"].format(kind=kind, kernel=result.kernel, stride=result.stride, size=size)


def _grid_lines(starts: Sequence[int], kernel: int, extent: tuple[float, float]) -> tuple[list, list]:
    """Vertical segments (x, y with None between) at each window start and at the end of the last window."""
    edges = sorted({s - 0.5 for s in starts} | {starts[-1] + kernel - 0.5})
    xs: list[float | None] = []
    ys: list[float | None] = []
    for edge in edges:
        xs += [edge, edge, None]
        ys += [extent[0], extent[1], None]
    return xs, ys


# Past this many windows (a 32x32 output) a marker per window covers the whole map (a 224x224 photo pooled
# 2x2 has 12,544 windows): markers and grid lines are left out, and the title says so.
MAX_MARKED_WINDOWS = 1024


def plot_pooling(feature_map: np.ndarray, result: PoolResult, *, channel: int = 0,
                 labels: Mapping[str, str] | None = None) -> go.Figure:
    """A map (H, W) (or channel `channel` of maps (C, H, W)) and its pooled output side by side.

    Both panels share one colour scale, so a value keeps its colour; hover shows row,
    column and value. The input panel carries the window grid, lightly: lines at the
    start of every window and at the end of the last one (for kernel = stride these
    split the map into its windows; rows and columns beyond the last line are never
    pooled). When windows overlap or leave gaps (kernel ≠ stride), the first window is
    outlined too, to show its size. For max pooling a marker on each window's winner
    (at `result.winners[channel]`) shows which value passed on, except on windows
    that are ties (`result.tied`: several equal maxima, e.g. all zero after a ReLU),
    which have no single winner and get no marker; the output panel's title then adds
    the "tie_note" (formatted with `ties` and `windows`) and its hover says "tie". For
    "subsample" markers show the values kept. With more than `MAX_MARKED_WINDOWS` windows
    neither markers nor grid lines are drawn (they would cover the map); the title says so,
    and the output's hover still names each window's winner. `labels` over POOLING_LABELS
    give its words in another language.
    """
    words = chosen_labels(POOLING_LABELS, labels)
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

    tied = (np.asarray(result.tied[channel], dtype=bool) if result.tied is not None
            else np.zeros((out_h, out_w), dtype=bool))
    pool_title = _pool_title(result, (out_h, out_w), words)
    if tied.any():
        pool_title += "<br>" + words["tie_note"].format(ties=int(tied.sum()), windows=tied.size)
    marked = out_h * out_w <= MAX_MARKED_WINDOWS
    if not marked:
        pool_title += "<br>" + words["too_many"].format(windows=out_h * out_w)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(words["input_title"].format(height=height, width=width), pool_title))
    cell = dict(row="%{y}", col="%{x}", value="%{z:.4g}")
    fig.add_trace(go.Heatmap(
        z=image, coloraxis="coloraxis", name="input",
        hovertemplate=words["input_hover"].format(**cell) + "<extra></extra>"), row=1, col=1)
    pooled_hover = words["output_hover"].format(**cell)
    customdata = None
    if result.winners is not None:
        # Columns: winner row, winner col, and the words for it (a tie has no single winner).
        where = np.asarray(result.winners[channel])
        tie_words = np.where(tied, words["tie"], "")
        customdata = np.concatenate([where.astype(object), tie_words[..., None].astype(object)], axis=-1)
        pooled_hover += ("<br>" + words["from_hover"].format(row="%{customdata[0]}", col="%{customdata[1]}")
                         + "<br>%{customdata[2]}")
    fig.add_trace(go.Heatmap(z=pooled, coloraxis="coloraxis", name="output", customdata=customdata,
                             hovertemplate=pooled_hover + "<extra></extra>"), row=1, col=2)

    kernel, stride = result.kernel, result.stride
    if result.kind in ("max", "avg") and marked:
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
                                     mode="lines", name=words["window"].format(kernel=kernel), hoverinfo="skip",
                                     line=dict(color=_WINDOW_COLOUR, width=2, dash="dot")), row=1, col=1)

    # Markers about half a pixel across, from large on an 8x8 map to small on a 64x64 one.
    marker_size = float(np.clip(200 / max(height, width), 4, 14))
    if result.winners is not None and marked:
        single = ~tied.reshape(-1)
        winners = np.asarray(result.winners[channel]).reshape(-1, 2)[single]
        windows = np.stack(np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij"),
                           axis=-1).reshape(-1, 2)[single]
        fig.add_trace(go.Scatter(
            x=winners[:, 1], y=winners[:, 0], mode="markers", name=words["winner"],
            customdata=np.concatenate([windows, pooled.reshape(-1, 1)[single]], axis=1),
            marker=dict(symbol="circle-open", size=marker_size, color=_WINNER_COLOUR, line=dict(width=2)),
            hovertemplate=words["winner_hover"].format(
                window_row="%{customdata[0]}", window_col="%{customdata[1]}", row="%{y}", col="%{x}",
                value="%{customdata[2]:.4g}") + "<extra></extra>"), row=1, col=1)
    elif result.kind == "subsample" and marked:
        rows, cols = np.meshgrid(np.arange(0, height, stride), np.arange(0, width, stride), indexing="ij")
        fig.add_trace(go.Scatter(
            x=cols.ravel(), y=rows.ravel(), mode="markers", name=words["kept"],
            marker=dict(symbol="circle-open", size=marker_size, color=_WINNER_COLOUR, line=dict(width=2)),
            hovertemplate=words["kept_hover"].format(row="%{y}", col="%{x}") + "<extra></extra>"), row=1, col=1)

    for col, (h, w) in ((1, (height, width)), (2, (out_h, out_w))):
        # Whole-number ticks only (pixel indices), about 8 per axis.
        ticks = dict(tickmode="linear", tick0=0, showgrid=False, zeroline=False, constrain="domain")
        fig.update_xaxes(range=[-0.5, w - 0.5], dtick=max(1, -(-w // 8)), row=1, col=col, **ticks)
        fig.update_yaxes(range=[h - 0.5, -0.5], dtick=max(1, -(-h // 8)), scaleanchor="x" if col == 1 else "x2",
                         row=1, col=col, **ticks)
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=low, cmax=high,
                                     colorbar=dict(title=dict(text=words["value"]), thickness=12)),
                      height=480, plot_bgcolor="white", margin=dict(l=10, r=10, t=50, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.08, x=0))
    return fig


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


@dataclass(frozen=True)
class _Role:
    """How one layer is drawn: a key layer (pooling), the input of one (same colour, paler), or other."""

    role: str            # "key", "input" or "other"
    colour: str
    partner: str | None  # for "input": the key layer it feeds


def _roles(layers: Sequence[str], key: Sequence[bool]) -> list[_Role]:
    """Each key layer its own colour, the layer just before it the same colour; the rest grey.

    Without any key layer every layer gets its own colour, so lines still differ.
    """
    if not any(key):
        return [_Role("key", _LAYER_COLOURS[i % len(_LAYER_COLOURS)], None) for i in range(len(layers))]
    roles = [_Role("other", _OTHER_LINE, None) for _ in layers]
    for number, index in enumerate(i for i, k in enumerate(key) if k):
        colour = _KEY_COLOURS[number % len(_KEY_COLOURS)]
        roles[index] = _Role("key", colour, None)
        if index > 0 and not key[index - 1]:
            roles[index - 1] = _Role("input", colour, layers[index])
    return roles


def _check_highlight(curves: InvarianceCurves, highlight: Sequence[str]) -> set[str]:
    unknown = [name for name in highlight if name not in curves.layers]
    if unknown:
        raise ValueError(f"Unknown layer {', '.join(map(repr, unknown))}; the layers are: {', '.join(curves.layers)}")
    return set(highlight)


def plot_invariance_curves(curves: InvarianceCurves, *, highlight: Sequence[str] = (),
                           labels: Mapping[str, str] | None = None) -> go.Figure:
    """Left: each layer's relative change against the amount; right: whether the prediction survives.

    One line per layer, in layer order. The key layers (those named in `highlight`,
    or the pooling layers when it is empty) each get a colour of their own, solid and
    thick; the layer just before each (its input, the comparison that shows what the
    pooling buys) gets the same colour, dashed, and the legend name "input"
    (formatted with `layer` and `pooled`, e.g. "relu1 (input of pool1)"). All other
    layers are thin grey lines, secondary, under one legend entry "others" that
    shows or hides them together (hover names each). A model without key layers gets
    one colour per layer instead. The right panel shows the fraction of images whose
    predicted class is unchanged (for one image: 1 or 0) and the mean probability of
    the originally predicted class. Raises ValueError for a highlighted name that is
    not a layer. `labels` over INVARIANCE_CURVES_LABELS give its words in another language.
    """
    words = chosen_labels(INVARIANCE_CURVES_LABELS, labels)
    emphasised = _check_highlight(curves, highlight)
    amounts = np.asarray(curves.amounts, dtype=np.float64)
    change = np.asarray(curves.change, dtype=np.float64)
    pooling = curves.pooling
    key = [name in emphasised for name in curves.layers] if emphasised else [bool(p) for p in pooling]
    roles = _roles(curves.layers, key)
    batch = np.ndim(curves.predictions) == 2
    change_title = (words["change_mean"].format(images=np.shape(curves.predictions)[1]) if batch
                    else words["change"])
    fig = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35], horizontal_spacing=0.1,
                        subplot_titles=(change_title, words["stability"]))
    # Grey lines first, so the coloured ones are drawn over them; the legend keeps layer order.
    order = sorted(range(len(curves.layers)), key=lambda i: roles[i].role != "other")
    others_shown = False
    line: dict[str, object]
    legend: dict[str, object]
    for index in order:
        name, kind, role = curves.layers[index], curves.kinds[index], roles[index]
        if role.role == "key":
            line, legend = dict(color=role.colour, width=4.0, dash="solid"), dict(name=name)
        elif role.role == "input":
            line = dict(color=role.colour, width=2.5, dash="dash")
            legend = dict(name=words["input"].format(layer=name, pooled=role.partner))
        else:
            line = dict(color=role.colour, width=1.2, dash="solid")
            legend = dict(name=words["others"], legendgroup="others", showlegend=not others_shown)
            others_shown = True
        fig.add_trace(go.Scatter(
            x=amounts, y=change[:, index], mode="lines+markers", legendrank=1000 + index,
            opacity=0.6 if role.role == "other" else 1.0, line=line,
            marker=dict(size=6 if role.role == "key" else 4 if role.role == "input" else 2),
            hovertemplate=f"<b>{name}</b> ({kind})<br>" + words["hover"].format(amount="%{x:g}", change="%{y:.3f}")
            + "<extra></extra>",
            meta=name, **legend), row=1, col=1)
    same_hover = (words["same_hover"].format(amount="%{x:g}", share="%{y:.0%}") if batch
                  else words["same_hover_one"].format(amount="%{x:g}", same="%{y:.0f}"))
    fig.add_trace(go.Scatter(
        x=amounts, y=np.asarray(curves.same_prediction, dtype=np.float64), mode="lines+markers",
        name=words["same_batch" if batch else "same_one"], line=dict(color=_SAME_COLOUR, width=2.5),
        legendrank=3000, hovertemplate=same_hover + "<extra></extra>"), row=1, col=2)
    fig.add_trace(go.Scatter(
        x=amounts, y=np.asarray(curves.original_probability, dtype=np.float64), mode="lines+markers",
        name=words["probability"], legendrank=3001,
        line=dict(color=_PROBABILITY_COLOUR, width=2.5, dash="dot"),
        hovertemplate=words["probability_hover"].format(amount="%{x:g}", probability="%{y:.1%}")
        + "<extra></extra>"), row=1, col=2)
    axis_title = words[curves.transform if curves.transform in _AXIS_TITLES else "amount"]
    fig.update_xaxes(title_text=axis_title, row=1, col=1)
    fig.update_xaxes(title_text=axis_title, row=1, col=2)
    fig.update_yaxes(title_text=words["y"], rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text=words["y_right"], range=[0, 1.05], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=480, margin=dict(l=60, r=10, t=50, b=50), plot_bgcolor="white",
                      legend=dict(groupclick="togglegroup"))  # one click shows or hides every grey line
    fig.update_xaxes(gridcolor="#eee", zeroline=False)
    fig.update_yaxes(gridcolor="#eee", zeroline=False)
    return fig


def plot_layer_change(curves: InvarianceCurves, amount: float, *,
                      labels: Mapping[str, str] | None = None) -> go.Figure:
    """Bars of each layer's relative change at one amount (one of `curves.amounts`), in layer order.

    Colours as in `plot_invariance_curves`: each pooling layer its own colour, the
    layer just before it the same colour, paler, every other layer grey, so the drop
    at each pooling layer, against the bar before it, reads pair by pair. `labels` over
    LAYER_CHANGE_LABELS give its words in another language. Raises ValueError for an
    amount that was not measured.
    """
    words = chosen_labels(LAYER_CHANGE_LABELS, labels)
    amounts = np.asarray(curves.amounts, dtype=np.float64)
    matches = np.flatnonzero(np.isclose(amounts, float(amount), rtol=1e-9, atol=1e-9))
    if not matches.size:
        raise ValueError(f"{amount!r} was not measured; the amounts are {', '.join(f'{a:g}' for a in amounts)}")
    values = np.asarray(curves.change, dtype=np.float64)[matches[0]]
    kinds = curves.kinds
    roles = _roles(curves.layers, [bool(p) for p in curves.pooling])
    colours = [_rgba(r.colour, 0.45) if r.role == "input" else _OTHER_BAR if r.role == "other" else r.colour
               for r in roles]
    fig = go.Figure(go.Bar(
        x=list(curves.layers), y=values, marker_color=colours, customdata=list(kinds),
        text=[f"{v:.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="<b>%{x}</b> (%{customdata})<br>" + words["hover"].format(change="%{y:.3f}")
        + "<extra></extra>"))
    measured = float(amounts[matches[0]])
    transform = curves.transform if curves.transform in _AXIS_TITLES else "amount"
    if transform == "translate" and abs(measured) == 1:
        transform = "translate_one"
    done = words[transform].format(amount=measured)
    title = (words["title_mean"].format(amount=done, images=np.shape(curves.predictions)[1])
             if np.ndim(curves.predictions) == 2 else words["title"].format(amount=done))
    fig.update_xaxes(type="category", title_text=words["x"])
    fig.update_yaxes(title_text=words["y"], rangemode="tozero", gridcolor="#eee")
    fig.update_layout(title=dict(text=title, font_size=13),
                      height=420, margin=dict(l=60, r=10, t=50, b=60), plot_bgcolor="white", showlegend=False)
    return fig
