"""cnnviz.analysis.convolution: one output value recomputed by hand equals what the layer gave."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.convolution import ConvolutionStep, convolution_positions, convolution_step
from cnnviz.models.cnn import lenet5
from cnnviz.models.zoo import load_zoo_model

ATOL = 1e-5
DEPTHWISE = "blocks.1.depthwise.conv"


def seeded(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def wrapped(conv: nn.Conv2d, *after: nn.Module) -> nn.Sequential:
    """A model of `conv` (named "conv") and the given modules ("after0", ...)."""
    return nn.Sequential(OrderedDict([("conv", conv), *((f"after{i}", m) for i, m in enumerate(after))]))


def seeded_conv(*args, seed: int = 0, **kwargs) -> nn.Conv2d:
    """An nn.Conv2d whose weights and bias are drawn from a generator of its own (not torch's global one)."""
    conv = nn.Conv2d(*args, **kwargs)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in conv.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return conv


def assert_consistent(step: ConvolutionStep) -> None:
    """The step's own arithmetic holds and it agrees with the layer's recorded output."""
    np.testing.assert_allclose(step.products, step.patch * step.kernel)
    np.testing.assert_allclose(step.channel_sums, step.products.sum(axis=(1, 2)))
    assert step.total == pytest.approx(step.channel_sums.sum() + step.bias, abs=1e-12)
    assert step.total == pytest.approx(step.output, abs=ATOL)
    assert step.output == pytest.approx(step.output_map[step.position], abs=0)
    assert (step.patch[step.padded] == 0).all() or step.padding_mode != "zeros"
    assert step.patch.dtype == step.kernel.dtype == np.float64 and step.padded.dtype == bool


@pytest.fixture(scope="module")
def lenet():
    return lenet5(seed=0)


@pytest.fixture(scope="module")
def efficientnet():
    return load_zoo_model("efficientnet-lite0-imagenet").model


# --- LeNet-5 -------------------------------------------------------------------------------------

def test_lenet5_conv1_at_the_corner_reads_zero_padding(lenet):
    step = convolution_step(lenet, seeded(1, 28, 28), "conv1", 2, (0, 0))
    assert_consistent(step)
    assert step.window == (-2, -2, 2, 2) and step.padding == (2, 2) and step.stride == (1, 1)
    expected = np.zeros((1, 5, 5), dtype=bool)
    expected[:, :2, :] = expected[:, :, :2] = True
    np.testing.assert_array_equal(step.padded, expected)  # 16 of the 25 cells lie on padding
    assert (step.patch[step.padded] == 0).all()
    assert step.input_channels == (0,) and step.groups == 1 and step.padding_mode == "zeros"


def test_lenet5_conv1_in_the_centre_has_no_padding(lenet):
    x = seeded(1, 28, 28)
    step = convolution_step(lenet, x, "conv1", 4, (14, 14))
    assert_consistent(step)
    assert step.window == (12, 12, 16, 16) and not step.padded.any()
    np.testing.assert_allclose(step.patch[0], x[0, 12:17, 12:17].double().numpy())
    np.testing.assert_allclose(step.kernel, lenet.conv1.weight[4].detach().double().numpy())
    assert step.bias == pytest.approx(float(lenet.conv1.bias[4].detach()))
    np.testing.assert_allclose(step.input_map, x[0].double().numpy())


def test_lenet5_conv2_sums_over_six_input_channels(lenet):
    for channel, position in ((0, (0, 0)), (5, (3, 4)), (15, (9, 9))):
        step = convolution_step(lenet, seeded(1, 28, 28, seed=3).numpy(), "conv2", channel, position)  # numpy in
        assert_consistent(step)
        assert step.patch.shape == step.kernel.shape == (6, 5, 5) and step.channel_sums.shape == (6,)
        assert step.input_channels == tuple(range(6)) and not step.padded.any()
        assert step.output_map.shape == (10, 10)


def test_lenet5_conv1_names_its_relu_and_applies_it(lenet):
    signs = set()
    for position in ((0, 0), (5, 9), (14, 14), (27, 3), (20, 20)):
        for channel in range(6):
            step = convolution_step(lenet, seeded(1, 28, 28, seed=1), "conv1", channel, position)
            assert step.activation == "ReLU" and step.activation_layer == "relu1"
            assert step.activated == max(0.0, step.total)
            signs.add(step.total > 0)
    assert signs == {True, False}  # both sides of the ReLU were seen


# --- a hand-made convolution: stride, padding, dilation, groups, bias or not -----------------------

@pytest.mark.parametrize("bias", [True, False])
def test_strided_dilated_grouped_convolution_equals_its_output(bias):
    conv = seeded_conv(4, 6, 3, stride=2, padding=1, dilation=2, groups=2, bias=bias)
    model = wrapped(conv)
    x = seeded(4, 9, 11, seed=2)
    rows, cols = convolution_positions(model, (4, 9, 11), "conv")
    assert (rows, cols) == (4, 5)  # (9 + 2 - 2*2 - 1) // 2 + 1, (11 + 2 - 4 - 1) // 2 + 1
    for channel in range(6):
        for position in ((0, 0), (rows - 1, cols - 1), (1, 2), (0, cols - 1)):
            step = convolution_step(model, x, "conv", channel, position)
            assert_consistent(step)
            group = channel // 3
            assert step.input_channels == (2 * group, 2 * group + 1) and step.patch.shape == (2, 3, 3)
            assert step.stride == (2, 2) and step.dilation == (2, 2) and step.padding == (1, 1) and step.groups == 2
            row, col = position
            assert step.window == (2 * row - 1, 2 * col - 1, 2 * row + 3, 2 * col + 3)
            assert step.bias == (pytest.approx(float(conv.bias[channel].detach())) if bias else 0.0)
            assert step.activation is None and step.activated is None  # nothing follows
    corner = convolution_step(model, x, "conv", 0, (0, 0))  # rows -1, 1, 3: only row -1 and col -1 are padding
    assert corner.padded[0, 0].all() and corner.padded[0, :, 0].all() and corner.padded[0, 1:, 1:].sum() == 0


@pytest.mark.parametrize("mode", ["reflect", "circular", "replicate"])
def test_other_padding_modes_read_the_padded_values(mode):
    model = wrapped(seeded_conv(2, 3, 3, padding=2, dilation=2, padding_mode=mode, seed=1))
    x = seeded(2, 7, 8, seed=4)
    reference = F.pad(x[None].double(), (2, 2, 2, 2), mode=mode)[0]  # (left, right, top, bottom)
    for position in ((0, 0), (6, 7), (3, 0), (0, 5)):
        step = convolution_step(model, x, "conv", 1, position)
        assert_consistent(step)
        assert step.padding_mode == mode
        top, left, bottom, right = step.window
        expected = reference[:, top + 2:bottom + 3:2, left + 2:right + 3:2].numpy()
        np.testing.assert_allclose(step.patch, expected)
        assert step.padded.any() and (step.patch[step.padded] != 0).any()  # not zeros: the map's own values


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_padding_same_with_an_even_kernel_pads_the_odd_one_after():
    model = wrapped(seeded_conv(1, 2, 4, padding="same", seed=2))
    x = seeded(1, 6, 6, seed=5)
    assert convolution_positions(model, (1, 6, 6), "conv") == (6, 6)
    for position in ((0, 0), (5, 5), (2, 3)):
        step = convolution_step(model, x, "conv", 1, position)
        assert_consistent(step)
        assert step.padding == (1, 1) and step.window[:2] == (position[0] - 1, position[1] - 1)


def test_an_inplace_relu_after_the_convolution_does_not_change_what_was_recorded():
    model = wrapped(seeded_conv(1, 4, 3, seed=3), nn.ReLU(inplace=True))
    steps = [convolution_step(model, seeded(1, 6, 6, seed=6), "conv", c, (2, 2)) for c in range(4)]
    for step in steps:
        assert_consistent(step)  # negative totals too: the output was copied before the ReLU ran
        assert step.activation == "ReLU" and step.activated == max(0.0, step.total)
    assert min(step.total for step in steps) < 0


@pytest.mark.parametrize("module, function", [
    (nn.ReLU6(), lambda t: min(max(0.0, t), 6.0)), (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda t: 1 / (1 + np.exp(-t))), (nn.LeakyReLU(0.1), lambda t: t if t > 0 else 0.1 * t)])
def test_the_activation_that_directly_follows_is_applied_to_the_total(module, function):
    conv = seeded_conv(1, 1, 3, seed=4)
    with torch.no_grad():
        conv.weight.mul_(20)  # totals beyond 6 and below 0, so ReLU6's clipping shows
    model = wrapped(conv, module)
    totals = []
    for position in ((0, 0), (1, 3), (3, 1), (2, 2)):
        step = convolution_step(model, seeded(1, 6, 6, seed=7), "conv", 0, position)
        assert step.activation == type(module).__name__ and step.activation_layer == "after0"
        assert step.activated == pytest.approx(function(step.total), abs=1e-12)
        totals.append(step.total)
    assert min(totals) < 0 and max(totals) > 6


def test_an_activation_after_something_else_is_not_named():
    # conv -> batch norm -> ReLU: the ReLU does not act on the convolution's output
    model = wrapped(seeded_conv(1, 2, 3, seed=5), nn.BatchNorm2d(2), nn.ReLU())
    step = convolution_step(model, seeded(1, 5, 5), "conv", 1, (1, 1))
    assert step.activation is None and step.activation_layer is None and step.activated is None


# --- EfficientNet-Lite0: a depthwise convolution ------------------------------------------------

def test_efficientnet_depthwise_convolution_reads_one_input_channel(efficientnet):
    x = seeded(3, 224, 224, seed=8)
    rows, cols = convolution_positions(efficientnet, (3, 224, 224), DEPTHWISE)
    assert (rows, cols) == (56, 56)  # stem and this block both have stride 2
    for channel, position in ((0, (0, 0)), (37, (20, 41)), (95, (55, 55))):
        step = convolution_step(efficientnet, x, DEPTHWISE, channel, position)
        assert_consistent(step)
        assert step.patch.shape == (1, 3, 3) and step.input_channels == (channel,)
        assert step.groups == 96 and step.stride == (2, 2) and step.bias == 0.0
        # Its padding is a ZeroPad2d module of its own ("blocks.1.depthwise.pad"): the convolution pads nothing.
        assert step.padding == (0, 0) and not step.padded.any() and step.input_map.shape == (113, 113)
        # Batch norm follows, then ReLU6: no activation directly follows the convolution.
        assert step.activation is None and step.activated is None


# --- a 3x3 example checked by hand ----------------------------------------------------------------

def hand_conv(padding: int) -> nn.Conv2d:
    conv = nn.Conv2d(1, 1, 3, padding=padding)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1., 0., -1.], [2., 1., 0.], [0., -1., 1.]]).reshape(1, 1, 3, 3))
        conv.bias.fill_(1.0)
    return conv


