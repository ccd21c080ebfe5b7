"""Image data sets, bundled photos and uploaded images, all as float arrays in [0, 1].

Every data set carries its `Preprocessing` (channels, size, mean, std), so a model
trained on it sees inputs prepared the same way in training, in the app and after
it is saved (the preprocessing goes into the model file's metadata).

Offline, from files shipped with cnnviz (`cnnviz.data.bundled`): `mnist` (5,000 real
digits, 500 per class) and `fashion_mnist` (6,000 + 2,000, balanced, the official split);
and two labs that isolate one effect: scikit-learn's 8x8 `digits` blown up to 28x28, and
a procedural seeded `shapes` set. Photos: `cnnviz.data.photos`. Online, when there is a
network: the full MNIST and Fashion-MNIST, and CIFAR-10, through Hugging Face `datasets`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cnnviz.data.bundled import balanced_first, read_array
from cnnviz.data.network import network_available
from cnnviz.data.photos import PHOTOS, load_photo
from cnnviz.errors import DatasetUnavailableError, ImageLoadError

__all__ = ["PHOTOS", "load_photo"]  # re-exported: they lived here before cnnviz.data.photos

OFFLINE_DATASETS = ("mnist", "fashion_mnist", "digits", "shapes")
ONLINE_DATASETS = ("mnist_full", "fashion_mnist_full", "cifar10")
SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "ring", "star")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# The formats an upload may be in. Pillow knows many more, but some decode everything while the file
# is opened, before its size can be checked (an ICO holding a 9000x9000 PNG), or run programs (EPS).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")

# Hugging Face repository, image column, label column, class names.
_HF_SOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "mnist_full": ("ylecun/mnist", "image", "label", tuple(str(d) for d in range(10))),
    "fashion_mnist_full": ("zalando-datasets/fashion_mnist", "image", "label", FASHION_CLASSES),
    "cifar10": (
        "uoft-cs/cifar10", "img", "label",
        ("airplane", "automobile", "bird", "cat", "deer",
         "dog", "frog", "horse", "ship", "truck"),
    ),
}


@dataclass(frozen=True)
class Preprocessing:
    """How raw images in [0, 1] become a model's input: shape and normalisation."""

    channels: int
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def apply(self, images: np.ndarray) -> torch.Tensor:
        """Normalise a batch (N, C, H, W) of images in [0, 1] into a float tensor."""
        return self.normalise(torch.as_tensor(np.asarray(images, dtype=np.float32)))

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """(images - mean) / std for a tensor (N, C, H, W) in [0, 1], in its dtype and on its device.

        Differentiable: gradients flow back to `images` (feature visualisation optimises them).
        """
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        return (images - mean) / std

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The model's input shape (C, H, W)."""
        return (self.channels, self.size, self.size)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, for model file metadata."""
        return {"channels": self.channels, "size": self.size,
                "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Inverse of `to_dict`."""
        return cls(int(data["channels"]), int(data["size"]),
                   tuple(float(m) for m in data["mean"]), tuple(float(s) for s in data["std"]))


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A labelled image data set with a fixed train/test split; images in [0, 1], (N, C, H, W)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    preprocessing: Preprocessing

    def train_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Preprocessed training inputs and labels, ready for `cnnviz.train`."""
        return self.preprocessing.apply(self.x_train), torch.as_tensor(self.y_train)

    def test_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Preprocessed test inputs and labels."""
        return self.preprocessing.apply(self.x_test), torch.as_tensor(self.y_test)


def load_image_dataset(name: str, *, size: int | None = None, n_samples: int | None = None,
                       seed: int = 0) -> ImageDataset:
    """Load an image data set by name, resized to `size` (square) pixels.

    `n_samples` caps the number of images (shapes: how many to draw). Splits are
    deterministic for a given `seed`. Online sets raise `DatasetUnavailableError`
    within seconds when there is no network.
    """
    if name == "fashion_mnist":
        return _fashion_mnist(size, n_samples)
    if name == "mnist":
        images, labels = _resized(read_array("mnist"), size), read_array("mnist-labels").astype(np.int64)
        classes = tuple(str(d) for d in range(10))
    elif name == "digits":
        images, labels, classes = _digits(size or 28)
    elif name == "shapes":
        images, labels = make_shapes(n_samples or 3000, size=size or 32, seed=seed)
        classes = SHAPE_CLASSES
    elif name in ONLINE_DATASETS:
        return _load_online(name, size=size, n_samples=n_samples or 12000, seed=seed)
    else:
        raise DatasetUnavailableError(
            f"Unknown data set {name!r}; choose one of {', '.join(OFFLINE_DATASETS + ONLINE_DATASETS)}.")
    if n_samples is not None and name == "mnist":  # sorted by label: take the classes in turn
        keep = balanced_first(labels, n_samples)
        images, labels = images[keep], labels[keep]
    elif n_samples is not None and name != "shapes":
        images, labels = images[:n_samples], labels[:n_samples]
    return _split(name, images, labels, classes, seed=seed)


