"""Receptive fields: which input pixels a unit can see, and which ones it responds to.

`receptive_fields` computes, for every layer, the window of input pixels that one
unit of its output depends on (the *theoretical* receptive field), analytically,
after Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019. The model is traced with torch.fx, so residual blocks are
seen as a graph: where paths meet, the windows are combined, or refused with a
note when the paths do not line up. Anything the analysis cannot interpret gives
`size=None` and a note, for that layer and every layer after it: never a number
that could be wrong.

`effective_receptive_field` measures how strongly each input pixel moves one unit
(Luo, Li, Urtasun & Zemel 2016, "Understanding the Effective Receptive Field in
Deep Convolutional Neural Networks"): |d unit / d input|, typically a bump in the
middle of the theoretical window; `gradient_mass_fraction` says how much of the
window holds most of that gradient.
"""

from __future__ import annotations

import copy
import math
import numbers
import operator
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx import _symbolic_trace as _fx_symbolic_trace

from cnnviz.features import model_dtype

Pair = tuple[int, int]
Box = tuple[int, int, int, int]

__all__ = ["GradientSpread", "ReceptiveField", "effective_receptive_field", "gradient_mass_fraction",
           "gradient_spread", "receptive_field_crops", "receptive_fields"]


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
        unit = _as_unit(unit)
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
        unit = _as_unit(unit)
        edges = []
        for axis in range(2):
            centre = self.start[axis] + unit[axis] * self.jump[axis]
            # start - (size - 1) / 2 is a whole number for every layer (each update adds
            # -padding * jump to it), so this rounding only removes float noise.
            first = round(centre - (self.size[axis] - 1) / 2)
            edges.append((first, first + self.size[axis] - 1))
        return edges[0][0], edges[1][0], edges[0][1], edges[1][1]


def _as_unit(unit: Sequence[Any]) -> tuple[int, int]:
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


# --- the state of one graph node ---------------------------------------------------------------

@dataclass(frozen=True)
class _Geo:
    """A known window: per axis size, jump and centre of the first unit."""

    size: Pair
    jump: Pair
    start: tuple[float, float]


@dataclass(frozen=True)
class _Undefined:
    """No single window: `note` is the reason at `origin`; global means every pixel is seen."""

    origin: str
    note: str
    is_global: bool = False


class _Const:
    """A value that does not depend on the input's pixels (parameters, shapes, constants)."""


_CONST = _Const()
_State = _Geo | _Undefined | _Const

_GLOBAL_FLATTEN = "global: after flatten every unit sees the whole input"


def _pair(value: Any) -> Pair:
    if isinstance(value, int):
        return value, value
    values = tuple(value)
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def _window(geo: _Geo, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair = (1, 1)) -> _Geo:
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
    return _Geo((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]))


def _shift(geo: _Geo, rows: float, cols: float) -> _Geo:
    """Index 0 moves to old index (rows, cols): padding shifts by minus the pad, slicing by the offset."""
    return _Geo(geo.size, geo.jump, (geo.start[0] + rows * geo.jump[0], geo.start[1] + cols * geo.jump[1]))


# --- what each operation does to a window ------------------------------------------------------

# Layers that act on each pixel position separately (in eval mode: batch norm uses its running statistics).
_POINTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Hardshrink, nn.Softshrink, nn.Tanhshrink, nn.Tanh, nn.Sigmoid,
    nn.LogSigmoid, nn.Softplus, nn.Softsign, nn.Threshold, nn.Identity, nn.Dropout, nn.Dropout2d, nn.AlphaDropout,
    nn.FeatureAlphaDropout, nn.BatchNorm2d, nn.SyncBatchNorm, nn.LocalResponseNorm, nn.ChannelShuffle,
    nn.Softmax2d)
_PAD_MODULES: tuple[type[nn.Module], ...] = (
    nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.CircularPad2d)
_POINTWISE_FUNCTIONS: set[Callable[..., Any]] = {
    F.relu, F.relu_, F.relu6, F.leaky_relu, F.leaky_relu_, F.prelu, F.rrelu, F.elu, F.elu_, F.selu, F.celu,
    F.gelu, F.silu, F.mish, F.hardswish, F.hardsigmoid, F.hardtanh, F.hardtanh_, F.hardshrink, F.softshrink,
    F.tanhshrink, F.tanh, F.sigmoid, F.logsigmoid, F.softplus, F.softsign, F.threshold, F.dropout, F.dropout2d,
    F.alpha_dropout, F.feature_alpha_dropout, F.local_response_norm, F.channel_shuffle, torch.channel_shuffle,
    torch.relu, torch.relu_, torch.sigmoid, torch.tanh, torch.abs, torch.exp, torch.log, torch.neg, torch.sqrt,
    torch.rsqrt, torch.square, torch.sign, torch.clamp, torch.clip, torch.erf, torch.sin, torch.cos,
    operator.neg, operator.pos, operator.abs}
_POINTWISE_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "abs", "abs_", "exp", "log", "neg", "sqrt",
    "rsqrt", "square", "sign", "clamp", "clamp_", "clip", "clamp_min", "clamp_max", "erf", "sin", "cos",
    "contiguous", "float", "double", "half", "bfloat16", "to", "type_as", "clone", "detach", "cpu",
    "requires_grad_"}
