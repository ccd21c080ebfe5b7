"""AppTests of the Parameter sharing page: the current model and the toy stack with each toggle."""

from tests.conftest import chart_spec, open_page

TOY = "a toy stack of three convolutions"


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
    assert other.radio(key="eq_network").value == "the current model" and other.slider(key="eq_dy").value == 2
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
