"""Real-browser tests (Playwright driving Debian's chromium) of the Attributions page's grid of maps.

They start `streamlit run app.py` on a free local port and change the page's controls as a user does,
then read the tile titles that plotly drew (its annotations) from the page. Skipped without
/usr/bin/chromium, except in CI (CI=true), as tests/app/test_browser.py.
"""

import os
import re
from pathlib import Path

import pytest

from cnnviz.analysis.attributions import METHODS
from cnnviz.plots.attributions import METHOD_TITLES
from tests.serve import CHROMIUM

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from tests.app.test_browser import choose, settled  # noqa: E402

HEADING = "Attributions: which pixels decided?"


def titles_of(methods, layer: str) -> list[str]:
    """The grid's tile titles: the input, then each method's title, Grad-CAM's with its layer."""
    return ["input", *(METHOD_TITLES[m] + (f" · {layer}" if "grad_cam" in m else "") for m in methods)]


def open_attributions(page, url: str):
    """Open the page in a new session, wait for its grid of 9 tiles, open the methods' settings; the tile titles."""
    page.goto(f"{url}/attributions")
    expect(page.get_by_role("heading", name=HEADING, exact=True)).to_be_visible(timeout=60_000)
    settled(page)
    titles = page.locator(".st-key-attr_grid .annotation-text")   # plotly's subplot titles, one per tile
    expect(titles).to_have_count(len(METHODS) + 1, timeout=30_000)
    assert titles.all_text_contents() == titles_of(METHODS, "relu2")
    expect(page.locator(".st-key-attr_grid .gtitle")).to_contain_text("What each method says made the model see")
    page.get_by_text("Methods and their settings").click()
    expect(page.locator(".st-key-attr_layer")).to_be_visible(timeout=10_000)
    return titles


def test_changing_the_grad_cam_layer_retitles_its_tiles(server, page):
    url, _ = server
    titles = open_attributions(page, url)
    choose(page, "attr_layer", "conv2")
    expect(titles.filter(has_text="Grad-CAM · conv2")).to_have_count(2, timeout=30_000)   # and Guided Grad-CAM
    expect(titles.filter(has_text="relu2")).to_have_count(0)
    settled(page)
    assert titles.all_text_contents() == titles_of(METHODS, "conv2")
    expect(page).to_have_url(re.compile("attr_layer=conv2"), timeout=30_000)


def test_removing_a_method_removes_its_tile(server, page):
    url, _ = server
    titles = open_attributions(page, url)
    choose(page, "attr_layer", "conv2")
    expect(titles.filter(has_text="Grad-CAM · conv2")).to_have_count(2, timeout=30_000)
    settled(page)
    methods = page.locator(".st-key-attr_methods")
    methods.get_by_role("button", name="Remove Occlusion").click()
    expect(methods.locator("[data-tag]")).to_have_count(len(METHODS) - 1, timeout=10_000)   # the tag is gone
    settled(page)
    expect(titles).to_have_count(len(METHODS), timeout=10_000)
    assert titles.all_text_contents() == titles_of([m for m in METHODS if m != "occlusion"], "conv2")
    expect(page).not_to_have_url(re.compile("occlusion"), timeout=10_000)
