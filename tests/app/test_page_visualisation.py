"""AppTests of Feature maps' "what the channel wants to see" (issue 18, part 1) on every zoo image model.

Each test reads the page's own report ("**Activation** of ...: **7.34** for the optimised image; the
strongest of the 1,000 test images reaches 6.43 ...") and the chart's data. EfficientNet-Lite0 runs on
request only, with 16 steps here so the test stays at seconds.
"""

import re

import numpy as np
import pytest
import torch

from cnnviz import load_zoo_model
from tests.conftest import chart_spec, fresh_app, new_session_from_link, open_page, plotly_array


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread, as the app runs (cnnviz.settings): on a busy 2-core machine two threads made each
    optimisation 5 to 50 times slower (a second thread waits for a busy core at every small convolution)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


REPORT = re.compile(r"\*\*(-?\d+\.\d+)\*\* for the (.*?); the strongest of the ([\d,]+) (.*?) reaches (-?\d+\.\d+)")


def report(at) -> tuple[float, float, str]:
    """(the optimised image's activation, the strongest real image's, the whole line) from the page."""
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Activation**")]
    found = REPORT.search(line)
    assert found, line
    return float(found.group(1)), float(found.group(5)), line


def shown_images(at) -> tuple[str, np.ndarray]:
    """The image trace's type and its data: (rows, cols) for grey, (rows, cols, 3) for colour."""
    image = chart_spec(at, "visualisation")["data"][0]
    assert image["name"] == "images"
    return image["type"], plotly_array(image["z"])


def optimise(at):
    """Click "Optimise an image" (a large model waits for it)."""
    at.button(key="vis_run").click().run()
    assert not at.exception, at.exception
    return at


# Zoo model -> (the default layer's centre unit, its window as the test crops show it, the shown region's side)
SMALL = {"lenet5-mnist": ("conv1", (14, 14), 9), "tinyvgg-fashion_mnist": ("conv1", (13, 13), 7),
         "lenet5-digits": ("conv1", (14, 14), 9), "tinyvgg-shapes": ("conv1", (15, 15), 7)}


@pytest.mark.parametrize("model", list(SMALL))
def test_default_and_changed_settings_on_a_small_model(model):
    layer, unit, side = SMALL[model]
    at = open_page(fresh_app(model), "feature_maps")
    assert not [b for b in at.button if b.key == "vis_run"]           # small: optimised at once, no click
    kind, z = shown_images(at)
    assert kind == "heatmap" and z.shape == (side, side)              # grey: the unit's window and a margin
    value, best, line = report(at)
    assert f"unit {unit} of channel 0 of {layer}" in line and "test images" in line
    assert value > best, line
    assert any("not what the channel *is*" in c.value for c in at.caption)

    at.slider(key="features_channel").set_value(2).run()
    at.slider(key="vis_images").set_value(2).run()
    assert not at.exception
    kind, z = shown_images(at)
    assert kind == "heatmap" and z.shape == (side, 2 * side + max(1, side // 8))   # two tiles and a gap
    value, best, line = report(at)
    assert f"channel 2 of {layer}" in line and "strongest of the 2 optimised images (all: " in line
    assert value > best, line

    at.radio(key="vis_target").set_value("channel").run()
    kind, z = shown_images(at)
    size = load_zoo_model(model).info.preprocessing.size
    assert z.shape == (size, 2 * size + size // 8)                   # whole images for the whole channel
    value, best, line = report(at)
    assert f"**Activation** of channel 2 of {layer}:" in line and value > best, line


def test_efficientnet_waits_for_a_click_and_gives_colour_images():
    at = open_page(fresh_app("efficientnet-lite0-imagenet"), "feature_maps")
    assert not [c for c in at.get("plotly_chart") if "visualisation" in c.proto.id]
    assert any("takes a while" in c.value for c in at.caption)
    at.slider(key="vis_steps").set_value(16).run()
    kind, z = shown_images(optimise(at))
    assert kind == "image" and z.shape == (7, 7, 3)                  # stem.conv's 3x3 window and a margin of 2
    value, best, line = report(at)
    assert "the strongest of the 20 imagenet photos" in line and value > best, line

    at.slider(key="features_channel").set_value(5).run()
    at.slider(key="vis_images").set_value(2).run()
    kind, z = shown_images(optimise(at))
    assert kind == "image" and z.shape == (7, 15, 3)
    value, best, line = report(at)
    assert "unit (56, 56) of channel 5 of stem.conv" in line and value > best, line


def test_a_second_session_looks_the_image_up(monkeypatch):
    import pages.common.visualisation_view as view

    calls = []
    original = view.visualise_channel
    monkeypatch.setattr(view, "visualise_channel", lambda *a, **k: calls.append(k) or original(*a, **k))
    first = open_page(fresh_app(), "feature_maps")
    again = new_session_from_link(first, "feature_maps")              # same process, same store, no cleared caches
    assert len(calls) == 1                                            # computed once, for the first session
    assert chart_spec(again, "visualisation")["data"] == chart_spec(first, "visualisation")["data"]
    assert report(again) == report(first)


def test_a_link_carries_the_settings():
    at = open_page(fresh_app(), "feature_maps")
    at.radio(key="vis_target").set_value("channel").run()
    at.slider(key="vis_steps").set_value(64).run()
    at.number_input(key="vis_seed").set_value(7).run()
    at.radio(key="vis_parameterisation").set_value("pixel").run()
    shared = new_session_from_link(at, "feature_maps")
    assert (shared.radio(key="vis_target").value, shared.slider(key="vis_steps").value,
            shared.number_input(key="vis_seed").value, shared.radio(key="vis_parameterisation").value) == (
        "channel", 64, 7, "pixel")
    assert report(shared) == report(at)


def test_the_snippet_reproduces_the_figure():
    from tests.conftest import run_snippet

    at = open_page(fresh_app(), "feature_maps")
    run_snippet(at, "visualisation", "plot_feature_visualisation")
    at.selectbox(key="features_layer").set_value("relu2").run()
    at.slider(key="vis_images").set_value(2).run()
    at.slider(key="vis_steps").set_value(64).run()
    run_snippet(at, "visualisation", "plot_feature_visualisation")


def test_a_hosted_demo_caps_the_steps(monkeypatch):
    import streamlit as st

    monkeypatch.setenv("CNNVIZ_HOSTED", "1")
    try:
        at = open_page(fresh_app(), "feature_maps")                  # fresh_app clears app_settings' cache
        assert at.slider(key="vis_steps").max == 256 and at.slider(key="vis_steps").value == 256
    finally:
        monkeypatch.delenv("CNNVIZ_HOSTED")
        st.cache_resource.clear()                                    # the next test reads the settings again
