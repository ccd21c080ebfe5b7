"""Text data sets for the TextCNN pages: a tokenizer, a vocabulary, padding, corpora and CSV uploads.

A text model sees integer ids, not words. `tokenize` splits a text into tokens,
a `Vocabulary` (built on a training split only) maps them to ids, and
`TextPreprocessing` pads or truncates a batch of texts into one (N, L) tensor.
Every `TextDataset` carries its `TextPreprocessing`, so a trained model sees new
sentences encoded exactly as its training sentences were (and a saved model can
keep the vocabulary in its metadata).

Offline: a procedural, seeded English sentiment corpus in which word order
matters (negation, intensifiers, "but" contrast), and CSV uploads. Online, when
there is a network: rotten_tomatoes (Pang & Lee's MR, one of Kim 2014's data
sets), SST-2, AG News and TREC through Hugging Face `datasets`.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from cnnviz.errors import DatasetUnavailableError

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1

OFFLINE_TEXT_CORPORA = ("sentiment",)
ONLINE_TEXT_CORPORA = ("rotten_tomatoes", "sst2", "ag_news", "trec")
SENTIMENT_CLASSES = ("negative", "positive")
SENTIMENT_TAGS = ("plain", "intensifier", "negation", "contrast")
_TAG_SHARES = (0.3, 0.2, 0.25, 0.25)

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

_MAX_VOCABULARY = 200_000  # the largest vocabulary a text model spec accepts
_MAX_LENGTH = 100_000


# --- tokenizer ---------------------------------------------------------------------------------

# Apostrophe look-alikes that keyboards and word processors put in "isn't".
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'"})
# Scripts written without spaces between words: each character becomes a token (no word segmentation).
_CJK = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(characters to delete, token pattern), built once from the Unicode database (about 0.2 s)."""
    drop: list[int] = []
    marks: list[int] = []
    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        if category[0] == "C" and not char.isspace():  # Cc, Cf, Cs, Co, Cn
            drop.append(code)
        elif category[0] == "M":  # Mn, Mc, Me: combining marks
            marks.append(code)
    # Astral-plane code points are matched by a separate class behind a one-range guard: a
    # class that mixes them with the rest is checked range by range, several times slower.
    def any_of(codes: list[int]) -> str:
        bmp, astral = [c for c in codes if c <= 0xFFFF], [c for c in codes if c > 0xFFFF]
        return rf"(?:[{_char_class(bmp)}]|(?=[\U00010000-\U0010ffff])[{_char_class(astral)}])"

    mark = any_of(marks)
    # A word: \w characters with their combining marks, apostrophes allowed *inside* ("isn't").
    word = rf"\w(?:\w|{mark})*(?:'\w(?:\w|{mark})*)*"
    # Anything else that is not a space is a one-character token, with any marks attached to it
    # (an emoji keeps its variation selector); a mark with nothing before it is dropped.
    other = rf"(?!{mark})\S{mark}*"
    return re.compile(f"{any_of(drop)}+"), re.compile(f"{word}|{other}")


