"""One trainer for the app, the model zoo and notebooks.

`train` runs mini-batch Adam on in-memory tensors, reports every epoch (and,
optionally, every batch) to callbacks that can stop it by returning `STOP`, and protects the model
from a diverging run: a NaN or infinite loss restores the weights of the last
finished epoch. The same seed gives the same weights, whatever other threads do: batch order
and dropout draw from generators of their own, never from torch's global random state.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from cnnviz.models.cnn import Dropout


class _Stop:
    """The type of `STOP`: one object, so no other return value can be mistaken for it."""

    def __repr__(self) -> str:
        return "cnnviz.STOP"


# A callback stops a run only by returning this object. A plain truthy value would let a
# lambda that returns anything (a Streamlit element, say) end the training by accident.
STOP = _Stop()


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run; hashable, so it can key a cache."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 5e-3
    weight_decay: float = 0.0
    schedule: Literal["one_cycle", "constant"] = "one_cycle"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if not 0 < self.learning_rate <= 10:
            raise ValueError(f"the learning rate must be above 0 and at most 10, not {self.learning_rate}")
        if not 0 <= self.weight_decay <= 1:
            raise ValueError(f"weight_decay must be from 0 to 1, not {self.weight_decay}")
        if self.schedule not in ("one_cycle", "constant"):
            raise ValueError(f"schedule must be 'one_cycle' or 'constant', not {self.schedule!r}")


@dataclass(frozen=True)
class EpochReport:
    """What one finished epoch achieved."""

    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    test_accuracy: float | None
    seconds: float


@dataclass(frozen=True)
class BatchReport:
    """Progress inside an epoch, for a progress bar."""

    epoch: int
    batch: int
    batches: int
    loss: float


@dataclass
class TrainResult:
    """The history of a run and how it ended: completed, stopped by a callback, or diverged."""

    history: list[EpochReport] = field(default_factory=list)
    status: Literal["completed", "stopped", "diverged"] = "completed"
    message: str = ""

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy after the last finished epoch, if a test set was given."""
        return self.history[-1].test_accuracy if self.history else None


def train(model: nn.Module, train_set: tuple[torch.Tensor, torch.Tensor], config: TrainConfig, *,
          test_set: tuple[torch.Tensor, torch.Tensor] | None = None,
          on_epoch: Callable[[EpochReport], object] | None = None,
          on_batch: Callable[[BatchReport], object] | None = None) -> TrainResult:
    """Train `model` in place with Adam and cross-entropy; return its history.

    `train_set` and `test_set` are (inputs, integer labels), already preprocessed.

    A callback that returns `STOP` stops training after the current step (the model
    keeps what it learnt so far); any other return value is ignored. A non-finite loss stops training and restores the
    weights at the end of the last finished epoch.
    """
    x_train, y_train = train_set
    n = len(x_train)
    batches = max(math.ceil(n / config.batch_size), 1)
    # Private generators, never torch's global random state: other sessions of the process draw from
    # that one, so seeding it would change their results and their draws would change ours.
    generator = torch.Generator().manual_seed(config.seed)
    # Dropout gets a stream of its own, so the batch order does not depend on whether the model has dropout.
    dropout_generator = torch.Generator().manual_seed(config.seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                                 weight_decay=config.weight_decay)
    # One-cycle (Smith & Topin 2019): warm up, then anneal; converges in fewer epochs than a constant rate.
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate,
                                                     total_steps=config.epochs * batches)
                 if config.schedule == "one_cycle" else None)
    loss_fn = nn.CrossEntropyLoss()
    result = TrainResult()
    last_good = copy.deepcopy(model.state_dict())
    restore_dropout = _private_dropout(model, dropout_generator)
    try:
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=generator)
            loss_sum, correct = 0.0, 0
            for b in range(batches):
                idx = order[b * config.batch_size:(b + 1) * config.batch_size]
                xb, yb = x_train[idx], y_train[idx]
                logits = model(xb)
                loss = loss_fn(logits, yb)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    model.load_state_dict(last_good)
                    result.status = "diverged"
                    restored = f"the end of epoch {epoch - 1}" if epoch > 1 else "their initial values"
                    result.message = (f"The loss became {loss_value} in epoch {epoch}, batch {b + 1}; the weights "
                                      f"were restored to {restored}. Try a lower learning rate.")
                    return result
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                loss_sum += loss_value * len(idx)
                correct += int((logits.argmax(1) == yb).sum())
                if on_batch is not None and on_batch(BatchReport(epoch, b + 1, batches, loss_value)) is STOP:
                    result.status, result.message = "stopped", f"Stopped in epoch {epoch}, batch {b + 1}."
                    return result
            test_accuracy = evaluate(model, *test_set).accuracy if test_set is not None else None
            report = EpochReport(epoch, config.epochs, loss_sum / n, correct / n, test_accuracy,
                                 time.perf_counter() - start)
            result.history.append(report)
            last_good = copy.deepcopy(model.state_dict())
            if on_epoch is not None and on_epoch(report) is STOP:
                result.status, result.message = "stopped", f"Stopped after epoch {epoch}."
                return result
    finally:
        model.eval()  # however the run ends, the model is left ready for inference
        restore_dropout()
    return result


