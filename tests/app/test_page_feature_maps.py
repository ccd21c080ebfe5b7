"""AppTests of the Feature maps page: default view, other layers and inputs, uploads, other models."""

import io

import numpy as np
from PIL import Image

from cnnviz import load_image_dataset, load_zoo_model, spatial_layers
from pages.common.session import zoo_copy
from tests.conftest import chart_spec, open_page


def channel_titles(fig: dict) -> list[str]:
    return [a["text"] for a in fig["layout"].get("annotations", [])]


def test_default_view_predicts_test_image_0_and_shows_conv1(app):
    at = open_page(app, "feature_maps")
    zoo = load_zoo_model()
    digits = load_image_dataset(zoo.info.dataset)                      # real MNIST: the default model's own
    assert digits.name == "mnist" and len(digits.x_test) == 1000
    probabilities = zoo.predict_proba(digits.x_test[:1])[0]
    predicted = zoo.info.class_names[int(probabilities.argmax())]
    prediction = next(m.value for m in at.markdown if m.value.startswith("**Prediction"))
    assert f"** {predicted} (" in prediction and f"true class: {digits.class_names[digits.y_test[0]]}" in prediction
    layer_box = at.selectbox(key="features_layer")
    assert layer_box.options == spatial_layers(zoo.model, (1, 28, 28)) and layer_box.value == "conv1"
    assert len(channel_titles(chart_spec(at, "maps"))) == 6          # conv1 has 6 channels
    assert len(channel_titles(chart_spec(at, "top_crops"))) == 8     # the top 8 test images
    assert any("5×5 input window" in c.value for c in at.caption)  # conv1's receptive field


def test_other_layer_scale_channel_and_class(app):
    at = open_page(app, "feature_maps")
    at.radio(key="features_by").set_value("class").run()
    at.selectbox(key="features_class").set_value(7).run()
    at.selectbox(key="features_layer").set_value("conv2").run()
    at.toggle(key="features_per_channel").set_value(True).run()
    at.slider(key="features_channel").set_value(5).run()
    assert not at.exception
    assert len(channel_titles(chart_spec(at, "maps"))) == 16          # conv2 has 16 channels
    assert any("channel 5 of conv2" in c.value and "14×14 input window" in c.value for c in at.caption)
    prediction = next(m.value for m in at.markdown if m.value.startswith("**Prediction"))
    assert "true class: 7" in prediction


def test_photo_and_upload_inputs(app):
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Photo").run()
    at.selectbox(key="features_photo").set_value("coffee").run()
    assert any("photo 'coffee'" in m.value for m in at.markdown)

    at.radio(key="features_source").set_value("Upload").run()
    assert any("chelsea" in i.value for i in at.info)              # a stand-in until something is uploaded
    png = io.BytesIO()
    Image.fromarray((np.eye(40) * 255).astype(np.uint8)).save(png, format="PNG")
    at.file_uploader(key="features_upload").upload("diagonal.png", png.getvalue(), "image/png").run()
    assert not at.exception
    assert any("upload 'diagonal.png'" in m.value for m in at.markdown)


def test_a_bad_upload_gets_a_message_and_the_previous_input_stays(app):
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    png = io.BytesIO()
    Image.new("L", (30, 30), 255).save(png, format="PNG")
    at.file_uploader(key="features_upload").upload("white.png", png.getvalue(), "image/png").run()
    at.file_uploader(key="features_upload").clear().upload("broken.png", png.getvalue()[:40], "image/png").run()
    assert not at.exception
    assert any("broken.png was not used" in e.value for e in at.error)
    assert any("upload 'white.png'" in m.value for m in at.markdown)


def test_tiny_vgg_on_shapes(app):
    app.session_state["current_model"] = zoo_copy("tinyvgg-shapes")
    app.run()
    at = open_page(app, "feature_maps")
    assert at.selectbox(key="features_layer").options[-1] == "pool4"
    assert "Draw" in at.radio(key="features_source").options     # one-channel model
    at.selectbox(key="features_layer").set_value("conv3").run()
    assert not at.exception
    assert len(channel_titles(chart_spec(at, "maps"))) == 10


