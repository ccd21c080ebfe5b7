"""Figures of gradient flow: gradient norm per layer, loss curves of the degradation experiment, heatmaps.

`plot_gradient_norms` draws `GradientNorms` (and optionally `ActivationStats`) of
several nets layer by layer on a log scale; `plot_loss_curves` draws the training
loss of a `DegradationResult`'s runs (He et al. 2016, Figure 1);
`plot_gradient_heatmap` draws one `GradientTrace` as a layer x step picture of
log10 gradient norms that can be drawn while the run is still filling it in.
Each takes `labels` over its `<NAME>_LABELS` (English defaults) for its words in
another language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels

if TYPE_CHECKING:  # only for type hints: the figures need no torch
    from cnnviz.analysis.gradients import ActivationStats, GradientNorms, GradientTrace

_PLAIN_COLOUR, _RESIDUAL_COLOUR = "#d62728", "#1f77b4"
_SMOOTHING = 10  # steps in the running mean of a loss curve: one batch's loss is noisy
# The figures' words (str.format templates; a hover's {layer}, {value} ... are filled with plotly's %{...}).
GRADIENT_NORMS_LABELS = {
    "norms_title": "‖∂loss/∂W‖ of each layer's weights",
    "std_title": "standard deviation of each layer's input",
    "norms_hover": "{net}<br>layer {layer}: {name}<br>‖grad‖ = {value}",
    "std_hover": "{net}<br>layer {layer}: {name}<br>input std = {value}",
    "norms_y": "gradient norm",
    "std_y": "input std",
    "x": "layer (1 = first conv, last = fully connected)",
    "underflow": "gaps: the gradient underflowed to exactly 0 in {nets}",
}
LOSS_CURVES_LABELS = {
    "hover": "{net}<br>step {step}: loss {loss} (this batch {batch})",
    "x": "training step (mini-batch)",
    "y": "training loss",
}
GRADIENT_HEATMAP_LABELS = {
    "hover": "step {step}, layer {layer} ({name})<br>log10 ‖grad‖ = {value}",
    "x": "training step",
    "y": "layer",
    "colorbar": "‖grad‖",
}


def _colour(label: str) -> str:
    return _PLAIN_COLOUR if label.lower().startswith("plain") else _RESIDUAL_COLOUR


def _log_safe(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: zeros (float32 underflow) and non-finite values become NaN (a gap)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def _log_number(value: float, *, powers: bool) -> str:
    """A tick label that reads as a number: 0.05, 2, 300, or with `powers` 10⁻⁸ and 5·10⁻⁸."""
    if not powers:
        return f"{value:g}"
    exponent = int(np.floor(np.log10(value) + 1e-9))
    mantissa = round(value / 10.0 ** exponent)
    return f"{'' if mantissa == 1 else f'{mantissa}·'}10<sup>{exponent}</sup>"


def _log_ticks(values: list[np.ndarray]) -> dict:
    """Tick values and labels for a log axis over `values`: at least three labelled ticks, at most
    about eight, each written as a whole number (plotly's own labels put small "2" and "5" under
    each power of ten, which read as numbers of their own)."""
    finite = np.concatenate([_log_safe(v) for v in values] + [np.empty(0)])
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return {}
    low, high = finite.min(), finite.max()
    decades = np.arange(np.floor(np.log10(low)) - 1, np.ceil(np.log10(high)) + 2)
    chosen = np.empty(0)
    for mantissas in ((1,), (1, 3), (1, 2, 5), (1, 2, 3, 5, 7)):   # sparse to dense
        ticks = np.array([float(f"{m}e{int(d)}") for d in decades for m in mantissas])
        chosen = ticks
        if ((ticks >= low) & (ticks <= high)).sum() >= 3:
            break
    inside = ((chosen >= low) & (chosen <= high)).sum()
    if inside > 8:   # many decades: every second or third power of ten
        step = int(np.ceil(inside / 8))
        chosen = chosen[(np.round(np.log10(chosen)).astype(int) % step) == 0]
    shown = chosen[(chosen >= low) & (chosen <= high)]
    powers = bool(shown.size) and (shown.min() < 1e-3 or shown.max() >= 1e4)   # one notation per axis
    return {"tickmode": "array", "tickvals": chosen.tolist(),
            "ticktext": [_log_number(t, powers=powers) for t in chosen]}


def plot_gradient_norms(norms: Mapping[str, GradientNorms], stats: Mapping[str, ActivationStats] | None = None,
                        *, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Each net's gradient norm per weighted layer, input (left) to output (right), on a log scale.

    With `stats`, a second panel below shows the standard deviation of the input
    each layer sees, on a log scale too. Nets whose label starts with "plain" are
    red, the others blue. A norm of exactly 0 (the gradient underflowed) leaves a
    gap, and the figure says so. `labels` over GRADIENT_NORMS_LABELS give its words.
    """
    if not norms:
        raise ValueError("give the gradient norms of at least one net")
    words = chosen_labels(GRADIENT_NORMS_LABELS, labels)
    rows = 2 if stats else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=(words["norms_title"], words["std_title"])[:rows])
    underflow = []
    for label, result in norms.items():
        depth = np.arange(1, len(result.norms) + 1)
        fig.add_trace(go.Scatter(
            x=depth, y=_log_safe(result.norms), mode="lines+markers", name=label, legendgroup=label,
            line=dict(color=_colour(label)), marker=dict(size=5), customdata=np.array(result.layers),
            hovertemplate=_hover(words["norms_hover"], net=label)),
            row=1, col=1)
        if (result.norms == 0).any():
            underflow.append(label)
        if stats and label in stats:
            fig.add_trace(go.Scatter(
                x=depth, y=_log_safe(stats[label].std), mode="lines+markers", name=label, legendgroup=label,
                showlegend=False, line=dict(color=_colour(label), dash="dot"), marker=dict(size=5),
                customdata=np.array(stats[label].layers),
                hovertemplate=_hover(words["std_hover"], net=label)),
                row=2, col=1)
    fig.update_yaxes(type="log", title_text=words["norms_y"], **_log_ticks([r.norms for r in norms.values()]),
                     row=1, col=1)
    if rows == 2 and stats:
        fig.update_yaxes(type="log", title_text=words["std_y"], **_log_ticks([s.std for s in stats.values()]),
                         row=2, col=1)
    fig.update_xaxes(title_text=words["x"], row=rows, col=1)
    # Top down: the underflow note, the legend, the first panel's title; each on its own line, so
    # they cannot overlap however narrow the column is.
    top = 100 if underflow else 76
    if underflow:
        fig.add_annotation(text=words["underflow"].format(nets=", ".join(underflow)),
                           xref="paper", yref="paper", x=0, y=1.0, xanchor="left", yanchor="top",
                           yshift=top - 2, showarrow=False, font=dict(size=11, color="#555"))
    height = 326 + 220 * (rows - 1) + top - 76
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=top, b=40),
                      legend=dict(orientation="h", yref="container", y=1.0 - (top - 70) / height,
                                  yanchor="top", x=1, xanchor="right"))
    return fig


