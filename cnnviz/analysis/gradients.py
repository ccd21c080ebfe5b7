"""Gradient norms and activation statistics layer by layer, at initialisation and while training.

The gradient of the loss with respect to a layer's weights is the product of
what flows back into the layer and what the layer saw on the way forward
(for a fully connected layer, dL/dW = delta ⊗ input). Through a deep plain net
both can shrink or grow geometrically with depth, so early layers get gradients
orders of magnitude smaller (or larger) than late ones and barely learn (or
learn erratically). Identity shortcuts give the backward signal a path that
skips the layers, which keeps gradient norms of the same order through depth
(He et al. 2016; Balduzzi et al. 2017, "The Shattered Gradients Problem").

- `gradient_norms` and `activation_stats` measure one batch, without changing
  the model (batch norm uses the batch's statistics, as in training, and its
  running statistics are left as they were);
- `train_with_gradient_norms` trains with SGD and records every layer's gradient
  norm at every step;
- `degradation_experiment` trains a shallow and a deep net, plain and residual,
  from the same seed on the same batches (He et al. 2016, Figure 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from cnnviz.models.resnet import ResNetSpec, build_resnet, weighted_layers
from cnnviz.models.training import STOP

__all__ = ["ActivationStats", "DegradationConfig", "DegradationResult", "GradientNorms", "GradientTrace",
           "StepReport", "activation_stats", "degradation_experiment", "gradient_norms",
           "train_with_gradient_norms"]


@dataclass(frozen=True, eq=False)
class GradientNorms:
    """The L2 norm of the loss gradient for each weighted layer's weights, input to output."""

    layers: tuple[str, ...]
    norms: np.ndarray    # (layers,) float64
    loss: float

    def ratio(self, first: int = 0, last: int = -2) -> float:
        """norms[first] / norms[last]: by default the first conv over the last conv (the layer before fc)."""
        return float(self.norms[first] / self.norms[last])


@dataclass(frozen=True, eq=False)
class ActivationStats:
    """The mean and standard deviation of the input each weighted layer sees, input to output."""

    layers: tuple[str, ...]
    mean: np.ndarray     # (layers,)
    std: np.ndarray      # (layers,)


@contextmanager
def _training_batch(model: nn.Module) -> Iterator[None]:
    """Training mode (batch norm on the batch's statistics) with every buffer and mode restored after."""
    modes = [(module, module.training) for module in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        model.train()
        yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for module, training in modes:
            module.training = training


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> GradientNorms:
    """The norm of d(cross-entropy)/d(weights) for every conv and linear layer, on one batch.

    Computed as in a training step (batch norm on the batch's statistics), but the
    model is left unchanged: no `.grad` is written and running statistics are kept.
    """
    layers = weighted_layers(model)
    if not layers:
        raise ValueError("the model has no convolution or linear layer")
    with _training_batch(model):
        loss = nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, [module.weight for _, module in layers])
    norms = np.array([float(g.norm()) for g in grads], dtype=np.float64)
    return GradientNorms(tuple(name for name, _ in layers), norms, float(loss.detach()))


def activation_stats(model: nn.Module, x: torch.Tensor) -> ActivationStats:
    """Mean and std of the input of every conv and linear layer on one batch, as in a training step.

    The input is what multiplies into a layer's weight gradient, so a layer whose
    input has shrunk to almost nothing also gets almost no gradient.
    """
    layers = weighted_layers(model)
    seen: dict[str, torch.Tensor] = {}
    handles = [module.register_forward_pre_hook(lambda _m, args, name=name: seen.__setitem__(name, args[0]))
               for name, module in layers]
    try:
        with _training_batch(model), torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    names = tuple(name for name, _ in layers)
    mean = np.array([float(seen[n].mean()) for n in names])
    std = np.array([float(seen[n].std()) for n in names])
    return ActivationStats(names, mean, std)


# --- training while recording ------------------------------------------------------------------

@dataclass(frozen=True)
class StepReport:
    """One finished training step: which step, the batch's loss and every layer's gradient norm."""

    step: int
    steps: int
    loss: float
    norms: np.ndarray
    layers: tuple[str, ...] = ()   # the names `norms` belongs to


@dataclass(frozen=True, eq=False)
class GradientTrace:
    """A training run step by step: the loss and every weighted layer's gradient norm before each update.

    `steps_done` can be less than the steps asked for when the run was stopped or
    diverged; `losses` and `norms` then hold only the finished steps.
    """

    layers: tuple[str, ...]
    losses: np.ndarray   # (steps_done,)
    norms: np.ndarray    # (steps_done, layers)
    status: str = "completed"   # "completed", "stopped" or "diverged"

    @property
    def steps_done(self) -> int:
        """How many steps were trained."""
        return len(self.losses)

    def final_loss(self, window: int = 20) -> float:
        """The mean training loss of the last `window` steps (a single batch's loss is noisy)."""
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        return float(self.losses[-window:].mean()) if self.steps_done else math.nan