# --- shareable links and reproducible figures ---------------------------------------------------

def test_a_link_restores_the_view_and_a_garbled_one_falls_back(app):
    from tests.conftest import new_session_from_link

    at = open_page(app, "feature_maps")
    at.radio(key="features_by").set_value("class").run()
    at.selectbox(key="features_class").set_value(7).run()
    at.number_input(key="features_nth").set_value(2).run()
    at.selectbox(key="features_layer").set_value("conv2").run()
    at.toggle(key="features_per_channel").set_value(True).run()
    at.slider(key="features_channel").set_value(12).run()               # conv2 has 16 channels, conv1 6
    shared = new_session_from_link(at, "feature_maps")
    assert (shared.radio(key="features_by").value, shared.selectbox(key="features_class").value,
            shared.number_input(key="features_nth").value, shared.selectbox(key="features_layer").value,
            shared.toggle(key="features_per_channel").value, shared.slider(key="features_channel").value) == (
        "class", 7, 2, "conv2", True, 12)
    assert len(channel_titles(chart_spec(shared, "maps"))) == 16
    assert not shared.warning

    garbled = new_session_from_link(at, "feature_maps", {
        "features_by": "colour", "features_class": "70", "features_layer": "conv9",
        "features_per_channel": "maybe", "features_channel": "twelve", "model": "resnet-1000"})
    assert (garbled.radio(key="features_by").value, garbled.selectbox(key="features_layer").value,
            garbled.toggle(key="features_per_channel").value, garbled.slider(key="features_channel").value) == (
        "index", "conv1", False, 0)
    notice = garbled.warning[0].value
    assert all(name in notice for name in ("features_by", "features_layer", "features_per_channel",
                                           "features_channel", "model"))
    assert "features_class (not used in this view)" in notice   # picking by index: the class box is not shown

    out_of_range = new_session_from_link(at, "feature_maps", {"features_nth": "-1", "features_class": "70",
                                                              "features_channel": "16"})
    assert (out_of_range.selectbox(key="features_class").value, out_of_range.number_input(key="features_nth").value,
            out_of_range.slider(key="features_channel").value) == (0, 0, 0)
    notice = out_of_range.warning[0].value
    assert all(name in notice for name in ("features_class", "features_nth", "features_channel"))


def test_the_snippet_reproduces_the_feature_maps(app):
    from tests.conftest import run_snippet

    at = open_page(app, "feature_maps")
    run_snippet(at, "maps", "plot_feature_maps")                      # default: test image 0, conv1, one scale
    run_snippet(at, "conv_numbers", "plot_convolution_step")          # conv1's one value, step by step
    at.radio(key="features_source").set_value("Photo").run()
    at.selectbox(key="features_photo").set_value("coffee").run()
    at.selectbox(key="features_layer").set_value("pool2").run()
    at.toggle(key="features_per_channel").set_value(True).run()
    run_snippet(at, "maps", "plot_feature_maps")


# --- blank and inverted inputs (issue 12, B10) -----------------------------------------------------

def prediction_line(at) -> str:
    return next(m.value for m in at.markdown if "rediction for" in m.value)


