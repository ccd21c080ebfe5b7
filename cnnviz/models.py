"""Small image CNNs built from a JSON-serialisable spec, LeNet-5 and TinyVGG among them.

A `CNNSpec` is a frozen dataclass: hashable (a cache key) and convertible to a
dict for model file metadata, so a saved model can be rebuilt from its file alone.
The built model is an `nn.Sequential` with readable layer names (conv1, relu1,
pool1, ..., fc1) that the analysis modules use to name what they show.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from cnnviz.hooks import eval_with_hooks

Activation = Literal["relu", "tanh", "sigmoid"]
PoolKind = Literal["max", "avg"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
# Bounds far above anything cnnviz trains, so a spec read from a file cannot ask for absurd sizes.
_MAX_CHANNELS = 4096
_MAX_SIZE = 1024
_MAX_LAYERS = 64


def _check_range(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


@dataclass(frozen=True)
class ConvSpec:
    """One convolution, optionally followed by batch norm, the activation and a pooling layer."""

    out_channels: int
    kernel_size: int = 3
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    batch_norm: bool = False
    pool: PoolKind | None = None
    pool_size: int = 2

    def __post_init__(self) -> None:
        _check_range("out_channels", self.out_channels, 1, _MAX_CHANNELS)
        _check_range("kernel_size", self.kernel_size, 1, _MAX_SIZE)
        _check_range("stride", self.stride, 1, _MAX_SIZE)
        _check_range("padding", self.padding, 0, _MAX_SIZE)
        _check_range("dilation", self.dilation, 1, _MAX_SIZE)
        _check_range("pool_size", self.pool_size, 1, _MAX_SIZE)
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm must be true or false, not {self.batch_norm!r}")
        if self.pool not in (None, "max", "avg"):
            raise ValueError(f"pool must be 'max', 'avg' or none, not {self.pool!r}")


@dataclass(frozen=True)
class CNNSpec:
    """A plain CNN: convolution blocks, then fully connected layers, then `num_classes` logits."""

    name: str
    in_channels: int
    input_size: int
    convs: tuple[ConvSpec, ...]
    hidden: tuple[int, ...] = ()
    num_classes: int = 10
    activation: Activation = "relu"
    padding_mode: Literal["zeros", "circular", "reflect", "replicate"] = "zeros"
    kind: str = field(default="cnn", init=False)

    def __post_init__(self) -> None:
        _check_range("in_channels", self.in_channels, 1, _MAX_CHANNELS)
        _check_range("input_size", self.input_size, 1, _MAX_SIZE)
        _check_range("num_classes", self.num_classes, 1, _MAX_CHANNELS)
        for width in self.hidden:
            _check_range("hidden layer width", width, 1, _MAX_CHANNELS)
        if not self.convs or len(self.convs) > _MAX_LAYERS:
            raise ValueError(f"a CNN needs 1 to {_MAX_LAYERS} convolution blocks, not {len(self.convs)}")
        if not all(isinstance(c, ConvSpec) for c in self.convs):
            raise ValueError("convs must be ConvSpec values")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, not {self.activation!r}")
        if self.padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {', '.join(_PADDING_MODES)}, "
                             f"not {self.padding_mode!r}")
        self.feature_size()  # raises if the input is too small for the layers

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (see `cnnviz.specs.spec_from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CNNSpec:
        """Inverse of `to_dict`; raises ValueError or TypeError on a malformed dict."""
        values = {k: v for k, v in data.items() if k != "kind"}
        values["convs"] = tuple(ConvSpec(**c) for c in values["convs"])
        values["hidden"] = tuple(int(h) for h in values.get("hidden", ()))
        return cls(**values)

    def feature_size(self) -> int:
        """Side length of the last convolution block's output, for a square input.

        Raises ValueError when the input is too small for the layers.
        """
        n = self.input_size
        for i, conv in enumerate(self.convs, start=1):
            n = (n + 2 * conv.padding - conv.dilation * (conv.kernel_size - 1) - 1) // conv.stride + 1
            if conv.pool is not None:
                n = (n - conv.pool_size) // conv.pool_size + 1
            if n < 1:
                raise ValueError(f"A {self.input_size}x{self.input_size} input is too small: "
                                 f"block {i} of {self.name} would have no output.")
        return n


class CNN(nn.Sequential):
    """An `nn.Sequential` built by `build_model`, which remembers its spec."""

    def __init__(self, spec: CNNSpec) -> None:
        super().__init__(_layers(spec))
        self.spec = spec


def _layers(spec: CNNSpec) -> OrderedDict[str, nn.Module]:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = spec.in_channels
    act = _ACTIVATIONS[spec.activation]
    for i, conv in enumerate(spec.convs, start=1):
        layers[f"conv{i}"] = nn.Conv2d(
            channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
            dilation=conv.dilation, padding_mode=spec.padding_mode, bias=not conv.batch_norm)
        if conv.batch_norm:
            layers[f"bn{i}"] = nn.BatchNorm2d(conv.out_channels)
        layers[f"{spec.activation}{i}"] = act()
        if conv.pool == "max":
            layers[f"pool{i}"] = nn.MaxPool2d(conv.pool_size)
        elif conv.pool == "avg":
            layers[f"pool{i}"] = nn.AvgPool2d(conv.pool_size)
        channels = conv.out_channels
    layers["flatten"] = nn.Flatten()
    width = channels * spec.feature_size() ** 2
    for j, hidden in enumerate(spec.hidden, start=1):
        layers[f"fc{j}"] = nn.Linear(width, hidden)
        layers[f"{spec.activation}_fc{j}"] = act()
        width = hidden
    layers[f"fc{len(spec.hidden) + 1}"] = nn.Linear(width, spec.num_classes)
    return layers


def build_model(spec: CNNSpec, *, seed: int | None = None) -> CNN:
    """Build the CNN a spec describes; with `seed`, its initial weights are reproducible."""
    if seed is None:
        return CNN(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CNN(spec)


def lenet5_spec(*, in_channels: int = 1, input_size: int = 28, num_classes: int = 10,
                activation: Activation = "relu", pool: PoolKind = "max") -> CNNSpec:
    """LeNet-5 (LeCun et al. 1998) in its common PyTorch form.

    conv 6@5x5, pool, conv 16@5x5, pool, fc 120, fc 84, fc classes. A 28x28 input
    gets padding 2 on the first convolution so it sees 32x32, as in the paper.
    With one channel and 10 classes it has 61,706 parameters.
    """
    if input_size not in (28, 32):
        raise ValueError("LeNet-5 takes 28x28 or 32x32 inputs.")
    first_padding = 2 if input_size == 28 else 0
    return CNNSpec(
        name="LeNet-5", in_channels=in_channels, input_size=input_size,
        convs=(ConvSpec(6, 5, padding=first_padding, pool=pool), ConvSpec(16, 5, pool=pool)),
        hidden=(120, 84), num_classes=num_classes, activation=activation)


def tiny_vgg_spec(*, in_channels: int = 3, input_size: int = 64, num_classes: int = 10,
                  filters: int = 10) -> CNNSpec:
    """TinyVGG, the network of CNN Explainer (Wang et al. 2020).

    Two blocks of conv-relu-conv-relu-maxpool with `filters` 3x3 filters each
    (no padding), then one linear layer.
    """
    block = (ConvSpec(filters, 3), ConvSpec(filters, 3, pool="max"))
    return CNNSpec(name="TinyVGG", in_channels=in_channels, input_size=input_size,
                   convs=block + block, num_classes=num_classes)


def lenet5(**kwargs: Any) -> CNN:
    """A LeNet-5 model; keyword arguments as in `lenet5_spec`, plus `seed`."""
    seed = kwargs.pop("seed", None)
    return build_model(lenet5_spec(**kwargs), seed=seed)


def tiny_vgg(**kwargs: Any) -> CNN:
    """A TinyVGG model; keyword arguments as in `tiny_vgg_spec`, plus `seed`."""
    seed = kwargs.pop("seed", None)
    return build_model(tiny_vgg_spec(**kwargs), seed=seed)


ARCHITECTURES = {"lenet5": lenet5_spec, "tiny_vgg": tiny_vgg_spec}


def architecture_spec(architecture: str, *, in_channels: int, input_size: int, num_classes: int) -> CNNSpec:
    """The spec of a named architecture (see `ARCHITECTURES`) fitted to a data set's shape.

    LeNet-5 takes 28 or 32 pixels; other sizes are not resized here but refused.
    """
    try:
        make = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(f"Unknown architecture {architecture!r}; "
                         f"choose one of {', '.join(ARCHITECTURES)}.") from None
    return make(in_channels=in_channels, input_size=input_size, num_classes=num_classes)


@dataclass(frozen=True)
class LayerSummary:
    """One leaf layer of a model: its name, type, output shape (without batch) and parameters."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


def model_summary(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerSummary]:
    """Run one zero input of shape (C, H, W) through `model` and list every leaf layer in call order."""
    rows: list[LayerSummary] = []

    def record(name: str):
        def hook(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            params = sum(p.numel() for p in module.parameters(recurse=False))
            rows.append(LayerSummary(name, type(module).__name__, tuple(output.shape[1:]), params))
        return hook

    leaves = {module: record(name) for name, module in model.named_modules()
              if name and not any(True for _ in module.children())}
    with eval_with_hooks(model, leaves):
        model(torch.zeros(1, *input_shape))
    return rows


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
