"""AppTests of the Receptive fields page, checked against numbers worked out by hand for LeNet-5.

LeNet-5 on 28x28 (conv1 5x5 pad 2, pool 2, conv2 5x5, pool 2), after Araujo et al. 2019:
conv1 size 5 jump 1 start 0+(2-2)*1 = 0; pool1 size 6 jump 2 start 0+(0.5-0)*1 = 0.5;
conv2 size 6+4*2 = 14 jump 2 start 0.5+(2-0)*2 = 4.5; pool2 size 14+1*2 = 16 jump 4 start 4.5+0.5*2 = 5.5.
Unit (5, 5) of conv2 is centred at 4.5 + 5*2 = 14.5 and sees 14.5 ± 6.5: rows and columns 8 to 21.
"""

from tests.conftest import open_page


def table(at) -> dict[str, dict]:
    frame = at.dataframe[0].value
    return {row["layer"]: row for row in frame.to_dict("records")}


def test_default_view_numbers_for_lenet(app):
    at = open_page(app, "receptive_fields")
    rows = table(at)
    assert (rows["conv1"]["size"], rows["pool1"]["size"], rows["conv2"]["size"], rows["pool2"]["size"]) == \
        ("5×5", "6×6", "14×14", "16×16")
    assert (rows["conv2"]["jump"], rows["pool2"]["jump"]) == ("2×2", "4×4")
    assert rows["conv2"]["start"] == "(4.5, 4.5)"
    assert at.selectbox(key="rf_layer").value == "conv2"
    assert any("Unit (5, 5) of conv2 sees input rows 8–21, columns 8–21" in m.value for m in at.markdown)
    assert any("95% of the gradient" in c.value for c in at.caption)


def test_another_unit_layer_and_gradient_mode(digits_app):
    at = open_page(digits_app, "receptive_fields")
    at.selectbox(key="rf_layer").set_value("pool2").run()
    at.number_input(key="rf_row_pool2").set_value(0).run()
    assert not at.exception
    # pool2 unit (0, 2): centres 5.5 + 0*4 = 5.5 and 5.5 + 2*4 = 13.5, half width 7.5:
    # rows -2..13 clipped to 0..13, columns 6..21.
    assert any("Unit (0, 2) of pool2 sees input rows 0–13, columns 6–21" in m.value for m in at.markdown)
    for mode in ("test images", "random inputs"):
        at.radio(key="rf_mode").set_value(mode).run()
        assert not at.exception
        assert any("95% of the gradient" in c.value for c in at.caption)


def test_sparse_interaction_counts(app):
    at = open_page(app, "receptive_fields")
    at.slider(key="sparse_n").set_value(5).run()
    at.slider(key="sparse_k").set_value(3).run()
    metrics = {m.label: m.value for m in at.metric}
    # n = 5, k = 3: m = 3 outputs; dense m·n = 3*5 = 15, convolution k·m = 3*3 = 9 connections, 3 shared weights
    assert metrics == {"Outputs m": "3", "Dense connections (m·n)": "15", "Convolution connections (k·m)": "9",
                       "Convolution weights (k, shared)": "3"}
    at.slider(key="sparse_k").set_value(9).run()                 # no output without padding
    assert not at.exception
    assert any("smaller kernel" in w.value for w in at.warning)
    counts = at.dataframe[1].value.to_dict("records")
    assert counts[0]["layer"] == "conv1" and counts[0]["convolution"] == 156   # 6*1*5*5 + 6
    assert counts[1]["convolution"] == 2416                                    # 16*6*5*5 + 16


def test_a_unit_kept_from_a_larger_model_is_clamped_to_the_map(app):
    app.session_state["rf_unit_conv2"] = (14, 14)                # TinyVGG-sized; LeNet's conv2 map is 10x10
    app.run()
    at = open_page(app, "receptive_fields")
    assert not at.exception
    assert any("Unit (9, 9) of conv2" in m.value for m in at.markdown)


# --- shareable links and reproducible figures ---------------------------------------------------

