"""Session state and caches shared by every page: settings, data sets, the current model.

Shared read-only things (data sets, zoo checkpoints) sit in `st.cache_resource`;
the current model is the session's own copy, since hooks and gradients mutate it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import streamlit as st

from cnnviz import (
    ARCHITECTURES,
    DEFAULT_TEXT_ZOO_MODEL,
    DEFAULT_ZOO_MODEL,
    OFFLINE_DATASETS,
    ONLINE_DATASETS,
    ONLINE_TEXT_CORPORA,
    ZOO,
    EpochReport,
    ImageDataset,
    Settings,
    TextDataset,
    TrainConfig,
    TrainedModel,
    evaluate,
    load_image_dataset,
    load_text_corpus,
    load_zoo_model,
    receptive_fields,
    set_torch_threads,
    settings_from_env,
)
from cnnviz.safe_text import as_markdown_text

_CURRENT = "current_model"
_TEXT = "current_text_model"  # the TextCNN page's model: text models leave the image pages their model
_ZOO_KEYS = "current_zoo_keys"  # {"image"/"text": zoo key} while that model is an untouched zoo model
_RUN = "training_run"        # a run in progress; left behind when a rerun (Stop) interrupts it
_RESULT = "training_result"  # what the last finished or stopped run achieved
_PREVIOUS = "previous_models"  # {"image"/"text": (model, zoo key, reason)} that the current one replaced
_REASONS = "current_reasons"   # {"image"/"text": why that model is current}

DATASET_LABELS = {
    "digits": "digits (8x8 handwritten, offline)",
    "shapes": "shapes (procedural, offline)",
    "mnist": "MNIST (online)",
    "fashion_mnist": "Fashion-MNIST (online)",
    "cifar10": "CIFAR-10 (online)",
}


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


def zoo_copy(key: str) -> TrainedModel:
    """A session's own copy of a zoo model (the cached one is never run through hooks)."""
    shared = _zoo_model(key)
    return TrainedModel(copy.deepcopy(shared.model), shared.info)


def current_model() -> TrainedModel:
    """The session's current model; a zoo model until the user trains or loads another."""
    if _CURRENT not in st.session_state:
        _install("image", zoo_copy(DEFAULT_ZOO_MODEL), DEFAULT_ZOO_MODEL, "the default zoo model")
    return st.session_state[_CURRENT]


def set_current_model(trained: TrainedModel, *, zoo_key: str | None = None, reason: str = "") -> None:
    """Make `trained` the current model of this session, for every page; `zoo_key` if it is a zoo model.

    `reason` says why it is current (shown in the sidebar); the model it replaces is kept, so
    the user can switch back to it.
    """
    current_model()  # so there is a model to keep as the previous one
    _keep_previous("image")
    _install("image", trained, zoo_key, reason)
    st.session_state.pop(_RESULT, None)  # the last run's results no longer describe the current model


def current_text_model() -> TrainedModel:
    """The session's text model (TextCNN page); the zoo TextCNN until the user trains or loads another."""
    if _TEXT not in st.session_state:
        _install("text", zoo_copy(DEFAULT_TEXT_ZOO_MODEL), DEFAULT_TEXT_ZOO_MODEL, "the default zoo model")
    return st.session_state[_TEXT]


def set_current_text_model(trained: TrainedModel, *, zoo_key: str | None = None, reason: str = "") -> None:
    """Make `trained` (a text model) the TextCNN page's model for this session; `zoo_key` if a zoo model.

    As with `set_current_model`, the model it replaces is kept for switching back.
    """
    current_text_model()
    _keep_previous("text")
    _install("text", trained, zoo_key, reason)


def _install(side: str, trained: TrainedModel, zoo_key: str | None, reason: str) -> None:
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
        st.session_state.pop(_RESULT, None)


def current_reason(*, text: bool = False) -> str:
    """Why the current (image, or with `text` the text) model is current, in a few words."""
    current_text_model() if text else current_model()
    return st.session_state.get(_REASONS, {}).get("text" if text else "image", "")


def current_zoo_key(*, text: bool = False) -> str | None:
    """The zoo key of the current (image, or with `text` the text) model, or None if it is not a zoo model."""
    current_text_model() if text else current_model()
    return st.session_state[_ZOO_KEYS].get("text" if text else "image")


