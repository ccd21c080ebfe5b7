"""He et al.'s CIFAR ResNets and the same networks without shortcuts (plain nets).

The CIFAR family of "Deep Residual Learning for Image Recognition" (He, Zhang,
Ren & Sun 2016, section 4.2): a 3x3 convolution with 16 filters, then three
stages of n blocks of two 3x3 convolutions with 16, 32 and 64 filters (the
first block of stages 2 and 3 halves the map with stride 2), global average
pooling and a fully connected layer: 6n + 2 weighted layers. Shortcuts are
"option A": the identity, subsampled and zero-padded in channels where a stage
changes size, so shortcuts add no parameters and ResNet-20 has 269,722.

`residual=False` gives the paper's plain net: the same layers without the
shortcuts. The block is either the original post-activation block (the sum goes
through the activation) or the pre-activation block of "Identity Mappings in
Deep Residual Networks" (He et al. 2016b), whose shortcut path carries nothing
but the identity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.models.cnn import build_seeded, default_init, init_deterministic

__all__ = ["ResNetCIFAR", "ResNetSpec", "build_resnet", "resnet_cifar", "weighted_layers"]

Activation = Literal["relu", "tanh", "sigmoid"]
Init = Literal["he", "xavier", "default"]
Block = Literal["post", "pre"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_INITS = ("he", "xavier", "default")
_BLOCKS = ("post", "pre")
_MAX_DEPTH = 1202  # the deepest net of the paper (n = 200)
_STAGE_WIDTHS = (16, 32, 64)


@dataclass(frozen=True)
class ResNetSpec:
    """Everything that defines one CIFAR ResNet or plain net; hashable, so it can key a cache."""

    depth: int = 20
    residual: bool = True
    width: float = 1.0                  # multiplies the 16/32/64 filters of the three stages
    activation: Activation = "relu"
    batch_norm: bool = True
    init: Init = "he"                   # He (Kaiming) normal, Xavier (Glorot) normal, or PyTorch's default
    block: Block = "post"               # post-activation (He 2016) or pre-activation (He 2016b)
    in_channels: int = 3
    num_classes: int = 10

    def __post_init__(self) -> None:
        if (isinstance(self.depth, bool) or not isinstance(self.depth, int)
                or not 8 <= self.depth <= _MAX_DEPTH or (self.depth - 2) % 6):
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, 44, 56, 110, ...) up to {_MAX_DEPTH}, "
                             f"not {self.depth!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, (int, float)) or not 1 / 16 <= self.width <= 8:
            raise ValueError(f"width must be a multiplier from 1/16 to 8, not {self.width!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, not {self.activation!r}")
        if self.init not in _INITS:
            raise ValueError(f"init must be one of {', '.join(_INITS)}, not {self.init!r}")
        if self.block not in _BLOCKS:
            raise ValueError(f"block must be 'post' or 'pre', not {self.block!r}")
        for name in ("in_channels", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise ValueError(f"{name} must be a whole number from 1 to 1000, not {value!r}")

    @property
    def blocks_per_stage(self) -> int:
        """n, the number of blocks in each of the three stages."""
        return (self.depth - 2) // 6

    @property
    def stage_widths(self) -> tuple[int, int, int]:
        """Filters in the three stages: 16, 32 and 64 times the width multiplier."""
        first, second, third = (max(1, round(w * self.width)) for w in _STAGE_WIDTHS)
        return first, second, third

    @property
    def label(self) -> str:
        """Kind and depth: "ResNet-20" or "plain-56"."""
        return f"{'ResNet' if self.residual else 'plain'}-{self.depth}"

    @property
    def name(self) -> str:
        """The label with the options that differ from the paper's, e.g. "plain-56 (pre-act, sigmoid, no BN)"."""
        base = self.label
        notes = [n for n, on in (("pre-act", self.block == "pre"), (self.activation, self.activation != "relu"),
                                 ("no BN", not self.batch_norm), (f"width {self.width:g}", self.width != 1)) if on]
        return f"{base} ({', '.join(notes)})" if notes else base

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"kind": "resnet_cifar", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResNetSpec:
        """Inverse of `to_dict`."""
        return cls(**{k: v for k, v in data.items() if k != "kind"})