# Element by element with broadcasting: an output pixel sees the union of its operands' windows.
_ELEMENTWISE_FUNCTIONS: set[Callable[..., Any]] = {
    operator.add, operator.iadd, operator.sub, operator.isub, operator.mul, operator.imul, operator.truediv,
    operator.itruediv, operator.pow, torch.add, torch.sub, torch.mul, torch.div, torch.pow, torch.maximum,
    torch.minimum, torch.Tensor.add, torch.Tensor.sub, torch.Tensor.mul, torch.Tensor.div}
_ELEMENTWISE_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "pow", "maximum", "minimum"}
_CAT_FUNCTIONS: set[Callable[..., Any]] = {torch.cat, torch.concat, torch.concatenate}
_RESHAPE_FUNCTIONS: set[Callable[..., Any]] = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze}
_RESHAPE_METHODS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "view_as", "reshape_as"}
_REDUCE_FUNCTIONS: set[Callable[..., Any]] = {
    torch.mean, torch.sum, torch.amax, torch.amin, torch.max, torch.min, torch.std, torch.var, torch.logsumexp}
_REDUCE_METHODS = {"mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp"}
_SOFTMAX_FUNCTIONS: set[Callable[..., Any]] = {F.softmax, F.log_softmax, F.softmin, torch.softmax,
                                               torch.log_softmax}
# Results that depend on a tensor's shape or type only, never on its pixels.
_METADATA_METHODS = {"size", "dim", "ndimension", "numel", "nelement", "element_size", "is_contiguous",
                     "get_device", "new_zeros", "new_ones", "new_empty", "new_full"}
_METADATA_FUNCTIONS: set[Callable[..., Any]] = {torch.zeros_like, torch.ones_like, torch.empty_like, len,
                                                torch.numel}
_METADATA_ATTRIBUTES = {"shape", "dtype", "device", "ndim", "is_cuda", "layout", "requires_grad"}