def sidebar_model_panel(slot, *, text: bool = False, final: bool = False) -> None:
    """The model a page uses, at a glance, drawn into a sidebar placeholder: the current (image) model,
    or with `text` the TextCNN page's model.

    A page draws it when it opens and again, `final`, when it closes (the page may have
    changed the model); the two draws need their own widget keys."""
    trained = current_text_model() if text else current_model()
    info = trained.info
    with slot.container(border=True):
        st.markdown("**Current text model**" if text else "**Current model**")
        st.markdown(as_markdown_text(info.name))   # names come from model files: text, not markup
        accuracy = "not measured" if info.test_accuracy is None else f"{info.test_accuracy:.1%}"
        if text:
            shape = f"up to {info.preprocessing.max_length} words, {len(info.preprocessing.vocabulary):,} known"
        else:
            shape = "×".join(map(str, info.preprocessing.input_shape))
        st.caption(
            f"Data set: {as_markdown_text(info.dataset)}  \n"
            f"Test accuracy: {accuracy}  \n"
            f"Parameters: {trained.parameters:,}  \n"
            f"Input: {shape}")
        reason = current_reason(text=text)
        if reason:
            st.caption(f"Why this model: {as_markdown_text(reason, limit=200)}.")   # may name an uploaded file
        previous = previous_model(text=text)
        if previous is not None:
            st.button(f"Switch back to {as_markdown_text(previous.info.name)}",
                      key=f"switch_back_{'text' if text else 'image'}{'' if final else '_early'}",
                      on_click=switch_back, kwargs={"text": text}, icon=":material/undo:",
                      help="The model this one replaced; switching again returns to this one.")
        waiting = None if text else last_result()
        if waiting and waiting.get("candidate") is not None:
            st.caption(f"A training run {waiting['status']} after {len(waiting['history'])} epoch(s) and was "
                       "not made current; Train / load offers it.")


@dataclass
class TrainingRun:
    """A run in progress: the model being trained and the epochs finished so far."""

    trained: TrainedModel
    config: TrainConfig
    history: list[EpochReport] = field(default_factory=list)


def finish_run(run: TrainingRun, status: str, message: str) -> None:
    """Evaluate the run's model and keep its results for display.

    A run that completed becomes the current model (the one it replaces can be switched
    back to). A stopped or diverged one does not: a half-trained model must not silently
    replace a good one, so it waits in the results as a candidate the user may adopt.
    """
    data = dataset(run.trained.info.dataset)
    evaluation = evaluate(run.trained.model, *data.test_tensors())
    trained = run.trained.with_accuracy(evaluation.accuracy)
    epochs = f"{len(run.history)} of {run.config.epochs} epochs"
    if status == "completed":
        set_current_model(trained, reason=f"trained on Train / load ({epochs})")
    st.session_state[_RESULT] = {"history": run.history, "evaluation": evaluation, "status": status,
                                 "message": message, "dataset": data.name, "epochs": run.config.epochs,
                                 "candidate": None if status == "completed" else trained,
                                 "reason": f"trained on Train / load, {status} after {epochs}"}
    st.session_state.pop(_RUN, None)


def adopt_candidate() -> None:
    """Make the last run's stopped or diverged model the current one (the user asked for it)."""
    result = last_result()
    if result and result.get("candidate") is not None:
        candidate, reason = result["candidate"], result["reason"]
        set_current_model(candidate, reason=reason)  # this clears the results, so keep them
        st.session_state[_RESULT] = {**result, "candidate": None}


def start_run(run: TrainingRun) -> TrainingRun:
    """Record a run before its first step, so an interruption cannot lose it."""
    st.session_state[_RUN] = run
    return run


def settle_interrupted_run() -> None:
    """Keep the model of a run that a rerun interrupted (the Stop button, or leaving the page)."""
    run = st.session_state.get(_RUN)
    if run is not None:
        finish_run(run, "stopped", f"Stopped after {len(run.history)} finished epoch(s).")


def last_result() -> dict | None:
    """The results of the last finished or stopped run, if any."""
    return st.session_state.get(_RESULT)
