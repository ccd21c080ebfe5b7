"""Window arithmetic for receptive fields (Araujo, Norris & Sim, Distill 2019).

The state of one graph node while the graph walker goes through a traced model: a known
window (`Geo`), no single window (`Undefined`, with the reason) or a constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Pair = tuple[int, int]


# --- the state of one graph node ---------------------------------------------------------------

@dataclass(frozen=True)
class Geo:
    """A known window: per axis size, jump and centre of the first unit."""

    size: Pair
    jump: Pair
    start: tuple[float, float]


@dataclass(frozen=True)
class Undefined:
    """No single window: `note` is the reason at `origin`; global means every pixel is seen."""

    origin: str
    note: str
    is_global: bool = False


class Const:
    """A value that does not depend on the input's pixels (parameters, shapes, constants)."""


CONST = Const()
State = Geo | Undefined | Const

GLOBAL_FLATTEN = "global: after flatten every unit sees the whole input"


def as_pair(value: Any) -> Pair:
    """A layer argument (kernel size, stride, ...) as (rows, cols): 3 and (3,) give (3, 3)."""
    if isinstance(value, int):
        return value, value
    values = tuple(value)
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def fmt_numbers(values: Sequence[float]) -> str:
    """Numbers for a note, as "(1, 0.5)"."""
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def window_after(geo: Geo, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair = (1, 1)) -> Geo:
    """One sliding-window layer (convolution or pooling), per axis.

    Araujo, Norris & Sim (Distill 2019): with an effective kernel k' = d(k - 1) + 1,
    size_l = size_{l-1} + (k' - 1) jump_{l-1}, jump_l = jump_{l-1} s and
    start_l = start_{l-1} + ((k' - 1) / 2 - p) jump_{l-1}, where p is the padding
    before the first row/column.
    """
    size, jump, start = [], [], []
    for a in range(2):
        k = dilation[a] * (kernel[a] - 1) + 1
        size.append(geo.size[a] + (k - 1) * geo.jump[a])
        jump.append(geo.jump[a] * stride[a])
        start.append(geo.start[a] + ((k - 1) / 2 - padding[a]) * geo.jump[a])
    return Geo((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]))


def shifted(geo: Geo, rows: float, cols: float) -> Geo:
    """Index 0 moves to old index (rows, cols): padding shifts by minus the pad, slicing by the offset."""
    return Geo(geo.size, geo.jump, (geo.start[0] + rows * geo.jump[0], geo.start[1] + cols * geo.jump[1]))


