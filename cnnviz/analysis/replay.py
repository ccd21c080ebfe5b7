"""Training replay: a small snapshot of a network before training and after every epoch.

Students want to watch filters sharpen from noise. A `ReplayRecorder`, passed to
`cnnviz.train(..., on_epoch=recorder)`, records an `EpochSnapshot` when it is made
(epoch 0, the initial weights) and after every epoch: the first convolution's filters,
the feature maps of one fixed test image at chosen layers, and a histogram per layer
of its weights and of the gradient of the loss on a fixed probe batch of test images.
`TrainingReplay` holds the snapshots, the colour and axis ranges over all of them
(so a replay shows change, not rescaling), and their form in a model file.

Recording does not change training: it runs in eval mode (no dropout draw, no batch-norm
statistic updated; every module's training flag is restored), draws no random number
(`train` shuffles and drops out with generators of its own anyway), and takes its
gradients with `torch.autograd.grad`, which leaves every parameter's `.grad` alone.

Why a probe batch, not the `.grad` the last step left behind: that is the gradient of
one batch whose examples change with the shuffling, and whose size is whatever is left
over at the end of an epoch (one example, say), and there is none at epoch 0. The same
`probe_size` test images at every snapshot give gradients that compare across epochs,
are reproducible, and cost one forward and backward pass on 32 images per epoch.

Memory is bounded: filters at most MAX_FILTERS x MAX_FILTER_INPUTS x kh x kw float32;
maps of at most MAX_MAP_LAYERS layers, MAX_MAP_CHANNELS channels each, sides at most
MAX_MAP_SIDE (larger maps are kept as means of f x f blocks), float16; HISTOGRAM_BINS int32
counts and a float32 (low, high) range for the weights and the gradients of at most
MAX_HISTOGRAM_LAYERS layers. So a snapshot is at most 1 MiB of maps + 2 KiB x kh x kw of
filters + 16.5 KiB of histograms (64 bins), whatever the model. Measured (docs/benchmarks.md): LeNet-5 on
MNIST 15.8 KB per snapshot (0.8 MB for 50 epochs), TinyVGG on Fashion-MNIST 31.3 KB (1.6 MB).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.features import feature_maps, first_convolution, model_dtype
from cnnviz.errors import ModelLoadError
from cnnviz.models.files import MAX_FILE_BYTES, FileSection, saved_replay
from cnnviz.models.training import EpochReport

HISTOGRAM_BINS = 64
MAX_BINS = 256
MAX_FILTERS = 64          # filters kept (output channels of the first convolution), as plot_filters draws
MAX_FILTER_INPUTS = 8     # input channels kept per filter, as plot_filters draws
MAX_KERNEL_SIDE = 64      # a replay read from a file with larger kernels is refused
MAX_MAP_LAYERS = 8
MAX_MAP_CHANNELS = 16
MAX_MAP_SIDE = 64
MAX_HISTOGRAM_LAYERS = 32
PROBE_SIZE = 32           # test images whose loss gives the gradients
MAX_SNAPSHOTS = 1001      # a replay read from a file with more is refused (the app trains at most 50 epochs)
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_FORMAT = 1
_MAX_NAME = 200


@dataclass(frozen=True, eq=False)
class EpochSnapshot:
    """What the network looked like after `epoch` epochs (0: before training). Arrays are read-only."""

    epoch: int
    filters: np.ndarray           # (out, in, kh, kw) float32: the first convolution's weights (capped)
    maps: dict[str, np.ndarray]   # layer -> (C, H, W) float16: the fixed image's feature maps (capped)
    weight_counts: np.ndarray     # (L, bins) int32: histogram of each layer's weights
    weight_ranges: np.ndarray     # (L, 2) float32: the (low, high) its bins span
    gradient_counts: np.ndarray   # (L, bins) int32: histogram of the probe batch's gradient
    gradient_ranges: np.ndarray   # (L, 2) float32
    probe_loss: float             # the loss on the probe batch

    @property
    def nbytes(self) -> int:
        """Bytes of the snapshot's arrays."""
        arrays = [self.filters, self.weight_counts, self.weight_ranges, self.gradient_counts, self.gradient_ranges]
        return sum(a.nbytes for a in arrays) + sum(m.nbytes for m in self.maps.values())


