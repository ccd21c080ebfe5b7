"""AppTests of the Attributions page: Captum's maps, the sanity check and the faithfulness test, on every image model.

The default view's numbers are computed here with the public API (`cnnviz.attribute_image`, `cnnviz.sanity_check`,
`cnnviz.deletion_insertion`) for the image the page opens on (test image 0 of the bundled MNIST), with the settings
its widgets show, and compared with the page's words to the precision they are printed with.
"""

import re

import numpy as np
import plotly.colors
import pytest

from cnnviz import attribute_image, deletion_insertion, load_image_dataset, load_zoo_model, sanity_check
from cnnviz.analysis.attributions import METHODS
from cnnviz.plots.attributions import METHOD_TITLES
from tests.conftest import chart_spec, fresh_app, new_session_from_link, open_page, run_snippet

IMAGENET = "efficientnet-lite0-imagenet"
CHECKED = ["saliency", "integrated_gradients", "guided_backprop", "grad_cam"]   # the checks' default methods
VIRIDIS = plotly.colors.sequential.Viridis[0]   # the first colour of the magnitudes' scale
RDBU = plotly.colors.diverging.RdBu[0]          # ... and of the signed maps' scale

def tile_titles(fig: dict) -> list[str]:
    return [a["text"] for a in fig["layout"].get("annotations", [])]


def titles_of(methods, layer: str) -> list[str]:
    """The grid's tile titles for `methods`: the input, then each method's title, Grad-CAM's with its layer."""
    return ["input", *(METHOD_TITLES[m] + (f" · {layer}" if "grad_cam" in m else "") for m in methods)]


def map_traces(fig: dict) -> list[dict]:
    """The grid's map tiles (every trace but the input)."""
    return [trace for trace in fig["data"] if trace.get("name") != "input"]


def ig_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Integrated Gradients: the attributions add up"))


def options_shown(at) -> dict:
    """The maps' settings as the page's widgets show them (what the page passes to `attribute_image`)."""
    return dict(layer=at.selectbox(key="attr_layer").value, baseline=at.radio(key="attr_baseline").value,
                n_steps=at.slider(key="attr_steps").value, window=at.slider(key="attr_window").value,
                stride=at.slider(key="attr_stride").value)


@pytest.fixture(scope="module")
def lenet():
    """One session on the default model (LeNet-5 on the real MNIST), on the page, for the tests that only read it."""
    return open_page(fresh_app(), "attributions")


@pytest.fixture(scope="module")
def mnist_input():
    """The page's default input and class: test image 0 of MNIST, preprocessed, and the zoo model's prediction."""
    zoo = load_zoo_model()
    mnist = load_image_dataset("mnist")
    prep = zoo.info.preprocessing
    image = mnist.x_test[0]
    target = int(zoo.predict_proba(image[None])[0].argmax())
    return zoo, prep.apply(image[None])[0], target


# --- the default view -------------------------------------------------------------------------------

def test_default_view_shows_every_method_for_the_prediction(lenet, mnist_input):
    at = lenet
    zoo, _, target = mnist_input
    name = zoo.info.class_names[target]
    assert at.title[0].value == "Attributions: which pixels decided?"
    box = at.selectbox(key="attr_class")
    assert box.value == -1 and box.options[0] == f"the prediction: {name}" and len(box.options) == 11
    assert at.selectbox(key="attr_layer").value == "relu2"           # the last ReLU, as Selvaraju et al.
    assert at.multiselect(key="attr_methods").value == list(METHODS)
    assert options_shown(at) == dict(layer="relu2", baseline="black", n_steps=50, window=3, stride=1)
    assert at.toggle(key="attr_absolute").value is False
    assert chart_spec(at, "attr_probabilities")["data"]
    grid = chart_spec(at, "attr_grid")
    assert tile_titles(grid) == titles_of(METHODS, "relu2")             # input + 8 methods
    assert "Grad-CAM · relu2" in tile_titles(grid)
    assert f"class {target} ({name})" in grid["layout"]["title"]["text"]
    # Signed maps on the diverging scale, magnitudes (Saliency, SmoothGrad, Grad-CAM) on the sequential one.
    scales = {t["name"]: t["colorscale"][0][1] for t in map_traces(grid)}
    assert {n for n, c in scales.items() if c == VIRIDIS} == {"Saliency", "SmoothGrad", "Grad-CAM · relu2"}
    assert {n for n, c in scales.items() if c == RDBU} == set(tile_titles(grid)[1:]) - {
        "Saliency", "SmoothGrad", "Grad-CAM · relu2"}


