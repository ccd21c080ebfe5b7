"""The training replay of the session's current model: kept beside it, and read from an uploaded model file.

A replay belongs to one model (a training run's, or a file's): it is shown and saved only while
that model is current, so switching to a zoo model shows none, and switching back shows it again.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import CnnvizError, TrainedModel, TrainingReplay, load_replay
from cnnviz.safe_text import as_markdown_text
from pages.common import words_replay as words
from pages.common.session import app_settings, current_model

_MODEL_REPLAY = "model_replay"  # (the nn.Module it belongs to, its TrainingReplay)


def attach_replay(trained: TrainedModel, replay: TrainingReplay | None) -> None:
    """Keep `replay` as the replay of `trained`'s network (None: it has none)."""
    if replay is None:
        st.session_state.pop(_MODEL_REPLAY, None)
    else:
        st.session_state[_MODEL_REPLAY] = (trained.model, replay)


def current_replay() -> TrainingReplay | None:
    """The replay of the current model, if it has one."""
    kept = st.session_state.get(_MODEL_REPLAY)
    return kept[1] if kept is not None and kept[0] is current_model().model else None


def replay_from_upload(data: bytes, loaded: TrainedModel) -> None:
    """Keep the replay an uploaded model file carries for `loaded` (its model, now current), or say why not."""
    try:
        replay = load_replay(data, model=loaded.model, max_bytes=app_settings().max_upload_mb * 2**20)
    except (CnnvizError, ValueError) as exc:
        st.warning(words.refused(as_markdown_text(exc, limit=300)))
        return
    attach_replay(loaded, replay)
    if replay is not None:
        st.info(words.loaded(replay.epochs[-1]))
