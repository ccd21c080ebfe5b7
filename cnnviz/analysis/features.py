"""What each layer of a CNN computes: feature maps of one input, and the images that excite a channel most.

Everything runs with forward hooks in eval mode without gradients; hooks are
always removed and every module's training flag is restored, also when the
forward raises. Results are detached float32 numpy copies, so in-place layers
later in the forward (`ReLU(inplace=True)`) cannot change what was recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.hooks import eval_with_hooks
from cnnviz.analysis.summary import model_summary


def _leaf_names(model: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if name and next(module.children(), None) is None]


def _modules_by_name(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """The named submodules, or a ValueError that lists every name the model has."""
    modules = dict(model.named_modules())
    unknown = [name for name in names if not name or name not in modules]
    if unknown:
        valid = ", ".join(name for name in modules if name)
        raise ValueError(f"Unknown layer {', '.join(map(repr, unknown))}; this model's layers are: {valid}")
    return {name: modules[name] for name in names}


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter or buffer (float32 if it has none).

    Inputs are cast to it, so a float64 model takes the float32 tensors `Preprocessing.apply` makes.
    """
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _as_input(x: Any, model: nn.Module) -> torch.Tensor:
    """x as a tensor in the model's floating dtype (integer images too)."""
    return torch.as_tensor(x).to(model_dtype(model))


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    # clone: the tensor may be changed in place later in the forward (ReLU(inplace=True)).
    return tensor.detach().to("cpu", torch.float32).clone().numpy()


