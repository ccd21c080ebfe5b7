"""Small image CNNs built from a JSON-serialisable spec, LeNet-5 and TinyVGG among them.

A `CNNSpec` is a frozen dataclass: hashable (a cache key) and convertible to a
dict for model file metadata, so a saved model can be rebuilt from its file alone.
The built model is an `nn.Sequential` with readable layer names (conv1, relu1,
pool1, ..., fc1) that the analysis modules use to name what they show.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

import torch
from torch import nn

Activation = Literal["relu", "tanh", "sigmoid"]
PoolKind = Literal["max", "avg"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
# Bounds far above anything cnnviz trains, so a spec read from a file cannot ask for absurd sizes.
_MAX_CHANNELS = 4096
_MAX_SIZE = 1024
_MAX_LAYERS = 64
_MAX_HIDDEN = 16  # fully connected layers: LeNet-5 has 2; a file with thousands made loading take minutes


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

    def conv_side(self, n: int) -> int:
        """Side of the convolution's output for an n x n input (before pooling; < 1: no output)."""
        return (n + 2 * self.padding - self.dilation * (self.kernel_size - 1) - 1) // self.stride + 1

    def pooled_side(self, n: int) -> int:
        """Side of the block's output for a convolution output of side n (n without pooling)."""
        return n if self.pool is None else (n - self.pool_size) // self.pool_size + 1


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
        if not isinstance(self.hidden, tuple) or len(self.hidden) > _MAX_HIDDEN:
            count = len(self.hidden) if isinstance(self.hidden, (tuple, list)) else self.hidden
            raise ValueError(f"a CNN has a tuple of at most {_MAX_HIDDEN} hidden layers, not {count!r}")
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
        """A JSON-serialisable form (see `cnnviz.models.specs.spec_from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CNNSpec:
        """Inverse of `to_dict`; raises ValueError or TypeError on a malformed dict."""
        values = {k: v for k, v in data.items() if k != "kind"}
        hidden = values.get("hidden", ())
        if isinstance(hidden, (list, tuple)) and len(hidden) > _MAX_HIDDEN:  # before converting thousands
            raise ValueError(f"a CNN has at most {_MAX_HIDDEN} hidden layers, not {len(hidden)}")
        if isinstance(values.get("convs"), (list, tuple)) and len(values["convs"]) > _MAX_LAYERS:
            raise ValueError(f"a CNN needs 1 to {_MAX_LAYERS} convolution blocks, not {len(values['convs'])}")
        values["convs"] = tuple(ConvSpec(**c) for c in values["convs"])
        values["hidden"] = tuple(int(h) for h in hidden)
        return cls(**values)

    def feature_size(self) -> int:
        """Side length of the last convolution block's output, for a square input.

        Raises ValueError when the input is too small for the layers, or too small for
        their padding: PyTorch's reflect padding must be smaller than the map it pads,
        circular padding at most as large (it cannot wrap around more than once).
        """
        n = self.input_size
        for i, conv in enumerate(self.convs, start=1):
            if self.padding_mode == "reflect" and conv.padding >= n or \
                    self.padding_mode == "circular" and conv.padding > n:
                limit = f"less than {n}" if self.padding_mode == "reflect" else f"at most {n}"
                raise ValueError(f"block {i} of {self.name} pads a {n}x{n} map by {conv.padding} with "
                                 f"{self.padding_mode} padding, which must be {limit}.")
            n = conv.pooled_side(conv.conv_side(n))
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
    """Build the CNN a spec describes; with `seed`, its initial weights are reproducible.

    A seeded build draws from its own `torch.Generator` (see `build_seeded`), so models
    built or trained at the same time in other threads cannot change its weights.
    """
    if seed is None:
        return CNN(spec)
    return build_seeded(lambda: CNN(spec), seed)


_M = TypeVar("_M", bound=nn.Module)


def build_seeded(make: Callable[[], _M], seed: int,
                 init: Callable[[nn.Module, torch.Generator], None] | None = None) -> _M:
    """`make()` with its weights drawn from a `torch.Generator` seeded with `seed`.

    torch's global random state is shared by every thread of the process (every session of
    the app): a model built with `torch.manual_seed` gets other weights when another thread
    draws from it meanwhile (dropout in a training run), and changes that thread's draws.
    So the layers are made on the meta device (no memory, no random numbers), moved to the
    CPU uninitialised and then initialised by `init` (default: `default_init`) from a
    private generator: the global state is neither read nor changed.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # thread-local: other threads keep making CPU tensors
        model = make()
    model.to_empty(device="cpu")
    (init or default_init)(model, generator)
    return model


def default_init(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's own initialisation of every layer, drawn from `generator`.

    Convolutions and linear layers: Kaiming uniform weights with a = sqrt(5), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    (torch.nn's `reset_parameters`); embeddings N(0, 1) with the padding row zero; batch
    norm ones, zeros and fresh running statistics. A layer with other parameters or
    buffers is refused (TypeError), so no weight is ever left uninitialised.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, generator=generator)
                if module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
            else:
                init_deterministic(module)


def init_deterministic(module: nn.Module) -> None:
    """Initialise a layer whose initialisation draws no random numbers (batch norm), as torch does.

    Layers without parameters or buffers of their own need nothing; any other layer is
    refused with a TypeError, since `build_seeded` leaves unhandled weights uninitialised.
    """
    if isinstance(module, nn.modules.batchnorm._NormBase):
        module.reset_parameters()  # weight 1, bias 0, running mean 0 and variance 1: nothing random
    elif any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False)):
        raise TypeError(f"no seeded initialisation for {type(module).__name__}")


class Dropout(nn.Dropout):
    """torch's `nn.Dropout` that can draw its mask from a `torch.Generator` instead of the global state.

    `cnnviz.train` sets `generator` for the run (and removes it after), so a training run is
    reproducible without seeding the process-wide random state, which other sessions use.
    Without a generator it is `nn.Dropout` exactly. Same repr and (empty) state dict as
    `nn.Dropout`, so checkpoints and receptive fields do not see a difference.
    """

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.generator is None or not self.training or self.p == 0:
            return super().forward(x)
        if self.p == 1:
            return x.mul_(0) if self.inplace else torch.zeros_like(x)
        # Inverted dropout, as F.dropout: keep each value with probability 1 - p and scale by 1 / (1 - p).
        mask = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator).div_(1 - self.p)
        return x.mul_(mask) if self.inplace else x * mask


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


ARCHITECTURES: dict[str, Callable[..., CNNSpec]] = {"lenet5": lenet5_spec, "tiny_vgg": tiny_vgg_spec}


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


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
