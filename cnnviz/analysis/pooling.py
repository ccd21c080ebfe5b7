"""Pooling: downsampling a map, which window value wins, and how much invariance pooling buys.

A pooling layer summarises each small window of a map by one number, its maximum
or its mean, usually with a stride so the map gets smaller. Because a small
shift, rotation or scaling of the input often leaves each window's maximum (or
mean) about where it was, the pooled output changes less than the map before it:
pooling makes the representation approximately *invariant* to such changes
(Goodfellow, Bengio & Courville, Deep Learning, 2016, section 9.3). Convolution
is something else: it is translation *equivariant* (its maps move with the input;
see `cnnviz.analysis.equivariance`).

The invariance is only approximate. A strided window sees a shift of the input
as a different split of the map into windows, so a one-pixel shift can change
the output a lot (Zhang 2019, "Making Convolutional Networks Shift-Invariant
Again"); blurring before subsampling reduces that aliasing. Zhang's two blocks
are both here: BlurPool ("blur": blur, then subsample; what replaces a strided
convolution or average pooling) and MaxBlurPool ("maxblur": a dense max with
stride 1, then blur, then subsample; what replaces max pooling).

Even exact max pooling is not "unchanged while the winner stays in its window":
a larger value can enter the window. Row [0, 5, 9, 0] with 2-wide windows gives
[5, 9]; shifted left by one, [5, 9, 0, 0] gives [9, 0]: 5 still lies in window 0,
but 9 has joined it, and the output goes from 5 to 9.

- `pool` pools one map (max, average, BlurPool, MaxBlurPool or plain subsampling)
  and, for max pooling, says which input value won each window and which windows
  are ties (several equal maxima, e.g. all zero after a ReLU);
- `transform_image` shifts, rotates or scales a preprocessed image;
- `invariance_curves` measures, for every layer, how much its output changes
  when the input is transformed, and whether the prediction survives;
- `pooling_stages` lists a model's pooling layers with their input and output shapes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.features import feature_maps
from cnnviz.analysis.hooks import eval_with_hooks

__all__ = ["InvarianceCurves", "PoolKind", "PoolResult", "PoolingStage", "Transform", "binomial_kernel",
           "invariance_curves", "is_pooling_kind", "pool", "pooling_stages", "transform_image"]

PoolKind = Literal["max", "avg", "blur", "maxblur", "subsample"]
Transform = Literal["translate", "rotate", "scale"]

_POOL_KINDS = ("max", "avg", "blur", "maxblur", "subsample")
_TRANSFORMS = ("translate", "rotate", "scale")


def is_pooling_kind(kind: str) -> bool:
    """Whether a layer type name (`type(module).__name__`) is a pooling layer.

    Every torch pooling class has "Pool" in its name (MaxPool2d, AvgPool2d,
    AdaptiveAvgPool2d, LPPool2d, FractionalMaxPool2d, ...), and so do the usual
    custom ones (antialiased-cnns' BlurPool); MaxUnpool2d ("Unpool") does not.
    """
    return "Pool" in kind


# --- pooling one map ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class PoolResult:
    """One map pooled: the output per channel and, for max pooling, where each window's maximum was.

    A 2-D (H, W) map is pooled as one channel, so `output` is always (C, H', W').
    `winners[c, i, j]` is the (row, col) in the input of the value that won window
    (i, j) of channel c; with overlapping windows (kernel > stride) one input value
    can win several windows. `tied[c, i, j]` is True where that window's maximum
    occurs more than once (an all-zero window after a ReLU, say): there is no single
    winner, and `winners` holds only the one torch happened to pick. `kernel` is the
    window actually used: 1 for "subsample", the max window for "maxblur" (whose blur
    filter is `blur_size`; 0 for the other kinds).
    """

    kind: str
    kernel: int
    stride: int
    output: np.ndarray            # (C, H', W')
    winners: np.ndarray | None    # max only: (C, H', W', 2) int64 (row, col) in the input
    tied: np.ndarray | None = None  # max only: (C, H', W') bool, several equal maxima in the window
    blur_size: int = 0            # maxblur only: the binomial filter's size

    @property
    def ties(self) -> int:
        """How many windows (over all channels) have no single winner; 0 when not max pooling."""
        return 0 if self.tied is None else int(np.count_nonzero(self.tied))


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def binomial_kernel(size: int) -> np.ndarray:
    """The (size, size) binomial low-pass filter: the outer product of row size-1 of Pascal's triangle, sum 1.

    size 3: [1, 2, 1]ᵀ[1, 2, 1] / 16. The filters of Zhang 2019 ("Blur-n" for n = 1..7).
    """
    size = _check_size("size", size)
    row = np.array([math.comb(size - 1, i) for i in range(size)], dtype=np.float64)
    row /= row.sum()
    return np.outer(row, row)


def pool(feature_map: np.ndarray, kind: PoolKind, kernel: int, stride: int, *, blur_size: int = 3) -> PoolResult:
    """Pool a map (H, W) or maps (C, H, W) channel by channel, without padding.

    - "max": the maximum of each kernel x kernel window, windows `stride` apart
      (torch's F.max_pool2d), with the position of each maximum in `winners`
      (on ties, the one torch picks, and `tied` marks the window);
      output floor((H - kernel) / stride) + 1 per side.
    - "avg": the mean of each window (F.avg_pool2d); same output size.
    - "blur": BlurPool after Zhang 2019: a `kernel` x `kernel` binomial low-pass
      filter (`binomial_kernel`) at every position, then every stride-th value;
      output ceil(H / stride) per side. Zhang's replacement for a strided
      convolution or average pooling.
    - "maxblur": MaxBlurPool after Zhang 2019, his replacement for max pooling: the
      max of every `kernel` x `kernel` window with stride 1 (dense, H - kernel + 1 per
      side), then a `blur_size` binomial blur, then every stride-th value; output
      ceil((H - kernel + 1) / stride) per side. (antialiased-cnns writes it as
      MaxPool2d(kernel_size=2, stride=1) followed by BlurPool(stride=2).)
    - "subsample": every stride-th value, nothing else (a strided 1x1 identity
      convolution): the plain downsampling that aliases; `kernel` is checked but
      not used (the result says kernel=1). Output ceil(H / stride) per side.

    The output is float64 for a float64 map and float32 otherwise. Raises ValueError
    for a kernel, stride or blur size below 1, a kernel larger than the map, an
    unknown kind, or a map that is not 2-D or 3-D with no empty axis.
    """
    if kind not in _POOL_KINDS:
        raise ValueError(f"Unknown pooling kind {kind!r}; choose one of {', '.join(_POOL_KINDS)}.")
    kernel = _check_size("kernel", kernel)
    stride = _check_size("stride", stride)
    blur_size = _check_size("blur_size", blur_size)
    array = np.asarray(feature_map)
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise ValueError(f"the map must be (H, W) or (C, H, W) with no empty axis, not shape {array.shape}")
    dtype = np.float64 if array.dtype == np.float64 else np.float32
    maps = array.astype(dtype, copy=False).reshape(-1, *array.shape[-2:])
    height, width = maps.shape[1:]
    if kernel > min(height, width):
        raise ValueError(f"A {kernel}×{kernel} window does not fit in a {height}×{width} map; "
                         f"the window can be at most {min(height, width)}.")
    x = torch.from_numpy(np.ascontiguousarray(maps))[None]  # (1, C, H, W)
    winners = tied = None
    used_blur = 0
    if kind == "max":
        out, indices = F.max_pool2d(x, kernel, stride, return_indices=True)
        # The indices are flat positions in each channel's H x W map.
        flat = indices[0].numpy().astype(np.int64)
        winners = np.stack([flat // width, flat % width], axis=-1)
        # A window is a tie when its maximum occurs more than once: count the values equal to it.
        windows = F.unfold(x[0][:, None], kernel, stride=stride)            # (C, k*k, H'*W')
        hits = (windows == out[0].reshape(len(maps), 1, -1)).sum(dim=1)   # (C, H'*W')
        tied = (hits > 1).reshape(out.shape[1:]).numpy()
    elif kind == "avg":
        out = F.avg_pool2d(x, kernel, stride)
    elif kind == "blur":
        out = _blur_pool(x, kernel, stride)
    elif kind == "maxblur":
        side = min(height, width) - kernel + 1
        if blur_size // 2 >= side:
            # Reflect padding needs more values than it pads on each side.
            raise ValueError(f"The {kernel}×{kernel} max leaves a {height - kernel + 1}×{width - kernel + 1} map, "
                             f"too small for a {blur_size}×{blur_size} blur; the blur can be at most "
                             f"{2 * side - 1}.")
        dense = F.max_pool2d(x, kernel, 1)  # every window, no subsampling yet: nothing aliases here
        out = _blur_pool(dense, blur_size, stride)
        used_blur = blur_size
    else:
        out = x[..., ::stride, ::stride]
        kernel = 1
    return PoolResult(kind, kernel, stride, out[0].numpy().astype(dtype, copy=True), winners, tied, used_blur)


def _blur_pool(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Binomial blur of each channel on its own (a depthwise convolution), then every stride-th value.

    Reflect padding, as in Zhang's reference code (antialiased-cnns, pad_type "reflect"):
    it keeps the map's size and a constant map constant, where zero padding would pull
    the border values towards 0 and invent an edge the map does not have. An even kernel
    pads one more on the bottom and right, as there.
    """
    channels = x.shape[1]
    weight = torch.from_numpy(binomial_kernel(kernel)).to(x.dtype).expand(channels, 1, kernel, kernel)
    before, after = (kernel - 1) // 2, kernel // 2
    padded = F.pad(x, (before, after, before, after), mode="reflect") if kernel > 1 else x
    return F.conv2d(padded, weight, stride=stride, groups=channels)


# --- transforming an input ---------------------------------------------------------------------

def _fill_tensor(fill: float | Sequence[float], channels: int, dtype: torch.dtype) -> torch.Tensor:
    values = torch.as_tensor(fill, dtype=dtype).reshape(-1)
    if values.numel() not in (1, channels):
        raise ValueError(f"fill must be one value or one per channel ({channels}), not {values.numel()} values")
    return values.reshape(-1, 1, 1)


def _whole_pixels(amount: float) -> int:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not float(amount).is_integer():
        raise ValueError(f"translate moves by whole pixels, not {amount!r}")
    return int(amount)


def _is_identity(transform: str, amount: float) -> bool:
    return float(amount) == (1.0 if transform == "scale" else 0.0)


def transform_image(x: torch.Tensor, transform: Transform, amount: float, *,
                    fill: float | Sequence[float] = 0.0) -> torch.Tensor:
    """Shift, rotate or scale a preprocessed image (C, H, W) (or each image of a batch (N, C, H, W)).

    - "translate": `amount` whole pixels to the right (negative: left), horizontally
      only. Done by copying, not by interpolation, so the moved values are exact.
    - "rotate": `amount` degrees counter-clockwise (as the image is displayed, rows
      going down) about the image centre.
    - "scale": by the factor `amount` (> 0) about the image centre; 2 doubles the size.

    Rotation and scaling sample the input with torch's affine_grid and grid_sample
    (bilinear, align_corners=False, so the centre is that of the pixel grid). Where
    the transformed image has no source pixel, it gets `fill` (one value, or one per
    channel), in the *preprocessed* space: the default 0 is the data set's mean colour,
    not black; pass (0 - mean) / std to fill with black. Amount 0 (translate, rotate)
    or 1 (scale) returns an exact copy of x.
    """
    if transform not in _TRANSFORMS:
        raise ValueError(f"Unknown transform {transform!r}; choose one of {', '.join(_TRANSFORMS)}.")
    x = torch.as_tensor(x)
    if x.ndim not in (3, 4) or not x.is_floating_point():
        raise ValueError(f"x must be a float image (C, H, W) or batch (N, C, H, W), not {x.dtype} "
                         f"of shape {tuple(x.shape)}")
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not math.isfinite(amount):
        raise ValueError(f"the amount must be a finite number, not {amount!r}")
    if transform == "scale" and amount <= 0:
        raise ValueError(f"the scale factor must be above 0, not {amount!r}")
    shift = _whole_pixels(amount) if transform == "translate" else 0
    fill_values = _fill_tensor(fill, x.shape[-3], x.dtype)
    if _is_identity(transform, amount):
        return x.clone()
    height, width = x.shape[-2:]
    if transform == "translate":
        out = fill_values.expand(x.shape).clone()
        if abs(shift) < width:
            if shift > 0:
                out[..., shift:] = x[..., :width - shift]
            else:
                out[..., :width + shift] = x[..., -shift:]
        return out

    # affine_grid's theta maps each output position, in coordinates from -1 to 1 per axis,
    # to the input position it samples. In pixel units around the centre (u = x * W / 2,
    # v = y * H / 2, v pointing down) the output pixel p samples the input at A⁻¹ p, where
    # A is the wanted transform; the W / H factors keep a rotation of a non-square image
    # a rotation, not a shear.
    if transform == "rotate":
        angle = math.radians(float(amount))
        c, s = math.cos(angle), math.sin(angle)
        # Counter-clockwise on screen (v down): A = [[c, s], [-s, c]], A⁻¹ = [[c, -s], [s, c]].
        theta = [[c, -s * height / width, 0.0], [s * width / height, c, 0.0]]
    else:
        inverse = 1.0 / float(amount)
        theta = [[inverse, 0.0, 0.0], [0.0, inverse, 0.0]]
    batch = x if x.ndim == 4 else x[None]
    theta_t = torch.tensor(theta, dtype=x.dtype).expand(len(batch), 2, 3)
    grid = F.affine_grid(theta_t, list(batch.shape), align_corners=False)
    # grid_sample fills with zeros: sample x - fill and add fill back, so the fill is `fill`.
    out = F.grid_sample(batch - fill_values, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False) + fill_values
    return out if x.ndim == 4 else out[0]


# --- measuring invariance ----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class InvarianceCurves:
    """How much each layer's output changes as the input is transformed by more and more.

    `change[a, l]` is the relative L2 distance ‖f_l(T_a x) − f_l(x)‖ / ‖f_l(x)‖ of layer
    l's whole output (all channels and positions), where T_a is the transform by
    `amounts[a]`. It measures *invariance*: a layer whose output did not change has 0.
    A convolution's maps move with a shifted input (equivariance), so they differ from
    the unshifted maps and its change is large although nothing was lost; a pooling
    layer that lowers the change relative to the layer before it has made the
    representation more invariant. The change is NaN where f_l(x) is all zeros and
    f_l(T_a x) is not (no relative change exists), 0 where both are zero.

    For one image, `predictions` (A,) holds the predicted class, `same_prediction` (A,)
    is bool and `original_prediction` is a 0-d array. For a batch of N images, `change`
    and `original_probability` are means over the images (NaNs left out),
    `predictions` is (A, N), `same_prediction` is the fraction of images whose
    prediction did not change (float, 0 to 1) and `original_prediction` is (N,).
    """

    transform: str
    amounts: np.ndarray               # (A,)
    layers: tuple[str, ...]           # every leaf layer in call order, incl. the logits layer
    change: np.ndarray                # (A, L)
    predictions: np.ndarray           # (A,) or (A, N): predicted class of each transformed input
    same_prediction: np.ndarray       # (A,): bool for one image, the fraction for a batch
    original_probability: np.ndarray  # (A,): probability of the class predicted for the untransformed input
    kinds: tuple[str, ...]            # (L,) layer types, e.g. "Conv2d", "MaxPool2d"
    original_prediction: np.ndarray   # () or (N,): the class predicted for the untransformed input

    @property
    def pooling(self) -> np.ndarray:
        """(L,) bool: which layers are pooling layers (see `is_pooling_kind`)."""
        return np.array([is_pooling_kind(kind) for kind in self.kinds], dtype=bool)


class _WithOutput(nn.Module):
    """The model, then an identity leaf whose recorded output is the model's own output (its logits),
    whatever the last leaf layer is, so one hooked forward gives every layer and the prediction."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.logits = nn.Identity()

    def forward(self, x: torch.Tensor) -> Any:
        return self.logits(self.model(x))


def _relative_change(reference: np.ndarray, transformed: np.ndarray) -> np.ndarray:
    """(A, N) ‖t − r‖ / ‖r‖ per image from reference (N, D) and transformed (A, N, D), in float64."""
    distance = np.linalg.norm(transformed.astype(np.float64) - reference.astype(np.float64), axis=-1)
    norm = np.linalg.norm(reference.astype(np.float64), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = distance / norm
    return np.where(distance == 0, 0.0, np.where(norm == 0, np.nan, ratio))


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    counts = np.sum(~np.isnan(values), axis=axis)
    sums = np.nansum(values, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def invariance_curves(model: nn.Module, x: torch.Tensor, transform: Transform, amounts: Sequence[float], *,
                      fill: float | Sequence[float] = 0.0) -> InvarianceCurves:
    """Per layer, how much the output changes when x is transformed by each amount (see `InvarianceCurves`).

    x is one preprocessed image (C, H, W) or a batch (N, C, H, W); `transform`,
    `amounts` and `fill` are as in `transform_image`. The model must return logits
    (N, classes). The untransformed and all transformed inputs go through the model
    in one batched forward in eval mode ((A + 1) * N inputs at most: an identity
    amount reuses the untransformed input), and every layer's output is held at once,
    so keep N * A modest for a large model. Raises ValueError for no amounts, an
    unknown transform or an amount it refuses.
    """
    x = torch.as_tensor(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"x must be one input (C, H, W) or a batch (N, C, H, W), not shape {tuple(x.shape)}")
    values = np.asarray(amounts, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("give at least one amount")
    batch = x if x.ndim == 4 else x[None]
    n = len(batch)
    # Block 0 is the untransformed input; every other amount gets a block, except the identity,
    # which reuses block 0 (so its change is exactly 0 and its prediction the original one).
    blocks = [batch]
    block_of = []
    for amount in values.tolist():
        transformed = transform_image(batch, transform, amount, fill=fill)  # checks the amount
        if _is_identity(transform, amount):
            block_of.append(0)
        else:
            block_of.append(len(blocks))
            blocks.append(transformed)
    maps = feature_maps(_WithOutput(model), torch.cat(blocks))
    logits = maps.pop("logits", None)
    if logits is None or logits.ndim != 2:
        shape = "no tensor" if logits is None else f"shape {logits.shape}"
        raise ValueError(f"the model must return logits (N, classes), not {shape}")
    names = [name.removeprefix("model.") for name in maps]
    modules = dict(model.named_modules())
    kinds = tuple(type(modules[name]).__name__ if name in modules else type(model).__name__ for name in names)

    index = np.asarray(block_of)
    change = np.empty((len(values), len(names), n), dtype=np.float64)
    for layer_index, value in enumerate(maps.values()):
        per_block = value.reshape(len(blocks), n, -1)
        change[:, layer_index] = _relative_change(per_block[0], per_block[index]).reshape(len(values), n)

    scores = logits.astype(np.float64).reshape(len(blocks), n, -1)
    probabilities = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    original = scores[0].argmax(axis=-1)                                        # (N,)
    predictions = scores.argmax(axis=-1)[index]                                 # (A, N)
    same = predictions == original                                              # (A, N)
    kept = probabilities[index][:, np.arange(n), original]                      # (A, N)
    if x.ndim == 3:
        return InvarianceCurves(transform, values, tuple(names), change[..., 0], predictions[:, 0], same[:, 0],
                                kept[:, 0], kinds, np.asarray(original[0]))
    return InvarianceCurves(transform, values, tuple(names), _nanmean(change, axis=2), predictions,
                            same.mean(axis=1), kept.mean(axis=1), kinds, original)


# --- pooling layers of a model -----------------------------------------------------------------

@dataclass(frozen=True)
class PoolingStage:
    """One call of a pooling layer: its input and output shapes (without batch), so the downsampling shows."""

    name: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    @property
    def downsampling(self) -> tuple[float, ...]:
        """Input over output size along each spatial axis: (2.0, 2.0) for a 2x2 pool with stride 2."""
        return tuple(i / o for i, o in zip(self.input_shape[1:], self.output_shape[1:], strict=True))


def pooling_stages(model: nn.Module, input_shape: tuple[int, int, int]) -> list[PoolingStage]:
    """The pooling layers (see `is_pooling_kind`) of `model` in call order, for one zero input of `input_shape`.

    One row per call: a pooling module called twice in the forward gives two rows.
    An empty list for a model without pooling layers.
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), not {tuple(input_shape)}")
    rows: list[PoolingStage] = []

    def record(name: str, module: nn.Module) -> Callable[..., None]:
        def hook(_module: nn.Module, inputs: Any, output: Any) -> None:
            if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(output, torch.Tensor):
                rows.append(PoolingStage(name, type(module).__name__, tuple(inputs[0].shape[1:]),
                                         tuple(output.shape[1:])))
        return hook

    hooks = {module: record(name, module) for name, module in model.named_modules()
             if name and is_pooling_kind(type(module).__name__)}
    with eval_with_hooks(model, hooks):
        model(torch.zeros(1, *input_shape))
    return rows
