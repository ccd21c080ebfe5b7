"""Real-browser tests (Playwright driving Debian's chromium) of what AppTest cannot see.

They start `streamlit run app.py` on a free local port. Without /usr/bin/chromium they
are skipped, except in CI (CI=true), where .ci/run installs it and a skip would hide
a failure.
"""

import os
import re
import time
from pathlib import Path

import pytest

from tests.serve import CHROMIUM, CHROMIUM_ARGS, ROOT, served_app

DEFAULT_MODEL = "LeNet-5 on mnist"  # the zoo's default model, on real MNIST

PAGES = 1 + len(list(ROOT.glob("pages/[0-9]_*.py")))  # the home page and every page file

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402


def test_first_visit_of_a_new_server_straight_to_a_page_runs_it_inside_the_app():
    # Streamlit's first run in a new process treats pages/ as an old-style app; the page
    # must still show the app's navigation and the current-model panel.
    with served_app() as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/train")
        expect(page.get_by_role("heading", name="Train / load a model")).to_be_visible(timeout=30_000)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text(DEFAULT_MODEL)).to_be_visible(timeout=30_000)
        links = page.get_by_test_id("stSidebarNavLink")
        expect(links).to_have_count(PAGES)
        expect(links.nth(0)).to_contain_text("Home")
        expect(links.nth(1)).to_contain_text("Train / load")
        expect(page.get_by_text("Page not found")).to_have_count(0)
        # The first interaction keeps what was typed (widgets made in that first run are kept).
        epochs = page.get_by_label("Epochs")
        epochs.fill("2")
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_text("Trained for 2 epochs")).to_be_visible(timeout=60_000)
        browser.close()


def test_cold_start_shows_home_with_the_zoo_model(server, page):
    url, started = server
    page.goto(url)
    expect(page.get_by_role("heading", name="cnnviz: see how convolutional networks work")).to_be_visible(
        timeout=30_000)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(DEFAULT_MODEL)).to_be_visible(timeout=30_000)
    expect(sidebar.get_by_text("Parameters: 61,706")).to_be_visible()
    assert time.perf_counter() - started < 30  # generous here; the 10 s target is measured in docs/
    links = page.get_by_test_id("stSidebarNavLink")
    expect(links).to_have_count(PAGES)


def test_training_shows_progress_and_updates_the_sidebar_on_the_page(server, page):
    url, _ = server
    page.goto(f"{url}/train")
    expect(page.get_by_role("heading", name="Train / load a model")).to_be_visible(timeout=30_000)
    epochs = page.get_by_label("Epochs")
    epochs.fill("3")  # no Enter: inside the form it submits, and the click would train a second time
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("button", name="Stop training")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("Trained for 3 epochs")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Stop training")).to_have_count(0)
    # The sidebar, drawn before the page ran, is redrawn with the new model's accuracy.
    sidebar = page.get_by_test_id("stSidebar")
    result = page.get_by_text("Trained for 3 epochs").inner_text()
    accuracy = result.split("Test accuracy ")[1].split("%")[0]
    expect(sidebar.get_by_text(f"Test accuracy: {accuracy}%")).to_be_visible(timeout=10_000)


def test_stop_keeps_the_model_trained_so_far(server, page):
    url, _ = server
    page.goto(f"{url}/train")
    epochs = page.get_by_label("Epochs")
    expect(epochs).to_be_visible(timeout=30_000)
    epochs.fill("50")
    page.get_by_role("button", name="Train", exact=True).click()
    # Wait until at least two epochs have finished (the progress text says epoch 3 or later).
    expect(page.get_by_text(re.compile(r"Epoch (?:[3-9]|[1-4]\d)/50, batch"))).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Stop training").click()
    stopped = page.get_by_test_id("stMain").get_by_text("Stopped after")
    expect(stopped).to_be_visible(timeout=30_000)
    finished = int(stopped.inner_text().split("Stopped after ")[1].split(" ")[0])
    assert 2 <= finished < 50
    # A stopped run does not replace the model that was current: it is offered instead.
    expect(page.get_by_text("The current model is unchanged")).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("not made current", exact=False)).to_be_visible(timeout=10_000)
    page.get_by_role("button", name="Use the model of this run anyway").click()
    expect(sidebar.get_by_text(f"stopped after {finished} of 50 epochs", exact=False)).to_be_visible(
        timeout=30_000)


