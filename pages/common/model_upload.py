"""An uploaded model file made the session's model, or refused with the reason (Train / load's file tab).

Image models become the current model (measured on their own test set when they carry no
accuracy); TextCNN models become the TextCNN page's. The file is checked against the app's
size and cost budget before anything is built or run.
"""

from dataclasses import replace

import streamlit as st

from cnnviz import CnnvizError, evaluate, load_model_bytes, saved_view, untrained_model
from cnnviz.safe_text import as_markdown_text
from pages.common import words_train as words
from pages.common.i18n import phrase
from pages.common.replays import replay_from_upload
from pages.common.session import (
    app_settings,
    current_model,
    dataset,
    own_test_data,
    set_current_model,
    set_current_text_model,
)

VIEW_KEY = "loaded_view"  # (file id, view) when the last uploaded model file carried a view of the app


def load_upload(upload, architecture: str, dataset_name: str) -> None:
    """Load an uploaded model file as the current model (text models: the TextCNN page's), or say why not."""
    try:
        data = dataset(dataset_name)
        picked = untrained_model(architecture, data).info
        picked = replace(picked, name=f"{picked.spec.name} ({upload.name})")
        # The budget is checked from the file's spec before anything is built or run (cnnviz.models.budget).
        loaded = load_model_bytes(upload.getvalue(), filename=upload.name, info=picked,
                                  max_bytes=app_settings().max_upload_mb * 2**20, budget=app_settings().budget())
    except (CnnvizError, ValueError) as exc:
        st.error(words.not_loaded(as_markdown_text(upload.name), as_markdown_text(exc, limit=400),
                                  as_markdown_text(current_model().info.name)))
        return
    if loaded.reads_text and loaded.info.spec.kind != "text_cnn":
        st.error(words.not_a_text_cnn(as_markdown_text(upload.name), as_markdown_text(loaded.info.spec.name)))
        return
    view = saved_view(upload.getvalue())  # a teacher's file may carry a view to open with the model
    st.session_state[VIEW_KEY] = (upload.file_id, view) if view is not None else None
    if loaded.reads_text:  # the image pages keep their model; the TextCNN page takes this one
        set_current_text_model(loaded, reason=phrase("frame.reason.file", name=upload.name))
        st.success(words.loaded(as_markdown_text(upload.name), as_markdown_text(loaded.info.name), text=True))
        return
    own = own_test_data(loaded)
    if loaded.info.test_accuracy is None and own is not None:
        loaded = loaded.with_accuracy(evaluate(loaded.model, *own.test_tensors()).accuracy)
    set_current_model(loaded, reason=phrase("frame.reason.file", name=upload.name))
    st.success(words.loaded(as_markdown_text(upload.name), as_markdown_text(loaded.info.name), text=False))
    replay_from_upload(upload.getvalue(), loaded)  # a training replay saved with the model, if any
