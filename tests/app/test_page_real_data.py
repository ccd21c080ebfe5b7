"""AppTests of the pages with the real data shipped with cnnviz and the ImageNet network.

EfficientNet-Lite0 (published ImageNet weights, 224x224 RGB, 1,000 classes) is opened through a
link (`?model=efficientnet-lite0-imagenet`), as a teacher would hand it out, in one session
(`imagenet`) that walks through the image pages: each of its runs costs about a second, so the
pages share it. The default model, LeNet-5 on the real MNIST, and training on Fashion-MNIST use
fresh sessions (`app`). Expected numbers come from the library (zoo metadata, photo labels) or
are hand-checked from the architecture (a 3x3 stem of 32 filters on 3 channels: 864 weights).

The tests near the end check what a page must say where EfficientNet differs from the small
models: a first view on a layer that computes something, readable large counts, why an option that
needs test images is missing, a window larger than the input, a saturated ReLU6, a file that loads back.
"""

import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from cnnviz import (
    ZOO,
    feature_maps,
    load_image_dataset,
    load_photo,
    load_zoo_model,
    lossless_weights_dtype,
    model_to_bytes,
    settings_from_env,
    to_model_input,
)
from cnnviz.data.photos import PHOTOS, photo_label
from cnnviz.plots.features import MAX_FEATURE_MAPS
from pages.common.i18n import t
from pages.common.words_train import ZOO_LABELS
from tests.conftest import APP, APP_TIMEOUT, chart_spec, fresh_app, open_page

IMAGENET = "efficientnet-lite0-imagenet"
IMAGENET_NAME = "EfficientNet-Lite0 on ImageNet"
IMAGENET_PARAMETERS = "4,652,008"


@pytest.fixture(scope="module")
def imagenet():
    """One session opened with a link to the ImageNet network (cleared caches), shared by its page tests."""
    at = fresh_app(IMAGENET)
    assert at.session_state["current_model"].info.name == IMAGENET_NAME
    return at


def imagenet_session(page: str | None = None) -> AppTest:
    """A new session opened with a link to the ImageNet network, on `page` (None: home); caches kept."""
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.query_params["model"] = IMAGENET
    if page is not None:
        (path,) = Path(APP).parent.glob(f"pages/*_{page}.py")
        at.switch_page(f"pages/{path.name}")
    at.run()
    assert not at.exception, at.exception
    return at


def sidebar_text(at: AppTest) -> str:
    """All text of the sidebar's current-model panel."""
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def main_texts(at: AppTest) -> list[str]:
    """Every text of the page itself (not the sidebar): markdown, captions, notes."""
    main = at.main
    return [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success")
            for e in getattr(main, kind)]


def assert_efficientnet_in_sidebar(at: AppTest) -> None:
    panel = sidebar_text(at)
    assert IMAGENET_NAME in panel and f"Parameters: {IMAGENET_PARAMETERS}" in panel, panel
    assert "Input: 3×224×224" in panel


def prediction_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "rediction for" in m.value)


def channel_titles(fig: dict) -> list[str]:
    return [a["text"] for a in fig["layout"].get("annotations", [])]


# --- EfficientNet-Lite0 on ImageNet, opened through a link ------------------------------------------

def test_a_link_opens_home_with_efficientnet_and_imagenet_photos():
    at = imagenet_session()
    assert_efficientnet_in_sidebar(at)
    assert at.session_state["current_model"].parameters == 4_652_008
    assert any(s.value == f"The current model: {IMAGENET_NAME}" for s in at.subheader)
    assert chart_spec(at, "architecture")["data"]
    # No ImageNet training images are shipped: the labelled ImageNet photos stand in, titled with their class.
    titles = channel_titles(chart_spec(at, "examples"))
    first = next(name for name in PHOTOS if name.startswith("imagenet_"))
    assert titles and titles[0] == photo_label(first).class_name
    assert not at.info                        # no "examples only for ..." note when examples are shown