def _hover(template: str, **names: str) -> str:
    """A hover template from a figure's words: {net} as given, {layer}, {name}, {value}, {step}, ... as plotly's
    placeholders for the hovered point (x, customdata, y or z)."""
    points = {"layer": "%{x}", "name": "%{customdata}", "value": "%{y:.3g}", "step": "%{x}", "loss": "%{y:.3f}",
              "batch": "%{customdata:.3f}"}
    return template.format(**{**points, **names}) + "<extra></extra>"


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    cumulative = np.cumsum(np.insert(np.asarray(values, dtype=np.float64), 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


def plot_loss_curves(runs: Mapping[str, GradientTrace], *, total_steps: int | None = None,
                     labels: Mapping[str, str] | None = None) -> go.Figure:
    """Training loss per step of each run (a running mean over 10 steps), like He et al. 2016's Figure 1.

    Plain nets are red and dashed, residual nets blue and solid; the deeper of two
    nets is drawn with a thicker line. The x axis spans `total_steps`, so curves
    of runs still in progress grow into it. `labels` over LOSS_CURVES_LABELS give its words.
    """
    words = chosen_labels(LOSS_CURVES_LABELS, labels)
    depths = sorted({_depth(label) for label in runs})
    fig = go.Figure()
    for label, trace in runs.items():
        deep = len(depths) > 1 and _depth(label) == depths[-1]
        plain = label.lower().startswith("plain")
        steps = np.arange(1, trace.steps_done + 1)
        fig.add_trace(go.Scatter(
            x=steps, y=_running_mean(trace.losses, _SMOOTHING), mode="lines", name=label,
            line=dict(color=_colour(label), dash="dash" if plain else "solid", width=3.5 if deep else 1.5),
            customdata=trace.losses,
            hovertemplate=_hover(words["hover"], net=label)))
    last = total_steps or max((t.steps_done for t in runs.values()), default=1)
    fig.update_xaxes(title_text=words["x"], range=[0, last + 1])
    fig.update_yaxes(title_text=words["y"], rangemode="tozero")
    fig.update_layout(height=340, margin=dict(l=60, r=20, t=30, b=40),
                      legend=dict(orientation="h", y=1.1, x=1, xanchor="right"))
    return fig


def _depth(label: str) -> int:
    digits = "".join(ch for ch in label.rsplit("-", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


def plot_gradient_heatmap(trace: GradientTrace, *, title: str = "", total_steps: int | None = None,
                          zrange: tuple[float, float] | None = None,
                          labels: Mapping[str, str] | None = None) -> go.Figure:
    """log10 of every layer's gradient norm (rows, first layer on top) at every step (columns).

    `zrange` (in log10 units) puts several heatmaps on one colour scale; by default
    the range is this trace's own. Steps not trained yet stay blank up to `total_steps`.
    `labels` over GRADIENT_HEATMAP_LABELS give its words (`title` is the caller's).
    """
    words = chosen_labels(GRADIENT_HEATMAP_LABELS, labels)
    layers = len(trace.layers)
    values = np.log10(_log_safe(trace.norms)).T if trace.steps_done else np.full((layers, 0), np.nan)
    if zrange is None:
        finite = values[np.isfinite(values)]
        zrange = (float(finite.min()), float(finite.max())) if finite.size else (-3.0, 1.0)
    low, high = zrange if zrange[0] < zrange[1] else (zrange[0] - 1, zrange[0] + 1)
    ticks = np.arange(np.ceil(low), np.floor(high) + 1)
    tick_text = [f"1e{int(t)}" for t in ticks]
    if len(ticks) < 2:  # the range lies within about one decade: label its ends instead
        ticks = np.array([low, high])
        tick_text = [f"{10 ** t:.2g}" for t in ticks]
    fig = go.Figure(go.Heatmap(
        z=values, x=np.arange(1, trace.steps_done + 1), y=np.arange(1, layers + 1), zmin=low, zmax=high,
        colorscale="Viridis", customdata=np.repeat(np.array(trace.layers)[:, None], trace.steps_done, 1),
        colorbar=dict(title=dict(text=words["colorbar"], side="right"), tickvals=ticks,
                      ticktext=tick_text, thickness=12),
        hovertemplate=_hover(words["hover"], step="%{x}", layer="%{y}", value="%{z:.2f}")))
    fig.update_xaxes(title_text=words["x"], range=[0.5, (total_steps or max(trace.steps_done, 1)) + 0.5])
    fig.update_yaxes(title_text=words["y"], autorange="reversed")
    fig.update_layout(title=dict(text=title, x=0.01, font=dict(size=14)), height=320,
                      margin=dict(l=60, r=20, t=40 if title else 10, b=40))
    return fig
