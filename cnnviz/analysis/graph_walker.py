"""The graph walker: each node of a traced model, in execution order, and the input window it sees.

Every operation that `receptive_fields` knows is listed here with what it does to a window
(pointwise, padding, element-wise merge, concatenation, reshape, reduction, ...); anything
else gives no window and a note, never a number that could be wrong.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import fx, nn

from cnnviz.analysis.tracing import ShapeRecorder
from cnnviz.analysis.windows import (
    CONST,
    GLOBAL_FLATTEN,
    Const,
    Geo,
    Pair,
    State,
    Undefined,
    as_pair,
    fmt_numbers,
    shifted,
    window_after,
)

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


def node_kind(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return type(modules[str(node.target)]).__name__
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


class GraphWalker:
    """Walks the traced graph in execution order and works out each node's window."""

    def __init__(self, module: fx.GraphModule, recorder: ShapeRecorder) -> None:
        self.modules = dict(module.named_modules())
        self.shapes = recorder.shapes
        self.values = recorder.values
        self.states: dict[fx.Node, State] = {}
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

    def state(self, node: fx.Node) -> tuple[State, str]:
        """The window of `node` and the note of its record."""
        if node.op == "get_attr":
            return CONST, ""
        if self.is_metadata(node):
            return CONST, ""
        parents = [n for n in dict.fromkeys(_nodes_in((node.args, node.kwargs)))
                   if not isinstance(self.states.get(n, CONST), Const)]
        if not parents:
            return CONST, ""
        states = [self.states[p] for p in parents]
        for s in states:
            if isinstance(s, Undefined) and s.is_global:
                # Every unit of that operand already depends on every pixel, so does this one.
                return s, s.note
        for s in states:
            if isinstance(s, Undefined):
                return s, f"depends on {s.origin!r}, which has no receptive field ({s.note})"
        geo = [s for s in states if isinstance(s, Geo)]
        result = self.apply(node, parents, geo)
        if isinstance(result, str):  # an operation that could not be interpreted: the reason
            return Undefined(self.name(node), result), result
        return result

    def is_metadata(self, node: fx.Node) -> bool:
        if node.op == "call_method":
            return node.target in _METADATA_METHODS
        if node.op == "call_function":
            if node.target is getattr:
                return len(node.args) > 1 and node.args[1] in _METADATA_ATTRIBUTES
            return node.target in _METADATA_FUNCTIONS
        return False

    def everywhere(self, node: fx.Node, what: str) -> tuple[State, str]:
        """Every unit of `node` depends on every input pixel, because of `what`."""
        note = f"global: {what}, so every unit sees the whole input"
        return Undefined(self.name(node), note, is_global=True), note

    def unknown(self, node: fx.Node) -> str:
        what = "layer" if node.op == "call_module" else "operation"
        kind = node_kind(node, self.modules)
        return (f"unknown {what} {kind} ({self.name(node)!r}): cannot tell which input pixels it mixes, "
                "so no receptive field from here on")

    def apply(self, node: fx.Node, parents: list[fx.Node], geo: list[Geo]) -> tuple[State, str] | str:
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
            return f"{node_kind(node, self.modules)} along dimension {dim}, not channels: no single window"
        if len(parents) > 1:
            return (f"{node_kind(node, self.modules)} ({self.name(node)!r}) takes several tensors made from the input: "
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
            kernel = as_pair(self.shapes[weight][-2:])
            dilation = as_pair(self.arg(node, 5, "dilation", 1))
            padding = self.conv_padding(self.arg(node, 4, "padding", 0), kernel, dilation)
            return window_after(window, kernel, as_pair(self.arg(node, 3, "stride", 1)), padding, dilation), ""
        if target is F.max_pool2d:  # (input, kernel_size, stride, padding, dilation, ceil_mode, ...)
            return self.pool(as_pair(self.arg(node, 1, "kernel_size")), self.arg(node, 2, "stride"),
                             self.arg(node, 3, "padding", 0), as_pair(self.arg(node, 4, "dilation", 1)),
                             self.arg(node, 5, "ceil_mode", False), window)
        if target is F.avg_pool2d:  # (input, kernel_size, stride, padding, ceil_mode, ...)
            return self.pool(as_pair(self.arg(node, 1, "kernel_size")), self.arg(node, 2, "stride"),
                             self.arg(node, 3, "padding", 0), (1, 1), self.arg(node, 4, "ceil_mode", False), window)
        if target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self.adaptive(node, parent, window, self.arg(node, 1, "output_size"))
        return self.unknown(node)

    def apply_module(self, node: fx.Node, module: nn.Module, parent: fx.Node,
                     geo: Geo) -> tuple[State, str] | str:
        if isinstance(module, _POINTWISE_MODULES):
            return geo, ""
        if isinstance(module, nn.Conv2d):
            dilation = as_pair(module.dilation)
            padding = self.conv_padding(module.padding, as_pair(module.kernel_size), dilation)
            note = ("circular padding: units at the border also see pixels from the opposite side"
                    if module.padding_mode == "circular" and any(padding) else "")
            return window_after(geo, as_pair(module.kernel_size), as_pair(module.stride), padding, dilation), note
        if isinstance(module, nn.MaxPool2d):
            return self.pool(as_pair(module.kernel_size), module.stride, module.padding, as_pair(module.dilation),
                             module.ceil_mode, geo)
        if isinstance(module, nn.AvgPool2d):
            return self.pool(as_pair(module.kernel_size), module.stride, module.padding, (1, 1), module.ceil_mode, geo)
        if isinstance(module, nn.LPPool2d):
            return self.pool(as_pair(module.kernel_size), module.stride, 0, (1, 1), module.ceil_mode, geo)
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return self.adaptive(node, parent, geo, module.output_size)
        if isinstance(module, (nn.Flatten, nn.Unflatten)):
            return self.reshape(node, parent, geo)
        if isinstance(module, _PAD_MODULES):
            mode = "circular" if isinstance(module, nn.CircularPad2d) else "constant"
            return self.pad(node, geo, tuple(cast(Sequence[int], module.padding)), mode)
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
        return as_pair(padding)

    def pool(self, kernel: Pair, stride: Any, padding: Any, dilation: Pair, ceil_mode: bool,
             geo: Geo) -> tuple[State, str]:
        stride = kernel if stride is None or stride == () or stride == [] else as_pair(stride)
        # ceil_mode only adds one more (partial) window at the bottom/right edge: the size,
        # jump and start of the windows do not change.
        note = ("ceil_mode: the last row/column of windows may hang over the edge; sizes are unchanged"
                if ceil_mode else "")
        return window_after(geo, kernel, stride, as_pair(padding), dilation), note

    def adaptive(self, node: fx.Node, parent: fx.Node, geo: Geo, output_size: Any) -> tuple[State, str] | str:
        in_hw = self.shapes[parent][-2:]
        wanted = as_pair(output_size) if isinstance(output_size, int) else tuple(output_size)
        out_hw = tuple(n if o is None else o for o, n in zip(wanted, in_hw))
        if out_hw == (1, 1):
            return self.everywhere(node, "pooling over the whole map")
        if in_hw[0] % out_hw[0] or in_hw[1] % out_hw[1]:
            return (f"adaptive pooling from {in_hw[0]}x{in_hw[1]} to {out_hw[0]}x{out_hw[1]} uses windows of "
                    "different sizes: no single receptive field")
        # An even split is an ordinary pooling with kernel = stride = in / out.
        kernel = (in_hw[0] // out_hw[0], in_hw[1] // out_hw[1])
        return window_after(geo, kernel, kernel, (0, 0)), ""

    def pad(self, node: fx.Node, geo: Geo, pad: Any, mode: Any) -> tuple[State, str] | str:
        pad = tuple(pad)
        if len(pad) % 2 or not all(isinstance(p, int) for p in pad):
            return self.unknown(node)
        left = pad[0] if len(pad) >= 2 else 0
        top = pad[2] if len(pad) >= 4 else 0
        spatial = any(pad[:4])
        note = ("circular padding: units at the border also see pixels from the opposite side"
                if mode == "circular" and spatial else "")
        # Padding before the first row/column moves index 0 up/left; padding channels changes nothing.
        return shifted(geo, -top, -left), note

    def combine(self, node: fx.Node, parents: list[fx.Node], geo: list[Geo]) -> tuple[State, str] | str:
        out_hw = self.shapes.get(node, ())[-2:]
        for p in parents:
            if self.shapes.get(p, ())[-2:] != out_hw:
                return (f"{node_kind(node, self.modules)} broadcasts {self.name(p)!r} over the spatial dimensions: "
                        "no single window")
        first = geo[0]
        for p, g in zip(parents[1:], geo[1:]):
            aligned = g.jump == first.jump and all(math.isclose(a, b, abs_tol=1e-9)
                                                   for a, b in zip(g.start, first.start))
            if not aligned:
                return (f"paths with different alignment meet at {node_kind(node, self.modules)} "
                        f"({self.name(node)!r}): no single receptive field ({self.name(parents[0])!r}: "
                        f"jump {fmt_numbers(first.jump)}, start {fmt_numbers(first.start)}; {self.name(p)!r}: "
                        f"jump {fmt_numbers(g.jump)}, start {fmt_numbers(g.start)})")
        # Same centres and spacing: the windows are nested, so their union is the largest.
        size = (max(g.size[0] for g in geo), max(g.size[1] for g in geo))
        return Geo(size, first.jump, first.start), ""

    def reshape(self, node: fx.Node, parent: fx.Node, geo: Geo) -> tuple[State, str] | str:
        before, after = self.shapes.get(parent), self.shapes.get(node)
        if before is None or after is None:
            return self.unknown(node)
        if len(after) >= 3 and after[-2:] == before[-2:]:
            # Row-major: with the same last two sizes, only the leading dims were regrouped.
            return geo, ""
        if len(after) <= 2:
            return Undefined(self.name(node), GLOBAL_FLATTEN, is_global=True), ""
        return f"{node_kind(node, self.modules)} from {before} to {after} rearranges the spatial dims: no single window"

    def reduce(self, node: fx.Node, parent: fx.Node, geo: Geo) -> tuple[State, str] | str:
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
            return self.everywhere(node, f"{node_kind(node, self.modules)} over the whole map")
        return f"{node_kind(node, self.modules)} over one spatial dimension only: no single window"

    def channelwise(self, node: fx.Node, parent: fx.Node, geo: Geo, dim: Any) -> tuple[State, str] | str:
        ndim = len(self.shapes.get(parent, ()))
        if isinstance(dim, int) and ndim >= 3 and dim % ndim < ndim - 2:
            return geo, ""
        return f"{node_kind(node, self.modules)} over dimension {dim} mixes pixels: no single window"

    def getitem(self, node: fx.Node, parent: fx.Node, geo: Geo) -> tuple[State, str] | str:
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
        moved = shifted(geo, offsets[0], offsets[1])
        return Geo(geo.size, (geo.jump[0] * steps[0], geo.jump[1] * steps[1]), moved.start), ""


