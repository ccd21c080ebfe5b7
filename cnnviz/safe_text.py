"""Text that came from outside (a model file, a CSV, a link, a text box) shown as text, never as markup.

Streamlit renders markdown with KaTeX, directives (`:red[...]`, `:material/...:`) and
links; plotly renders a subset of HTML (`<a href>`, `<span style>`, `<b>`, `<br>`).
A name such as `[Log in again](http://host)`, `![](http://host/x.png)` or
`$\\rule{60em}{30em}$` in a model file would otherwise become a live link, a request
to another host, or a block over the page. Every such string goes through one of the
two functions here, for the element that shows it; both cut long text to `limit`
characters with an ellipsis, so a 5 MB "class name" cannot flood a page.
"""

from __future__ import annotations

import html
import re

__all__ = ["as_markdown_text", "as_plotly_text", "shorten"]

ELLIPSIS = "…"
DEFAULT_LIMIT = 80
# The characters that can start markup in one line of Streamlit's markdown: emphasis and code
# (* ~ `), links and images ([ ] !), maths ($), directives and emoji codes (:), HTML and entities
# (< > &), tables (|), headings (#), autolinks (":" of http:, "@" of an e-mail). CommonMark lets a
# backslash escape any ASCII punctuation, and Streamlit's KaTeX and directives honour it.
_MARKUP = re.compile(r"([\\`*\[\]<>$:~|#&@!])")
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")   # "a_b" never emphasises
_LIST_MARK = re.compile(r"^([-+])(?=\s|$)")             # "- x" is a list item when the text starts a line ...
_LIST_NUMBER = re.compile(r"^(\d+)([.)])(?=\s|$)")       # ... and so is "1. x" (a digit cannot be escaped)
# Streamlit turns http://host, www.host and me@host into links, and :material/name: into an icon,
# even when the ":", "." or "@" is escaped: an invisible word joiner inside each stops that.
WORD_JOINER = "\u2060"
_JOINS = re.compile(r"(?i)(?<=\bwww)(?=\.)|(?<=:)|(?=@)")
_WHITESPACE = re.compile(r"\s+")   # a newline could start a heading, a list or a table


def shorten(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """`text` as one line of at most `limit` characters, ending in "…" when it was cut."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    line = _WHITESPACE.sub(" ", str(text)).strip()
    return line if len(line) <= limit else line[:limit - 1].rstrip() + ELLIPSIS


def as_markdown_text(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """`text` for a Streamlit element that renders markdown (markdown, caption, alerts, labels,
    subheaders), shown exactly as typed: one line, at most `limit` characters, every character
    that could start markup escaped (ordinary names such as "LeNet-5 (digits)" stay as they are),
    and a word joiner (invisible) after each ":", before each "@" and after "www"."""
    line = _JOINS.sub(WORD_JOINER, shorten(text, limit))
    line = _MARKUP.sub(r"\\\1", line)
    line = _EDGE_UNDERSCORE.sub(r"\\_", line)
    line = _LIST_MARK.sub(r"\\\1", line)
    return _LIST_NUMBER.sub(r"\1\\\2", line)


def as_plotly_text(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """`text` for a plotly title, tick label, cell text or hover text, shown as typed: plotly's HTML
    tags and entities are escaped (`<a href=...>` stays visible text), at most `limit` characters."""
    return html.escape(shorten(text, limit), quote=False)