def test_clicking_a_unit_draws_its_receptive_field(server, page):
    url, _ = server
    page.goto(f"{url}/receptive_fields")
    expect(page.get_by_text("Unit (5, 5) of conv2 sees input rows 8–21, columns 8–21")).to_be_visible(
        timeout=30_000)
    plot_area = page.locator(".st-key-picker_conv2 .nsewdrag").first
    expect(plot_area).to_be_visible(timeout=30_000)
    plot_area.scroll_into_view_if_needed()
    box = plot_area.bounding_box()
    # conv2's map is 10x10 and fills the plot area: unit (1, 8) is at these fractions of it.
    page.mouse.click(box["x"] + box["width"] * (8 + 0.5) / 10, box["y"] + box["height"] * (1 + 0.5) / 10)
    # Centre 4.5 + 2*unit: rows 6.5 ± 6.5 -> 0..13, columns 20.5 ± 6.5 -> 14..27.
    expect(page.get_by_text("Unit (1, 8) of conv2 sees input rows 0–13, columns 14–27")).to_be_visible(
        timeout=30_000)
    expect(page.locator(".st-key-rf_box .shapelayer path")).to_have_count(1)   # the box on the input


def draw_vertical_stroke(page) -> None:
    """Draw one vertical line down the middle of the Feature maps canvas, as a mouse would."""
    canvas = page.locator(".st-key-features_canvas canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.85, steps=15)
    page.mouse.up()


LESSON_VIEWS = [  # each step: the heading of the page it opens, and a setting its URL must carry
    ("1. Sparse interaction", "Receptive fields", "sparse_k=3"),
    ("2. Parameter sharing", "Parameter sharing: convolution is equivariant", "eq_padding=circular"),
    ("3. Pooling", "Pooling: downsampling that buys invariance", "pool_over=test_images"),
    ("4. TextCNN", "TextCNN: convolution over words", "model=textcnn-sentiment"),
    ("5. ResNet", "ResNet: why shortcuts let deep networks train", "resnet_init=default"),
    ("6. Which pixels decided?", "Attributions: which pixels decided?", "attr_layer=relu2"),
]


def test_the_lesson_can_be_followed_end_to_end(server, page, tmp_path):
    url, _ = server
    shots = Path(os.environ.get("CNNVIZ_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/lesson")
    for number, (step, heading, setting) in enumerate(LESSON_VIEWS, start=1):
        expect(page.get_by_role("heading", name=step)).to_be_visible(timeout=30_000)
        page.screenshot(path=str(shots / f"lesson-{number}a-step.png"))
        page.get_by_role("link", name=f"Open the view for step {number}").click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)
        expect(page).to_have_url(re.compile(re.escape(setting)), timeout=30_000)
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)  # the page has finished
        page.wait_for_timeout(1000)  # let the charts draw before the picture
        expect(page.get_by_text("did not fit this view")).to_have_count(0)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        page.screenshot(path=str(shots / f"lesson-{number}b-view.png"))
        page.get_by_test_id("stSidebarNavLink").filter(has_text="Guided lesson").click()  # back to the lesson
        expect(page.get_by_role("heading", name=step)).to_be_visible(timeout=30_000)
        if number < len(LESSON_VIEWS):
            page.get_by_role("button", name="Next step").click()


def test_share_box_gives_the_link_and_one_file_with_model_and_view(server, page):
    from cnnviz import load_model_bytes, saved_view

    url, _ = server
    page.goto(f"{url}/pooling?pool_kind=avg&pool_kernel=3")
    expect(page.get_by_role("heading", name="Pooling: downsampling that buys invariance")).to_be_visible(
        timeout=60_000)
    expect(page).to_have_url(re.compile("pool_stride=2"), timeout=30_000)   # the page wrote its whole view
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Share this view").click()
    expect(sidebar.get_by_text("pool_kind=avg", exact=False)).to_be_visible()
    with page.expect_download() as download:
        sidebar.get_by_role("button", name="Model and this view in one file").click()
    data = Path(download.value.path()).read_bytes()
    view = saved_view(data)
    assert view["page"] == "pooling"
    assert view["params"]["pool_kind"] == "avg" and view["params"]["pool_kernel"] == "3"
    assert load_model_bytes(data).info.name == DEFAULT_MODEL


# --- Every page, its main control, and the uploads -------------------------------------------------------------

def app_url_paths() -> list[str]:
    """The url path of every page in the app's menu, as `navigation_pages()` lists them."""
    from unittest import mock

    from pages.common.frame import navigation_pages

    # st.Page needs a running script to resolve a page file; lend it one that knows where app.py is.
    with mock.patch("streamlit.navigation.page.get_script_run_ctx") as ctx:
        ctx.return_value.pages_manager.main_script_parent = ROOT
        return [page.url_path for page in navigation_pages()]


