"""What a model costs to run, computed from its spec alone, and the budget a server allows.

A model file is data, but the network it describes has a cost: a few KB of JSON can ask
for one 1x1 convolution with 512 channels on a 1024x1024 input, which needs 4 GB for
its first forward pass. `model_cost` works out, without building anything, the three
numbers that matter:

- parameters: the values of every weight and bias (what `sum(p.numel())` counts);
- activation_bytes: the float32 bytes of every intermediate output of one forward pass
  (in eval mode, at `batch`): the output of every layer, plus the float tensors the
  model's forward makes between layers (a TextCNN's relu maps, a ResNet's sums). Integer
  and boolean bookkeeping (token ids, padding masks) is left out;
- multiply_adds: for a convolution out_h * out_w * out_c * in_c * k * k (k * k is the
  kernel's area; k for a 1-D convolution), for a linear layer in * out, per image times
  `batch`. Pooling, normalisation, activations and sums are not counted: they cost one
  operation per output value, which activation_bytes already bounds.

`check_budget` refuses a spec over a `Budget` with a `ModelTooCostlyError` (a
`ModelLoadError`) whose message states the numbers and the limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnnviz.errors import ModelLoadError
from cnnviz.models.cnn import CNNSpec
from cnnviz.models.efficientnet import HEAD_CHANNELS, LITE0_STAGES, STEM_CHANNELS, EfficientNetLiteSpec
from cnnviz.models.resnet import ResNetSpec
from cnnviz.models.text import FastTextSpec, TextCNNSpec

__all__ = ["APP_BATCH_SIZE", "DEFAULT_BUDGET", "MAX_PARAMETERS", "Budget", "ModelCost", "ModelTooCostlyError",
           "check_budget", "model_cost"]

_FLOAT_BYTES = 4
# The largest batch the app runs a loaded model on: `cnnviz.analysis.features.top_activations` and
# `cnnviz.analysis.ngrams.top_ngrams` take 256 examples at a time, `cnnviz.evaluate` 128.
# A model is checked at this batch, so every pass the app makes fits in the budget.
APP_BATCH_SIZE = 256
MAX_PARAMETERS = 25_000_000  # 100 MB of float32, as cnnviz.models.files.MAX_TOTAL_ELEMENTS
_DEFAULT_TEXT_LENGTH = 64  # tokens per text, the default `max_length` of cnnviz's text data sets
_DEFAULT_RESNET_SIZE = 32  # CIFAR images


class ModelTooCostlyError(ModelLoadError):
    """A model (from a file, a link or a spec) is over the server's budget; its message says by how much."""


@dataclass(frozen=True)
class ModelCost:
    """What one forward pass of a model costs (see the module docstring for what is counted)."""

    parameters: int
    activation_bytes: int  # at the batch `model_cost` was asked for
    multiply_adds: int     # at that batch too

    @property
    def activation_mb(self) -> float:
        """activation_bytes in MB (2**20 bytes)."""
        return self.activation_bytes / 2**20


@dataclass(frozen=True)
class Budget:
    """The most a server lets one model cost: multiply-adds per image, activation bytes
    of one forward pass at the batch the app uses, and parameters."""

    max_multiply_adds: int
    max_activation_bytes: int
    max_parameters: int = MAX_PARAMETERS

    def __post_init__(self) -> None:
        for name in ("max_multiply_adds", "max_activation_bytes", "max_parameters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, not {value!r}")


# The limits of a local app (cnnviz.Settings()) and the library's default. Generous next to the zoo
# (LeNet-5: 0.4 M multiply-adds per image), yet a digits model with 2,048 channels (2.3 GB of
# activations at 256 images) or a 1024x1024 input with a large kernel is refused.
LOCAL_MAX_MULTIPLY_ADDS = 500_000_000
LOCAL_MAX_ACTIVATION_MB = 1000
DEFAULT_BUDGET = Budget(max_multiply_adds=LOCAL_MAX_MULTIPLY_ADDS, max_activation_bytes=LOCAL_MAX_ACTIVATION_MB * 2**20)


class _Tally:
    """Running sums of one forward pass, per example."""

    def __init__(self) -> None:
        self.parameters = 0
        self.values = 0       # float values of intermediate outputs
        self.multiply_adds = 0

    def output(self, *shape: int) -> None:
        n = 1
        for s in shape:
            n *= s
        self.values += n

    def conv(self, in_c: int, out_c: int, kernel_area: int, out_positions: int, *, bias: bool) -> None:
        self.parameters += in_c * out_c * kernel_area + (out_c if bias else 0)
        self.multiply_adds += out_positions * out_c * in_c * kernel_area
        self.output(out_c, out_positions)

    def linear(self, n_in: int, n_out: int) -> None:
        self.parameters += n_in * n_out + n_out
        self.multiply_adds += n_in * n_out
        self.output(n_out)

    def batch_norm(self, channels: int, positions: int) -> None:
        self.parameters += 2 * channels  # weight and bias; the running statistics are buffers
        self.output(channels, positions)


