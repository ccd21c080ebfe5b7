"""A model file whose names carry markup, opened on every page: nothing of it renders as markup (issue 13).

The names are the ones that broke the app before: a live "log in again" link, an
image fetched from another host, a KaTeX block over the page, coloured directives
and HTML for plotly. Links carry the same through URL parameters.
"""

import dataclasses
import json
import re

import pytest

from cnnviz import load_zoo_model, model_to_bytes
from cnnviz.safe_text import as_markdown_text
from tests.conftest import new_session_from_link, open_page

LINK = "[Session expired: log in again](http://evil.example/login)"
IMAGE = "![](http://evil.example/pixel.png)"
MATH = "$\\rule{60em}{30em}$"
DIRECTIVE = ":red[ALERT] :material/warning:"
TAGS = "<a href='http://evil.example/a'>a</a><span style='font-size:90px'>big</span><img src='http://evil.example/i'>"
NAME = f"{LINK} {IMAGE}"
CLASSES = tuple(f"{i}{[MATH, DIRECTIVE, TAGS, LINK, IMAGE][i % 5]}" for i in range(10))

# Markup that would be live in a markdown source: none of it may appear in any element.
LIVE_MARKDOWN = {
    "link": re.compile(r"(?<!\\)\]\("),
    "image": re.compile(r"(?<!\\)!(?<!\\)\["),
    "maths": re.compile(r"(?<!\\)\$"),
    "directive": re.compile(r"(?<!\\):(red|material)"),
    "html": re.compile(r"(?<!\\)<(a|span|img)\b"),
    "autolink": re.compile(r"https?://|www\."),        # escaped, they read http\:// and www\.
}
LIVE_PLOTLY = re.compile(r"<(a|span|img)\b")


def hostile_file(key: str, class_names: tuple[str, ...]) -> bytes:
    zoo = load_zoo_model(key)
    info = dataclasses.replace(zoo.info, name=NAME, class_names=class_names)
    return model_to_bytes(dataclasses.replace(zoo, info=info))


def markdown_sources(at) -> list[str]:
    """Every string of the page that Streamlit renders as markdown, main area and sidebar."""
    texts = [e.value for kind in ("markdown", "caption", "success", "info", "warning", "error", "title",
                                  "header", "subheader") for e in getattr(at, kind)]
    texts += [b.label for b in at.button] + [m.label for m in at.metric]
    texts += [str(option) for radio in at.radio for option in radio.options]
    return texts


def assert_nothing_live(at, where: str) -> None:
    for text in markdown_sources(at):
        for what, pattern in LIVE_MARKDOWN.items():
            assert not pattern.search(text), f"{where}: live {what} in {text!r}"
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        assert not LIVE_PLOTLY.search(json.dumps(spec, ensure_ascii=False)), f"{where}: HTML in a figure"


def assert_home_shows_it_as_text(model) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP, APP_TIMEOUT

    home = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    home.run()
    home.session_state["current_model"] = model        # Home is the app script itself: give it the model
    home.run()
    assert not home.exception
    assert any(as_markdown_text(NAME) in s.value for s in home.subheader)
    assert_nothing_live(home, "home")


def load_file(at, data: bytes, name: str):
    at = open_page(at, "train")
    at.file_uploader[0].upload(name, data).run()
    assert not at.exception
    return at


PAGES = ["train", "feature_maps", "receptive_fields", "parameter_sharing", "pooling", "resnet", "lesson"]


def test_an_image_model_with_markup_in_its_names_shows_them_as_text_on_every_page(app):
    at = load_file(app, hostile_file("lenet5-digits", CLASSES), f"{IMAGE}.safetensors")
    assert at.session_state["current_model"].info.name == NAME        # it loaded: the names are data
    assert_nothing_live(at, "train")
    assert any(as_markdown_text(NAME) in text for text in markdown_sources(at))   # and they are shown
    assert_home_shows_it_as_text(at.session_state["current_model"])
    for page in PAGES:
        at = open_page(at, page)
        assert_nothing_live(at, page)
    at = open_page(at, "feature_maps")
    (prediction,) = [m.value for m in at.markdown if m.value.startswith("**Prediction for")]
    assert any(as_markdown_text(name) in prediction for name in CLASSES)   # the class, as typed


def test_a_text_model_with_markup_in_its_names_shows_them_as_text(app):
    at = load_file(app, hostile_file("textcnn-sentiment", (MATH + LINK, TAGS + DIRECTIVE)), "model.safetensors")
    assert at.session_state["current_text_model"].info.name == NAME
    assert_nothing_live(at, "train")
    at = open_page(at, "text_cnn")
    assert_nothing_live(at, "text_cnn")
    at.radio(key="text_method").set_value("occlusion").run()
    assert_nothing_live(at, "text_cnn, occlusion")


@pytest.mark.parametrize("params", [
    {"model": IMAGE},                                          # not a zoo model
    {"features_layer": LINK},                                  # not a layer
    {MATH: "1"},                                               # a key no view uses
    {"features_channel": DIRECTIVE, "features_colour": TAGS},
])
def test_link_values_in_the_notice_are_text(app, params):
    at = new_session_from_link(app, "feature_maps", params)
    (notice,) = [w.value for w in at.warning if "settings in the link did not fit" in w.value]
    assert_nothing_live(at, "feature_maps from a link")
    key, value = next(iter(params.items()))
    assert as_markdown_text(value if key != MATH else key, limit=40)[:20] in notice   # shown, as text
