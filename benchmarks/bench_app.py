"""The app as a user meets it, timed in a real browser (not part of the tests).

    python -m benchmarks.bench_app

1. Cold start: from `streamlit run app.py` to a home page that shows the zoo model
   in the sidebar (target: 10 s on 2 cores).
2. Training LeNet-5 on digits through the Train / load page with the default
   settings: from the click on Train to the result, and the test accuracy reached
   (target: at least 98% within 10 s).
Needs playwright (pip) and Debian's chromium.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect, sync_playwright

from tests.serve import CHROMIUM, CHROMIUM_ARGS, served_app


def main() -> None:
    with served_app() as (url, started), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        expect(page.get_by_test_id("stSidebar").get_by_text("LeNet-5 on digits")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("heading", name="Examples from digits")).to_be_visible(timeout=60_000)
        cold = time.perf_counter() - started
        print(f"cold start to rendered home with the zoo model: {cold:.2f} s")

        page.goto(f"{url}/train")
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_visible(timeout=30_000)
        click = time.perf_counter()
        page.get_by_role("button", name="Train", exact=True).click()
        done = page.get_by_text(re.compile(r"Trained for \d+ epochs"))
        expect(done).to_be_visible(timeout=120_000)
        seconds = time.perf_counter() - click
        message = done.inner_text()
        print(f"training through the UI with default settings: {seconds:.2f} s from click to result")
        print(f"  {message}")
        browser.close()


if __name__ == "__main__":
    main()