class _Recorder(fx.Interpreter):
    """Runs the traced model once and keeps each node's output shape, or its value if not a tensor."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.shapes: dict[fx.Node, tuple[int, ...]] = {}
        self.values: dict[fx.Node, Any] = {}
        self.deadline = math.inf

    def run_node(self, n: fx.Node) -> Any:
        if time.monotonic() > self.deadline:
            raise _TraceTimeout
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            self.shapes[n] = tuple(result.shape)
        elif not _holds_tensor(result):
            self.values[n] = result  # sizes and other plain values, needed to read kernel sizes, slices, ...
        return result


def _record(graph_module: fx.GraphModule, x: torch.Tensor, deadline: float) -> _Recorder:
    recorder = _Recorder(graph_module)
    recorder.deadline = deadline
    with torch.no_grad():
        recorder.run(x)
    return recorder


def _timeout(model: nn.Module) -> ValueError:
    return ValueError(f"tracing {type(model).__name__} took more than {TRACE_SECONDS:g} s, "
                      "so its receptive fields are not computed")


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(_holds_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_tensor(v) for v in value.values())
    return False


def _nodes_in(value: Any) -> Iterator[fx.Node]:
    if isinstance(value, fx.Node):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _nodes_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _nodes_in(v)
    elif isinstance(value, slice):
        yield from _nodes_in((value.start, value.stop, value.step))


def _kind(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return type(modules[str(node.target)]).__name__
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


class _Walker:
    """Walks the traced graph in execution order and works out each node's window."""

    def __init__(self, module: fx.GraphModule, recorder: _Recorder) -> None:
        self.modules = dict(module.named_modules())
        self.shapes = recorder.shapes
        self.values = recorder.values
        self.states: dict[fx.Node, _State] = {}
        self.names: dict[fx.Node, str] = {}

    # -- helpers --

    def concrete(self, value: Any) -> Any:
        """`value` with every non-tensor node replaced by the value it had in the recorded run."""
        if isinstance(value, fx.Node):
            return self.values.get(value, value)
        if isinstance(value, tuple):
            return tuple(self.concrete(v) for v in value)
        if isinstance(value, list):
            return [self.concrete(v) for v in value]
        if isinstance(value, slice):
            return slice(self.concrete(value.start), self.concrete(value.stop), self.concrete(value.step))
        return value

    def arg(self, node: fx.Node, index: int, name: str, default: Any = None) -> Any:
        """Positional argument `index` (counting self for methods) or keyword `name`, as a value."""
        if len(node.args) > index:
            return self.concrete(node.args[index])
        return self.concrete(node.kwargs.get(name, default))

    def name(self, node: fx.Node) -> str:
        return self.names.get(node, node.name)

    # -- the walk --

    def state(self, node: fx.Node) -> tuple[_State, str]:
        """The window of `node` and the note of its record."""
        if node.op == "get_attr":
            return _CONST, ""
        if self.is_metadata(node):
            return _CONST, ""
        parents = [n for n in dict.fromkeys(_nodes_in((node.args, node.kwargs)))
                   if not isinstance(self.states.get(n, _CONST), _Const)]
        if not parents:
            return _CONST, ""
        states = [self.states[p] for p in parents]
        for s in states:
            if isinstance(s, _Undefined) and s.is_global:
                # Every unit of that operand already depends on every pixel, so does this one.
                return s, s.note
        for s in states:
            if isinstance(s, _Undefined):
                return s, f"depends on {s.origin!r}, which has no receptive field ({s.note})"
        geo = [s for s in states if isinstance(s, _Geo)]
        result = self.apply(node, parents, geo)
        if isinstance(result, str):  # an operation that could not be interpreted: the reason
            return _Undefined(self.name(node), result), result
        return result

    def is_metadata(self, node: fx.Node) -> bool:
        if node.op == "call_method":
            return node.target in _METADATA_METHODS
        if node.op == "call_function":
            if node.target is getattr:
                return len(node.args) > 1 and node.args[1] in _METADATA_ATTRIBUTES
            return node.target in _METADATA_FUNCTIONS
        return False

    def everywhere(self, node: fx.Node, what: str) -> tuple[_State, str]:
        """Every unit of `node` depends on every input pixel, because of `what`."""
        note = f"global: {what}, so every unit sees the whole input"
        return _Undefined(self.name(node), note, is_global=True), note

    def unknown(self, node: fx.Node) -> str:
        what = "layer" if node.op == "call_module" else "operation"
        kind = _kind(node, self.modules)
        return (f"unknown {what} {kind} ({self.name(node)!r}): cannot tell which input pixels it mixes, "
                "so no receptive field from here on")

    def apply(self, node: fx.Node, parents: list[fx.Node], geo: list[_Geo]) -> tuple[_State, str] | str:
        """The window after `node`, whose input-dependent operands are `parents` with windows `geo`."""
        target = node.target
        method = node.op == "call_method"
        binary_max = target in ("max", "min", torch.max, torch.min) and len(parents) > 1
        if (method and target in _ELEMENTWISE_METHODS) or (not method and target in _ELEMENTWISE_FUNCTIONS) \
                or binary_max:
            return self.combine(node, parents, geo)
        if not method and target in _CAT_FUNCTIONS:
            ndim = len(self.shapes.get(node, ()))
            dim = self.arg(node, 1, "dim", 0)
            if ndim >= 3 and isinstance(dim, int) and dim % ndim == ndim - 3:
                return self.combine(node, parents, geo)
            return f"{_kind(node, self.modules)} along dimension {dim}, not channels: no single window"
        if len(parents) > 1:
            return (f"{_kind(node, self.modules)} ({self.name(node)!r}) takes several tensors made from the input: "
                    "no single window")
        parent, window = parents[0], geo[0]
        if node.op == "call_module":
            return self.apply_module(node, self.modules[str(target)], parent, window)
        if (method and target in _POINTWISE_METHODS) or (not method and target in _POINTWISE_FUNCTIONS):
            return window, ""
        if method:
            if target in _RESHAPE_METHODS:
                return self.reshape(node, parent, window)
            if target in _REDUCE_METHODS:
                return self.reduce(node, parent, window)
            if target in ("softmax", "log_softmax"):
                return self.channelwise(node, parent, window, self.arg(node, 1, "dim"))
            return self.unknown(node)
        if target is F.batch_norm:
            if self.arg(node, 5, "training", False):
                return self.everywhere(node, "batch_norm normalises with statistics of the whole map")
            return window, ""
        if target in _RESHAPE_FUNCTIONS:
            return self.reshape(node, parent, window)
        if target in _REDUCE_FUNCTIONS:
            return self.reduce(node, parent, window)
        if target in _SOFTMAX_FUNCTIONS:
            return self.channelwise(node, parent, window, self.arg(node, 1, "dim"))
        if target is operator.getitem:
            return self.getitem(node, parent, window)
        if target is F.pad:
            return self.pad(node, window, self.arg(node, 1, "pad"), self.arg(node, 2, "mode", "constant"))
        if target is F.conv2d:
            weight = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
            if node.args[:1] != (parent,) or not isinstance(weight, fx.Node) or weight not in self.shapes:
                return self.unknown(node)
            kernel = _pair(self.shapes[weight][-2:])
            dilation = _pair(self.arg(node, 5, "dilation", 1))
            padding = self.conv_padding(self.arg(node, 4, "padding", 0), kernel, dilation)
            return _window(window, kernel, _pair(self.arg(node, 3, "stride", 1)), padding, dilation), ""
        if target is F.max_pool2d:  # (input, kernel_size, stride, padding, dilation, ceil_mode, ...)
            return self.pool(_pair(self.arg(node, 1, "kernel_size")), self.arg(node, 2, "stride"),
                             self.arg(node, 3, "padding", 0), _pair(self.arg(node, 4, "dilation", 1)),
                             self.arg(node, 5, "ceil_mode", False), window)
        if target is F.avg_pool2d:  # (input, kernel_size, stride, padding, ceil_mode, ...)
            return self.pool(_pair(self.arg(node, 1, "kernel_size")), self.arg(node, 2, "stride"),
                             self.arg(node, 3, "padding", 0), (1, 1), self.arg(node, 4, "ceil_mode", False), window)
        if target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self.adaptive(node, parent, window, self.arg(node, 1, "output_size"))
        return self.unknown(node)

    def apply_module(self, node: fx.Node, module: nn.Module, parent: fx.Node,
                     geo: _Geo) -> tuple[_State, str] | str:
        if isinstance(module, _POINTWISE_MODULES):
            return geo, ""
        if isinstance(module, nn.Conv2d):
            dilation = _pair(module.dilation)
            padding = self.conv_padding(module.padding, _pair(module.kernel_size), dilation)
            note = ("circular padding: units at the border also see pixels from the opposite side"
                    if module.padding_mode == "circular" and any(padding) else "")
            return _window(geo, _pair(module.kernel_size), _pair(module.stride), padding, dilation), note
        if isinstance(module, nn.MaxPool2d):
            return self.pool(_pair(module.kernel_size), module.stride, module.padding, _pair(module.dilation),
                             module.ceil_mode, geo)
        if isinstance(module, nn.AvgPool2d):
            return self.pool(_pair(module.kernel_size), module.stride, module.padding, (1, 1), module.ceil_mode, geo)
        if isinstance(module, nn.LPPool2d):
            return self.pool(_pair(module.kernel_size), module.stride, 0, (1, 1), module.ceil_mode, geo)
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return self.adaptive(node, parent, geo, module.output_size)
        if isinstance(module, (nn.Flatten, nn.Unflatten)):
            return self.reshape(node, parent, geo)
        if isinstance(module, _PAD_MODULES):
            mode = "circular" if isinstance(module, nn.CircularPad2d) else "constant"
            return self.pad(node, geo, tuple(module.padding), mode)
        if isinstance(module, (nn.Softmax, nn.LogSoftmax, nn.Softmin)):
            return self.channelwise(node, parent, geo, module.dim)
        if isinstance(module, nn.GroupNorm) or (
                isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats):
            return self.everywhere(node, f"{type(module).__name__} normalises with statistics of the whole map")
        if isinstance(module, nn.LayerNorm):
            if len(module.normalized_shape) >= 2:
                return self.everywhere(node, "LayerNorm normalises over the whole map")
            return "LayerNorm over the last (column) dimension only mixes whole rows: no single window"
        if isinstance(module, nn.InstanceNorm2d):  # with running statistics in eval mode: per pixel
            return geo, ""
        if isinstance(module, nn.Linear):
            return f"Linear ({self.name(node)!r}) on a spatial map mixes whole rows: no single window"
        return self.unknown(node)

    @staticmethod
    def conv_padding(padding: Any, kernel: Pair, dilation: Pair) -> Pair:
        """The padding before the first row and column."""
        if padding == "valid":
            return 0, 0
        if padding == "same":
            # PyTorch puts the smaller half of an odd total padding before the first row/column.
            return dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2
        return _pair(padding)

    def pool(self, kernel: Pair, stride: Any, padding: Any, dilation: Pair, ceil_mode: bool,
             geo: _Geo) -> tuple[_State, str]:
        stride = kernel if stride is None or stride == () or stride == [] else _pair(stride)
        # ceil_mode only adds one more (partial) window at the bottom/right edge: the size,
        # jump and start of the windows do not change.
        note = ("ceil_mode: the last row/column of windows may hang over the edge; sizes are unchanged"
                if ceil_mode else "")
        return _window(geo, kernel, stride, _pair(padding), dilation), note

    def adaptive(self, node: fx.Node, parent: fx.Node, geo: _Geo, output_size: Any) -> tuple[_State, str] | str:
        in_hw = self.shapes[parent][-2:]
        wanted = _pair(output_size) if isinstance(output_size, int) else tuple(output_size)
        out_hw = tuple(n if o is None else o for o, n in zip(wanted, in_hw))
        if out_hw == (1, 1):
            return self.everywhere(node, "pooling over the whole map")
        if in_hw[0] % out_hw[0] or in_hw[1] % out_hw[1]:
            return (f"adaptive pooling from {in_hw[0]}x{in_hw[1]} to {out_hw[0]}x{out_hw[1]} uses windows of "
                    "different sizes: no single receptive field")
        # An even split is an ordinary pooling with kernel = stride = in / out.
        kernel = (in_hw[0] // out_hw[0], in_hw[1] // out_hw[1])
        return _window(geo, kernel, kernel, (0, 0)), ""

    def pad(self, node: fx.Node, geo: _Geo, pad: Any, mode: Any) -> tuple[_State, str] | str:
        pad = tuple(pad)
        if len(pad) % 2 or not all(isinstance(p, int) for p in pad):
            return self.unknown(node)
        left = pad[0] if len(pad) >= 2 else 0
        top = pad[2] if len(pad) >= 4 else 0
        spatial = any(pad[:4])
        note = ("circular padding: units at the border also see pixels from the opposite side"
                if mode == "circular" and spatial else "")
        # Padding before the first row/column moves index 0 up/left; padding channels changes nothing.
        return _shift(geo, -top, -left), note

    def combine(self, node: fx.Node, parents: list[fx.Node], geo: list[_Geo]) -> tuple[_State, str] | str:
        out_hw = self.shapes.get(node, ())[-2:]
        for p in parents:
            if self.shapes.get(p, ())[-2:] != out_hw:
                return (f"{_kind(node, self.modules)} broadcasts {self.name(p)!r} over the spatial dimensions: "
                        "no single window")
        first = geo[0]
        for p, g in zip(parents[1:], geo[1:]):
            aligned = g.jump == first.jump and all(math.isclose(a, b, abs_tol=1e-9)
                                                   for a, b in zip(g.start, first.start))
            if not aligned:
                return (f"paths with different alignment meet at {_kind(node, self.modules)} "
                        f"({self.name(node)!r}): no single receptive field ({self.name(parents[0])!r}: "
                        f"jump {_fmt(first.jump)}, start {_fmt(first.start)}; {self.name(p)!r}: "
                        f"jump {_fmt(g.jump)}, start {_fmt(g.start)})")
        # Same centres and spacing: the windows are nested, so their union is the largest.
        size = (max(g.size[0] for g in geo), max(g.size[1] for g in geo))
        return _Geo(size, first.jump, first.start), ""

    def reshape(self, node: fx.Node, parent: fx.Node, geo: _Geo) -> tuple[_State, str] | str:
        before, after = self.shapes.get(parent), self.shapes.get(node)
        if before is None or after is None:
            return self.unknown(node)
        if len(after) >= 3 and after[-2:] == before[-2:]:
            # Row-major: with the same last two sizes, only the leading dims were regrouped.
            return geo, ""
        if len(after) <= 2:
            return _Undefined(self.name(node), _GLOBAL_FLATTEN, is_global=True), ""
        return f"{_kind(node, self.modules)} from {before} to {after} rearranges the spatial dims: no single window"

    def reduce(self, node: fx.Node, parent: fx.Node, geo: _Geo) -> tuple[_State, str] | str:
        ndim = len(self.shapes.get(parent, ()))
        dim = self.arg(node, 1, "dim")
        if not (dim is None or isinstance(dim, int)
                or (isinstance(dim, (tuple, list)) and all(isinstance(d, int) for d in dim))):
            return self.unknown(node)
        if dim is None:
            dims = set(range(ndim))
        elif isinstance(dim, int):
            dims = {dim % ndim}
        else:
            dims = {d % ndim for d in dim}
        spatial = dims & {ndim - 2, ndim - 1}
        if not spatial:
            return geo, ""
        if len(spatial) == 2:
            return self.everywhere(node, f"{_kind(node, self.modules)} over the whole map")
        return f"{_kind(node, self.modules)} over one spatial dimension only: no single window"

    def channelwise(self, node: fx.Node, parent: fx.Node, geo: _Geo, dim: Any) -> tuple[_State, str] | str:
        ndim = len(self.shapes.get(parent, ()))
        if isinstance(dim, int) and ndim >= 3 and dim % ndim < ndim - 2:
            return geo, ""
        return f"{_kind(node, self.modules)} over dimension {dim} mixes pixels: no single window"

    def getitem(self, node: fx.Node, parent: fx.Node, geo: _Geo) -> tuple[_State, str] | str:
        if parent not in self.shapes:  # an item of a tuple, e.g. (values, indices): same pixels
            return geo, ""
        shape = self.shapes[parent]
        index = self.concrete(node.args[1])
        index = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, (torch.Tensor, fx.Node, list)) or i is None for i in index) \
                or sum(i is Ellipsis for i in index) > 1:
            return f"indexing {self.name(parent)!r} with {index!r} moves pixels around: no single window"
        if Ellipsis in index:
            at = index.index(Ellipsis)
            index = index[:at] + (slice(None),) * (len(shape) - len(index) + 1) + index[at + 1:]
        index = index + (slice(None),) * (len(shape) - len(index))
        steps, offsets = [1, 1], [0, 0]
        for axis, dim in enumerate((len(shape) - 2, len(shape) - 1)):
            item = index[dim]
            if not isinstance(item, slice):
                return f"indexing {self.name(parent)!r} removes a spatial dimension: no single window"
            first, _, step = item.indices(shape[dim])
            steps[axis], offsets[axis] = step, first
        # A slice start:stop:step keeps the window of each unit it keeps: unit i is old unit start + i*step.
        moved = _shift(geo, offsets[0], offsets[1])
        return _Geo(geo.size, (geo.jump[0] * steps[0], geo.jump[1] * steps[1]), moved.start), ""