def train_with_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int,
                              batch_size: int = 64, learning_rate: float = 0.02, momentum: float = 0.9,
                              seed: int = 0, on_step: Callable[[StepReport], object] | None = None,
                              ) -> GradientTrace:
    """Train with SGD and momentum for `steps` mini-batches, recording every layer's gradient norm.

    Batches are drawn from (x, y) by a generator seeded with `seed`, so two models
    trained with the same seed see the same batches in the same order. `on_step`
    is called after every step; returning `cnnviz.STOP` stops the run. A non-finite loss
    ends the run with status "diverged". However the run ends, the model is left
    in eval mode, ready for inference (as `cnnviz.train` leaves it).
    """
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be at least 1")
    layers = weighted_layers(model)
    names = tuple(name for name, _ in layers)
    weights = [module.weight for _, module in layers]
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
    generator = torch.Generator().manual_seed(seed)
    losses, norms, status = [], [], "completed"
    model.train()
    try:
        order = torch.randperm(len(x), generator=generator)
        position = 0
        for step in range(1, steps + 1):
            if position + batch_size > len(x):  # a new epoch: reshuffle
                order, position = torch.randperm(len(x), generator=generator), 0
            idx = order[position:position + batch_size]
            position += batch_size
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            if not math.isfinite(loss.item()):
                status = "diverged"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            step_norms = np.array([float(w.grad.norm()) if w.grad is not None else 0.0 for w in weights])
            optimizer.step()
            losses.append(loss.item())
            norms.append(step_norms)
            if on_step is not None and on_step(StepReport(step, steps, losses[-1], step_norms, names)) is STOP:
                status = "stopped"
                break
    finally:
        model.eval()
    return GradientTrace(names, np.array(losses, dtype=np.float64),
                         np.array(norms, dtype=np.float64).reshape(len(losses), len(layers)), status)


# --- the degradation experiment ----------------------------------------------------------------

@dataclass(frozen=True)
class DegradationConfig:
    """Four runs of He et al. 2016's Figure 1: shallow and deep, plain and residual; hashable, a cache key.

    `net` holds the options the four nets share (activation, batch norm, init,
    block, width, channels, classes); its depth and residual flag are replaced
    per run.
    """

    net: ResNetSpec = ResNetSpec()
    shallow_depth: int = 20
    deep_depth: int = 56
    steps: int = 200
    batch_size: int = 64
    learning_rate: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shallow_depth >= self.deep_depth:
            raise ValueError(f"the shallow net ({self.shallow_depth} layers) must have fewer layers than the "
                             f"deep one ({self.deep_depth})")
        for depth in (self.shallow_depth, self.deep_depth):
            replace(self.net, depth=depth)  # validates the depth
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be at least 1")
        if not 0 < self.learning_rate <= 10:
            raise ValueError(f"the learning rate must be above 0 and at most 10, not {self.learning_rate}")

    def specs(self) -> dict[str, ResNetSpec]:
        """The four nets by label, in the order they are trained."""
        specs = [replace(self.net, depth=depth, residual=residual)
                 for depth in (self.shallow_depth, self.deep_depth) for residual in (False, True)]
        return {spec.label: spec for spec in specs}


@dataclass(frozen=True, eq=False)
class DegradationResult:
    """The four runs' traces by label ("plain-20", "ResNet-20", "plain-56", "ResNet-56")."""

    config: DegradationConfig
    runs: dict[str, GradientTrace]

    @property
    def complete(self) -> bool:
        """Whether all four runs finished every step."""
        return len(self.runs) == 4 and all(t.status == "completed" for t in self.runs.values())


def degradation_experiment(config: DegradationConfig, x: torch.Tensor, y: torch.Tensor, *,
                           on_step: Callable[[str, StepReport], object] | None = None) -> DegradationResult:
    """Train the four nets of `config` one after the other on (x, y), same seed and same batches.

    `on_step(label, report)` is called after every step of every run; returning
    `cnnviz.STOP` stops the experiment (the result then holds the runs so far).
    """
    runs: dict[str, GradientTrace] = {}
    for label, spec in config.specs().items():
        model = build_resnet(spec, seed=config.seed)
        callback = None if on_step is None else (lambda report, label=label: on_step(label, report))
        trace = train_with_gradient_norms(model, x, y, steps=config.steps, batch_size=config.batch_size,
                                          learning_rate=config.learning_rate, seed=config.seed, on_step=callback)
        runs[label] = trace
        if trace.status == "stopped":
            break
    return DegradationResult(config, runs)
