"""Receptive fields: which input pixels a unit can see, and which ones it responds to.

`receptive_fields` computes, for every layer, the window of input pixels that one
unit of its output depends on (the *theoretical* receptive field), analytically,
after Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019. The model is traced with torch.fx, so residual blocks are
seen as a graph: where paths meet, the windows are combined, or refused with a
note when the paths do not line up. Anything the analysis cannot interpret gives
`size=None` and a note, for that layer and every layer after it: never a number
that could be wrong.
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnviz.analysis.features import model_dtype
from cnnviz.analysis.graph_walker import GraphWalker, node_kind
from cnnviz.analysis.tracing import (
    TraceTimeout,
    record_shapes,
    timeout_error,
    trace_deadline,
    trace_isolated,
)
from cnnviz.analysis.windows import Const, Geo

Pair = tuple[int, int]
Box = tuple[int, int, int, int]

__all__ = ["ReceptiveField", "receptive_fields"]


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one layer (per axis: rows, then columns).

    `size` is the side of the input window one unit sees, `jump` the number of input
    pixels between neighbouring units (the effective stride) and `start` the input
    coordinate of the centre of unit (0, 0), which lies outside the image when the
    layers pad. Unit (i, j) is centred on start + (i, j) * jump. `size`, `jump` and
    `start` are None when no single window describes the layer (`note` says why).
    """

    name: str
    kind: str
    size: Pair | None
    jump: Pair | None
    start: tuple[float, float] | None
    output_shape: tuple[int, ...] | None
    note: str = ""

    def box(self, unit: tuple[int, int], input_hw: tuple[int, int]) -> Box:
        """(top, left, bottom, right), inclusive, of the input window of `unit` (row, col).

        The window is clipped to an input of `input_hw` (height, width) pixels: near the
        border, part of it lies in the padding. Raises ValueError if the layer has no
        receptive field, the unit is outside the layer's map or its window lies entirely
        in the padding.
        """
        if self.size is None or self.jump is None or self.start is None:
            raise ValueError(f"{self.name!r} has no receptive field: {self.note}")
        unit = as_unit(unit)
        if self.output_shape is not None and len(self.output_shape) == 3:
            rows, cols = self.output_shape[1:]
            if not (0 <= unit[0] < rows and 0 <= unit[1] < cols):
                raise ValueError(f"unit {tuple(unit)} is outside the {rows}x{cols} map of {self.name!r}")
        top, left, bottom, right = self.window(unit)
        for first, last, extent in ((top, bottom, input_hw[0]), (left, right, input_hw[1])):
            if last < 0 or first >= extent:
                raise ValueError(f"the window of unit {tuple(unit)} of {self.name!r} lies entirely in the padding")
        return max(top, 0), max(left, 0), min(bottom, input_hw[0] - 1), min(right, input_hw[1] - 1)

    def window(self, unit: tuple[int, int]) -> Box:
        """(top, left, bottom, right), inclusive, of the window of `unit`, not clipped (it may reach
        into the padding, beyond the input's edges)."""
        if self.size is None or self.jump is None or self.start is None:
            raise ValueError(f"{self.name!r} has no receptive field: {self.note}")
        unit = as_unit(unit)
        edges = []
        for axis in range(2):
            centre = self.start[axis] + unit[axis] * self.jump[axis]
            # start - (size - 1) / 2 is a whole number for every layer (each update adds
            # -padding * jump to it), so this rounding only removes float noise.
            first = round(centre - (self.size[axis] - 1) / 2)
            edges.append((first, first + self.size[axis] - 1))
        return edges[0][0], edges[1][0], edges[0][1], edges[1][1]


def as_unit(unit: Sequence[Any]) -> tuple[int, int]:
    """(row, col) as ints; whole floats (as a chart click may give) are accepted, fractions refused."""
    if len(unit) != 2:
        raise ValueError(f"a unit is (row, col), not {unit!r}")
    values = []
    for value in unit:
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"a unit is (row, col) in whole numbers, not {tuple(unit)!r}")
        values.append(int(number))
    return values[0], values[1]


# Receptive fields depend on the layers alone, not on the weights: each architecture is traced once
# per process and the result kept. A cache hit takes no lock; the lock guards only the insertion
# (microseconds), and no trace or forward pass ever runs while it is held.
_CACHE_LOCK = threading.Lock()
_KNOWN: dict[tuple[str, tuple[int, int, int]], tuple[ReceptiveField, ...]] = {}
_MAX_KNOWN = 256