# --- tracing without touching other threads ----------------------------------------------------
#
# fx.symbolic_trace patches the class attributes torch.nn.Module.__call__ and __getattr__ (and the
# functions registered with fx.wrap, and `math` in the forward's globals) for the whole process
# while it traces: a forward pass in another thread (another session of the app) then runs
# through the tracer and fails with "NameError: module is not installed as a submodule" (measured:
# 73,321 of 73,926 forward passes of a LeNet-5 failed while another thread traced 457 fresh
# architectures). `_IsolatedTracer` records the same graph without patching anything shared: it
# traces a copy of the model whose modules, and only those, get a subclass whose __call__ and
# __getattr__ call the tracer. The copy's parameters are "meta" tensors (shape only, no memory),
# so recording the output shapes costs no computation either.

_orig_module_call = _fx_symbolic_trace._orig_module_call  # nn.Module.__call__ as torch defined it
_orig_module_getattr = _fx_symbolic_trace._orig_module_getattr
# A trace (and the shape recording) that takes longer than this is stopped with a ValueError.
TRACE_SECONDS = 20.0


class _TraceTimeout(Exception):
    """Raised inside the tracer or the recorder when the time budget is spent."""


class _IsolatedTracer(fx.Tracer):
    """fx.Tracer's graph, without fx's process-wide patches (see above); nn.Module roots only.

    Leaf modules are the same as fx's default (torch.nn's own layers, not Sequential).
    Differences from `fx.symbolic_trace`: functions registered with `torch.fx.wrap` and
    `math` functions are not auto-wrapped (cnnviz's models use neither), and a module
    created inside forward (not a submodule) is traced through instead of refused.
    """

    def __init__(self, deadline: float) -> None:
        super().__init__(autowrap_modules=(), autowrap_functions=())
        self.deadline = deadline

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        if time.monotonic() > self.deadline:
            raise _TraceTimeout
        return super().create_node(*args, **kwargs)

    def trace(self, root: nn.Module, concrete_args: dict[str, Any] | None = None) -> fx.Graph:  # type: ignore[override]
        if not isinstance(root, nn.Module):
            raise TypeError("only modules are traced here")
        self.root = root
        fn = getattr(type(root), self.traced_func_name)
        self.root_module_name = root._get_name()
        self.submodule_paths = {mod: name for name, mod in root.named_modules()}
        self.graph = fx.Graph(tracer_cls=type(self))
        code = getattr(fn, "__code__", None)
        if code is not None:
            self.graph._co_fields = {"co_name": code.co_name, "co_filename": code.co_filename,
                                     "co_firstlineno": code.co_firstlineno}
        self.tensor_attrs = {}

        def collect_tensor_attrs(m: nn.Module, prefix: list[str]) -> None:
            for k, v in m.__dict__.items():
                if isinstance(v, _fx_symbolic_trace._constant_attribute_types):
                    self.tensor_attrs[v] = ".".join(prefix + [k])
            for k, v in m.named_children():
                collect_tensor_attrs(v, prefix + [k])

        collect_tensor_attrs(root, [])
        fn, args = self.create_args_for_root(fn, True, concrete_args)
        cache: dict[str, Any] = {}
        tracer = self

        def call(mod: nn.Module, *call_args: Any, **call_kwargs: Any) -> Any:
            def forward(*a: Any, **k: Any) -> Any:
                return _orig_module_call(mod, *a, **k)
            return tracer.call_module(mod, forward, call_args, call_kwargs)

        def get(mod: nn.Module, attr: str) -> Any:
            return tracer.getattr(attr, _orig_module_getattr(mod, attr), cache)

        swapped = _swap_classes(root, call, get)
        try:
            self.create_node("output", "output", (self.create_arg(fn(*args)),), {})
        finally:
            for module, cls in swapped:
                module.__class__ = cls
            self.submodule_paths = None
        return self.graph


