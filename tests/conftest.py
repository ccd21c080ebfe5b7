"""Shared fixtures. Library fixtures are prefixed `lib_`; app fixtures live beside them.

No test may touch the network: the Hugging Face offline switches are set at import,
before anything imports `datasets` or `huggingface_hub`.
"""

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def lib_digits():
    """scikit-learn's 1,797 digits at 28x28, split 1437/360 (loads in about 2 s: once per session)."""
    from cnnviz import load_image_dataset

    return load_image_dataset("digits")


@pytest.fixture(scope="session")
def lib_mnist():
    """The bundled real MNIST: 5,000 digits at 28x28, split 4,000/1,000."""
    from cnnviz import load_image_dataset

    return load_image_dataset("mnist")


@pytest.fixture(scope="session")
def lib_fashion_mnist():
    """The bundled Fashion-MNIST: 6,000 training and 2,000 test images, balanced, the official split."""
    from cnnviz import load_image_dataset

    return load_image_dataset("fashion_mnist")


@pytest.fixture(scope="session")
def lib_shapes():
    """The default procedural shapes set (3,000 images at 32x32), as the zoo was trained on it."""
    from cnnviz import load_image_dataset

    return load_image_dataset("shapes")


@pytest.fixture
def lib_tiny_trained():
    """A fresh, seeded tiny model (8x8 grey input, one conv block, 3 classes) with its ModelInfo.

    conv1: 1*2*3*3 + 2 = 20 parameters; 8 -> 6 -> pool 3, so fc1 takes 2*3*3 = 18
    values: 18*3 + 3 = 57 parameters; 77 in all.
    """
    from cnnviz import (
        CNNSpec,
        ConvSpec,
        ModelInfo,
        Preprocessing,
        TrainedModel,
        build_model,
    )

    spec = CNNSpec("tiny", in_channels=1, input_size=8, convs=(ConvSpec(2, 3, pool="max"),), num_classes=3)
    info = ModelInfo(name="tiny on toy", spec=spec, preprocessing=Preprocessing(1, 8, (0.5,), (0.25,)),
                     class_names=("a", "b", "c"), dataset="toy", test_accuracy=0.625)
    return TrainedModel(build_model(spec, seed=0), info)


APP = str(Path(__file__).resolve().parents[1] / "app.py")
APP_TIMEOUT = 120


def fresh_app(model: str | None = None, *, lang: str | None = None):
    """A fresh AppTest session with cleared caches, run once on its home page; `model`: a zoo key for its URL,
    `lang`: the language for its URL ("en" or "zh"; else the browser's, English in AppTest)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    if model is not None:
        at.query_params["model"] = model
    if lang is not None:
        at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def app():
    """A fresh AppTest session of the app, with cleared caches, run once on its home page."""
    return fresh_app()


@pytest.fixture
def digits_app():
    """As `app`, on LeNet-5 trained on the 8x8 digits lab: hand-checked numbers of the page tests were taken on it
    (it was the default model before the real MNIST one)."""
    at = fresh_app("lenet5-digits")
    assert at.session_state["current_model"].info.name == "LeNet-5 on digits"
    return at


@pytest.fixture
def negation_app():
    """As `app`, with the TextCNN of the procedural negation lab as the text model: its sentences are built so
    that word order decides ("not good"), and the TextCNN page's hand-checked behaviours were taken on it."""
    at = fresh_app("textcnn-sentiment")
    assert at.session_state["current_text_model"].info.name == "TextCNN on sentiment"
    return at


def open_page(at, page: str):
    """Switch an AppTest session to the page file pages/<n>_<page>.py and run it; asserts no exception."""
    (path,) = Path(APP).parent.glob(f"pages/*_{page}.py")
    at.switch_page(f"pages/{path.name}").run()
    assert not at.exception, at.exception
    return at


def chart_spec(at, key: str) -> dict:
    """The plotly figure (as JSON) of the chart whose element id contains `key`."""
    import json

    for element in at.get("plotly_chart"):
        if key in element.proto.id:
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart {key!r}")


def plotly_array(value):
    """A plotly JSON array as numpy: a plain list, or plotly's typed form {"dtype", "bdata", "shape"}."""
    import base64

    import numpy as np

    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return array.reshape([int(s) for s in str(shape).split(",")]) if shape else array
    return np.asarray(value, dtype=float)


def assert_same_figure_data(actual, expected, path="data"):
    """Two plotly JSON trees (e.g. a chart's spec and a figure's to_json) hold the same data, arrays to 1e-6."""
    import numpy as np

    if isinstance(expected, dict) and "bdata" in expected or isinstance(actual, dict) and "bdata" in actual:
        a, e = plotly_array(actual), plotly_array(expected)
        assert a.shape == e.shape, f"{path}: shape {a.shape} != {e.shape}"
        np.testing.assert_allclose(a.astype(float), e.astype(float), rtol=1e-6, atol=1e-9, err_msg=path)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), f"{path}: keys differ"
        for key in expected:
            assert_same_figure_data(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected and all(isinstance(v, (int, float)) or v is None for v in expected):
        np.testing.assert_allclose(np.array(actual, dtype=float), np.array(expected, dtype=float),
                                   rtol=1e-6, atol=1e-9, err_msg=path)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: lengths differ"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_figure_data(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def run_snippet(at, chart_key: str, code_with: str | None = None) -> None:
    """Run the page's "reproduce this figure" snippet offline and check it redraws the chart `chart_key`.

    A page with several snippets names the one to run by a piece of its code, `code_with`."""
    import json
    from unittest import mock

    import plotly.graph_objects as go

    (code,) = [c.value for c in at.code if c.language == "python" and (code_with is None or code_with in c.value)]
    namespace: dict = {}
    with mock.patch.object(go.Figure, "show") as show:  # a script opens a browser tab here: record it
        exec(compile(code, "<snippet>", "exec"), namespace)
    show.assert_called_once_with()
    expected = chart_spec(at, chart_key)["data"]
    assert_same_figure_data(json.loads(namespace["fig"].to_json())["data"], expected)


def new_session_from_link(at, page: str, overrides: dict | None = None):
    """A new AppTest session opened with `at`'s current link (its URL parameters, with `overrides`) on `page`."""
    from streamlit.testing.v1 import AppTest

    fresh = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    for key, value in {**dict(at.query_params), **(overrides or {})}.items():
        fresh.query_params[key] = value
    (path,) = Path(APP).parent.glob(f"pages/*_{page}.py")
    fresh.switch_page(f"pages/{path.name}").run()
    assert not fresh.exception, fresh.exception
    return fresh