def test_integrated_gradients_caption_agrees_with_the_library(lenet, mnist_input):
    zoo, x, target = mnist_input
    ig = attribute_image(zoo.model, x, "integrated_gradients", target, preprocessing=zoo.info.preprocessing,
                         **options_shown(lenet))
    caption = ig_caption(lenet)
    assert f"add up to {ig.attribution.sum():.4g}," in caption, caption
    assert f"changes by {ig.score_change:.4g} from the baseline" in caption, caption
    assert f"is {abs(ig.delta):.2g}," in caption, caption
    assert abs(ig.delta) <= 0.01 * abs(ig.score_change)
    assert caption.endswith("converged: within 1% of it.")


def test_the_sanity_verdict_fails_integrated_gradients_and_passes_grad_cam(lenet, mnist_input):
    at = lenet
    zoo, x, target = mnist_input
    assert at.multiselect(key="attr_checked").value == CHECKED
    assert chart_spec(at, "attr_sanity_curves")["data"] and chart_spec(at, "attr_sanity_maps")["data"]
    last = {m: float(sanity_check(zoo.model, x, m, target, preprocessing=zoo.info.preprocessing,
                                  **options_shown(at)).spearman[-1]) for m in CHECKED}
    verdict = next(m.value for m in at.markdown if m.value.startswith("With every layer random"))
    failing, passed = verdict.split(": on this model", 1)[0], verdict.split("Passed: ", 1)[1]
    assert last["integrated_gradients"] > 0.5 and last["grad_cam"] <= 0.5
    assert f"Integrated Gradients ({last['integrated_gradients']:.2f})" in failing, verdict
    assert f"Grad-CAM ({last['grad_cam']:.2f})" in passed, verdict
    for method, value in last.items():   # every checked method is named once, with its number
        assert verdict.count(f"{METHOD_TITLES[method]} ({value:.2f})") == 1, (method, verdict)


def test_the_faithfulness_table_has_a_row_per_checked_method_and_integrated_gradients_beats_random(
        lenet, mnist_input):
    at = lenet
    zoo, x, target = mnist_input
    assert chart_spec(at, "attr_faithfulness")["data"]
    table = at.dataframe[0].value
    rows = dict(zip(table["order of the pixels"], table["deletion AUC (lower is better)"], strict=True))
    assert list(rows) == [METHOD_TITLES[m] for m in CHECKED] + ["random order"]
    assert rows["Integrated Gradients"] < rows["random order"]
    ig = attribute_image(zoo.model, x, "integrated_gradients", target, preprocessing=zoo.info.preprocessing,
                         **options_shown(at))
    curves = deletion_insertion(zoo.model, x, ig, target, preprocessing=zoo.info.preprocessing)
    assert rows["Integrated Gradients"] == pytest.approx(round(curves.deletion_auc, 3), abs=1e-3)
    assert rows["random order"] == pytest.approx(round(curves.random_deletion_auc, 3), abs=1e-3)


# --- changed settings -------------------------------------------------------------------------------

