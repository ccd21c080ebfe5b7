"""Train / load: train a model with live progress, switch to a zoo model, save or upload a model file."""


import streamlit as st

from cnnviz import (
    OFFLINE_DATASETS,
    ZOO,
    TrainConfig,
    model_summary,
)
from cnnviz.models.specs import TEXT_KINDS
from cnnviz.plots import plot_confusion_matrix, plot_image_grid, plot_training_curves
from cnnviz.safe_text import as_markdown_text
from pages.common import words_train as words
from pages.common.frame import close_page_frame, page_for_path, page_frame
from pages.common.i18n import figure_labels, language, phrase, t
from pages.common.links import linked
from pages.common.live_training import TRAINED_WITH, run_training
from pages.common.model_upload import VIEW_KEY, load_upload
from pages.common.replay_view import model_download, replay_section
from pages.common.reproduce import reproduce_panel, snippet
from pages.common.runs import adopt_candidate, last_result
from pages.common.session import (
    DATASET_LABELS,
    app_settings,
    current_model,
    current_zoo_key,
    dataset,
    dataset_label,
    set_current_model,
    zoo_copy,
)
from pages.common.shared_runs import shared_view

ARCHITECTURES = list(words.ARCHITECTURE_LABELS)  # keys; `words.architecture_label` names them
BATCH_SIZES = [16, 32, 64, 128, 256]
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]
_UPLOAD = "loaded_upload"  # id of the last uploaded file handled, so a rerun does not reload it


def curves_code(architecture: str, dataset_name: str, config: TrainConfig) -> str:
    """The snippet that trains the same model again and draws its curves."""
    return snippet(
        f"data = cnnviz.load_image_dataset({dataset_name!r})",
        f"trained = cnnviz.untrained_model({architecture!r}, data, seed={config.seed})",
        f"config = cnnviz.{config!r}",
        "# Same seed, same curves; another machine or thread count (torch.set_num_threads) may differ slightly.",
        "result = cnnviz.train(trained.model, data.train_tensors(), config, test_set=data.test_tensors())",
        f"fig = cnnviz.plots.plot_training_curves(result.history, total_epochs={config.epochs})")


def show_result() -> None:
    """Curves, confusion matrix and misclassified examples of the last run."""
    result = last_result()
    if not result:
        return
    evaluation = result["evaluation"]
    data = dataset(result["dataset"])
    note = {"completed": st.success, "stopped": st.warning, "diverged": st.error}[result["status"]]
    candidate = result.get("candidate") is not None
    note(words.run_outcome(result["message"], evaluation.accuracy, result["status"],
                           as_markdown_text(current_model().info.name) if candidate else None))
    if candidate:
        st.button(t("train.result.adopt"), on_click=adopt_candidate, icon=":material/swap_horiz:",
                  key="adopt_run")
    # The result is this session's and never changes: its figures are built on the first rerun that shows them
    # (in each language: the curves and the confusion matrix have words).
    figures = result.setdefault("figures", {}).setdefault(language(), {})
    if result["history"]:
        if "curves" not in figures:
            figures["curves"] = plot_training_curves(result["history"], total_epochs=result["epochs"],
                                                     labels=figure_labels("training_curves"))
        curves = figures["curves"]
        st.plotly_chart(curves, key="curves")
        trained_with = st.session_state.get(TRAINED_WITH)
        # Only for a run that finished here: a stopped or diverged one ends where the snippet would go on.
        if result["status"] == "completed" and trained_with and trained_with[0] is result:
            reproduce_panel(curves, curves_code(*trained_with[1:]), name="training_curves")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(t("train.result.confusion"))
        if "confusion" not in figures:
            figures["confusion"] = plot_confusion_matrix(evaluation.confusion, data.class_names,
                                                         labels=figure_labels("confusion_matrix"))
        st.plotly_chart(figures["confusion"], key="confusion", width="content")
    with right:
        wrong = evaluation.misclassified[:16]
        st.markdown(words.misclassified_heading(len(evaluation.misclassified)))
        if len(wrong):
            if "misclassified" not in figures:
                titles = [f"{data.class_names[evaluation.labels[i]]}→"
                          f"{data.class_names[evaluation.predictions[i]]} {evaluation.probabilities[i].max():.0%}"
                          for i in wrong]
                figures["misclassified"] = plot_image_grid(data.x_test[wrong], titles, columns=8)
            st.plotly_chart(figures["misclassified"], key="misclassified")
            st.caption(t("train.result.misclassified_note"))
        else:
            st.write(t("train.result.none_wrong"))


