"""A model together with what it needs to be used: architecture, preprocessing, class names.

`TrainedModel` is what the app calls the current model and what a model file
holds; `ModelInfo` is its JSON-serialisable description.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from torch import nn

from cnnviz.data.images import ImageDataset, Preprocessing
from cnnviz.data.text import TextDataset
from cnnviz.data.vocabulary import TextPreprocessing
from cnnviz.errors import ModelLoadError
from cnnviz.models.cnn import architecture_spec, count_parameters
from cnnviz.models.specs import AnySpec, build_from_spec, is_text_spec, spec_from_dict
from cnnviz.models.text import FastTextSpec, TextCNNSpec
from cnnviz.models.training import predict_proba

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelInfo:
    """Everything but the weights that a trained model needs: architecture, preprocessing, labels."""

    name: str
    spec: AnySpec
    preprocessing: Preprocessing | TextPreprocessing
    class_names: tuple[str, ...]
    dataset: str
    test_accuracy: float | None = None

    def __post_init__(self) -> None:
        if len(self.class_names) != self.spec.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.spec.num_classes} classes")
        if is_text_spec(self.spec):
            if not isinstance(self.preprocessing, TextPreprocessing):
                raise ValueError(f"{self.spec.name} reads text, but the preprocessing is for images")
            if len(self.preprocessing.vocabulary) != self.spec.vocab_size:
                raise ValueError(f"a vocabulary of {len(self.preprocessing.vocabulary)} words for a model of "
                                 f"{self.spec.vocab_size}")
            return
        if not isinstance(self.preprocessing, Preprocessing):
            raise ValueError(f"{self.spec.name} reads images, but the preprocessing is for text")
        if (self.preprocessing.channels, self.preprocessing.size) != (self.spec.in_channels, self.spec.input_size):
            raise ValueError(f"the preprocessing gives {self.preprocessing.channels}x{self.preprocessing.size}"
                             f"x{self.preprocessing.size} inputs, but {self.spec.name} takes "
                             f"{self.spec.in_channels}x{self.spec.input_size}x{self.spec.input_size}")
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
        if isinstance(data, dict) and isinstance(data.get("format"), int) and data["format"] > _FORMAT_VERSION:
            raise ModelLoadError(f"The model file was written by a newer cnnviz (format {data['format']}); "
                                 "update cnnviz to load it.")
        try:
            spec = spec_from_dict(data["spec"])
        except ValueError as exc:  # a well-formed spec with values cnnviz refuses (sizes, layers, padding)
            raise ModelLoadError(f"The model file describes a network cnnviz does not build: "
                                 f"{str(exc).rstrip('.')}.") from exc
        except (KeyError, TypeError, AttributeError) as exc:
            detail = f"it has no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ModelLoadError(f"The model file's cnnviz metadata is damaged: {detail}.") from exc
        try:
            accuracy = data.get("test_accuracy")
            reader = TextPreprocessing if is_text_spec(spec) else Preprocessing
            return cls(name=str(data["name"]), spec=spec, preprocessing=reader.from_dict(data["preprocessing"]),
                       class_names=tuple(str(c) for c in data["class_names"]),
                       dataset=str(data["dataset"]),
                       test_accuracy=None if accuracy is None else float(accuracy))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"it has no {exc}" if isinstance(exc, KeyError) else str(exc).rstrip(".")
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

    @property
    def reads_text(self) -> bool:
        """Whether the model takes sentences (TextCNN, fastText) rather than images."""
        return is_text_spec(self.info.spec)

    def fingerprint(self) -> str:
        """A digest of everything that decides what the model computes and shows: its description and every
        weight. Two models with the same fingerprint give the same results, so results can be shared
        between copies (every session's copy of a zoo model). Taken anew on each call: training changes it."""
        digest = hashlib.sha256(json.dumps(self.info.to_dict(), sort_keys=True, default=str).encode())
        for name, tensor in self.model.state_dict().items():
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def predict_proba(self, inputs: np.ndarray | list[str]) -> np.ndarray:
        """Class probabilities (N, classes) for images (N, C, H, W) in [0, 1], or for a list of sentences."""
        prep = self.info.preprocessing
        if isinstance(prep, TextPreprocessing):
            x = prep.encode_batch(list(inputs))
        else:
            x = prep.apply(np.asarray(inputs))
        return predict_proba(self.model, x)


def untrained_model(architecture: str, dataset: ImageDataset, *, seed: int = 0) -> TrainedModel:
    """A freshly initialised model of a named architecture, shaped for `dataset`."""
    prep = dataset.preprocessing
    spec = architecture_spec(architecture, in_channels=prep.channels, input_size=prep.size,
                             num_classes=len(dataset.class_names))
    info = ModelInfo(name=f"{spec.name} on {dataset.name}", spec=spec, preprocessing=prep,
                     class_names=dataset.class_names, dataset=dataset.name)
    return TrainedModel(build_from_spec(spec, seed=seed), info)


def untrained_text_model(kind: str, dataset: TextDataset, *, seed: int = 0, **spec_kwargs: object) -> TrainedModel:
    """A freshly initialised TextCNN (kind "text_cnn") or fastText ("fasttext") shaped for `dataset`."""
    spec_class = {"text_cnn": TextCNNSpec, "fasttext": FastTextSpec}.get(kind)
    if spec_class is None:
        raise ValueError(f"Unknown text model kind {kind!r}; choose text_cnn or fasttext.")
    spec = spec_class(vocab_size=len(dataset.preprocessing.vocabulary), num_classes=len(dataset.class_names),
                      **spec_kwargs)
    info = ModelInfo(name=f"{spec.name} on {dataset.name}", spec=spec, preprocessing=dataset.preprocessing,
                     class_names=dataset.class_names, dataset=dataset.name)
    return TrainedModel(build_from_spec(spec, seed=seed), info)
