"""The input picker shared by the pages that look inside the model with one image.

An input comes from the current model's data set (by index or by class), a bundled
photo (scikit-image's, and labelled ImageNet and CIFAR-10 photos), an uploaded image, or a digit
drawn on a canvas (one-channel models). It is
returned as (C, H, W) floats in [0, 1] already shaped for the model; a bad upload
shows a message and the previous input stays. A blank input is flagged (its prediction
means nothing), and one whose background is the other way round from the model's
training images (black on white for digits) is offered inverted, and inverted by default.
Its words come from the catalogue `inputs` (pages/locales/*/inputs.toml); the sources' option
values stay "Data set", "Photo", "Upload", "Draw" in every language (links and tests use them).
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
from pages.common.i18n import t
from pages.common.links import linked
from pages.common.session import app_settings, own_test_data

SOURCES = ("Data set", "Photo", "Upload", "Draw")
_SOURCE_WORDS = dict(zip(SOURCES, ("dataset", "photo", "upload", "draw"), strict=True))  # catalogue keys
_BY = ["index", "class"]


@dataclass(frozen=True)
class PickedInput:
    """One input image for the current model, with a label saying where it came from.

    `code` is a Python expression that gives the same image with the cnnviz library
    (it may use `trained`, the model), for "reproduce this figure"; None for an
    upload or a drawing, which no code can fetch. `blank`: the image holds nothing to
    recognise (one shade everywhere), so a prediction for it must not be shown as one.
    `label` may hold an uploaded file's name: show it as text (`as_markdown_text`), never as markup; it is
    in the language of the run that picked the input.
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


def pick_input(trained: TrainedModel, *, key: str, class_key: str | None = None) -> PickedInput:
    """Widgets to choose an input image; `key` keeps each page's choice apart (its widgets' keys are `key`_...).
    `class_key`: the key of the box of a test image's class, if not `key`_class (a page's own widget has that key)."""
    info = trained.info
    has_data = own_test_data(trained) is not None
    sources = [s for s in SOURCES if (s != "Data set" or has_data) and (s != "Draw" or
                                                                       info.preprocessing.channels == 1)]
    source = st.radio(t("inputs.input"), sources, horizontal=True, key=linked(f"{key}_source", choices=sources),
                      format_func=lambda s: t(f"inputs.source.{_SOURCE_WORDS[s]}"))
    if source == "Data set":
        return _from_dataset(trained, key, class_key or f"{key}_class")  # the model's own kind: nothing to check
    if source == "Photo":
        name = st.selectbox(t("inputs.photo"), PHOTOS, format_func=_photo_title,
                            key=linked(f"{key}_photo", choices=PHOTOS), help=t("inputs.photo_help"))
        label = photo_label(name)
        # The photo's label is a true class only for a model of the same label set (ImageNet, CIFAR-10).
        truth = label.class_name if label is not None and label.source == info.dataset else None
        picked = PickedInput(to_model_input(load_photo(name), info.preprocessing),
                             t("inputs.label.photo", name=name), truth,
                             code=f"cnnviz.to_model_input(cnnviz.load_photo({name!r}), trained.info.preprocessing)")
    elif source == "Upload":
        picked = _from_upload(trained, key)
    else:
        picked = _from_canvas(trained, key)
    return _checked(picked, trained, key, drawn=source == "Draw")


def _photo_title(name: str) -> str:
    """How the photo menu names a photo: the library's title ("ImageNet 03: Egyptian cat"), chelsea's in words."""
    return t("inputs.chelsea", name=name) if name == "chelsea" else photo_title(name)