def _swap_classes(root: nn.Module, call: Callable[..., Any], get: Callable[..., Any]
                  ) -> list[tuple[nn.Module, type]]:
    """Give each module of `root` (a private copy) a subclass of its class that calls the tracer."""
    made: dict[type, type] = {}
    swapped = []
    for module in root.modules():
        cls = type(module)
        if cls not in made:
            # Same name and module, so fx's leaf test (the class's __module__) and type names are unchanged.
            made[cls] = type(cls.__name__, (cls,), {"__call__": call, "__getattr__": get,
                                                    "__module__": cls.__module__, "__qualname__": cls.__qualname__})
        swapped.append((module, cls))
        module.__class__ = made[cls]
    return swapped


def _copy_for_tracing(model: nn.Module, *, meta: bool) -> nn.Module:
    """A deep copy of `model` whose parameters and buffers are meta tensors (`meta`) or the model's own."""
    memo: dict[int, Any] = {}
    for tensor in (*model.parameters(), *model.buffers()):
        if not meta:
            memo[id(tensor)] = tensor
        elif isinstance(tensor, nn.Parameter):
            memo[id(tensor)] = nn.Parameter(torch.empty_like(tensor, device="meta"), tensor.requires_grad)
        else:
            memo[id(tensor)] = torch.empty_like(tensor, device="meta")
    try:
        return copy.deepcopy(model, memo)
    except Exception as error:  # noqa: BLE001 - a module attribute that cannot be copied
        raise ValueError(f"{type(model).__name__} cannot be copied to be traced: {error}") from error


