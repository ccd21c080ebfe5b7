"""One output value of a convolution, computed in front of the student with the layer's real numbers.

CNN Explainer's signature view (Wang et al. 2020, "CNN Explainer: Learning Convolutional
Neural Networks with Interactive Visualization"): the input values under the kernel, the
kernel, their products, one sum per input channel, the bias, the total and the activation
that follows, next to the value the layer really gave at that place.

`convolution_step` records the convolution's input and output with forward hooks (eval
mode, no gradients; hooks always removed, every training flag restored) and recomputes the
one value in float64 from the recorded input and the layer's own weights, padding (with
its padding_mode), stride, dilation and groups. The model is left unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.features import model_dtype
from cnnviz.analysis.hooks import eval_with_hooks
from cnnviz.analysis.summary import model_summary

__all__ = ["ConvolutionStep", "convolution_step", "convolution_positions", "ELEMENTWISE_ACTIVATIONS"]

Pair = tuple[int, int]

# Modules that act on each value alone and hold no parameters: applying one to the total gives the
# activation of this very output. PReLU is left out (its weight may differ per channel).
ELEMENTWISE_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
    nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign, nn.Tanhshrink)


@dataclass(frozen=True, eq=False)
class ConvolutionStep:
    """How a convolution computed the value of output channel `channel` at `position` (row, col).

    `window` is (top, left, bottom, right), inclusive, in the coordinates of the layer's input
    map: rows top, top + dilation, ..., bottom. It may reach past the map's edges into the
    padding, where `padded` is True and `patch` holds the padding's values (zeros for zero
    padding; the reflected, replicated or wrapped values for the other padding modes).
    Arrays are float64 of shape (Cin_g, kh, kw), Cin_g being the number of input channels of
    the output channel's group (`input_channels`; 1 for a depthwise convolution):
    products = patch * kernel, channel_sums = products summed per input channel,
    total = sum(channel_sums) + bias. `output` is the layer's own output there, recorded by a
    hook (equal to `total` up to float32 rounding).

    `activation` names the elementwise activation module (e.g. "ReLU", "ReLU6") called right
    after the convolution on its output, `activation_layer` its name in the model and
    `activated` its value at `total`. They are None when anything else comes directly after
    (batch norm, as in EfficientNet's blocks, a pooling layer, a functional activation that no
    module does): an activation is only named when it directly follows the convolution.
    `input_map` is the first input channel of the group (H, W), `output_map` the output
    channel (H_out, W_out), both float64: what the window view draws.
    """

    layer: str
    channel: int
    position: Pair
    window: tuple[int, int, int, int]
    patch: np.ndarray          # (Cin_g, kh, kw) input values under the kernel, padding values included
    padded: np.ndarray         # (Cin_g, kh, kw) bool: True where the kernel lies on padding
    kernel: np.ndarray         # (Cin_g, kh, kw) the output channel's weights
    products: np.ndarray       # (Cin_g, kh, kw) patch * kernel
    channel_sums: np.ndarray   # (Cin_g,) products summed over each input channel
    bias: float
    total: float
    output: float
    input_channels: tuple[int, ...]
    stride: Pair
    padding: Pair              # padding before the first row and column (the window's offset)
    dilation: Pair
    groups: int
    padding_mode: str
    activation: str | None
    activation_layer: str | None
    activated: float | None
    input_map: np.ndarray      # (H, W) the first input channel of the group
    output_map: np.ndarray     # (H_out, W_out) the output channel


def _conv_layer(model: nn.Module, layer: str) -> nn.Conv2d:
    module = dict(model.named_modules()).get(layer) if layer else None
    if not isinstance(module, nn.Conv2d):
        convs = [name for name, m in model.named_modules() if name and isinstance(m, nn.Conv2d)]
        what = "no such layer" if module is None else f"a {type(module).__name__}, not a Conv2d"
        listed = ", ".join(convs) if convs else "none"
        raise ValueError(f"{layer!r} is {what}; this model's convolution layers are: {listed}")
    return module


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    return int(value)


def _position(position: Any) -> Pair:
    try:
        row, col = position
    except (TypeError, ValueError):
        raise ValueError(f"position must be (row, col), not {position!r}") from None
    return _whole(row, "the position's row"), _whole(col, "the position's column")


def _pair(value: Any) -> Pair:
    return (int(value[0]), int(value[1])) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _padded_input(conv: nn.Conv2d, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """values (C, H, W) padded as the layer pads them, and a bool mask of the padding cells.

    `_reversed_padding_repeated_twice` is (left, right, top, bottom), also for padding="same"
    (where torch puts an odd one out after, as it does in the convolution itself).
    """
    pads = [int(p) for p in conv._reversed_padding_repeated_twice]
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = F.pad(values[None], pads, mode=mode)[0]
    inside = F.pad(torch.ones((1, 1, *values.shape[1:]), dtype=torch.bool), pads, mode="constant", value=False)
    return padded, ~inside[0, 0]


def _activation(module: nn.Module, total: float) -> float:
    with torch.no_grad():  # forward, not __call__: no other hook of the user's runs for this one value
        return float(module.forward(torch.tensor([total], dtype=torch.float64))[0])


def convolution_step(model: nn.Module, x: torch.Tensor | np.ndarray, layer: str, channel: int,
                     position: tuple[int, int]) -> ConvolutionStep:
    """The computation of one output value of convolution `layer` for one preprocessed input x (C, H, W).

    `channel` is the output channel, `position` the (row, col) in its output map. Only the
    input channels of the channel's group enter (groups=Cin: one channel, depthwise). If the
    layer is called more than once in a forward, its last call is shown. Raises ValueError
    when `layer` is not an nn.Conv2d of the model (the message lists the convolution layers),
    for a channel or position outside the output map, or for an x that is not (C, H, W).
    """
    conv = _conv_layer(model, layer)
    channel = _whole(channel, "channel")
    if not 0 <= channel < conv.out_channels:
        raise ValueError(f"{layer!r} has output channels 0 to {conv.out_channels - 1}, not {channel}")
    row, col = _position(position)
    inputs = torch.as_tensor(x).to(model_dtype(model))
    if inputs.ndim != 3:
        raise ValueError(f"x must be one input (C, H, W), not shape {tuple(inputs.shape)}")

    seen: dict[str, Any] = {}
    calls: list[tuple[str, nn.Module, bool]] = []  # (name, module, its input is the conv's output) in call order

    def record(name: str, module: nn.Module) -> Callable[..., None]:
        def hook(_module: nn.Module, args: Any, output: Any) -> None:
            first = args[0] if args else None
            calls.append((name, module, first is not None and first is seen.get("tensor")))
            if module is conv:
                # clones: an in-place layer later in the forward (ReLU(inplace=True)) may change both.
                seen.update(tensor=output, input=args[0].detach().clone(), output=output.detach().clone())
        return hook

    hooks = {module: record(name, module) for name, module in model.named_modules()
             if name and (module is conv or next(module.children(), None) is None)}
    with eval_with_hooks(model, hooks):
        model(inputs[None])
    seen.pop("tensor", None)  # no reference to the model's tensors is kept
    if "output" not in seen:
        raise ValueError(f"{layer!r} was not called in the model's forward")

    out = seen["output"][0].to(torch.float64)
    rows, cols = out.shape[1:]
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"position ({row}, {col}) is outside the {rows}x{cols} output map of {layer!r}")

    cin_g = conv.in_channels // conv.groups
    group = channel // (conv.out_channels // conv.groups)
    input_channels = tuple(range(group * cin_g, (group + 1) * cin_g))
    values = seen["input"][0, group * cin_g:(group + 1) * cin_g].to(torch.float64)
    padded_values, padding_mask = _padded_input(conv, values)

    kh, kw = conv.kernel_size
    stride, dilation = _pair(conv.stride), _pair(conv.dilation)
    pad_left, _, pad_top, _ = (int(p) for p in conv._reversed_padding_repeated_twice)
    taps_r = row * stride[0] + np.arange(kh) * dilation[0]  # in padded coordinates
    taps_c = col * stride[1] + np.arange(kw) * dilation[1]
    patch = padded_values[:, taps_r][:, :, taps_c].numpy()
    padded = np.broadcast_to(padding_mask[taps_r][:, taps_c].numpy(), patch.shape).copy()
    kernel = conv.weight[channel].detach().to("cpu", torch.float64).numpy().copy()
    products = patch * kernel
    channel_sums = products.sum(axis=(1, 2))
    bias = float(conv.bias[channel].detach()) if conv.bias is not None else 0.0
    total = float(channel_sums.sum()) + bias

    last = max(i for i, (_, module, _) in enumerate(calls) if module is conv)
    follower = calls[last + 1] if last + 1 < len(calls) else None
    direct = follower is not None and follower[2] and isinstance(follower[1], ELEMENTWISE_ACTIVATIONS)
    top, left = row * stride[0] - pad_top, col * stride[1] - pad_left
    return ConvolutionStep(
        layer=layer, channel=channel, position=(row, col),
        window=(top, left, top + dilation[0] * (kh - 1), left + dilation[1] * (kw - 1)),
        patch=patch, padded=padded, kernel=kernel, products=products, channel_sums=channel_sums,
        bias=bias, total=total, output=float(out[channel, row, col]), input_channels=input_channels,
        stride=stride, padding=(pad_top, pad_left), dilation=dilation, groups=conv.groups,
        padding_mode=conv.padding_mode,
        activation=type(follower[1]).__name__ if direct and follower else None,
        activation_layer=follower[0] if direct and follower else None,
        activated=_activation(follower[1], total) if direct and follower else None,
        input_map=values[0].numpy().copy(), output_map=out[channel].numpy().copy())


def convolution_positions(model: nn.Module, input_shape: tuple[int, int, int], layer: str) -> Pair:
    """The size (rows, cols) of convolution `layer`'s output map for inputs of `input_shape` (C, H, W).

    The positions a `convolution_step` accepts run from (0, 0) to (rows - 1, cols - 1).
    Raises ValueError as `convolution_step` does for a layer that is not a convolution.
    """
    _conv_layer(model, layer)
    shapes = [row.output_shape for row in model_summary(model, tuple(input_shape)) if row.name == layer]
    if not shapes:
        raise ValueError(f"{layer!r} was not called in the model's forward")
    return int(shapes[-1][1]), int(shapes[-1][2])
