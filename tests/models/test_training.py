"""cnnviz.models.training: the trainer's contract (seeds, stopping, divergence) and evaluation by hand."""

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz import (
    STOP,
    BatchReport,
    CNNSpec,
    ConvSpec,
    EpochReport,
    TrainConfig,
    TrainResult,
    build_model,
    evaluate,
    predict_proba,
    set_torch_threads,
    train,
)

SPEC = CNNSpec("tiny", 1, 8, (ConvSpec(2, 3, pool="max"),), num_classes=2)


def separable(n=64, seed=0):
    """Class 1 images are bright (about +1), class 0 dark (about -1): one look at the mean tells them apart."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = 0.1 * torch.randn(n, 1, 8, 8, generator=g) + (2 * y.float() - 1).view(-1, 1, 1, 1)
    return x, y


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_time(history):
    return [dataclasses.replace(r, seconds=0.0) for r in history]


# --- learning ----------------------------------------------------------------------------------

def test_tiny_model_learns_a_separable_problem():
    x, y = separable()
    model = build_model(SPEC, seed=0)
    assert evaluate(model, x, y).accuracy < 0.9
    result = train(model, (x[:48], y[:48]), TrainConfig(epochs=5, batch_size=16, learning_rate=0.05),
                   test_set=(x[48:], y[48:]))
    assert result.status == "completed" and result.message == ""
    assert [r.epoch for r in result.history] == [1, 2, 3, 4, 5]
    assert all(r.epochs == 5 for r in result.history)
    assert result.history[-1].train_accuracy == 1.0
    assert result.test_accuracy == result.history[-1].test_accuracy == 1.0
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert evaluate(model, x, y).accuracy == 1.0
    assert not model.training  # a completed run leaves the model ready for inference


def test_no_test_set_gives_no_test_accuracy():
    x, y = separable(16)
    result = train(build_model(SPEC, seed=0), (x, y), TrainConfig(epochs=1, batch_size=8))
    assert result.history[0].test_accuracy is None and result.test_accuracy is None
    assert TrainResult().test_accuracy is None


def test_epoch_loss_is_the_size_weighted_mean_of_batch_losses():
    # 50 examples in batches of 16: 16, 16, 16 and 2; train_loss = sum(loss_b * size_b) / 50.
    x, y = separable(50)
    batches = []
    result = train(build_model(SPEC, seed=0), (x, y), TrainConfig(epochs=2, batch_size=16),
                   on_batch=lambda r: batches.append(r))
    assert [(b.epoch, b.batch, b.batches) for b in batches[:4]] == [(1, 1, 4), (1, 2, 4), (1, 3, 4), (1, 4, 4)]
    assert len(batches) == 8
    sizes = [16, 16, 16, 2]
    for epoch in (1, 2):
        losses = [b.loss for b in batches if b.epoch == epoch]
        expected = sum(loss * size for loss, size in zip(losses, sizes, strict=True)) / 50
        assert result.history[epoch - 1].train_loss == pytest.approx(expected, rel=1e-12)


def test_reported_test_accuracy_is_evaluate_after_the_epoch():
    x, y = separable(40)
    model = build_model(SPEC, seed=1)
    seen = []
    train(model, (x[:30], y[:30]), TrainConfig(epochs=3, batch_size=10), test_set=(x[30:], y[30:]),
          on_epoch=lambda r: seen.append((r.test_accuracy, evaluate(model, x[30:], y[30:]).accuracy)))
    assert len(seen) == 3 and all(reported == fresh for reported, fresh in seen)


# --- reproducibility ---------------------------------------------------------------------------

def test_same_seed_gives_identical_weights_and_history():
    x, y = separable(40)
    config = TrainConfig(epochs=3, batch_size=8, seed=4)
    a, b = build_model(SPEC, seed=0), build_model(SPEC, seed=0)
    ra = train(a, (x, y), config, test_set=(x, y))
    torch.rand(100)  # disturb the global RNG in between
    rb = train(b, (x, y), config, test_set=(x, y))
    assert same_weights(a.state_dict(), b.state_dict())
    assert without_time(ra.history) == without_time(rb.history)
    c = build_model(SPEC, seed=0)
    train(c, (x, y), dataclasses.replace(config, seed=5))  # another batch order
    assert not same_weights(a.state_dict(), c.state_dict())


def test_train_config_is_hashable_and_frozen():
    a, b = TrainConfig(epochs=3), TrainConfig(epochs=3)
    assert a == b and hash(a) == hash(b) and {a: "x"}[b] == "x"
    assert TrainConfig(epochs=4) != a
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.epochs = 5  # type: ignore[misc]


# --- stopping ----------------------------------------------------------------------------------

def test_on_epoch_stop_stops_after_that_epoch_and_keeps_the_model():
    x, y = separable(32)
    model = build_model(SPEC, seed=0)
    initial = copy.deepcopy(model.state_dict())
    snapshots = []

    def on_epoch(report: EpochReport):
        snapshots.append(copy.deepcopy(model.state_dict()))
        return STOP if report.epoch == 2 else None
    result = train(model, (x, y), TrainConfig(epochs=5, batch_size=8), on_epoch=on_epoch)
    assert result.status == "stopped" and result.message == "Stopped after epoch 2."
    assert [r.epoch for r in result.history] == [1, 2]
    assert same_weights(model.state_dict(), snapshots[-1])
    assert not same_weights(model.state_dict(), initial)


@pytest.mark.parametrize("returned", [None, False, True, 1, "stop", object()])
def test_only_stop_stops_a_run_whatever_else_a_callback_returns(returned):
    """A lambda that returns a progress bar (truthy) once ended every run after epoch 1."""
    x, y = separable(16)
    epochs, batches = [], []
    result = train(build_model(SPEC, seed=0), (x, y), TrainConfig(epochs=3, batch_size=8),
                   on_epoch=lambda r: epochs.append(r.epoch) or returned,
                   on_batch=lambda r: batches.append(r.batch) or returned)
    assert result.status == "completed" and epochs == [1, 2, 3] and len(batches) == 3 * 2
    assert len(result.history) == 3


def test_on_batch_stop_stops_inside_an_epoch():
    x, y = separable(32)
    model = build_model(SPEC, seed=0)
    initial = copy.deepcopy(model.state_dict())
    reports = []
    result = train(model, (x, y), TrainConfig(epochs=3, batch_size=8),
                   on_batch=lambda r: reports.append(r) or (STOP if (r.epoch, r.batch) == (2, 3) else None))
    assert result.status == "stopped" and result.message == "Stopped in epoch 2, batch 3."
    assert len(result.history) == 1 and len(reports) == 4 + 3
    assert isinstance(reports[0], BatchReport) and reports[0].batches == 4
    assert not same_weights(model.state_dict(), initial)  # it keeps what it learnt


@pytest.mark.parametrize("how", [
    "completed",
    pytest.param("stopped"),
    pytest.param("diverged"),
])
def test_model_is_left_in_eval_mode_however_the_run_ends(how):
    x, y = separable(16)
    if how == "diverged":
        x = x.clone()
        x[0, 0, 0, 0] = math.inf
    model = build_model(CNNSpec("bn", 1, 8, (ConvSpec(2, 3, batch_norm=True),), num_classes=2), seed=0)
    result = train(model, (x, y), TrainConfig(epochs=2, batch_size=8),
                   on_epoch=lambda r: STOP if how == "stopped" else None)
    assert result.status == how
    assert not model.training


# --- divergence --------------------------------------------------------------------------------

def test_non_finite_loss_restores_the_weights_of_the_last_finished_epoch():
    """After epoch 1 the inputs are poisoned with inf: epoch 2's first loss is NaN."""
    x, y = separable(32)
    x = x.clone()
    model = build_model(SPEC, seed=0)
    at_epoch_end = []

    def on_epoch(report):
        at_epoch_end.append(copy.deepcopy(model.state_dict()))
        x[:, :, 0, 0] = math.inf  # in place: the trainer reads the same tensor in epoch 2
    result = train(model, (x, y), TrainConfig(epochs=3, batch_size=8), on_epoch=on_epoch)
    assert result.status == "diverged"
    assert "epoch 2, batch 1" in result.message and "end of epoch 1" in result.message
    assert "lower learning rate" in result.message
    assert len(result.history) == 1
    assert same_weights(model.state_dict(), at_epoch_end[0])
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_divergence_in_the_first_epoch_restores_the_initial_weights():
    x, y = separable(32)
    x = x.clone()
    x[:, 0, 0, 0] = math.inf                  # every batch's loss is NaN, the very first one too
    model = build_model(SPEC, seed=0)
    result = train(model, (x, y), TrainConfig(epochs=3, batch_size=8))
    assert result.status == "diverged" and result.history == []
    assert "in epoch 1, batch 1" in result.message and "their initial values" in result.message
    assert same_weights(model.state_dict(), build_model(SPEC, seed=0).state_dict())