def test_a_hand_computed_example():
    x = torch.tensor([[1., 2., 0., 1.],
                      [0., 1., 3., 2.],
                      [2., 1., 0., 1.],
                      [1., 0., 2., 3.]])[None]
    step = convolution_step(wrapped(hand_conv(0)), x, "conv", 0, (1, 1))
    # Window rows 1-3, cols 1-3: patch [[1, 3, 2], [1, 0, 1], [0, 2, 3]].
    # Products with [[1, 0, -1], [2, 1, 0], [0, -1, 1]]: [[1, 0, -2], [2, 0, 0], [0, -2, 3]], sum 2; + bias 1 = 3.
    np.testing.assert_array_equal(step.patch[0], [[1, 3, 2], [1, 0, 1], [0, 2, 3]])
    np.testing.assert_array_equal(step.products[0], [[1, 0, -2], [2, 0, 0], [0, -2, 3]])
    assert step.window == (1, 1, 3, 3) and step.channel_sums.tolist() == [2.0]
    assert step.bias == 1.0 and step.total == 3.0 and step.output == 3.0

    # The same weights with zero padding 1, at (0, 0): window rows -1..1, cols -1..1.
    step = convolution_step(wrapped(hand_conv(1)), x, "conv", 0, (0, 0))
    # Patch [[0, 0, 0], [0, 1, 2], [0, 0, 1]]; products [[0, 0, 0], [0, 1, 0], [0, 0, 1]], sum 2; + bias 1 = 3.
    np.testing.assert_array_equal(step.patch[0], [[0, 0, 0], [0, 1, 2], [0, 0, 1]])
    np.testing.assert_array_equal(step.padded[0], [[True] * 3, [True, False, False], [True, False, False]])
    assert step.window == (-1, -1, 1, 1) and step.total == 3.0 and step.output == 3.0


