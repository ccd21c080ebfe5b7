"""The app's words in English and Chinese: one catalogue per language, read through `t`.

Each language is a folder of TOML files, `pages/locales/<lang>/<part>.toml`, one
file per page or shared part, so a translator edits one page's words beside the
English ones. A key is the file's name and the key inside it, dotted
("feature_maps.title"); values are `str.format` templates ("{accuracy:.0%}").
TOML, not gettext: it needs nothing beyond the standard library (tomllib), takes
long texts as multi-line strings without escaping, keeps a comment beside a word
for context, and its keys stay the same when the English changes (gettext keys
are the English sentences). The library's numbers stay language-free; its plot
functions take their labels as arguments.

The language comes from the sidebar switch, which is linked (`lang=` in the URL,
so a shared link keeps it); a new session starts in the browser's language
(`st.context.locale`) when that is Chinese, else in English.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import streamlit as st

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "lang"      # the sidebar switch's widget key, and the URL parameter
# The session's language, apart from the switch: each page draws its own switch, and Streamlit
# forgets a widget's value on pages that do not draw that very widget.
_CHOSEN = "language"
LOCALES = Path(__file__).resolve().parent.parent / "locales"


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every key of `language` and its template, read once per process."""
    words: dict[str, str] = {}
    for path in sorted((LOCALES / language).glob("*.toml")):
        _flatten(tomllib.loads(path.read_text(encoding="utf-8")), path.stem, words)
    return words


def _flatten(table: dict, prefix: str, into: dict[str, str]) -> None:
    """Dotted keys for nested tables: [a] b = "x" in file f gives "f.a.b"."""
    for key, value in table.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}.{key}", into)
        else:
            into[f"{prefix}.{key}"] = str(value)


def browser_language() -> str:
    """The language a new session starts in: Chinese for a browser set to Chinese, else English."""
    try:
        locale = st.context.locale or ""
    except Exception:  # no browser behind this run (a bare script, a test of a words module)
        locale = ""
    return "zh" if locale.lower().startswith("zh") else DEFAULT_LANGUAGE


def language() -> str:
    """The session's language ("en" or "zh"); English outside a Streamlit run."""
    try:
        chosen = st.session_state.get(_CHOSEN)
    except Exception:  # no session: a words module used from a test or a notebook
        chosen = None
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, /, **values: object) -> str:
    """The words for `key` in the session's language, with `values` put in; English if the key lacks a
    translation (a test checks that none does), and the key itself if English lacks it too."""
    template = catalogue(language()).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return template.format(**values) if values else template


def figure_labels(name: str) -> dict[str, str]:
    """A figure's words in the session's language, for the `labels` argument of its plot function: the
    table [name] of a plots*.toml file (the English table equals the library's `<NAME>_LABELS`, a test says)."""
    found = {}
    for key in catalogue(DEFAULT_LANGUAGE):
        part, *rest = key.split(".")
        if part.startswith("plots") and len(rest) == 2 and rest[0] == name:
            found[rest[1]] = t(key)
    return found


@dataclass(frozen=True)
class Phrase:
    """Words kept for later (a reason stored in the session, shown on later runs): they are put into the
    language of the run that shows them, so switching the language translates them too."""

    key: str
    values: tuple[tuple[str, object], ...] = ()

    def __str__(self) -> str:
        return t(self.key, **dict(self.values))


def phrase(key: str, /, **values: object) -> Phrase:
    """`t(key, **values)`, kept until it is shown (`str(phrase(...))`)."""
    return Phrase(key, tuple(values.items()))


def settle_language() -> None:
    """Fix a new session's language before anything is drawn: the link's `lang=`, else the browser's."""
    if _CHOSEN not in st.session_state:
        asked = st.query_params.get(LANGUAGE_KEY)
        st.session_state[_CHOSEN] = asked if asked in LANGUAGES else browser_language()


def _switched() -> None:
    st.session_state[_CHOSEN] = st.session_state[LANGUAGE_KEY]


def choose_language() -> str:
    """The sidebar's language switch (page_frame draws it, after the link is read); returns the language."""
    from pages.common.links import linked  # links uses this module's words

    settle_language()
    before = st.session_state[_CHOSEN]
    st.session_state[LANGUAGE_KEY] = before  # the switch shows the session's language (a link may change it)
    st.sidebar.radio("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.__getitem__, horizontal=True,
                     key=linked(LANGUAGE_KEY, choices=list(LANGUAGES)), label_visibility="collapsed",
                     on_change=_switched)
    st.session_state[_CHOSEN] = st.session_state[LANGUAGE_KEY]
    if language() != before:
        st.rerun()  # a link in another language: the menu, drawn before the link was read, must change too
    return language()