def png_of(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_empty_canvas_gets_no_prediction(app):
    # AppTest cannot draw: the canvas gives no image, which the page reads as the empty black box.
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Draw").run()
    line = prediction_line(at)
    assert line.startswith("**No prediction for your drawing:** it is blank.")
    assert "a high probability does not mean the input shows anything" in line
    assert any(w.value.startswith("This input is blank") and "Draw something in the box" in w.value
               for w in at.warning)


def test_a_white_upload_is_blank(app):
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    at.file_uploader(key="features_upload").upload("white.png", png_of(np.full((30, 30), 255, np.uint8)),
                                                   "image/png").run()
    assert prediction_line(at).startswith("**No prediction for upload 'white.png':** it is blank.")
    assert any(w.value.startswith("This input is blank") for w in at.warning)


def test_a_black_on_white_digit_is_inverted_and_can_be_shown_as_it_is(app):
    zoo = load_zoo_model()
    digits = load_image_dataset(zoo.info.dataset)
    index = int(np.flatnonzero(digits.y_test == 7)[0])
    original = digits.x_test[index]
    assert zoo.info.class_names[int(zoo.predict_proba(original[None])[0].argmax())] == "7"
    black_on_white = np.round((1 - original[0]) * 255).astype(np.uint8)   # a 7 as a student draws it on paper
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    at.file_uploader(key="features_upload").upload("seven.png", png_of(black_on_white), "image/png").run()
    assert not at.exception
    assert at.toggle(key="features_invert").value is True
    assert any(i.value.startswith(f"Inverted: this image is dark on a light background and {zoo.info.name} "
                                  "was trained on images that are light on a dark background") for i in at.info)
    assert prediction_line(at).startswith("**Prediction for upload 'seven.png', inverted:** 7 (")
    at.toggle(key="features_invert").set_value(False).run()
    line = prediction_line(at)
    assert line.startswith("**Prediction for upload 'seven.png':**") and "inverted" not in line
    assert any("its prediction for the image as it is means little" in w.value for w in at.warning)


def test_a_white_on_black_upload_and_a_photo_are_not_inverted(app):
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    bar = np.zeros((28, 28), np.uint8)
    bar[4:24, 12:16] = 255
    at.file_uploader(key="features_upload").upload("one.png", png_of(bar), "image/png").run()
    assert prediction_line(at).startswith("**Prediction for upload 'one.png':**")
    no_invert = lambda: all(t.key != "features_invert" for t in at.toggle)  # noqa: E731
    assert no_invert() and not at.warning and not at.info
    at.radio(key="features_source").set_value("Photo").run()
    assert prediction_line(at).startswith("**Prediction for photo 'chelsea':**") and no_invert()


def test_an_uploaded_file_name_is_shown_as_text(app):
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    bar = np.zeros((28, 28), np.uint8)
    bar[4:24, 12:16] = 255
    at.file_uploader(key="features_upload").upload("**big** [x](http://e.x) <b>.png", png_of(bar),
                                                   "image/png").run()
    # markup escaped; a word joiner after ":" (Streamlit links http:// even when the colon is escaped)
    assert "upload '\\*\\*big\\*\\* \\[x\\](http\\:\u2060//e.x) \\<b\\>.png'" in prediction_line(at)


def test_one_value_of_a_convolution_step_by_step_equals_the_layers_output(app):
    # Issue 18, part 2: the page shows how conv1 computes one number, with the real numbers.
    from cnnviz import convolution_step

    at = open_page(app, "feature_maps")
    zoo = load_zoo_model()
    x = zoo.info.preprocessing.apply(load_image_dataset(zoo.info.dataset).x_test[:1])[0]
    for channel, row, col in ((0, 14, 14), (3, 0, 0)):                   # the centre, then a padded corner
        if channel:
            at.slider(key="conv_channel_conv1").set_value(channel).run()
        at.number_input(key="conv_row_conv1").set_value(row).run()
        at.number_input(key="conv_col_conv1").set_value(col).run()
        assert not at.exception
        step = convolution_step(zoo.model, x, "conv1", channel, (row, col))
        title = chart_spec(at, "conv_numbers")["layout"]["title"]["text"]
        assert f"conv1: output channel {channel} at (row {row}, col {col})" in title
        assert f"= total {step.total:.4f} → ReLU → {max(step.total, 0.0):.4f}" in title
        assert f"the layer's output here: {step.output:.4f}" in title and abs(step.total - step.output) < 1e-5
    assert step.padded.any() and step.window == (-2, -2, 2, 2)          # conv1 pads by 2: the corner reads padding
    assert chart_spec(at, "conv_window")["data"]                         # the window on the input, the output marked
