"""cnnviz.analysis.effective_receptive_field: gradients of one unit by hand (Luo et al. 2016), the mass
fraction and the spread of the gradient in its box."""


import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.analysis.effective_receptive_field import (
    effective_receptive_field,
    gradient_mass_fraction,
    gradient_spread,
)
from cnnviz.analysis.receptive_field import receptive_fields
from cnnviz.models.cnn import lenet5
from tests.analysis.test_receptive_field import (  # OptionA: He et al. 2016 option-A downsampling block
    OptionA,
    by_name,
    constant_weights,
    nonzero_extent,
    seq,
)

# --- effective receptive field -----------------------------------------------------------------

def test_erf_is_shaped_like_the_input_and_non_negative():
    model = lenet5(seed=0)
    x = torch.randn(1, 28, 28)
    erf = effective_receptive_field(model, x, "conv2", (4, 4))
    assert erf.shape == (1, 28, 28) and erf.dtype == np.float64 and (erf >= 0).all()
    # Nothing outside conv2's window of unit (4, 4): centre 4.5 + 8 = 12.5, rows 6..19.
    top, left, bottom, right = nonzero_extent(erf)
    assert 6 <= top and bottom <= 19 and 6 <= left and right <= 19
    batched = effective_receptive_field(model, x[None], "conv2", (4, 4))
    np.testing.assert_allclose(batched, erf)
    from_numpy = effective_receptive_field(model, x.numpy(), "conv2", (4.0, np.int64(4)))
    np.testing.assert_allclose(from_numpy, erf)


def test_erf_of_a_linear_stack_fills_exactly_the_analytic_box():
    # conv 3 s2 then conv 3: size 7, jump 2, start 3; unit (2, 1): centre (7, 5): rows 4..10, cols 2..8.
    model = constant_weights(seq(("conv1", nn.Conv2d(1, 1, 3, stride=2)), ("conv2", nn.Conv2d(1, 1, 3))))
    erf = effective_receptive_field(model, torch.randn(1, 13, 13), "conv2", (2, 1))
    assert nonzero_extent(erf) == (4, 2, 10, 8)
    assert by_name(receptive_fields(model, (1, 13, 13)))["conv2"].box((2, 1), (13, 13)) == (4, 2, 10, 8)
    # Weights 1: the gradient at a pixel counts the conv1 units (rows 2..4, cols 1..3, each seeing rows
    # 2a..2a+2, cols 2b..2b+2) that see it. Row 7 is seen by a = 3 only, row 6 by a = 2 and 3 (the stride-2
    # windows overlap by one pixel); col 5 by b = 2 only, col 6 by b = 2 and 3.
    assert (erf[0, 7, 5], erf[0, 6, 5], erf[0, 6, 6], erf[0, 4, 2]) == (1.0, 2.0, 4.0, 1.0)


def test_erf_of_a_batch_is_the_mean_of_the_images_erfs():
    model = seq(("conv1", nn.Conv2d(2, 3, 3)), ("relu", nn.ReLU()), ("conv2", nn.Conv2d(3, 2, 3)))
    torch.manual_seed(0)
    batch = torch.randn(3, 2, 9, 9)
    each = [effective_receptive_field(model, image, "conv2", (2, 3)) for image in batch]
    assert not np.allclose(each[0], each[1])  # the ReLU makes the gradient depend on the image
    np.testing.assert_allclose(effective_receptive_field(model, batch, "conv2", (2, 3)), np.mean(each, axis=0),
                               rtol=1e-6, atol=1e-9)


def test_all_channels_is_the_sum_of_each_channel():
    model = constant_weights(seq(("conv1", nn.Conv2d(1, 3, 3)), ("conv2", nn.Conv2d(3, 2, 3))), 0.5)
    with torch.no_grad():
        model.conv2.weight[1] *= 2.0  # channel 1 twice as strong as channel 0
    x = torch.rand(1, 8, 8)
    per_channel = [effective_receptive_field(model, x, "conv2", (1, 2), channel=c) for c in range(2)]
    np.testing.assert_allclose(per_channel[1], 2 * per_channel[0])
    np.testing.assert_allclose(effective_receptive_field(model, x, "conv2", (1, 2)), sum(per_channel))