def test_a_link_restores_the_view_and_a_garbled_one_falls_back(app):
    from tests.conftest import new_session_from_link

    at = open_page(app, "receptive_fields")
    at.radio(key="rf_source").set_value("Photo").run()
    at.selectbox(key="rf_photo").set_value("coffee").run()
    at.selectbox(key="rf_layer").set_value("pool2").run()
    at.slider(key="rf_channel").set_value(7).run()
    at.number_input(key="rf_row_pool2").set_value(0).run()
    at.number_input(key="rf_col_pool2").set_value(3).run()
    at.radio(key="rf_mode").set_value("test images").run()
    for key, value in {"sparse_n": 5, "sparse_k": 4, "sparse_stride": 2, "sparse_padding": 1}.items():
        at.slider(key=key).set_value(value).run()
    shared = new_session_from_link(at, "receptive_fields")
    assert (shared.radio(key="rf_source").value, shared.selectbox(key="rf_photo").value,
            shared.selectbox(key="rf_layer").value, shared.slider(key="rf_channel").value,
            shared.number_input(key="rf_row_pool2").value, shared.number_input(key="rf_col_pool2").value,
            shared.radio(key="rf_mode").value) == ("Photo", "coffee", "pool2", 7, 0, 3, "test images")
    assert [shared.slider(key=k).value for k in ("sparse_n", "sparse_k", "sparse_stride", "sparse_padding")] == \
        [5, 4, 2, 1]
    assert any("Unit (0, 3) of pool2" in m.value for m in shared.markdown)
    assert not shared.warning

    garbled = new_session_from_link(at, "receptive_fields", {
        "rf_source": "Webcam", "rf_layer": "fc1", "rf_channel": "99", "rf_row_conv2": "-1", "rf_col_conv2": "ten",
        "rf_mode": "gradient", "sparse_n": "1000", "sparse_k": "3.5", "sparse_stride": "x", "sparse_padding": "",
        "model": "resnet-1000"})
    assert (garbled.radio(key="rf_source").value, garbled.selectbox(key="rf_layer").value,
            garbled.slider(key="rf_channel").value, garbled.radio(key="rf_mode").value) == (
        "Data set", "conv2", 0, "this input")
    assert [garbled.slider(key=k).value for k in ("sparse_n", "sparse_k", "sparse_stride", "sparse_padding")] == \
        [8, 3, 1, 0]
    assert any("Unit (5, 5) of conv2" in m.value for m in garbled.markdown)
    notice = garbled.warning[0].value
    assert all(name in notice for name in ("rf_source", "rf_layer", "rf_channel", "rf_row_conv2", "rf_col_conv2",
                                           "rf_mode", "sparse_n", "sparse_k", "sparse_stride", "sparse_padding",
                                           "model"))


def test_the_snippet_reproduces_the_effective_receptive_field(app):
    from tests.conftest import run_snippet

    at = open_page(app, "receptive_fields")
    run_snippet(at, "erf")                                # default: test image 0, conv2 channel 0, unit (5, 5)
    at.radio(key="rf_source").set_value("Photo").run()
    at.selectbox(key="rf_photo").set_value("astronaut").run()
    at.selectbox(key="rf_layer").set_value("conv1").run()
    at.slider(key="rf_channel").set_value(4).run()
    at.number_input(key="rf_row_conv1").set_value(3).run()
    run_snippet(at, "erf")
    for mode in ("test images", "random inputs"):
        at.radio(key="rf_mode").set_value(mode).run()
        run_snippet(at, "erf")


def test_sparse_interaction_numbers_are_connectivity_s_and_the_lesson_s(app):
    """The lesson's step 1 (n = 8, k = 3, stride 1, padding 0) quotes these: m = 6, m·n = 48, k·m = 18, k = 3."""
    from cnnviz import connectivity
    from tests.conftest import chart_spec

    at = open_page(app, "receptive_fields")
    metrics = {m.label: m.value for m in at.metric}
    conn = connectivity(8, 3, stride=1, padding=0)
    assert metrics == {"Outputs m": "6", "Dense connections (m·n)": "48", "Convolution connections (k·m)": "18",
                       "Convolution weights (k, shared)": "3"}
    assert (conn.n_outputs, conn.dense_connections, conn.conv_connections, conn.conv_weights) == (6, 48, 18, 3)
    assert not any("fall on padding" in c.value for c in at.caption)
    at.slider(key="sparse_padding").set_value(1).run()            # m = 8 outputs, 2 windows reach padding
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Outputs m"] == "8" and metrics["Convolution connections (k·m)"] == "24"
    assert any(c.value == "2 of the 24 connections fall on padding (open circles, a constant 0), so 22 lines "
                          "reach the inputs." for c in at.caption)
    titles = [a["text"] for a in chart_spec(at, "connectivity")["layout"]["annotations"]]
    assert titles[0] == "Dense: 64 weights<br>m·n = 8 × 8 = 64 connections"
    assert titles[1] == ("Convolution: 3 shared weights<br>k·m = 3 × 8 = 24 connections"
                         "<br>(2 on padding, 22 connections to inputs)")


