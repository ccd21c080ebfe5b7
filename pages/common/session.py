"""Session state and caches shared by every page: settings, data sets, the current model.

Shared read-only things (data sets, zoo checkpoints) sit in `st.cache_resource`;
the current model is the session's own copy, since hooks and gradients mutate it.
"""

from __future__ import annotations

import copy

import streamlit as st

from cnnviz import (
    ARCHITECTURES,
    DEFAULT_TEXT_ZOO_MODEL,
    DEFAULT_ZOO_MODEL,
    OFFLINE_DATASETS,
    ONLINE_DATASETS,
    ONLINE_TEXT_CORPORA,
    ZOO,
    ImageDataset,
    Settings,
    TextDataset,
    TrainedModel,
    load_image_dataset,
    load_text_corpus,
    load_zoo_model,
    receptive_fields,
    set_torch_threads,
    settings_from_env,
)
from pages.common.i18n import DEFAULT_LANGUAGE, Phrase, catalogue, language, phrase, t

_CURRENT = "current_model"
_TEXT = "current_text_model"  # the TextCNN page's model: text models leave the image pages their model
_ZOO_KEYS = "current_zoo_keys"  # {"image"/"text": zoo key} while that model is an untouched zoo model
RUN_KEY = "training_run"        # a run in progress; left behind when a rerun (Stop) interrupts it
RESULT_KEY = "training_result"  # what the last finished or stopped run achieved
_PREVIOUS = "previous_models"  # {"image"/"text": (model, zoo key, reason)} that the current one replaced
_REASONS = "current_reasons"   # {"image"/"text": why that model is current}
TEXT_ZOO_MODELS = {"zh": "textcnn-reviews_zh"}   # a new session's text model by its language (else the default)

# The image data sets a menu offers, in its order, with their English names (pages/locales/*/datasets.toml):
# a menu lists the keys and shows each with `dataset_label`, in the session's language.
DATASET_LABELS = {key[len("datasets."):]: label for key, label in catalogue(DEFAULT_LANGUAGE).items()
                  if key.startswith("datasets.")}


def dataset_label(name: str) -> str:
    """How a menu names the data set `name`, in the session's language; the name itself if it has no entry."""
    return t(f"datasets.{name}") if name in DATASET_LABELS else name


@st.cache_resource
def app_settings() -> Settings:
    """Settings from the environment, applied once per process (torch threads)."""
    settings = settings_from_env()
    set_torch_threads(settings.threads)
    # Load (and so trace, see _zoo_model) every zoo image model now, in the process's first run, rather
    # than when a later session first asks for one while other sessions run forward passes.
    for key, entry in ZOO.items():
        if entry.architecture in ARCHITECTURES:
            _zoo_model(key)
    return settings


@st.cache_resource(show_spinner="Loading the data set ...")
def dataset(name: str, size: int | None = None) -> ImageDataset:
    """A data set (at `size` pixels, or its default size), loaded once per process and shared (read-only).

    Online sets take at most `max_samples` examples (fewer in a hosted demo)."""
    n_samples = app_settings().max_samples if name in ONLINE_DATASETS else None
    return load_image_dataset(name, size=size, n_samples=n_samples)


@st.cache_resource(show_spinner="Loading the corpus ...")
def text_corpus(name: str) -> TextDataset:
    """A text corpus, loaded once per process and shared by every session (read-only)."""
    return load_text_corpus(name, n_samples=app_settings().max_samples if name in ONLINE_TEXT_CORPORA else None)


@st.cache_resource(show_spinner="Loading the model ...")
def _zoo_model(key: str) -> TrainedModel:
    trained = load_zoo_model(key)
    if not trained.reads_text:  # trace its architecture now, before sessions run forward passes (see receptive_fields)
        receptive_fields(trained.model, trained.info.preprocessing.input_shape)
    return trained


def own_test_data(trained: TrainedModel) -> ImageDataset | None:
    """The offline data set a model was trained on, if it is one and its images fit the model's input.

    A model file names its data set, but could have been trained at another size: then None.
    """
    if trained.reads_text or trained.info.dataset not in OFFLINE_DATASETS:
        return None
    data = dataset(trained.info.dataset)
    return data if data.preprocessing.input_shape == trained.info.preprocessing.input_shape else None


