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