# --- the model is left as it was; errors -------------------------------------------------------------

def test_the_model_is_left_unchanged():
    model = lenet5(seed=0).train()
    model.pool1.eval()  # a mixed state that model.train() afterwards would not restore
    modes = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    convolution_step(model, seeded(1, 28, 28), "conv2", 3, (4, 4))
    with pytest.raises(ValueError):
        convolution_step(model, seeded(1, 28, 28), "conv2", 3, (10, 0))  # fails after the forward
    assert [m.training for m in model.modules()] == modes
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_errors_name_what_is_wrong(lenet):
    x = seeded(1, 28, 28)
    with pytest.raises(ValueError, match=r"'relu1' is a ReLU, not a Conv2d.*conv1, conv2"):
        convolution_step(lenet, x, "relu1", 0, (0, 0))
    with pytest.raises(ValueError, match=r"'conv9' is no such layer.*conv1, conv2"):
        convolution_step(lenet, x, "conv9", 0, (0, 0))
    with pytest.raises(ValueError, match="not a Conv2d"):
        convolution_positions(lenet, (1, 28, 28), "fc1")
    for channel in (6, -1):
        with pytest.raises(ValueError, match=r"output channels 0 to 5"):
            convolution_step(lenet, x, "conv1", channel, (0, 0))
    with pytest.raises(ValueError, match="whole number"):
        convolution_step(lenet, x, "conv1", 1.5, (0, 0))
    for position in ((28, 0), (0, -1), (-1, 3)):
        with pytest.raises(ValueError, match=r"outside the 28x28 output map of 'conv1'"):
            convolution_step(lenet, x, "conv1", 0, position)
    with pytest.raises(ValueError, match=r"\(row, col\)"):
        convolution_step(lenet, x, "conv1", 0, (1, 2, 3))
    with pytest.raises(ValueError, match=r"one input \(C, H, W\)"):
        convolution_step(lenet, x[None], "conv1", 0, (0, 0))