def _checked(picked: PickedInput, trained: TrainedModel, key: str, *, drawn: bool = False) -> PickedInput:
    """Say when a prediction for `picked` would mislead: a blank input, or one the other way round.

    The numbers come from `cnnviz.check_input`; an inversion is offered (on by default) with a
    toggle, so the user sees both what they gave and what the model expects.
    """
    check = check_input(picked.image, trained.info.preprocessing)
    if check.blank:
        st.warning(t("inputs.blank_drawing" if drawn else "inputs.blank"))
        return replace(picked, blank=True)
    if not check.inverted:
        return picked
    dark, light = t("inputs.tone.dark"), t("inputs.tone.light")
    ours, theirs = (dark, light) if check.background > 0.5 else (light, dark)
    name = as_markdown_text(trained.info.name)  # from a model file: text, not markup
    invert = st.toggle(t("inputs.invert"), value=True, key=f"{key}_invert",
                       help=t("inputs.invert_help", ours=ours, theirs=theirs))
    if not invert:
        st.warning(t("inputs.not_inverted", ours=ours, theirs=theirs, name=name))
        return picked
    st.info(t("inputs.inverted", ours=ours, theirs=theirs, name=name))
    return replace(picked, image=(1.0 - picked.image).astype(np.float32),
                   label=t("inputs.label.inverted", label=picked.label),
                   code=None if picked.code is None else f"1 - {picked.code}")


def _from_dataset(trained: TrainedModel, key: str, class_key: str) -> PickedInput:
    data = own_test_data(trained)
    by = st.radio(t("inputs.pick_by"), _BY, horizontal=True, key=linked(f"{key}_by", choices=_BY),
                  format_func=lambda b: t(f"inputs.by.{b}"))
    if by == "class":
        left, right = st.columns(2)
        classes = range(len(data.class_names))
        cls = left.selectbox(t("inputs.class"), classes, format_func=data.class_names.__getitem__,
                             key=linked(class_key, choices=classes))
        matches = np.flatnonzero(data.y_test == cls)
        last = max(len(matches) - 1, 0)
        nth = right.number_input(t("inputs.example", count=len(matches)), 0, last, 0,
                                 key=linked(f"{key}_nth", low=0, high=last))
        index = int(matches[int(nth)])
    else:
        last = len(data.x_test) - 1
        index = int(st.number_input(t("inputs.test_image", last=last), 0, last, 0,
                                    key=linked(f"{key}_index", low=0, high=last)))
    true_class = data.class_names[data.y_test[index]]
    return PickedInput(data.x_test[index], t("inputs.label.test_image", index=index, dataset=data.name), true_class,
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
    upload = st.file_uploader(t("inputs.upload"), type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
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
                # Kept with the file's name as its label: worded below, in each run's language.
                st.session_state[kept] = PickedInput(to_model_input(pixels, trained.info.preprocessing), upload.name)
            except CnnvizError as exc:
                problem = str(exc)
        if problem is not None:
            st.error(t("inputs.upload_failed", name=as_markdown_text(upload.name),
                       problem=as_markdown_text(problem, limit=300)))
    if kept in st.session_state and st.session_state[kept].image.shape == trained.info.preprocessing.input_shape:
        return replace(st.session_state[kept], label=t("inputs.label.upload", name=st.session_state[kept].label))
    st.info(t("inputs.no_upload"))
    return PickedInput(to_model_input(load_photo("chelsea"), trained.info.preprocessing),
                       t("inputs.label.photo", name="chelsea"))


def _from_canvas(trained: TrainedModel, key: str) -> PickedInput:
    from streamlit_drawable_canvas import st_canvas  # needs a running Streamlit: import here

    st.caption(t("inputs.draw_hint"))
    result = st_canvas(stroke_width=18, stroke_color="#ffffff", background_color="#000000", height=224,
                       width=224, drawing_mode="freedraw", return_image_data=True, key=f"{key}_canvas")
    rgba = None if result is None else result.image_data
    if rgba is None:
        rgba = np.zeros((224, 224, 4), dtype=np.uint8)
    return PickedInput(to_model_input(np.asarray(rgba)[:, :, :3], trained.info.preprocessing),
                       t("inputs.label.drawing"))
