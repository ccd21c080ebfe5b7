"""Fixtures of the real-browser tests (tests/app/test_browser*.py): the served app and one chromium page.

Both are module-scoped: each test module gets its own server and browser, shared by its tests.
"""

import pytest

from tests.serve import CHROMIUM, CHROMIUM_ARGS, served_app


@pytest.fixture(scope="module")
def server():
    """The app served on a local port: its URL and when the server was started."""
    with served_app() as served:
        yield served


@pytest.fixture(scope="module")
def page(server):
    """A chromium page (1400×1000) for the module's tests, on Debian's chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


@pytest.fixture
def chinese_widgets(monkeypatch) -> dict:
    """Set Chinese widgets' values in a test: AppTest formats a value with the widget's `format_func` in the
    test's own thread, outside the session, where `t` gives English; there, the fixture's "language" (Chinese
    unless the test changes it: what a browser showing the page sends). The app's own runs keep their
    session's language."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from pages.common import i18n

    session_language, shown = i18n.language, {"language": "zh"}
    monkeypatch.setattr(i18n, "language", lambda: session_language() if get_script_run_ctx() else shown["language"])
    return shown