def test_feature_maps_predicts_imagenet_photos_and_draws_a_block(imagenet):
    at = open_page(imagenet, "feature_maps")
    assert_efficientnet_in_sidebar(at)
    classes = at.session_state["current_model"].info.class_names
    assert len(classes) == 1000 and classes[285] == "Egyptian cat"
    # ImageNet's images are not shipped: photos and uploads only; the default photo is the cat.
    source = at.radio(key="features_source")
    assert "Data set" not in source.options and "Draw" not in source.options and source.value == "Photo"
    assert at.selectbox(key="features_photo").value == "chelsea"
    assert prediction_line(at).startswith("**Prediction for photo 'chelsea':** Egyptian cat (")
    assert "1,000 classes" in chart_spec(at, "probabilities")["layout"]["title"]["text"]
    assert any("not shipped" in c.value and "imagenet" in c.value for c in at.caption)  # no top-images search

    # A labelled ImageNet photo: its true class is shown, and EfficientNet gets it (97%).
    label = photo_label("imagenet_01")
    assert label.source == "imagenet" and label.class_name == "folding chair"
    at.selectbox(key="features_photo").set_value("imagenet_01").run()
    line = prediction_line(at)
    assert line.startswith("**Prediction for photo 'imagenet_01':** folding chair (")
    assert line.endswith("(true class: folding chair)")

    # A layer inside block 5 (a depthwise convolution's ReLU6): 240 channels, of which 64 are drawn.
    at.selectbox(key="features_layer").set_value("blocks.5.depthwise.act").run()
    assert not at.exception
    figure = chart_spec(at, "maps")
    assert f"first {MAX_FEATURE_MAPS} of 240 channels" in figure["layout"]["title"]["text"]
    assert "14×14" in figure["layout"]["title"]["text"]
    assert len(channel_titles(figure)) == MAX_FEATURE_MAPS
    assert any(f"first {MAX_FEATURE_MAPS} of the 240 channels of blocks.5.depthwise.act" in c.value
               for c in at.caption)


def test_receptive_fields_lists_every_block_up_to_851_pixels(imagenet):
    at = open_page(imagenet, "receptive_fields")
    assert_efficientnet_in_sidebar(at)
    table = at.dataframe[0].value
    size = dict(zip(table["layer"], table["size"], strict=True))
    jump = dict(zip(table["layer"], table["jump"], strict=True))
    blocks = len(at.session_state["current_model"].model.blocks)
    assert blocks == 16
    for block in range(blocks):
        assert any(name.startswith(f"blocks.{block}.") for name in size), block
    # By hand: a 3x3 stride-2 stem; then each layer adds (k - 1) x jump. Block 15's output sees 851x851
    # pixels, nearly four times the 224-pixel input, 32 pixels apart.
    assert (size["stem.conv"], jump["stem.conv"]) == ("3×3", "2×2")
    assert (size["blocks.15.project.bn"], jump["blocks.15.project.bn"]) == ("851×851", "32×32")
    assert size["head.act"] == "851×851" and size["pool"] == "—"   # global pooling: the whole input
    assert chart_spec(at, "rf_sizes")["data"] and chart_spec(at, "erf")["data"]
    assert at.radio(key="rf_source").options == ["Photo", "Upload"]


def test_parameter_sharing_measures_efficientnet(imagenet):
    at = open_page(imagenet, "parameter_sharing")
    assert_efficientnet_in_sidebar(at)
    assert at.radio(key="eq_network").value == "current"
    assert IMAGENET_NAME in at.radio(key="eq_network").options[0]
    for key in ("eq_errors", "eq_view", "eq_counts"):
        assert chart_spec(at, key)["data"], key
    counts = at.dataframe[0].value.to_dict("records")
    assert counts[0]["layer"] == "stem.conv" and counts[0]["convolution (shared)"] == 32 * 3 * 3 * 3  # 864


def test_pooling_measures_efficientnet(imagenet):
    at = open_page(imagenet, "pooling")
    assert_efficientnet_in_sidebar(at)
    for key in ("pool_figure", "pool_curves", "pool_layer_change"):
        assert chart_spec(at, key)["data"], key
    # Its one pooling layer is the global average over the last 7x7 map.
    stages = at.dataframe[0].value.to_dict("records")
    assert [(s["pooling layer"], s["input"], s["output"]) for s in stages] == [("pool", "1280×7×7", "1280×1×1")]


