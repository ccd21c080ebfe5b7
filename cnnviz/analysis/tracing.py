"""torch.fx tracing without touching other threads, under a time budget, and shape recording."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn
from torch.fx import _symbolic_trace as _fx_symbolic_trace

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


def trace_deadline() -> float:
    """The time.monotonic() by which a trace started now must be done."""
    return time.monotonic() + TRACE_SECONDS


class TraceTimeout(Exception):
    """Raised inside the tracer or the recorder when the time budget is spent."""


class _IsolatedTracer(fx.Tracer):
    """fx.Tracer's graph, without fx's process-wide patches (see above); nn.Module roots only.

    Leaf modules are the same as fx's default (torch.nn's own layers, not Sequential).
    Differences from `fx.symbolic_trace`: functions registered with `torch.fx.wrap` and
    `math` functions are not auto-wrapped (cnnviz's models use neither), and a module
    created inside forward (not a submodule) is traced through instead of refused.
    """

    def __init__(self, deadline: float) -> None:
        super().__init__(autowrap_modules=(), autowrap_functions=())  # type: ignore[arg-type]  # torch's hint says one
        self.deadline = deadline

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        if time.monotonic() > self.deadline:
            raise TraceTimeout
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


def trace_isolated(model: nn.Module, *, meta: bool = False, deadline: float | None = None) -> fx.GraphModule:
    """The model traced by torch.fx without affecting other threads, over a private copy in eval mode.

    With `meta` the copy holds no weights (shapes only); otherwise it shares the model's
    parameters and buffers, so the graph computes what the model computes.
    """
    shadow = _copy_for_tracing(model, meta=meta)
    # Eval mode before tracing: fx bakes Python values such as `self.training` into the graph.
    shadow.eval()
    deadline = trace_deadline() if deadline is None else deadline
    try:
        # The default leaves: torch.nn's own layers; everything else (Sequential, residual blocks,
        # lambdas) is traced through, so paths become a graph.
        graph = _IsolatedTracer(deadline).trace(shadow)
        return fx.GraphModule(shadow, graph, type(model).__name__)
    except TraceTimeout:
        raise timeout_error(model) from None
    except Exception as error:  # fx raises many kinds of errors for untraceable code
        raise ValueError(
            f"torch.fx cannot trace {type(model).__name__}, so its receptive fields cannot be computed "
            f"(forward code that branches on tensor values is the usual cause): {error}") from error


# --- recording the output shapes of a traced graph ---------------------------------------------

class ShapeRecorder(fx.Interpreter):
    """Runs the traced model once and keeps each node's output shape, or its value if not a tensor."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.shapes: dict[fx.Node, tuple[int, ...]] = {}
        self.values: dict[fx.Node, Any] = {}
        self.deadline = math.inf

    def run_node(self, n: fx.Node) -> Any:
        if time.monotonic() > self.deadline:
            raise TraceTimeout
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            self.shapes[n] = tuple(result.shape)
        elif not _holds_tensor(result):
            self.values[n] = result  # sizes and other plain values, needed to read kernel sizes, slices, ...
        return result


def record_shapes(graph_module: fx.GraphModule, x: torch.Tensor, deadline: float) -> ShapeRecorder:
    """Run `x` once through the traced graph without gradients; TraceTimeout after `deadline`."""
    recorder = ShapeRecorder(graph_module)
    recorder.deadline = deadline
    with torch.no_grad():
        recorder.run(x)
    return recorder


def timeout_error(model: nn.Module) -> ValueError:
    """The error that a trace of `model` over `TRACE_SECONDS` becomes."""
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


