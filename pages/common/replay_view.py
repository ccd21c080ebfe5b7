"""Train / load's training replay: an epoch slider over the snapshots of the last run (or of a loaded file),
and the current model's download, with the replay in the file when asked for.

The slider and the layer live in an `st.fragment`, so moving them reruns only the replay.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import TrainConfig, TrainingReplay, lossless_weights_dtype, model_to_bytes
from cnnviz.plots import plot_replay_feature_maps, plot_replay_filters, plot_replay_histograms
from cnnviz.safe_text import as_markdown_text
from pages.common import words_replay as words
from pages.common.i18n import figure_labels, t
from pages.common.live_training import TRAINED_WITH
from pages.common.replays import current_replay
from pages.common.reproduce import reproduce_panel, snippet
from pages.common.runs import last_result
from pages.common.session import app_settings, current_model, dataset, own_test_data

_EPOCH, _LAYER = "replay_epoch", "replay_layer"


def replay_code(architecture: str, dataset_name: str, config: TrainConfig, plot: str) -> str:
    """The snippet that trains the same model again with a recorder and draws one replay figure (`plot`)."""
    return snippet(
        f"data = cnnviz.load_image_dataset({dataset_name!r})",
        f"trained = cnnviz.untrained_model({architecture!r}, data, seed={config.seed})",
        f"config = cnnviz.{config!r}",
        "# Records epoch 0 now, then one snapshot after every epoch; training is the same as without it.",
        "recorder = cnnviz.ReplayRecorder(trained.model, data.test_tensors(), "
        "layers=cnnviz.convolution_layers(trained.model))",
        "cnnviz.train(trained.model, data.train_tensors(), config, on_epoch=recorder)",
        "replay = recorder.replay()",
        f"fig = cnnviz.plots.{plot}")


def replay_section() -> None:
    """The last run's replay (a stopped run's too), else the current model's (from a file), else a note."""
    result = last_result()
    replay = result.get("replay") if result else current_replay()
    if replay is None:
        st.caption(t("replay.none"))
        return
    st.subheader(t("replay.heading"))
    st.caption(t("replay.intro"))
    settings = app_settings()
    st.caption(words.memory(replay.nbytes, replay.snapshots[0].nbytes, len(replay.snapshots), settings.max_epochs,
                            replay.bytes_for(settings.max_epochs)))
    if result and len(replay.snapshots) <= result["epochs"]:
        st.caption(words.stopped(replay.epochs[-1], result["epochs"]))
    trained_with = st.session_state.get(TRAINED_WITH)
    # Snippets only for a run that finished here: they train the same model again to its end.
    code = trained_with[1:] if (result and result["status"] == "completed" and trained_with
                                and trained_with[0] is result) else None
    data = dataset(result["dataset"]) if result else None
    replay_view(replay, code, data)


@st.fragment
def replay_view(replay: TrainingReplay, code: tuple | None, data) -> None:
    """The epoch slider and the figures of that epoch; its widgets rerun only this part."""
    epochs, layers = list(replay.epochs), list(replay.map_layers)
    for key, options in ((_EPOCH, epochs), (_LAYER, layers)):
        if st.session_state.get(key) not in options:  # a kept value from another run's replay
            st.session_state.pop(key, None)
    left, right = st.columns([3, 1])
    epoch = left.select_slider(t("replay.epoch"), epochs, value=epochs[0], key=_EPOCH)
    layer = right.selectbox(t("replay.layer"), layers, key=_LAYER)
    filters = plot_replay_filters(replay, epoch, labels=figure_labels("replay_filters"),
                                  filters_labels=figure_labels("filters"))
    maps = plot_replay_feature_maps(replay, epoch, layer, labels=figure_labels("replay_feature_maps"),
                                    maps_labels=figure_labels("feature_maps"))
    histograms = plot_replay_histograms(replay, epoch, labels=figure_labels("replay_histograms"))
    filters_column, maps_column = st.columns([1, 3])
    with filters_column:
        st.plotly_chart(filters, key="replay_filters")
        st.caption(t("replay.filters_note"))
    with maps_column:
        st.plotly_chart(maps, key="replay_maps")
        data = data if data is not None else own_test_data(current_model())
        name = (data.class_names[int(data.y_test[replay.image_index])]
                if data is not None and replay.image_index < len(data.y_test) else None)
        st.caption(words.maps_caption(replay.image_index, as_markdown_text(name) if name else None, epoch,
                                      replay.snapshot(epoch).probe_loss))
    st.plotly_chart(histograms, key="replay_histograms")
    st.caption(t("replay.gradient_note", probe=replay.probe_size))
    if code is not None:
        for fig, name, plot in ((filters, "replay_filters", f"plot_replay_filters(replay, {epoch})"),
                                (maps, "replay_maps", f"plot_replay_feature_maps(replay, {epoch}, {layer!r})"),
                                (histograms, "replay_histograms", f"plot_replay_histograms(replay, {epoch})")):
            reproduce_panel(fig, replay_code(*code, plot), name=name)


def model_download(trained) -> None:
    """The current model's file, built only when asked for, with float16 weights where that loses nothing, and
    its training replay if the user ticks the box."""
    replay = current_replay()
    include = st.checkbox(t("replay.include"), value=False, key="save_replay", disabled=replay is None,
                          help=t("replay.no_replay_help") if replay is None else
                          words.include_help(len(replay.snapshots), words.size(replay.nbytes)))
    saved = replay if include and replay is not None else None
    file_name = trained.info.name.lower().replace(" ", "-") + ".safetensors"
    st.download_button(t("train.file.download"), on_click="ignore", file_name=file_name,
                       data=lambda: model_to_bytes(trained, weights_dtype=lossless_weights_dtype(trained),
                                                   replay=saved),
                       mime="application/octet-stream", icon=":material/download:")
