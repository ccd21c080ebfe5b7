"""cnnviz: see how convolutional neural networks work.

The library under the cnnviz app, free of any UI: data sets, models, a trainer,
safe model files, the model zoo and plotly figures. Everything the app shows can
be reproduced in a notebook with the names exported here.
"""

from cnnviz.analysis.attributions import (
    DeletionInsertion,
    ImageAttribution,
    SanityCheck,
    attribute_image,
    deletion_insertion,
    sanity_check,
)
from cnnviz.analysis.convolution import ConvolutionStep, convolution_positions, convolution_step
from cnnviz.analysis.effective_receptive_field import (
    GradientSpread,
    effective_receptive_field,
    gradient_mass_fraction,
    gradient_spread,
    receptive_field_crops,
)
from cnnviz.analysis.equivariance import (
    EquivarianceView,
    LayerEquivariance,
    equivariance_errors,
    equivariance_view,
    shift_image,
    toy_model,
    toy_spec,
)
from cnnviz.analysis.features import (
    TopActivations,
    feature_maps,
    first_convolution,
    last_rectified,
    spatial_layers,
    top_activations,
)
from cnnviz.analysis.gradients import (
    ActivationStats,
    DegradationConfig,
    DegradationResult,
    GradientNorms,
    GradientTrace,
    StepReport,
    activation_stats,
    degradation_experiment,
    gradient_norms,
    train_with_gradient_norms,
)
from cnnviz.analysis.invariance import InvarianceCurves, invariance_curves, transform_image
from cnnviz.analysis.ngram_contributions import NgramContributions, ngram_contributions
from cnnviz.analysis.ngrams import (
    IG_TOLERANCE,
    MAX_IG_STEPS,
    EncodedSentence,
    NgramActivations,
    TokenAttribution,
    TopNgram,
    attribute_tokens,
    encode_sentence,
    ngram_activations,
    top_ngrams,
)
from cnnviz.analysis.pooling import (
    PoolingStage,
    PoolResult,
    binomial_kernel,
    pool,
    pooling_stages,
)
from cnnviz.analysis.receptive_field import ReceptiveField, receptive_fields
from cnnviz.analysis.replay import (
    EpochSnapshot,
    ReplayRecorder,
    TrainingReplay,
    convolution_layers,
    histogram_layers,
    load_replay,
)
from cnnviz.analysis.sparsity import (
    Connectivity,
    LayerParameterCount,
    connectivity,
    layer_parameter_counts,
)
from cnnviz.analysis.summary import LayerSummary, model_summary
from cnnviz.analysis.visualisation import (
    DEFAULT_VISUALISATION_STEPS,
    FeatureVisualisation,
    channel_objective,
    visualise_channel,
)
from cnnviz.data.images import (
    OFFLINE_DATASETS,
    ONLINE_DATASETS,
    PHOTOS,
    SHAPE_CLASSES,
    ImageDataset,
    InputCheck,
    Preprocessing,
    check_input,
    decode_image,
    load_image_dataset,
    load_photo,
    make_shapes,
    to_model_input,
)
from cnnviz.data.network import network_available
from cnnviz.data.sentiment import make_sentiment_corpus
from cnnviz.data.text import (
    OFFLINE_TEXT_CORPORA,
    ONLINE_TEXT_CORPORA,
    TextDataset,
    bundled_corpus_sizes,
    load_text_corpus,
    text_dataset_from_rows,
)
from cnnviz.data.text_csv import csv_columns, texts_from_csv
from cnnviz.data.tokenizer import PAD_ID, UNK_ID, is_cjk, join_tokens, tokenize
from cnnviz.data.vocabulary import TextPreprocessing, Vocabulary
from cnnviz.errors import (
    BadArgumentError,
    CnnvizError,
    DatasetUnavailableError,
    ImageLoadError,
    ModelLoadError,
)
from cnnviz.models.budget import (
    APP_BATCH_SIZE,
    DEFAULT_BUDGET,
    Budget,
    ModelCost,
    ModelTooCostlyError,
    check_budget,
    model_cost,
)
from cnnviz.models.cnn import (
    ARCHITECTURES,
    CNN,
    CNNSpec,
    ConvSpec,
    architecture_spec,
    build_model,
    count_parameters,
    lenet5,
    lenet5_spec,
    tiny_vgg,
    tiny_vgg_spec,
)
from cnnviz.models.files import (
    load_model,
    load_model_bytes,
    lossless_weights_dtype,
    model_to_bytes,
    save_model,
    saved_view,
)
from cnnviz.models.resnet import (
    ResNetCIFAR,
    ResNetSpec,
    build_resnet,
    resnet_cifar,
    weighted_layers,
)
from cnnviz.models.specs import build_from_spec, is_text_spec, spec_from_dict
from cnnviz.models.text import (
    FastText,
    FastTextSpec,
    TextCNN,
    TextCNNSpec,
    build_text_model,
    fasttext,
    text_cnn,
)
from cnnviz.models.trained import (
    ModelInfo,
    TrainedModel,
    untrained_model,
    untrained_text_model,
)
from cnnviz.models.training import (
    STOP,
    BatchReport,
    EpochReport,
    Evaluation,
    TrainConfig,
    TrainResult,
    evaluate,
    predict_proba,
    set_torch_threads,
    train,
)
from cnnviz.models.zoo import (
    DEFAULT_TEXT_ZOO_MODEL,
    DEFAULT_ZOO_MODEL,
    ZOO,
    ZooEntry,
    build_zoo_model,
    load_zoo_model,
    zoo_path,
)
from cnnviz.settings import HOSTED, Settings, settings_from_env

