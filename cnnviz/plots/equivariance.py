"""Figures of translation equivariance: one channel's maps side by side, and the error of every layer.

Convolution is translation *equivariant* (shift the image, the map shifts with it);
these figures show where that holds and where borders or strides break it. They
take the dataclasses of `cnnviz.analysis.equivariance` and need no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels, unique_labels

if TYPE_CHECKING:  # only for type hints: the figures need no torch
    from cnnviz.analysis.equivariance import EquivarianceView, LayerEquivariance

__all__ = ["EQUIVARIANCE_ERRORS_LABELS", "EQUIVARIANCE_VIEW_LABELS", "plot_equivariance_errors",
           "plot_equivariance_view"]

# The words of each figure (str.format templates), in English; `labels` give another language's.
EQUIVARIANCE_VIEW_LABELS = {
    "f_x": "f(x)",
    "f_shifted_x": "f(shift x)",
    "shifted_f_x": "shift f(x)",
    "difference": "difference",
    "hover": "row {row}, col {col}",
    "activation": "activation",
    "difference_bar": "f(shift x) −<br>shift f(x)",
    "region": "compared region (no border reaches it)",
    "exactly_zero": "exactly 0",
    "about_zero": "≈ 0 everywhere<br>(largest |difference| {largest:.1e})",
    "title": "{layer}, channel {channel}",
    "exact": "map shift {shift} units: exact, the image shift is a multiple of the jump",
    "inexact": ("map shift {shift} units: not exact, only the nearest whole shift "
                "(the image shift is not a multiple of the jump)"),
}
EQUIVARIANCE_ERRORS_LABELS = {
    "exact": "shift is a multiple of the jump",
    "inexact": "not a multiple: nearest map shift",
    "none": "no unit compared",
    "jump": "jump {rows}×{cols} input pixels between units",
    "map_shift": "shift / jump = {shift} units",
    "nearest": "compared after the nearest whole shift {shift}",
    "no_unit": "no unit is far enough from the borders to compare",
    "rounding": "relative error {error:.2g} (≈0: float rounding)",
    "error": "relative error {error:.3g}",
    "compared": "{compared} units per channel compared",
    "x": "layer",
    "y": "relative error<br>‖f(shift x) − shift f(x)‖ / ‖shift f(x)‖",
}
# Relative errors below this are float rounding: drawn at this value and labelled "≈0".
ZERO_FLOOR = 1e-7
# The difference's colour range is at least this share of the maps' largest |value|, so float
# noise of an exactly equivariant layer stays white instead of filling the whole colour scale.
_DIFFERENCE_FLOOR = 1e-3
# A linear axis whose largest error is below this shows 0..1: it is all float rounding.
_ROUNDING = 1e-5
_EXACT_COLOUR, _INEXACT_COLOUR, _NONE_COLOUR, _REGION_COLOUR = "#2ca02c", "#d62728", "#7f7f7f", "#e4002b"


def _pair(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def _finite_range(*maps: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in maps])
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (low - 0.5, high + 0.5) if low == high else (low, high)  # a constant map: still a valid range


def _region_box(region: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the compared units, or None when all or none are compared."""
    if region.all() or not region.any():
        return None
    rows, cols = np.nonzero(region)
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


def _zero_note(difference: np.ndarray, bound_floor: float, exactly: str, about: str) -> str | None:
    """The words for a difference panel that would look blank: all exactly 0, or all below the colour floor."""
    finite = np.abs(difference[np.isfinite(difference)])
    if not finite.size:
        return None
    largest = float(finite.max())
    if largest == 0.0:
        return exactly
    if largest < bound_floor:
        return about.format(largest=largest)
    return None


