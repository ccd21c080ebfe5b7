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
- `pooling_stages` lists a model's pooling layers with their input and output shapes.

How much invariance a network has, measured layer by layer under shifts, rotations and
scalings of the input, is `cnnviz.analysis.invariance`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.hooks import eval_with_hooks

__all__ = ["PoolKind", "PoolResult", "PoolingStage", "binomial_kernel", "is_pooling_kind", "pool", "pooling_stages"]

PoolKind = Literal["max", "avg", "blur", "maxblur", "subsample"]

_POOL_KINDS = ("max", "avg", "blur", "maxblur", "subsample")


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