@dataclass(frozen=True, eq=False)
class TrainingReplay:
    """Snapshots of one training run, epoch 0 (before training) first."""

    filter_layer: str                          # the convolution whose filters are kept
    map_layers: tuple[str, ...]                # layers whose maps of the fixed image are kept
    map_shapes: tuple[tuple[int, int, int], ...]  # each layer's full (C, H, W), before the caps
    histogram_layers: tuple[str, ...]          # the weight tensors histogrammed ("conv1.weight", ...)
    image_index: int                           # the fixed image: this index of the test set
    probe_size: int                            # test images (the first ones) of the probe batch
    snapshots: tuple[EpochSnapshot, ...]

    @property
    def epochs(self) -> tuple[int, ...]:
        """The epochs recorded, in order (0, 1, ..., n; fewer for a stopped run)."""
        return tuple(s.epoch for s in self.snapshots)

    def snapshot(self, epoch: int) -> EpochSnapshot:
        """The snapshot after `epoch` epochs; ValueError if it was not recorded."""
        for s in self.snapshots:
            if s.epoch == epoch:
                return s
        raise ValueError(f"epoch {epoch} was not recorded; the replay has epochs {list(self.epochs)}")

    @property
    def nbytes(self) -> int:
        """Bytes of every snapshot's arrays."""
        return sum(s.nbytes for s in self.snapshots)

    def bytes_for(self, epochs: int) -> int:
        """Bytes of a replay of this model over `epochs` epochs (every snapshot has the same size)."""
        return (epochs + 1) * (self.snapshots[0].nbytes if self.snapshots else 0)

    def filter_bound(self) -> float:
        """The largest |weight| of the kept filters over every snapshot: one colour scale for all epochs."""
        bound = max((float(np.abs(s.filters).max()) for s in self.snapshots), default=0.0)
        return bound if bound > 0 and math.isfinite(bound) else 1.0

    def map_range(self, layer: str) -> tuple[float, float]:
        """(low, high) of `layer`'s kept maps over every snapshot: one colour scale for all epochs."""
        if layer not in self.map_layers:
            raise ValueError(f"no maps of layer {layer!r}; the replay has {', '.join(self.map_layers)}")
        low = min(float(s.maps[layer].min()) for s in self.snapshots)
        high = max(float(s.maps[layer].max()) for s in self.snapshots)
        return (low - 0.5, high + 0.5) if low == high else (low, high)

    def histogram_axes(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """For kind "weights" or "gradients": per layer, the x range (L, 2) that every snapshot's bins
        fit in, and the (smallest non-zero, largest) share of the layer's values in a bin (L, 2)."""
        if kind not in ("weights", "gradients"):
            raise ValueError(f"kind must be 'weights' or 'gradients', not {kind!r}")
        ranges = np.stack([s.weight_ranges if kind == "weights" else s.gradient_ranges for s in self.snapshots])
        counts = np.stack([s.weight_counts if kind == "weights" else s.gradient_counts
                           for s in self.snapshots]).astype(np.float64)
        shares = counts / np.maximum(counts.sum(axis=2, keepdims=True), 1)
        smallest = np.where(shares > 0, shares, np.inf).min(axis=(0, 2))
        x = np.stack([ranges[:, :, 0].min(axis=0), ranges[:, :, 1].max(axis=0)], axis=1)
        y = np.stack([np.where(np.isfinite(smallest), smallest, 1.0), np.maximum(shares.max(axis=(0, 2)), 1e-12)], 1)
        return x, y

    def to_section(self) -> FileSection:
        """The replay as tensors and JSON for a model file (`cnnviz.model_to_bytes(..., replay=replay)`)."""
        tensors = {name: torch.from_numpy(np.stack([getattr(s, name) for s in self.snapshots]))
                   for name in ("filters", "weight_counts", "weight_ranges", "gradient_counts", "gradient_ranges")}
        for i, layer in enumerate(self.map_layers):
            tensors[f"maps.{i}"] = torch.from_numpy(np.stack([s.maps[layer] for s in self.snapshots]))
        tensors["probe_loss"] = torch.tensor([s.probe_loss for s in self.snapshots], dtype=torch.float32)
        metadata = {"format": _FORMAT, "epochs": list(self.epochs), "filter_layer": self.filter_layer,
                    "map_layers": list(self.map_layers), "map_shapes": [list(s) for s in self.map_shapes],
                    "histogram_layers": list(self.histogram_layers), "image_index": self.image_index,
                    "probe_size": self.probe_size}
        return FileSection(tensors, metadata)

    @classmethod
    def from_section(cls, section: FileSection) -> TrainingReplay:
        """Rebuild a replay from a model file's section, refusing anything malformed or over the caps
        with a `ModelLoadError` whose message is meant for the user."""
        try:
            return _replay_from_section(section)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError, RuntimeError) as exc:
            detail = f"it has no {exc}" if isinstance(exc, KeyError) else str(exc).rstrip(".")
            raise ModelLoadError(f"The file's training replay is damaged: {detail}.") from exc


