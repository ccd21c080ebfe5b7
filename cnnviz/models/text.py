"""Text classifiers: Kim's TextCNN and a fastText-style shallow baseline, built from JSON-serialisable specs.

TextCNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification"):
word embeddings form an L x K matrix; filters of a few widths w slide over it (each
sees one n-gram of w words), relu, 1-max pooling over time keeps each filter's
strongest n-gram, and a dropout + linear head gives the class logits.

fastText (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification"):
the mean of the word embeddings (and, optionally, of hashed bigram embeddings)
feeds a linear classifier. Without bigrams it is a bag of words: it cannot see word
order, which is the point of comparing it with the TextCNN.

Specs are frozen dataclasses (hashable cache keys, `to_dict` for model file
metadata), like `cnnviz.models.cnn.CNNSpec`, told apart by their `kind`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from cnnviz.models.cnn import Dropout, build_seeded

_MAX_VOCABULARY = 200_000
_MAX_DIM = 512
_MAX_WIDTH = 10
_MAX_WIDTHS = 6
_MAX_FILTERS = 512
_MAX_CLASSES = 100
_MAX_BUCKETS = 200_000
# Bigram hashing: (a, b) -> a * 200003 + b is one-to-one for ids below 200003; one step of the
# MINSTD Lehmer generator (Park & Miller 1988, "Random number generators: good ones are hard to
# find"; multiplier 48271 from Park, Miller & Stockmeyer 1993) then scatters it,
# so that `mod buckets` does not keep the structure: with (a * 1000003 + b) mod 10000 = (3a + b)
# mod 10000, all bigrams of a 150-word vocabulary would crowd into 600 buckets. Every product
# stays far below 2**63, so int64 arithmetic is exact.
_BIGRAM_STRIDE = 200_003
_LEHMER_MULTIPLIER = 48_271
_LEHMER_MODULUS = 2_147_483_647  # 2**31 - 1, a prime


def _check_range(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, not {value!r}")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise ValueError(f"name must be a text of 1 to 100 characters, not {name!r}")


def _values(cls: type, data: dict[str, Any], kind: str) -> dict[str, Any]:
    """The constructor arguments in a `to_dict` dict; ValueError for another kind."""
    if not isinstance(data, dict):
        raise ValueError(f"a {cls.__name__} is read from a dict, not {type(data).__name__}")
    if data.get("kind", kind) != kind:
        raise ValueError(f"not a {kind} spec: its kind is {data.get('kind')!r}")
    return {k: v for k, v in data.items() if k != "kind"}


@dataclass(frozen=True, kw_only=True)
class TextCNNSpec:
    """A TextCNN (Kim 2014): embedding, one convolution per filter width, 1-max pooling, dropout, linear.

    Keyword-only. With vocab_size V, embedding_dim K, widths W, filters F and C classes it
    has V*K + sum over w of (K*F*w + F) + F*len(W)*C + C parameters.
    """

    name: str = "TextCNN"
    vocab_size: int
    embedding_dim: int = 32
    widths: tuple[int, ...] = (2, 3, 4)
    filters: int = 16
    num_classes: int = 2
    dropout: float = 0.5
    kind: str = field(default="text_cnn", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.widths, list):  # from JSON; a tuple keeps the spec hashable
            object.__setattr__(self, "widths", tuple(self.widths))
        _check_name(self.name)
        _check_range("vocab_size", self.vocab_size, 2, _MAX_VOCABULARY)
        _check_range("embedding_dim", self.embedding_dim, 1, _MAX_DIM)
        if not isinstance(self.widths, tuple) or not 1 <= len(self.widths) <= _MAX_WIDTHS:
            raise ValueError(f"widths must be 1 to {_MAX_WIDTHS} filter widths, not {self.widths!r}")
        for width in self.widths:
            _check_range("each filter width", width, 1, _MAX_WIDTH)
        _check_range("filters", self.filters, 1, _MAX_FILTERS)
        _check_range("num_classes", self.num_classes, 2, _MAX_CLASSES)
        if (isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float))
                or not 0 <= self.dropout <= 0.9):
            raise ValueError(f"dropout must be a number from 0 to 0.9, not {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (see `from_dict`), with kind "text_cnn"."""
        data = asdict(self)
        data["widths"] = list(self.widths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextCNNSpec:
        """Inverse of `to_dict`; ValueError or TypeError on a malformed dict (TypeError: unknown fields)."""
        values = _values(cls, data, "text_cnn")
        if isinstance(values.get("widths"), list):
            values["widths"] = tuple(values["widths"])
        return cls(**values)


class TextCNN(nn.Module):
    """Kim's (2014) CNN for sentence classification, built by `build_text_model` from a `TextCNNSpec`.

    forward: token ids (N, L) -> embed (N, L, K) -> transpose (N, K, L) -> per width w:
    relu(conv) (N, F, L - w + 1) -> max over time (N, F) -> concatenate (N, F * len(widths))
    -> dropout -> linear -> logits (N, C). Padding (id 0) embeds to a zero vector.
    """

    def __init__(self, spec: TextCNNSpec) -> None:
        super().__init__()
        self.spec = spec
        self.embedding = nn.Embedding(spec.vocab_size, spec.embedding_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(spec.embedding_dim, spec.filters, width) for width in spec.widths)
        self.dropout = Dropout(spec.dropout)  # nn.Dropout that `train` can give its own generator
        self.fc = nn.Linear(spec.filters * len(spec.widths), spec.num_classes)

    def pad_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Right-pad (N, L) ids with 0 to at least the widest filter; longer inputs are returned as they are.

        So any length works: a one-word sentence still gives every filter a window (of
        that word and padding), as Kim's zero padding does.
        """
        if tokens.ndim != 2:
            raise ValueError(f"tokens must have shape (N, L), not {tuple(tokens.shape)}")
        missing = max(self.spec.widths) - tokens.shape[1]
        return nn.functional.pad(tokens, (0, missing), value=0) if missing > 0 else tokens

    def ngram_features(self, embedded: torch.Tensor) -> list[torch.Tensor]:
        """The relu(conv) activation maps (N, F, L - w + 1), one per width in spec order, of embeddings (N, L, K).

        Position p of width w's map is that filter's response to the n-gram of tokens
        p .. p + w - 1. The input must be at least as long as the widest filter.
        """
        x = embedded.transpose(1, 2)  # Conv1d wants channels (the K embedding dimensions) first
        return [torch.relu(conv(x)) for conv in self.convs]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for token ids (N, L), any L >= 0 (see `pad_tokens`)."""
        maps = self.ngram_features(self.embedding(self.pad_tokens(tokens)))
        # 1-max pooling over time: each filter keeps its strongest n-gram, wherever it is (Kim 2014, section 2).
        pooled = torch.cat([m.amax(dim=2) for m in maps], dim=1)
        return self.fc(self.dropout(pooled))


@dataclass(frozen=True, kw_only=True)
class FastTextSpec:
    """A fastText classifier (Joulin et al. 2017): mean of word (and hashed bigram) embeddings, then linear.

    Keyword-only. bigram_buckets = 0 is the bag-of-words (unigram) baseline. Parameters:
    V*K + bigram_buckets*K + K*C + C.
    """

    name: str = "fastText"
    vocab_size: int
    embedding_dim: int = 32
    bigram_buckets: int = 0
    num_classes: int = 2
    kind: str = field(default="fasttext", init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_range("vocab_size", self.vocab_size, 2, _MAX_VOCABULARY)
        _check_range("embedding_dim", self.embedding_dim, 1, _MAX_DIM)
        _check_range("bigram_buckets", self.bigram_buckets, 0, _MAX_BUCKETS)
        _check_range("num_classes", self.num_classes, 2, _MAX_CLASSES)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (see `from_dict`), with kind "fasttext"."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FastTextSpec:
        """Inverse of `to_dict`; ValueError or TypeError on a malformed dict (TypeError: unknown fields)."""
        return cls(**_values(cls, data, "fasttext"))


def bigram_ids(tokens: torch.Tensor, buckets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hashed ids (N, L - 1) of the bigrams (tokens[:, i], tokens[:, i + 1]) and a mask of the real ones.

    The hashing trick of Joulin et al. 2017 (2.2: n-grams are hashed into a fixed
    number of buckets): ((a * 200003 + b) * 48271 mod (2**31 - 1)) mod buckets.
    Deterministic; different bigrams may share a bucket. A bigram that touches
    padding (id 0) is masked out.
    """
    first, second = tokens[:, :-1].to(torch.long), tokens[:, 1:].to(torch.long)
    ids = (first * _BIGRAM_STRIDE + second) * _LEHMER_MULTIPLIER % _LEHMER_MODULUS % buckets
    return ids, (first != 0) & (second != 0)


class FastText(nn.Module):
    """A fastText classifier, built by `build_text_model` from a `FastTextSpec`.

    forward: the mean of the embeddings of the non-padding words and (with
    bigram_buckets > 0) of their hashed bigrams, then a linear layer: no hidden
    non-linearity, so without bigrams the logits depend only on which words occur
    and how often, not on their order. A text of padding only gives the bias.
    """

    def __init__(self, spec: FastTextSpec) -> None:
        super().__init__()
        self.spec = spec
        # nn.Embedding (not EmbeddingBag) keeps one vector per token, so attributions per word work.
        self.embedding = nn.Embedding(spec.vocab_size, spec.embedding_dim, padding_idx=0)
        self.bigrams = nn.Embedding(spec.bigram_buckets, spec.embedding_dim) if spec.bigram_buckets else None
        self.fc = nn.Linear(spec.embedding_dim, spec.num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for token ids (N, L), any L >= 0."""
        if tokens.ndim != 2:
            raise ValueError(f"tokens must have shape (N, L), not {tuple(tokens.shape)}")
        mask = (tokens != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        total = (self.embedding(tokens) * mask).sum(dim=1)
        count = mask.sum(dim=1)
        if self.bigrams is not None and tokens.shape[1] > 1:
            ids, real = bigram_ids(tokens, self.spec.bigram_buckets)
            real = real.unsqueeze(-1).to(total.dtype)
            total = total + (self.bigrams(ids) * real).sum(dim=1)
            count = count + real.sum(dim=1)
        return self.fc(total / count.clamp(min=1))


TextSpec = TextCNNSpec | FastTextSpec


def build_text_model(spec: TextSpec, *, seed: int | None = None) -> nn.Module:
    """Build the TextCNN or fastText model a spec describes; with `seed`, its initial weights are reproducible.

    A seeded build draws from its own `torch.Generator`, never from torch's global random
    state (like `cnnviz.models.cnn.build_model`), so concurrent sessions cannot change it.
    """
    if isinstance(spec, TextCNNSpec):
        make: type[nn.Module] = TextCNN
    elif isinstance(spec, FastTextSpec):
        make = FastText
    else:
        raise TypeError(f"not a text model spec: {type(spec).__name__}")
    if seed is None:
        return make(spec)
    return build_seeded(lambda: make(spec), seed)  # a private generator: see cnnviz.models.cnn.build_seeded


def text_cnn(**kwargs: Any) -> TextCNN:
    """A TextCNN; keyword arguments as in `TextCNNSpec`, plus `seed`."""
    seed = kwargs.pop("seed", None)
    return build_text_model(TextCNNSpec(**kwargs), seed=seed)  # type: ignore[return-value]


def fasttext(**kwargs: Any) -> FastText:
    """A fastText model; keyword arguments as in `FastTextSpec`, plus `seed`."""
    seed = kwargs.pop("seed", None)
    return build_text_model(FastTextSpec(**kwargs), seed=seed)  # type: ignore[return-value]