class Fails(nn.Module):
    """conv, then an error; or the error before the conv."""

    def __init__(self, fail_first: bool):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.fail_first = fail_first

    def forward(self, x):
        if self.fail_first:
            raise RuntimeError("broken before the layer")
        x = self.conv(x)
        raise RuntimeError("broken after the layer")


def test_hooks_are_removed_when_the_forward_raises():
    model = Fails(fail_first=True)
    with pytest.raises(RuntimeError, match="broken before the layer"):
        effective_receptive_field(model, torch.ones(1, 5, 5), "conv", (0, 0))
    assert len(model.conv._forward_hooks) == 0


def test_the_forward_stops_at_the_layer_and_leaves_no_hook():
    model = Fails(fail_first=False)  # raises after the layer: never reached
    erf = effective_receptive_field(model, torch.ones(1, 5, 5), "conv", (0, 0))
    assert nonzero_extent(erf) == (0, 0, 2, 2)
    assert len(model.conv._forward_hooks) == 0


class ModeSpy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.drop = nn.Dropout(0.9)
        self.seen: list[bool] = []

    def forward(self, x):
        self.seen.append(self.training)
        return self.conv(self.drop(x))


@pytest.mark.parametrize("training", [True, False])
def test_erf_runs_in_eval_mode_and_restores_the_flags(training):
    model = ModeSpy().train(training)
    x = torch.ones(1, 6, 6)
    first = effective_receptive_field(model, x, "conv", (1, 1))
    second = effective_receptive_field(model, x, "conv", (1, 1))
    assert model.seen == [False, False]
    np.testing.assert_array_equal(first, second)  # dropout off: the same result every time
    assert model.training is training and model.drop.training is training and model.conv.training is training


def test_erf_works_under_no_grad_and_with_an_in_place_first_layer():
    model = seq(("relu", nn.ReLU(inplace=True)), ("conv", nn.Conv2d(1, 1, 3)))
    with torch.no_grad():
        erf = effective_receptive_field(model, torch.rand(1, 5, 5) + 0.1, "conv", (1, 1))
    assert nonzero_extent(erf) == (1, 1, 3, 3)  # unit (1, 1) of a 3x3 conv: centre (2, 2)


def test_erf_of_a_function_node_such_as_a_residual_add():
    # OptionA's add: size 9, jump 2, start 0. Unit (1, 1): centre (2, 2), rows -2..6 -> 0..6 on 8 pixels.
    model = constant_weights(OptionA())
    add = by_name(receptive_fields(model, (2, 8, 8)))["add"]
    assert add.box((1, 1), (8, 8)) == (0, 0, 6, 6)
    erf = effective_receptive_field(model, torch.rand(2, 8, 8) + 0.1, "add", (1, 1))  # the name from the record
    assert nonzero_extent(erf) == (0, 0, 6, 6)
    with pytest.raises(ValueError, match="unknown layer 'add_7'"):
        effective_receptive_field(model, torch.rand(2, 8, 8), "add_7", (1, 1))


@pytest.mark.parametrize("layer, unit, channel, message", [
    ("conv9", (0, 0), None, "unknown layer 'conv9'"),
    ("", (0, 0), None, "unknown layer ''"),
    ("conv2", (10, 0), None, r"unit \(10, 0\) is outside the 10x10 map"),
    ("conv2", (0, -1), None, "outside"),
    ("conv2", (0, 0), 16, "channel 16 is outside the 16 channels"),
    ("fc1", (0, 0), None, "not a feature map"),
])
def test_erf_refuses_bad_requests(layer, unit, channel, message):
    with pytest.raises(ValueError, match=message):
        effective_receptive_field(lenet5(), torch.zeros(1, 28, 28), layer, unit, channel=channel)


# --- gradient mass fraction --------------------------------------------------------------------

def test_all_mass_in_one_pixel_needs_one_pixel():
    erf = np.zeros((6, 6))
    erf[2, 3] = 5.0
    erf[0, 0] = 100.0  # outside the box: ignored
    assert gradient_mass_fraction(erf, (1, 1, 5, 5)) == 1 / 25


