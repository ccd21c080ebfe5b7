"""AppTests of the guided lesson: its steps, and that every step's link opens a view it fully restores."""

from pathlib import Path
from urllib.parse import parse_qsl, urlencode

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
        (link,) = at.get("page_link")
        assert link.proto.query_string                    # the step opens its view with settings
        assert at.info and "Think about it" in at.info[0].value
        if step < 5:
            at.button(key="lesson_next").click().run()
    assert titles == ["1. Sparse interaction", "2. Parameter sharing", "3. Pooling", "4. TextCNN", "5. ResNet",
                      "6. Which pixels decided?"]
    assert at.button(key="lesson_next").disabled
    at.button(key="lesson_back").click().run()
    assert at.subheader[0].value == "5. ResNet"


@pytest.mark.parametrize("step", lesson_steps(), ids=lambda s: s.title)
def test_each_step_opens_its_page_with_all_its_settings(app, step):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP, APP_TIMEOUT

    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    for key, value in parse_qsl(urlencode(step.params)):    # as the browser sends them
        at.query_params[key] = value
    at.switch_page(step.page).run()
    assert not at.exception, at.exception
    assert not at.warning or "did not fit" not in at.warning[0].value   # every setting fits the page
    written = dict(at.query_params)
    for key, value in step.params.items():
        assert written.get(key) == value, (key, written.get(key), value)  # restored, and kept in the URL


def test_the_sparse_interaction_step_quotes_the_pages_own_counts():
    """The lesson once said 8 × 8 = 64 where the page it opens shows 48."""
    from cnnviz import connectivity

    step = lesson_steps()[0]
    counts = connectivity(int(step.params["sparse_n"]), int(step.params["sparse_k"]),
                          stride=int(step.params["sparse_stride"]), padding=int(step.params["sparse_padding"]))
    m, n, k = counts.n_outputs, int(step.params["sparse_n"]), int(step.params["sparse_k"])
    assert f"k·m = {k} × {m} = {counts.conv_connections}" in step.hint
    assert f"m·n = {m} × {n} = {counts.dense_connections}" in step.hint
    assert f"{counts.conv_weights} shared weights" in step.hint
    assert "k·n" not in step.idea + step.hint   # n is the number of inputs everywhere


def test_the_attributions_step_quotes_the_measured_correlations():
    """Its hint says Integrated Gradients survives the randomisation and Grad-CAM does not: measured here."""
    from cnnviz import load_image_dataset, load_zoo_model, sanity_check

    step = lesson_steps()[-1]
    trained = load_zoo_model(step.params["model"])
    prep = trained.info.preprocessing
    image = load_image_dataset(trained.info.dataset).x_test[0]           # the page's default input
    x = prep.apply(image[None])[0]
    target = int(trained.predict_proba(image[None])[0].argmax())
    options = dict(layer=step.params["attr_layer"], baseline=step.params["attr_baseline"], preprocessing=prep)
    ig = sanity_check(trained.model, x, "integrated_gradients", target, **options)
    cam = sanity_check(trained.model, x, "grad_cam", target, **options)
    assert f"near 1 ({ig.spearman[-1]:.2f} for this digit)" in step.hint and ig.spearman[-1] > 0.9
    assert "Grad-CAM's falls to about 0" in step.hint and abs(cam.spearman[-1]) < 0.3