def plot_equivariance_view(view: EquivarianceView, *, labels: Mapping[str, str] | None = None) -> go.Figure:
    """f(x), f(shift x), shift f(x) and their difference for one channel, as four heatmaps in a row.

    The first three share one colour scale (a horizontal colour bar below them), so
    "f(shift x)" and "shift f(x)" can be compared by eye. The difference f(shift x) -
    shift f(x) covers the whole map, borders included, on its own diverging scale,
    symmetric around 0 (white = equal); its range is at least 1/1000 of the maps'
    largest |value|, so float rounding looks white. A dashed box (legend entry
    "region") frames the compared units (`view.compared`, the ones no border
    reaches, on which the reported error is measured) on the last three panels, so an
    error along the edges shows outside it; no box when every unit is compared. A
    difference that is all exactly 0 carries the words "exactly_zero" over its panel,
    one that is all float rounding "about_zero" (formatted with `largest`), so a
    uniform panel does not look like a failed render. The title names the layer and
    channel; its subtitle (`layout.title.subtitle`) says the map shift and whether it
    is exact. `labels` over EQUIVARIANCE_VIEW_LABELS give its words in another language.
    """
    words = chosen_labels(EQUIVARIANCE_VIEW_LABELS, labels)
    titles = [words[key] for key in ("f_x", "f_shifted_x", "shifted_f_x", "difference")]
    maps = [np.asarray(m, dtype=np.float64) for m in (view.f_x, view.f_shifted_x, view.shifted_f_x)]
    difference = np.asarray(view.difference, dtype=np.float64)
    for m in (*maps, difference):
        if m.ndim != 2:
            raise ValueError(f"the view's maps must be (H, W), not shape {m.shape}")
    low, high = _finite_range(*maps)
    finite = np.abs(difference[np.isfinite(difference)])
    floor = _DIFFERENCE_FLOOR * max(abs(low), abs(high))
    bound = max(float(finite.max()) if finite.size else 0.0, floor)
    bound = bound if bound > 0 else 1.0

    fig = make_subplots(rows=1, cols=4, subplot_titles=tuple(titles), horizontal_spacing=0.04)

    def hover(panel: str) -> str:
        return words["hover"].format(row="%{y}", col="%{x}") + "<br>%{z:.4g}<extra>" + panel + "</extra>"

    for i, (title, values) in enumerate(zip(titles[:3], maps, strict=True)):
        fig.add_trace(go.Heatmap(
            z=values, colorscale="Viridis", zmin=low, zmax=high, showscale=i == 0,
            colorbar=dict(orientation="h", x=0.37, xanchor="center", len=0.7, y=-0.08, yanchor="top",
                          thickness=10, title=dict(text=words["activation"], side="top")),
            hovertemplate=hover(title)), row=1, col=i + 1)
    fig.add_trace(go.Heatmap(
        z=difference, colorscale="RdBu", zmid=0.0, zmin=-bound, zmax=bound, hoverongaps=False,
        colorbar=dict(x=1.0, xanchor="left", len=0.9, thickness=10, tickformat=".2~g",
                      title=dict(text=words["difference_bar"])),
        hovertemplate=hover(titles[3])), row=1, col=4)

    box = _region_box(view.compared_region)
    if box is not None:
        top, left, bottom, right = box
        for col in (2, 3, 4):
            # Pixel (r, c) covers r - 0.5 .. r + 0.5: the box follows the compared units' outer edges.
            fig.add_shape(type="rect", x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                          line=dict(color=_REGION_COLOUR, width=1.5, dash="dash"), row=1, col=col,
                          name=words["region"], showlegend=col == 2, legendgroup="region")
    note = _zero_note(difference, floor, words["exactly_zero"], words["about_zero"])
    if note is not None:
        # Over the panel's centre: a uniform white-grey square otherwise looks like a failed render.
        fig.add_annotation(text=f"<b>{note}</b>", x=0.5, y=0.5, xref="x4 domain", yref="y4 domain",
                           showarrow=False, font=dict(size=13, color="#333"), bgcolor="rgba(255,255,255,0.85)",
                           name="zero note")
    height, width = maps[0].shape
    for i in range(1, 5):
        # Row 0 at the top and square pixels, each panel's y axis tied to its own x axis.
        fig.update_xaxes(range=[-0.5, width - 0.5], constrain="domain", showgrid=False, zeroline=False,
                         row=1, col=i)
        fig.update_yaxes(range=[height - 0.5, -0.5], scaleanchor=f"x{'' if i == 1 else i}", constrain="domain",
                         showgrid=False, zeroline=False, showticklabels=i == 1, row=1, col=i)

    note = words["exact" if view.exact else "inexact"].format(shift=_pair(view.map_shift))
    fig.update_layout(
        title=dict(text=words["title"].format(layer=view.layer, channel=view.channel), font_size=14, y=0.97,
                   yanchor="top", subtitle=dict(text=note, font_size=12)),
        height=400, margin=dict(l=40, r=70, t=100, b=70), plot_bgcolor="white",
        # Bottom right, beside the activation colour bar, clear of the panel titles.
        legend=dict(orientation="h", x=1.0, xanchor="right", y=-0.1, yanchor="top", font_size=11))
    return fig


