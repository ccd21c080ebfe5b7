"""Feature visualisation by optimisation: the input that drives one channel (or one unit) of a layer hardest.

Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill): start from noise and follow
the gradient of the channel's mean activation with respect to the image. Plain gradient ascent
finds high-frequency patterns that fool the network; what makes the picture readable is
(1) transformation robustness, a random small shift, scale and rotation of the image at each step,
(2) a decorrelated parameterisation, the image's Fourier spectrum scaled by 1/frequency (and, for
colour, ImageNet's decorrelated colour space), both as in Lucid / Lucent, and (3) optionally a
diversity term that pushes several images of one channel apart.

Made for small greyscale networks too (LeNet-5 on 28×28 MNIST), where Lucid's defaults give colour
noise: the image is parameterised in the model's display pixel space [0, 1] through a sigmoid, with
as many channels as the model reads (one for a greyscale model, never colour), and normalised by the
model's own `Preprocessing.normalise`. It starts from the data set's mean colour (the input that
normalises to 0, what the model's convolutions pad with) and is padded with it when shifted; an L1
cost on the distance from that colour keeps the background a channel does not need plain, so MNIST
channels give white strokes on a dark ground. Shifts are scaled to the layer's receptive field (two
pixels move a 3x3 window off itself) and fade out over the second half of the steps, so the image
ends sharp where the untransformed objective judges it. ReLUs that give no gradient yet pass
Lucid's redirected one for the first steps, so a channel no start image excites can still start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.features import model_dtype
from cnnviz.analysis.hooks import eval_with_hooks
from cnnviz.analysis.receptive_field import receptive_fields
from cnnviz.data.images import Preprocessing
from cnnviz.errors import BadArgumentError

__all__ = ["DEFAULT_VISUALISATION_STEPS", "FeatureVisualisation", "channel_objective", "visualise_channel"]

DEFAULT_VISUALISATION_STEPS = 256
Parameterisation = Literal["fourier", "pixel"]
# Lucid's square root of ImageNet's colour correlation (its SVD): a step in these coordinates changes
# colours as natural images vary, so colour images are not dominated by saturated noise.
_COLOUR_CORRELATION = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
_COLOUR_CORRELATION /= np.linalg.norm(_COLOUR_CORRELATION, axis=0).max()


@dataclass(frozen=True, eq=False)
class FeatureVisualisation:
    """Images optimised to excite `channel` of `layer` (its mean over the map, or the unit at `unit`).

    `images` (N, C, H, W) float32 in [0, 1] are in the model's display pixel space, as a data set
    shows them (before normalisation); C is the model's input channels. `objective` (steps, N) is
    each image's objective at each step, measured on the randomly transformed image the step
    used; `activations` (N,) the objective of each final image as it is (no transformation), the
    number to compare with `channel_objective` of other images.
    """

    layer: str
    channel: int
    unit: tuple[int, int] | None
    images: np.ndarray        # (N, C, H, W) in [0, 1]
    objective: np.ndarray     # (steps, N)
    activations: np.ndarray   # (N,)
    seed: int
    parameterisation: str


class _Reached(Exception):
    """Raised by the hook once the layer's output is captured: the rest of the network does not matter."""


