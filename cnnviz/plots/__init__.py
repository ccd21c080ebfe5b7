"""Plotly figures: each `plot_*` takes numbers computed by cnnviz and returns a `go.Figure`."""

from cnnviz.plots.architecture import ARCHITECTURE_LABELS, plot_architecture
from cnnviz.plots.attributions import (
    ATTRIBUTION_GRID_LABELS,
    ATTRIBUTION_METHODS_LABELS,
    DELETION_INSERTION_LABELS,
    SANITY_CURVES_LABELS,
    SANITY_MAPS_LABELS,
    plot_attribution_grid,
    plot_deletion_insertion,
    plot_sanity_curves,
    plot_sanity_maps,
)
from cnnviz.plots.convolution import (
    CONVOLUTION_STEP_LABELS,
    CONVOLUTION_WINDOW_LABELS,
    plot_convolution_step,
    plot_convolution_window,
)
from cnnviz.plots.equivariance import (
    EQUIVARIANCE_ERRORS_LABELS,
    EQUIVARIANCE_VIEW_LABELS,
    plot_equivariance_errors,
    plot_equivariance_view,
)
from cnnviz.plots.features import (
    CLASS_PROBABILITIES_LABELS,
    FEATURE_MAPS_LABELS,
    FILTERS_LABELS,
    plot_class_probabilities,
    plot_feature_maps,
    plot_filters,
)
from cnnviz.plots.gradients import (
    GRADIENT_HEATMAP_LABELS,
    GRADIENT_NORMS_LABELS,
    LOSS_CURVES_LABELS,
    plot_gradient_heatmap,
    plot_gradient_norms,
    plot_loss_curves,
)
from cnnviz.plots.pooling import (
    INVARIANCE_CURVES_LABELS,
    LAYER_CHANGE_LABELS,
    POOLING_LABELS,
    plot_invariance_curves,
    plot_layer_change,
    plot_pooling,
)
from cnnviz.plots.receptive_field import (
    EFFECTIVE_RECEPTIVE_FIELD_LABELS,
    RECEPTIVE_FIELD_BOX_LABELS,
    RECEPTIVE_FIELD_SIZES_LABELS,
    UNIT_PICKER_LABELS,
    plot_effective_receptive_field,
    plot_receptive_field_box,
    plot_receptive_field_sizes,
    plot_unit_picker,
)
from cnnviz.plots.replay import (
    REPLAY_FEATURE_MAPS_LABELS,
    REPLAY_FILTERS_LABELS,
    REPLAY_HISTOGRAMS_LABELS,
    plot_replay_feature_maps,
    plot_replay_filters,
    plot_replay_histograms,
)
from cnnviz.plots.sparsity import (
    CONNECTIVITY_LABELS,
    PARAMETER_COUNTS_LABELS,
    plot_connectivity,
    plot_parameter_counts,
)
from cnnviz.plots.text import (
    EMBEDDING_MATRIX_LABELS,
    NGRAM_ACTIVATIONS_LABELS,
    POOLED_VECTOR_LABELS,
    WINNING_NGRAMS_LABELS,
    plot_embedding_matrix,
    plot_ngram_activations,
    plot_pooled_vector,
    plot_winning_ngrams,
)
from cnnviz.plots.text_attributions import (
    TOKEN_ATTRIBUTIONS_LABELS,
    TOP_NGRAMS_LABELS,
    plot_token_attributions,
    plot_top_ngrams,
)
from cnnviz.plots.training import (
    CONFUSION_MATRIX_LABELS,
    TRAINING_CURVES_LABELS,
    plot_confusion_matrix,
    plot_image_grid,
    plot_training_curves,
)
from cnnviz.plots.visualisation import plot_feature_visualisation

__all__ = [
    "ARCHITECTURE_LABELS",
    "plot_architecture", "plot_class_probabilities", "plot_confusion_matrix", "plot_connectivity",
    "plot_effective_receptive_field", "plot_feature_maps", "plot_filters", "plot_image_grid",
    "plot_parameter_counts", "plot_receptive_field_box", "plot_receptive_field_sizes", "plot_training_curves",
    "plot_unit_picker", "plot_equivariance_errors", "plot_equivariance_view", "plot_invariance_curves",
    "plot_layer_change", "plot_pooling", "plot_embedding_matrix", "plot_ngram_activations", "plot_pooled_vector",
    "plot_token_attributions", "plot_top_ngrams", "plot_winning_ngrams", "plot_gradient_heatmap",
    "plot_gradient_norms", "plot_loss_curves", "plot_attribution_grid", "plot_deletion_insertion",
    "plot_sanity_curves", "plot_sanity_maps", "plot_convolution_step", "plot_convolution_window",
    "CONVOLUTION_STEP_LABELS", "CONVOLUTION_WINDOW_LABELS",
    "plot_replay_feature_maps", "plot_replay_filters", "plot_replay_histograms",
    "EQUIVARIANCE_ERRORS_LABELS", "EQUIVARIANCE_VIEW_LABELS",
    "INVARIANCE_CURVES_LABELS", "LAYER_CHANGE_LABELS", "POOLING_LABELS",
    "GRADIENT_HEATMAP_LABELS", "GRADIENT_NORMS_LABELS", "LOSS_CURVES_LABELS",
    "CONNECTIVITY_LABELS", "PARAMETER_COUNTS_LABELS", "RECEPTIVE_FIELD_SIZES_LABELS", "RECEPTIVE_FIELD_BOX_LABELS",
    "EFFECTIVE_RECEPTIVE_FIELD_LABELS", "UNIT_PICKER_LABELS",
    "ATTRIBUTION_GRID_LABELS", "ATTRIBUTION_METHODS_LABELS", "DELETION_INSERTION_LABELS", "SANITY_CURVES_LABELS",
    "SANITY_MAPS_LABELS", "CLASS_PROBABILITIES_LABELS",
    "EMBEDDING_MATRIX_LABELS", "NGRAM_ACTIVATIONS_LABELS", "POOLED_VECTOR_LABELS", "WINNING_NGRAMS_LABELS",
    "TOKEN_ATTRIBUTIONS_LABELS", "TOP_NGRAMS_LABELS",
    "plot_feature_visualisation",
    "TRAINING_CURVES_LABELS", "CONFUSION_MATRIX_LABELS", "FEATURE_MAPS_LABELS", "FILTERS_LABELS",
    "REPLAY_FILTERS_LABELS", "REPLAY_FEATURE_MAPS_LABELS", "REPLAY_HISTOGRAMS_LABELS",
]
