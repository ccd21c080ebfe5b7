"""The tokenizer of the text models (lower-case words; each punctuation mark or symbol a token) and the
reserved tokens for padding and unknown words."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1


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
    text = _CJK.sub(_spaced, text)
    return token.findall(text)


def is_cjk(token: str) -> bool:
    """Whether `token` is one Chinese or Japanese character (Han, hiragana, katakana): a token of its own in
    `tokenize`, since those scripts put no spaces between words."""
    return len(token) == 1 and _CJK.match(token) is not None


def join_tokens(tokens: Iterable[str]) -> str:
    """Tokens as one text for reading (an n-gram's label): Chinese and Japanese as they are written, other
    scripts with spaces.

    A space separates two tokens unless one is a CJK character (one token each, see `tokenize`) and the
    other a CJK character or a punctuation mark or symbol: ["不", "好", "!"] -> "不好!", ["not", "good"] ->
    "not good". A word of letters or digits beside a CJK character keeps its space, so the token boundary
    stays visible (["iphone", "很", "好"] -> "iphone 很好"), and so does "<pad>". `tokenize` of the result
    gives the tokens back, for any tokens that `tokenize` made.
    """
    out: list[str] = []
    previous = ""
    for token in tokens:
        if out and not (_tight(previous, token) or _tight(token, previous)):
            out.append(" ")
        out.append(token)
        previous = token
    return "".join(out)


def _tight(cjk: str, other: str) -> bool:
    """Whether `cjk` is one CJK character and `other` one too or a mark or symbol (no letter, digit or "_")."""
    return (is_cjk(cjk) and bool(other) and other not in (PAD, UNK)
            and (is_cjk(other) or not any(c.isalnum() or c == "_" for c in other)))


def _spaced(match: re.Match[str]) -> str:
    """A CJK character with a space on each side (a function: 4x faster than the template " \\g<0> ")."""
    return f" {match.group()} "