def train_tab() -> None:
    """The training form and the results of the last run."""
    settings = app_settings()
    defaults = TrainConfig()
    with st.form("train_form"):
        left, right = st.columns(2)
        architecture = left.selectbox(t("train.form.architecture"), ARCHITECTURES, format_func=words.architecture_label,
                                      key=linked("train_architecture", choices=ARCHITECTURES))
        dataset_name = right.selectbox(t("train.form.dataset"), list(DATASET_LABELS), format_func=dataset_label,
                                       key=linked("train_dataset", choices=list(DATASET_LABELS)))
        a, b, c, d = st.columns(4)
        epochs = a.number_input(t("train.form.epochs"), 1, settings.max_epochs,
                                min(defaults.epochs, settings.max_epochs),
                                key=linked("train_epochs", low=1, high=settings.max_epochs))
        batch_size = b.selectbox(t("train.form.batch_size"), BATCH_SIZES, index=BATCH_SIZES.index(defaults.batch_size),
                                 key=linked("train_batch_size", choices=BATCH_SIZES))
        learning_rate = c.select_slider(t("train.form.learning_rate"), LEARNING_RATES, value=defaults.learning_rate,
                                        help=t("train.form.learning_rate_help"),
                                        key=linked("train_learning_rate", choices=LEARNING_RATES))
        seed = d.number_input(t("train.form.seed"), 0, 2**31 - 1, 0, help=t("train.form.seed_help"),
                              key=linked("train_seed", low=0, high=2**31 - 1))
        # The key the English label gave it: the same in every language.
        submitted = st.form_submit_button(t("train.form.submit"), type="primary", key="FormSubmitter:train_form-Train")
    if submitted:
        config = TrainConfig(epochs=int(epochs), batch_size=int(batch_size),
                             learning_rate=float(learning_rate), seed=int(seed))
        run_training(architecture, dataset_name, config)
    show_result()


def zoo_tab() -> None:
    """Switch to one of the trained models shipped with cnnviz."""
    # Text models have their own page (TextCNN), which starts with the zoo's TextCNN.
    keys = [key for key, entry in ZOO.items() if entry.architecture not in TEXT_KINDS]
    key = st.selectbox(t("train.zoo.model"), keys, format_func=words.zoo_label, key="zoo_model")
    if ZOO[key].prebuilt:
        st.caption(t("train.zoo.prebuilt"))
    if st.button(t("train.zoo.use"), type="primary", key="use_zoo_model"):
        set_current_model(zoo_copy(key), zoo_key=key, reason=phrase("frame.reason.zoo"))
        st.success(t("train.zoo.now_current", name=as_markdown_text(current_model().info.name)))


def file_tab() -> None:
    """Download the current model; upload a model file (refused safely if it is not plain weights)."""
    trained = current_model()
    key = current_zoo_key()
    if key is not None and ZOO[key].prebuilt:
        # Its file would be refused as an upload (over any server's budget for uploaded models), and every
        # session has it already: no download, and the way to it instead.
        st.info(words.prebuilt_file_note(as_markdown_text(trained.info.name), key))
    else:
        model_download(trained)
    st.caption(t("train.file.model_file_note"))
    st.divider()
    upload = st.file_uploader(t("train.file.upload"), help=t("train.file.upload_help"), key="model_file")
    st.caption(t("train.file.weights_only"))
    left, right = st.columns(2)
    architecture = left.selectbox(t("train.file.architecture"), ARCHITECTURES, format_func=words.architecture_label,
                                  key="upload_architecture")
    dataset_name = right.selectbox(t("train.file.dataset"), list(OFFLINE_DATASETS), format_func=dataset_label,
                                   key="upload_dataset")
    # Handle each (file, architecture, data set) once: reruns must not load it again, but a new
    # choice of architecture for a refused state_dict must.
    attempt = (upload.file_id, architecture, dataset_name) if upload is not None else None
    if attempt is not None and st.session_state.get(_UPLOAD) != attempt:
        st.session_state[_UPLOAD] = attempt
        load_upload(upload, architecture, dataset_name)
    view = st.session_state.get(VIEW_KEY)
    if upload is not None and view is not None and view[0] == upload.file_id:
        page = page_for_path(view[1]["page"])
        if page is not None:
            st.page_link(page, label=t("train.file.open_view", name=as_markdown_text(upload.name), page=page.title),
                         icon=":material/arrow_forward:", query_params=view[1]["params"])


frame = page_frame()
st.title(t("train.title"))

train_section, zoo_section, file_section = st.tabs([t(f"train.tabs.{tab}") for tab in ("train", "zoo", "file")])
with train_section:
    train_tab()
with zoo_section:
    zoo_tab()
with file_section:
    file_tab()
replay_section()  # below the tabs: what any tab just did (a run, a zoo model, an upload) shows at once

with st.expander(t("train.layers.heading")):
    info = current_model().info
    rows = shared_view("summary", current_model(), (),
                       lambda: model_summary(current_model().model, info.preprocessing.input_shape))
    columns = {name: t(f"train.layers.{name}") for name in ("layer", "type", "output_shape", "parameters")}
    st.dataframe([dict(zip(columns.values(), (r.name, r.kind, "×".join(map(str, r.output_shape)), r.params),
                           strict=True)) for r in rows], hide_index=True)
    st.caption(t("train.layers.total", parameters=current_model().parameters))

close_page_frame(frame)
