"""cnnviz.analysis.pooling: pooling by hand and against torch, transforms, invariance curves, pooling stages."""

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.invariance import InvarianceCurves, invariance_curves, transform_image
from cnnviz.analysis.pooling import (
    PoolingStage,
    PoolResult,
    binomial_kernel,
    is_pooling_kind,
    pool,
    pooling_stages,
)
from cnnviz.models.cnn import lenet5

LENET_ORDER = ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
               "fc1", "relu_fc1", "fc2", "relu_fc2", "fc3")

# A 4x4 map with no ties inside any 2x2 or 3x3 window.
M = np.array([[1, 5, 0, 2],
              [3, 2, 7, 1],
              [0, 4, 1, 9],
              [8, 1, 6, 3]], dtype=np.float32)


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


# --- pool: by hand -----------------------------------------------------------------------------

def test_max_pool_2x2_stride_2_by_hand():
    result = pool(M, "max", 2, 2)
    assert isinstance(result, PoolResult) and (result.kind, result.kernel, result.stride) == ("max", 2, 2)
    np.testing.assert_array_equal(result.output, [[[5, 7], [8, 9]]])  # a 2-D map is one channel
    # Window (0,0) {1,5,3,2}: 5 at (0,1); (0,1) {0,2,7,1}: 7 at (1,2);
    # window (1,0) {0,4,8,1}: 8 at (3,0); (1,1) {1,9,6,3}: 9 at (2,3).
    assert result.winners.tolist() == [[[[0, 1], [1, 2]], [[3, 0], [2, 3]]]]
    assert result.winners.dtype == np.int64 and result.output.dtype == np.float32


def test_overlapping_max_windows_can_share_a_winner():
    result = pool(M, "max", 3, 1)
    np.testing.assert_array_equal(result.output, [[[7, 9], [8, 9]]])
    # The 9 at (2,3) wins both right-hand windows.
    assert result.winners.tolist() == [[[[1, 2], [2, 3]], [[3, 0], [2, 3]]]]


def test_avg_pool_by_hand():
    result = pool(M, "avg", 2, 2)
    np.testing.assert_allclose(result.output, [[[2.75, 2.5], [3.25, 4.75]]])  # (1+5+3+2)/4, ...
    assert result.winners is None


def test_binomial_kernel_is_a_row_of_pascals_triangle_squared():
    np.testing.assert_array_equal(binomial_kernel(3), np.outer([1, 2, 1], [1, 2, 1]) / 16)
    np.testing.assert_array_equal(binomial_kernel(5)[2], np.array([1, 4, 6, 4, 1]) * 6 / 256)
    np.testing.assert_array_equal(binomial_kernel(1), [[1.0]])


def test_blur_spreads_a_single_one_as_the_binomial_kernel():
    impulse = np.zeros((7, 7))
    impulse[3, 3] = 1.0
    blurred = pool(impulse, "blur", 3, 1).output[0]
    expected = np.zeros((7, 7))
    expected[2:5, 2:5] = [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    np.testing.assert_allclose(blurred * 16, expected, atol=1e-12)
    wide = pool(impulse, "blur", 5, 1).output[0]
    np.testing.assert_allclose(wide[1:6, 1:6] * 256, np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]), atol=1e-12)
    # Stride 2 keeps rows and columns 0, 2, 4, 6 of the blurred map: ceil(7 / 2) = 4 per side.
    strided = pool(impulse, "blur", 3, 2).output[0]
    np.testing.assert_allclose(strided, blurred[::2, ::2])
    assert strided.shape == (4, 4) and strided[1, 1] == pytest.approx(1 / 16)


def test_blur_uses_reflect_padding_so_a_constant_map_stays_constant():
    result = pool(np.full((2, 6, 5), 3.0), "blur", 3, 2)  # zero padding would give 3 * 9/16 in the corners
    np.testing.assert_allclose(result.output, 3.0)
    assert result.output.shape == (2, 3, 3) and result.output.dtype == np.float64  # float64 stays float64


