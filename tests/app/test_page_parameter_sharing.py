"""AppTests of the Parameter sharing page: the current model and the toy stack with each toggle."""

from tests.conftest import chart_spec, open_page

TOY = "toy"   # the option "a toy stack of three convolutions"


def test_default_view_on_lenet(app):
    at = open_page(app, "parameter_sharing")
    assert "equivariant" in at.title[0].value
    assert at.selectbox(key="eq_layer").options[:3] == ["conv1", "relu1", "pool1"]
    # Default shift (2, 0): conv1 (jump 1) moves by 2 exactly; equivariant away from borders.
    assert any("moves by (2, 0)" in s.value and "Equivariant" in s.value for s in at.success)
    counts = at.dataframe[0].value.to_dict("records")
    assert counts[0]["convolution (shared)"] == 156                 # 6*1*5*5 + 6
    assert counts[0]["locally connected"] == 28 * 28 * 6 * 25 + 6 * 28 * 28


def test_a_shift_that_is_not_a_multiple_of_the_jump_is_flagged(app):
    at = open_page(app, "parameter_sharing")
    at.slider(key="eq_dy").set_value(1).run()
    at.selectbox(key="eq_layer").set_value("pool2").run()       # jump 4: a 1-pixel shift moves it 0.25
    assert not at.exception
    assert any("jump is (4, 4)" in w.value and "Stride breaks exact equivariance" in w.value for w in at.warning)


def test_toy_stack_circular_is_exact_and_stride_breaks_it(app):
    at = open_page(app, "parameter_sharing")
    at.radio(key="eq_network").set_value(TOY).run()
    at.radio(key="eq_padding").set_value("circular").run()
    assert not at.exception
    # The toy has no data set: a natural image, the cat, is the default input.
    assert at.radio(key="eq_source").value == "Photo" and at.selectbox(key="eq_photo").value == "chelsea"
    for layer in at.selectbox(key="eq_layer").options:
        at.selectbox(key="eq_layer").set_value(layer).run()
        assert any("Equivariant" in s.value for s in at.success), layer
    at.radio(key="eq_stride").set_value(2).run()
    at.radio(key="eq_pool").set_value("max").run()
    at.slider(key="eq_dy").set_value(0).run()
    at.slider(key="eq_dx").set_value(3).run()
    at.selectbox(key="eq_layer").set_value(at.selectbox(key="eq_layer").options[-1]).run()
    assert not at.exception
    assert any("Stride breaks exact equivariance" in w.value for w in at.warning)  # shift 3 vs jump 4


# --- shareable links and reproducible figures ---------------------------------------------------

def _is_link_notice(warning) -> bool:
    return "settings in the link did not fit" in warning.value


def test_a_link_restores_the_view_and_a_garbled_one_falls_back(app):
    from tests.conftest import new_session_from_link

    at = open_page(app, "parameter_sharing")
    at.radio(key="eq_network").set_value(TOY).run()
    at.radio(key="eq_padding").set_value("circular").run()
    at.radio(key="eq_stride").set_value(2).run()
    at.radio(key="eq_pool").set_value("avg").run()
    at.selectbox(key="eq_photo").set_value("coffee").run()
    at.slider(key="eq_dy").set_value(-4).run()
    at.slider(key="eq_dx").set_value(5).run()
    at.selectbox(key="eq_layer").set_value("pool2").run()
    at.slider(key="eq_channel").set_value(2).run()
    assert dict(at.query_params)["eq_network"] == TOY                 # the option, not its label with the model
    shared = new_session_from_link(at, "parameter_sharing")
    assert (shared.radio(key="eq_network").value, shared.radio(key="eq_padding").value,
            shared.radio(key="eq_stride").value, shared.radio(key="eq_pool").value,
            shared.selectbox(key="eq_photo").value, shared.slider(key="eq_dy").value,
            shared.slider(key="eq_dx").value, shared.selectbox(key="eq_layer").value,
            shared.slider(key="eq_channel").value) == (TOY, "circular", 2, "avg", "coffee", -4, 5, "pool2", 2)
    assert not any(_is_link_notice(w) for w in shared.warning)
    assert chart_spec(shared, "eq_view") == chart_spec(at, "eq_view")

    garbled = new_session_from_link(at, "parameter_sharing", {
        "eq_padding": "reflect", "eq_stride": "3", "eq_pool": "min", "eq_dy": "9", "eq_dx": "two",
        "eq_layer": "conv9", "eq_channel": "-1"})
    assert (garbled.radio(key="eq_padding").value, garbled.radio(key="eq_stride").value,
            garbled.radio(key="eq_pool").value, garbled.slider(key="eq_dy").value,
            garbled.slider(key="eq_dx").value, garbled.selectbox(key="eq_layer").value,
            garbled.slider(key="eq_channel").value) == ("zeros", 1, "none", 0, 3, "conv1", 0)
    assert garbled.radio(key="eq_network").value == TOY and garbled.selectbox(key="eq_photo").value == "coffee"
    (notice,) = [w.value for w in garbled.warning if _is_link_notice(w)]
    assert all(name in notice for name in ("eq_padding", "eq_stride", "eq_pool", "eq_dy", "eq_dx", "eq_layer",
                                           "eq_channel"))

    other = new_session_from_link(at, "parameter_sharing", {"eq_network": "the current model (LeNet-5)",
                                                            "eq_dy": "1.5", "model": "lenet-6"})
    assert other.radio(key="eq_network").value == "current" and other.slider(key="eq_dy").value == 2
    (notice,) = [w.value for w in other.warning if _is_link_notice(w)]
    assert all(name in notice for name in ("eq_network", "eq_dy", "model"))