def _split(name: str, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], *,
           seed: int, test_fraction: float = 0.2) -> ImageDataset:
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels)
    mean = tuple(float(m) for m in x_train.mean(axis=(0, 2, 3)))
    std = tuple(max(float(s), 1e-6) for s in x_train.std(axis=(0, 2, 3)))
    preprocessing = Preprocessing(images.shape[1], images.shape[2], mean, std)
    return ImageDataset(name, x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
                        tuple(classes), preprocessing)


def _resized(images: np.ndarray, size: int | None) -> np.ndarray:
    """Bundled uint8 images (N, H, W) as floats (N, 1, size, size) in [0, 1]."""
    x = images[:, None].astype(np.float32) / 255.0
    if size is None or size == images.shape[1]:
        return x
    from skimage.transform import resize

    return resize(x, (len(x), 1, size, size), order=1, anti_aliasing=size < images.shape[1]).astype(np.float32)


def _fashion_mnist(size: int | None, n_samples: int | None) -> ImageDataset:
    """The bundled Fashion-MNIST with its own train/test split (`n_samples` caps both, in proportion)."""
    parts = []
    for part in ("train", "test"):
        x, y = read_array(f"fashion_mnist-{part}"), read_array(f"fashion_mnist-{part}-labels").astype(np.int64)
        if n_samples is not None:
            keep = max(1, round(n_samples * len(x) / 8000))
            x, y = x[:keep], y[:keep]
        parts.append((_resized(x, size), y))
    (x_train, y_train), (x_test, y_test) = parts
    mean = tuple(float(m) for m in x_train.mean(axis=(0, 2, 3)))
    std = tuple(max(float(s), 1e-6) for s in x_train.std(axis=(0, 2, 3)))
    return ImageDataset("fashion_mnist", x_train, y_train, x_test, y_test, FASHION_CLASSES,
                        Preprocessing(1, x_train.shape[2], mean, std))


