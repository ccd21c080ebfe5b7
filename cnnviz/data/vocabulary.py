"""A vocabulary built on a training split, and the padding of a batch of texts into one (N, L) tensor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from cnnviz.data.tokenizer import PAD, UNK, UNK_ID, tokenize

_MAX_VOCABULARY = 200_000  # the largest vocabulary a text model spec accepts
_MAX_LENGTH = 100_000


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
        vocabulary, max_length = data.get("vocabulary"), data.get("max_length")
        if not isinstance(vocabulary, dict) or not isinstance(max_length, int):
            raise ValueError("the text preprocessing needs a vocabulary and a max_length")
        return cls(Vocabulary.from_dict(vocabulary), max_length)


