"""cnnviz.safe_text: foreign text shown as text in markdown and in plotly, cut to a length."""

import re
import string

import numpy as np
import pytest

from cnnviz.safe_text import ELLIPSIS, WORD_JOINER, as_markdown_text, as_plotly_text, shorten

# What a model file, a CSV or a link could carry, found by trying to break the app (issue 13).
HOSTILE = [
    "[Session expired: log in again](http://evil.example/login)",
    "![](http://evil.example/pixel.png)",
    "$\\rule{60em}{30em}$",
    ":red[ALERT] :material/warning: :smile:",
    "<a href='http://evil.example'>link</a> <span style='font-size:90px'>big</span>",
    "<img src=x onerror=alert(1)> <script>alert(1)</script>",
    "# heading\n- list\n> quote",
    "www.evil.example and mail@evil.example and https://evil.example",
    "**bold** _it_ ~~gone~~ `code` | table |",
    "&lt;b&gt; &amp; \\$ \\[",
]


MARKUP = set("\\`*[]<>$:~|#&@!")


def unescaped_markup(text: str) -> list[str]:
    """Characters of `text` that could start markup and that no backslash escapes (markdown would read them)."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in string.punctuation:
            i += 2
            continue
        if text[i] in MARKUP:
            found.append(text[i])
        i += 1
    return found


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_escapes_every_markup_character_on_one_line(text):
    shown = as_markdown_text(text, limit=500)
    assert unescaped_markup(shown) == [] and "\n" not in shown
    # Streamlit links http://, www. and e-mails and draws :material/...: icons even when escaped:
    # a word joiner sits after every ":", before every "@" and after "www".
    assert not re.search(r"https?\\?:(?!\u2060)|www\\?\.|(?<!\u2060)(?<!\u2060\\)@|(?<![0-9A-Za-z\\])_", shown)
    # Taking the escapes and joiners off gives back what was typed (newlines become spaces): nothing is lost.
    assert re.sub(r"\\(.)", r"\1", shown.replace(WORD_JOINER, "")) == " ".join(text.split())


def test_markdown_text_of_ordinary_names_is_unchanged():
    for name in ("LeNet-5 (digits)", "resnet_depth=110", "tinyvgg.safetensors", "conv1.weight, (6, 1, 5, 5)"):
        assert as_markdown_text(name) == name


@pytest.mark.parametrize(("text", "shown"), [
    ("- item", "\\- item"), ("+ item", "\\+ item"), ("1. item", "1\\. item"), ("12) item", "12\\) item"),
    ("# title", "\\# title"), ("> quote", "\\> quote"), ("_it_", "\\_it\\_"), ("a_b_c", "a_b_c"),
    ("www.host.example", "www\u2060.host.example"), ("me@host.example", "me\u2060\\@host.example"),
    (":material/warning:", "\\:\u2060material/warning\\:\u2060"),
])
def test_what_would_start_a_list_a_heading_or_a_link_is_escaped(text, shown):
    assert as_markdown_text(text) == shown


@pytest.mark.parametrize("text", HOSTILE)
def test_plotly_text_escapes_tags_and_entities(text):
    shown = as_plotly_text(text, limit=500)
    assert "<" not in shown and ">" not in shown                 # no tag plotly could render
    assert re.sub(r"&(lt|gt|amp);", "", shown).count("&") == 0    # "&" only as the start of an escape
    assert shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == " ".join(text.split())


def test_long_text_is_cut_with_an_ellipsis_before_escaping():
    assert shorten("a" * 100, 10) == "a" * 9 + ELLIPSIS
    assert shorten("short", 10) == "short"
    assert as_markdown_text("x" * 5_000_000).endswith(ELLIPSIS) and len(as_markdown_text("x" * 5_000_000)) == 80
    # the limit counts what the reader sees, not the escapes
    assert as_plotly_text("<" * 100, limit=10) == "&lt;" * 9 + ELLIPSIS
    with pytest.raises(ValueError, match="at least 1"):
        shorten("x", 0)


def test_any_value_becomes_text():
    assert as_markdown_text(3.5) == "3.5" and as_markdown_text(-1) == "-1" and as_plotly_text(None) == "None"


# --- the figures escape what they are given ----------------------------------------------------

LINK = "<a href='http://evil.example'>x</a>"


def test_class_names_reach_plotly_as_text():
    from cnnviz.plots import plot_class_probabilities, plot_confusion_matrix, plot_image_grid

    names = [LINK, "<span style='color:red'>b</span>", "c"]
    figures = [plot_class_probabilities(np.array([0.2, 0.5, 0.3]), names),
               plot_confusion_matrix(np.eye(3, dtype=int), names),
               plot_image_grid(np.zeros((3, 1, 4, 4)), names, columns=3)]
    for fig in figures:
        spec = fig.to_json()
        assert "<a " not in spec and "<span" not in spec and "&lt;a href" in spec


def test_thousands_of_classes_draw_only_the_most_probable_bars():
    from cnnviz.plots import plot_class_probabilities
    from cnnviz.plots.features import MAX_CLASS_BARS

    probabilities = np.full(4096, 0.1 / 4095)
    probabilities[[7, 3000]] = [0.5, 0.4]
    fig = plot_class_probabilities(probabilities, [f"c{i}" for i in range(4096)])
    assert len(fig.data[0].y) == MAX_CLASS_BARS and fig.layout.height < 700
    assert MAX_CLASS_BARS == 10 and list(fig.data[0].y[:3]) == ["c7", "c3000", "c0"]  # most probable first
    assert fig.layout.title.text == f"the {MAX_CLASS_BARS} most probable of 4,096 classes, most probable first"
    same = plot_class_probabilities(np.array([0.5, 0.5]), ["a", "a"])
    assert len(set(same.data[0].y)) == 2                                    # equal names stay two bars


def test_tokens_reach_plotly_as_text():
    from cnnviz.analysis.ngrams import TokenAttribution
    from cnnviz.plots import plot_token_attributions

    attr = TokenAttribution(("<b>", "good", "<pad>"), np.array([0.1, 1.0, 0.0], np.float32), 1, "occlusion",
                            None, None, None)
    spec = plot_token_attributions(attr, class_name=LINK).to_json()
    assert "<b>" not in spec and "&lt;pad&gt;" in spec and "<a " not in spec