def test_blur_with_a_2x2_kernel_on_an_even_map_is_the_average_pool():
    # [1, 1]/2 squared is the 2x2 mean; on a 4x4 map stride 2 never reaches the padding.
    np.testing.assert_allclose(pool(M, "blur", 2, 2).output, pool(M, "avg", 2, 2).output)


def test_subsample_keeps_every_stride_th_value():
    result = pool(M, "subsample", 2, 2)
    np.testing.assert_array_equal(result.output, [[[1, 0], [0, 1]]])  # M[0,0], M[0,2], M[2,0], M[2,2]
    assert result.kernel == 1 and result.winners is None
    np.testing.assert_array_equal(pool(M, "subsample", 3, 3).output, [[[1, 2], [8, 3]]])  # rows, cols 0 and 3
    np.testing.assert_array_equal(pool(M, "blur", 1, 3).output, pool(M, "subsample", 1, 3).output)


def test_maxblur_by_hand_dense_max_then_blur_then_subsample():
    # Dense 2x2 max of M (stride 1), 3x3:  [[5, 7, 7], [4, 7, 9], [8, 6, 9]].
    # Blur [1, 2, 1]/4 along rows, reflect padding (column -1 is column 1), at the kept columns 0 and 2:
    #   row 0: (7 + 2*5 + 7)/4 = 6,  (7 + 2*7 + 7)/4 = 7
    #   row 1: (7 + 2*4 + 7)/4 = 5.5, (7 + 2*9 + 7)/4 = 8
    #   row 2: (6 + 2*8 + 6)/4 = 7,  (6 + 2*9 + 6)/4 = 7.5
    # then along columns at the kept rows 0 and 2 (row -1 and row 3 are row 1):
    #   (5.5 + 2*6 + 5.5)/4 = 5.75, (8 + 2*7 + 8)/4 = 7.5; (5.5 + 2*7 + 5.5)/4 = 6.25, (8 + 2*7.5 + 8)/4 = 7.75
    result = pool(M, "maxblur", 2, 2)
    np.testing.assert_allclose(result.output, [[[5.75, 7.5], [6.25, 7.75]]])
    assert (result.kind, result.kernel, result.blur_size, result.stride) == ("maxblur", 2, 3, 2)
    assert result.winners is None and result.tied is None and result.ties == 0
    # Not BlurPool: that blurs M itself and takes no maximum.
    assert not np.allclose(pool(M, "blur", 3, 2).output, result.output)
    # Blur size 1 leaves the dense max subsampled: the max pool with stride 1, every second value.
    np.testing.assert_array_equal(pool(M, "maxblur", 2, 2, blur_size=1).output, [[[5, 7], [8, 9]]])


def test_maxblur_matches_torch_max_then_blur_and_keeps_a_constant_map():
    maps = np.random.default_rng(3).normal(size=(2, 12, 10))
    result = pool(maps, "maxblur", 2, 2, blur_size=3)
    dense = F.max_pool2d(torch.from_numpy(maps)[None], 2, 1)                      # (1, 2, 11, 9)
    np.testing.assert_allclose(result.output, pool(dense[0].numpy(), "blur", 3, 2).output)
    assert result.output.shape == (2, 6, 5)                                        # ceil(11 / 2), ceil(9 / 2)
    np.testing.assert_allclose(pool(np.full((6, 6), 2.0), "maxblur", 2, 2).output, 2.0)
    with pytest.raises(ValueError, match="too small for a 3×3 blur"):
        pool(M, "maxblur", 4, 2)                                                   # 4x4 max leaves 1x1
    with pytest.raises(ValueError, match="blur_size must be a whole number"):
        pool(M, "maxblur", 2, 2, blur_size=0)


