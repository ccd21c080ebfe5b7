"""The input picker shared by the pages that look inside the model with one image.

An input comes from the current model's data set (by index or by class), a bundled
photo (scikit-image's, and labelled ImageNet and CIFAR-10 photos), an uploaded image, or a digit
drawn on a canvas (one-channel models). It is
returned as (C, H, W) floats in [0, 1] already shaped for the model; a bad upload
shows a message and the previous input stays. A blank input is flagged (its prediction
means nothing), and one whose background is the other way round from the model's
training images (black on white for digits) is offered inverted, and inverted by default.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from cnnviz import PHOTOS, CnnvizError, TrainedModel, check_input, decode_image, load_photo, to_model_input
from cnnviz.data.images import DECODE_MAX_SIDE
from cnnviz.data.photos import photo_label, photo_title
from cnnviz.safe_text import as_markdown_text
from pages.common.links import linked
from pages.common.session import app_settings, own_test_data

SOURCES = ("Data set", "Photo", "Upload", "Draw")


@dataclass(frozen=True)
class PickedInput:
    """One input image for the current model, with a label saying where it came from.

    `code` is a Python expression that gives the same image with the cnnviz library
    (it may use `trained`, the model), for "reproduce this figure"; None for an
    upload or a drawing, which no code can fetch. `blank`: the image holds nothing to
    recognise (one shade everywhere), so a prediction for it must not be shown as one.
    `label` may hold an uploaded file's name: show it as text (`as_markdown_text`), never as markup.
    """

    image: np.ndarray  # (C, H, W) in [0, 1]
    label: str
    true_class: str | None = None
    code: str | None = None
    blank: bool = False


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
        return _from_dataset(trained, key)  # the model's own kind of image: nothing to check
    if source == "Photo":
        name = st.selectbox("Photo", PHOTOS, format_func=photo_title, key=linked(f"{key}_photo", choices=PHOTOS),
                            help="scikit-image's photos ('chelsea' is a cat), then 20 labelled ImageNet and 20 "
                                 "CIFAR-10 photos (shipped with foolbox).")
        label = photo_label(name)
        # The photo's label is a true class only for a model of the same label set (ImageNet, CIFAR-10).
        truth = label.class_name if label is not None and label.source == info.dataset else None
        picked = PickedInput(to_model_input(load_photo(name), info.preprocessing), f"photo '{name}'", truth,
                             code=f"cnnviz.to_model_input(cnnviz.load_photo({name!r}), trained.info.preprocessing)")
    elif source == "Upload":
        picked = _from_upload(trained, key)
    else:
        picked = _from_canvas(trained, key)
    return _checked(picked, trained, key)


def _checked(picked: PickedInput, trained: TrainedModel, key: str) -> PickedInput:
    """Say when a prediction for `picked` would mislead: a blank input, or one the other way round.

    The numbers come from `cnnviz.check_input`; an inversion is offered (on by default) with a
    toggle, so the user sees both what they gave and what the model expects.
    """
    check = check_input(picked.image, trained.info.preprocessing)
    if check.blank:
        st.warning("This input is blank: every pixel has about the same shade, so there is nothing in it to "
                   "recognise. The model still gives every class a probability, but no prediction for a blank "
                   "input means anything." + (" Draw something in the box." if picked.label == "your drawing"
                                              else ""))
        return replace(picked, blank=True)
    if not check.inverted:
        return picked
    ours, theirs = ("dark on a light", "light on a dark") if check.background > 0.5 else (
        "light on a dark", "dark on a light")
    name = as_markdown_text(trained.info.name)  # from a model file: text, not markup
    invert = st.toggle("Invert the image (swap light and dark)", value=True, key=f"{key}_invert",
                       help=f"This image is {ours} background; the model's training images are {theirs} one.")
    if not invert:
        st.warning(f"This image is {ours} background, but {name} was trained on images that are {theirs} "
                   "background: its prediction for the image as it is means little. Invert it to see what the "
                   "model makes of the same image the right way round.")
        return picked
    st.info(f"Inverted: this image is {ours} background and {name} was trained on images that are {theirs} "
            "background, so light and dark are swapped before the model sees it.")
    return replace(picked, image=(1.0 - picked.image).astype(np.float32), label=f"{picked.label}, inverted",
                   code=None if picked.code is None else f"1 - {picked.code}")


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


# Uploads are shrunk to 4x the model's input size on their long side, but never below this, so that an
# oblong image still keeps enough pixels across its centre square (to_model_input crops to it).
_MIN_DECODE_SIDE = 256


@st.cache_data(max_entries=32, show_spinner=False)
def _decoded_upload(digest: str, max_bytes: int, max_side: int, _data: bytes) -> np.ndarray | str:
    """The pixels of the upload whose bytes `_data` have the sha256 `digest`, or why it cannot be used.

    Cached by the digest (with the limits), so a rerun that keeps the file does not decode it
    again, and many sessions uploading the same file cost one decode; a bad file's message
    is cached too, so it is not retried on every rerun. At most 32 entries, each at most
    `max_side` pixels on its long side (3 MB at 1024).
    """
    try:
        return decode_image(_data, max_bytes=max_bytes, max_side=max_side)
    except CnnvizError as exc:
        return str(exc)


def _from_upload(trained: TrainedModel, key: str) -> PickedInput:
    upload = st.file_uploader("Image (PNG or JPEG)", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                              key=f"{key}_upload")
    kept = f"{key}_last_upload"
    if upload is not None:
        data = upload.getvalue()
        size = trained.info.preprocessing.size
        # 4x the model's input is all to_model_input needs; never over decode_image's own cap.
        max_side = min(DECODE_MAX_SIDE, max(_MIN_DECODE_SIDE, 4 * size))
        pixels = _decoded_upload(hashlib.sha256(data).hexdigest(), app_settings().max_upload_mb * 2**20, max_side,
                                 data)
        problem = pixels if isinstance(pixels, str) else None
        if problem is None:
            try:
                st.session_state[kept] = PickedInput(to_model_input(pixels, trained.info.preprocessing),
                                                     f"upload '{upload.name}'")
            except CnnvizError as exc:
                problem = str(exc)
        if problem is not None:
            st.error(f"{as_markdown_text(upload.name)} was not used: {as_markdown_text(problem, limit=300)}")
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