def feature_maps(model: nn.Module, x: torch.Tensor, *, layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The output of each layer for a preprocessed input x of shape (C, H, W) or (N, C, H, W).

    Returns {layer name: output as float32 numpy} in the order the forward calls the
    layers; names are qualified module names ("conv1", "layer1.0.conv2"). Without a
    batch axis in x, the outputs have none either. `layers=None` records every leaf
    module; naming a module that is not a leaf (a ResNet block, say) records its output.
    A module called more than once in one forward (torchvision's shared ReLU) is listed
    once, with the output of its last call, at the place of that call. Only tensor
    outputs are recorded.

    Raises ValueError for an unknown layer name (listing the valid ones), for a named
    layer that gave no tensor output, or for an input that is not 3-D or 4-D. x is cast
    to the model's floating dtype.
    """
    x = _as_input(x, model)
    if x.ndim not in (3, 4):
        raise ValueError(f"x must be one input (C, H, W) or a batch (N, C, H, W), not shape {tuple(x.shape)}")
    names = _leaf_names(model) if layers is None else list(dict.fromkeys(layers))
    modules = _modules_by_name(model, names)
    outputs: dict[str, np.ndarray] = {}

    def record(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                outputs.pop(name, None)  # a repeated call moves the layer to its last place
                outputs[name] = _numpy(output)
        return hook

    # named_modules() lists a module once, so each module gets one hook and one name.
    hooks = {module: record(name) for name, module in modules.items()}

    with eval_with_hooks(model, hooks):
        model(x if x.ndim == 4 else x.unsqueeze(0))
    if layers is not None:
        missing = [name for name in names if name not in outputs]
        if missing:
            raise ValueError(f"Layer {', '.join(map(repr, missing))} gave no tensor output in the forward")
    if x.ndim == 3:
        outputs = {name: value[0] for name, value in outputs.items()}
    return outputs


def spatial_layers(model: nn.Module, input_shape: tuple[int, int, int]) -> list[str]:
    """Names of the leaf layers whose output is a (C, H, W) map for an input of `input_shape`, in call order."""
    rows = model_summary(model, input_shape)
    # A module called twice appears once, at its last call, as in `feature_maps`.
    last = {row.name: i for i, row in enumerate(rows)}
    return [row.name for i, row in enumerate(rows) if last[row.name] == i and len(row.output_shape) == 3]


def last_rectified(model: nn.Module, layers: list[str]) -> str:
    """The last of `layers` that is a ReLU or ReLU6 (Grad-CAM's usual layer: Selvaraju et al. weigh rectified maps),
    else the last convolution, else the last layer.

    On the zoo LeNet-5 conv2's maps, before their ReLU, are 93% zeros after Grad-CAM's own ReLU, and deleting
    pixels in their order is no better than a random order; relu2's are not.
    """
    if not layers:
        raise ValueError("no layers to choose from")
    modules = dict(model.named_modules())
    for kinds in ((nn.ReLU, nn.ReLU6), (nn.Conv2d,)):
        found = [name for name in layers if isinstance(modules.get(name), kinds)]
        if found:
            return found[-1]
    return layers[-1]


def first_convolution(model: nn.Module, layers: list[str]) -> str:
    """The first of `layers` that is a convolution (the view a page opens on), else the first layer.

    EfficientNet's first spatial layer pads the input for its strided stem: its maps are the photo
    with a border, nothing a filter computed.
    """
    modules = dict(model.named_modules())
    return next((name for name in layers if isinstance(modules.get(name), nn.Conv2d)), layers[0])

@dataclass(frozen=True, eq=False)
class TopActivations:
    """The images that excite one channel of one layer most, strongest first."""

    indices: np.ndarray    # (k,) indices into the images given, strongest first
    values: np.ndarray     # (k,) the channel's maximal activation in each of those images
    positions: np.ndarray  # (k, 2) (row, col) of that maximal unit in the channel's map


def top_activations(model: nn.Module, x: torch.Tensor, layer: str, channel: int, *, k: int = 8,
                    batch_size: int = 256) -> TopActivations:
    """The k images of the batch x (N, C, H, W) whose maximum over `channel` of `layer`'s map is largest.

    Each image is scored by the largest unit of the channel's (H, W) map; the position of
    that unit (the first in row-major order on ties) is returned so the caller can crop
    the image at its receptive field. Images with equal scores keep their order (lower
    index first). k larger than N gives all N images. A module called more than once
    in the forward is scored on its last call. x is cast to the model's floating dtype.
    """
    x = _as_input(x, model)
    if x.ndim != 4:
        raise ValueError(f"x must be a batch (N, C, H, W), not shape {tuple(x.shape)}")
    if k < 1 or batch_size < 1:
        raise ValueError(f"k and batch_size must be at least 1, not {k} and {batch_size}")
    module = _modules_by_name(model, [layer])[layer]
    scores: list[np.ndarray] = []
    flat_positions: list[np.ndarray] = []
    width = 0
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        captured[:] = [output]  # keep only the last call's output

    with eval_with_hooks(model, {module: hook}):
        for start in range(0, len(x), batch_size):
            captured.clear()
            model(x[start:start + batch_size])
            output = captured[0] if captured else None
            if not isinstance(output, torch.Tensor) or output.ndim != 4:
                shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else type(output).__name__
                raise ValueError(f"Layer {layer!r} does not output (C, H, W) maps (it gives {shape})")
            if not 0 <= channel < output.shape[1]:
                raise ValueError(f"Layer {layer!r} has channels 0 to {output.shape[1] - 1}, not {channel}")
            maps = output[:, channel].detach().to("cpu", torch.float32).flatten(1).numpy()
            width = output.shape[3]
            best = maps.argmax(axis=1)  # numpy: the first maximum on ties
            flat_positions.append(best)
            scores.append(maps[np.arange(len(maps)), best])
    if not scores:
        empty = np.zeros(0, dtype=np.int64)
        return TopActivations(empty, np.zeros(0, dtype=np.float32), np.zeros((0, 2), dtype=np.int64))
    values = np.concatenate(scores)
    flat = np.concatenate(flat_positions)
    order = np.argsort(-values, kind="stable")[:k]
    positions = np.stack([flat[order] // width, flat[order] % width], axis=1).astype(np.int64)
    return TopActivations(order.astype(np.int64), values[order], positions)