def zoo_reference(key: str) -> TrainedModel:
    """The process's shared copy of a zoo model, to read its description and size only: never run it
    (hooks and gradients would reach every session; `zoo_copy` gives one to run)."""
    return _zoo_model(key)


def zoo_copy(key: str) -> TrainedModel:
    """A session's own copy of a zoo model (the cached one is never run through hooks)."""
    shared = _zoo_model(key)
    return TrainedModel(copy.deepcopy(shared.model), shared.info)


def current_model() -> TrainedModel:
    """The session's current model; a zoo model until the user trains or loads another."""
    if _CURRENT not in st.session_state:
        _install("image", zoo_copy(DEFAULT_ZOO_MODEL), DEFAULT_ZOO_MODEL, phrase("frame.reason.default"))
    return st.session_state[_CURRENT]


def set_current_model(trained: TrainedModel, *, zoo_key: str | None = None, reason: str | Phrase = "") -> None:
    """Make `trained` the current model of this session, for every page; `zoo_key` if it is a zoo model.

    `reason` says why it is current (shown in the sidebar); the model it replaces is kept, so
    the user can switch back to it.
    """
    current_model()  # so there is a model to keep as the previous one
    _keep_previous("image")
    _install("image", trained, zoo_key, reason)
    st.session_state.pop(RESULT_KEY, None)  # the last run's results no longer describe the current model


def current_text_model() -> TrainedModel:
    """The session's text model (TextCNN page); the zoo TextCNN until the user trains or loads another.

    The zoo TextCNN is the one of the session's language when the model is first needed (the Chinese one reads
    Chinese reviews); switching the language later keeps the model, and a link's `model=` replaces it."""
    if _TEXT not in st.session_state:
        key = TEXT_ZOO_MODELS.get(language(), DEFAULT_TEXT_ZOO_MODEL)
        _install("text", zoo_copy(key), key, phrase("frame.reason.default"))
    return st.session_state[_TEXT]


def set_current_text_model(trained: TrainedModel, *, zoo_key: str | None = None, reason: str | Phrase = "") -> None:
    """Make `trained` (a text model) the TextCNN page's model for this session; `zoo_key` if a zoo model.

    As with `set_current_model`, the model it replaces is kept for switching back.
    """
    current_text_model()
    _keep_previous("text")
    _install("text", trained, zoo_key, reason)


def _install(side: str, trained: TrainedModel, zoo_key: str | None, reason: str | Phrase) -> None:
    st.session_state[_TEXT if side == "text" else _CURRENT] = trained
    st.session_state.setdefault(_ZOO_KEYS, {})[side] = zoo_key
    st.session_state.setdefault(_REASONS, {})[side] = reason


def _keep_previous(side: str) -> None:
    trained = st.session_state[_TEXT if side == "text" else _CURRENT]
    st.session_state.setdefault(_PREVIOUS, {})[side] = (
        trained, st.session_state[_ZOO_KEYS].get(side), st.session_state.get(_REASONS, {}).get(side, ""))


def previous_model(*, text: bool = False) -> TrainedModel | None:
    """The model that the current (image, or with `text` the text) model replaced, if any."""
    kept = st.session_state.get(_PREVIOUS, {}).get("text" if text else "image")
    return None if kept is None else kept[0]


def switch_back(*, text: bool = False) -> None:
    """Swap the current model and the one it replaced (a second switch undoes the first)."""
    side = "text" if text else "image"
    kept = st.session_state.get(_PREVIOUS, {}).get(side)
    if kept is None:
        return
    _keep_previous(side)
    _install(side, *kept)
    if not text:
        st.session_state.pop(RESULT_KEY, None)


def current_reason(*, text: bool = False) -> str:
    """Why the current (image, or with `text` the text) model is current, in a few words of the session's language."""
    current_text_model() if text else current_model()
    return str(st.session_state.get(_REASONS, {}).get("text" if text else "image", ""))


def current_zoo_key(*, text: bool = False) -> str | None:
    """The zoo key of the current (image, or with `text` the text) model, or None if it is not a zoo model."""
    current_text_model() if text else current_model()
    return st.session_state[_ZOO_KEYS].get("text" if text else "image")
