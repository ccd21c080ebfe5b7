"""Translation equivariance: does shifting the image shift every feature map by the same amount?

Convolution shares one kernel over all positions, so it is translation *equivariant*:
f(shift x) = shift' f(x), where a layer whose units lie `jump` input pixels apart
(its effective stride) should see its map move by shift / jump units. Two things
break this in a real network, and the functions here show both:

- borders: zero padding (and the zero band that a shifted image uncovers) feeds
  values into units near the edges that the unshifted image did not, so only units
  away from the borders match; circular padding with a circular shift removes the
  borders altogether;
- strides (and pooling, which is a strided window): a shift that is not a whole
  multiple of the jump cannot move the map by a whole number of units, so the map
  changes instead of moving.

Pointwise layers (ReLU, batch norm in eval mode) keep equivariance as it is.

Pooling makes a representation (approximately) *invariant* to small shifts: its
output stays nearly the same instead of moving. That is a different property, not
measured here; here a pooling layer's output is one more map that should move.

`equivariance_errors` measures all layers at once (one forward for x, one for the
shifted x); `equivariance_view` gives the four maps of one channel for a figure.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.features import feature_maps
from cnnviz.analysis.receptive_field import ReceptiveField, receptive_fields
from cnnviz.data.images import Preprocessing
from cnnviz.models.cnn import CNNSpec, ConvSpec, build_model
from cnnviz.models.trained import ModelInfo, TrainedModel

ShiftMode = Literal["zeros", "circular"]

__all__ = ["EquivarianceView", "LayerEquivariance", "equivariance_errors", "equivariance_view", "shift_image",
           "toy_model", "toy_spec"]

_MODES = ("zeros", "circular")


def _as_shift(shift: tuple[int, int]) -> tuple[int, int]:
    """(dy, dx) as ints; whole numbers only (numpy integers and whole floats too), never bools."""
    try:
        values = tuple(shift)
    except TypeError:
        raise ValueError(f"a shift is (dy, dx), not {shift!r}") from None
    if len(values) != 2:
        raise ValueError(f"a shift is (dy, dx), not {shift!r}")
    out: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value).is_integer():
            raise ValueError(f"a shift is (dy, dx) in whole pixels, not {shift!r}")
        out.append(int(value))
    return out[0], out[1]


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'zeros' or 'circular', not {mode!r}")


def shift_image(x: torch.Tensor, shift: tuple[int, int], *, mode: ShiftMode = "zeros") -> torch.Tensor:
    """x (C, H, W) or (N, C, H, W) moved by whole pixels: `shift` = (dy, dx), positive = down/right.

    mode="zeros": pixels moved past the edge are lost and the uncovered band is 0 (a
    shift of the image or more gives all zeros). mode="circular": pixels wrap around
    to the other side (`torch.roll`). Returns a new tensor of x's shape and dtype.
    """
    x = torch.as_tensor(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"x must be (C, H, W) or (N, C, H, W), not shape {tuple(x.shape)}")
    dy, dx = _as_shift(shift)
    _check_mode(mode)
    if mode == "circular":
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    height, width = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dy) >= height or abs(dx) >= width:
        return out
    # Output row r holds input row r - dy: rows max(0, dy) .. H-1+min(0, dy) receive content.
    out[..., max(0, dy):height + min(0, dy), max(0, dx):width + min(0, dx)] = \
        x[..., max(0, -dy):height + min(0, -dy), max(0, -dx):width + min(0, -dx)]
    return out


def toy_spec(*, padding_mode: str = "zeros", stride: int = 1, pool: str | None = None, size: int = 32,
             in_channels: int = 1) -> CNNSpec:
    """A small stack that shows what keeps or breaks equivariance, one knob at a time.

    Three 3x3 convolutions with padding 1 and 4 channels each (ReLU after each); the
    second has stride `stride` and is followed by `pool` ("max", "avg" or None, size 2);
    `padding_mode` applies to all three. A linear head with 2 classes makes it a valid
    CNNSpec (it plays no part in equivariance). Build it with
    `cnnviz.models.cnn.build_model(spec, seed=...)`. With the defaults every map has the
    input's size, so a whole-pixel shift is a whole-unit shift of every map.
    """
    convs = (ConvSpec(4, 3, padding=1),
             ConvSpec(4, 3, stride=stride, padding=1, pool=pool),  # type: ignore[arg-type]  # checked by ConvSpec
             ConvSpec(4, 3, padding=1))
    name = f"toy stack ({padding_mode} padding, stride {stride}" + (f", {pool} pool)" if pool else ")")
    return CNNSpec(name=name, in_channels=in_channels, input_size=size, convs=convs, num_classes=2,
                   padding_mode=padding_mode)  # type: ignore[arg-type]  # checked by CNNSpec


def toy_model(*, padding_mode: str = "zeros", stride: int = 1, pool: str | None = None,
              seed: int = 0) -> TrainedModel:
    """The `toy_spec` stack, built with seeded random weights, ready for the pages: a one-channel
    32x32 input normalised around 0.5 (it is only looked at, never trained)."""
    spec = toy_spec(padding_mode=padding_mode, stride=stride, pool=pool)
    info = ModelInfo(name="toy stack", spec=spec, class_names=("a", "b"), dataset="photos",
                     preprocessing=Preprocessing(spec.in_channels, spec.input_size, (0.5,), (0.25,)))
    return TrainedModel(build_model(spec, seed=seed), info)


@dataclass(frozen=True)
class LayerEquivariance:
    """How far one layer's map is from following a shift of the image (rows, then columns per pair).

    `map_shift` is shift / jump, the shift the map should show; when it is not whole
    (`exact` False) the map was compared after the nearest whole shift
    (`applied_shift`), which cannot match: the layer's grid of units does not line up
    with the shifted image. `error` is ||f(Sx) - S'f(x)|| / ||S'f(x)|| over all
    channels of the compared units only (`compared` of them per channel, the ones no
    border reaches; NaN if none). `full_error` is the same over every unit of the map,
    borders included, so it carries the edge error that `error` leaves out by design
    (equal to `error` when every unit is compared; NaN when not computed).
    """

    name: str
    jump: tuple[int, int]
    map_shift: tuple[float, float]
    exact: bool
    error: float
    compared: int
    full_error: float = math.nan

    @property
    def applied_shift(self) -> tuple[int, int]:
        """The whole map shift S' the layer was compared with: `map_shift` rounded (halves away from 0)."""
        return _round_half_away(self.map_shift[0]), _round_half_away(self.map_shift[1])


