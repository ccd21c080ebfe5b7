"""Figures of a training replay: one epoch's filters, feature maps, and weight and gradient histograms.

Colour scales and axes are computed over every snapshot of the replay (`TrainingReplay.filter_bound`,
`map_range`, `histogram_axes`), so moving from one epoch to the next shows what changed, not a new
scale. The filters and maps are `plot_filters` and `plot_feature_maps` with those scales. Each figure
takes `labels` over its `<NAME>_LABELS` (English defaults) for its words, and the filters and maps take
the words of the figure they reuse too (`filters_labels`, `maps_labels`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from cnnviz.plots._common import chosen_labels
from cnnviz.plots.features import plot_feature_maps, plot_filters
from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # figures need no torch at run time
    from cnnviz.analysis.replay import TrainingReplay

# The figures' words (str.format templates). {when} in a title is "start" (epoch 0) or "epoch".
REPLAY_FILTERS_LABELS = {
    "title": "{layer} {when}: {shape}",
    "start": "before training",
    "epoch": "after epoch {epoch}",
}
REPLAY_FEATURE_MAPS_LABELS = {
    "title": "{layer} {when}: maps of test image #{index}, one colour scale for every epoch",
    "subset": "first {shown} of {total} channels",
    "blocks": "means of {block}×{block} blocks",
    "notes": "{title} ({notes})",
    "separator": "; ",
    "start": "before training",
    "epoch": "after epoch {epoch}",
}
REPLAY_HISTOGRAMS_LABELS = {
    "weights": "weights",
    "gradients": "gradients of the loss on {probe} test images",
    "hover": "value {value}<br>share {share}",
    "title": "Weights and gradients per layer {when} (share of each layer's values, log scale)",
    "start": "before training",
    "epoch": "after epoch {epoch}",
}


def _when(epoch: int, words: Mapping[str, str]) -> str:
    return words["start"] if epoch == 0 else words["epoch"].format(epoch=epoch)


def plot_replay_filters(replay: TrainingReplay, epoch: int, *, labels: Mapping[str, str] | None = None,
                        filters_labels: Mapping[str, str] | None = None) -> go.Figure:
    """The first convolution's filters after `epoch` epochs (`plot_filters`), on one colour scale for every
    epoch: ±the largest |weight| of any snapshot. `labels` over REPLAY_FILTERS_LABELS give its words (its
    title's {shape} is plot_filters' own title, e.g. "6 filters of 1×5×5"), `filters_labels` plot_filters'."""
    words = chosen_labels(REPLAY_FILTERS_LABELS, labels)
    fig = plot_filters(replay.snapshot(epoch).filters, labels=filters_labels)
    bound = replay.filter_bound()
    fig.update_traces(zmin=-bound, zmax=bound)
    fig.update_layout(title_text=words["title"].format(layer=as_plotly_text(replay.filter_layer, limit=40),
                                                       when=_when(epoch, words), shape=fig.layout.title.text))
    return fig


