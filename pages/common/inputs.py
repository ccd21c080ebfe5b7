"""The input picker shared by the pages that look inside the model with one image.

An input comes from the current model's data set (by index or by class), a bundled
photo, an uploaded image, or a digit drawn on a canvas (one-channel models). It is
returned as (C, H, W) floats in [0, 1] already shaped for the model; a bad upload
shows a message and the previous input stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from cnnviz import PHOTOS, CnnvizError, TrainedModel, decode_image, load_photo, to_model_input
from pages.common.links import linked
from pages.common.session import app_settings, own_test_data

SOURCES = ("Data set", "Photo", "Upload", "Draw")


@dataclass(frozen=True)
class PickedInput:
    """One input image for the current model, with a label saying where it came from.

    `code` is a Python expression that gives the same image with the cnnviz library
    (it may use `trained`, the model), for "reproduce this figure"; None for an
    upload or a drawing, which no code can fetch.
    """

    image: np.ndarray  # (C, H, W) in [0, 1]
    label: str
    true_class: str | None = None
    code: str | None = None


def index_slider(label: str, count: int, *, key: str, container=st) -> int:
    """A slider over 0..count-1; with a single choice there is nothing to slide, so it is 0."""
    if count <= 1:
        return 0
    return int(container.slider(label, 0, count - 1, 0, key=linked(key, low=0, high=count - 1)))


def pick_input(trained: TrainedModel, *, key: str) -> PickedInput:
    """Widgets to choose an input image; `key` keeps each page's choice apart."""
    info = trained.info
    has_data = own_test_data(trained) is not None
    sources = [s for s in SOURCES if (s != "Data set" or has_data) and (s != "Draw" or
                                                                       info.preprocessing.channels == 1)]
    source = st.radio("Input", sources, horizontal=True, key=linked(f"{key}_source", choices=sources))
    if source == "Data set":
        return _from_dataset(trained, key)
    if source == "Photo":
        name = st.selectbox("Photo", PHOTOS, key=linked(f"{key}_photo", choices=PHOTOS),
                            help="Photos bundled with scikit-image; 'chelsea' is a cat.")
        return PickedInput(to_model_input(load_photo(name), info.preprocessing), f"photo '{name}'",
                           code=f"cnnviz.to_model_input(cnnviz.load_photo({name!r}), trained.info.preprocessing)")
    if source == "Upload":
        return _from_upload(trained, key)
    return _from_canvas(trained, key)


def _from_dataset(trained: TrainedModel, key: str) -> PickedInput:
    data = own_test_data(trained)
    by = st.radio("Pick by", ["index", "class"], horizontal=True, key=linked(f"{key}_by", choices=["index", "class"]))
    if by == "class":
        left, right = st.columns(2)
        classes = range(len(data.class_names))
        cls = left.selectbox("Class", classes, format_func=data.class_names.__getitem__,
                             key=linked(f"{key}_class", choices=classes))
        matches = np.flatnonzero(data.y_test == cls)
        last = max(len(matches) - 1, 0)
        nth = right.number_input(f"Example (of {len(matches)})", 0, last, 0,
                                 key=linked(f"{key}_nth", low=0, high=last))
        index = int(matches[int(nth)])
    else:
        last = len(data.x_test) - 1
        index = int(st.number_input(f"Test image (0 to {last})", 0, last, 0,
                                    key=linked(f"{key}_index", low=0, high=last)))
    true_class = data.class_names[data.y_test[index]]
    return PickedInput(data.x_test[index], f"test image {index} of {data.name}", true_class,
                       code=f"cnnviz.load_image_dataset({data.name!r}).x_test[{index}]")


def _from_upload(trained: TrainedModel, key: str) -> PickedInput:
    upload = st.file_uploader("Image (PNG or JPEG)", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                              key=f"{key}_upload")
    kept = f"{key}_last_upload"
    if upload is not None:
        try:
            pixels = decode_image(upload.getvalue(), max_bytes=app_settings().max_upload_mb * 2**20)
            st.session_state[kept] = PickedInput(to_model_input(pixels, trained.info.preprocessing),
                                                 f"upload '{upload.name}'")
        except CnnvizError as exc:
            st.error(f"{upload.name} was not used: {exc}")
    if kept in st.session_state and st.session_state[kept].image.shape == trained.info.preprocessing.input_shape:
        return st.session_state[kept]
    st.info("No image uploaded yet: showing the photo 'chelsea' meanwhile.")
    return PickedInput(to_model_input(load_photo("chelsea"), trained.info.preprocessing), "photo 'chelsea'")


def _from_canvas(trained: TrainedModel, key: str) -> PickedInput:
    from streamlit_drawable_canvas import st_canvas  # needs a running Streamlit: import here

    st.caption("Draw a digit, white on black, as large as the box.")
    result = st_canvas(stroke_width=18, stroke_color="#ffffff", background_color="#000000", height=224,
                       width=224, drawing_mode="freedraw", return_image_data=True, key=f"{key}_canvas")
    rgba = None if result is None else result.image_data
    if rgba is None:
        rgba = np.zeros((224, 224, 4), dtype=np.uint8)
    return PickedInput(to_model_input(np.asarray(rgba)[:, :, :3], trained.info.preprocessing), "your drawing")