@pytest.mark.parametrize("bad", [dict(learning_rate=1e30), dict(learning_rate=0.0), dict(learning_rate=-1e-3),
                                 dict(epochs=0), dict(batch_size=0), dict(weight_decay=-0.1),
                                 dict(schedule="cosine")])
def test_config_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


# --- evaluate and predict_proba ----------------------------------------------------------------

def hand_model() -> nn.Linear:
    """Identity weights, no bias: the logits are the inputs, so the predicted class is the argmax."""
    layer = nn.Linear(3, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(3))
        layer.bias.zero_()
    return layer


def test_evaluate_on_a_hand_weighted_model():
    x = torch.tensor([[5.0, 0, 0], [0, 5, 0], [0, 0, 5], [0, 1, 0], [2, 0, 0]])
    y = torch.tensor([0, 0, 2, 2, 1])
    ev = evaluate(hand_model(), x, y, batch_size=2)
    assert ev.predictions.tolist() == [0, 1, 2, 1, 0]
    assert ev.accuracy == pytest.approx(2 / 5)
    # confusion[true, predicted]: true 0 -> 0 and 1; true 1 -> 0; true 2 -> 1 and 2
    assert ev.confusion.tolist() == [[1, 1, 0], [1, 0, 0], [0, 1, 1]]
    e5, e2, e1 = math.exp(5), math.exp(2), math.e
    assert ev.probabilities[0] == pytest.approx([e5 / (e5 + 2), 1 / (e5 + 2), 1 / (e5 + 2)], rel=1e-6)
    # wrong ones: #1 with p = e^5/(e^5+2) = 0.987, #4 with e^2/(e^2+2) = 0.787, #3 with e/(e+2) = 0.576
    assert ev.probabilities[[1, 4, 3], [1, 0, 1]] == pytest.approx([e5 / (e5 + 2), e2 / (e2 + 2), e1 / (e1 + 2)])
    assert ev.misclassified.tolist() == [1, 4, 3]