def test_the_snippet_reproduces_the_equivariance_view(app):
    from tests.conftest import run_snippet

    at = open_page(app, "parameter_sharing")
    run_snippet(at, "eq_view")                                       # LeNet, test image 0, shift (2, 0), conv1
    at.number_input(key="eq_index").set_value(7).run()
    at.slider(key="eq_dx").set_value(-3).run()
    at.selectbox(key="eq_layer").set_value("conv2").run()
    at.slider(key="eq_channel").set_value(5).run()
    run_snippet(at, "eq_view")
    at.radio(key="eq_network").set_value(TOY).run()                  # the toy, on a photo
    at.radio(key="eq_padding").set_value("circular").run()
    at.radio(key="eq_stride").set_value(2).run()
    at.radio(key="eq_pool").set_value("max").run()
    at.selectbox(key="eq_photo").set_value("astronaut").run()
    at.selectbox(key="eq_layer").set_value("conv3").run()
    run_snippet(at, "eq_view")
    (code,) = [c.value for c in at.code if c.language == "python"]
    assert "cnnviz.toy_model(padding_mode='circular', stride=2, pool='max')" in code and "mode='circular'" in code


# --- the whole-map difference, and the words that say which region a number measures -------------

def _zero_notes(spec: dict) -> list[str]:
    return [a["text"] for a in spec["layout"].get("annotations", []) if a.get("name") == "zero note"]


def test_zero_padding_shows_the_edge_error_outside_the_compared_box(app):
    import numpy as np

    from tests.conftest import plotly_array

    at = open_page(app, "parameter_sharing")                          # LeNet conv1, shift (2, 0), zero padding
    spec = chart_spec(at, "eq_view")
    difference = plotly_array(spec["data"][3]["z"]).reshape(28, 28)
    assert np.isfinite(difference).all()                             # the edges are no longer blank
    (box,) = {(s["x0"], s["x1"], s["y0"], s["y1"]) for s in spec["layout"]["shapes"]}
    inside = np.zeros((28, 28), dtype=bool)
    inside[int(box[2] + 0.5):int(box[3] + 0.5), int(box[0] + 0.5):int(box[1] + 0.5)] = True  # edges at ±0.5
    assert np.abs(difference[inside]).max() < 1e-5 < 1e-2 < np.abs(difference[~inside]).max()
    assert len(spec["layout"]["shapes"]) == 3 and not _zero_notes(spec)
    (sentence,) = [c.value for c in at.caption if c.value.startswith("The error is measured inside")]
    # conv1 (5x5, padding 2) after a 2-row shift: rows 4..25 and columns 2..25 no border reaches, 22 * 24.
    assert box == (1.5, 25.5, 3.5, 25.5)
    # The error sits in the rows the shift moved past the edges (0, 1 and 26, 27), outside the box.
    assert (np.abs(difference[[0, 1, 26, 27]]) > 1e-2).any(axis=1).all()
    assert "on the 528 units per channel that no border reaches: exactly 0;" in sentence
    assert "over the whole map, edges included, it is 0." in sentence and "sits along the edges" in sentence
    assert any("inside the dashed box. Equivariant." in s.value for s in at.success)


def test_the_numbers_decide_the_region_sentence(app):
    at = open_page(app, "parameter_sharing")
    at.radio(key="eq_network").set_value(TOY).run()                   # zero padding
    at.slider(key="eq_dy").set_value(0).run()
    at.slider(key="eq_dx").set_value(0).run()                        # no shift: nothing to differ, anywhere
    (sentence,) = [c.value for c in at.caption if c.value.startswith("The error is measured inside")]
    assert sentence.endswith("reaches: exactly 0; over the whole map, edges included, it is exactly 0: the edges "
                             "add no error here.")
    assert _zero_notes(chart_spec(at, "eq_view")) == ["<b>exactly 0</b>"]   # not a blank grey square
    at.slider(key="eq_dx").set_value(3).run()                        # shift (0, 3): the edges now differ
    (sentence,) = [c.value for c in at.caption if c.value.startswith("The error is measured inside")]
    assert "exactly 0;" in sentence and "sits along the edges" in sentence
    assert not _zero_notes(chart_spec(at, "eq_view"))
    at.radio(key="eq_padding").set_value("circular").run()
    assert any(c.value.startswith("Circular padding and a circular shift leave no border: all 1,024 units")
               for c in at.caption)
    spec = chart_spec(at, "eq_view")
    assert not spec["layout"].get("shapes")                           # every unit compared: no box
    assert any(s.value.endswith("matches exactly (relative error 0) over the whole map. Equivariant.")
               for s in at.success)


def test_a_layer_of_the_other_network_is_replaced_in_the_box_not_kept(app):
    """B4: pool2 picked on LeNet, then the toy stack: the box must show conv1, not a stale pool2."""
    at = open_page(app, "parameter_sharing")
    at.selectbox(key="eq_layer").set_value("pool2").run()
    at.radio(key="eq_network").set_value(TOY).run()
    assert not at.exception
    box = at.selectbox(key="eq_layer")
    assert box.options == ["conv1", "relu1", "conv2", "relu2", "conv3", "relu3"] and box.value == "conv1"
    # The browser keeps what it showed unless told otherwise: the run must send the new value.
    assert box.proto.set_value and box.proto.raw_value == "conv1"
    assert chart_spec(at, "eq_view")["layout"]["title"]["text"] == "conv1, channel 0"
    assert any(s.value.startswith("At conv1 ") for s in at.success)
    at.selectbox(key="eq_layer").set_value("conv3").run()            # and a valid choice stays chosen
    at.radio(key="eq_padding").set_value("circular").run()
    assert at.selectbox(key="eq_layer").value == "conv3"