def _layer_module(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or not layer or layer not in modules:
        names = [name for name in modules if name]
        listed = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
        raise BadArgumentError(f"Unknown layer {layer!r}; this model's layers are: {listed}")
    return modules[layer]


def _whole(value: Any, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise BadArgumentError(f"{what} must be a whole number of at least {low}, not {value!r}")
    return int(value)


def _number(value: Any, what: str, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not low <= value <= high:
        bounds = f"at least {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
        raise BadArgumentError(f"{what} must be a number {bounds}, not {value!r}")
    return float(value)


def _map_shape(model: nn.Module, module: nn.Module, layer: str, preprocessing: Preprocessing) -> tuple[int, ...]:
    """(channels, rows, cols) of the layer's output for one input, from one forward pass without gradients."""
    shapes: list[tuple[int, ...]] = []

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        shapes.append(tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else ())
        raise _Reached

    x = torch.zeros((1, *preprocessing.input_shape), dtype=model_dtype(model))
    with eval_with_hooks(model, {module: hook}):
        try:
            model(x)
        except _Reached:
            pass
    if not shapes:
        raise BadArgumentError(f"Layer {layer!r} is not called by the model's forward")
    if len(shapes[0]) != 3:
        raise BadArgumentError(f"Layer {layer!r} gives {shapes[0]}, not (channels, rows, cols) maps")
    return shapes[0]


def _check_target(shape: tuple[int, ...], layer: str, channel: Any, unit: Any) -> tuple[int, tuple[int, int] | None]:
    channels, rows, cols = shape
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < channels:
        raise BadArgumentError(f"Layer {layer!r} has channels 0 to {channels - 1}, not {channel!r}")
    if unit is None:
        return int(channel), None
    try:
        row, col = (int(v) for v in unit)
    except (TypeError, ValueError):
        raise BadArgumentError(f"unit must be (row, col), not {unit!r}") from None
    if not (0 <= row < rows and 0 <= col < cols):
        raise BadArgumentError(f"unit ({row}, {col}) is outside the {rows}x{cols} map of {layer!r}")
    return int(channel), (row, col)


def _pick(maps: torch.Tensor, channel: int, unit: tuple[int, int] | None) -> torch.Tensor:
    """The objective per image of a batch of maps (N, C, H, W): the channel's mean, or its unit."""
    return maps[:, channel].mean(dim=(1, 2)) if unit is None else maps[:, channel, unit[0], unit[1]]


def channel_objective(model: nn.Module, x: torch.Tensor | np.ndarray, layer: str, channel: int, *,
                      unit: tuple[int, int] | None = None, batch_size: int = 256) -> np.ndarray:
    """What `visualise_channel` maximises, for each preprocessed image of x (N, C, H, W): (N,) float32.

    The mean of `channel` of `layer`'s map over its rows and columns, or with `unit` (row, col)
    that one value, on the layer's first call in the forward (eval mode, no gradients, flags
    restored). Give it the test images (`preprocessing.apply(data.x_test)`) to compare an
    optimised image's `activations` with the strongest real image's.
    """
    module = _layer_module(model, layer)
    batch = torch.as_tensor(x).to(model_dtype(model))
    if batch.ndim != 4:
        raise BadArgumentError(f"x must be a batch (N, C, H, W), not shape {tuple(batch.shape)}")
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        captured.append(output)
        raise _Reached

    values: list[np.ndarray] = []
    with eval_with_hooks(model, {module: hook}):
        for first in range(0, len(batch), max(1, batch_size)):
            captured.clear()
            try:
                model(batch[first:first + batch_size])
            except _Reached:
                pass
            if not captured or not isinstance(captured[0], torch.Tensor) or captured[0].ndim != 4:
                raise BadArgumentError(f"Layer {layer!r} does not give (channels, rows, cols) maps")
            target = _check_target(tuple(captured[0].shape[1:]), layer, channel, unit)
            values.append(_pick(captured[0], *target).to(torch.float32).numpy())
    return np.concatenate(values) if values else np.zeros(0, dtype=np.float32)


class _RedirectedReLU(torch.autograd.Function):
    """A clamp to [low, high] (ReLU, ReLU6) with Lucid's redirected gradient: for an image whose gradient the
    clamp stops everywhere (as at the start from a plain image), it also reaches a clamped unit when it would
    move the unit back into range, so a channel that nothing excites yet gets a push instead of none."""

    @staticmethod
    def forward(ctx: Any, pre: torch.Tensor, low: float, high: float) -> torch.Tensor:
        ctx.save_for_backward(pre)
        ctx.bounds = (low, high)
        return pre.clamp(low, high)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (grad,) = grads
        (pre,) = ctx.saved_tensors
        low, high = ctx.bounds
        inside = (pre > low) & (pre < high)
        through = grad * inside
        # descent moves pre against the gradient: drop only what would push a clamped unit further out
        outward = ((pre <= low) & (grad > 0)) | ((pre >= high) & (grad < 0))
        # Only for an image that gets no gradient through at all (Lucid's rule): elsewhere the true one.
        stuck = (through.flatten(1) == 0).all(dim=1).view(-1, *[1] * (grad.ndim - 1))
        return torch.where(stuck, grad.masked_fill(outward, 0.0), through), None, None


# Every ReLU passes redirected gradients for this many steps, "to get the visualisation started" (Lucid;
# torchbearer does the same for its first 16 steps); then the true gradients.
_REDIRECT_STEPS = 16
_CLAMPS = (nn.ReLU, nn.ReLU6)


def _redirected(module: nn.Module, inputs: Any, output: Any) -> Any:
    """The output of a (not in-place) ReLU or ReLU6 `module`, recomputed with the redirected gradient;
    the output itself for any other module (and in-place ones, whose input is overwritten)."""
    if type(module) not in _CLAMPS or getattr(module, "inplace", False):
        return output
    return _RedirectedReLU.apply(inputs[0], 0.0, 6.0 if isinstance(module, nn.ReLU6) else math.inf)


class _Squash(torch.autograd.Function):
    """The sigmoid that keeps pixels in [0, 1], with a gradient that does not vanish for a pixel the objective
    pulls back from black or white: a saturated pixel (slope 0.002 at 0.998) would stay where an early step put
    it, and a first-layer unit end short of its best pattern (TinyVGG's conv1 on Fashion-MNIST: 2.50 instead of
    2.66, below the best test image's 2.51); with the floor it gets 2.62."""

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor) -> torch.Tensor:
        out = torch.sigmoid(logits)
        ctx.save_for_backward(logits, out)
        return out

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        (grad,) = grads
        logits, out = ctx.saved_tensors
        slope = out * (1 - out)
        inward = (logits > 0) == (grad > 0)   # descent moves the logit towards 0: back from black or white
        return grad * torch.where(inward, slope.clamp(min=_FLOOR), slope)


_FLOOR = 0.1  # the sigmoid's slope at 0.11 and 0.89: outward, pixels still saturate as slowly as a sigmoid's


def _frequencies(height: int, width: int) -> torch.Tensor:
    """|f| of each coefficient of a real 2-D FFT of an (height, width) image, in cycles per pixel."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


def _image_parameters(shape: tuple[int, int, int, int], parameterisation: str, decay_power: float,
                      start: torch.Tensor, generator: torch.Generator,
                      dtype: torch.dtype) -> tuple[torch.Tensor, Callable[[], torch.Tensor]]:
    """The tensor Adam changes and a function giving the images (N, C, H, W) in [0, 1] from it.

    A sigmoid (`_Squash`) keeps every pixel in [0, 1]; `start` (C,) is added before it as logits, so the
    images start near the data set's mean colour, plus small noise (sd 0.01, Lucid's).
    """
    n, channels, height, width = shape
    logit = torch.logit(start.clamp(0.02, 0.98)).to(dtype).view(1, -1, 1, 1)
    colour = torch.from_numpy(_COLOUR_CORRELATION).to(dtype) if channels == 3 else None

    def to_pixels(values: torch.Tensor) -> torch.Tensor:
        if colour is not None:  # decorrelated colour coordinates -> RGB
            values = torch.einsum("nchw,dc->ndhw", values, colour)
        return _Squash.apply(values + logit)

    if parameterisation == "pixel":
        pixels = (torch.randn(shape, generator=generator) * 0.01).to(dtype).requires_grad_(True)
        return pixels, lambda: to_pixels(pixels)
    # Fourier: each coefficient scaled by 1/|f| (decay_power 1), so every frequency moves the image as
    # much as it does in natural images (whose spectrum falls as 1/f) and Adam's equal steps per parameter
    # no longer favour high frequencies (Distill, "Preconditioning and Parameterization").
    frequencies = _frequencies(height, width)
    scale = (1.0 / frequencies.clamp(min=1.0 / max(height, width)) ** decay_power)
    scale = (scale / scale.max() * math.sqrt(height * width)).to(dtype)[None, None, :, :, None]
    spectrum = (torch.randn((n, channels, *frequencies.shape, 2), generator=generator) * 0.01).to(dtype)
    spectrum.requires_grad_(True)

    def render() -> torch.Tensor:
        values = torch.fft.irfft2(torch.view_as_complex(scale * spectrum), s=(height, width), norm="ortho")
        return to_pixels(values / 4.0)  # Lucid's constant: a smaller start, less saturation

    return spectrum, render


def _random_affine(n: int, size: int, jitter: float, scale: float, rotate: float,
                   generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """(n, 2, 3) affine maps for `F.affine_grid`: a shift of up to `jitter` pixels, a zoom by a
    factor in [1 - scale, 1 + scale] and a rotation of up to `rotate` degrees, each drawn uniformly."""
    draws = torch.rand((n, 4), generator=generator, dtype=torch.float64) * 2 - 1
    shift = draws[:, :2] * jitter * 2 / size         # affine_grid's coordinates run from -1 to 1
    zoom = 1 + draws[:, 2] * scale
    angle = draws[:, 3] * math.radians(rotate)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    return theta.to(dtype)


def _default_jitter(model: nn.Module, preprocessing: Preprocessing, layer: str) -> float:
    """An eighth of the layer's receptive field (the image if it has none), at most a sixteenth of the image.

    A shift is only a small change relative to what a unit sees: 2 pixels move a 3x3 window off itself,
    while Lucid's 8 to 12 pixels suit ImageNet layers that see most of a 224x224 image."""
    try:
        sizes = [r.size for r in receptive_fields(model, preprocessing.input_shape) if r.name == layer]
    except ValueError:  # a model torch.fx cannot trace: no receptive field to go by
        sizes = []
    seen = max(sizes[-1]) if sizes and sizes[-1] is not None else preprocessing.size
    return min(min(seen, preprocessing.size) / 8, preprocessing.size / 16)


def _diversity(maps: torch.Tensor) -> torch.Tensor:
    """The mean, over the images, of the summed cosine similarity of each image's Gram matrix of the layer's
    channels with every other image's (Distill, "Diversity"): 0 when they share no channel pattern."""
    flat = maps.flatten(2)                                    # (N, C, H*W)
    grams = F.normalize(torch.bmm(flat, flat.transpose(1, 2)).flatten(1), dim=1, eps=1e-10)
    similarity = grams @ grams.T
    n = len(maps)
    return (similarity.sum() - similarity.diagonal().sum()) / n


def visualise_channel(model: nn.Module, preprocessing: Preprocessing, layer: str, channel: int, *,
                      unit: tuple[int, int] | None = None, diversity: int = 1, diversity_weight: float = 1.0,
                      steps: int = DEFAULT_VISUALISATION_STEPS, learning_rate: float = 0.05,
                      parameterisation: Parameterisation = "fourier", decay_power: float = 1.0,
                      jitter: float | None = None, scale: float = 0.05, rotate: float = 5.0,
                      l1: float = 1.0, seed: int = 0,
                      on_step: Callable[[int, int, float], None] | None = None) -> FeatureVisualisation:
    """`diversity` images optimised so that `channel` of `layer` responds as strongly as it can.

    The objective is the channel's mean over its map, or with `unit` (row, col) that one value,
    on the layer's first call (the forward stops there). Adam (`learning_rate`) takes `steps`
    steps from faint noise around the data set's mean colour (`preprocessing.mean`). At each
    step every image is shifted by up to `jitter` pixels (default: an eighth of the layer's
    receptive field, at most a sixteenth of the image), zoomed by up to ±`scale` and turned by
    up to ±`rotate` degrees, padded with the mean colour, and normalised by `preprocessing`;
    over the second half of the steps these transformations shrink to nothing. `parameterisation`
    "fourier" (default) optimises the image's spectrum scaled by 1/f^`decay_power`, "pixel" each
    pixel. `l1` weighs the pixels' mean distance from the mean colour, as a fraction of the
    largest objective reached so far; with `diversity` > 1, `diversity_weight` (scaled the same
    way) weighs the similarity of the images' Gram matrices at the layer.

    Draws come from a torch.Generator seeded with `seed`, never from torch's global one: the
    same seed gives the same images. `on_step(step, steps, objective)` is called after each step
    with the objective's mean over the images. The model is left as it was: eval mode during the
    run, then every module's training flag and every parameter's requires_grad restored and the
    hooks removed, also on error. Raises BadArgumentError (a ValueError) for an unknown layer or
    one without (C, H, W) maps, a channel or unit outside them, steps or diversity below 1, an
    unknown parameterisation, or a weight, scale, rotation or jitter out of range.
    """
    module = _layer_module(model, layer)
    steps = _whole(steps, "steps", 1)
    count = _whole(diversity, "diversity", 1)
    seed = _whole(seed, "seed", 0)
    if parameterisation not in ("fourier", "pixel"):
        raise BadArgumentError(f"parameterisation must be 'fourier' or 'pixel', not {parameterisation!r}")
    learning_rate = _number(learning_rate, "learning_rate", 1e-6, 10.0)
    weights = {name: _number(value, name, 0.0) for name, value in
               (("diversity_weight", diversity_weight), ("l1", l1), ("scale", scale), ("rotate", rotate),
                ("decay_power", decay_power), ("jitter", 0.0 if jitter is None else jitter))}
    if weights["scale"] >= 1:
        raise BadArgumentError(f"scale must be below 1 (a zoom by 1 ± scale), not {scale!r}")
    target = _check_target(_map_shape(model, module, layer, preprocessing), layer, channel, unit)
    size = preprocessing.size
    shift = _default_jitter(model, preprocessing, layer) if jitter is None else weights["jitter"]

    dtype = model_dtype(model)
    generator = torch.Generator().manual_seed(seed)
    mean = torch.tensor(preprocessing.mean, dtype=dtype)
    param, render = _image_parameters((count, preprocessing.channels, size, size), parameterisation,
                                      weights["decay_power"], mean, generator, dtype)
    optimiser = torch.optim.Adam([param], lr=learning_rate)
    captured: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    redirecting = [True]

    def early(module_: nn.Module, inputs: Any, output: Any) -> Any:
        return _redirected(module_, inputs, output) if redirecting[0] and torch.is_grad_enabled() else None

    def hook(module_: nn.Module, inputs: Any, output: Any) -> None:
        clamp = type(module_) in _CLAMPS and not getattr(module_, "inplace", False)
        captured.append((output, inputs[0] if clamp else None))  # a ReLU's input: see `dead` below
        raise _Reached

    hooks: dict[nn.Module, Callable[..., Any]] = {m: early for m in model.modules() if type(m) in _CLAMPS}
    hooks[module] = hook

    def layer_maps(pixels: torch.Tensor) -> torch.Tensor:
        captured.clear()
        try:
            model(preprocessing.normalise(pixels))
        except _Reached:
            pass
        return captured[0][0]

    history = np.zeros((steps, count), dtype=np.float32)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)  # gradients for the image only: the weights' would cost time and be kept
        with eval_with_hooks(model, hooks), torch.enable_grad():
            reference = 1e-3
            for step in range(steps):
                redirecting[0] = step < _REDIRECT_STEPS
                pixels = render()
                # Full transformations for the first half, then less and less: the image keeps the shapes it found
                # robustly and sharpens them for the untransformed objective it is judged by (their peak).
                strength = min(1.0, 2 * (steps - step - 1) / steps)
                theta = _random_affine(count, size, shift * strength, weights["scale"] * strength,
                                       weights["rotate"] * strength, generator, dtype)
                grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
                # Transformed in normalised space, where zero padding is the mean colour: what the model's
                # own convolutions pad with (Lucid pads ImageNet images with grey for the same reason).
                moved = F.grid_sample(preprocessing.normalise(pixels), grid, mode="bilinear",
                                      padding_mode="zeros", align_corners=False)
                captured.clear()
                try:
                    model(moved)
                except _Reached:
                    pass
                maps, pre = captured[0]
                objective = gradient_path = _pick(maps, *target)
                if pre is not None:
                    # The layer is a ReLU: where its whole objective is clamped for an image, no gradient reaches
                    # the image; follow its input's instead (same value, Lucid's redirection for the objective).
                    dead = (pre[:, target[0]].flatten(1).amax(1) if target[1] is None else _pick(pre, *target)) <= 0
                    raw = _pick(pre, *target)
                    gradient_path = objective + dead * (raw - raw.detach())
                # the regularisers' weights are relative to the largest objective reached so far
                reference = max(reference, float(objective.detach().abs().mean()))
                loss = -gradient_path.sum()
                if weights["l1"]:
                    loss = loss + weights["l1"] * reference * count * (pixels - mean.view(1, -1, 1, 1)).abs().mean()
                if count > 1 and weights["diversity_weight"]:
                    loss = loss + weights["diversity_weight"] * reference * _diversity(maps)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                history[step] = objective.detach().to(torch.float32).numpy()
                if on_step is not None:
                    on_step(step + 1, steps, float(history[step].mean()))
            with torch.no_grad():
                final = render().detach()
                activations = _pick(layer_maps(final), *target).to(torch.float32).numpy()
    finally:
        for p, requires_grad in flags:
            p.requires_grad_(requires_grad)
    return FeatureVisualisation(layer=layer, channel=target[0], unit=target[1],
                                images=final.to(torch.float32).numpy().clip(0, 1), objective=history,
                                activations=activations, seed=seed, parameterisation=parameterisation)