def _hover(layer: LayerEquivariance, words: Mapping[str, str]) -> str:
    lines = [f"<b>{layer.name}</b>", words["jump"].format(rows=layer.jump[0], cols=layer.jump[1]),
             words["map_shift"].format(shift=_pair(layer.map_shift))]
    if not layer.exact:
        lines.append(words["nearest"].format(shift=_pair(layer.applied_shift)))
    if math.isnan(layer.error):
        lines.append(words["no_unit"])
    elif layer.error < ZERO_FLOOR:
        lines.append(words["rounding"].format(error=layer.error))
    else:
        lines.append(words["error"].format(error=layer.error))
    lines.append(words["compared"].format(compared=layer.compared))
    return "<br>".join(lines)


def plot_equivariance_errors(layers: Sequence[LayerEquivariance], *,
                             labels: Mapping[str, str] | None = None) -> go.Figure:
    """The relative error ||f(shift x) - shift f(x)|| / ||shift f(x)|| of every layer, in order.

    Green circles: the image shift is a multiple of the layer's jump, so the map can
    move by whole units (expect ≈0 away from the borders). Red diamonds: it is not,
    and the map was compared after the nearest whole shift (expect a clear error).
    Errors below 1e-7 are float rounding: drawn at 1e-7 and labelled "≈0". The y axis
    is logarithmic when the errors span more than two decades. Layers with no unit to
    compare are grey crosses at the bottom. Hover gives jump and map shift. `labels` over
    EQUIVARIANCE_ERRORS_LABELS give its words in another language.
    """
    words = chosen_labels(EQUIVARIANCE_ERRORS_LABELS, labels)
    names = unique_labels([layer.name for layer in layers])
    shown = [max(layer.error, ZERO_FLOOR) if math.isfinite(layer.error) else math.nan for layer in layers]
    finite = [v for v in shown if math.isfinite(v)]
    log = bool(finite) and max(finite) / min(finite) > 100
    bottom = min(finite) if log else 0.0  # where layers with nothing compared are drawn

    fig = go.Figure()
    groups = (("exact", _EXACT_COLOUR, "circle", lambda e: e.exact and not math.isnan(e.error)),
              ("inexact", _INEXACT_COLOUR, "diamond", lambda e: not e.exact and not math.isnan(e.error)),
              ("none", _NONE_COLOUR, "x", lambda e: math.isnan(e.error)))
    for group, colour, symbol, member in groups:
        index = [i for i, layer in enumerate(layers) if member(layer)]
        if not index:
            continue
        fig.add_trace(go.Scatter(
            x=[names[i] for i in index], y=[bottom if group == "none" else shown[i] for i in index],
            mode="markers+text", name=words[group], marker=dict(color=colour, symbol=symbol, size=11),
            text=["≈0" if layers[i].error < ZERO_FLOOR else "" for i in index], textposition="top center",
            textfont=dict(size=10, color=colour), hovertext=[_hover(layers[i], words) for i in index],
            hoverinfo="text", cliponaxis=False))
    # Two traces share the axis: the category order is fixed to the layers' order.
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=names, title_text=words["x"],
                     tickangle=-45, automargin=True)
    fig.update_yaxes(type="log" if log else "linear", exponentformat="power", automargin=True,
                     title_text=words["y"])
    if not log:
        # Linear: from 0; errors that are all float rounding sit at the bottom of a 0..1 axis
        # instead of being blown up to fill it.
        top = max(finite, default=0.0)
        fig.update_yaxes(range=[0, 1.0 if top <= _ROUNDING else top * 1.15])
    fig.update_layout(height=400, margin=dict(l=70, r=20, t=30, b=40), hovermode="closest", showlegend=True,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, font_size=11),
                      plot_bgcolor="white")
    fig.update_yaxes(showgrid=True, gridcolor="#e5e5e5")
    return fig