URL_PATHS = app_url_paths()
HEADINGS = {  # the title heading of each page
    "": "cnnviz: see how convolutional networks work",
    "train": "Train / load a model",
    "feature_maps": "Feature maps",
    "receptive_fields": "Receptive fields",
    "parameter_sharing": "Parameter sharing: convolution is equivariant",
    "pooling": "Pooling: downsampling that buys invariance",
    "text_cnn": "TextCNN: convolution over words",
    "resnet": "ResNet: why shortcuts let deep networks train",
    "attributions": "Attributions: which pixels decided?",
    "lesson": "A guided lesson: six ideas behind CNNs",
}
WITHOUT_CHARTS = {"train", "lesson"}  # no plotly chart until something is trained / opened


def settled(page, timeout: float = 60_000) -> None:
    """Wait until the app has finished running, then check that no exception is shown."""
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=timeout)
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(
        1, timeout=timeout)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def open_page(page, url: str, path: str) -> None:
    """Open the page at `path` in a new session and wait until it has finished its first run."""
    page.goto(f"{url}/{path}")
    expect(page.get_by_role("heading", name=HEADINGS[path], exact=True)).to_be_visible(timeout=60_000)
    settled(page)


def choose(page, key: str, option: str) -> None:
    """Pick `option` in the selectbox with widget key `key`."""
    box = page.locator(f".st-key-{key}")
    box.scroll_into_view_if_needed()
    # Any scroll closes an open dropdown, and chromium reports a scroll at its next frame: let that
    # frame pass before opening it (two animation frames), or the click's own scrolling may close it.
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    choice = page.get_by_role("option", name=option, exact=True)
    for attempt in range(3):  # should the dropdown close all the same, open it again
        box.get_by_role("button", name="Open").click()
        try:
            choice.click(timeout=5_000)
            return
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise


def test_every_page_is_in_the_headings_table():
    assert sorted(URL_PATHS) == sorted(HEADINGS)


def change_feature_maps_layer(page):
    titles = page.locator(".st-key-maps .gtitle")
    expect(titles.filter(has_text="6 feature maps of 28×28")).to_have_count(1, timeout=30_000)   # LeNet's conv1
    choose(page, "features_layer", "conv2")
    expect(titles.filter(has_text="16 feature maps of 10×10")).to_have_count(1, timeout=30_000)
    expect(titles).to_have_count(1)   # the old figure is gone
    expect(page.get_by_text(re.compile(r"Filters of conv2 \W*16, 6, 5, 5\b"))).to_be_visible()


def change_receptive_field_layer(page):
    expect(page.get_by_text(re.compile(r"Unit \(5, 5\) of conv2 sees input rows"))).to_be_visible(timeout=30_000)
    choose(page, "rf_layer", "conv1")
    expect(page.get_by_text(re.compile(r"Unit \(14, 14\) of conv1 sees input rows 12–16, columns 12–16"))
           ).to_be_visible(timeout=30_000)
    expect(page.locator(".st-key-picker_conv1 .main-svg").first).to_be_visible(timeout=30_000)


def change_the_shift(page):
    expect(page.get_by_text(re.compile(r"a shift of \(2, 0\) pixels|the shift \(2, 0\)"))).to_be_visible(
        timeout=30_000)
    page.locator(".st-key-eq_dx").get_by_role("slider", name="Shift right (pixels)").press("ArrowRight")
    expect(page.get_by_text(re.compile(r"a shift of \(2, 1\) pixels|the shift \(2, 1\)"))).to_be_visible(
        timeout=30_000)
    expect(page).to_have_url(re.compile(r"eq_dx=1"), timeout=30_000)


def pick_average_pooling(page):
    titles = page.locator(".st-key-pool_figure .annotation-text")
    expect(titles.filter(has_text="max pool k=2 s=2")).to_have_count(1, timeout=30_000)
    page.locator(".st-key-pool_kind").get_by_text("average", exact=True).click()
    expect(titles.filter(has_text="average pool k=2 s=2")).to_have_count(1, timeout=30_000)
    expect(titles.filter(has_text="max pool")).to_have_count(0)


