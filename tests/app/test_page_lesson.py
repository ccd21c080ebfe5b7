"""AppTests of the guided lesson: its steps, and that every step's link opens a view it fully restores."""

from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pytest

from tests.conftest import open_page


def lesson_steps():
    """The STEPS of pages/8_lesson.py, read without running Streamlit."""
    source = Path(__file__).resolve().parents[2] / "pages" / "8_lesson.py"
    text = source.read_text()
    namespace: dict = {}
    # Only the data: the step definitions come before the page's first Streamlit call.
    exec(compile(text[:text.index("frame = page_frame()")], str(source), "exec"), namespace)
    return namespace["STEPS"]


def test_the_lesson_walks_through_the_six_ideas_in_order(app):
    at = open_page(app, "lesson")
    titles = []
    for step in range(6):
        titles.append(at.subheader[0].value)
        link = at.get("page_link")[0]
        assert link.proto.query_string                    # the step opens its view with settings
        assert at.info and "Think about it" in at.info[0].value
        if step < 5:
            at.button(key="lesson_next").click().run()
    assert titles == ["1. Sparse interaction", "2. Parameter sharing", "3. Pooling", "4. TextCNN", "5. ResNet",
                      "6. Which pixels decided?"]
    assert at.button(key="lesson_next").disabled
    at.button(key="lesson_back").click().run()
    assert at.subheader[0].value == "5. ResNet"


def lesson_views():
    """Every view the lesson links to: (id, page, settings)."""
    views = []
    for step in lesson_steps():
        views.append((step.key, step.view.page, step.view.params))
        if step.also is not None:
            views.append((f"{step.key}: also", step.also.page, step.also.params))
    return views


def words(step, part: str, language: str = "en") -> str:
    """A step's words from the catalogue of `language`."""
    from pages.common.i18n import catalogue

    return catalogue(language)[f"lesson.{step.key}.{part}"]


def open_view(page: str, params: dict):
    """A new session opened by a link to `page` with `params`, as the browser sends them."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP, APP_TIMEOUT

    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    for key, value in parse_qsl(urlencode(params)):
        at.query_params[key] = value
    return at.switch_page(page).run()


@pytest.mark.parametrize("page, params", [v[1:] for v in lesson_views()], ids=[v[0] for v in lesson_views()])
def test_each_view_of_the_lesson_opens_its_page_with_all_its_settings(app, page, params):
    at = open_view(page, params)
    assert not at.exception, at.exception
    assert not at.warning or "did not fit" not in at.warning[0].value   # every setting fits the page
    written = dict(at.query_params)
    for key, value in params.items():
        assert written.get(key) == value, (key, written.get(key), value)  # restored, and kept in the URL


def test_the_first_step_shows_one_value_of_conv1_computed_and_its_hint_counts_hold(app):
    """The lesson's first step opens the convolution step-through, expanded, at the position it names."""
    from cnnviz import convolution_step, load_zoo_model

    at = open_page(app, "lesson")
    links = at.get("page_link")
    assert len(links) == 2 and "step by step" in links[1].proto.label
    view = lesson_steps()[0].also
    at = open_view(view.page, view.params)
    (expander,) = [e for e in at.expander if e.label == "One value of conv1, step by step"]
    assert expander.proto.expanded                              # the link opens the step-through
    assert [n.value for n in at.number_input if n.label.startswith("Output")] == [14, 14]
    # The hint's numbers: 25 of the 784 pixels, and 10 padding cells at row 0.
    trained = load_zoo_model(view.params["model"])
    x = trained.info.preprocessing.apply(np.zeros((1, 1, 28, 28), np.float32))[0]  # the counts ignore values
    centre = convolution_step(trained.model, x, "conv1", 0, (14, 14))
    top = convolution_step(trained.model, x, "conv1", 0, (0, 14))
    hint, chinese = words(lesson_steps()[0], "hint"), words(lesson_steps()[0], "hint", "zh")
    assert centre.patch.size == 25 and not centre.padded.any()
    assert f"uses {centre.patch.size} of the {28 * 28} pixels" in hint
    assert f"{int(top.padded.sum())} of its {top.patch.size} cells are padding" in hint
    assert f"{28 * 28} 个像素中的 {centre.patch.size} 个" in chinese
    assert f"{top.patch.size} 个格子中有 {int(top.padded.sum())} 个是填充" in chinese


def test_the_sparse_interaction_step_quotes_the_pages_own_counts():
    """The lesson once said 8 × 8 = 64 where the page it opens shows 48."""
    from cnnviz import connectivity

    step = lesson_steps()[0]
    params = step.view.params
    counts = connectivity(int(params["sparse_n"]), int(params["sparse_k"]),
                          stride=int(params["sparse_stride"]), padding=int(params["sparse_padding"]))
    m, n, k = counts.n_outputs, int(params["sparse_n"]), int(params["sparse_k"])
    shared_weights = {"en": f"{counts.conv_weights} shared weights", "zh": f"{counts.conv_weights} 个共享权重"}
    for language, shared in shared_weights.items():
        hint = words(step, "hint", language)
        assert f"k·m = {k} × {m} = {counts.conv_connections}" in hint
        assert f"m·n = {m} × {n} = {counts.dense_connections}" in hint
        assert shared in hint
        assert "k·n" not in words(step, "idea", language) + hint   # n is the number of inputs everywhere


def test_the_attributions_step_quotes_the_measured_correlations():
    """Its hint says Integrated Gradients survives the randomisation and Grad-CAM does not: measured here."""
    from cnnviz import load_image_dataset, load_zoo_model, sanity_check

    step = lesson_steps()[-1]
    params = step.view.params
    trained = load_zoo_model(params["model"])
    prep = trained.info.preprocessing
    image = load_image_dataset(trained.info.dataset).x_test[0]           # the page's default input
    x = prep.apply(image[None])[0]
    target = int(trained.predict_proba(image[None])[0].argmax())
    options = dict(layer=params["attr_layer"], baseline=params["attr_baseline"], preprocessing=prep)
    ig = sanity_check(trained.model, x, "integrated_gradients", target, **options)
    cam = sanity_check(trained.model, x, "grad_cam", target, **options)
    hint, chinese = words(step, "hint"), words(step, "hint", "zh")
    assert f"near 1 ({ig.spearman[-1]:.2f} for this digit)" in hint and ig.spearman[-1] > 0.9
    assert f"接近 1（这个数字为 {ig.spearman[-1]:.2f}）" in chinese
    assert "Grad-CAM's falls to about 0" in hint and abs(cam.spearman[-1]) < 0.3
    assert "Grad-CAM 的秩相关降到约 0" in chinese
