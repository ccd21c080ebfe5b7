"""Which pixels made an image model say a class: Captum's attribution methods, their sanity checks and faithfulness.

- `attribute_image` runs one method of `captum.attr` (only SmoothGrad's averaging is done here) for
  one preprocessed image and one target class, and returns a per-pixel map (`ImageAttribution`);
- `sanity_check` is Adebayo et al. 2018's cascading model-parameter randomisation: the
  layers are re-initialised from the top down, one more each step, and each step's map
  is compared with the original by rank correlation (Spearman) and SSIM (`SanityCheck`);
  a method whose map survives the destruction of the weights explains the image, not the model;
- `deletion_insertion` is Petsiuk et al. 2018's faithfulness test: pixels are removed
  from (or added to) the image in the order of the map, and the target class's
  probability is followed, against a random order (`DeletionInsertion`).

Every function works on its own copy of the model: the given one keeps its weights, gradients,
training flags and hooks, and torch's global random state is neither read nor changed.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.features import feature_maps, model_dtype
from cnnviz.analysis.summary import model_summary
from cnnviz.models.cnn import default_init

if TYPE_CHECKING:
    from cnnviz.data.images import Preprocessing

__all__ = ["BASELINES", "METHODS", "DeletionInsertion", "ImageAttribution", "SanityCheck", "attribute_image",
           "deletion_insertion", "sanity_check"]

# The methods of `attribute_image`, in the order a page shows them.
METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "smoothgrad", "guided_backprop",
           "grad_cam", "guided_grad_cam", "occlusion")
BASELINES = ("black", "blurred", "noise")  # Integrated Gradients' baseline image
BLUR_SIGMA = 1 / 20  # the "blurred" image's Gaussian sigma per pixel of its larger side (Fong & Vedaldi 2017: 10/224)
# Layers `sanity_check` re-initialises: what `cnnviz.models.cnn.default_init` initialises from a generator.
_RANDOMISED = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._NormBase)
# Input values per forward (and backward) pass: IG's steps, SmoothGrad's samples, occlusion's windows and the
# deletion curves go through in chunks of about this size (one 224x224 photo, 255 MNIST digits).
_VALUES_PER_PASS = 200_000


@dataclass(frozen=True, eq=False)
class ImageAttribution:
    """One method's map for one image and one target class.

    `attribution` is (H, W), the input's own size, the channels summed (signed). `signed`
    says whether the sign means something for this method (Saliency and Grad-CAM give
    magnitudes only). `delta` (Integrated Gradients) is Captum's convergence delta, and
    `score_change` = F(x) - F(baseline), the sum the attributions should add up to
    (completeness); both None for other methods. `layer` is Grad-CAM's layer (None otherwise);
    `options` the method's settings, sorted (name, value) pairs, as given.
    """

    method: str
    target: int
    attribution: np.ndarray
    signed: bool
    delta: float | None = None
    score_change: float | None = None
    layer: str | None = None
    options: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, eq=False)
class SanityCheck:
    """Cascading randomisation of one method's map (Adebayo et al. 2018).

    `steps[0]` is "original"; `steps[i]` names the layer whose weights were re-initialised
    at step i (all those of the steps before it stay random: top layer first). `maps` (S, H, W)
    are the method's maps at each step; `spearman` and `ssim` (S,) compare each step's
    absolute map with the original's (1.0 at step 0; Spearman is NaN where a map is constant: no order).
    """

    method: str
    steps: tuple[str, ...]
    maps: np.ndarray
    spearman: np.ndarray
    ssim: np.ndarray


@dataclass(frozen=True, eq=False)
class DeletionInsertion:
    """Deletion and insertion curves of one map (Petsiuk et al. 2018), beside a random order.

    `fractions` (K,) go from 0 to 1: the share of pixels removed (deletion: replaced by the
    baseline, most important first) or added (insertion: from the baseline, most important
    first). The curves (K,) are the target class's probability; each `*_auc` is the area
    under its curve (trapezoids over `fractions`). A faithful map has a low deletion AUC
    and a high insertion AUC, compared with `random_*` (the same, in a seeded random order).
    """

    method: str
    target: int
    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    random_insertion_auc: float


# --- helpers -----------------------------------------------------------------------------------

def _work_copy(model: nn.Module) -> nn.Module:
    """A private copy in eval mode (captum's hooks and re-initialisations never touch the caller's model, nor
    another thread's forward through it), without parameter gradients and in-place activations (captum's
    backward hooks refuse a `ReLU(inplace=True)`); neither changes what it computes."""
    work = copy.deepcopy(model).eval().requires_grad_(False)
    for module in work.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False  # type: ignore[assignment]  # a plain bool attribute
    return work


def _image(x: torch.Tensor | np.ndarray, model: nn.Module) -> torch.Tensor:
    """One preprocessed image (C, H, W) (or a batch of one) as a (1, C, H, W) copy in the model's dtype."""
    image = torch.as_tensor(x).detach()
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or min(image.shape) < 1:
        raise ValueError(f"x must be one preprocessed image of shape (C, H, W), not shape {tuple(image.shape)}")
    image = image.to(model_dtype(model)).clone()[None]
    if not torch.isfinite(image).all():
        raise ValueError("x holds NaN or infinite values")
    return image


