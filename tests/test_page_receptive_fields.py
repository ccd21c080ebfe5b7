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


def test_another_unit_layer_and_gradient_mode(app):
    at = open_page(app, "receptive_fields")
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
    # n = 5, k = 3: m = 3 outputs; dense 3*5 = 15 weights, 3*3 = 9 connections, 3 shared weights
    assert metrics == {"Dense weights (m·n)": "15", "Convolution connections": "9",
                       "Convolution weights (shared)": "3"}
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