def explain_another_class(page):
    titles = page.locator(".st-key-attr_grid .gtitle")
    expect(titles.filter(has_text="see class 6 (6)")).to_have_count(1, timeout=60_000)   # MNIST test image 0: a 6
    choose(page, "attr_class", "3: 3")
    expect(titles.filter(has_text="see class 3 (3)")).to_have_count(1, timeout=60_000)
    expect(titles).to_have_count(1)   # the old figure is gone


LIKELY = re.compile(r"^(?:9\d\.\d|100\.0)%$")   # a class's probability of 90% or more


def type_a_sentence(page):
    bars = page.locator(".st-key-text_probs .bartext")   # one per class: negative, positive
    expect(bars.nth(0)).to_have_text(LIKELY, timeout=30_000)   # "the plot was not good at all"
    sentence = page.get_by_label("Sentence", exact=True)
    sentence.fill("a wonderful film, never boring")
    sentence.press("Enter")
    expect(bars.nth(1)).to_have_text(LIKELY, timeout=30_000)
    expect(page.locator(".st-key-text_attributions").get_by_text("wonderful")).to_have_count(1, timeout=30_000)


RATIO = re.compile(r"^\d+(\.\d+)?(e[+-]\d+)?$")   # 2.9, 0.63, 120, 3.1e+05


def toggle_batch_norm(page):
    ratio = page.get_by_test_id("stMetricValue").first
    expect(ratio).to_have_text(RATIO, timeout=30_000)
    before = ratio.inner_text()
    page.locator(".st-key-resnet_batch_norm").get_by_text("Batch norm").click()
    expect(ratio).not_to_have_text(before, timeout=30_000)
    expect(ratio).to_have_text(RATIO)


def next_lesson_step(page):
    expect(page.get_by_role("heading", name="1. Sparse interaction")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Next step").click()
    expect(page.get_by_role("heading", name="2. Parameter sharing")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="Open the view for step 2")).to_be_visible()


MAIN_CONTROLS = {  # the Train page's control (training) has tests of its own above; Home has none
    "feature_maps": change_feature_maps_layer,
    "receptive_fields": change_receptive_field_layer,
    "parameter_sharing": change_the_shift,
    "pooling": pick_average_pooling,
    "text_cnn": type_a_sentence,
    "resnet": toggle_batch_norm,
    "attributions": explain_another_class,
    "lesson": next_lesson_step,
}


@pytest.mark.parametrize("path", URL_PATHS, ids=lambda path: path or "home")
def test_every_page_opens_cleanly_and_its_main_control_changes_what_is_shown(server, page, path):
    # One visit per page does both (each visit is a new session and a full run of the page).
    url, _ = server
    open_page(page, url, path)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    if path not in WITHOUT_CHARTS:
        expect(page.get_by_test_id("stPlotlyChart").locator(".main-svg").first).to_be_visible(timeout=30_000)
    if path in MAIN_CONTROLS:
        MAIN_CONTROLS[path](page)
        settled(page)


def test_an_uploaded_image_is_classified_and_a_broken_one_is_refused(server, page, tmp_path):
    from PIL import Image

    url, _ = server
    digit = tmp_path / "digit.png"
    pixels = Image.new("L", (28, 28))
    pixels.paste(255, (12, 4, 16, 24))   # a white vertical bar on black: a 1
    pixels.save(digit)
    broken = tmp_path / "x.png"
    broken.write_bytes(os.urandom(2000))

    open_page(page, url, "feature_maps")
    page.locator(".st-key-features_source").get_by_text("Upload", exact=True).click()
    expect(page.get_by_text("No image uploaded yet")).to_be_visible(timeout=30_000)
    uploader = page.locator(".st-key-features_upload input[type=file]")
    uploader.set_input_files(digit)
    expect(page.get_by_text("Prediction for upload 'digit.png':")).to_be_visible(timeout=30_000)
    settled(page)

    uploader.set_input_files(broken)
    expect(page.get_by_text(re.compile(r"x\.png was not used: This file is not an image that can be read"))
           ).to_be_visible(timeout=30_000)
    settled(page)
    # The last good upload stays the input, and the page still answers its controls.
    expect(page.get_by_text("Prediction for upload 'digit.png':")).to_be_visible()
    choose(page, "features_layer", "conv2")
    expect(page.locator(".st-key-maps .gtitle").filter(has_text="16 feature maps of 10×10")).to_have_count(
        1, timeout=30_000)
    settled(page)


class _Payload:
    """Unpickling this creates the file at `path`: what a model file carrying code could do."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def code_carrying_pt(path: Path) -> bytes:
    """A torch.save file that creates `path` when it is unpickled."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"conv1.weight": torch.zeros(1), "payload": _Payload(path)}, buffer)
    return buffer.getvalue()