def test_max_marks_ties_where_the_maximum_occurs_more_than_once():
    maps = np.array([[0, 0, 3, 1],
                     [0, 0, 2, 3],
                     [4, 4, 5, 1],
                     [0, 1, 2, 0]], dtype=np.float32)
    result = pool(maps, "max", 2, 2)
    # Windows: all zero (tie), 3 twice (tie), 4 twice (tie), 5 once (a single winner).
    np.testing.assert_array_equal(result.tied, [[[True, True], [True, False]]])
    assert result.ties == 3 and result.tied.dtype == bool
    assert pool(M, "max", 2, 2).ties == 0 and pool(M, "avg", 2, 2).tied is None


def test_a_winner_that_stays_in_its_window_does_not_keep_the_output():
    # The counterexample: row [0, 5, 9, 0], 2-wide windows, shifted left by one.
    row = np.array([[0, 5, 9, 0]] * 2, dtype=np.float32)
    shifted = np.array([[5, 9, 0, 0]] * 2, dtype=np.float32)
    before, after = pool(row, "max", 2, 2), pool(shifted, "max", 2, 2)
    assert before.output[0, 0].tolist() == [5, 9] and after.output[0, 0].tolist() == [9, 0]
    # 5 still lies in window 0 (column 1 -> column 0), yet window 0's output went from 5 to 9.
    assert before.winners[0, 0, 0, 1] == 1 and after.output[0, 0, 0] == 9


# --- pool: against torch -----------------------------------------------------------------------

@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (3, 1), (2, 1), (4, 3), (1, 1), (3, 3)])
def test_max_and_avg_equal_torch(kernel, stride):
    maps = np.random.default_rng(kernel * 10 + stride).normal(size=(3, 11, 9)).astype(np.float32)
    x = torch.from_numpy(maps)[None]
    expected, indices = F.max_pool2d(x, kernel, stride, return_indices=True)
    result = pool(maps, "max", kernel, stride)
    np.testing.assert_array_equal(result.output, expected[0].numpy())
    np.testing.assert_array_equal(result.winners[..., 0] * 9 + result.winners[..., 1], indices[0].numpy())
    # Each winner holds its window's maximum and lies inside its window.
    channels, rows, cols = np.indices(result.output.shape)
    np.testing.assert_array_equal(maps[channels, result.winners[..., 0], result.winners[..., 1]], result.output)
    offsets = result.winners - np.stack([rows * stride, cols * stride], axis=-1)  # inside the window
    assert offsets.min() >= 0 and offsets.max() < kernel
    np.testing.assert_array_equal(pool(maps, "avg", kernel, stride).output, F.avg_pool2d(x, kernel, stride)[0])


@pytest.mark.parametrize(("args", "message"), [
    ((M, "max", 0, 2), "kernel must be a whole number of at least 1"),
    ((M, "avg", 2, 0), "stride must be a whole number of at least 1"),
    ((M, "max", 2.0, 2), "kernel must be a whole number"),
    ((M, "max", True, 2), "kernel must be a whole number"),
    ((M, "max", 5, 1), "A 5×5 window does not fit in a 4×4 map"),
    ((M[:2], "blur", 3, 1), "does not fit in a 2×4 map"),
    ((M, "min", 2, 2), "Unknown pooling kind 'min'"),
    ((M[0], "max", 1, 1), r"\(H, W\) or \(C, H, W\)"),
    ((np.zeros((0, 4)), "max", 1, 1), "no empty axis"),
])
def test_pool_errors(args, message):
    with pytest.raises(ValueError, match=message):
        pool(*args)


# --- transform_image ---------------------------------------------------------------------------

def test_amount_zero_or_one_returns_an_exact_copy():
    x = torch.randn(3, 7, 9, generator=torch.Generator().manual_seed(0))
    for transform, amount in (("translate", 0), ("rotate", 0.0), ("scale", 1.0)):
        out = transform_image(x, transform, amount)
        assert torch.equal(out, x) and out is not x and out.data_ptr() != x.data_ptr()