def convolution_layers(model: nn.Module, *, limit: int = MAX_MAP_LAYERS) -> list[str]:
    """The names of the model's first `limit` convolutions (nn.Conv2d), in the order they are defined."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)][:limit]


def histogram_layers(model: nn.Module) -> list[str]:
    """The weight tensors a replay histograms: parameters of 2 or more dimensions (convolution and linear
    weights; biases and norm scales are left out), at most MAX_HISTOGRAM_LAYERS, in definition order."""
    return [name for name, p in model.named_parameters() if p.ndim >= 2][:MAX_HISTOGRAM_LAYERS]


class ReplayRecorder:
    """Records an `EpochSnapshot` of `model` when made (epoch 0) and at every call, as `train`'s `on_epoch`.

    `test_set` is (inputs, labels), preprocessed: the fixed image is `inputs[image_index]`,
    the probe batch the first `probe_size` examples. `layers`: whose maps to keep (default:
    the first convolution; at most MAX_MAP_LAYERS, each giving (C, H, W) maps). Make it just
    before training: `recorder = ReplayRecorder(model, test); train(model, data, config,
    on_epoch=recorder); replay = recorder.replay()`. A stopped or diverged run keeps the
    snapshots of the epochs it finished. Combine it with another callback by calling it
    from that one (it returns None, so it never stops a run).
    """

    def __init__(self, model: nn.Module, test_set: tuple[torch.Tensor, torch.Tensor], *,
                 layers: Sequence[str] | None = None, image_index: int = 0, probe_size: int = PROBE_SIZE,
                 bins: int = HISTOGRAM_BINS, max_channels: int = MAX_MAP_CHANNELS) -> None:
        x, y = test_set
        if not 0 <= image_index < len(x):
            raise ValueError(f"image_index must be from 0 to {len(x) - 1}, not {image_index}")
        if probe_size < 1 or not 2 <= bins <= MAX_BINS or not 1 <= max_channels <= MAX_MAP_CHANNELS:
            raise ValueError(f"probe_size must be at least 1, bins from 2 to {MAX_BINS} and max_channels from 1 "
                             f"to {MAX_MAP_CHANNELS}, not {probe_size}, {bins} and {max_channels}")
        leaves = [name for name, m in model.named_modules() if name and next(m.children(), None) is None]
        self.filter_layer = first_convolution(model, leaves) if leaves else ""
        if not isinstance(dict(model.named_modules()).get(self.filter_layer), nn.Conv2d):
            raise ValueError("a training replay needs a model with a convolution (nn.Conv2d)")
        self.layers = tuple(dict.fromkeys(layers if layers is not None else [self.filter_layer]))
        if not 1 <= len(self.layers) <= MAX_MAP_LAYERS:
            raise ValueError(f"keep the maps of 1 to {MAX_MAP_LAYERS} layers, not {len(self.layers)}")
        self.model, self.bins, self.max_channels = model, bins, max_channels
        self.image_index, self.probe_size = image_index, min(probe_size, len(x))
        dtype = model_dtype(model)
        self._image = torch.as_tensor(x[image_index]).to(dtype)
        self._probe = (torch.as_tensor(x[:self.probe_size]).to(dtype), torch.as_tensor(y[:self.probe_size]).long())
        parameters = dict(model.named_parameters())
        self.histogram_layers = tuple(histogram_layers(model))
        self._weights = [parameters[name] for name in self.histogram_layers]
        self.map_shapes: tuple[tuple[int, int, int], ...] = ()
        self.snapshots: list[EpochSnapshot] = []
        self.record(0)

    def __call__(self, report: EpochReport) -> None:
        """`train`'s on_epoch: record the epoch just finished."""
        self.record(report.epoch)

    def record(self, epoch: int) -> EpochSnapshot:
        """Take the snapshot after `epoch` epochs (the model as it is now) and keep it."""
        modes = [(module, module.training) for module in self.model.modules()]
        try:
            self.model.eval()  # no dropout draw, no batch-norm update
            snapshot = self._snapshot(epoch)
        finally:
            for module, training in modes:
                module.training = training
        self.snapshots.append(snapshot)
        return snapshot

    def replay(self) -> TrainingReplay:
        """The snapshots recorded so far, as a `TrainingReplay`."""
        return TrainingReplay(self.filter_layer, self.layers, self.map_shapes, self.histogram_layers,
                              self.image_index, self.probe_size, tuple(self.snapshots))

    def _snapshot(self, epoch: int) -> EpochSnapshot:
        conv = dict(self.model.named_modules())[self.filter_layer]
        weight = conv.weight.detach()[:MAX_FILTERS, :MAX_FILTER_INPUTS]
        filters = weight.to("cpu", torch.float32).clone().numpy()
        outputs = feature_maps(self.model, self._image, layers=self.layers)
        if not self.map_shapes:
            shapes = {layer: outputs[layer].shape for layer in self.layers}
            flat = [layer for layer, shape in shapes.items() if len(shape) != 3]
            if flat:
                raise ValueError(f"layer {flat[0]!r} gives no (C, H, W) maps (it gives {shapes[flat[0]]})")
            self.map_shapes = tuple((int(s[0]), int(s[1]), int(s[2])) for s in shapes.values())
        maps = {layer: _capped_maps(outputs[layer], self.max_channels) for layer in self.layers}
        with torch.enable_grad():  # also when called under no_grad
            x, y = self._probe
            loss = nn.functional.cross_entropy(self.model(x), y)
            wanted = [p for p in self._weights if p.requires_grad]
            # autograd.grad returns the gradients without adding them to any .grad: training's own are untouched.
            found = iter(torch.autograd.grad(loss, wanted, allow_unused=True) if wanted else ())
        gradients = [next(found) if p.requires_grad else None for p in self._weights]
        weights = [_histogram(p.detach(), self.bins) for p in self._weights]
        grads = [_histogram(g if g is not None else torch.zeros_like(p), self.bins)
                 for g, p in zip(gradients, self._weights, strict=True)]
        counts_w, ranges_w = _stacked(weights, self.bins)
        counts_g, ranges_g = _stacked(grads, self.bins)
        return EpochSnapshot(epoch, _frozen(filters), maps, counts_w, ranges_w, counts_g, ranges_g,
                             float(loss.detach()))