@dataclass(frozen=True, eq=False)
class EquivarianceView:
    """One channel of one layer: the maps behind an equivariance check, each (H', W').

    `difference` = f_shifted_x - shifted_f_x on every unit, borders included, so the
    error that zero padding causes along the edges can be seen; `compared` marks the
    units that `equivariance_errors` measures `error` on (those no border reaches;
    None means every unit). `map_shift` is the whole map shift S' that `shifted_f_x`
    was moved by; `exact` says whether it equals shift / jump (otherwise it is the
    nearest whole shift).
    """

    layer: str
    channel: int
    f_x: np.ndarray          # f(x)
    f_shifted_x: np.ndarray  # f(Sx)
    shifted_f_x: np.ndarray  # S'f(x), shifted the way the image was (zero fill or wrap)
    difference: np.ndarray   # f(Sx) - S'f(x) on the whole map
    map_shift: tuple[int, int]
    exact: bool
    compared: np.ndarray | None = None  # (H', W') bool: the units `error` is measured on; None: all

    @property
    def compared_region(self) -> np.ndarray:
        """(H', W') bool: `compared`, or every unit when it is None."""
        if self.compared is None:
            return np.ones(np.shape(self.difference), dtype=bool)
        return np.asarray(self.compared, dtype=bool)


def _round_half_away(value: float) -> int:
    # Python's round() sends 0.5 to 0 and 1.5 to 2; halves away from zero treat +/- shifts alike.
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@dataclass(frozen=True)
class _Comparison:
    """The shared part of both public functions: one layer's shift, region and shifted map."""

    record: ReceptiveField
    map_shift: tuple[float, float]
    applied: tuple[int, int]
    exact: bool
    shifted_f_x: np.ndarray  # (C, H', W')
    region: np.ndarray       # (H', W') bool: the units of f(Sx) that are compared