__all__ = [
    "ARCHITECTURES", "CNN", "DEFAULT_ZOO_MODEL", "OFFLINE_DATASETS", "ONLINE_DATASETS", "PHOTOS",
    "SHAPE_CLASSES", "STOP", "ZOO", "BatchReport", "CNNSpec", "CnnvizError", "ConvSpec", "DatasetUnavailableError",
    "EpochReport", "Evaluation", "ImageDataset", "ImageLoadError", "LayerSummary", "ModelInfo",
    "ModelLoadError", "Preprocessing", "Settings", "TrainConfig", "TrainResult", "TrainedModel", "ZooEntry",
    "architecture_spec", "build_model", "build_zoo_model", "count_parameters", "decode_image", "evaluate",
    "lenet5", "lenet5_spec", "load_image_dataset", "load_model", "load_model_bytes", "load_photo",
    "load_zoo_model", "make_shapes", "model_summary", "model_to_bytes", "lossless_weights_dtype", "network_available",
    "predict_proba",
    "save_model", "set_torch_threads", "settings_from_env", "spec_from_dict", "tiny_vgg", "tiny_vgg_spec",
    "to_model_input", "InputCheck", "check_input", "train", "untrained_model", "zoo_path", "TopActivations",
    "feature_maps", "first_convolution", "last_rectified", "ImageAttribution", "SanityCheck",
    "DeletionInsertion",
    "attribute_image", "sanity_check", "deletion_insertion", "ConvolutionStep", "convolution_positions",
    "convolution_step",
    "spatial_layers", "top_activations", "ReceptiveField", "effective_receptive_field",
    "gradient_mass_fraction", "GradientSpread", "gradient_spread", "receptive_field_crops", "receptive_fields",
    "Connectivity",
    "LayerParameterCount", "connectivity", "layer_parameter_counts", "EquivarianceView", "LayerEquivariance",
    "equivariance_errors", "equivariance_view", "shift_image", "toy_model", "toy_spec", "InvarianceCurves",
    "PoolingStage",
    "PoolResult", "binomial_kernel", "invariance_curves", "pool", "pooling_stages", "transform_image",
    "build_from_spec", "is_text_spec", "untrained_text_model", "DEFAULT_TEXT_ZOO_MODEL", "NgramActivations",
    "TokenAttribution", "TopNgram", "attribute_tokens", "ngram_activations", "top_ngrams",
    "EncodedSentence", "encode_sentence", "IG_TOLERANCE", "MAX_IG_STEPS",
    "OFFLINE_TEXT_CORPORA", "ONLINE_TEXT_CORPORA", "PAD_ID", "UNK_ID", "TextDataset", "TextPreprocessing",
    "Vocabulary", "csv_columns", "load_text_corpus", "make_sentiment_corpus", "text_dataset_from_rows",
    "texts_from_csv", "tokenize", "FastText", "FastTextSpec", "TextCNN", "TextCNNSpec", "build_text_model",
    "fasttext", "text_cnn", "ResNetCIFAR", "ResNetSpec", "build_resnet", "resnet_cifar", "weighted_layers",
    "ActivationStats", "DegradationConfig", "DegradationResult", "GradientNorms", "GradientTrace", "StepReport",
    "activation_stats", "degradation_experiment", "gradient_norms", "train_with_gradient_norms", "saved_view",
    "HOSTED", "APP_BATCH_SIZE", "DEFAULT_BUDGET", "Budget", "ModelCost", "ModelTooCostlyError", "check_budget",
    "model_cost",
    "NgramContributions", "ngram_contributions", "is_cjk", "join_tokens", "bundled_corpus_sizes",
    "EpochSnapshot", "ReplayRecorder", "TrainingReplay", "convolution_layers", "histogram_layers", "load_replay",
    "BadArgumentError", "DEFAULT_VISUALISATION_STEPS", "FeatureVisualisation", "channel_objective",
    "visualise_channel",
]