def test_the_lesson_opens_with_efficientnet_current(imagenet):
    at = open_page(imagenet, "lesson")
    assert_efficientnet_in_sidebar(at)
    assert at.title[0].value.startswith("A guided lesson")
    assert at.subheader[0].value == "1. Sparse interaction"
    (link,) = [p for p in at.get("page_link") if "step 1" in p.proto.label]
    assert link.proto.page == "receptive_fields"


# --- what the pages get wrong with EfficientNet ---------------------------------------------------

def test_feature_maps_opens_on_a_layer_that_computes_something():
    at = imagenet_session("feature_maps")
    layer = at.selectbox(key="features_layer").value
    module = dict(at.session_state["current_model"].model.named_modules())[layer]
    assert not isinstance(module, torch.nn.ZeroPad2d), layer
    assert not chart_spec(at, "maps")["layout"]["title"]["text"].startswith("3 feature maps")


def test_parameter_sharing_counts_are_readable(imagenet):
    at = open_page(imagenet, "parameter_sharing")
    at.selectbox(key="eq_layer").set_value("stem.conv").run()
    region = next(c.value for c in at.caption if c.value.startswith("The error is measured"))
    assert "units per channel" in region
    assert not re.search(r"\d{5,}", region), region


def test_pooling_counts_are_readable(imagenet):
    at = open_page(imagenet, "pooling")
    assert at.selectbox(key="pool_map").value == "image"    # 224x224, pooled 2x2: 112x112 windows
    winners = next(c.value for c in at.caption if c.value.startswith("Dots mark the value"))
    assert "windows are ties" in winners                               # chelsea has a few: the count is shown
    assert not re.search(r"\d{5,}", winners), winners


def test_pooling_says_why_test_images_are_not_offered(imagenet):
    at = open_page(imagenet, "pooling")
    assert at.radio(key="pool_over").options == ["this input"]
    notes = main_texts(at) + [at.radio(key="pool_over").help or ""]
    assert any("test images" in t and "imagenet" in t.lower() for t in notes)


def test_receptive_fields_says_why_test_images_are_not_offered(imagenet):
    at = open_page(imagenet, "receptive_fields")
    assert "test images" not in at.radio(key="rf_mode").options
    notes = main_texts(at) + [at.radio(key="rf_mode").help or ""]
    assert any("test images" in t and "imagenet" in t.lower() for t in notes)


def test_receptive_fields_says_a_window_is_larger_than_the_input(imagenet):
    at = open_page(imagenet, "receptive_fields")
    at.selectbox(key="rf_layer").set_value("blocks.15.project.bn").run()
    assert not at.exception
    assert any(m.value.startswith("**Unit (3, 3) of blocks.15.project.bn sees input rows 0–223") for m in at.markdown)
    assert any("851" in t for t in main_texts(at))


def test_receptive_fields_tells_a_saturated_relu6_from_a_switched_off_unit(imagenet):
    trained = imagenet.session_state["current_model"]
    prep = trained.info.preprocessing
    x = prep.apply(to_model_input(load_photo("chelsea"), prep)[None])[0]
    assert feature_maps(trained.model, x, layers=["stem.act"])["stem.act"][0, 0, 5] >= 6.0   # saturated
    at = open_page(imagenet, "receptive_fields")
    at.selectbox(key="rf_photo").set_value("chelsea")
    at.selectbox(key="rf_layer").set_value("stem.act").run()
    at.number_input(key="rf_row_stem.act").set_value(0)
    at.number_input(key="rf_col_stem.act").set_value(5).run()
    assert at.slider(key="rf_channel").value == 0 and at.radio(key="rf_mode").value == "this input"
    note = next(c.value for c in at.caption if c.value.startswith("No gradient reaches the input"))
    # The page cannot tell which of the two stopped the gradient, so it names both.
    assert "a ReLU6 on its path is saturated at 6" in note and "gives 0" in note, note