def _trace(model: nn.Module, *, meta: bool = False, deadline: float | None = None) -> fx.GraphModule:
    """The model traced by torch.fx without affecting other threads, over a private copy in eval mode.

    With `meta` the copy holds no weights (shapes only); otherwise it shares the model's
    parameters and buffers, so the graph computes what the model computes.
    """
    shadow = _copy_for_tracing(model, meta=meta)
    # Eval mode before tracing: fx bakes Python values such as `self.training` into the graph.
    shadow.eval()
    deadline = time.monotonic() + TRACE_SECONDS if deadline is None else deadline
    try:
        # The default leaves: torch.nn's own layers; everything else (Sequential, residual blocks,
        # lambdas) is traced through, so paths become a graph.
        graph = _IsolatedTracer(deadline).trace(shadow)
        return fx.GraphModule(shadow, graph, type(model).__name__)
    except _TraceTimeout:
        raise _timeout(model) from None
    except Exception as error:  # fx raises many kinds of errors for untraceable code
        raise ValueError(
            f"torch.fx cannot trace {type(model).__name__}, so its receptive fields cannot be computed "
            f"(forward code that branches on tensor values is the usual cause): {error}") from error


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
    forward passes are not affected (see `_IsolatedTracer`). Raises ValueError if torch.fx
    cannot trace the model, the input does not run through it, or tracing takes more than
    `TRACE_SECONDS`.
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
    deadline = time.monotonic() + TRACE_SECONDS
    graph_module = _trace(model, meta=True, deadline=deadline)
    placeholders = [n for n in graph_module.graph.nodes if n.op == "placeholder"]
    if not placeholders:
        raise ValueError(f"{type(model).__name__} takes no input")
    dtype = model_dtype(model)
    try:
        # Shapes on the meta device: no memory and no arithmetic, whatever the layers' sizes.
        recorder = _record(graph_module, torch.zeros(1, *input_shape, dtype=dtype, device="meta"), deadline)
    except _TraceTimeout:
        raise _timeout(model) from None
    except Exception:  # noqa: BLE001 - an operation without a meta kernel, or a real error: run it for real
        graph_module = _trace(model, meta=False, deadline=deadline)
        try:
            recorder = _record(graph_module, torch.zeros(1, *input_shape, dtype=dtype), deadline)
        except _TraceTimeout:
            raise _timeout(model) from None
        except Exception as error:
            raise ValueError(f"an input of shape {input_shape} does not run through "
                             f"{type(model).__name__}: {error}") from error

    walker = _Walker(graph_module, recorder)
    first = placeholders[0]
    walker.names[first] = "input"
    walker.states[first] = _Geo((1, 1), (1, 1), (0.0, 0.0))
    records = [ReceptiveField("input", "input", (1, 1), (1, 1), (0.0, 0.0), tuple(input_shape))]
    for node in graph_module.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue  # other placeholders are optional arguments left at their defaults: constants
        name = str(node.target) if node.op == "call_module" else node.name
        walker.names[node] = name
        state, note = walker.state(node)
        walker.states[node] = state
        if isinstance(state, _Const) or node not in recorder.shapes:
            continue  # not a tensor, or not made from the input's pixels
        shape = recorder.shapes[node][1:]
        kind = _kind(node, walker.modules)
        if isinstance(state, _Geo):
            records.append(ReceptiveField(name, kind, state.size, state.jump, state.start, shape, note))
        else:
            records.append(ReceptiveField(name, kind, None, None, None, shape, note or state.note))
    return records


