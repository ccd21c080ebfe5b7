"""cnnviz.analysis.equivariance: shifts by hand, the project's done-when checks and compared regions by hand.

Notation: S shifts the image by (dy, dx) pixels, S' shifts a layer's map by
(dy, dx) / jump units. For the toy stack (3x3 convolutions, padding 1, stride 1)
the receptive field of conv k has size 2k + 1 and unit u is centred on input
pixel u, so its window is u - k .. u + k.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.analysis.equivariance import (
    EquivarianceView,
    LayerEquivariance,
    equivariance_errors,
    equivariance_view,
    shift_image,
    toy_spec,
)
from cnnviz.analysis.features import feature_maps
from cnnviz.models.cnn import build_model, lenet5

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None)
TINY = 1e-5
X = torch.rand(1, 32, 32, generator=torch.Generator().manual_seed(0))

# 1x3x3, values 1..9:  1 2 3 / 4 5 6 / 7 8 9
GRID = torch.arange(1.0, 10.0).reshape(1, 3, 3)


def by_name(layers):
    return {layer.name: layer for layer in layers}


def whole_map_error(model, x, shift, layer):
    """||f(Sx) - S'f(x)|| / ||S'f(x)|| over every unit of the map, borders included (zero fill)."""
    f_x = torch.from_numpy(feature_maps(model, x)[layer])
    f_sx = torch.from_numpy(feature_maps(model, shift_image(x, shift))[layer])
    expected = shift_image(f_x, shift)  # stride 1: the map shift is the image shift
    return float((f_sx - expected).norm() / expected.norm())


# --- shift_image by hand -------------------------------------------------------------------------

def test_zero_shift_moves_down_right_and_fills_zeros():
    assert shift_image(GRID, (1, 1)).tolist() == [[[0, 0, 0], [0, 1, 2], [0, 4, 5]]]
    assert shift_image(GRID, (0, 2)).tolist() == [[[0, 0, 1], [0, 0, 4], [0, 0, 7]]]


def test_negative_zero_shift_moves_up_left():
    assert shift_image(GRID, (-1, 0)).tolist() == [[[4, 5, 6], [7, 8, 9], [0, 0, 0]]]
    assert shift_image(GRID, (-2, -1)).tolist() == [[[8, 9, 0], [0, 0, 0], [0, 0, 0]]]


def test_circular_shift_wraps_both_ways():
    assert shift_image(GRID, (1, 1), mode="circular").tolist() == [[[9, 7, 8], [3, 1, 2], [6, 4, 5]]]
    assert shift_image(GRID, (-1, -2), mode="circular").tolist() == [[[6, 4, 5], [9, 7, 8], [3, 1, 2]]]


def test_a_shift_past_the_edge_leaves_zeros_and_a_batch_shifts_each_image():
    assert shift_image(GRID, (3, 0)).abs().sum() == 0 and shift_image(GRID, (0, -5)).abs().sum() == 0
    batch = torch.stack([GRID, 10 * GRID])
    out = shift_image(batch, (1, 1))
    assert out.shape == (2, 1, 3, 3) and out[1].tolist() == [[[0, 0, 0], [0, 10, 20], [0, 40, 50]]]
    assert shift_image(GRID, (0, 0)) is not GRID and torch.equal(shift_image(GRID, (0, 0)), GRID)


@pytest.mark.parametrize("shift", [(1.5, 0), (True, 0), (1,), "ab"])
def test_shift_must_be_two_whole_numbers(shift):
    with pytest.raises(ValueError, match="shift"):
        shift_image(GRID, shift)


def test_bad_mode_and_shape_are_refused():
    with pytest.raises(ValueError, match="mode"):
        shift_image(GRID, (1, 0), mode="reflect")
    with pytest.raises(ValueError, match="shape"):
        shift_image(GRID[0], (1, 0))


@FUZZ
@given(dy=st.integers(-4, 4), dx=st.integers(-4, 4), h=st.integers(1, 4), w=st.integers(1, 4))
def test_zero_shift_agrees_with_a_pixel_by_pixel_reference(dy, dx, h, w):
    x = torch.arange(1.0, h * w + 1).reshape(1, h, w)
    expected = np.zeros((1, h, w))
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                expected[0, r, c] = x[0, r - dy, c - dx]
    np.testing.assert_array_equal(shift_image(x, (dy, dx)).numpy(), expected)
    # A circular shift is undone by the opposite one.
    assert torch.equal(shift_image(shift_image(x, (dy, dx), mode="circular"), (-dy, -dx), mode="circular"), x)


# --- the toy stack ---------------------------------------------------------------------------------

def test_toy_spec_is_three_padded_3x3_convolutions_with_the_knobs_on_the_second():
    spec = toy_spec(padding_mode="circular", stride=2, pool="avg", size=16, in_channels=3)
    assert [(c.out_channels, c.kernel_size, c.padding) for c in spec.convs] == [(4, 3, 1)] * 3
    assert [(c.stride, c.pool) for c in spec.convs] == [(1, None), (2, "avg"), (1, None)]
    assert (spec.padding_mode, spec.input_size, spec.in_channels, spec.num_classes) == ("circular", 16, 3, 2)
    model = build_model(spec, seed=0)
    # 16 -> conv1 16 -> conv2 (stride 2) 8 -> pool 4 -> conv3 4
    assert model.conv1.padding_mode == "circular" and model(torch.zeros(1, 3, 16, 16)).shape == (1, 2)
    assert feature_maps(model, torch.zeros(3, 16, 16))["conv3"].shape == (4, 4, 4)


# --- done-when 1: circular padding, stride 1: exactly equivariant ----------------------------------

@pytest.mark.parametrize("shift", [(3, -5), (1, 0), (0, 7), (-9, 12), (32, 0)])
def test_circular_padding_makes_a_stride_1_stack_exactly_equivariant(shift):
    model = build_model(toy_spec(padding_mode="circular"), seed=0)
    layers = equivariance_errors(model, X, shift, mode="circular")
    assert [layer.name for layer in layers] == ["conv1", "relu1", "conv2", "relu2", "conv3", "relu3"]
    for layer in layers:
        assert layer.error < TINY, layer
        assert (layer.jump, layer.exact, layer.compared) == ((1, 1), True, 32 * 32)
        assert layer.map_shift == (float(shift[0]), float(shift[1]))


def test_circular_comparison_can_fail_a_zero_padded_stack():
    # The same shift on a zero-padded stack: wrapping puts the far edge next to the near one.
    model = build_model(toy_spec(padding_mode="zeros"), seed=0)
    assert all(layer.error > 1e-3 for layer in equivariance_errors(model, X, (3, -5), mode="circular"))


# --- done-when 2: zero padding: equivariant away from the borders ----------------------------------

@pytest.mark.parametrize("shift", [(3, -5), (-2, 0), (0, 6)])
def test_zero_padding_is_exactly_equivariant_away_from_the_borders_only(shift):
    model = build_model(toy_spec(padding_mode="zeros"), seed=0)
    layers = equivariance_errors(model, X, shift, mode="zeros")
    for layer in layers:
        assert layer.error < TINY and layer.compared > 0, layer
    # The whole map, borders included, is clearly not equivariant: the borders matter.
    for name in ("conv1", "conv2", "conv3"):
        assert whole_map_error(model, X, shift, name) > 1e-3, name


def test_compared_units_by_hand_for_a_zero_shift_of_3_down_and_5_left():
    # Content of Sx: rows 3..31, cols 0..26. Window of conv k unit u: u - k .. u + k.
    # Rows: u - k >= 3 and u + k <= 31 -> 3 + k .. 31 - k (u - 3 is always in the map);
    # cols: u - k >= 0 and u + k <= 26 -> k .. 26 - k. conv1: 27 x 25, conv2: 25 x 23, conv3: 23 x 21.
    model = build_model(toy_spec(), seed=0)
    counts = {layer.name: layer.compared for layer in equivariance_errors(model, X, (3, -5))}
    assert counts == {"conv1": 675, "relu1": 675, "conv2": 575, "relu2": 575, "conv3": 483, "relu3": 483}


# --- done-when 3: stride 2: equivariant only for multiples of 2 ------------------------------------

def test_a_stride_2_stack_is_equivariant_for_shifts_that_are_multiples_of_2():
    model = build_model(toy_spec(stride=2, padding_mode="circular"), seed=0)
    layers = by_name(equivariance_errors(model, X, (2, 4), mode="circular"))
    for layer in layers.values():
        assert layer.error < TINY and layer.exact, layer
    # After the strided conv the units are 2 pixels apart: a map of 16x16 moving by (1, 2).
    assert (layers["conv2"].jump, layers["conv2"].map_shift, layers["conv2"].compared) == ((2, 2), (1.0, 2.0), 256)
    assert (layers["relu3"].jump, layers["relu3"].map_shift) == ((2, 2), (1.0, 2.0))


def test_a_stride_2_stack_is_not_equivariant_for_a_shift_of_1():
    model = build_model(toy_spec(stride=2, padding_mode="circular"), seed=0)
    layers = by_name(equivariance_errors(model, X, (1, 0), mode="circular"))
    for name in ("conv1", "relu1"):  # before the stride: still exact
        assert layers[name].exact and layers[name].error < TINY, layers[name]
    for name in ("conv2", "relu2", "conv3", "relu3"):
        layer = layers[name]
        assert not layer.exact and layer.error > 1e-2, layer
        # Half a unit cannot be a whole map shift: the nearest one (halves away from 0) is used, and said.
        assert layer.map_shift == (0.5, 0.0) and layer.applied_shift == (1, 0)


def test_pooling_after_a_stride_1_conv_also_needs_multiples_of_its_jump():
    model = build_model(toy_spec(pool="max"), seed=0)
    layers = by_name(equivariance_errors(model, X, (1, 0)))
    assert layers["relu2"].exact and layers["relu2"].error < TINY
    assert layers["pool2"].jump == (2, 2) and not layers["pool2"].exact and layers["pool2"].error > 1e-2
    assert all(layer.error < TINY for layer in equivariance_errors(model, X, (4, -2)))


# --- LeNet-5 by hand -------------------------------------------------------------------------------

def test_lenet5_jumps_and_map_shifts_by_hand():
    # conv1 (padding 2) jump 1; each 2x2 pool doubles the jump: pool1 2, conv2 2, pool2 4.
    # pool2: size 16, start 5.5, so unit u sees rows 4u - 2 .. 4u + 13 of a 5x5 map. Content of Sx
    # for (4, 0): rows 4..27 -> u in {2, 3}; cols 0..27 -> u in {1, 2, 3}: 2 x 3 = 6 units.
    x = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1))
    layers = by_name(equivariance_errors(lenet5(seed=0), x, (4, 0)))
    assert list(layers) == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]  # no fc layers
    assert layers["conv1"] == LayerEquivariance("conv1", (1, 1), (4.0, 0.0), True, layers["conv1"].error, 480,
                                                layers["conv1"].full_error)
    assert (layers["pool1"].jump, layers["pool1"].map_shift) == ((2, 2), (2.0, 0.0))
    assert (layers["pool2"].jump, layers["pool2"].map_shift, layers["pool2"].compared) == ((4, 4), (1.0, 0.0), 6)
    assert all(layer.exact and layer.error < TINY for layer in layers.values())


def test_circular_padding_has_no_edge_error_so_the_whole_map_equals_the_compared_one():
    model = build_model(toy_spec(padding_mode="circular"), seed=0)
    for layer in equivariance_errors(model, X, (3, -5), mode="circular"):
        assert layer.compared == 32 * 32 and layer.full_error == layer.error < TINY


def test_a_region_with_no_unit_gives_nan():
    # A shift of 20 rows leaves content rows 20..27: no pool2 window (16 rows) fits.
    layers = by_name(equivariance_errors(lenet5(seed=0), torch.rand(1, 28, 28), (20, 0)))
    assert layers["pool2"].compared == 0 and math.isnan(layers["pool2"].error)
    assert layers["conv1"].compared > 0


# --- equivariance_view -----------------------------------------------------------------------------

def test_view_difference_covers_the_whole_map_and_the_compared_region_is_marked():
    model = build_model(toy_spec(), seed=0)
    view = equivariance_view(model, X, (3, -5), "conv1", 2)
    assert isinstance(view, EquivarianceView) and (view.layer, view.channel) == ("conv1", 2)
    assert (view.map_shift, view.exact) == ((3, -5), True)
    # conv1 compares rows 4..30 and cols 1..25 (see the hand count above).
    expected = np.zeros((32, 32), dtype=bool)
    expected[4:31, 1:26] = True
    np.testing.assert_array_equal(view.compared, expected)
    np.testing.assert_array_equal(view.compared_region, expected)
    layer = by_name(equivariance_errors(model, X, (3, -5)))["conv1"]
    assert layer.compared == view.compared.sum() == 27 * 25
    # The difference is everywhere (no blank edges): ~0 inside the box, clearly not along the edges.
    assert np.isfinite(view.difference).all()
    np.testing.assert_allclose(view.difference, view.f_shifted_x - view.shifted_f_x, rtol=1e-6, atol=1e-6)
    assert np.abs(view.difference[expected]).max() < TINY
    assert np.abs(view.difference[~expected]).max() > 1e-2
    # The reported numbers say which region they measure: `error` the box, `full_error` the whole map.
    assert layer.error < TINY < 1e-2 < layer.full_error


def test_view_maps_are_the_feature_maps_and_their_shifts():
    model = build_model(toy_spec(stride=2), seed=0)
    view = equivariance_view(model, X, (2, -4), "relu3", 1)
    maps = feature_maps(model, X)
    np.testing.assert_array_equal(view.f_x, maps["relu3"][1])
    np.testing.assert_array_equal(view.f_shifted_x, feature_maps(model, shift_image(X, (2, -4)))["relu3"][1])
    # jump 2: the map moves by (1, -2) units with a zero fill.
    assert view.map_shift == (1, -2) and view.f_x.shape == view.difference.shape == (16, 16)
    np.testing.assert_array_equal(view.shifted_f_x[1:, :-2], view.f_x[:-1, 2:])
    assert (view.shifted_f_x[0] == 0).all() and (view.shifted_f_x[:, -2:] == 0).all()
    np.testing.assert_allclose(view.difference, view.f_shifted_x - view.shifted_f_x)


def test_view_in_circular_mode_compares_every_unit_and_says_when_not_exact():
    model = build_model(toy_spec(stride=2, padding_mode="circular"), seed=0)
    view = equivariance_view(model, X, (1, 0), "conv2", 0, mode="circular")
    assert view.compared.all() and (view.map_shift, view.exact) == ((1, 0), False)
    np.testing.assert_array_equal(view.shifted_f_x, np.roll(view.f_x, 1, axis=0))
    assert np.abs(view.difference).max() > 1e-2


def test_view_refuses_unknown_layers_maps_without_a_window_and_bad_channels():
    model = build_model(toy_spec(), seed=0)
    with pytest.raises(ValueError, match="Unknown layer"):
        equivariance_view(model, X, (1, 0), "conv9", 0)
    with pytest.raises(ValueError, match="receptive field"):
        equivariance_view(model, X, (1, 0), "fc1", 0)
    with pytest.raises(ValueError, match="channels 0 to 3"):
        equivariance_view(model, X, (1, 0), "conv1", 4)
    with pytest.raises(ValueError, match="one image"):
        equivariance_errors(model, X[None], (1, 0))


def test_toy_model_is_seeded_and_described_for_the_pages():
    from cnnviz import toy_model

    first, second = toy_model(padding_mode="circular", stride=2), toy_model(padding_mode="circular", stride=2)
    assert first.info.spec == toy_spec(padding_mode="circular", stride=2)
    assert first.info.preprocessing.input_shape == (1, 32, 32)
    for key, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[key])