def _restore_generator(module: nn.Module, previous: torch.Generator | None) -> None:
    """Give a cnnviz Dropout back the generator it had (none: it draws from torch's global one again)."""
    if previous is None:
        module.__dict__.pop("generator", None)
    else:
        module.generator = previous  # type: ignore[assignment]  # nn.Module's __setattr__ hint knows no Generator


def _private_dropout(model: nn.Module, generator: torch.Generator) -> Callable[[], None]:
    """Make every dropout layer of `model` draw its masks from `generator`; return the function that undoes it.

    cnnviz's `Dropout` takes the generator; a plain `nn.Dropout` (a notebook's own model)
    becomes a cnnviz `Dropout` for the run, which computes the same thing. Other random
    layers (Dropout2d, AlphaDropout, RReLU, ...) still draw from torch's global state, so a
    run through them is not reproducible.
    """
    undo: list[Callable[[], None]] = []
    for module in model.modules():
        if type(module) is nn.Dropout:
            module.__class__ = Dropout
            undo.append(functools.partial(setattr, module, "__class__", nn.Dropout))
        if isinstance(module, Dropout):
            previous = module.__dict__.get("generator")
            module.generator = generator
            undo.append(functools.partial(_restore_generator, module, previous))

    def restore() -> None:
        for step in reversed(undo):
            step()
    return restore


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A model's predictions on a labelled set, with accuracy and the confusion matrix."""

    predictions: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    confusion: np.ndarray  # confusion[true, predicted]

    @property
    def accuracy(self) -> float:
        """Fraction of correct predictions."""
        return float((self.predictions == self.labels).mean()) if len(self.labels) else 0.0

    @property
    def misclassified(self) -> np.ndarray:
        """Indices of the wrongly predicted examples, most confidently wrong first."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        confidence = self.probabilities[wrong, self.predictions[wrong]]
        return wrong[np.argsort(-confidence, kind="stable")]


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 128) -> Evaluation:
    """Predict every example of (x, y) in eval mode, without gradients, `batch_size` examples at a time.

    Bounded batches bound the memory of a pass (a loaded model is checked at
    `cnnviz.models.budget.APP_BATCH_SIZE` examples, 256): the results do not depend on `batch_size`.
    """
    probabilities = predict_proba(model, x, batch_size=batch_size)
    labels = np.asarray(y, dtype=np.int64)
    predictions = probabilities.argmax(axis=1) if len(labels) else labels.copy()
    n_classes = max(probabilities.shape[1], int(labels.max(initial=-1)) + 1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    return Evaluation(predictions, labels, probabilities, confusion)


def predict_proba(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities (N, classes) for preprocessed inputs, in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [torch.softmax(model(x[i:i + batch_size]), dim=1) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op thread count (call once, at start-up)."""
    torch.set_num_threads(max(int(threads), 1))