# --- effective receptive field (Luo et al. 2016) ----------------------------------------------

class _Captured(Exception):
    """Raised by the hook to stop the forward pass once the layer's output is captured."""


def _layer_output(model: nn.Module, layer: str, batch: torch.Tensor) -> Any:
    """The output of module `layer` (by a forward hook), or of the torch.fx node named `layer`.

    Functions such as the `add` of a residual block are no modules, so they cannot be
    hooked: for them the traced graph is cut after that node and run.
    """
    modules = dict(model.named_modules())
    if layer and layer in modules:
        captured: list[Any] = []

        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            captured.append(output)
            raise _Captured  # the rest of the network does not change this unit's gradient

        handle = modules[layer].register_forward_hook(hook)
        try:
            model(batch)
        except _Captured:
            pass
        finally:
            handle.remove()
        if not captured:
            raise ValueError(f"layer {layer!r} is not called by the model's forward")
        return captured[0]
    cut = _cut_after(model, layer) if layer else None
    if cut is None:
        names = [n for n in modules if n]
        raise ValueError(f"unknown layer {layer!r}; the model has {', '.join(names[:20])}"
                         + (", ..." if len(names) > 20 else ""))
    return cut(batch)


def _cut_after(model: nn.Module, node_name: str) -> fx.GraphModule | None:
    """The traced model with its output moved to the node `node_name`, or None if there is no such node."""
    try:
        graph_module = _trace(model)  # a copy sharing the weights; fx's own tracer would break other threads
    except ValueError:  # untraceable: the name cannot be a node name then
        return None
    nodes = list(graph_module.graph.nodes)
    at = next((i for i, n in enumerate(nodes) if n.name == node_name and n.op not in ("placeholder", "output")),
              None)
    if at is None:
        return None
    output = nodes[-1]
    output.args = (nodes[at],)
    # Drop what runs after the node (users first); nothing before it is touched, so in-place ops stay.
    for node in reversed(nodes[at + 1:-1]):
        graph_module.graph.erase_node(node)
    graph_module.recompile()
    return graph_module


def effective_receptive_field(model: nn.Module, x: torch.Tensor, layer: str, unit: tuple[int, int], *,
                              channel: int | None = None) -> np.ndarray:
    """|d unit / d input| for one unit of `layer`, shaped like one input (C, H, W).

    Luo, Li, Urtasun & Zemel 2016: back-propagate a gradient of 1 from the unit at
    `unit` (row, col); the input pixels with large gradients are the unit's
    *effective* receptive field. `x` is a preprocessed input (C, H, W) or a batch
    (N, C, H, W); for a batch the absolute gradients are averaged over the images, as
    Luo et al. average over many inputs. With `channel` None the unit is the sum of
    all channels at that position (gradients of different channels may cancel);
    otherwise that channel. `layer` is a module's qualified name (hooked, and the
    forward pass stops there) or, for functions such as a residual `add`, the torch.fx
    node name that `receptive_fields` gives it. x is cast to the model's floating dtype.
    Runs in eval mode (the training flags are restored). Raises ValueError for an unknown layer, a layer without a
    (N, C, H, W) output, or a unit or channel outside the map.
    """
    x = torch.as_tensor(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"x must be one input (C, H, W) or a batch (N, C, H, W), not shape {tuple(x.shape)}")
    leaf = x.detach().reshape((1, *x.shape) if x.ndim == 3 else x.shape).clone()
    leaf = leaf.to(model_dtype(model))
    leaf.requires_grad_(True)
    flags = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.enable_grad():
            out = _layer_output(model, layer, leaf.clone())  # a non-leaf copy: in-place first layers work
    finally:
        for module, training in flags.items():
            module.training = training
    if not isinstance(out, torch.Tensor) or out.ndim != 4:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"layer {layer!r} gives {shape}, not a feature map (N, C, H, W)")
    _, channels, rows, cols = out.shape
    row, col = _as_unit(unit)
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"unit {(row, col)} is outside the {rows}x{cols} map of {layer!r}")
    if channel is not None and not 0 <= channel < channels:
        raise ValueError(f"channel {channel} is outside the {channels} channels of {layer!r}")
    with torch.enable_grad():
        picked = out[:, :, row, col] if channel is None else out[:, channel, row, col]
        if not picked.requires_grad:
            return np.zeros(tuple(leaf.shape[1:]), dtype=np.float64)
        # In eval mode the images of a batch do not interact, so the gradient of the sum
        # over the batch holds each image's own gradient.
        (grad,) = torch.autograd.grad(picked.sum(), leaf, allow_unused=True)
    if grad is None:
        return np.zeros(tuple(leaf.shape[1:]), dtype=np.float64)
    return grad.detach().abs().double().mean(dim=0).cpu().numpy()