def test_a_model_file_loads_and_a_pickle_carrying_code_is_refused(server, page, tmp_path):
    import io

    import torch

    import cnnviz

    url, _ = server
    model_file = tmp_path / "tinyvgg.safetensors"
    model_file.write_bytes(cnnviz.model_to_bytes(cnnviz.load_zoo_model("tinyvgg-shapes")))
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(code_carrying_pt(marker))
    proof = tmp_path / "proof"   # the same payload does run when unpickled without weights_only
    torch.load(io.BytesIO(code_carrying_pt(proof)), weights_only=False)
    assert proof.exists()

    open_page(page, url, "train")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(DEFAULT_MODEL)).to_be_visible()
    page.get_by_role("tab", name="Save / load a file").click()
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Load a model file").locator(
        "input[type=file]")
    uploader.set_input_files(model_file)
    expect(page.get_by_text("Loaded tinyvgg.safetensors: TinyVGG on shapes is now the current model.")
           ).to_be_visible(timeout=30_000)
    expect(sidebar.get_by_text("TinyVGG on shapes")).to_be_visible(timeout=30_000)
    expect(sidebar.get_by_text(DEFAULT_MODEL, exact=True)).to_have_count(0)
    expect(sidebar.get_by_role("button", name=f"Switch back to {DEFAULT_MODEL}")).to_be_visible()
    expect(sidebar.get_by_text("Parameters: 4,336")).to_be_visible()
    settled(page)

    uploader.set_input_files(evil)
    expect(page.get_by_text(re.compile(r"evil\.pt was not loaded: .*never unpickles"))).to_be_visible(
        timeout=30_000)
    expect(page.get_by_text("The current model is unchanged: TinyVGG on shapes.")).to_be_visible()
    settled(page)
    expect(sidebar.get_by_text("TinyVGG on shapes")).to_be_visible()
    assert not marker.exists()