def plot_replay_feature_maps(replay: TrainingReplay, epoch: int, layer: str | None = None, *,
                             labels: Mapping[str, str] | None = None,
                             maps_labels: Mapping[str, str] | None = None) -> go.Figure:
    """The fixed test image's feature maps at `layer` (default: the first kept) after `epoch` epochs
    (`plot_feature_maps`), on one colour scale over every snapshot. `labels` over REPLAY_FEATURE_MAPS_LABELS
    give its words ("subset" and "blocks" are added to the title when the replay kept fewer channels or block
    means of large maps), `maps_labels` plot_feature_maps'."""
    words = chosen_labels(REPLAY_FEATURE_MAPS_LABELS, labels)
    layer = replay.map_layers[0] if layer is None else layer
    low, high = replay.map_range(layer)
    maps = replay.snapshot(epoch).maps[layer].astype(np.float32)
    fig = plot_feature_maps(maps, scale="layer", labels=maps_labels)
    fig.update_traces(zmin=low, zmax=high)
    total, full_height, _ = replay.map_shapes[replay.map_layers.index(layer)]
    text = words["title"].format(layer=as_plotly_text(layer, limit=40), when=_when(epoch, words),
                                 index=replay.image_index)
    notes = [words["subset"].format(shown=len(maps), total=total) if len(maps) < total else "",
             words["blocks"].format(block=-(-full_height // maps.shape[1])) if maps.shape[1] < full_height else ""]
    if any(notes):
        text = words["notes"].format(title=text, notes=words["separator"].join(note for note in notes if note))
    fig.update_layout(title_text=text)
    return fig


def plot_replay_histograms(replay: TrainingReplay, epoch: int, *,
                           labels: Mapping[str, str] | None = None) -> go.Figure:
    """A row per layer: the histogram of its weights (left) and of its gradient (right) after `epoch` epochs.

    Bars are the share of the layer's values in each bin, on a log axis, so conv1's 150 weights
    show as well as fc1's 48,000 and the tails do too. Each row's axes span every snapshot of the
    replay (x: the union of the bins' ranges; y: the smallest to the largest share), so bars move
    and change between epochs while the axes stay. `labels` over REPLAY_HISTOGRAMS_LABELS give its words.
    """
    words = chosen_labels(REPLAY_HISTOGRAMS_LABELS, labels)
    hover = words["hover"].format(value="%{x:.3g}", share="%{y:.2%}") + "<extra></extra>"
    snapshot = replay.snapshot(epoch)
    layers = replay.histogram_layers
    rows = max(len(layers), 1)
    # Subplots laid out by hand: make_subplots alone took 0.11 s, a slider step's whole budget.
    gap = min(0.06, 0.4 / rows)
    height = (1 - gap * (rows - 1)) / rows
    columns = ((0.0, 0.45), (0.55, 1.0))
    parts = (("weights", snapshot.weight_counts, snapshot.weight_ranges, "#1f77b4"),
             ("gradients", snapshot.gradient_counts, snapshot.gradient_ranges, "#ff7f0e"))
    traces: list[go.Bar] = []
    layout: dict[str, object] = {}
    for col, (kind, counts, ranges, colour) in enumerate(parts):
        x_axes, y_axes = replay.histogram_axes(kind)
        for i, name in enumerate(layers):
            number = 2 * i + col + 1
            suffix = "" if number == 1 else str(number)
            low, high = (float(v) for v in ranges[i])
            width = (high - low) / counts.shape[1]
            share = counts[i] / max(int(counts[i].sum()), 1)
            traces.append(go.Bar(
                x=low + width * (np.arange(counts.shape[1]) + 0.5), y=np.where(share > 0, share, np.nan),
                width=width, marker_color=colour, marker_line_width=0, showlegend=False, name=f"{name} {kind}",
                xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                hovertemplate=hover))
            x_low, x_high = (float(v) for v in x_axes[i])
            margin = 0.02 * (x_high - x_low)
            smallest, largest = (float(v) for v in y_axes[i])
            top = 1 - i * (height + gap)
            layout[f"xaxis{suffix}"] = dict(
                domain=columns[col], anchor=f"y{suffix}", range=[x_low - margin, x_high + margin], tickfont_size=9,
                exponentformat="e" if max(abs(x_low), abs(x_high)) < 1e-2 else "none")
            layout[f"yaxis{suffix}"] = dict(
                domain=[top - height, top], anchor=f"x{suffix}", type="log", dtick=1,  # decades: readable ticks
                range=[math.log10(smallest) - 0.15, math.log10(largest) + 0.1], tickfont_size=9, exponentformat="power",
                title=dict(text=as_plotly_text(name, limit=30), font_size=11) if col == 0 else None)
    titles = (words["weights"], words["gradients"].format(probe=replay.probe_size))
    layout.update(
        height=90 + 120 * rows, bargap=0, margin=dict(l=60, r=20, t=80, b=30),
        title=dict(text=words["title"].format(when=_when(epoch, words)), font_size=13),
        annotations=[dict(text=text, x=sum(columns[i]) / 2, y=1, xref="paper", yref="paper", yanchor="bottom",
                          showarrow=False, font_size=12) for i, text in enumerate(titles)])
    # The layout given whole to the constructor: update_layout on a built figure took 0.25 s here.
    fig = go.Figure(traces, layout)
    return fig
