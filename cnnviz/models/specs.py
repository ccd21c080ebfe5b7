"""Every kind of model spec cnnviz can build, by its `kind`: image CNNs, EfficientNet-Lite0, TextCNN, fastText.

Model files store `spec.to_dict()`; `spec_from_dict` and `build_from_spec` turn it back
into a spec and a model whatever its kind, so io and the app need no per-kind code.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from typing_extensions import TypeIs  # torch depends on it; typing has TypeIs from 3.13

from cnnviz.models.cnn import CNNSpec, build_model
from cnnviz.models.efficientnet import EfficientNetLiteSpec, build_efficientnet_lite
from cnnviz.models.text import FastTextSpec, TextCNNSpec, build_text_model

AnySpec = CNNSpec | EfficientNetLiteSpec | TextCNNSpec | FastTextSpec
_KINDS: dict[str, Any] = {"cnn": CNNSpec, "efficientnet_lite0": EfficientNetLiteSpec, "text_cnn": TextCNNSpec,
                          "fasttext": FastTextSpec}
TEXT_KINDS = ("text_cnn", "fasttext")  # the kinds that read token ids rather than images


def spec_from_dict(data: dict[str, Any]) -> AnySpec:
    """Rebuild a spec from `spec.to_dict()`, dispatching on its `kind`; ValueError if unknown."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in _KINDS:
        raise ValueError(f"unknown model kind {kind!r}; cnnviz knows {', '.join(_KINDS)}")
    return _KINDS[kind].from_dict(data)


def is_text_spec(spec: AnySpec) -> TypeIs[TextCNNSpec | FastTextSpec]:
    """Whether the model takes token ids (text) rather than images."""
    return spec.kind in TEXT_KINDS


def build_from_spec(spec: AnySpec, *, seed: int | None = None) -> nn.Module:
    """Build the model a spec of any kind describes; with `seed`, its initial weights are reproducible."""
    if is_text_spec(spec):
        return build_text_model(spec, seed=seed)
    if isinstance(spec, EfficientNetLiteSpec):
        return build_efficientnet_lite(spec, seed=seed)
    return build_model(spec, seed=seed)