def test_uniform_mass_needs_95_percent_of_the_pixels():
    # 25 equal pixels: 0.95 * 25 = 23.75 -> 24 pixels; with mass 1: all 25; with 0.5: 12.5 -> 13.
    erf = np.ones((2, 5, 5))  # channels are summed
    assert gradient_mass_fraction(erf, (0, 0, 4, 4)) == 24 / 25
    assert gradient_mass_fraction(erf, (0, 0, 4, 4), mass=1.0) == 1.0
    assert gradient_mass_fraction(erf, (0, 0, 4, 4), mass=0.5) == 13 / 25
    # 4x5 = 20 pixels: 0.95 * 20 = 19 exactly, no extra pixel for float noise.
    assert gradient_mass_fraction(erf, (0, 0, 3, 4)) == 19 / 20


def test_mass_fraction_takes_the_largest_pixels_first():
    # values 6, 3, 1, 0 (total 10): 95% = 9.5 needs 6 + 3 + 1 -> 3 of 4; 90% = 9 needs 6 + 3 -> 2 of 4.
    erf = np.array([[0.0, 6.0], [1.0, 3.0]])
    assert gradient_mass_fraction(erf, (0, 0, 1, 1)) == 3 / 4
    assert gradient_mass_fraction(erf, (0, 0, 1, 1), mass=0.9) == 2 / 4
    assert gradient_mass_fraction(np.zeros((3, 3)), (0, 0, 2, 2)) == 0.0


def test_mass_fraction_refuses_bad_input():
    with pytest.raises(ValueError, match="does not fit"):
        gradient_mass_fraction(np.ones((4, 4)), (0, 0, 4, 3))
    with pytest.raises(ValueError, match="mass"):
        gradient_mass_fraction(np.ones((4, 4)), (0, 0, 1, 1), mass=0.0)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        gradient_mass_fraction(np.ones(4), (0, 0, 1, 1))


# --- where the gradient lies in the box (the sentence beside the ERF is worded from these numbers) ---

def test_spread_of_a_gradient_that_fills_its_box():
    # The zoo LeNet-5's conv1: the gradient of a unit is |its 5x5 kernel|; 95% of it needs 21 of its 25 pixels
    # (on digits; MNIST's conv1 needs 22): counted by hand below from the sorted kernel.
    from cnnviz import load_zoo_model

    trained = load_zoo_model("lenet5-digits")
    prep = trained.info.preprocessing
    record = next(r for r in receptive_fields(trained.model, prep.input_shape) if r.name == "conv1")
    box = record.box((14, 14), (28, 28))
    erf = effective_receptive_field(trained.model, torch.zeros(prep.input_shape), "conv1", (14, 14), channel=0)
    spread = gradient_spread(erf, box)
    kernel = trained.model.conv1.weight.detach().abs()[0, 0].double().numpy()
    assert np.allclose(erf[0, 12:17, 12:17], kernel)
    weights = np.sort(kernel.ravel())[::-1]
    needed = int(np.searchsorted(np.cumsum(weights), 0.95 * weights.sum()) + 1)  # fewest pixels holding 95%
    assert needed == 21 and spread.fraction == pytest.approx(needed / 25) and spread.fraction >= 0.75
    assert spread.centre == (14.0, 14.0) and spread.mass == 0.95


def test_spread_of_a_gradient_that_peaks_off_centre():
    erf = np.full((9, 9), 0.1)
    erf[2, 7] = 5.0                                   # box rows/cols 1..7: centre (4, 4), half side 3
    spread = gradient_spread(erf, (1, 1, 7, 7))
    assert spread.peak == (2.0, 7.0)
    assert spread.peak_offset == pytest.approx(1.0)   # columns: |7 - 4| / 3, on the edge
    # the default view of the zoo LeNet-5 (test image 0, conv2 channel 0, unit (5, 5)) peaks off centre too
    from cnnviz import load_image_dataset, load_zoo_model

    trained, digits = load_zoo_model(), load_image_dataset("digits")
    record = next(r for r in receptive_fields(trained.model, (1, 28, 28)) if r.name == "conv2")
    x = trained.info.preprocessing.apply(digits.x_test[:1])[0]
    spread = gradient_spread(effective_receptive_field(trained.model, x, "conv2", (5, 5), channel=0),
                             record.box((5, 5), (28, 28)))
    assert spread.centre == (14.5, 14.5) and spread.peak_offset > 1 / 3