def test_translate_moves_right_by_whole_pixels_with_zero_fill():
    x = torch.zeros(1, 5, 6)
    x[0, 2, 1] = 1.0
    out = transform_image(x, "translate", 2)
    expected = torch.zeros(1, 5, 6)
    expected[0, 2, 3] = 1.0
    assert torch.equal(out, expected)
    assert torch.equal(transform_image(x, "translate", -1)[0, 2, 0], torch.tensor(1.0))  # left
    noisy = torch.randn(2, 4, 6, generator=torch.Generator().manual_seed(1))
    shifted = transform_image(noisy, "translate", 2.0, fill=-1.0)
    assert torch.equal(shifted[..., 2:], noisy[..., :-2]) and (shifted[..., :2] == -1).all()
    assert (transform_image(noisy, "translate", 6) == 0).all()  # moved out entirely
    per_channel = transform_image(noisy, "translate", 1, fill=(5.0, 7.0))
    assert (per_channel[0, :, 0] == 5).all() and (per_channel[1, :, 0] == 7).all()


def asymmetric() -> torch.Tensor:
    x = torch.zeros(2, 5, 5)
    x[0, 0, 1], x[0, 1, 0], x[0, 3, 4], x[0, 2, 2] = 1.0, 2.0, 3.0, 4.0
    x[1] = torch.arange(25.0).reshape(5, 5)
    return x


@pytest.mark.parametrize(("degrees", "turns"), [(90, 1), (-90, -1), (180, 2), (270, 3)])
def test_rotation_by_right_angles_equals_rot90_counter_clockwise(degrees, turns):
    x = asymmetric()
    out = transform_image(x, "rotate", degrees)
    np.testing.assert_allclose(out.numpy(), np.rot90(x.numpy(), turns, axes=(1, 2)), atol=1e-5)


def test_rotation_of_a_non_square_image_is_not_sheared():
    # A 5x9 image: the central 5x5 block rotates onto itself.
    x = torch.randn(1, 5, 9, generator=torch.Generator().manual_seed(2))
    out = transform_image(x, "rotate", 90)
    np.testing.assert_allclose(out[0, :, 2:7].numpy(), np.rot90(x[0, :, 2:7].numpy()), atol=1e-5)