# --- the effective receptive field's sentence follows what was measured (issue 12, A4 and A10) ---------

def erf_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("95% of the gradient")
                or c.value.startswith("No gradient reaches"))


def test_the_erf_sentence_for_a_unit_whose_gradient_fills_its_box(digits_app):
    at = open_page(digits_app, "receptive_fields")
    at.selectbox(key="rf_layer").set_value("conv1").run()
    # conv1's gradient is |its 5x5 kernel|: 95% of it lies on 21 of the 25 pixels.
    caption = erf_caption(at)
    assert caption.startswith("95% of the gradient inside the box lies on 84% of its pixels: it fills most of "
                              "the box, so for this unit the effective receptive field is about as large as the "
                              "theoretical one")
    assert "smaller than the theoretical" not in caption and "found for deep networks: a small bump" not in caption


def test_the_erf_sentence_for_the_default_view_says_it_peaks_off_centre(digits_app):
    at = open_page(digits_app, "receptive_fields")
    caption = erf_caption(at)                       # conv2, channel 0, unit (5, 5), test image 0: 67%
    assert "lies on 67% of its pixels: the effective receptive field is somewhat smaller" in caption
    assert "peaks off centre, at row 12, column 16 (the box's centre is row 14.5, column 14.5)" in caption
    assert "peaks in its centre" not in caption and "near the centre" not in caption


def deep_linear_model():
    """Ten 3x3 convolutions of ones with a bias that keeps every ReLU on: the gradient is a binomial bump."""
    import torch

    from cnnviz import CNNSpec, ConvSpec, ModelInfo, TrainedModel, build_model, load_image_dataset

    spec = CNNSpec("deep", in_channels=1, input_size=28, convs=tuple(ConvSpec(1, 3, padding=1) for _ in range(10)))
    model = build_model(spec, seed=0)
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.startswith("conv"):
                module.weight.fill_(1.0)
                module.bias.fill_(20.0)
    prep = load_image_dataset("digits").preprocessing
    info = ModelInfo(name="deep linear stack", spec=spec, preprocessing=prep, class_names=tuple("0123456789"),
                     dataset="digits", test_accuracy=0.1)
    return TrainedModel(model, info)


def test_the_erf_sentence_for_a_deep_unit_that_is_small_and_central(app):
    app.session_state["current_model"] = deep_linear_model()
    app.run()
    at = open_page(app, "receptive_fields")
    at.selectbox(key="rf_layer").set_value("conv10").run()
    assert any("Unit (14, 14) of conv10 sees input rows 4–24, columns 4–24" in m.value for m in at.markdown)
    caption = erf_caption(at)
    assert "the effective receptive field is clearly smaller than the theoretical one, and the gradient peaks " \
           "near the centre of the box. This is what Luo et al. (2016) found for deep networks" in caption
    assert int(caption.split("lies on ")[1].split("%")[0]) < 35


def test_switched_off_says_for_which_inputs(app):
    from pages.common.session import zoo_copy

    app.session_state["current_model"] = zoo_copy("tinyvgg-shapes")
    app.run()
    at = open_page(app, "receptive_fields")
    at.selectbox(key="rf_layer").set_value("relu1").run()       # unit (15, 15), channel 0: off for test image 0
    assert erf_caption(at).startswith("No gradient reaches the input: this unit is switched off for this input "
                                      "(its ReLU gives 0, or a ReLU6 on its path is saturated at 6")
    assert erf_caption(at).endswith("Pick another unit, or average over many inputs.")
    at.radio(key="rf_mode").set_value("test images").run()      # on for some of the 32 test images
    assert erf_caption(at).startswith("95% of the gradient")
    assert not any("switched off" in c.value for c in at.caption)
    at.selectbox(key="rf_layer").set_value("relu4").run()
    at.radio(key="rf_mode").set_value("random inputs").run()   # unit (5, 5), channel 0: off for every one
    assert erf_caption(at).startswith("No gradient reaches the input: this unit is switched off for every one "
                                      "of the 32 random inputs (its ReLU gives 0")
    assert "for this input" not in erf_caption(at)