def _char_class(codes: list[int]) -> str:
    """The body of a regex character class matching exactly the given sorted code points."""
    parts = []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code != prev + 1:
            parts.append(re.escape(chr(start)) if start == prev
                         else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
            start = code
        prev = code
    return "".join(parts)


def tokenize(text: str) -> list[str]:
    """Split a text into lower-case tokens: words, and each punctuation mark or symbol on its own.

    The rules, in order:

    1. Unicode NFKC normalisation (full-width letters, ligatures and "…" become plain
       forms), curly apostrophes become "'", then lower case (`str.lower`).
    2. Control, format, private-use, unassigned and surrogate characters (Unicode
       categories Cc, Cf, Co, Cn, Cs) are deleted, except white space. A zero-width
       joiner is one of them, so a joined emoji sequence falls apart into its emoji.
    3. Chinese and Japanese characters (Han, hiragana, katakana) are one token each,
       since those scripts put no spaces between words. Other scripts are split at
       spaces and punctuation only (Thai, say, is not segmented into words).
    4. A word is a run of letters, digits and "_" (Python's `\\w`) with their combining
       marks; an apostrophe between two such runs stays inside the word ("isn't",
       "director's"), anywhere else it is punctuation.
    5. Every other character that is not white space (punctuation, symbols, emoji) is
       a token of its own, with any combining marks that follow it.

    Deterministic, never raises for any `str`; an empty or all-space text gives [].

    >>> tokenize("Not bad, at ALL!")
    ['not', 'bad', ',', 'at', 'all', '!']
    """
    drop, token = _patterns()
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = drop.sub("", text)
    text = _CJK.sub(r" \g<0> ", text)
    return token.findall(text)


# --- vocabulary and padding --------------------------------------------------------------------

@dataclass(frozen=True)
class Vocabulary:
    """The tokens a text model knows, id = position; "<pad>" is id 0 and "<unk>" id 1, always.

    Padding (id 0) fills short texts in a batch; every token that is not in the
    vocabulary becomes "<unk>" (id 1).
    """

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        tokens = tuple(self.tokens)
        if len(tokens) < 2 or tokens[:2] != (PAD, UNK):
            raise ValueError(f"a vocabulary starts with {PAD!r} and {UNK!r}, not {tokens[:2]!r}")
        if not all(isinstance(t, str) for t in tokens):
            raise ValueError("vocabulary tokens must be strings")
        if len(tokens) > _MAX_VOCABULARY:
            raise ValueError(f"a vocabulary has at most {_MAX_VOCABULARY:,} tokens, not {len(tokens):,}")
        index = {token: i for i, token in enumerate(tokens)}
        if len(index) != len(tokens):
            raise ValueError("vocabulary tokens must be distinct")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "_index", index)  # a lookup table, not a field (eq/hash ignore it)

    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int = 1, max_size: int = 20000) -> Vocabulary:
        """The vocabulary of `texts`: tokens seen at least `min_count` times, most frequent first.

        Ties are broken alphabetically, so the same texts always give the same ids.
        `max_size` counts "<pad>" and "<unk>" too: at most max_size - 2 tokens are kept.
        """
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be a whole number of at least 1, not {min_count!r}")
        if isinstance(max_size, bool) or not isinstance(max_size, int) or not 2 <= max_size <= _MAX_VOCABULARY:
            raise ValueError(f"max_size must be a whole number from 2 to {_MAX_VOCABULARY:,}, not {max_size!r}")
        counts = Counter(token for text in texts for token in tokenize(text))
        ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
        return cls((PAD, UNK, *(token for token, _ in ranked[:max_size - 2])))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """The ids of a text's tokens (see `tokenize`); unknown tokens are 1, never 0."""
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        return [index.get(token, UNK_ID) for token in tokenize(text)]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ids; ValueError for an id outside the vocabulary."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"token id {i} is outside this vocabulary (0 .. {len(self.tokens) - 1})")
            out.append(self.tokens[i])
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, for model file metadata."""
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        """Inverse of `to_dict`; ValueError on a malformed dict."""
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise ValueError("a vocabulary needs a list of tokens")
        return cls(tuple(tokens))


@dataclass(frozen=True)
class TextPreprocessing:
    """How raw texts become a text model's input: the vocabulary and the longest sequence kept."""

    vocabulary: Vocabulary
    max_length: int
    kind: ClassVar[str] = "text"  # image `Preprocessing` has no kind; model file metadata tells them apart

    def __post_init__(self) -> None:
        if not isinstance(self.vocabulary, Vocabulary):
            raise ValueError("vocabulary must be a Vocabulary")
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int) \
                or not 1 <= self.max_length <= _MAX_LENGTH:
            raise ValueError(f"max_length must be a whole number from 1 to {_MAX_LENGTH:,}, not {self.max_length!r}")

    def encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        """Encode texts into one LongTensor (N, L), right-padded with 0.

        L = min(max_length, the longest text's token count), and at least 1 (so a batch
        of empty texts is one column of padding). A text longer than max_length is
        truncated to its first max_length tokens, never refused: a 5,000-word review
        gives the same row as its first max_length tokens would.
        """
        rows = [self.vocabulary.encode(text)[:self.max_length] for text in texts]
        length = max([len(row) for row in rows] + [1])
        out = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, for model file metadata."""
        return {"kind": self.kind, "vocabulary": self.vocabulary.to_dict(), "max_length": self.max_length}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextPreprocessing:
        """Inverse of `to_dict`; ValueError on a malformed dict or another kind."""
        if not isinstance(data, dict) or data.get("kind", cls.kind) != cls.kind:
            raise ValueError("not the preprocessing of a text model")
        return cls(Vocabulary.from_dict(data.get("vocabulary")), data.get("max_length"))


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


# --- the procedural sentiment corpus -----------------------------------------------------------

_POSITIVE = ("good", "great", "wonderful", "excellent", "brilliant", "charming", "delightful", "moving",
             "funny", "clever", "beautiful", "superb", "enjoyable", "gripping", "fresh", "interesting",
             "touching", "smart")
_NEGATIVE = ("bad", "awful", "dull", "boring", "terrible", "weak", "clumsy", "tedious", "bland", "messy",
             "poor", "predictable", "lifeless", "silly", "forgettable", "painful", "flat", "confusing")
_POSITIVE_NOUNS = ("a masterpiece", "a triumph", "a gem", "a delight", "a joy", "a pleasure")
_NEGATIVE_NOUNS = ("a mess", "a disaster", "a bore", "a letdown", "a failure", "a chore")
_INTENSIFIERS = ("very", "really", "extremely", "truly", "quite", "so", "incredibly")
_SUBJECTS = ("the film", "the movie", "this film", "this movie", "the sequel", "the comedy", "the thriller",
             "the documentary", "the plot", "the story", "the script", "the acting", "the cast", "the dialogue",
             "the soundtrack", "the ending", "the pacing", "the direction", "her performance",
             "his performance", "the director's latest", "the remake", "the animation", "the second half")
_THINGS = ("film", "movie", "plot", "story", "script", "performance", "ending", "cast", "soundtrack",
           "comedy", "thriller", "experience", "cartoon", "drama")
_VERBS = ("was", "is", "felt", "seemed")
_OPENERS = ("", "", "", "", "honestly, ", "overall, ", "I think ", "to be fair, ", "in my opinion, ",
            "frankly, ", "for me, ", "well, ", "I have to say ")
_CLOSERS = ("", "", ".", ".", ".", "!", " overall.", ", if you ask me.", ", to be honest.", " for sure.")
# Where the first, overruled clause of a contrast holds, and where the second, deciding one does.
_BEFORE = ("at first", "on paper", "in places", "early on", "for an hour", "in the trailer")
_AFTER = ("in the end", "by the end", "overall", "in the second half", "", "")


def _adjective_phrase(rng: np.random.Generator, polarity: int, *, negate: bool, intensify: bool,
                      tail_ok: bool = True) -> str:
    """An adjective phrase whose meaning has `polarity` (+1/-1); negated phrases use an opposite adjective.

    The negator and the adjective are at most three tokens apart ("not very good"), so
    one window of a TextCNN filter can see both.
    """
    base = -polarity if negate else polarity
    adjective = str(rng.choice(_POSITIVE if base > 0 else _NEGATIVE))
    intensifier = str(rng.choice(_INTENSIFIERS)) + " " if intensify else ""
    if not negate:
        return intensifier + adjective
    form = int(rng.integers(5 if tail_ok else 4))
    if form == 0:
        return f"not {intensifier}{adjective}"
    if form == 1:
        return f"never {intensifier}{adjective}"
    if form == 2:
        return f"hardly {adjective}"
    if form == 3:
        return f"far from {adjective}"
    return f"not {adjective} at all"


def _simple_sentence(rng: np.random.Generator, polarity: int, *, negate: bool, intensify: bool) -> str:
    """One clause whose meaning has `polarity`, from one of several templates."""
    subject = str(rng.choice(_SUBJECTS))
    verb = str(rng.choice(_VERBS))
    template = int(rng.integers(6))
    if template == 0 and negate and verb in ("was", "is"):
        # A contraction: "wasn't" is one token, so the negation lives inside it.
        adjective = str(rng.choice(_NEGATIVE if polarity > 0 else _POSITIVE))
        intensifier = str(rng.choice(_INTENSIFIERS)) + " " if intensify else ""
        return f"{subject} {verb}n't {intensifier}{adjective}"
    if template == 1:
        thing = str(rng.choice(_THINGS))
        base = -polarity if negate else polarity
        adjective = str(rng.choice(_POSITIVE if base > 0 else _NEGATIVE))
        intensifier = str(rng.choice(_INTENSIFIERS)) + " " if intensify else ""
        article = "an" if (intensifier or adjective)[0] in "aeiou" else "a"
        if negate:
            negator = str(rng.choice(("not", "hardly", "far from", "never")))
            return f"it {rng.choice(('was', 'is'))} {negator} {article} {intensifier}{adjective} {thing}"
        start = str(rng.choice(("what", "it was", "it is", "such")))
        return f"{start} {article} {intensifier}{adjective} {thing}"
    if template == 2 and not intensify:
        base = -polarity if negate else polarity
        noun = str(rng.choice(_POSITIVE_NOUNS if base > 0 else _NEGATIVE_NOUNS))
        if negate:
            negator = str(rng.choice(("not", "hardly", "far from", "never")))
            return f"{subject} {verb} {negator} {noun}"
        return f"{subject} {verb} {noun}"
    if template == 3:
        phrase = _adjective_phrase(rng, polarity, negate=negate, intensify=intensify)
        return f"I found {subject} {phrase}"
    if template == 4:
        # Two adjective phrases of the same meaning; a negated one comes second, since
        # "never charming and dull" could also be read as "never (charming and dull)".
        first = _adjective_phrase(rng, polarity, negate=False, intensify=intensify and not negate)
        second = _adjective_phrase(rng, polarity, negate=negate, intensify=intensify and negate)
        return f"{subject} {verb} {first} and {second}"
    return f"{subject} {verb} {_adjective_phrase(rng, polarity, negate=negate, intensify=intensify)}"


def _contrast_sentence(rng: np.random.Generator, polarity: int) -> str:
    """Two clauses of opposite meaning joined by "but"; the clause after "but" decides (`polarity`).

    Both clauses are drawn from the same phrases, so the sentence and its mirror image
    ("dull at first but wonderful in the end" / "wonderful at first but dull in the end")
    have the same bag of words and opposite labels.
    """
    def phrase(p: int) -> str:
        return _adjective_phrase(rng, p, negate=rng.random() < 0.25, intensify=rng.random() < 0.3, tail_ok=False)

    first, second = phrase(-polarity), phrase(polarity)
    subject = str(rng.choice(_SUBJECTS))
    verb = str(rng.choice(_VERBS))
    template = int(rng.integers(4))
    if template == 0:
        after = str(rng.choice(_AFTER))
        return f"{subject} {verb} {first} {rng.choice(_BEFORE)} but {second}{' ' + after if after else ''}"
    if template == 1:
        return f"{subject} {verb} {first}, but {second}"
    if template == 2:
        other = str(rng.choice([s for s in _SUBJECTS if s != subject]))
        return f"{subject} {verb} {first} but {other} {rng.choice(_VERBS)} {second}"
    return f"I expected {subject} to be {first} but it {verb} {second}"


def make_sentiment_corpus(n: int = 4000, *, seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    """A seeded English sentiment corpus in which word order matters: (texts, labels, tags).

    Labels: 0 negative, 1 positive, balanced (n // 2 each, the odd one positive).
    Tags, one per text: "plain" (an adjective or noun of clear sentiment: "the film was
    good", "a dull plot"), "intensifier" ("really good"), "negation" (a negator flips
    the adjective: "not good", "not bad at all", "never boring", "hardly interesting",
    "wasn't funny"), "contrast" (two clauses joined by "but", the second decides: "dull
    at first but wonderful in the end"). About 30/20/25/25 % of the texts; within each tag,
    about half of the texts are positive.

    Word order decides the hard cases: negated sentences use adjectives of the opposite
    label, and a contrast has the same bag of words as its mirror image ("wonderful at
    first but dull in the end"), so a bag-of-words model reads "not good" as good and
    guesses on contrasts. Every label follows from a window of at most four tokens (the
    negator - not, never, hardly, the "from" of "far from", wasn't - is at most three
    tokens before its adjective; a contrast's deciding phrase follows "but"), which a
    TextCNN with filters of width up to 4 can see.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 1_000_000:
        raise ValueError(f"n must be a whole number from 2 to 1,000,000, not {n!r}")
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2 == 0).astype(np.int64)  # the odd one out is positive
    rng.shuffle(labels)
    tags = rng.choice(SENTIMENT_TAGS, size=n, p=_TAG_SHARES)
    texts = []
    for label, tag in zip(labels, tags, strict=True):
        polarity = 1 if label else -1
        if tag == "contrast":
            body = _contrast_sentence(rng, polarity)
        else:
            body = _simple_sentence(rng, polarity, negate=tag == "negation", intensify=tag == "intensifier"
                                    or (tag == "negation" and rng.random() < 0.25))
        text = f"{rng.choice(_OPENERS)}{body}{rng.choice(_CLOSERS)}"
        texts.append(text[0].upper() + text[1:])
    return texts, labels, [str(t) for t in tags]


# --- loading -----------------------------------------------------------------------------------

def load_text_corpus(name: str, *, n_samples: int | None = None, seed: int = 0,
                     max_length: int = 64) -> TextDataset:
    """Load a text data set by name (see OFFLINE_TEXT_CORPORA and ONLINE_TEXT_CORPORA).

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
                              seed=seed, max_length=max_length)
    if name in ONLINE_TEXT_CORPORA:
        return _load_online_text(name, n_samples=n_samples or _DEFAULT_ONLINE_SAMPLES, seed=seed,
                                 max_length=max_length)
    raise DatasetUnavailableError(
        f"Unknown text data set {name!r}; choose one of {', '.join(OFFLINE_TEXT_CORPORA + ONLINE_TEXT_CORPORA)}.")


def _split_dataset(name: str, texts: Sequence[str], labels: np.ndarray, class_names: Sequence[str],
                   tags: Sequence[str], strata: Sequence[str] | None, *, seed: int, max_length: int,
                   test_fraction: float = 0.2) -> TextDataset:
    """A deterministic train/test split (stratified by `strata` when every stratum has two members)."""
    from sklearn.model_selection import train_test_split

    n = len(texts)
    n_test = max(1, round(n * test_fraction))
    counts = Counter(strata) if strata is not None else Counter()
    stratify = (strata if strata is not None and min(counts.values()) >= 2
                and len(counts) <= min(n_test, n - n_test) else None)
    train_idx, test_idx = train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=stratify)
    train_texts = tuple(texts[i] for i in train_idx)
    preprocessing = TextPreprocessing(Vocabulary.build(train_texts), max_length)
    labels = np.asarray(labels, dtype=np.int64)
    return TextDataset(name, train_texts, labels[train_idx], tuple(texts[i] for i in test_idx), labels[test_idx],
                       tuple(class_names), preprocessing, tuple(str(tags[i]) for i in test_idx))


def _load_online_text(name: str, *, n_samples: int, seed: int, max_length: int) -> TextDataset:
    from cnnviz.data import network_available

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


# --- CSV uploads -------------------------------------------------------------------------------

def _decode_csv(data: bytes, max_bytes: int) -> str:
    """The text of an uploaded CSV: UTF-8 (a BOM is fine), UTF-16 with a BOM, else Latin-1 (never fails)."""
    if not data or not data.strip():
        raise DatasetUnavailableError("The file is empty.")
    if len(data) > max_bytes:
        raise DatasetUnavailableError(f"The file is {len(data) / 2**20:.1f} MB; the limit is "
                                      f"{max_bytes / 2**20:.0f} MB.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets often save Latin-1 / Windows-1252; Latin-1 decodes any bytes at all.
        return data.decode("latin-1")


def _reader(text: str) -> Iterable[list[str]]:
    """A csv reader over the text; the delimiter (, ; tab |) is the one most frequent in the header line."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter if counts[delimiter] else ",")


def _header(rows: Iterable[list[str]]) -> list[str]:
    try:
        for row in rows:
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    except csv.Error as exc:
        raise DatasetUnavailableError(f"The file is not a CSV table that can be read: {exc}") from exc
    raise DatasetUnavailableError("The file is empty.")


def csv_columns(data: bytes, *, max_bytes: int = 20 * 2**20) -> list[str]:
    """The column names in the first (header) row of an uploaded CSV file.

    Raises `DatasetUnavailableError` with a message for the user for an empty or too
    large file.
    """
    return _header(_reader(_decode_csv(data, max_bytes)))


def texts_from_csv(data: bytes, *, text_column: str, label_column: str, max_rows: int = 50000,
                   max_bytes: int = 20 * 2**20) -> tuple[list[str], list[str]]:
    """Texts and labels (as strings) from the two named columns of an uploaded CSV file with a header row.

    Decoding: UTF-8 (with or without BOM), UTF-16 with a BOM, else Latin-1. The
    delimiter may be a comma, semicolon, tab or "|". Labels are stripped of spaces;
    rows with an empty label and blank lines are skipped; a missing text cell is "".
    Raises `DatasetUnavailableError` with a message for the user when the file is
    empty, over `max_bytes`, has more than `max_rows` data rows, lacks a column, or
    has no labelled rows.
    """
    rows = iter(_reader(_decode_csv(data, max_bytes)))
    columns = _header(rows)
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        raise DatasetUnavailableError(
            f"The file has no column {', '.join(repr(c) for c in missing)}; its columns are: "
            f"{', '.join(repr(c) for c in columns)}.")
    t, y = columns.index(text_column), columns.index(label_column)
    texts, labels = [], []
    count = 0
    try:
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            count += 1
            if count > max_rows:
                raise DatasetUnavailableError(f"The file has more than {max_rows:,} rows; the limit is "
                                              f"{max_rows:,}. Keep a sample of it.")
            label = row[y].strip() if y < len(row) else ""
            if label:
                texts.append(row[t] if t < len(row) else "")
                labels.append(label)
    except csv.Error as exc:
        raise DatasetUnavailableError(f"Row {count + 1} of the file cannot be read as CSV: {exc}") from exc
    if not labels:
        raise DatasetUnavailableError(f"The file has no rows with a label in column {label_column!r}.")
    return texts, labels