def blob_width(image: torch.Tensor) -> int:
    """Pixels above half the maximum along the central row."""
    row = image[0, image.shape[1] // 2]
    return int((row > 0.5 * row.max()).sum())


def test_scaling_a_centred_blob_changes_its_extent_by_the_factor():
    rows, cols = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    blob = ((rows - 16) ** 2 + (cols - 16) ** 2 <= 4.5 ** 2).float()[None]  # a disc 9 pixels across
    assert blob_width(blob) == 9
    assert 1.7 <= blob_width(transform_image(blob, "scale", 2.0)) / 9 <= 2.3
    assert 0.35 <= blob_width(transform_image(blob, "scale", 0.5)) / 9 <= 0.65
    scaled = transform_image(blob, "scale", 2.0)
    torch.testing.assert_close(scaled, scaled.flip(-1).flip(-2), atol=1e-5, rtol=0)  # about the centre


def test_a_batch_is_transformed_image_by_image():
    x = torch.randn(3, 2, 7, 7, generator=torch.Generator().manual_seed(3))
    for transform, amount in (("rotate", 30.0), ("scale", 1.3), ("translate", 2)):
        batch = transform_image(x, transform, amount, fill=0.5)
        for i in range(3):
            torch.testing.assert_close(batch[i], transform_image(x[i], transform, amount, fill=0.5))


@pytest.mark.parametrize(("transform", "amount", "message"), [
    ("shear", 1.0, "Unknown transform 'shear'"),
    ("translate", 0.5, "whole pixels"),
    ("scale", 0.0, "above 0"),
    ("rotate", math.nan, "finite number"),
])
def test_transform_errors(transform, amount, message):
    with pytest.raises(ValueError, match=message):
        transform_image(torch.zeros(1, 4, 4), transform, amount)


def test_transform_refuses_a_fill_per_channel_of_the_wrong_length():
    with pytest.raises(ValueError, match="one per channel"):
        transform_image(torch.zeros(3, 4, 4), "rotate", 10, fill=(0.0, 1.0))


# --- invariance_curves -------------------------------------------------------------------------

def window_model() -> nn.Sequential:
    """Identity 1x1 convolution, a 1x2 max pool, flatten: the pooled values are the logits."""
    conv = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    return nn.Sequential(OrderedDict(conv=conv, pool=nn.MaxPool2d((1, 2)), flat=nn.Flatten()))


def test_invariance_curves_by_hand_a_shift_inside_the_window_and_across_it():
    x = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])  # (C, H, W) = (1, 1, 4)
    curves = invariance_curves(window_model(), x, "translate", [0, 1, 2])
    assert isinstance(curves, InvarianceCurves)
    assert curves.layers == ("conv", "pool", "flat") and curves.kinds == ("Conv2d", "MaxPool2d", "Flatten")
    assert curves.pooling.tolist() == [False, True, False]
    r2 = math.sqrt(2)
    # conv: [1,0,0,0] -> [0,1,0,0] -> [0,0,1,0]: distance sqrt(2) each time, norm 1.
    # pool: [1,0] -> [1,0] (the 1 stays in its window: invariant) -> [0,1] (it crossed into the next).
    np.testing.assert_allclose(curves.change, [[0, 0, 0], [r2, 0, 0], [r2, r2, r2]], atol=1e-7)
    assert curves.predictions.tolist() == [0, 0, 1] and curves.same_prediction.tolist() == [True, True, False]
    assert curves.same_prediction.dtype == bool and curves.original_prediction.tolist() == 0
    e = math.e
    np.testing.assert_allclose(curves.original_probability, [e / (1 + e), e / (1 + e), 1 / (1 + e)])
    np.testing.assert_array_equal(curves.amounts, [0.0, 1.0, 2.0])


def test_relative_change_of_an_all_zero_layer():
    model = window_model()
    zero = torch.zeros(1, 1, 4)
    np.testing.assert_array_equal(invariance_curves(model, zero, "translate", [1]).change, [[0, 0, 0]])
    filled = invariance_curves(model, zero, "translate", [1], fill=1.0).change
    assert np.isnan(filled).all()  # a nonzero change of an all-zero output has no relative size


def test_lenet5_layers_come_in_call_order_and_amount_zero_changes_nothing():
    model = lenet5(seed=0)
    model.train()
    x = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(4))
    curves = invariance_curves(model, x, "rotate", [-20.0, 0.0, 20.0])
    assert curves.layers == LENET_ORDER and curves.change.shape == (3, 12)
    assert curves.kinds[:3] == ("Conv2d", "ReLU", "MaxPool2d") and curves.kinds[-1] == "Linear"
    assert (curves.change[1] == 0).all() and curves.same_prediction[1]
    assert (curves.change[[0, 2]] > 0).all()
    assert curves.predictions[1] == curves.original_prediction
    with torch.no_grad():
        probabilities = torch.softmax(model.eval()(x[None]), dim=1)[0]
    assert curves.original_probability[1] == pytest.approx(probabilities.max().item(), rel=1e-5)
    model.train()
    invariance_curves(model, x, "scale", [1.2])
    assert no_hooks(model) and all(m.training for m in model.modules())


