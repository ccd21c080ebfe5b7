"""cnnviz.analysis.gradients: gradient norms against a plain autograd loop, the vanishing-gradient claims,
recorded training."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

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
from cnnviz.data.images import load_image_dataset
from cnnviz.models.resnet import ResNetSpec, build_resnet, resnet_cifar, weighted_layers
from cnnviz.models.training import STOP


@pytest.fixture(scope="module")
def digits64():
    """The first 64 training digits at 8x8 (one grey channel), preprocessed, with their labels."""
    x, y = load_image_dataset("digits", size=8).train_tensors()
    return x[:64], y[:64]


def small_net(**options) -> nn.Module:
    """ResNet-8 at a quarter width (4, 8, 16 filters) for one grey channel: fast enough to train in a test."""
    return resnet_cifar(8, width=0.25, in_channels=1, seed=0, **options)


def bn_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def assert_unchanged(model: nn.Module, before: dict[str, torch.Tensor], modes: list[bool]) -> None:
    after = bn_state(model)
    assert before and list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in model.modules())


# --- gradient_norms ----------------------------------------------------------------------------

def test_gradient_norms_equal_a_plain_autograd_loop(digits64):
    x, y = digits64
    model = resnet_cifar(14, in_channels=1, seed=0)
    reference = copy.deepcopy(model)
    reference.train()
    loss = F.cross_entropy(reference(x), y)
    loss.backward()
    expected = [float(module.weight.grad.norm()) for _, module in weighted_layers(reference)]
    result = gradient_norms(model, x, y)
    assert isinstance(result, GradientNorms) and result.norms.dtype == np.float64
    assert result.layers == tuple(name for name, _ in weighted_layers(model)) and len(result.layers) == 14
    np.testing.assert_allclose(result.norms, expected, rtol=1e-5)
    assert result.loss == pytest.approx(loss.item(), rel=1e-6)
    assert result.ratio() == pytest.approx(expected[0] / expected[-2], rel=1e-5)


@pytest.mark.parametrize("mode", ["eval", "train", "mixed"])
def test_gradient_norms_leave_the_model_unchanged(digits64, mode):
    x, y = digits64
    model = small_net()
    model.train()
    model(x[:32])  # running statistics away from their initial 0 and 1
    if mode == "eval":
        model.eval()
    elif mode == "mixed":
        model.stage2.eval()  # the rest stays in training mode
    before, modes = bn_state(model), [m.training for m in model.modules()]
    assert int(before["bn1.num_batches_tracked"]) == 1
    gradient_norms(model, x, y)
    assert_unchanged(model, before, modes)


def test_gradient_norms_use_the_batch_statistics_even_in_eval_mode(digits64):
    x, y = digits64
    model = small_net()
    in_eval = gradient_norms(model.eval(), x, y)
    np.testing.assert_array_equal(in_eval.norms, gradient_norms(model.train(), x, y).norms)


def test_ratio_is_first_over_the_layer_before_fc():
    norms = GradientNorms(("conv1", "conv2", "conv3", "fc"), np.array([2.0, 5.0, 8.0, 100.0]), 1.0)
    assert norms.ratio() == 0.25 and norms.ratio(1, 3) == 0.05


def test_a_model_without_weighted_layers_is_refused():
    with pytest.raises(ValueError, match="no convolution or linear layer"):
        gradient_norms(nn.Sequential(nn.Flatten()), torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))


# --- the measured claims on digits --------------------------------------------------------------
# Ratios are first conv / last conv at initialisation, seed 0, first 64 digits at 8x8. Measured here:
# plain-20 (ReLU, no BN, default init) 3.5e-8, ResNet-20 1.2; sigmoid post-activation ResNet-20 2.2e-7,
# pre-activation 0.14; with batch norm and He init, plain-56 790, ResNet-56 2.6 (seeds 1-3 agree to a factor 3).

def ratio(x, y, **options) -> float:
    return gradient_norms(resnet_cifar(in_channels=1, seed=0, **options), x, y).ratio()


def test_without_batch_norm_the_plain_net_loses_its_gradient_and_the_resnet_keeps_it(digits64):
    options = {"depth": 20, "batch_norm": False, "init": "default", "activation": "relu", "block": "post"}
    plain, residual = ratio(*digits64, residual=False, **options), ratio(*digits64, residual=True, **options)
    assert plain < 1e-5
    assert 0.05 < residual < 5


def test_sigmoid_post_activation_vanishes_even_with_shortcuts_but_pre_activation_does_not(digits64):
    options = {"depth": 20, "batch_norm": False, "init": "default", "activation": "sigmoid"}
    post, pre = ratio(*digits64, block="post", **options), ratio(*digits64, block="pre", **options)
    assert post < 1e-5  # every sum passes through a sigmoid, whose slope is at most 1/4
    assert pre > 1e-3


def test_with_batch_norm_plain_56_gradients_grow_towards_the_input_and_resnet_56_stays_level(digits64):
    plain, residual = ratio(*digits64, depth=56, residual=False), ratio(*digits64, depth=56, residual=True)
    assert plain > 100
    assert residual < 20


# --- activation_stats ----------------------------------------------------------------------------

def test_activation_stats_by_hand():
    # A 2x2 all-ones convolution, flatten, linear. The image 0..8 has mean 4 and (n - 1) std sqrt(60 / 8);
    # the convolution sums the four 2x2 windows: 0+1+3+4 = 8, 12, 20, 24, mean 16, std sqrt(160 / 3).
    conv = nn.Conv2d(1, 1, 2)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.zero_()
    model = nn.Sequential(conv, nn.Flatten(), nn.Linear(4, 2))
    stats = activation_stats(model, torch.arange(9.0).reshape(1, 1, 3, 3))
    assert isinstance(stats, ActivationStats) and stats.layers == ("0", "2")
    np.testing.assert_allclose(stats.mean, [4.0, 16.0], rtol=1e-6)
    np.testing.assert_allclose(stats.std, [np.sqrt(60 / 8), np.sqrt(160 / 3)], rtol=1e-6)


def test_activation_stats_follow_the_weighted_layers_and_start_at_the_image(digits64):
    x, _ = digits64
    model = small_net()
    model.eval()
    before, modes = bn_state(model), [m.training for m in model.modules()]
    stats = activation_stats(model, x)
    assert stats.layers == tuple(name for name, _ in weighted_layers(model)) and len(stats.layers) == 8
    assert stats.std[0] == pytest.approx(float(x.std()), rel=1e-6)
    assert stats.mean[0] == pytest.approx(float(x.mean()), abs=1e-6)
    # After batch norm on the batch's statistics and a ReLU, each channel's mean is E[max(z, 0)] = 1/sqrt(2 pi)
    # for a normal z: the second layer's input has mean about 0.4 (eval mode's running stats would not give it).
    assert 0.3 < stats.mean[1] < 0.5
    assert_unchanged(model, before, modes)


def test_activation_stats_remove_their_hooks_when_the_forward_pass_fails():
    model = small_net()
    model.train()
    before, modes = bn_state(model), [m.training for m in model.modules()]
    model.eval()
    eval_modes = [m.training for m in model.modules()]
    with pytest.raises(RuntimeError):
        activation_stats(model, torch.zeros(4, 3, 8, 8))  # three channels into a one-channel net
    assert_unchanged(model, before, eval_modes)
    assert modes != eval_modes


# --- train_with_gradient_norms -----------------------------------------------------------------

def test_trace_shapes_and_falling_loss(digits64):
    x, y = digits64
    trace = train_with_gradient_norms(small_net(), x, y, steps=20, batch_size=64, learning_rate=0.05)
    assert isinstance(trace, GradientTrace) and trace.status == "completed" and trace.steps_done == 20
    assert trace.losses.shape == (20,) and trace.norms.shape == (20, 8) and len(trace.layers) == 8
    assert trace.losses[0] > 2.0  # ten classes: about ln 10 = 2.3 before training
    assert trace.final_loss(5) < 0.5 * trace.losses[0]  # measured: 2.65 -> 0.60
    assert (trace.norms > 0).all()


def test_first_step_norms_are_gradient_norms_on_the_first_batch(digits64):
    x, y = digits64
    model = small_net()
    first = torch.randperm(len(x), generator=torch.Generator().manual_seed(7))[:16]
    expected = gradient_norms(copy.deepcopy(model), x[first], y[first])
    trace = train_with_gradient_norms(model, x, y, steps=2, batch_size=16, seed=7)
    np.testing.assert_allclose(trace.norms[0], expected.norms, rtol=1e-5)
    assert trace.losses[0] == pytest.approx(expected.loss, rel=1e-6)
    assert not np.allclose(trace.norms[1], expected.norms, rtol=1e-3)  # the second batch is another one


@pytest.mark.parametrize("n", [48, 56])
def test_batches_run_through_a_permutation_and_reshuffle_when_one_would_not_fit(digits64, n):
    # Batches of 16: steps 1-3 take places 0-15, 16-31 and 32-47 of a permutation of the n examples. With 48
    # the third batch fits exactly; with 56, 48 + 16 > 56 leaves 8 out. Either way step 4 draws a new permutation
    # and takes its places 0-15. Learning rate 0 keeps the weights, so each step's norms are gradient_norms on
    # its batch.
    x, y = digits64[0][:n], digits64[1][:n]
    model = small_net()
    generator = torch.Generator().manual_seed(3)
    first, second = torch.randperm(n, generator=generator), torch.randperm(n, generator=generator)
    batches = [first[:16], first[16:32], first[32:48], second[:16]]
    trace = train_with_gradient_norms(model, x, y, steps=4, batch_size=16, learning_rate=0.0, seed=3)
    for step, idx in enumerate(batches):
        np.testing.assert_allclose(trace.norms[step], gradient_norms(model, x[idx], y[idx]).norms, rtol=1e-5)


def test_on_step_stop_stops_the_run(digits64):
    x, y = digits64
    reports: list[StepReport] = []

    def on_step(report: StepReport) -> object:
        reports.append(report)
        return STOP if report.step == 3 else True  # only STOP stops

    trace = train_with_gradient_norms(small_net(), x, y, steps=10, batch_size=16, on_step=on_step)
    assert trace.status == "stopped" and trace.steps_done == 3 and trace.norms.shape == (3, 8)
    assert [(r.step, r.steps) for r in reports] == [(1, 10), (2, 10), (3, 10)]
    assert reports[0].layers == trace.layers and reports[0].layers[0] == "conv1"
    assert [r.loss for r in reports] == trace.losses.tolist()
    np.testing.assert_array_equal(reports[2].norms, trace.norms[2])


def test_a_huge_learning_rate_diverges(digits64):
    x, y = digits64
    # 1e10 overflows the loss within two steps for each of the seeds 0-11 (1e6 did for only 9 of them).
    trace = train_with_gradient_norms(small_net(batch_norm=False), x, y, steps=10, batch_size=16,
                                      learning_rate=1e10)
    assert trace.status == "diverged" and 1 <= trace.steps_done < 10
    assert np.isfinite(trace.losses).all() and trace.norms.shape == (trace.steps_done, 8)


def test_same_seed_same_trace_other_seed_other_trace(digits64):
    x, y = digits64
    runs = [train_with_gradient_norms(small_net(), x, y, steps=4, batch_size=16, seed=seed) for seed in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)
    np.testing.assert_array_equal(runs[0].norms, runs[1].norms)
    assert not np.array_equal(runs[0].losses, runs[2].losses)


@pytest.mark.parametrize(("steps", "batch_size"), [(0, 16), (5, 0)])
def test_no_steps_or_empty_batches_are_refused(digits64, steps, batch_size):
    x, y = digits64
    with pytest.raises(ValueError, match="at least 1"):
        train_with_gradient_norms(small_net(), x, y, steps=steps, batch_size=batch_size)


def test_final_loss_is_the_mean_of_the_last_window():
    trace = GradientTrace(("fc",), np.array([4.0, 3.0, 2.0, 1.0, 0.5]), np.ones((5, 1)))
    assert trace.final_loss(2) == 0.75 and trace.final_loss(3) == pytest.approx(7 / 6)
    assert trace.final_loss(20) == 2.1  # fewer steps than the window: all of them
    assert np.isnan(GradientTrace(("fc",), np.array([]), np.ones((0, 1))).final_loss())


# --- the degradation experiment ------------------------------------------------------------------

TINY = DegradationConfig(net=ResNetSpec(width=0.25, in_channels=1), shallow_depth=8, deep_depth=14, steps=3,
                         batch_size=16)


@pytest.mark.parametrize(("options", "message"), [
    ({"shallow_depth": 56, "deep_depth": 20}, "must have fewer layers"),
    ({"shallow_depth": 20, "deep_depth": 20}, "must have fewer layers"),
    ({"deep_depth": 51}, "depth must be 6n \\+ 2"),
    ({"shallow_depth": 5}, "depth must be 6n \\+ 2"),
    ({"steps": 0}, "at least 1"),
    ({"batch_size": 0}, "at least 1"),
    ({"learning_rate": 0.0}, "learning rate"),
])
def test_degradation_config_validation(options, message):
    with pytest.raises(ValueError, match=message):
        DegradationConfig(**options)


def test_specs_are_plain_and_resnet_shallow_then_deep():
    config = DegradationConfig(net=ResNetSpec(activation="tanh", batch_norm=False, residual=True))
    specs = config.specs()
    assert list(specs) == ["plain-20", "ResNet-20", "plain-56", "ResNet-56"]
    assert [(s.depth, s.residual) for s in specs.values()] == [(20, False), (20, True), (56, False), (56, True)]
    assert all(s.activation == "tanh" and not s.batch_norm for s in specs.values())


def test_a_small_degradation_experiment(digits64):
    x, y = digits64
    labels: list[tuple[str, int]] = []
    result = degradation_experiment(TINY, x, y, on_step=lambda label, report: labels.append((label, report.step)))
    assert isinstance(result, DegradationResult) and result.complete and result.config is TINY
    assert list(result.runs) == ["plain-8", "ResNet-8", "plain-14", "ResNet-14"]
    assert labels == [(label, step) for label in result.runs for step in (1, 2, 3)]
    assert [trace.norms.shape for trace in result.runs.values()] == [(3, 8), (3, 8), (3, 14), (3, 14)]
    # Each run is the run one would make by hand: the same seed for weights and batches.
    by_hand = train_with_gradient_norms(build_resnet(TINY.specs()["ResNet-14"], seed=0), x, y, steps=3,
                                        batch_size=16, learning_rate=TINY.learning_rate, seed=0)
    np.testing.assert_allclose(result.runs["ResNet-14"].norms, by_hand.norms, rtol=1e-5)


def test_stopping_in_the_second_run_keeps_two_runs(digits64):
    x, y = digits64
    result = degradation_experiment(TINY, x, y, on_step=lambda label, report: STOP if label == "ResNet-8"
                                    and report.step == 2 else None)
    assert list(result.runs) == ["plain-8", "ResNet-8"] and not result.complete
    assert result.runs["plain-8"].status == "completed" and result.runs["ResNet-8"].status == "stopped"
    assert result.runs["ResNet-8"].steps_done == 2
