"""AppTests of the upload input (pages/common/inputs.py): an upload is decoded once per file, shrunk first."""

import io

import numpy as np
import pytest
from PIL import Image

import pages.common.inputs as inputs
from tests.conftest import open_page


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def decodes(monkeypatch):
    """Every call of decode_image made by the input picker: (bytes, keyword arguments)."""
    calls = []
    original = inputs.decode_image

    def counted(data, **kwargs):
        calls.append((data, kwargs))
        return original(data, **kwargs)

    monkeypatch.setattr(inputs, "decode_image", counted)
    return calls


def prediction_line(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Prediction"))


def test_an_upload_is_decoded_once_however_often_the_page_reruns(app, decodes):
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    big = Image.new("L", (3000, 3000), 0)
    big.paste(255, (1200, 300, 1800, 2700))                   # a white bar on black: a "1"
    data = png_bytes(big)
    at.file_uploader(key="features_upload").upload("big.png", data, "image/png").run()
    assert not at.exception
    assert prediction_line(at).startswith("**Prediction for upload 'big.png':**")
    assert len(decodes) == 1
    assert decodes[0][1]["max_side"] == 256                   # LeNet takes 28x28: 4x that, at least 256
    # Reruns that keep the file: a plain rerun, widgets elsewhere on the page.
    at.run()
    at.toggle(key="features_per_channel").set_value(True).run()
    at.selectbox(key="features_layer").set_value("conv2").run()
    assert not at.exception and len(decodes) == 1
    assert prediction_line(at).startswith("**Prediction for upload 'big.png':**")
    # The same bytes under another name are not decoded again; other bytes are.
    at.file_uploader(key="features_upload").clear().upload("again.png", data, "image/png").run()
    assert prediction_line(at).startswith("**Prediction for upload 'again.png':**") and len(decodes) == 1
    other = png_bytes(Image.new("L", (40, 40), 0))
    at.file_uploader(key="features_upload").clear().upload("other.png", other, "image/png").run()
    assert not at.exception and len(decodes) == 2


def test_a_bad_upload_is_tried_once_and_its_message_stays(app, decodes):
    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    broken = png_bytes(Image.new("L", (40, 40), 0))[:40]
    at.file_uploader(key="features_upload").upload("broken.png", broken, "image/png").run()
    at.run()
    assert not at.exception and len(decodes) == 1
    assert any(e.value.startswith("broken.png was not used: This file is not an image") for e in at.error)
    assert any("chelsea" in i.value for i in at.info)         # the stand-in stays


def test_a_huge_upload_becomes_the_input_its_full_size_pixels_would_give(app):
    from cnnviz import load_zoo_model, to_model_input

    at = open_page(app, "feature_maps")
    at.radio(key="features_source").set_value("Upload").run()
    small = np.zeros((28, 28), np.uint8)
    small[4:24, 12:16] = 255
    huge = Image.fromarray(small).resize((1400, 1400), Image.NEAREST)
    at.file_uploader(key="features_upload").upload("huge.png", png_bytes(huge), "image/png").run()
    assert not at.exception
    shown = at.session_state["features_last_upload"].image       # decoded at 1/6 (234x234), then resized
    full = to_model_input(np.asarray(huge), load_zoo_model().info.preprocessing)  # as before: at full size
    assert shown.shape == full.shape == (1, 28, 28)
    assert np.abs(shown - full).max() < 0.1