def model_cost(spec: Any, *, batch: int = 1, input_size: int | None = None,
               text_length: int | None = None) -> ModelCost:
    """Parameters, activation bytes and multiply-adds of one forward pass of the model `spec` describes.

    Computed from the spec alone, nothing is built. `batch` examples per pass;
    `input_size` is the image side for specs that do not fix it (`ResNetSpec`: 32, CIFAR);
    `text_length` the tokens per text of a TextCNN or fastText (default 64; the app
    passes its preprocessing's `max_length`, the longest it feeds).
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive whole number, not {batch!r}")
    tally = _Tally()
    if isinstance(spec, CNNSpec):
        _cnn(spec, tally)
    elif isinstance(spec, ResNetSpec):
        _resnet(spec, input_size or _DEFAULT_RESNET_SIZE, tally)
    elif isinstance(spec, EfficientNetLiteSpec):
        _efficientnet_lite(spec, tally)
    elif isinstance(spec, TextCNNSpec):
        _text_cnn(spec, text_length or _DEFAULT_TEXT_LENGTH, tally)
    elif isinstance(spec, FastTextSpec):
        _fasttext(spec, text_length or _DEFAULT_TEXT_LENGTH, tally)
    else:
        raise TypeError(f"no cost model for {type(spec).__name__}")
    return ModelCost(tally.parameters, tally.values * _FLOAT_BYTES * batch, tally.multiply_adds * batch)


def _cnn(spec: CNNSpec, t: _Tally) -> None:
    # nn.Sequential of conv, [bn], activation, [pool] blocks, then flatten and linear layers (cnnviz.models).
    channels, n = spec.in_channels, spec.input_size
    for conv in spec.convs:
        n = conv.conv_side(n)
        t.conv(channels, conv.out_channels, conv.kernel_size ** 2, n * n, bias=not conv.batch_norm)
        channels = conv.out_channels
        if conv.batch_norm:
            t.batch_norm(channels, n * n)
        t.output(channels, n, n)  # activation
        if conv.pool is not None:
            n = conv.pooled_side(n)
            t.output(channels, n, n)
    width = channels * n * n
    t.output(width)  # flatten (a view, but a layer output like the others)
    for hidden in spec.hidden:
        t.linear(width, hidden)
        t.output(hidden)  # activation
        width = hidden
    t.linear(width, spec.num_classes)


def _resnet(spec: ResNetSpec, size: int, t: _Tally) -> None:
    # cnnviz.models.resnet.ResNetCIFAR: every norm and activation slot is a layer (nn.Identity where unused).
    bn, pre = spec.batch_norm, spec.block == "pre"

    def norm(channels: int, positions: int) -> None:
        if bn:
            t.batch_norm(channels, positions)
        else:
            t.output(channels, positions)  # nn.Identity

    widths = spec.stage_widths
    n = size
    t.conv(spec.in_channels, widths[0], 9, n * n, bias=not bn)
    if pre:
        t.output(2 * widths[0], n * n)  # bn1 and act1 are nn.Identity
    else:
        norm(widths[0], n * n)
        t.output(widths[0], n * n)  # act1
    channels = widths[0]
    for stage, out_c in enumerate(widths):
        for block in range(spec.blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            m = (n - 1) // stride + 1  # 3x3, padding 1
            if pre:
                norm(channels, n * n)
                t.output(channels, n * n)  # act1
                t.conv(channels, out_c, 9, m * m, bias=not bn)
                norm(out_c, m * m)
                t.output(out_c, m * m)  # act2
                t.conv(out_c, out_c, 9, m * m, bias=not bn)
            else:
                t.conv(channels, out_c, 9, m * m, bias=not bn)
                norm(out_c, m * m)
                t.output(out_c, m * m)  # act1
                t.conv(out_c, out_c, 9, m * m, bias=not bn)
                norm(out_c, m * m)
            if spec.residual:
                t.output(2 * out_c, m * m)  # the shortcut (subsampled, or nn.Identity) and the sum
            if not pre:
                t.output(out_c, m * m)  # act2
            channels, n = out_c, m
    if pre:
        norm(channels, n * n)  # bn_final
    else:
        t.output(channels, n * n)  # bn_final is nn.Identity
    t.output(channels, n * n)  # act_final (nn.Identity after post-activation blocks)
    t.output(channels)  # global average pooling
    t.linear(channels, spec.num_classes)


def _efficientnet_lite(spec: EfficientNetLiteSpec, t: _Tally) -> None:
    # cnnviz.models.efficientnet: conv-bn-relu6 units in MBConv blocks; a strided unit first pads its even
    # n x n input by k - 2 (TensorFlow's "same"), to (n + k - 2) x (n + k - 2), and halves it.
    def unit(in_c: int, out_c: int, kernel: int, side: int, stride: int = 1, *, depthwise: bool = False,
             act: bool = True) -> int:
        if stride != 1:
            t.output(in_c, (side + kernel - 2) ** 2)  # the padded map
            side //= stride
        t.conv(1 if depthwise else in_c, out_c, kernel * kernel, side * side, bias=False)
        t.batch_norm(out_c, side * side)
        if act:
            t.output(out_c, side * side)
        return side

    n = unit(spec.in_channels, STEM_CHANNELS, 3, spec.input_size, 2)
    channels = STEM_CHANNELS
    for expansion, kernel, first_stride, out_c, repeats in LITE0_STAGES:
        for i in range(repeats):
            stride = first_stride if i == 0 else 1
            hidden = channels * expansion
            if expansion != 1:
                unit(channels, hidden, 1, n)
            n = unit(hidden, hidden, kernel, n, stride, depthwise=True)
            unit(hidden, out_c, 1, n, act=False)
            if stride == 1 and channels == out_c:
                t.output(out_c, n * n)  # the sum
            channels = out_c
    unit(channels, HEAD_CHANNELS, 1, n)
    # global average pooling, then flatten and dropout: views in eval mode, counted as every layer's output is
    t.output(3 * HEAD_CHANNELS)
    t.linear(HEAD_CHANNELS, spec.num_classes)


def _text_cnn(spec: TextCNNSpec, length: int, t: _Tally) -> None:
    # cnnviz.models.text.TextCNN: ids padded to the widest filter, embed, conv + relu and max per width, concat.
    length = max(length, max(spec.widths))
    k, f = spec.embedding_dim, spec.filters
    t.parameters += spec.vocab_size * k
    t.output(length, k)  # embedding
    for w in spec.widths:
        t.conv(k, f, w, length - w + 1, bias=True)
        t.output(f, length - w + 1)  # relu
        t.output(f)  # 1-max pooling over time
    t.output(2 * f * len(spec.widths))  # concatenation, and dropout
    t.linear(f * len(spec.widths), spec.num_classes)


def _fasttext(spec: FastTextSpec, length: int, t: _Tally) -> None:
    # cnnviz.models.text.FastText: masked sums of the word (and bigram) embeddings, divided by their count.
    k = spec.embedding_dim
    t.parameters += (spec.vocab_size + spec.bigram_buckets) * k
    t.output(length)  # the padding mask as floats
    t.output(2 * length, k)  # the embeddings and the masked embeddings
    t.output(k)  # their sum
    t.output(1)  # the count of words
    if spec.bigram_buckets and length > 1:
        t.output(length - 1)  # the mask of real bigrams as floats
        t.output(2 * (length - 1), k)  # bigram embeddings, masked
        t.output(2 * k)  # their sum, added to the words'
        t.output(2)  # their count, added to the words'
    t.output(1)  # the count, at least 1
    t.output(k)  # the mean
    t.linear(k, spec.num_classes)


def _amount(n: float) -> str:
    """3,200,000,000 -> "3.2 G"; 50,000,000 -> "50 M"; 900 -> "900"."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= factor:
            value = n / factor
            return f"{value:.1f} {unit}".replace(".0 ", " ") if value < 100 else f"{value:,.0f} {unit}"
    return f"{n:,.0f}"