def test_class_layer_baseline_steps_and_magnitudes_change_the_grid(app, mnist_input):
    zoo, x, predicted = mnist_input
    at = open_page(app, "attributions")
    other = (predicted + 3) % 10
    at.selectbox(key="attr_class").set_value(other).run()
    at.selectbox(key="attr_layer").set_value("conv1").run()
    at.radio(key="attr_baseline").set_value("blurred").run()
    at.slider(key="attr_steps").set_value(20).run()
    at.toggle(key="attr_absolute").set_value(True).run()
    assert not at.exception
    grid = chart_spec(at, "attr_grid")
    assert f"class {other} ({zoo.info.class_names[other]})" in grid["layout"]["title"]["text"]
    assert tile_titles(grid) == titles_of(METHODS, "conv1")
    assert all(t["colorscale"][0][1] == VIRIDIS and t["zmin"] == 0 for t in map_traces(grid))   # all magnitudes
    assert "zmid" not in str(grid["data"][1:])
    # Integrated Gradients used the blurred baseline and 20 steps, for the class picked.
    ig = attribute_image(zoo.model, x, "integrated_gradients", other, preprocessing=zoo.info.preprocessing,
                         **options_shown(at))
    assert options_shown(at)["baseline"] == "blurred" and options_shown(at)["n_steps"] == 20
    assert f"add up to {ig.attribution.sum():.4g}," in ig_caption(at)
    assert f"changes by {ig.score_change:.4g} from the baseline" in ig_caption(at)


def test_fewer_methods_and_fewer_checks(app):
    at = open_page(app, "attributions")
    at.multiselect(key="attr_methods").set_value(["integrated_gradients", "grad_cam"]).run()
    at.selectbox(key="attr_layer").set_value("conv1").run()
    assert at.multiselect(key="attr_methods").value == ["integrated_gradients", "grad_cam"]
    assert tile_titles(chart_spec(at, "attr_grid")) == titles_of(["integrated_gradients", "grad_cam"], "conv1")
    at.multiselect(key="attr_checked").set_value(["saliency", "grad_cam"]).run()
    assert list(at.dataframe[0].value["order of the pixels"]) == ["Saliency", "Grad-CAM", "random order"]
    at.multiselect(key="attr_methods").set_value([]).run()
    assert any(i.value == "Pick at least one method." for i in at.info)


# --- every image model ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["tinyvgg-fashion_mnist", "lenet5-digits", "tinyvgg-shapes"])
def test_every_small_image_model(key):
    at = open_page(fresh_app(key), "attributions")
    assert not at.exception
    grid = chart_spec(at, "attr_grid")
    layer = at.selectbox(key="attr_layer").value
    assert layer.startswith("relu") and tile_titles(grid) == titles_of(METHODS, layer)
    for chart in ("attr_sanity_curves", "attr_sanity_maps", "attr_faithfulness"):
        assert chart_spec(at, chart)["data"], chart
    assert any(m.value.startswith("With every layer random") for m in at.markdown)
    assert list(at.dataframe[0].value["order of the pixels"])[-1] == "random order"


def test_efficientnet_leaves_out_the_slow_methods_and_the_sanity_check_and_waits_for_the_faithfulness_test():
    at = open_page(fresh_app(IMAGENET), "attributions")
    assert not at.exception
    # The prediction for the cat photo, in the class box and the grid's title.
    assert at.radio(key="attr_source").value == "Photo" and at.selectbox(key="attr_photo").value == "chelsea"
    assert at.selectbox(key="attr_class").options[0] == "the prediction: Egyptian cat"
    grid = chart_spec(at, "attr_grid")
    assert "class 285 (Egyptian cat)" in grid["layout"]["title"]["text"]
    shown = [m for m in METHODS if m not in ("smoothgrad", "occlusion")]
    assert at.multiselect(key="attr_methods").value == shown
    layer = at.selectbox(key="attr_layer").value
    assert tile_titles(grid) == titles_of(shown, layer) and len(tile_titles(grid)) == 7
    # 99 layers with weights: no sanity check, and the page says why.
    assert any("has 99 layers with weights" in i.value and "at most 20" in i.value for i in at.info)
    charts = [e.proto.id for e in at.get("plotly_chart")]
    assert not any(k in c for c in charts for k in ("attr_sanity_curves", "attr_sanity_maps", "attr_faithfulness"))
    assert not at.dataframe
    # The faithfulness test runs when asked for.
    at.toggle(key="attr_run_faithfulness").set_value(True).run()
    assert not at.exception
    curves = chart_spec(at, "attr_faithfulness")
    aucs = [t["name"] for t in curves["data"] if re.search(r"\(AUC \d\.\d{3}\)$", t.get("name", ""))]
    assert len(aucs) == 2 * (len(CHECKED) + 1)    # each checked method and the random order, in both panels
    table = at.dataframe[0].value
    assert list(table["order of the pixels"]) == [METHOD_TITLES[m] for m in CHECKED] + ["random order"]
    assert np.isfinite(table["deletion AUC (lower is better)"].to_numpy(dtype=float)).all()


