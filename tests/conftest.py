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


@pytest.fixture
def app():
    """A fresh AppTest session of the app, with cleared caches, run once on its home page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.run()
    assert not at.exception
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