def test_batch_results_are_the_means_of_the_single_image_results():
    model = lenet5(seed=0)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    amounts = [0, 2, -3, 5]
    batch = invariance_curves(model, x, "translate", amounts)
    singles = [invariance_curves(model, image, "translate", amounts) for image in x]
    np.testing.assert_allclose(batch.change, np.mean([s.change for s in singles], axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batch.original_probability,
                               np.mean([s.original_probability for s in singles], axis=0), rtol=1e-5)
    np.testing.assert_array_equal(batch.predictions, np.stack([s.predictions for s in singles], axis=1))
    np.testing.assert_array_equal(batch.same_prediction, np.mean([s.same_prediction for s in singles], axis=0))
    assert batch.same_prediction.dtype == np.float64 and batch.same_prediction[0] == 1.0
    assert batch.original_prediction.tolist() == [int(s.original_prediction) for s in singles]


def test_invariance_curves_errors():
    model = lenet5(seed=0)
    x = torch.zeros(1, 28, 28)
    with pytest.raises(ValueError, match="at least one amount"):
        invariance_curves(model, x, "rotate", [])
    with pytest.raises(ValueError, match="whole pixels"):
        invariance_curves(model, x, "translate", [0, 0.5])
    with pytest.raises(ValueError, match=r"logits \(N, classes\)"):
        invariance_curves(nn.Sequential(nn.Conv2d(1, 2, 3)), x, "rotate", [10])
    assert no_hooks(model)


def test_pooling_lowers_the_change_under_a_one_pixel_shift_on_the_trained_lenet5(lib_digits):
    """The done-when test: each max pool of the zoo LeNet-5 changes less than the ReLU map before it."""
    from cnnviz.models.zoo import load_zoo_model

    model = load_zoo_model("lenet5-digits").model
    x = lib_digits.test_tensors()[0][:64]
    curves = invariance_curves(model, x, "translate", [0, 1])
    change = dict(zip(curves.layers, curves.change[1], strict=True))
    numbers = ", ".join(f"{name} {change[name]:.3f}" for name in ("relu1", "pool1", "relu2", "pool2"))
    assert change["pool1"] < change["relu1"], numbers
    assert change["pool2"] < change["relu2"], numbers
    assert curves.same_prediction[1] > 0.8, f"only {curves.same_prediction[1]:.0%} kept their prediction"


# --- pooling_stages ----------------------------------------------------------------------------

def test_lenet5_pooling_stages_by_hand():
    stages = pooling_stages(lenet5(seed=0), (1, 28, 28))
    assert stages == [PoolingStage("pool1", "MaxPool2d", (6, 28, 28), (6, 14, 14)),
                      PoolingStage("pool2", "MaxPool2d", (16, 10, 10), (16, 5, 5))]
    assert stages[0].downsampling == (2.0, 2.0)


def test_pooling_stages_find_lp_adaptive_and_average_pools_and_restore_the_model():
    model = nn.Sequential(OrderedDict(
        conv=nn.Conv2d(1, 2, 3),               # 12 -> 10
        lp=nn.LPPool2d(2, 2),                  # 10 -> 5
        avg=nn.AvgPool2d(2, 1),                # 5 -> 4
        relu=nn.ReLU(),
        gap=nn.AdaptiveAvgPool2d(1),           # 4 -> 1
        unpool_named=nn.Identity()))
    model.train()
    stages = pooling_stages(model, (1, 12, 12))
    assert [(s.name, s.kind, s.input_shape, s.output_shape) for s in stages] == [
        ("lp", "LPPool2d", (2, 10, 10), (2, 5, 5)),
        ("avg", "AvgPool2d", (2, 5, 5), (2, 4, 4)),
        ("gap", "AdaptiveAvgPool2d", (2, 4, 4), (2, 1, 1))]
    assert stages[2].downsampling == (4.0, 4.0)
    assert no_hooks(model) and all(m.training for m in model.modules())
    assert pooling_stages(nn.Sequential(nn.Conv2d(1, 1, 3)), (1, 5, 5)) == []
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        pooling_stages(model, (12, 12))


def test_pooling_kinds():
    assert all(is_pooling_kind(k) for k in ("MaxPool2d", "AvgPool1d", "AdaptiveMaxPool2d", "LPPool2d",
                                            "FractionalMaxPool2d", "BlurPool"))
    assert not any(is_pooling_kind(k) for k in ("MaxUnpool2d", "Conv2d", "ReLU", "Flatten"))