def test_spread_of_a_deep_linear_stack_is_small_and_central():
    # Ten 3x3 convolutions of ones: the gradient is a 2-D binomial bump over a 21x21 box (Luo et al. 2016).
    layers = [nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(10)]
    for conv in layers:
        nn.init.ones_(conv.weight)
    model = nn.Sequential(*layers)
    record = receptive_fields(model, (1, 29, 29))[-1]
    box = record.box((14, 14), (29, 29))
    assert box == (4, 4, 24, 24)
    spread = gradient_spread(effective_receptive_field(model, torch.zeros(1, 29, 29), "9", (14, 14)), box)
    assert spread.peak == (14.0, 14.0) and spread.peak_offset == 0.0
    assert spread.fraction < 0.35
    one_axis = np.array([float(np.polynomial.polynomial.polypow([1, 1, 1], 10)[i]) for i in range(21)])
    bump = np.outer(one_axis, one_axis)               # the exact gradient: trinomial coefficients per axis
    assert spread.fraction == pytest.approx(gradient_mass_fraction(bump, (0, 0, 20, 20)), abs=1 / 441)


def test_spread_of_ties_and_of_no_gradient():
    flat = gradient_spread(np.ones((1, 6, 6)), (0, 0, 5, 5))
    assert flat.peak == (2.5, 2.5) and flat.peak_offset == 0.0      # a flat gradient peaks in the middle
    assert gradient_spread(np.ones((3, 1)), (0, 0, 2, 0)).peak_offset == 0.0   # one column: no offset across
    none = gradient_spread(np.zeros((5, 5)), (1, 1, 3, 3))
    assert (none.fraction, none.peak, none.peak_offset, none.centre) == (0.0, None, None, (2.0, 2.0))
    with pytest.raises(ValueError, match="does not fit"):
        gradient_spread(np.ones((5, 5)), (0, 0, 5, 5))


def test_receptive_fields_and_the_erf_of_a_float64_model():
    # A float64 model once failed: its receptive fields were traced with a float32 input.
    model = lenet5().double()
    records = {r.name: r for r in receptive_fields(model, (1, 28, 28))}
    assert records["conv2"].size == (14, 14) and records["pool2"].jump == (4, 4)
    erf = effective_receptive_field(model, torch.rand(1, 28, 28), "conv2", (5, 5), channel=0)  # float32 input
    assert erf.shape == (1, 28, 28) and erf.any()
    box = records["conv2"].box((5, 5), (28, 28))
    inside = np.zeros_like(erf, dtype=bool)
    inside[:, box[0]:box[2] + 1, box[1]:box[3] + 1] = True
    assert not erf[~inside].any()


def test_a_batch_in_several_passes_gives_the_mean_of_one_pass(monkeypatch):
    # A large input goes through in passes of about _VALUES_PER_PASS input values (32 ImageNet photos at once
    # held 2.6 GB): the mean of |gradient| must not depend on how the batch is cut.
    import cnnviz.analysis.effective_receptive_field as erf_module
    from cnnviz.models.cnn import lenet5

    model = lenet5()
    x = torch.randn(7, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    whole = effective_receptive_field(model, x, "conv2", (5, 5), channel=2)
    monkeypatch.setattr(erf_module, "_VALUES_PER_PASS", 2 * 28 * 28)   # 2 images a pass: 4 passes, the last of 1
    cut = effective_receptive_field(model, x, "conv2", (5, 5), channel=2)
    assert np.allclose(cut, whole, rtol=1e-12, atol=0) and cut.shape == (1, 28, 28)
    by_hand = np.mean([effective_receptive_field(model, x[i], "conv2", (5, 5), channel=2) for i in range(7)], axis=0)
    assert np.allclose(whole, by_hand, rtol=1e-12, atol=0)
