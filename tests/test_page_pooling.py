"""AppTests of the Pooling page: pooling a map, invariance curves, downsampling table."""


from tests.conftest import chart_spec, open_page


def test_default_view_pools_the_input_and_lists_the_pooling_layers(app):
    at = open_page(app, "pooling")
    assert "invariance" in at.title[0].value
    assert chart_spec(at, "pool_figure")["data"]                       # input, output and winners
    stages = at.dataframe[0].value.to_dict("records")
    assert [(s["pooling layer"], s["input"], s["output"]) for s in stages] == [
        ("pool1", "6×28×28", "6×14×14"), ("pool2", "16×10×10", "16×5×5")]
    assert len(chart_spec(at, "pool_curves")["data"]) > 2


def test_other_kinds_maps_and_transforms(app):
    at = open_page(app, "pooling")
    at.selectbox(key="pool_map").set_value("conv2").run()
    at.slider(key="pool_channel").set_value(3).run()
    for kind in ("avg", "blur", "subsample", "max"):
        at.radio(key="pool_kind").set_value(kind).run()
        assert not at.exception, kind
    at.slider(key="pool_kernel").set_value(5).run()              # 10x10 map: a 5 window still fits
    assert not at.exception and not at.warning
    for transform in ("rotate", "scale"):
        at.radio(key="pool_transform").set_value(transform).run()
        assert not at.exception, transform
    at.radio(key="pool_over").set_value("64 test images").run()
    assert not at.exception


# --- shareable links and reproducible figures ---------------------------------------------------

def test_a_link_restores_the_view_and_a_garbled_one_falls_back(app):
    from tests.conftest import new_session_from_link

    at = open_page(app, "pooling")
    at.selectbox(key="pool_map").set_value("conv2").run()
    at.slider(key="pool_channel").set_value(3).run()
    at.radio(key="pool_kind").set_value("avg").run()
    at.slider(key="pool_kernel").set_value(3).run()
    at.radio(key="pool_transform").set_value("rotate").run()
    at.number_input(key="pool_index").set_value(11).run()
    shared = new_session_from_link(at, "pooling")
    assert (shared.selectbox(key="pool_map").value, shared.slider(key="pool_channel").value,
            shared.radio(key="pool_kind").value, shared.slider(key="pool_kernel").value,
            shared.radio(key="pool_transform").value, shared.number_input(key="pool_index").value) == (
        "conv2", 3, "avg", 3, "rotate", 11)
    assert not shared.warning

    garbled = new_session_from_link(at, "pooling", {"pool_kind": "maxx", "pool_kernel": "99", "pool_index": "-4",
                                                    "pool_map": "conv9", "model": "resnet-1000"})
    assert (garbled.radio(key="pool_kind").value, garbled.slider(key="pool_kernel").value,
            garbled.selectbox(key="pool_map").value) == ("max", 2, "the input image")
    notice = garbled.warning[0].value
    assert all(name in notice for name in ("pool_kind", "pool_kernel", "pool_index", "pool_map", "model"))


def test_the_snippet_reproduces_the_pooled_map(app):
    from tests.conftest import run_snippet

    at = open_page(app, "pooling")
    run_snippet(at, "pool_figure")                                   # default: the input image, max 2/2
    at.selectbox(key="pool_map").set_value("conv1").run()
    at.slider(key="pool_channel").set_value(4).run()
    at.radio(key="pool_kind").set_value("blur").run()
    at.radio(key="pool_source").set_value("Photo").run()
    at.selectbox(key="pool_photo").set_value("coffee").run()
    run_snippet(at, "pool_figure")


def test_a_link_with_a_setting_of_another_page_says_so(app):
    from tests.conftest import new_session_from_link

    at = open_page(app, "pooling")
    shared = new_session_from_link(at, "pooling", {"pool_kind": "avg", "eq_dx": "3"})
    assert shared.radio(key="pool_kind").value == "avg"
    assert "eq_dx (not used in this view)" in shared.warning[0].value
