"""The app in English and Chinese: the catalogues agree, and a page in Chinese shows no English sentence.

"No English sentence" is measured against the English catalogue: every run of three or more
words of an English template (between its {placeholders}) must be absent from everything a
page in Chinese renders: its text, labels, help, options and the text inside its figures.
"""

from __future__ import annotations

import json
import re
import string

import pytest
from google.protobuf.json_format import MessageToDict

from pages.common.i18n import LANGUAGES, catalogue
from tests.conftest import fresh_app, open_page

CJK = re.compile(r"[\u4e00-\u9fff]")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def placeholders(template: str) -> set[str]:
    """The {names} a template takes (with their formats: a translation must keep them as they are)."""
    return {f"{name}:{spec}" for _, name, spec, _ in string.Formatter().parse(template) if name is not None}


def english_fragments(template: str) -> list[str]:
    """The runs of three or more words in an English template, between placeholders and markup."""
    literal = "\0".join(text for text, *_ in string.Formatter().parse(template))
    literal = re.sub(r"`[^`]*`", "\0", literal)     # code stays as it is in every language
    pieces = re.split(r"\0|\*\*|\n|_|  ", literal)
    return [p.strip(" .,:;()") for p in pieces if len(WORD.findall(p)) >= 3 and len(p.strip()) >= 12]


def test_every_key_is_in_both_languages_with_the_same_placeholders():
    english, chinese = catalogue("en"), catalogue("zh")
    assert len(english) > 30 and set(english) == set(chinese), set(english) ^ set(chinese)
    differ = {key: (placeholders(english[key]), placeholders(chinese[key])) for key in english
              if placeholders(english[key]) != placeholders(chinese[key])}
    assert not differ


def test_chinese_templates_are_translations_not_copies():
    english, chinese = catalogue("en"), catalogue("zh")
    # A copy is allowed only for words with no language: names like "TextCNN", or a bare placeholder.
    copied = [key for key in english if chinese[key] == english[key] and english_fragments(english[key])]
    assert not copied
    untranslated = [key for key, value in chinese.items() if len(WORD.findall(value)) >= 4 and not CJK.search(value)]
    assert not untranslated


def test_the_fragment_finder_finds_sentences_and_skips_names():
    assert english_fragments("Test accuracy: {accuracy:.1%}  \nData set: {dataset}") == []
    assert english_fragments("Only the first {n} of the {m} channels are drawn.") == [
        "Only the first", "channels are drawn"]
    assert english_fragments("**Current model**") == []
    assert english_fragments("saved as a file (`python my figure.py`, from any folder)") == [
        "saved as a file", "from any folder"]


def rendered_text(at) -> str:
    """Every string a run rendered (main area and sidebar): element protos, and the text inside figures."""
    strings: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, str):
            if value.startswith("{") and value.endswith("}"):
                try:
                    collect(json.loads(value))   # a figure's spec
                    return
                except ValueError:
                    pass
            strings.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and node.type != "code":   # reproduce snippets are Python: English is right there
            collect(MessageToDict(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(strings)


def english_left(at) -> list[str]:
    """The English catalogue's sentences that a run in Chinese still shows."""
    text = rendered_text(at)
    return sorted({fragment for template in catalogue("en").values() for fragment in english_fragments(template)
                   if fragment in text})


ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’,-]*(?:[ ]+[A-Za-z][A-Za-z'’,-]*){4,}")


def english_runs(at) -> list[str]:
    """Runs of five or more English words a run rendered: words written into a page instead of its catalogue."""
    return sorted(set(ENGLISH_RUN.findall(rendered_text(at))))


def chinese_page(at, *, allowed: tuple[str, ...] = (), min_cjk: int = 0) -> str:
    """Assert the page ran, shows no English sentence of the catalogue and no run of English words (but those
    inside the `allowed` data strings), and at least `min_cjk` Chinese characters; return its text."""
    assert not at.exception, at.exception
    assert english_left(at) == []
    assert [run for run in english_runs(at) if not any(run in text for text in allowed)] == []
    text = rendered_text(at)
    assert len(CJK.findall(text)) >= min_cjk
    return text


PAGES = ["home", "lesson"]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_in_chinese_shows_no_english_sentence_of_the_catalogue(page):
    at = fresh_app(lang="zh")
    if page != "home":
        open_page(at, page)
    assert at.session_state["language"] == "zh"
    text = rendered_text(at)
    assert len(CJK.findall(text)) > 50        # the page is in Chinese
    assert english_left(at) == []
    assert english_runs(at) == []
    # The same page in English shows English sentences: the check can fail.
    english = fresh_app(lang="en")
    if page != "home":
        open_page(english, page)
    assert english_left(english)


def test_switching_the_language_keeps_the_page_and_its_settings():
    at = open_page(fresh_app(), "lesson")
    at.radio(key="lesson_step").set_value("pooling").run()
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert not at.exception
    assert at.session_state["lesson_step"] == "pooling" and dict(at.query_params)["lang"] in ("zh", ["zh"])
    assert CJK.search(at.subheader[0].value) and at.subheader[0].value.startswith("3.")


def test_a_link_with_lang_zh_opens_in_chinese_and_keeps_it_in_the_url():
    at = fresh_app(lang="zh")
    assert at.sidebar.markdown[0].value == "**当前模型**"
    assert dict(at.query_params).get("lang") in ("zh", ["zh"])


def test_the_languages_are_english_and_chinese():
    assert list(LANGUAGES) == ["en", "zh"]


def test_the_english_figure_words_are_the_librarys_defaults():
    """Each figure's English table in plots.toml equals its plot function's <NAME>_LABELS, key for key."""
    import cnnviz.plots as plots
    from pages.common.i18n import figure_labels

    defaults = {name[:-len("_LABELS")].lower(): value for name, value in vars(plots).items()
                if name.endswith("_LABELS") and isinstance(value, dict)}
    tables = [tuple(key.split(".")[:2]) for key in catalogue("en") if key.startswith("plots")]
    names = [name for name in {table for _, table in tables}]
    files = {name: {f for f, table in tables if table == name} for name in names}
    assert all(len(f) == 1 for f in files.values()), files   # each figure's words in one file
    assert "architecture" in defaults and set(names) == set(defaults)
    for name, table in defaults.items():
        assert figure_labels(name) == table, name


def test_chinese_bold_text_renders_as_bold():
    """Markdown closes `**` after punctuation only before a space or punctuation: "**预测：**6" shows its stars
    (seen on Feature maps). The punctuation goes outside: "**预测**：6"."""
    import unicodedata

    def punctuation(char: str) -> bool:
        return unicodedata.category(char).startswith("P")

    broken = [key for key, value in catalogue("zh").items()
              for match in re.finditer(r"\*\*([^*\n]+?)\*\*(.?)", value)
              # a placeholder ({name}) counts as a letter: what goes in is a name or a number
              if punctuation(match.group(1)[-1]) and match.group(2).strip()
              and (not punctuation(match.group(2)) or match.group(2) == "{")]
    assert broken == []
