"""The figure of a feature visualisation: the optimised images, and how the objective rose while they were made.

`plot_feature_visualisation` draws a `FeatureVisualisation` (Olah, Mordvintsev & Schubert 2017,
"Feature Visualization"): its images side by side in the model's display pixel space (grey for a
one-channel model, colour for three), each titled with the activation it gives, optionally the
unit's input window outlined on them, and beside them the objective of each image at every step.
Every label is an argument, so a page can translate it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels, montage
from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # only for type hints: the figure needs no torch
    from cnnviz.analysis.visualisation import FeatureVisualisation

__all__ = ["FEATURE_VISUALISATION_LABELS", "plot_feature_visualisation"]

# The figure's words (str.format templates), in English; `labels` give another language's.
FEATURE_VISUALISATION_LABELS = {
    "tile": "image {number}: {value:.2f}",
    "images": "optimised for {layer}, channel {channel}{unit}",
    "unit": ", unit ({row}, {col})",
    "curve": "objective at each step (on the shifted image)",
    "step": "step",
    "objective": "activation",
    "window": "input window of the unit",
    "image": "image {number}",
}
_WINDOW_COLOUR = "#e4002b"
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _outline(origins: np.ndarray, window: tuple[int, int, int, int]) -> tuple[list, list]:
    """One line through every tile's copy of `window` (top, left, bottom, right, inclusive), None between."""
    top, left, bottom, right = window
    xs: list = []
    ys: list = []
    for row, col in origins:
        x0, x1, y0, y1 = col + left - 0.5, col + right + 0.5, row + top - 0.5, row + bottom + 0.5
        xs += [x0, x1, x1, x0, x0, None]
        ys += [y0, y0, y1, y1, y0, None]
    return xs, ys


def plot_feature_visualisation(vis: FeatureVisualisation, *, objective: bool = True,
                               window: tuple[int, int, int, int] | None = None,
                               region: tuple[int, int, int, int] | None = None, columns: int = 4,
                               labels: Mapping[str, str] | None = None) -> go.Figure:
    """The optimised images of `vis` in one row (at most `columns` a row), and beside them the objective curves.

    One-channel images are a grey heatmap from 0 (black) to 1 (white), three-channel ones an RGB
    image, with the images' own pixel values. Each tile is titled with its number (from 1) and
    its activation (`vis.activations`, without any shift). `window` (top, left, bottom, right),
    inclusive, in the image's pixels: the input window of the unit, outlined on every tile.
    `region`, in the same form: show only that part of each image (the window and a margin, say,
    as the crops of real images show a window). With `objective`, a second panel shows each
    image's objective per step (one line per image). `labels` replace any of
    FEATURE_VISUALISATION_LABELS (English).
    """
    words = chosen_labels(FEATURE_VISUALISATION_LABELS, labels)
    images = np.clip(np.asarray(vis.images, dtype=np.float32), 0, 1)
    top, left = 0, 0
    if region is not None:
        top, left, bottom, right = (int(v) for v in region)
        if not (0 <= top <= bottom < images.shape[2] and 0 <= left <= right < images.shape[3]):
            raise ValueError(f"region {tuple(region)} is not inside the {images.shape[2]}x{images.shape[3]} images")
        images = images[:, :, top:bottom + 1, left:right + 1]
    n, channels, height, width = images.shape
    columns = max(1, min(columns, n))
    gap_x, gap_y = max(1, width // 8), max(2, -(-height * 3 // 10))  # room for a title above each tile
    grid, origins = montage(images.transpose(0, 2, 3, 1), columns, gap_x, gap_y)
    if window is not None:  # in the shown part's pixels, cut to it
        window = (max(window[0] - top, 0), max(window[1] - left, 0), min(window[2] - top, height - 1),
                  min(window[3] - left, width - 1))
    unit = "" if vis.unit is None else words["unit"].format(row=vis.unit[0], col=vis.unit[1])
    heading = words["images"].format(layer=as_plotly_text(vis.layer, limit=40), channel=vis.channel, unit=unit)
    if objective:
        fig = make_subplots(rows=1, cols=2, column_widths=[0.58, 0.42], horizontal_spacing=0.08,
                            subplot_titles=(heading, words["curve"]))
    else:
        fig = make_subplots(rows=1, cols=1, subplot_titles=(heading,))
    if channels == 3:
        rgb = (np.nan_to_num(grid, nan=1.0) * 255).round().astype(np.uint8)
        fig.add_trace(go.Image(z=rgb, name="images", hoverinfo="skip"), row=1, col=1)
    else:
        fig.add_trace(go.Heatmap(z=grid[:, :, 0], colorscale="gray", zmin=0, zmax=1, showscale=False, name="images",
                                 hoverongaps=False, hovertemplate="%{z:.3f}<extra></extra>"),
                      row=1, col=1)
    if window is not None:
        xs, ys = _outline(origins, window)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=words["window"], hoverinfo="skip",
                                 showlegend=False, line=dict(color=_WINDOW_COLOUR, width=2)), row=1, col=1)
    fig.update_layout(annotations=[*fig.layout.annotations, *[
        dict(x=tile_left + (width - 1) / 2, y=tile_top - 0.5, xref="x", yref="y", showarrow=False, yanchor="bottom",
             font_size=12, text=words["tile"].format(number=i + 1, value=float(vis.activations[i])))
        for i, (tile_top, tile_left) in enumerate(origins)]])
    fig.update_xaxes(visible=False, constrain="domain", row=1, col=1)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain", row=1, col=1)
    if objective:
        steps = np.arange(1, len(vis.objective) + 1)
        for i in range(n):
            fig.add_trace(go.Scatter(x=steps, y=vis.objective[:, i], mode="lines",
                                     name=words["image"].format(number=i + 1), showlegend=n > 1,
                                     line=dict(color=_COLOURS[i % len(_COLOURS)], width=1.5),
                                     hovertemplate="%{x}: %{y:.3f}<extra>%{fullData.name}</extra>"),
                          row=1, col=2)
        fig.update_xaxes(title_text=words["step"], gridcolor="#e5e5e5", row=1, col=2)
        fig.update_yaxes(title_text=words["objective"], gridcolor="#e5e5e5", zerolinecolor="#bbbbbb", row=1, col=2)
    rows = -(-n // columns)
    fig.update_layout(height=120 + 230 * rows, margin=dict(l=10, r=10, t=50, b=40), plot_bgcolor="white",
                      legend=dict(orientation="h", y=-0.2, x=1, xanchor="right"))
    return fig