def _compare(record: ReceptiveField, f_x: np.ndarray, input_hw: tuple[int, int], shift: tuple[int, int],
             mode: ShiftMode) -> _Comparison:
    """S'f(x) and the region of units to compare for one layer with a receptive field."""
    assert record.jump is not None  # callers pass only records with a window
    map_shift = (shift[0] / record.jump[0], shift[1] / record.jump[1])
    applied = (_round_half_away(map_shift[0]), _round_half_away(map_shift[1]))
    exact = all(s % j == 0 for s, j in zip(shift, record.jump, strict=True))
    # The map is moved the way the image was: zero fill for "zeros", a wrap for "circular".
    shifted = shift_image(torch.from_numpy(f_x), applied, mode=mode).numpy()
    rows, cols = f_x.shape[-2:]
    if mode == "circular":
        # A circular shift of a circularly padded network has no borders: every unit counts.
        return _Comparison(record, map_shift, applied, exact, shifted, np.ones((rows, cols), dtype=bool))
    # Why this region is free of border effects: a unit whose (unclipped) window lies inside
    # the image never reads padding at any layer (a padded position's own window reaches
    # past the image edge, and the unit's window contains it). Inside the part of Sx that
    # holds real content, it reads exactly the pixels of x that unit u - S' of f(x) reads
    # (when the shift is exact), and that unit is inside the image of x too, so it reads no
    # padding either: same weights, same pixels, same value. The zero-filled band is
    # outside the content, so it is not read either.
    keep = []
    for axis, (extent, count) in enumerate(((input_hw[0], rows), (input_hw[1], cols))):
        low, high = max(0, shift[axis]), extent - 1 + min(0, shift[axis])
        units = np.arange(count)
        inside = np.array([_window_inside(record, axis, int(u), low, high) for u in units], dtype=bool)
        source = units - applied[axis]
        keep.append(inside & (source >= 0) & (source < count))
    return _Comparison(record, map_shift, applied, exact, shifted, keep[0][:, None] & keep[1][None, :])


def _window_inside(record: ReceptiveField, axis: int, unit: int, low: int, high: int) -> bool:
    # Rows and columns are separate: the window of (unit, 0) gives the rows of every unit in that row.
    top, left, bottom, right = record.window((unit, 0) if axis == 0 else (0, unit))
    first, last = (top, bottom) if axis == 0 else (left, right)
    return low <= first and last <= high


def _relative_error(f_shifted_x: np.ndarray, shifted_f_x: np.ndarray, region: np.ndarray) -> float:
    if not region.any():
        return math.nan
    a = f_shifted_x[:, region].astype(np.float64)
    b = shifted_f_x[:, region].astype(np.float64)
    distance, norm = float(np.linalg.norm(a - b)), float(np.linalg.norm(b))
    if norm == 0.0:
        # All-zero maps (a dead ReLU channel, say): equal is 0, anything else infinitely far.
        return 0.0 if distance == 0.0 else math.inf
    return distance / norm


