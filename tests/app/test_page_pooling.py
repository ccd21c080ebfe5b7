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
    for kind in ("avg", "blur", "maxblur", "subsample", "max"):
        at.radio(key="pool_kind").set_value(kind).run()
        assert not at.exception, kind
    at.slider(key="pool_kernel").set_value(5).run()              # 10x10 map: a 5 window still fits
    assert not at.exception and not at.warning
    for transform in ("rotate", "scale"):
        at.radio(key="pool_transform").set_value(transform).run()
        assert not at.exception, transform
    at.radio(key="pool_over").set_value("test_images").run()
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
            garbled.selectbox(key="pool_map").value) == ("max", 2, "image")
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


# --- MaxBlurPool beside BlurPool, and the words under the pooled map ------------------------------

def test_maxblur_and_blur_are_offered_and_told_apart(app):
    at = open_page(app, "pooling")
    assert at.radio(key="pool_kind").options == [
        "max", "average", "BlurPool: blur, then subsample (Zhang 2019)",
        "MaxBlurPool: max with stride 1, blur, then subsample (Zhang 2019)", "subsample only (stride, no pooling)"]
    at.radio(key="pool_kind").set_value("maxblur").run()
    assert not at.exception
    assert at.slider(key="pool_kernel").label == "Max window" and at.slider(key="pool_blur").value == 3
    assert any(c.value.startswith("**MaxBlurPool** (Zhang 2019) is the anti-aliased max pooling") and
               "BlurPool is only the last two steps" in c.value for c in at.caption)
    # The input is 28x28: 2x2 max with stride 1 gives 27x27, blurred, every second value: 14x14.
    title = chart_spec(at, "pool_figure")["layout"]["annotations"][1]["text"]
    assert title == "max-blur pool k=2 s=2 → 14×14<br>(max with stride 1, then blur 3)"
    (code,) = [c.value for c in at.code if c.language == "python"]
    assert "cnnviz.pool(maps[0], 'maxblur', 2, 2, blur_size=3)" in code
    at.radio(key="pool_kind").set_value("blur").run()
    assert any(c.value.startswith("**BlurPool** (Zhang 2019)") and "It takes no maximum" in c.value
               for c in at.caption)


def test_the_max_caption_no_longer_promises_an_unchanged_output_and_counts_ties(digits_app):
    at = open_page(digits_app, "pooling")
    at.selectbox(key="pool_map").set_value("relu1").run()            # ReLU maps: many all-zero windows
    (caption,) = [c.value for c in at.caption if c.value.startswith("Dots mark the value")]
    assert "leaves the output unchanged" not in caption
    assert "the output goes from 5 to 9" in caption and "less sensitive to shifts, not unchanged" in caption
    # The count in the words is the count in the figure: windows without a dot.
    from cnnviz import feature_maps, load_image_dataset, load_zoo_model, pool

    trained = load_zoo_model("lenet5-digits")
    index = at.number_input(key="pool_index").value
    image = load_image_dataset("digits").x_test[index]
    x = trained.info.preprocessing.apply(image[None])[0]
    ties = pool(feature_maps(trained.model, x, layers=["relu1"])["relu1"][0], "max", 2, 2).ties
    assert ties > 0 and f" {ties} of the 196 windows are ties" in caption
    title = chart_spec(at, "pool_figure")["layout"]["annotations"][1]["text"]
    assert title.endswith(f"{ties} of 196 windows tied (no dot)")
    from tests.conftest import plotly_array

    (winners,) = [t for t in chart_spec(at, "pool_figure")["data"] if t.get("name") == "winner of a window"]
    assert len(plotly_array(winners["x"])) == 196 - ties              # one dot per window with one winner


def test_the_curves_tell_pool1_and_pool2_apart(app):
    at = open_page(app, "pooling")
    traces = chart_spec(at, "pool_curves")["data"]
    by_name = {t["name"]: t for t in traces}
    assert by_name["pool1"]["line"]["color"] != by_name["pool2"]["line"]["color"]
    assert by_name["relu1 (input of pool1)"]["line"]["color"] == by_name["pool1"]["line"]["color"]
    assert by_name["relu2 (input of pool2)"]["line"]["color"] == by_name["pool2"]["line"]["color"]
    assert "other layers (grey; hover for names)" in by_name


def test_home_says_pooling_makes_approximately_invariant(app):
    captions = " ".join(c.value for c in app.caption)
    assert "less sensitive to small shifts: approximately invariant, not exactly" in captions
    assert "makes the output invariant to small shifts" not in captions
