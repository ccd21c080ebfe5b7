"""Plotly figures: each `plot_*` takes numbers computed by cnnviz and returns a `go.Figure`."""

from cnnviz.plots.architecture import plot_architecture
from cnnviz.plots.attributions import (
    plot_attribution_grid,
    plot_deletion_insertion,
    plot_sanity_curves,
    plot_sanity_maps,
)
from cnnviz.plots.convolution import plot_convolution_step, plot_convolution_window
from cnnviz.plots.equivariance import plot_equivariance_errors, plot_equivariance_view
from cnnviz.plots.features import plot_class_probabilities, plot_feature_maps, plot_filters
from cnnviz.plots.gradients import plot_gradient_heatmap, plot_gradient_norms, plot_loss_curves
from cnnviz.plots.pooling import plot_invariance_curves, plot_layer_change, plot_pooling
from cnnviz.plots.receptive_field import (
    plot_effective_receptive_field,
    plot_receptive_field_box,
    plot_receptive_field_sizes,
    plot_unit_picker,
)
from cnnviz.plots.sparsity import plot_connectivity, plot_parameter_counts
from cnnviz.plots.text import (
    plot_embedding_matrix,
    plot_ngram_activations,
    plot_pooled_vector,
    plot_token_attributions,
    plot_top_ngrams,
    plot_winning_ngrams,
)
from cnnviz.plots.training import plot_confusion_matrix, plot_image_grid, plot_training_curves

__all__ = [
    "plot_architecture", "plot_class_probabilities", "plot_confusion_matrix", "plot_connectivity",
    "plot_effective_receptive_field", "plot_feature_maps", "plot_filters", "plot_image_grid",
    "plot_parameter_counts", "plot_receptive_field_box", "plot_receptive_field_sizes", "plot_training_curves",
    "plot_unit_picker", "plot_equivariance_errors", "plot_equivariance_view", "plot_invariance_curves",
    "plot_layer_change", "plot_pooling", "plot_embedding_matrix", "plot_ngram_activations", "plot_pooled_vector",
    "plot_token_attributions", "plot_top_ngrams", "plot_winning_ngrams", "plot_gradient_heatmap",
    "plot_gradient_norms", "plot_loss_curves", "plot_attribution_grid", "plot_deletion_insertion",
    "plot_sanity_curves", "plot_sanity_maps", "plot_convolution_step", "plot_convolution_window",
]