def _comparisons(model: nn.Module, x: torch.Tensor, shift: tuple[int, int], mode: ShiftMode,
                 layers: list[str] | None = None
                 ) -> tuple[list[_Comparison], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One forward for x and one for Sx; a comparison for every (C, H, W) layer with a receptive field."""
    x = torch.as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"x must be one image (C, H, W), not shape {tuple(x.shape)}")
    shift = _as_shift(shift)
    _check_mode(mode)
    shape = (int(x.shape[0]), int(x.shape[1]), int(x.shape[2]))
    # A module called twice gets a record per call; feature_maps keeps the last call, so the last record.
    records = {r.name: r for r in receptive_fields(model, shape) if r.name != "input"}
    f_x = feature_maps(model, x, layers=layers)
    f_sx = feature_maps(model, shift_image(x, shift, mode=mode), layers=layers)
    found = []
    for name, value in f_x.items():
        record = records.get(name)
        if record is None or record.size is None or value.ndim != 3 or record.output_shape != value.shape:
            continue  # no single window (after flatten, say) or not a map: nothing to compare
        found.append(_compare(record, value, shape[1:], shift, mode))
    return found, f_x, f_sx


def equivariance_errors(model: nn.Module, x: torch.Tensor, shift: tuple[int, int], *,
                        mode: ShiftMode = "zeros") -> list[LayerEquivariance]:
    """How far each layer's map is from moving with a shift of the image x (C, H, W), in call order.

    For every layer with a (C, H, W) map and a receptive field, compares f(Sx) with
    S'f(x), where S is `shift_image(., shift, mode=mode)` and S' moves the map by
    shift / jump units (rounded to the nearest whole shift when that is not whole:
    then `exact` is False and an error is expected, which is the point).

    mode="zeros" measures `error` only on the units of f(Sx) whose whole receptive
    field lies in the shifted image's real content and whose partner u - S' lies in
    f(x)'s map: neither padding nor the zero-filled band reaches them, so for a
    convolutional stack and an exact shift that error is float rounding; `full_error`
    measures every unit, so the border's share of the error shows there. mode="circular" wraps the
    image and compares every unit (S' wraps too); it is exact only for networks with
    circular padding whose map sizes are the input size divided by the jump.
    Raises ValueError for a bad shift, mode or input shape, or an untraceable model.
    """
    found, _, f_sx = _comparisons(model, x, shift, mode)
    out = []
    for c in found:
        name = c.record.name
        assert c.record.jump is not None
        out.append(LayerEquivariance(
            name=name, jump=c.record.jump, map_shift=c.map_shift, exact=c.exact,
            error=_relative_error(f_sx[name], c.shifted_f_x, c.region), compared=int(c.region.sum()),
            full_error=_relative_error(f_sx[name], c.shifted_f_x, np.ones_like(c.region))))
    return out


def equivariance_view(model: nn.Module, x: torch.Tensor, shift: tuple[int, int], layer: str, channel: int, *,
                      mode: ShiftMode = "zeros") -> EquivarianceView:
    """The maps of one channel of `layer` behind `equivariance_errors`: f(x), f(Sx), S'f(x) and their difference.

    The difference covers the whole map; `compared` marks the region `error` is measured
    on. Same shift, mode and compared region as `equivariance_errors`; `layer` is a leaf
    module's qualified name, as `equivariance_errors` lists them. Raises ValueError for
    an unknown layer, a layer that has no (C, H, W) map with a receptive field, or a
    channel outside it.
    """
    found, f_x, f_sx = _comparisons(model, x, shift, mode, layers=[layer])
    match = [c for c in found if c.record.name == layer]
    if not match:
        raise ValueError(f"layer {layer!r} has no feature map with a receptive field to compare "
                         f"(its output is {tuple(f_x[layer].shape)})")
    c = match[0]
    channels = f_x[layer].shape[0]
    if isinstance(channel, bool) or not isinstance(channel, numbers.Integral) or not 0 <= channel < channels:
        raise ValueError(f"layer {layer!r} has channels 0 to {channels - 1}, not {channel!r}")
    channel = int(channel)
    f_shifted_x, shifted_f_x = f_sx[layer][channel], c.shifted_f_x[channel]
    # The whole map, not only the compared region: the edge error is what zero padding does.
    difference = (f_shifted_x - shifted_f_x).astype(np.float32)
    return EquivarianceView(layer=layer, channel=channel, f_x=f_x[layer][channel], f_shifted_x=f_shifted_x,
                            shifted_f_x=shifted_f_x, difference=difference, map_shift=c.applied, exact=c.exact,
                            compared=c.region.copy())