def test_the_share_box_follows_a_change_made_inside_a_fragment(server, page):
    """The Feature maps layer view is a fragment: its reruns skip the rest of the page, the share box
    included, which once kept showing the old link while the address bar had the new one."""
    url, _ = server
    open_page(page, url, "feature_maps")
    choose(page, "features_layer", "conv2")
    expect(page).to_have_url(re.compile("features_layer=conv2"), timeout=30_000)
    settled(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Share this view").click()
    link = sidebar.get_by_test_id("stCode")
    expect(link).to_contain_text("features_layer=conv2", timeout=10_000)
    expect(link).to_have_count(1)  # redrawn in place, not added beside the old one


def test_an_empty_canvas_gets_no_prediction_until_something_is_drawn(server, page):
    """A vertical stroke reads as a 1; the empty canvas before it gets no prediction (it once got "4 (71%)")."""
    url, _ = server
    open_page(page, url, "feature_maps")
    page.locator(".st-key-features_source").get_by_text("Draw", exact=True).click()
    expect(page.get_by_text("No prediction for your drawing: it is blank.")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("This input is blank")).to_be_visible()
    settled(page)
    draw_vertical_stroke(page)
    expect(page.get_by_text(re.compile(r"^Prediction for your drawing: 1 \("))).to_be_visible(timeout=30_000)
    expect(page.get_by_text("This input is blank")).to_have_count(0)
    expect(page.get_by_text("No prediction for your drawing")).to_have_count(0)


def settle(page, locator, seconds: float = 10) -> None:
    """Wait until `locator` and everything in it keep their place and size for 0.5 s (a layout still moving
    would be measured half way)."""
    def layout():
        return locator.evaluate("e => [e, ...e.querySelectorAll('*')].map(n => "
                                "{const r = n.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]})")
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        now = layout()
        if now == last:
            return
        last = now
        page.wait_for_timeout(500)


def test_the_unit_picker_is_readable_on_a_1024_px_projector(server, page):
    """Issue 12, B11: at 1024 px the unit picker was ~60 px wide and the ERF's titles were clipped."""
    url, _ = server
    small = page.context.browser.new_page(viewport={"width": 1024, "height": 768})  # the sidebar stays open
    try:
        open_page(small, url, "receptive_fields")
        for key in ("picker_conv2", "erf"):
            chart = small.locator(f".st-key-{key}")
            chart.scroll_into_view_if_needed()
            plot_area = chart.locator(".nsewdrag").first
            expect(plot_area).to_be_visible(timeout=30_000)
            settle(small, chart)   # plotly resizes the chart once more after it is first drawn
            area, outer = plot_area.bounding_box(), chart.bounding_box()
            assert area["width"] >= 180 and area["height"] >= 180, (key, area)
            # Titles and colour bar lie wholly inside the chart: nothing cut off at its edges.
            expect(chart.locator(".colorbar")).to_have_count(1)
            for part in chart.locator(".gtitle, .colorbar, .cbtitle").all():
                inner = part.bounding_box()
                assert inner is not None and inner["x"] >= outer["x"] - 1 and inner["y"] >= outer["y"] - 1
                assert inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1, (key, inner, outer)
                assert inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1, (key, inner, outer)
    finally:
        small.close()


NAV_LABELS = {"": "Home", "train": "Train / load", "feature_maps": "Feature maps",
              "receptive_fields": "Receptive fields", "parameter_sharing": "Parameter sharing", "pooling": "Pooling",
              "text_cnn": "TextCNN", "resnet": "ResNet vs plain", "attributions": "Attributions",
              "lesson": "Guided lesson"}


def test_markup_in_an_uploaded_model_file_renders_as_text_on_every_page(server, page, tmp_path):
    """Issue 13: a file's names once became live links, images from another host and a KaTeX block."""
    from cnnviz.safe_text import WORD_JOINER, shorten
    from tests.app.test_hostile_names import CLASSES, NAME, hostile_file

    url, _ = server
    shown = shorten(NAME)              # one line of at most 80 characters, as typed

    def name_in_sidebar() -> None:
        panel = sidebar.get_by_test_id("stMarkdownContainer").filter(has_text="Session expired").first
        expect(panel).to_be_visible(timeout=30_000)
        assert panel.inner_text().replace(WORD_JOINER, "") == shown   # the joiners are invisible
    model_file = tmp_path / "model.safetensors"
    model_file.write_bytes(hostile_file("lenet5-digits", CLASSES))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, url, "train")
    page.get_by_role("tab", name="Save / load a file").click()
    page.get_by_test_id("stFileUploader").filter(has_text="Load a model file").locator(
        "input[type=file]").set_input_files(model_file)
    sidebar = page.get_by_test_id("stSidebar")
    name_in_sidebar()
    for path, label in NAV_LABELS.items():
        page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
        expect(page.get_by_role("heading", name=HEADINGS[path], exact=True)).to_be_visible(timeout=60_000)
        settled(page)
        for selector in ("a[href*='evil.example']", "img[src*='evil.example']", ".katex", "span[style*='90px']"):
            found = page.locator(selector)
            assert found.count() == 0, (path, [found.nth(i).evaluate("e => e.parentElement.outerHTML")
                                               for i in range(found.count())])
        if path != "text_cnn":         # that page's sidebar shows the text model
            name_in_sidebar()
    page.get_by_test_id("stSidebarNav").get_by_text("Feature maps", exact=True).click()
    settled(page)
    prediction = page.get_by_test_id("stMarkdownContainer").filter(has_text="Prediction for test image 0").first
    expect(prediction).to_be_visible()
    text = prediction.inner_text().replace(WORD_JOINER, "")
    assert any(shorten(name) in text for name in CLASSES), text   # as typed, cut to one short line
    assert not [r for r in requests if "evil.example" in r]    # nothing was fetched from the file's hosts


def test_a_costly_model_file_uploaded_in_the_browser_is_refused_and_the_app_keeps_working(server, page, tmp_path):
    """Issue 13: a 25 KB file describing a 512-channel 1x1 conv on 1024x1024 took 3.5 GB when it ran."""
    from tests.test_hostile_inputs import case_file

    url, _ = server
    costly = tmp_path / "wide.safetensors"
    costly.write_bytes(case_file("512 channels of 1024x1024"))
    open_page(page, url, "train")
    page.get_by_role("tab", name="Save / load a file").click()
    page.get_by_test_id("stFileUploader").filter(has_text="Load a model file").locator(
        "input[type=file]").set_input_files(costly)
    # the message is shown as text: a word joiner follows each ":" of it (see cnnviz.safe_text)
    expect(page.get_by_text(re.compile(r"wide\.safetensors was not loaded: This model is too costly to run here:"
                                       "\u2060? it needs 537 M multiply-adds per image"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"The current model is unchanged: {DEFAULT_MODEL}.")).to_be_visible()
    settled(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Feature maps", exact=True).click()
    expect(page.get_by_text("Prediction for test image 0 of mnist")).to_be_visible(timeout=30_000)
    settled(page)
