"""Effective receptive fields: which input pixels a unit responds to.

`effective_receptive_field` measures how strongly each input pixel moves one unit
(Luo, Li, Urtasun & Zemel 2016, "Understanding the Effective Receptive Field in
Deep Convolutional Neural Networks"): |d unit / d input|, typically a bump in the
middle of the theoretical window; `gradient_mass_fraction` says how much of the
window holds most of that gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import fx, nn

from cnnviz.analysis.features import model_dtype
from cnnviz.analysis.receptive_field import Box, ReceptiveField, as_unit
from cnnviz.analysis.tracing import trace_isolated

__all__ = ["GradientSpread", "effective_receptive_field", "gradient_mass_fraction", "gradient_spread",
           "receptive_field_crops"]


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
        graph_module = trace_isolated(model)  # a copy sharing the weights; fx's own tracer would break other threads
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
    batch = x.detach().reshape((1, *x.shape) if x.ndim == 3 else x.shape).to(model_dtype(model))
    per_pass = max(1, _VALUES_PER_PASS // max(1, batch[0].numel()))
    total = torch.zeros(tuple(batch.shape[1:]), dtype=torch.float64)
    for first in range(0, len(batch), per_pass):
        total += _abs_gradient_sum(model, batch[first:first + per_pass], layer, unit, channel)
    return (total / len(batch)).numpy()


# Inputs per forward and backward pass of `effective_receptive_field`: the graph of a whole pass is held for
# the backward, and 32 photos of 224x224 through EfficientNet-Lite0 at once took 2.6 GB; about this many input
# values a pass keep it near one photo's (LeNet-5's 32 digits of 28x28 still go through in one pass).
_VALUES_PER_PASS = 200_000


def _abs_gradient_sum(model: nn.Module, batch: torch.Tensor, layer: str, unit: tuple[int, int],
                      channel: int | None) -> torch.Tensor:
    """The sum over `batch` (N, C, H, W) of |d unit / d image|, in float64; see `effective_receptive_field`."""
    leaf = batch.clone().requires_grad_(True)
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
    row, col = as_unit(unit)
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"unit {(row, col)} is outside the {rows}x{cols} map of {layer!r}")
    if channel is not None and not 0 <= channel < channels:
        raise ValueError(f"channel {channel} is outside the {channels} channels of {layer!r}")
    zero = torch.zeros(tuple(leaf.shape[1:]), dtype=torch.float64)
    with torch.enable_grad():
        picked = out[:, :, row, col] if channel is None else out[:, channel, row, col]
        if not picked.requires_grad:
            return zero
        # In eval mode the images of a batch do not interact, so the gradient of the sum
        # over the batch holds each image's own gradient.
        (grad,) = torch.autograd.grad(picked.sum(), leaf, allow_unused=True)
    return zero if grad is None else grad.detach().abs().double().sum(dim=0).cpu()


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