def _digits(size: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = digits.images.astype(np.float32) / 16.0  # pixel values are 0..16
    images = resize(small, (len(small), size, size), order=1, anti_aliasing=False)
    return images[:, None].astype(np.float32), digits.target, tuple(str(d) for d in range(10))


def make_shapes(n: int, *, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n` seeded grey-scale shapes (see `SHAPE_CLASSES`) at random position, size and rotation.

    Returns images (n, 1, size, size) in [0, 1] and labels (n,), classes balanced.
    Shapes are drawn at 4x resolution and averaged down, so edges are anti-aliased.
    """
    from skimage.draw import polygon

    rng = np.random.default_rng(seed)
    scale = 4
    big = size * scale
    labels = np.arange(n) % len(SHAPE_CLASSES)
    rng.shuffle(labels)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        radius = rng.uniform(0.22, 0.38) * big
        cy, cx = rng.uniform(radius + scale, big - radius - scale, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        canvas = np.zeros((big, big), dtype=np.float32)
        for ring_radius, value in _shape_parts(SHAPE_CLASSES[label], radius):
            ys, xs = _outline(SHAPE_CLASSES[label], ring_radius, angle)
            rr, cc = polygon(cy + ys, cx + xs, shape=canvas.shape)
            canvas[rr, cc] = value
        small = canvas.reshape(size, scale, size, scale).mean(axis=(1, 3))
        contrast = rng.uniform(0.6, 1.0)
        noise = rng.normal(0, 0.04, size=small.shape)
        images[i, 0] = np.clip(small * contrast + noise, 0, 1)
    return images, labels.astype(np.int64)


def _shape_parts(kind: str, radius: float) -> list[tuple[float, float]]:
    """(radius, fill value) layers painted in order; a ring is a disk with a hole."""
    return [(radius, 1.0), (radius * 0.55, 0.0)] if kind == "ring" else [(radius, 1.0)]


def _outline(kind: str, radius: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Polygon vertices (ys, xs) around the origin for a shape of the given kind."""
    if kind in ("circle", "ring"):
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        r = np.full_like(t, radius)
    elif kind in ("square", "triangle"):
        corners = 4 if kind == "square" else 3
        t = np.linspace(0, 2 * np.pi, corners, endpoint=False)
        r = np.full_like(t, radius)
    elif kind == "star":
        t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        r = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
    elif kind == "cross":
        arm = 0.3 * radius  # half the arm width
        xs = np.array([arm, arm, radius, radius, arm, arm, -arm, -arm, -radius, -radius, -arm, -arm])
        ys = np.array([radius, arm, arm, -arm, -arm, -radius, -radius, -arm, -arm, arm, arm, radius])
        t, r = np.arctan2(ys, xs), np.hypot(xs, ys)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return r * np.sin(t + angle), r * np.cos(t + angle)


def to_model_input(image: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Convert an image (H, W) or (H, W, C), any dtype, to (C, H, W) floats in [0, 1] for a model.

    Colour becomes grey by luminance or grey is repeated to three channels, the
    centre square is cropped, and the result is resized to the model's size. NaN
    becomes 0. Raises `ImageLoadError` for any other shape or an empty image.
    """
    from skimage.transform import resize

    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.ndim == 3 and not 1 <= img.shape[2] <= 4 or img.size == 0:
        raise ImageLoadError(f"An image is (height, width) or (height, width, 1 to 4 channels) with at least one "
                             f"pixel, not an array of shape {img.shape}.")
    if img.dtype == bool:
        img = img.astype(np.float32)
    elif np.issubdtype(img.dtype, np.integer):
        # 8-bit values in any integer type are the common case; wider ones use their full range.
        scale = 255.0 if img.dtype == np.uint8 or img.max(initial=0) <= 255 else float(np.iinfo(img.dtype).max)
        img = img.astype(np.float32) / scale
    img = np.clip(np.nan_to_num(img.astype(np.float32), nan=0.0), 0, 1)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] in (2, 4):  # drop alpha: grey+alpha, RGB+alpha
        img = img[:, :, :img.shape[2] - 1]
    if preprocessing.channels == 1 and img.shape[2] == 3:
        img = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]  # ITU-R 601 luma
    elif preprocessing.channels == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    img = img[top:top + side, left:left + side]
    size = preprocessing.size
    img = resize(img, (size, size), order=1, anti_aliasing=side > size)
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)


# What counts as blank, and as a clearly light or dark background (0 black .. 1 white).
BLANK_CONTRAST = 0.05
_LIGHT, _DARK = 0.65, 0.35
# The mean of a data set's training images says which way round it is: digits 0.31, shapes 0.16.
_DARK_DATA, _LIGHT_DATA = 0.4, 0.6


@dataclass(frozen=True)
class InputCheck:
    """Whether a model's prediction for an image can mean anything, before it is shown.

    `contrast` is the brightest minus the darkest pixel, `background` the median of the
    image's outermost pixels (0 black, 1 white), `training_mean` the mean pixel of the
    model's training images (from its `Preprocessing`). `blank`: the contrast is below
    `BLANK_CONTRAST`, there is nothing to recognise. `inverted`: the background is clearly
    light while the training images are mostly dark (light strokes on black, as digits
    and MNIST are), or the other way round; `1 - image` is then what the model expects.
    """

    contrast: float
    background: float
    training_mean: float
    blank: bool
    inverted: bool


def check_input(image: np.ndarray, preprocessing: Preprocessing) -> InputCheck:
    """Check an image (C, H, W) in [0, 1], as `to_model_input` gives it, against a model's training data.

    A blank image still gets a confident-looking prediction (an empty canvas: "4, 71%"),
    and a black-on-white digit read by a model trained on white-on-black digits gets a
    wrong one: `InputCheck` says when either is the case.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.size == 0:
        raise ValueError(f"image must be (C, H, W) with at least one pixel, not shape {img.shape}")
    grey = img.mean(axis=0)
    contrast = float(grey.max() - grey.min())
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    training_mean = float(np.mean(preprocessing.mean))
    inverted = (background >= _LIGHT and training_mean <= _DARK_DATA) or (
        background <= _DARK and training_mean >= _LIGHT_DATA)
    blank = contrast < BLANK_CONTRAST
    return InputCheck(contrast, background, training_mean, blank, inverted and not blank)


# The long side `decode_image` shrinks an image to by default: 4x the largest input a model spec
# allows (1024), and far above the zoo's 28 and 32. A caller that knows its model passes less.
DECODE_MAX_SIDE = 1024
# Modes that hold more than 8 bits a pixel: their range is stretched to 0..255 after decoding.
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def decode_image(data: bytes, *, max_bytes: int = 10 * 2**20, max_pixels: int = 25_000_000,
                 max_side: int = DECODE_MAX_SIDE) -> np.ndarray:
    """Decode an uploaded PNG/JPEG/... into a uint8 array (H, W) or (H, W, 3).

    Refuses files over `max_bytes`, formats other than `IMAGE_FORMATS` and images
    over `max_pixels` before decoding their pixels; animated images give their first
    frame; 16-bit and CMYK images are converted. An image whose long side is over
    `max_side` is shrunk by a whole factor (pixels averaged in boxes) before anything
    else is done to it, so the array is at most `max_side` on its long side: a JPEG is
    decoded at 1/2, 1/4 or 1/8 of its size straight away (Pillow's `draft`), any other
    image is reduced as soon as it is decoded (`Image.reduce`). A 5000x5000 PNG thus
    never exists as more than its decoded 8-bit pixels (25 to 75 MB). Raises
    `ImageLoadError` with a message for the user.
    """
    from PIL import Image, UnidentifiedImageError

    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    if not data:
        raise ImageLoadError("The file is empty.")
    if len(data) > max_bytes:
        raise ImageLoadError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise ImageLoadError(
                    f"The image is {width}x{height} pixels; the limit is {max_pixels:,} pixels.")
            img.seek(0)
            _draft(img, max_side)
            if img.mode in _WIDE_MODES:
                # 16-bit, 32-bit integer and float images: stretch their range to 0..255 (after shrinking).
                frame = _shrink(img if img.mode in ("I", "F") else img.convert("I"), max_side)
                arr = np.asarray(frame, dtype=np.float64)
                arr = np.nan_to_num(arr - arr.min(), nan=0.0, posinf=0.0)
                top = arr.max() if arr.max() > 0 else 1.0
                return (arr / top * 255).round().astype(np.uint8)
            # Alpha, palettes and CMYK go first (at most the 8-bit L or RGB pixels, and cheaper than
            # reducing RGBA, which Pillow premultiplies in a full-size copy), then the image shrinks.
            mode = "L" if img.mode in ("1", "L", "LA") else "RGB"
            return np.asarray(_shrink(img if img.mode == mode else img.convert(mode), max_side))
    except ImageLoadError:
        raise
    except UnidentifiedImageError as exc:  # its own text only names the BytesIO object
        raise ImageLoadError(f"This file is not an image that can be read ({', '.join(IMAGE_FORMATS)}).") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"The image is too large to decode: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(f"This file is not an image that can be read ({', '.join(IMAGE_FORMATS)}): {exc}") from exc


def _draft(img: Any, max_side: int) -> None:
    """Have a JPEG decoded at the smallest of 1/1, 1/2, 1/4, 1/8 scale that keeps its long side >= `max_side`.

    `Image.draft` scales in the JPEG decoder (from the DCT coefficients), so the full-size
    pixels are never made; it does nothing for other formats, or once the pixels are loaded.
    """
    width, height = img.size
    if img.format != "JPEG" or max(width, height) <= max_side:
        return
    ratio = max(width, height) / max_side
    img.draft(None, (max(1, int(width / ratio)), max(1, int(height / ratio))))


def _shrink(img: Any, max_side: int) -> Any:
    """`img` reduced by the smallest whole factor that makes its long side at most `max_side` (box average)."""
    factor = -(-max(img.size) // max_side)
    return img.reduce(factor) if factor > 1 else img


def _load_online(name: str, *, size: int | None, n_samples: int, seed: int) -> ImageDataset:
    repo, image_column, label_column, classes = _HF_SOURCES[name]
    # `load_dataset` retries for about 25 s before failing offline: probe first.
    if not network_available():
        raise DatasetUnavailableError(
            f"{name} needs a network connection to Hugging Face, and there is none. "
            f"The offline data sets ({', '.join(OFFLINE_DATASETS)}) still work.")
    try:
        from datasets import load_dataset

        n_test = max(n_samples // 5, 1)
        parts = [load_dataset(repo, split=f"{split}[:{count}]")
                 for split, count in (("train", n_samples - n_test), ("test", n_test))]
    except Exception as exc:  # noqa: BLE001 - any hub failure becomes one message
        raise DatasetUnavailableError(f"Could not load {name} from Hugging Face: {exc}") from exc
    channels = 3 if name == "cifar10" else 1
    default_size = 32 if name == "cifar10" else 28
    prep = Preprocessing(channels, size or default_size, (0.0,) * channels, (1.0,) * channels)
    arrays = []
    for part in parts:
        x = np.stack([to_model_input(np.asarray(img), prep) for img in part[image_column]])
        arrays.append((x, np.asarray(part[label_column], dtype=np.int64)))
    (x_train, y_train), (x_test, y_test) = arrays
    mean = tuple(float(m) for m in x_train.mean(axis=(0, 2, 3)))
    std = tuple(max(float(s), 1e-6) for s in x_train.std(axis=(0, 2, 3)))
    return ImageDataset(name, x_train, y_train, x_test, y_test, classes,
                        Preprocessing(channels, prep.size, mean, std))