# --- shareable links and the reproducible figure ----------------------------------------------------

def test_a_link_restores_the_settings_and_a_garbled_one_falls_back(app):
    at = open_page(app, "attributions")
    at.selectbox(key="attr_class").set_value(3).run()
    at.selectbox(key="attr_layer").set_value("conv1").run()
    at.radio(key="attr_baseline").set_value("blurred").run()
    at.slider(key="attr_steps").set_value(20).run()
    at.slider(key="attr_window").set_value(5).run()
    at.slider(key="attr_stride").set_value(2).run()
    at.toggle(key="attr_absolute").set_value(True).run()
    shared = new_session_from_link(at, "attributions")
    assert (shared.selectbox(key="attr_class").value, shared.toggle(key="attr_absolute").value,
            options_shown(shared)) == (3, True, dict(layer="conv1", baseline="blurred", n_steps=20, window=5,
                                                     stride=2))
    grid = chart_spec(shared, "attr_grid")
    assert "class 3 (3)" in grid["layout"]["title"]["text"] and "Grad-CAM · conv1" in tile_titles(grid)
    assert all(t["colorscale"][0][1] == VIRIDIS for t in map_traces(grid))

    garbled = new_session_from_link(at, "attributions", {
        "attr_class": "70", "attr_layer": "conv9", "attr_baseline": "grey", "attr_steps": "15",
        "attr_window": "99", "attr_absolute": "maybe"})
    assert (garbled.selectbox(key="attr_class").value, garbled.toggle(key="attr_absolute").value,
            options_shown(garbled)) == (-1, False, dict(layer="relu2", baseline="black", n_steps=50, window=3,
                                                        stride=2))
    notice = garbled.warning[0].value
    assert all(f"{name}=" in notice for name in ("attr_class", "attr_layer", "attr_baseline", "attr_steps",
                                                 "attr_window", "attr_absolute")), notice
    assert "attr_stride=" not in notice                          # a valid value is kept
    assert tile_titles(chart_spec(garbled, "attr_grid"))[6] == "Grad-CAM · relu2"


def test_a_link_restores_the_methods_without_a_notice(lenet):
    own = new_session_from_link(lenet, "attributions")        # the page's own default view
    assert not own.warning, own.warning[0].value
    assert dict(own.query_params)["attr_checked"] == "saliency,integrated_gradients,guided_backprop,grad_cam"
    two = new_session_from_link(lenet, "attributions", {"attr_methods": "integrated_gradients,grad_cam",
                                                        "attr_checked": "grad_cam"})
    assert not two.warning, two.warning[0].value
    assert tile_titles(chart_spec(two, "attr_grid")) == titles_of(["integrated_gradients", "grad_cam"], "relu2")


def test_the_snippet_reproduces_the_grid(app):
    at = open_page(app, "attributions")
    run_snippet(at, "attr_grid")                                  # the default: test image 0, every method
    at.radio(key="attr_source").set_value("Photo").run()
    at.selectbox(key="attr_photo").set_value("coffee").run()
    at.selectbox(key="attr_class").set_value(2).run()
    at.selectbox(key="attr_layer").set_value("conv2").run()
    at.radio(key="attr_baseline").set_value("noise").run()
    at.toggle(key="attr_absolute").set_value(True).run()
    assert not at.exception
    assert "class 2 (2)" in chart_spec(at, "attr_grid")["layout"]["title"]["text"]
    run_snippet(at, "attr_grid")


def test_a_blank_drawing_gets_no_maps_and_says_why(app):
    at = open_page(app, "attributions")
    at.radio(key="attr_source").set_value("Draw").run()                   # an empty canvas
    assert not at.exception
    assert any(m.value.startswith("**No attributions for your drawing:** it is blank") for m in at.markdown)
    assert not [c for c in at.get("plotly_chart") if "attr_grid" in c.proto.id]   # no map of nothing
