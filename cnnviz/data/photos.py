"""Photos to feed a model: scikit-image's, and labelled ImageNet and CIFAR-10 photos shipped with cnnviz.

The labelled photos are foolbox's test images (20 ImageNet photos, most 512x512, 20 CIFAR-10
images at 32x32), bundled by `python -m cnnviz.build`; their names say the class
(`photo_label`), so a prediction for them can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cnnviz.data.bundled import PHOTO_DIR, imagenet_class_names
from cnnviz.errors import ImageLoadError

SKIMAGE_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "camera", "coins", "moon")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_LABELLED = ("imagenet", "cifar10")
_SOURCE_TITLES = {"imagenet": "ImageNet", "cifar10": "CIFAR-10"}


@dataclass(frozen=True)
class PhotoLabel:
    """The true class of a bundled photo: its label set ("imagenet", "cifar10"), class index and name."""

    source: str
    index: int
    class_name: str


@lru_cache(maxsize=1)
def _bundled_files() -> dict[str, tuple[str, int, str]]:
    """name ("imagenet_03") -> (source, class index, file name), from the files' names."""
    found = {}
    for source in _LABELLED:
        for path in sorted(PHOTO_DIR.glob(f"{source}_*_*.*")):
            _, number, label = path.stem.rsplit("_", 2)
            found[f"{source}_{number}"] = (source, int(label), path.name)
    return found


PHOTOS: tuple[str, ...] = SKIMAGE_PHOTOS + tuple(_bundled_files())


def photo_label(name: str) -> PhotoLabel | None:
    """The true class of a bundled labelled photo; None for scikit-image's photos (they have none)."""
    found = _bundled_files().get(name)
    if found is None:
        return None
    source, index, _ = found
    names = imagenet_class_names() if source == "imagenet" else CIFAR10_CLASSES
    return PhotoLabel(source, index, names[index])


def labelled_photos(source: str) -> tuple[str, ...]:
    """The bundled photos labelled with classes of `source` ("imagenet", "cifar10"); () for any other name."""
    return tuple(name for name, (found, _, _) in _bundled_files().items() if found == source)


def photo_title(name: str) -> str:
    """How a menu names a photo: "ImageNet 03: Egyptian cat", "CIFAR-10 07: horse", or scikit-image's name."""
    label = photo_label(name)
    if label is None:
        return f"{name} (a cat)" if name == "chelsea" else name
    return f"{_SOURCE_TITLES[label.source]} {name.rsplit('_', 1)[1]}: {label.class_name}"


def load_photo(name: str) -> np.ndarray:
    """A photo (see `PHOTOS`) as a uint8 array, (H, W) or (H, W, 3)."""
    if name in SKIMAGE_PHOTOS:
        import skimage.data

        return np.asarray(getattr(skimage.data, name)())
    found = _bundled_files().get(name)
    if found is None:
        raise ImageLoadError(f"Unknown photo {name!r}; choose one of {', '.join(PHOTOS)}.")
    from PIL import Image

    with Image.open(PHOTO_DIR / found[2]) as image:
        return np.asarray(image.convert("RGB"))