def test_efficientnet_is_not_offered_as_a_file_and_its_file_is_refused_with_the_reason(imagenet):
    at = open_page(imagenet, "train")
    assert not at.main.get("download_button")                        # no file that an upload would refuse
    assert any(i.value.startswith(f"{IMAGENET_NAME} ships with cnnviz") and f"model={IMAGENET}" in i.value
               for i in at.info)
    trained = at.session_state["current_model"]
    # A file of it all the same (float16, as it ships: 9.4 MB) is over the budget for uploaded models, and says so.
    assert lossless_weights_dtype(trained) == torch.float16
    data = model_to_bytes(trained, weights_dtype=lossless_weights_dtype(trained))
    assert 9e6 < len(data) < settings_from_env().max_upload_mb * 2**20
    at.file_uploader[0].upload("effnet.safetensors", data).run()
    assert not at.exception
    assert any("effnet.safetensors was not loaded" in e.value and "21.1 GB" in e.value for e in at.error)
    assert at.session_state["current_model"] is trained


# --- the Train page's zoo, and the default model on real MNIST ------------------------------------

def test_train_zoo_offers_efficientnet_ready_made_and_never_to_train(app):
    at = open_page(app, "train")
    zoo_select = next(s for s in at.selectbox if s.label == "Zoo model")
    assert ZOO_LABELS[IMAGENET] in zoo_select.options and ZOO[IMAGENET].prebuilt
    assert not any(c.value == t("train.zoo.prebuilt") for c in at.caption)     # LeNet-5 picked: no note
    zoo_select.set_value(IMAGENET).run()
    assert any(c.value == t("train.zoo.prebuilt") for c in at.caption)
    assert "not trained here" in t("train.zoo.prebuilt")
    architectures = at.selectbox(key="train_architecture")
    assert architectures.options == ["LeNet-5 (LeCun 1998)", "TinyVGG (CNN Explainer)"]
    assert "efficientnet" not in " ".join(architectures.options).lower()
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.exception
    assert any(s.value == f"{IMAGENET_NAME} is now the current model." for s in at.success)
    assert_efficientnet_in_sidebar(at)


def test_the_default_model_is_lenet5_on_real_mnist(app):
    zoo = load_zoo_model()
    accuracy = zoo.info.test_accuracy
    assert zoo.info.dataset == "mnist" and accuracy is not None and accuracy >= 0.97
    panel = sidebar_text(app)
    assert zoo.info.name in panel and f"Test accuracy: {accuracy:.1%}" in panel, panel
    assert "Parameters: 61,706" in panel

    at = open_page(app, "feature_maps")
    source = at.radio(key="features_source")
    assert source.options == ["Data set", "Photo", "Upload", "Draw"] and source.value == "Data set"
    mnist = load_image_dataset("mnist")
    truth = mnist.class_names[mnist.y_test[0]]
    line = prediction_line(at)
    assert line.startswith("**Prediction for test image 0 of mnist:** ")
    predicted = line.split(":** ", 1)[1].split(" (", 1)[0]
    assert predicted.isdigit() and predicted in zoo.info.class_names and line.endswith(f"(true class: {truth})")
    assert len(channel_titles(chart_spec(at, "maps"))) == 6             # conv1's 6 channels

    # A CIFAR-10 photo goes through LeNet-5 too; its CIFAR-10 label is no true class for a digit model.
    photo = next(name for name in PHOTOS if name.startswith("cifar10_"))
    at.radio(key="features_source").set_value("Photo").run()
    at.selectbox(key="features_photo").set_value(photo).run()
    assert not at.exception
    line = prediction_line(at)
    assert line.startswith(f"**Prediction for photo '{photo}'") and "true class" not in line
    assert len(channel_titles(chart_spec(at, "maps"))) == 6


def test_train_lenet5_on_fashion_mnist(app):
    at = open_page(app, "train")
    at.selectbox(key="train_dataset").set_value("fashion_mnist")
    at.number_input(key="train_epochs").set_value(1)
    at.button(key="FormSubmitter:train_form-Train").click().run()
    assert not at.exception
    info = at.session_state["current_model"].info
    assert any(s.value.startswith("Trained for 1 epoch") and "This is now the current model" in s.value
               for s in at.success), [s.value for s in at.success]
    assert info.class_names == load_image_dataset("fashion_mnist").class_names
    assert info.class_names[0] == "T-shirt/top" and len(info.class_names) == 10
    assert info.test_accuracy is not None and info.test_accuracy > 0.5
    assert f"Test accuracy: {info.test_accuracy:.1%}" in sidebar_text(at)
    assert "Data set: fashion_mnist" in sidebar_text(at)
