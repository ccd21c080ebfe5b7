"""Invariance, measured: how much each layer's output changes when the input is shifted, rotated or scaled.

Pooling makes a representation approximately *invariant* to small changes of the input
(`cnnviz.analysis.pooling`); convolution is *equivariant* instead (its maps move with the
input, `cnnviz.analysis.equivariance`). This module measures the first, for every layer of
a model at once:

- `transform_image` shifts, rotates or scales a preprocessed image;
- `invariance_curves` measures, for every layer, how much its output changes when the
  input is transformed, and whether the prediction survives.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.features import feature_maps
from cnnviz.analysis.pooling import is_pooling_kind

__all__ = ["InvarianceCurves", "Transform", "invariance_curves", "transform_image"]

Transform = Literal["translate", "rotate", "scale"]
_TRANSFORMS = ("translate", "rotate", "scale")


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


_CHUNK_BYTES = 256 * 2**20


def invariance_curves(model: nn.Module, x: torch.Tensor, transform: Transform, amounts: Sequence[float], *,
                      fill: float | Sequence[float] = 0.0) -> InvarianceCurves:
    """Per layer, how much the output changes when x is transformed by each amount (see `InvarianceCurves`).

    x is one preprocessed image (C, H, W) or a batch (N, C, H, W); `transform`,
    `amounts` and `fill` are as in `transform_image`. The model must return logits
    (N, classes). The untransformed input, then the transformed ones (an identity amount
    reuses the untransformed input) go through the model in eval mode, as many at once
    as keep the layer outputs held near 256 MB. Raises ValueError for no amounts, an
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
    reference = feature_maps(_WithOutput(model), batch)
    logits = reference.pop("logits", None)
    if logits is None or logits.ndim != 2:
        shape = "no tensor" if logits is None else f"shape {logits.shape}"
        raise ValueError(f"the model must return logits (N, classes), not {shape}")
    names = [name.removeprefix("model.") for name in reference]
    modules = dict(model.named_modules())
    kinds = tuple(type(modules[name]).__name__ if name in modules else type(model).__name__ for name in names)

    # The transformed blocks go through in chunks of about _CHUNK_BYTES of layer outputs: a 224x224 image
    # makes 88 MB of them in EfficientNet-Lite0, and 12 rotations at once would hold 1.1 GB.
    per_block = max(1, sum(v.nbytes for v in reference.values()) + logits.nbytes)
    chunk = max(1, _CHUNK_BYTES // per_block)
    change = np.zeros((len(blocks), len(names), n), dtype=np.float64)
    scores = np.empty((len(blocks), n, logits.shape[1]), dtype=np.float64)
    scores[0] = logits
    for first in range(1, len(blocks), chunk):
        count = min(chunk, len(blocks) - first)
        maps = feature_maps(_WithOutput(model), torch.cat(blocks[first:first + count]))
        scores[first:first + count] = maps.pop("logits").reshape(count, n, -1)
        for layer_index, (ref, value) in enumerate(zip(reference.values(), maps.values(), strict=True)):
            change[first:first + count, layer_index] = _relative_change(ref.reshape(n, -1),
                                                                        value.reshape(count, n, -1))
    index = np.asarray(block_of)
    change = change[index]  # (A, L, N)

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