def test_evaluate_confusion_grows_for_labels_the_model_lacks():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(2))
        layer.bias.zero_()
    ev = evaluate(layer, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([2, 1]))
    assert ev.confusion.tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert ev.accuracy == 0.5 and ev.misclassified.tolist() == [0]


def test_evaluate_empty_set():
    ev = evaluate(hand_model(), torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))
    assert ev.accuracy == 0.0 and ev.misclassified.tolist() == []


def test_predict_proba_sums_to_one_and_restores_training_mode():
    model = build_model(CNNSpec("d", 1, 8, (ConvSpec(2, 3, batch_norm=True),), num_classes=4), seed=0)
    model.train()
    x = torch.randn(7, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    running = model.bn1.running_mean.clone()
    p = predict_proba(model, x, batch_size=3)
    assert p.shape == (7, 4) and np.allclose(p.sum(axis=1), 1, atol=1e-6)
    assert model.training
    assert torch.equal(model.bn1.running_mean, running)  # eval mode inside: statistics untouched
    # the same in one batch: eval-mode batch norm makes the rows independent of batching
    assert np.allclose(p, predict_proba(model, x, batch_size=512), atol=1e-6)


def test_set_torch_threads():
    before = torch.get_num_threads()
    try:
        set_torch_threads(0)
        assert torch.get_num_threads() == 1
        set_torch_threads(3)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
