"""AppTests of the Parameter sharing page: the current model and the toy stack with each toggle."""

from tests.conftest import open_page

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
