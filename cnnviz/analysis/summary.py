"""A model's leaf layers in call order, with output shapes and parameter counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnviz.analysis.hooks import eval_with_hooks


@dataclass(frozen=True)
class LayerSummary:
    """One leaf layer of a model: its name, type, output shape (without batch) and parameters."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


def model_summary(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerSummary]:
    """Run one zero input of shape (C, H, W) through `model` and list every leaf layer in call order."""
    rows: list[LayerSummary] = []

    def record(name: str):
        def hook(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            params = sum(p.numel() for p in module.parameters(recurse=False))
            rows.append(LayerSummary(name, type(module).__name__, tuple(output.shape[1:]), params))
        return hook

    leaves = {module: record(name) for name, module in model.named_modules()
              if name and not any(True for _ in module.children())}
    with eval_with_hooks(model, leaves):
        model(torch.zeros(1, *input_shape))
    return rows
