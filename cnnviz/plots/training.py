"""Figures of a training run: loss and accuracy curves, confusion matrix, image grids.

Each figure with words of its own takes `labels` over its `<NAME>_LABELS` (English defaults);
`plot_image_grid` draws only the titles it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels
from cnnviz.plots._common import montage as tile_montage
from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # figures need no torch at run time
    from cnnviz.models.training import EpochReport


# The figures' words (str.format templates; a hover's {true}, {predicted}, {count} are the hovered cell's).
TRAINING_CURVES_LABELS = {
    "loss_title": "Training loss",
    "accuracy_title": "Accuracy",
    "train_loss": "train loss",
    "train_accuracy": "train accuracy",
    "test_accuracy": "test accuracy",
    "x": "epoch",
}
CONFUSION_MATRIX_LABELS = {
    "hover": "true {true}, predicted {predicted}: {count}",
    "x": "predicted",
    "y": "true",
}


def plot_training_curves(history: Sequence[EpochReport], *, total_epochs: int | None = None,
                         labels: Mapping[str, str] | None = None) -> go.Figure:
    """Training loss (left) and train/test accuracy (right) per epoch; `labels` over TRAINING_CURVES_LABELS
    give its words."""
    words = chosen_labels(TRAINING_CURVES_LABELS, labels)
    epochs = [r.epoch for r in history]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(words["loss_title"], words["accuracy_title"]))
    fig.add_trace(go.Scatter(x=epochs, y=[r.train_loss for r in history], mode="lines+markers",
                             name=words["train_loss"]), row=1, col=1)
    fig.add_trace(go.Scatter(x=epochs, y=[r.train_accuracy for r in history], mode="lines+markers",
                             name=words["train_accuracy"]), row=1, col=2)
    if any(r.test_accuracy is not None for r in history):
        fig.add_trace(go.Scatter(x=epochs, y=[r.test_accuracy for r in history], mode="lines+markers",
                                 name=words["test_accuracy"]), row=1, col=2)
    last = total_epochs or (max(epochs) if epochs else 1)
    fig.update_xaxes(title_text=words["x"], range=[0.5, last + 0.5], dtick=max(1, last // 10))
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=320, margin=dict(l=40, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def plot_confusion_matrix(confusion: np.ndarray, class_names: Sequence[str], *,
                          labels: Mapping[str, str] | None = None) -> go.Figure:
    """Counts of (true class, predicted class), with the counts written in the cells; `labels` over
    CONFUSION_MATRIX_LABELS give its words."""
    words = chosen_labels(CONFUSION_MATRIX_LABELS, labels)
    names = [as_plotly_text(c, limit=30) for c in class_names]   # class names may come from a file
    fig = go.Figure(go.Heatmap(
        z=confusion, x=names, y=names, colorscale="Blues", text=confusion, texttemplate="%{text}",
        hovertemplate=words["hover"].format(true="%{y}", predicted="%{x}", count="%{z}") + "<extra></extra>",
        showscale=False))
    fig.update_xaxes(title_text=words["x"], type="category", side="bottom")
    fig.update_yaxes(title_text=words["y"], type="category", autorange="reversed")
    side = 120 + 34 * len(names)
    fig.update_layout(height=side, width=side + 60, margin=dict(l=60, r=10, t=10, b=60))
    return fig


def plot_image_grid(images: np.ndarray, titles: Sequence[str], *, columns: int = 8) -> go.Figure:
    """A grid of images (N, C, H, W) in [0, 1], grey for one channel and colour for three, titled.

    The grid is one montage (one trace), which the browser draws far faster than a
    subplot per image; gaps between tiles are transparent (grey) or white (colour).
    """
    images = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    n, channels, height, width = images.shape
    columns = max(1, min(columns, n))
    rows = max(1, -(-n // columns))
    gap_x, gap_y = max(1, width // 8), max(2, -(-height * 2 // 5))  # room for a title above each tile
    step_x, step_y = width + gap_x, height + gap_y
    montage, _ = tile_montage(images.transpose(0, 2, 3, 1), columns, gap_x, gap_y)
    if channels == 3:
        rgb = (np.nan_to_num(montage, nan=1.0) * 255).astype(np.uint8)
        fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    else:
        fig = go.Figure(go.Heatmap(z=montage[:, :, 0], colorscale="gray", zmin=0, zmax=1, showscale=False,
                                   hoverinfo="skip"))
    # One list, not add_annotation per tile (plotly re-validates the whole list on each add).
    fig.update_layout(annotations=[
        dict(x=(i % columns) * step_x + (width - 1) / 2, y=(i // columns) * step_y - 0.5,
             text=as_plotly_text(title, limit=30), showarrow=False, yanchor="bottom", font_size=11)
        for i, title in enumerate(titles)])
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(height=40 + 120 * rows, margin=dict(l=5, r=5, t=25, b=5), plot_bgcolor="white")
    return fig