class _SubsampleShortcut(nn.Module):
    """Option A: keep every stride-th pixel and pad the new channels with zeros (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        extra = out_channels - in_channels
        self.pad = (extra // 2, extra - extra // 2)

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad={self.pad}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, *self.pad))


class _Block(nn.Module):
    """Two 3x3 convolutions, post- or pre-activation, with or without the shortcut."""

    def __init__(self, spec: ResNetSpec, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.pre = spec.block == "pre"
        self.residual = spec.residual
        bias = not spec.batch_norm  # batch norm's shift makes a bias redundant
        norm = (lambda c: nn.BatchNorm2d(c)) if spec.batch_norm else (lambda c: nn.Identity())
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias)
        # Post-activation normalises each conv's output; pre-activation each conv's input.
        self.bn1 = norm(in_channels if self.pre else out_channels)
        self.bn2 = norm(out_channels)
        self.act1 = _ACTIVATIONS[spec.activation]()
        self.act2 = _ACTIVATIONS[spec.activation]()
        self.shortcut = (_SubsampleShortcut(in_channels, out_channels, stride)
                         if stride != 1 or in_channels != out_channels else nn.Identity())

    def extra_repr(self) -> str:  # the repr says all the block computes (receptive fields are cached by it)
        return f"pre_activation={self.pre}, residual={self.residual}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre:
            out = self.conv2(self.act2(self.bn2(self.conv1(self.act1(self.bn1(x))))))
            return out + self.shortcut(x) if self.residual else out
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        if self.residual:
            out = out + self.shortcut(x)
        return self.act2(out)  # post-activation: even the shortcut's sum passes through it


class ResNetCIFAR(nn.Module):
    """A CIFAR ResNet or plain net (see the module docstring); `spec` says which."""

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        norm = (lambda c: nn.BatchNorm2d(c)) if spec.batch_norm else (lambda c: nn.Identity())
        widths = spec.stage_widths
        self.conv1 = nn.Conv2d(spec.in_channels, widths[0], 3, padding=1, bias=not spec.batch_norm)
        # Pre-activation nets normalise after the last block instead of after the first conv.
        self.bn1 = nn.Identity() if spec.block == "pre" else norm(widths[0])
        self.act1 = nn.Identity() if spec.block == "pre" else _ACTIVATIONS[spec.activation]()
        stages, in_channels = [], widths[0]
        for i, out_channels in enumerate(widths):
            blocks = []
            for b in range(spec.blocks_per_stage):
                stride = 2 if i > 0 and b == 0 else 1
                blocks.append(_Block(spec, in_channels, out_channels, stride))
                in_channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stage1, self.stage2, self.stage3 = stages
        self.bn_final = norm(widths[2]) if spec.block == "pre" else nn.Identity()
        self.act_final = _ACTIVATIONS[spec.activation]() if spec.block == "pre" else nn.Identity()
        self.fc = nn.Linear(widths[2], spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.stage3(self.stage2(self.stage1(x)))
        x = self.act_final(self.bn_final(x))
        return self.fc(x.mean(dim=(2, 3)))


def _initialise(model: nn.Module, init: Init, generator: torch.Generator | None = None) -> None:
    """He or Xavier weights and zero biases for every convolution and linear layer ("default": torch's own).

    With `generator`, every random number comes from it, and every layer is initialised here
    (the layers were made uninitialised by `build_seeded`).
    """
    if init == "default":
        # PyTorch's own: Kaiming uniform with a = sqrt(5), i.e. variance 1 / (3 fan_in)
        if generator is not None:
            default_init(model, generator)
        return
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                if init == "he":  # He et al. 2015, keeps a ReLU net's variance constant in the forward pass
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
                else:  # Glorot & Bengio 2010, variance 2 / (fan_in + fan_out)
                    nn.init.xavier_normal_(module.weight, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif generator is not None:
                init_deterministic(module)  # batch norm; TypeError for a layer not handled here


def resnet_cifar(depth: int = 20, *, residual: bool = True, width: float = 1.0, activation: Activation = "relu",
                 batch_norm: bool = True, init: Init = "he", block: Block = "post", in_channels: int = 3,
                 num_classes: int = 10, seed: int | None = None) -> ResNetCIFAR:
    """Build a CIFAR ResNet (residual=True) or its plain twin; the same seed gives the same weights.

    A residual and a plain net built with the same seed and options share every
    weight: shortcuts have no parameters, so the two differ only in the sums.
    """
    spec = ResNetSpec(depth, residual, width, activation, batch_norm, init, block, in_channels, num_classes)
    return build_resnet(spec, seed=seed)


def build_resnet(spec: ResNetSpec, *, seed: int | None = None) -> ResNetCIFAR:
    """Build the net a `ResNetSpec` describes; with `seed`, its initial weights are reproducible."""
    if seed is None:
        model = ResNetCIFAR(spec)
        _initialise(model, spec.init)
        return model
    # A private generator, not torch's global state (which other sessions draw from): see build_seeded.
    return build_seeded(lambda: ResNetCIFAR(spec), seed,
                        lambda model, generator: _initialise(model, spec.init, generator))


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Conv1d | nn.Conv2d | nn.Linear]]:
    """The convolutions and fully connected layers of a model, from input to output, by name.

    These are the layers "depth" counts: 6n + 2 of them in a CIFAR ResNet.
    """
    return [(name, module) for name, module in model.named_modules()
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear))]