def receptive_field_crops(images: np.ndarray, units: np.ndarray, record: ReceptiveField) -> np.ndarray:
    """The input window of one unit per image: images (N, C, H, W), units (N, 2) of (row, col).

    Returns (N, C, size_rows, size_cols); where a window reaches past the image's edge
    (into the layer's padding) the crop is filled with zeros, so every crop has the
    receptive field's full size and shows where in it the image lies.
    """
    images = np.asarray(images)
    if record.size is None:
        raise ValueError(f"{record.name!r} has no receptive field: {record.note}")
    n, channels, height, width = images.shape
    crops = np.zeros((n, channels, *record.size), dtype=images.dtype)
    for i, unit in enumerate(np.asarray(units)):
        top, left, bottom, right = record.window((int(unit[0]), int(unit[1])))
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(bottom, height - 1), min(right, width - 1)
        if r1 >= r0 and c1 >= c0:
            crops[i, :, r0 - top:r1 - top + 1, c0 - left:c1 - left + 1] = images[i, :, r0:r1 + 1, c0:c1 + 1]
    return crops


def gradient_mass_fraction(erf: np.ndarray, box: Box, mass: float = 0.95) -> float:
    """The fewest pixels of `box` that hold `mass` of the gradient inside it, as a fraction of its area.

    `erf` is (H, W) or (C, H, W) (channels are summed); `box` is (top, left, bottom,
    right), inclusive. A small fraction means the effective receptive field is a
    small bump inside the theoretical window, as Luo et al. (2016) found. Pixels are
    taken largest first. No gradient in the box gives 0.0.
    """
    values = np.abs(np.asarray(erf, dtype=np.float64))
    if values.ndim == 3:
        values = values.sum(axis=0)
    if values.ndim != 2:
        raise ValueError(f"erf must be (H, W) or (C, H, W), not shape {values.shape}")
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], not {mass}")
    top, left, bottom, right = (int(v) for v in box)
    height, width = values.shape
    if not (0 <= top <= bottom < height and 0 <= left <= right < width):
        raise ValueError(f"box {tuple(box)} does not fit a {height}x{width} map")
    inside = values[top:bottom + 1, left:right + 1].ravel()
    total = inside.sum()
    if not total > 0:
        return 0.0
    cumulative = np.cumsum(np.sort(inside)[::-1])
    # A relative tolerance so that float rounding in the running sum cannot cost one pixel.
    count = int(np.searchsorted(cumulative, mass * total * (1 - 1e-12), side="left")) + 1
    return min(count, inside.size) / inside.size


@dataclass(frozen=True)
class GradientSpread:
    """How one unit's input gradient spreads over its theoretical window: numbers for a sentence.

    `fraction` is `gradient_mass_fraction(erf, box, mass)`. `peak` is the (row, col) of
    the largest gradient in the box (the mean position of the pixels that tie for it, so
    a flat gradient peaks in the middle), `centre` the (row, col) centre of the box, and
    `peak_offset` the distance from one to the other in half box sides along the axis
    where it is largest: 0 in the centre, 1 on the box's edge. With no gradient in the
    box, `peak` and `peak_offset` are None and `fraction` is 0.
    """

    fraction: float
    mass: float
    peak: tuple[float, float] | None
    centre: tuple[float, float]
    peak_offset: float | None


def gradient_spread(erf: np.ndarray, box: Box, mass: float = 0.95) -> GradientSpread:
    """Where in `box` (top, left, bottom, right, inclusive) the gradient `erf` (H, W) or (C, H, W) lies.

    Luo et al. (2016) found the effective receptive field of deep networks to be a small
    bump in the middle of the theoretical window; shallow networks, single inputs and
    units near the border need not show it. This measures it: how much of the box holds
    `mass` of the gradient, and how far its peak lies from the box's centre (see
    `GradientSpread`). Raises ValueError as `gradient_mass_fraction` does.
    """
    fraction = gradient_mass_fraction(erf, box, mass)
    values = np.abs(np.asarray(erf, dtype=np.float64))
    values = values.sum(axis=0) if values.ndim == 3 else values
    top, left, bottom, right = (int(v) for v in box)
    centre = ((top + bottom) / 2, (left + right) / 2)
    inside = values[top:bottom + 1, left:right + 1]
    peak_value = inside.max()
    if not peak_value > 0:
        return GradientSpread(0.0, mass, None, centre, None)
    # Ties within float noise count as one flat peak: their mean position.
    rows, cols = np.nonzero(inside >= peak_value * (1 - 1e-9))
    peak = (top + float(rows.mean()), left + float(cols.mean()))
    offsets = [abs(p - c) / ((last - first) / 2) for p, c, first, last
               in ((peak[0], centre[0], top, bottom), (peak[1], centre[1], left, right)) if last > first]
    return GradientSpread(fraction, mass, peak, centre, max(offsets, default=0.0))
