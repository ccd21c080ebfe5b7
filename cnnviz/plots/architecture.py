"""A picture of a model: how the size of the data changes from layer to layer."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from cnnviz.plots._common import chosen_labels

if TYPE_CHECKING:  # figures need no torch at run time
    from cnnviz.analysis.summary import LayerSummary


_KIND_COLOURS = {"Conv2d": "#1f77b4", "MaxPool2d": "#ff7f0e", "AvgPool2d": "#ff7f0e",
                 "Linear": "#2ca02c", "BatchNorm2d": "#9467bd"}
_SHOWN = set(_KIND_COLOURS)
ARCHITECTURE_LABELS = {
    "input": "input",
    "hover": "{name} ({kind})<br>output {shape}<br>{params:,} parameters",
    "y": "values per example",
    "x": "layer (blue conv, orange pool, green linear)",
}


def plot_architecture(summary: Sequence[LayerSummary], input_shape: tuple[int, ...], *,
                      labels: Mapping[str, str] | None = None) -> go.Figure:
    """Bars of values per layer output (log scale), labelled with each output's shape; `labels` over
    ARCHITECTURE_LABELS give its words in another language.

    Activations and flattening change no shape, so only the input, convolutions,
    pooling, batch norm and linear layers are drawn.
    """
    words = chosen_labels(ARCHITECTURE_LABELS, labels)
    rows = [(words["input"], "input", tuple(input_shape), 0)] + [
        (r.name, r.kind, r.output_shape, r.params) for r in summary if r.kind in _SHOWN]
    names = [name for name, *_ in rows]
    sizes = [math.prod(shape) for _, _, shape, _ in rows]
    shapes = ["×".join(str(s) for s in shape) for _, _, shape, _ in rows]
    colours = [_KIND_COLOURS.get(kind, "#7f7f7f") for _, kind, _, _ in rows]
    hover = [words["hover"].format(name=name, kind=kind, shape=shape, params=params)
             for (name, kind, _, params), shape in zip(rows, shapes)]
    fig = go.Figure(go.Bar(x=names, y=sizes, text=shapes, textposition="outside", marker_color=colours,
                           hovertext=hover, hoverinfo="text", cliponaxis=False))
    fig.update_yaxes(type="log", title_text=words["y"])
    fig.update_xaxes(type="category", title_text=words["x"])
    fig.update_layout(height=340, margin=dict(l=50, r=20, t=30, b=50))
    return fig