def receptive_fields(model: nn.Module, input_shape: tuple[int, int, int]) -> list[ReceptiveField]:
    """The theoretical receptive field of every layer of `model` for inputs of shape (C, H, W).

    Computed once per architecture (the model's class and layers, `repr(model)`) and
    input shape in a process, since the weights do not matter; later calls reuse it.

    Records are in execution order, starting with the input itself (size 1, jump 1,
    start 0); function calls (adds of residual blocks, slices, pads, ...) get records
    too, named after their torch.fx node. Where paths meet (add, concatenation along
    channels) with the same jump and start, the window is the largest of theirs;
    otherwise, and after any layer the analysis does not know, size is None and the
    note says why. After flattening or global pooling every unit sees the whole input:
    size None with a note starting "global". Output shapes come from one pass of zeros
    (in the model's own dtype, float64 too) in eval mode through a private copy of the
    model on the meta device (shapes only: no memory, no arithmetic; on the CPU only for an
    operation without a meta kernel). The model itself is not touched, and other threads'
    forward passes are not affected (see `cnnviz.analysis.tracing`). Raises ValueError if torch.fx
    cannot trace the model, the input does not run through it, or tracing takes more than
    `cnnviz.analysis.tracing.TRACE_SECONDS`.
    """
    if len(input_shape) != 3 or not all(isinstance(n, numbers.Integral) and n > 0 for n in input_shape):
        raise ValueError(f"input_shape must be (channels, height, width), not {tuple(input_shape)!r}")
    input_shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    if not _described_by_repr(model):  # custom forward code: its repr does not say what it computes
        return _receptive_fields(model, input_shape)
    key = (f"{type(model).__module__}.{type(model).__qualname__}\n{model!r}", input_shape)
    known = _KNOWN.get(key)  # no lock: one dict read is atomic, and entries are never changed
    if known is None:
        known = tuple(_receptive_fields(model, input_shape))  # two sessions may both trace: both get the same
        if _CACHE_LOCK.acquire(timeout=1.0):  # not caching is better than waiting
            try:
                if key not in _KNOWN and len(_KNOWN) >= _MAX_KNOWN:
                    _KNOWN.pop(next(iter(_KNOWN)))
                _KNOWN[key] = known
            finally:
                _CACHE_LOCK.release()
    return list(known)


def _described_by_repr(model: nn.Module) -> bool:
    """Whether the model's repr fixes its computation: cnnviz's own models, built of torch.nn layers."""
    return type(model).__module__.startswith("cnnviz.") and all(
        type(m).__module__.startswith(("torch.nn.", "cnnviz.")) for m in model.modules())


def _receptive_fields(model: nn.Module, input_shape: tuple[int, int, int]) -> list[ReceptiveField]:
    # The model itself is only copied, never traced, run or switched to eval mode: another
    # session may be using it (zoo models are shared).
    deadline = trace_deadline()
    graph_module = trace_isolated(model, meta=True, deadline=deadline)
    placeholders = [n for n in graph_module.graph.nodes if n.op == "placeholder"]
    if not placeholders:
        raise ValueError(f"{type(model).__name__} takes no input")
    dtype = model_dtype(model)
    try:
        # Shapes on the meta device: no memory and no arithmetic, whatever the layers' sizes.
        recorder = record_shapes(graph_module, torch.zeros(1, *input_shape, dtype=dtype, device="meta"), deadline)
    except TraceTimeout:
        raise timeout_error(model) from None
    except Exception:  # noqa: BLE001 - an operation without a meta kernel, or a real error: run it for real
        graph_module = trace_isolated(model, meta=False, deadline=deadline)
        try:
            recorder = record_shapes(graph_module, torch.zeros(1, *input_shape, dtype=dtype), deadline)
        except TraceTimeout:
            raise timeout_error(model) from None
        except Exception as error:
            raise ValueError(f"an input of shape {input_shape} does not run through "
                             f"{type(model).__name__}: {error}") from error

    walker = GraphWalker(graph_module, recorder)
    first = placeholders[0]
    walker.names[first] = "input"
    walker.states[first] = Geo((1, 1), (1, 1), (0.0, 0.0))
    records = [ReceptiveField("input", "input", (1, 1), (1, 1), (0.0, 0.0), tuple(input_shape))]
    for node in graph_module.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue  # other placeholders are optional arguments left at their defaults: constants
        name = str(node.target) if node.op == "call_module" else node.name
        walker.names[node] = name
        state, note = walker.state(node)
        walker.states[node] = state
        if isinstance(state, Const) or node not in recorder.shapes:
            continue  # not a tensor, or not made from the input's pixels
        shape = recorder.shapes[node][1:]
        kind = node_kind(node, walker.modules)
        if isinstance(state, Geo):
            records.append(ReceptiveField(name, kind, state.size, state.jump, state.start, shape, note))
        else:
            records.append(ReceptiveField(name, kind, None, None, None, shape, note or state.note))
    return records


