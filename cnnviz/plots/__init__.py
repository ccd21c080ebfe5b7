"""Plotly figures: each `plot_*` takes numbers computed by cnnviz and returns a `go.Figure`."""

from cnnviz.plots.architecture import plot_architecture
from cnnviz.plots.training import plot_confusion_matrix, plot_image_grid, plot_training_curves

__all__ = ["plot_architecture", "plot_confusion_matrix", "plot_image_grid", "plot_training_curves"]