def _logits(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        try:
            logits = model(batch)
        except RuntimeError as exc:
            raise ValueError(f"The model cannot read an image of shape {tuple(batch.shape[1:])}: {exc}") from exc
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise ValueError("The model must give one score per class (N, classes) to be explained")
    return logits


def _target(target: int, classes: int) -> int:
    index = operator.index(target) if isinstance(target, int | np.integer) else -1  # not 1.0
    if not 0 <= index < classes:
        raise ValueError(f"target must be a class 0 .. {classes - 1}, not {target!r}")
    return index


def _cam_layer(model: nn.Module, image: torch.Tensor, layer: str | None) -> str:
    """Grad-CAM's layer: a module whose output is feature maps (N, C, h, w); by default the last Conv2d."""
    if layer is None:
        convs = [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
        if not convs:
            raise ValueError("Grad-CAM needs a convolution (Conv2d) in the model, and this one has none")
        return convs[-1]
    output = feature_maps(model, image, layers=[layer])[layer]  # ValueError listing the layers if unknown
    if output.ndim != 4:
        raise ValueError(f"layer {layer!r} gives values of shape {output.shape[1:]}, not the feature maps "
                         "(C, H, W) of a convolutional layer")
    return layer


def _blurred(image: torch.Tensor) -> torch.Tensor:
    """Each channel blurred by a Gaussian of sigma BLUR_SIGMA x the larger side, edges repeated. It keeps
    constants, so it commutes with the per-channel normalisation (blur, then normalise: the same)."""
    from skimage.filters import gaussian

    blurred = gaussian(image[0].cpu().double().numpy(), sigma=BLUR_SIGMA * max(image.shape[2:]), mode="nearest",
                       channel_axis=0, preserve_range=True)
    return torch.from_numpy(np.ascontiguousarray(blurred)).to(image.dtype)[None]


def _baseline(image: torch.Tensor, baseline: str, preprocessing: Preprocessing | None, seed: int) -> torch.Tensor:
    """Integrated Gradients' baseline (1, C, H, W), in the same (preprocessed) space as `image`."""
    if baseline == "blurred":
        return _blurred(image)
    channels, rows, cols = image.shape[1:]
    raw = np.zeros((1, channels, rows, cols)) if baseline == "black" else \
        np.random.default_rng(seed).uniform(size=(1, channels, rows, cols))
    if preprocessing is None:  # black: zeros; noise: uniform between each channel's min and max
        low, high = image.amin(dim=(2, 3), keepdim=True), image.amax(dim=(2, 3), keepdim=True)
        return torch.zeros_like(image) if baseline == "black" else low + (high - low) * torch.from_numpy(raw).to(image)
    if preprocessing.channels != channels:
        raise ValueError(f"The preprocessing is for {preprocessing.channels} channels, but x has {channels}")
    return preprocessing.apply(raw).to(image.dtype)


def _per_pass(image: torch.Tensor) -> int:
    return max(1, _VALUES_PER_PASS // image[0].numel())


def _check_options(baseline: str, n_steps: int, samples: int, noise: float, window: int, stride: int,
                   image: torch.Tensor) -> None:
    side = min(image.shape[2:])
    for ok, message in ((baseline in BASELINES, f"baseline must be one of {', '.join(BASELINES)}, not {baseline!r}"),
                        (n_steps >= 1, f"n_steps must be at least 1, not {n_steps}"),
                        (samples >= 1, f"samples must be at least 1, not {samples}"),
                        (noise >= 0, f"noise must be 0 or more (a share of x's value range), not {noise}"),
                        (1 <= window <= side, f"window must be 1 .. {side} pixels, not {window}"),
                        (stride >= 1, f"stride must be at least 1, not {stride}")):
        if not ok:
            raise ValueError(message)


def _smoothgrad(model: nn.Module, image: torch.Tensor, target: int, samples: int, noise: float,
                seed: int) -> torch.Tensor:
    """captum's Saliency averaged over `samples` noisy copies of the image (Smilkov et al. 2017): what
    `NoiseTunnel(Saliency(model))` computes with nt_type "smoothgrad", but with the noise drawn from a private
    `torch.Generator`, not from torch's global random state that every session shares (seeded alike, both
    draw the same numbers)."""
    from captum.attr import Saliency

    generator = torch.Generator().manual_seed(seed)
    sigma = noise * float(image.max() - image.min())
    draws = torch.randn((samples, *image.shape[1:]), generator=generator, dtype=image.dtype) * sigma
    saliency, total = Saliency(model), torch.zeros_like(image)
    for first in range(0, samples, _per_pass(image)):
        noisy = (image + draws[first:first + _per_pass(image)]).requires_grad_(True)
        total += saliency.attribute(noisy, target=target, abs=True).sum(dim=0, keepdim=True)
    return total / samples


# --- one method's map ----------------------------------------------------------------------------

def attribute_image(model: nn.Module, x: torch.Tensor | np.ndarray, method: str, target: int, *,
                    layer: str | None = None, baseline: str = "black", n_steps: int = 50, samples: int = 10,
                    noise: float = 0.15, window: int = 4, stride: int = 2, seed: int = 0,
                    preprocessing: Preprocessing | None = None) -> ImageAttribution:
    """One captum method's map of the target class's *logit* for one preprocessed image x (C, H, W).

    - saliency: `Saliency` (Simonyan et al. 2014), |d logit / d pixel|;
    - input_x_gradient: `InputXGradient`, x * gradient (signed);
    - integrated_gradients: `IntegratedGradients` (Sundararajan et al. 2017) from a baseline image,
      `n_steps` Gauss-Legendre steps; records captum's convergence delta and `score_change` =
      F(x) - F(baseline). Baselines, all in x's preprocessed space: "black" is
      `preprocessing.apply` of an all-zero image (without `preprocessing`: zeros, the data set's
      mean); "blurred" is x blurred by a Gaussian of sigma BLUR_SIGMA x the larger side (exact in either
      space: the blur commutes with normalisation); "noise" is uniform noise in [0, 1] through
      `preprocessing` (without it: uniform between each channel's min and max in x), seeded by `seed`;
    - smoothgrad: Saliency averaged over `samples` copies of x plus Gaussian noise of standard deviation
      `noise` x (max(x) - min(x)) (Smilkov et al. 2017), from a private generator seeded by `seed`;
    - guided_backprop: `GuidedBackprop` (Springenberg et al. 2015). captum overrides the gradient of
      `nn.ReLU` modules only: the `nn.ReLU6` of EfficientNet-Lite and functional relus keep their
      ordinary gradient, so there the map is partly plain backpropagation;
    - grad_cam: `LayerGradCam` (Selvaraju et al. 2017) on `layer`, relu of the gradient-weighted sum of its
      maps, upsampled bilinearly to (H, W). `layer` is any module giving feature maps, by default the last
      Conv2d (its output before the activation); Selvaraju et al.'s code took the rectified maps (VGG's
      relu5_3): name the activation ("relu2") for those. On the zoo LeNet-5, conv2's map is 93% zeros, relu2's 18%;
    - guided_grad_cam: `GuidedGradCam` on the same layer: guided backprop x Grad-CAM (upsampled bilinearly);
    - occlusion: `Occlusion` (Zeiler & Fergus 2014): each `window` x `window` patch (all channels, every
      `stride` pixels) is set to 0 (the data set's mean colour), and the logit's drop is credited to its pixels
      (averaged where patches overlap): ((H - window) // stride + 1) x ((W - window) // stride + 1) forwards.

    The map is summed over channels, float64 (H, W). All options are checked whatever the method; `options`
    records the ones the method used. Works on a copy of the model in eval mode: the given model (weights,
    gradients, flags, hooks) and torch's global random state are left as they were. Raises ValueError for
    an unknown method or baseline, a target outside the classes, a layer without feature maps, an x that
    is not one image the model reads, or option values out of range.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    work = _work_copy(model)
    image = _image(x, work)
    _check_options(baseline, n_steps, samples, noise, window, stride, image)
    logits = _logits(work, image)
    target = _target(target, logits.shape[1])
    conv = _cam_layer(work, image, layer) if layer is not None or "grad_cam" in method else None
    from captum import attr  # captum takes ~0.7 s to import: not at start-up

    delta = score_change = None
    options: dict[str, object] = {}
    image.requires_grad_(True)  # captum would warn that it did so itself
    with torch.enable_grad():  # also under a caller's torch.no_grad()
        if method == "saliency":
            result = attr.Saliency(work).attribute(image, target=target, abs=True)
        elif method == "input_x_gradient":
            result = attr.InputXGradient(work).attribute(image, target=target)
        elif method == "integrated_gradients":
            start = _baseline(image.detach(), baseline, preprocessing, seed)
            result, deltas = attr.IntegratedGradients(work).attribute(
                image, baselines=start, target=target, n_steps=n_steps, return_convergence_delta=True,
                internal_batch_size=_per_pass(image))
            delta, score_change = float(deltas[0]), float(logits[0, target] - _logits(work, start)[0, target])
            options = {"baseline": baseline, "n_steps": n_steps, **({"seed": seed} if baseline == "noise" else {})}
        elif method == "smoothgrad":
            result = _smoothgrad(work, image.detach(), target, samples, noise, seed)
            options = {"noise": noise, "samples": samples, "seed": seed}
        elif method == "guided_backprop":
            result = attr.GuidedBackprop(work).attribute(image, target=target)
        elif method == "grad_cam":
            cam = attr.LayerGradCam(work, work.get_submodule(str(conv))).attribute(
                image, target=target, relu_attributions=True)
            result = attr.LayerAttribution.interpolate(cam, tuple(image.shape[2:]), interpolate_mode="bilinear")
        elif method == "guided_grad_cam":
            result = attr.GuidedGradCam(work, work.get_submodule(str(conv))).attribute(
                image, target=target, interpolate_mode="bilinear")
        else:
            channels = image.shape[1]
            result = attr.Occlusion(work).attribute(
                image, sliding_window_shapes=(channels, window, window), strides=(channels, stride, stride),
                baselines=0, target=target, perturbations_per_eval=_per_pass(image))
            options = {"stride": stride, "window": window}
    attribution = result[0].detach().double().sum(dim=0).cpu().numpy()
    return ImageAttribution(method, target, attribution, method not in ("saliency", "smoothgrad", "grad_cam"), delta,
                            score_change, conv if "grad_cam" in method else None, tuple(sorted(options.items())))


# --- cascading randomisation (Adebayo et al. 2018) ---------------------------------------------

def sanity_check(model: nn.Module, x: torch.Tensor | np.ndarray, method: str, target: int, *,
                 layers: Sequence[str] | None = None, seed: int = 0, **options: Any) -> SanityCheck:
    """Adebayo et al. 2018's cascading randomisation of one method's map (see `SanityCheck`).

    On a copy of the model, the weights of `layers` are re-initialised one more per step, in the order given,
    as PyTorch initialises them (`cnnviz.models.cnn.default_init`: Kaiming-uniform convolutions and linear
    layers; batch norm back to weight 1, bias 0, fresh statistics) from a private generator seeded by `seed`.
    `layers` defaults to every Conv, Linear and BatchNorm module with parameters, in reverse call order
    (logits first). Each step's map is `attribute_image` with the same target, `seed` and `options`
    (Grad-CAM keeps the original's layer). Each step's |map| is compared with the original |map| by
    Spearman's rank correlation (ties get their average rank; 0.0 when either map is constant: undefined
    there) and by SSIM (`skimage.metrics.structural_similarity`, data_range 1, both maps scaled to [0, 1],
    a constant one to zeros; window min(7, the largest odd size that fits)); 1.0 for both at step 0.
    A map that stays alike while the weights are destroyed does not explain the model.
    Raises ValueError as `attribute_image` does, for a name in `layers` that is not such a module, and
    for images smaller than 3 x 3 (SSIM's smallest window).
    """
    original = attribute_image(model, x, method, target, seed=seed, **options)
    if original.layer is not None:
        options = {**options, "layer": original.layer}
    work = _work_copy(model)
    image = _image(x, work)
    if min(image.shape[2:]) < 3:
        raise ValueError(f"sanity_check needs images of at least 3 x 3 pixels, not {tuple(image.shape[2:])}")
    names = randomised_layers(work, tuple(image.shape[1:]), layers)
    generator = torch.Generator().manual_seed(seed)
    maps = [original.attribution]
    for name in names:
        default_init(work.get_submodule(name), generator)
        maps.append(attribute_image(work, image, method, target, seed=seed, **options).attribution)
    scores = np.array([(1.0, 1.0)] + [(_spearman(abs(maps[0]), abs(m)), _ssim(abs(maps[0]), abs(m))) for m in maps[1:]])
    return SanityCheck(method, ("original", *names), np.stack(maps), scores[:, 0].copy(), scores[:, 1].copy())


def randomised_layers(model: nn.Module, input_shape: tuple[int, ...], layers: Sequence[str] | None = None) -> list[str]:
    """The layers `sanity_check` randomises, in its order: `layers` checked, or by default every called convolution,
    linear or batch norm layer with weights, top (logits side) first."""
    modules = dict(model.named_modules())
    if layers is None:
        called = dict.fromkeys(row.name for row in model_summary(model, input_shape))
        return [name for name in reversed(called) if isinstance(modules[name], _RANDOMISED)
                and any(True for _ in modules[name].parameters())]
    bad = [layers] if isinstance(layers, str) else [n for n in layers if not isinstance(modules.get(n), _RANDOMISED)]
    if bad:
        valid = [name for name, module in modules.items() if isinstance(module, _RANDOMISED)]
        raise ValueError(f"layers must be a list of convolution, linear or batch norm modules ({', '.join(valid)}), "
                         f"not {', '.join(map(repr, bad))}")
    return list(layers)


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of a 1-D array, ties sharing their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2)[inverse.ravel()]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks_a, ranks_b = _ranks(a.ravel()), _ranks(b.ravel())
    if ranks_a.std() == 0 or ranks_b.std() == 0:  # a constant map has no order: no correlation to speak of
        return float("nan")
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    a, b = ((m - m.min()) / (np.ptp(m) or 1.0) for m in (a, b))  # to [0, 1]; a constant map to zeros
    return float(structural_similarity(a, b, data_range=1.0, win_size=min(7, min(a.shape) - 1 + min(a.shape) % 2)))


# --- deletion and insertion (Petsiuk et al. 2018) ----------------------------------------------

def deletion_insertion(model: nn.Module, x: torch.Tensor | np.ndarray, attribution: ImageAttribution | np.ndarray,
                       target: int, *, steps: int = 20, baseline: torch.Tensor | None = None,
                       blur_insertion: bool = False, seed: int = 0,
                       preprocessing: Preprocessing | None = None) -> DeletionInsertion:
    """Petsiuk et al. 2018's deletion and insertion curves of a map (H, W) for one image x (C, H, W).

    Pixels are ordered by the map, largest value first (for a signed map: most positive first, the pixels
    that pushed the class up), ties (a Grad-CAM map's zeros) in the random order below. At fraction i / `steps`
    the first round(i / steps x H x W) pixels (all channels) are replaced by `baseline` (deletion) or,
    starting from the baseline, put back (insertion). `baseline` is in x's preprocessed space, broadcast to
    (C, H, W); by default black (`preprocessing.apply` of a zero image), or without `preprocessing` zeros.
    With `blur_insertion`, insertion starts from x blurred as `attribute_image`'s "blurred" baseline, as
    Petsiuk et al. do. The same in a random order (`np.random.default_rng(seed).permutation`). The images
    go through a copy of the model in eval mode; the curves are the softmax probability of `target`.
    Raises ValueError for a map of another shape than x's pixels or not finite, steps < 1, a baseline
    that does not broadcast to x, and as `attribute_image` for x and target.
    """
    work = _work_copy(model)
    image = _image(x, work)
    target = _target(target, _logits(work, image).shape[1])
    method, scores = (attribution.method, attribution.attribution) if isinstance(attribution, ImageAttribution) \
        else ("map", attribution)
    scores = np.asarray(scores, dtype=np.float64)
    rows, cols = image.shape[2:]
    if scores.shape != (rows, cols) or not np.isfinite(scores).all():
        raise ValueError(f"The map must be finite and of shape {(rows, cols)} (x's pixels), not {scores.shape}")
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    removed = _baseline(image, "black", preprocessing, seed) if baseline is None else _fill(baseline, image)
    start = _blurred(image) if blur_insertion else removed
    pixels = rows * cols
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = np.rint(fractions * pixels)
    shuffled = np.random.default_rng(seed).permutation(pixels)
    position = np.empty(pixels)
    position[shuffled] = np.arange(pixels)  # where each pixel comes in the random order
    batches = []
    for order in (np.lexsort((position, -scores.ravel())), shuffled):  # the map's order, ties in the random one
        rank = np.empty(pixels)
        rank[order] = np.arange(pixels)
        changed = torch.from_numpy(rank[None, :] < counts[:, None]).reshape(steps + 1, 1, rows, cols)
        batches += [torch.where(changed, removed, image), torch.where(changed, image, start)]
    everything = torch.cat(batches)
    chunks = [torch.softmax(_logits(work, everything[first:first + _per_pass(image)]), dim=1)[:, target]
              for first in range(0, len(everything), _per_pass(image))]
    curves = torch.cat(chunks).double().cpu().numpy().reshape(4, steps + 1)
    aucs = [float(np.trapezoid(curve, fractions)) for curve in curves]
    return DeletionInsertion(method, target, fractions, *curves, *aucs)


def _fill(baseline: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """The deletion baseline as (1, C, H, W) in the image's dtype."""
    fill = torch.as_tensor(baseline).detach().to(image.dtype)
    fill = fill[0] if fill.ndim == 4 and fill.shape[0] == 1 else fill
    try:
        return torch.broadcast_to(fill, image.shape[1:]).clone()[None]
    except RuntimeError as exc:
        raise ValueError(f"baseline of shape {tuple(fill.shape)} does not fit x's {tuple(image.shape[1:])}") from exc
