"""A model together with what it needs to be used: architecture, preprocessing, class names.

`TrainedModel` is what the app calls the current model and what a model file
holds; `ModelInfo` is its JSON-serialisable description.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from torch import nn

from cnnviz.data import ImageDataset, Preprocessing
from cnnviz.errors import ModelLoadError
from cnnviz.models import CNNSpec, architecture_spec, build_model, count_parameters, spec_from_dict
from cnnviz.training import predict_proba

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelInfo:
    """Everything but the weights that a trained model needs: architecture, preprocessing, labels."""

    name: str
    spec: CNNSpec
    preprocessing: Preprocessing
    class_names: tuple[str, ...]
    dataset: str
    test_accuracy: float | None = None

    def __post_init__(self) -> None:
        if (self.preprocessing.channels, self.preprocessing.size) != (self.spec.in_channels, self.spec.input_size):
            raise ValueError(f"the preprocessing gives {self.preprocessing.channels}x{self.preprocessing.size}"
                             f"x{self.preprocessing.size} inputs, but {self.spec.name} takes "
                             f"{self.spec.in_channels}x{self.spec.input_size}x{self.spec.input_size}")
        if len(self.class_names) != self.spec.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.spec.num_classes} classes")
        if len(self.preprocessing.mean) != self.preprocessing.channels or \
                len(self.preprocessing.std) != self.preprocessing.channels:
            raise ValueError("the preprocessing needs one mean and one std per channel")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, stored in the model file."""
        return {"format": _FORMAT_VERSION, "name": self.name, "spec": self.spec.to_dict(),
                "preprocessing": self.preprocessing.to_dict(), "class_names": list(self.class_names),
                "dataset": self.dataset, "test_accuracy": self.test_accuracy}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Inverse of `to_dict`; raises ModelLoadError if anything is missing or malformed."""
        try:
            accuracy = data.get("test_accuracy")
            return cls(name=str(data["name"]), spec=spec_from_dict(data["spec"]),
                       preprocessing=Preprocessing.from_dict(data["preprocessing"]),
                       class_names=tuple(str(c) for c in data["class_names"]),
                       dataset=str(data["dataset"]),
                       test_accuracy=None if accuracy is None else float(accuracy))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"it has no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ModelLoadError(f"The model file's cnnviz metadata is damaged: {detail}.") from exc


@dataclass(eq=False)
class TrainedModel:
    """A model with its `ModelInfo`: what the app calls the current model."""

    model: nn.Module
    info: ModelInfo


    @property
    def parameters(self) -> int:
        """Number of trainable parameters."""
        return count_parameters(self.model)

    def with_accuracy(self, test_accuracy: float | None) -> TrainedModel:
        """The same model with its test accuracy recorded."""
        return TrainedModel(self.model, replace(self.info, test_accuracy=test_accuracy))

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for images (N, C, H, W) in [0, 1]."""
        return predict_proba(self.model, self.info.preprocessing.apply(images))


def untrained_model(architecture: str, dataset: ImageDataset, *, seed: int = 0) -> TrainedModel:
    """A freshly initialised model of a named architecture, shaped for `dataset`."""
    prep = dataset.preprocessing
    spec = architecture_spec(architecture, in_channels=prep.channels, input_size=prep.size,
                             num_classes=len(dataset.class_names))
    info = ModelInfo(name=f"{spec.name} on {dataset.name}", spec=spec, preprocessing=prep,
                     class_names=dataset.class_names, dataset=dataset.name)
    return TrainedModel(build_model(spec, seed=seed), info)