def _frozen(array: np.ndarray) -> np.ndarray:
    """Read-only: a finished training's replay is shared by every session that asks for the same training."""
    array.flags.writeable = False
    return array


def _capped_maps(maps: np.ndarray, max_channels: int) -> np.ndarray:
    """The first `max_channels` maps, as means of f x f blocks if a side is over MAX_MAP_SIDE, in float16."""
    kept = torch.from_numpy(np.ascontiguousarray(maps[:max_channels], dtype=np.float32))
    block = -(-max(kept.shape[1:]) // MAX_MAP_SIDE)
    if block > 1:  # ceil_mode: an edge block is the mean of what is left
        kept = nn.functional.avg_pool2d(kept[None], block, block, ceil_mode=True)[0]
    return _frozen(np.clip(kept.numpy(), -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16))


def _histogram(values: torch.Tensor, bins: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Counts of the finite values in `bins` equal bins from their min to their max, and that range."""
    flat = values.detach().to("cpu", torch.float64).flatten().numpy()
    flat = flat[np.isfinite(flat)]
    low, high = (float(flat.min()), float(flat.max())) if flat.size else (0.0, 0.0)
    if high <= low:  # all values equal (a gradient of zeros): a narrow range around them
        pad = 0.5 * max(abs(low), 1e-6)
        low, high = low - pad, high + pad
    counts, _ = np.histogram(flat, bins=bins, range=(low, high))
    return counts.astype(np.int32), (low, high)


def _stacked(histograms: list[tuple[np.ndarray, tuple[float, float]]], bins: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.stack([c for c, _ in histograms]) if histograms else np.zeros((0, bins), np.int32)
    ranges = np.array([r for _, r in histograms], dtype=np.float32).reshape(-1, 2)
    return _frozen(counts), _frozen(ranges)


def load_replay(data: bytes, *, model: nn.Module | None = None,
                max_bytes: int = MAX_FILE_BYTES) -> TrainingReplay | None:
    """The training replay saved in a model file's bytes, or None if it has none.

    With `model`, the replay must fit it: its filters those of the model's convolution, its
    layers the model's. A damaged, oversized or unfitting replay raises `ModelLoadError`
    (the model itself loads with `load_model_bytes` all the same).
    """
    section = saved_replay(data, max_bytes=max_bytes)
    if section is None:
        return None
    replay = TrainingReplay.from_section(section)
    if model is not None:
        modules = dict(model.named_modules())
        conv = modules.get(replay.filter_layer)
        kept = tuple(conv.weight[:MAX_FILTERS, :MAX_FILTER_INPUTS].shape) if isinstance(conv, nn.Conv2d) else None
        parameters = dict(model.named_parameters())
        if (kept != replay.snapshots[0].filters.shape or any(layer not in modules for layer in replay.map_layers)
                or any(name not in parameters for name in replay.histogram_layers)):
            raise ModelLoadError("The file's training replay is for another network than the model in the file.")
    return replay


def _replay_from_section(section: FileSection) -> TrainingReplay:
    """The checks of `TrainingReplay.from_section` (which turns their errors into one message)."""
    meta, tensors = section.metadata, section.tensors
    if not isinstance(meta.get("format"), int) or meta["format"] > _FORMAT:
        raise ValueError("it was written by a newer cnnviz, or its format is missing")
    epochs = _ints(meta["epochs"], "epochs")
    if not 1 <= len(epochs) <= MAX_SNAPSHOTS or any(b <= a for a, b in zip(epochs, epochs[1:])) or epochs[0] < 0:
        raise ValueError(f"it needs 1 to {MAX_SNAPSHOTS} epochs in increasing order")
    map_layers, hist_layers = _names(meta["map_layers"], MAX_MAP_LAYERS), _names(meta["histogram_layers"],
                                                                                   MAX_HISTOGRAM_LAYERS)
    filter_layer = _names([meta["filter_layer"]], 1)[0]
    shapes = [_ints(s, "map shapes") for s in meta["map_shapes"]]
    if any(len(s) != 3 or min(s) < 1 for s in shapes):
        raise ValueError("its map shapes must be (channels, height, width)")
    map_shapes = [(s[0], s[1], s[2]) for s in shapes]
    image_index, probe_size = _ints([meta["image_index"], meta["probe_size"]], "image index")
    expected = {"filters", "weight_counts", "weight_ranges", "gradient_counts", "gradient_ranges", "probe_loss",
                *(f"maps.{i}" for i in range(len(map_layers)))}
    if set(tensors) != expected or len(map_shapes) != len(map_layers) or not map_layers:
        raise ValueError("its tensors do not match its description")
    n, n_hist = len(epochs), len(hist_layers)
    filters = _array(tensors["filters"], torch.float32, 5, n)
    if not (1 <= filters.shape[1] <= MAX_FILTERS and 1 <= filters.shape[2] <= MAX_FILTER_INPUTS
            and all(1 <= s <= MAX_KERNEL_SIDE for s in filters.shape[3:])):
        raise ValueError(f"its filters have shape {filters.shape[1:]}, over the caps")
    maps = []
    for i, shape in enumerate(map_shapes):
        array = _array(tensors[f"maps.{i}"], torch.float16, 4, n)
        if not 1 <= array.shape[1] <= min(shape[0], MAX_MAP_CHANNELS) or any(not 1 <= s <= MAX_MAP_SIDE
                                                                             for s in array.shape[2:]):
            raise ValueError(f"the maps of {map_layers[i]!r} have shape {array.shape[1:]}, over the caps")
        maps.append(array)
    hist = {}
    for kind in ("weight", "gradient"):
        counts = _array(tensors[f"{kind}_counts"], torch.int32, 3, n)
        ranges = _array(tensors[f"{kind}_ranges"], torch.float32, 3, n)
        if counts.shape[1] != n_hist or not 2 <= counts.shape[2] <= MAX_BINS or ranges.shape[1:] != (n_hist, 2):
            raise ValueError(f"its {kind} histograms have shapes {counts.shape[1:]} and {ranges.shape[1:]}")
        if (counts < 0).any() or (ranges[..., 1] < ranges[..., 0]).any():
            raise ValueError(f"its {kind} histograms have negative counts or ranges")
        hist[kind] = (counts, ranges)
    loss = _array(tensors["probe_loss"], torch.float32, 1, n, finite=False)
    snapshots = tuple(
        EpochSnapshot(epoch, _frozen(filters[e].copy()), {layer: _frozen(maps[i][e].copy())
                                                           for i, layer in enumerate(map_layers)},
                      _frozen(hist["weight"][0][e].copy()), _frozen(hist["weight"][1][e].copy()),
                      _frozen(hist["gradient"][0][e].copy()), _frozen(hist["gradient"][1][e].copy()),
                      float(loss[e]))
        for e, epoch in enumerate(epochs))
    return TrainingReplay(filter_layer, map_layers, tuple(map_shapes), hist_layers, image_index, probe_size,
                          snapshots)


def _ints(values: Any, what: str) -> list[int]:
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**6
                                               for v in values):
        raise ValueError(f"its {what} must be whole numbers from 0 to 1,000,000")
    return values


def _names(values: Any, limit: int) -> tuple[str, ...]:
    if not isinstance(values, list) or len(values) > limit or len(set(values)) != len(values) or not all(
            isinstance(v, str) and 0 < len(v) <= _MAX_NAME for v in values):
        raise ValueError(f"its layer names must be at most {limit} different names of up to {_MAX_NAME} characters")
    return tuple(values)


def _array(tensor: Any, dtype: torch.dtype, ndim: int, epochs: int, *, finite: bool = True) -> np.ndarray:
    """A tensor of the file as numpy, refused unless it has `dtype`, `ndim` axes and `epochs` rows."""
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != dtype or tensor.ndim != ndim or len(tensor) != epochs:
        raise ValueError(f"a tensor is {getattr(tensor, 'dtype', type(tensor))} of shape "
                         f"{tuple(getattr(tensor, 'shape', ()))}, not {dtype} with {ndim} axes and {epochs} rows")
    if finite and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError("it holds values that are not finite")
    return tensor.numpy()