def _bytes(n: float) -> str:
    """Bytes in MB or GB (2**20, 2**30), as the app's other limits are written."""
    for factor, unit in ((2**40, "TB"), (2**30, "GB"), (2**20, "MB"), (2**10, "KB")):
        if n >= factor:
            value = n / factor
            return (f"{value:.1f}".removesuffix(".0") if value < 100 else f"{value:,.0f}") + f" {unit}"
    return f"{n:,.0f} bytes"


def check_budget(spec: Any, budget: Budget, *, batch: int = APP_BATCH_SIZE, input_size: int | None = None,
                 text_length: int | None = None) -> ModelCost:
    """The cost of `spec` (see `model_cost`), or `ModelTooCostlyError` if any of it is over `budget`.

    Multiply-adds are checked per example, activation memory at `batch` examples, parameters
    in all. The message states every number that is over and its limit, in plain words.
    """
    per_image = model_cost(spec, batch=1, input_size=input_size, text_length=text_length)
    activation_bytes = per_image.activation_bytes * batch
    what = "text" if isinstance(spec, (TextCNNSpec, FastTextSpec)) else "image"
    over = []
    if per_image.multiply_adds > budget.max_multiply_adds:
        over.append(f"{_amount(per_image.multiply_adds)} multiply-adds per {what} "
                    f"(this server allows {_amount(budget.max_multiply_adds)})")
    if activation_bytes > budget.max_activation_bytes:
        over.append(f"{_bytes(activation_bytes)} of memory for the activations of {batch:,} "
                    f"{what}{'s' if batch > 1 else ''} at once "
                    f"(this server allows {_bytes(budget.max_activation_bytes)})")
    if per_image.parameters > budget.max_parameters:
        over.append(f"{per_image.parameters:,} parameters (this server allows {budget.max_parameters:,})")
    if over:
        needs = over[0] if len(over) == 1 else ", ".join(over[:-1]) + " and " + over[-1]
        raise ModelTooCostlyError(f"This model is too costly to run here: it needs {needs}.")
    return ModelCost(per_image.parameters, activation_bytes, per_image.multiply_adds * batch)
