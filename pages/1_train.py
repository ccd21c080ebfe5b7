"""Train / load: train a model with live progress, switch to a zoo model, save or upload a model file."""

import time
from dataclasses import replace

import streamlit as st

from cnnviz import (
    OFFLINE_DATASETS,
    ZOO,
    CnnvizError,
    TrainConfig,
    evaluate,
    load_model_bytes,
    model_summary,
    model_to_bytes,
    saved_view,
    train,
    untrained_model,
)
from cnnviz.plots import plot_confusion_matrix, plot_image_grid, plot_training_curves
from cnnviz.safe_text import as_markdown_text
from pages.common.frame import close_page_frame, page_for_path, page_frame
from pages.common.links import linked
from pages.common.reproduce import reproduce_panel, snippet
from pages.common.session import (
    DATASET_LABELS,
    TrainingRun,
    adopt_candidate,
    app_settings,
    current_model,
    dataset,
    finish_run,
    last_result,
    own_test_data,
    set_current_model,
    set_current_text_model,
    start_run,
    zoo_copy,
)
from pages.common.shared_runs import FinishedTraining, shared_trainings, shared_view, training_slot

ARCHITECTURE_LABELS = {"lenet5": "LeNet-5 (LeCun 1998)", "tiny_vgg": "TinyVGG (CNN Explainer)"}
BATCH_SIZES = [16, 32, 64, 128, 256]
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]
_UPLOAD = "loaded_upload"  # id of the last uploaded file handled, so a rerun does not reload it
_VIEW = "loaded_view"      # (file id, view) when the last uploaded model file carried a view of the app
_TRAINED_WITH = "trained_with"  # (result, architecture, data set, config) of the last run this page finished


def run_training(architecture: str, dataset_name: str, config: TrainConfig) -> None:
    """Train a new model with a progress bar, live curves and a Stop button; a training another session
    already ran (or is running) with the same request is followed and then reused, not run again."""
    try:
        data = dataset(dataset_name)
        trained = untrained_model(architecture, data, seed=config.seed)
    except (CnnvizError, ValueError) as exc:
        st.error(f"{exc} The current model is unchanged.")
        return
    # Any click reruns the app, which interrupts the loop below; the rerun then keeps the
    # model trained so far (`settle_interrupted_run`, called by every page's frame).
    stop = st.empty()
    stop.button("Stop training", icon=":material/stop:", key="stop_training")
    progress = st.progress(0.0, text="Starting ...")
    chart = st.empty()

    def draw_curves(history: list) -> None:
        # Static while it changes: interactive plotly charts cost the browser far more to redraw.
        chart.plotly_chart(plot_training_curves(history, total_epochs=config.epochs), config={"staticPlot": True})

    drawn = [-1]

    def follow_identical(history: list) -> None:
        if len(history) == drawn[0]:
            return
        drawn[0] = len(history)
        progress.progress(len(history) / config.epochs,
                          text=f"The same training (this model, data set, settings and seed) is running for "
                               f"another session on this server: epoch {len(history)} of {config.epochs} done. "
                               "Its result will be shown here too: a seeded training gives the same numbers.")
        if history:
            draw_curves(history)

    request = (architecture, dataset_name, config)
    trainings = shared_trainings()
    finished = trainings.follow(request, follow_identical)
    if finished is not None:
        # The same request already ran to the end in this process: its weights are what this run would give.
        trained.model.load_state_dict(finished.state)
        for placeholder in (stop, progress, chart):
            placeholder.empty()
        finish_run(start_run(TrainingRun(trained, config, list(finished.history))), "completed",
                   f"{finished.message} This exact training (same model, data set, settings and seed) already "
                   "ran on this server, so its result is shown at once: a seeded training gives the same "
                   "numbers every time.")
        st.session_state[_TRAINED_WITH] = (last_result(), architecture, dataset_name, config)
        return
    run = start_run(TrainingRun(trained, config))
    last_update = [0.0]

    def on_batch(report):
        now = time.monotonic()
        if now - last_update[0] < 0.1 and report.batch < report.batches:
            return  # at most ten updates a second: each one is a message to the browser
        last_update[0] = now
        done = (report.epoch - 1 + report.batch / report.batches) / config.epochs
        progress.progress(min(done, 1.0), text=f"Epoch {report.epoch}/{config.epochs}, "
                                               f"batch {report.batch}/{report.batches}, loss {report.loss:.3f}")

    def on_epoch(report):
        run.history.append(report)
        draw_curves(run.history)

    # The claim tells identical requests to follow this run; one that lost the race trains all the same.
    with trainings.claim(request) as mine, training_slot():
        if mine:
            trainings.live[request] = run.history
        try:
            result = train(trained.model, data.train_tensors(), config, test_set=data.test_tensors(),
                           on_epoch=on_epoch, on_batch=on_batch)
        finally:
            if mine:
                trainings.live.pop(request, None)
        message = result.message or f"Trained for {len(run.history)} epochs."
        if mine and result.status == "completed":
            state = {name: tensor.detach().clone() for name, tensor in trained.model.state_dict().items()}
            trainings.publish(request, FinishedTraining(state, tuple(run.history), message))
    for placeholder in (stop, progress, chart):
        placeholder.empty()
    finish_run(run, result.status, message)
    st.session_state[_TRAINED_WITH] = (last_result(), architecture, dataset_name, config)


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
    if result.get("candidate") is None:
        now = ("This is now the current model." if result["status"] == "completed"
               else "You made it the current model.")
        note(f"{result['message']} Test accuracy {evaluation.accuracy:.1%}. {now}")
    else:
        note(f"{result['message']} Test accuracy {evaluation.accuracy:.1%}. The current model is unchanged "
             f"({as_markdown_text(current_model().info.name)}): a run that did not finish does not replace it "
             "unless you ask.")
        st.button("Use the model of this run anyway", on_click=adopt_candidate, icon=":material/swap_horiz:",
                  key="adopt_run")
    # The result is this session's and never changes: its figures are built on the first rerun that shows it.
    figures = result.setdefault("figures", {})
    if result["history"]:
        if "curves" not in figures:
            figures["curves"] = plot_training_curves(result["history"], total_epochs=result["epochs"])
        curves = figures["curves"]
        st.plotly_chart(curves, key="curves")
        trained_with = st.session_state.get(_TRAINED_WITH)
        # Only for a run that finished here: a stopped or diverged one ends where the snippet would go on.
        if result["status"] == "completed" and trained_with and trained_with[0] is result:
            reproduce_panel(curves, curves_code(*trained_with[1:]), name="training_curves")
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Confusion matrix** (test set)")
        if "confusion" not in figures:
            figures["confusion"] = plot_confusion_matrix(evaluation.confusion, data.class_names)
        st.plotly_chart(figures["confusion"], key="confusion", width="content")
    with right:
        wrong = evaluation.misclassified[:16]
        st.markdown(f"**Misclassified test examples** ({len(evaluation.misclassified)} in all, "
                    "most confident first)")
        if len(wrong):
            if "misclassified" not in figures:
                titles = [f"{data.class_names[evaluation.labels[i]]}→"
                          f"{data.class_names[evaluation.predictions[i]]} {evaluation.probabilities[i].max():.0%}"
                          for i in wrong]
                figures["misclassified"] = plot_image_grid(data.x_test[wrong], titles, columns=8)
            st.plotly_chart(figures["misclassified"], key="misclassified")
            st.caption("Each title reads true class → predicted class, with the model's confidence.")
        else:
            st.write("None: every test example is right.")


def train_tab() -> None:
    """The training form and the results of the last run."""
    settings = app_settings()
    defaults = TrainConfig()
    with st.form("train_form"):
        left, right = st.columns(2)
        architecture = left.selectbox("Architecture", list(ARCHITECTURE_LABELS), format_func=ARCHITECTURE_LABELS.get,
                                      key=linked("train_architecture", choices=list(ARCHITECTURE_LABELS)))
        dataset_name = right.selectbox("Data set", list(DATASET_LABELS), format_func=DATASET_LABELS.get,
                                       key=linked("train_dataset", choices=list(DATASET_LABELS)))
        a, b, c, d = st.columns(4)
        epochs = a.number_input("Epochs", 1, settings.max_epochs, min(defaults.epochs, settings.max_epochs),
                                key=linked("train_epochs", low=1, high=settings.max_epochs))
        batch_size = b.selectbox("Batch size", BATCH_SIZES, index=BATCH_SIZES.index(defaults.batch_size),
                                 key=linked("train_batch_size", choices=BATCH_SIZES))
        learning_rate = c.select_slider("Peak learning rate", LEARNING_RATES, value=defaults.learning_rate,
                                        help="Adam with a one-cycle schedule: the rate rises to this "
                                             "value, then falls towards zero by the last epoch.",
                                        key=linked("train_learning_rate", choices=LEARNING_RATES))
        seed = d.number_input("Seed", 0, 2**31 - 1, 0, help="Same seed, same data: same model.",
                              key=linked("train_seed", low=0, high=2**31 - 1))
        submitted = st.form_submit_button("Train", type="primary")
    if submitted:
        config = TrainConfig(epochs=int(epochs), batch_size=int(batch_size),
                             learning_rate=float(learning_rate), seed=int(seed))
        run_training(architecture, dataset_name, config)
    show_result()


def zoo_tab() -> None:
    """Switch to one of the trained models shipped with cnnviz."""
    # Text models have their own page (TextCNN), which starts with the zoo's TextCNN.
    labels = {key: f"{ARCHITECTURE_LABELS[e.architecture]} on {e.dataset}" for key, e in ZOO.items()
              if e.architecture in ARCHITECTURE_LABELS}
    key = st.selectbox("Zoo model", list(labels), format_func=labels.get)
    if st.button("Use this model", type="primary"):
        set_current_model(zoo_copy(key), zoo_key=key, reason="picked from the model zoo")
        st.success(f"{as_markdown_text(current_model().info.name)} is now the current model.")


def file_tab() -> None:
    """Download the current model; upload a model file (refused safely if it is not plain weights)."""
    trained = current_model()
    file_name = trained.info.name.lower().replace(" ", "-") + ".safetensors"
    st.download_button("Download the current model (.safetensors)", model_to_bytes(trained),
                       file_name=file_name, mime="application/octet-stream", icon=":material/download:")
    st.caption("One file with the weights and, in its metadata, the architecture, preprocessing and "
               "class names: loading it needs nothing else.")
    st.divider()
    upload = st.file_uploader("Load a model file", help=".safetensors saved by cnnviz, or a state_dict "
                              "as .safetensors or .pt. Files are never unpickled or run.")
    st.caption("If the file holds weights only (a state_dict), say what they are for:")
    left, right = st.columns(2)
    architecture = left.selectbox("Architecture of the weights", list(ARCHITECTURE_LABELS),
                                  format_func=ARCHITECTURE_LABELS.get)
    dataset_name = right.selectbox("Data set they were trained on", list(OFFLINE_DATASETS),
                                   format_func=DATASET_LABELS.get)
    # Handle each (file, architecture, data set) once: reruns must not load it again, but a new
    # choice of architecture for a refused state_dict must.
    attempt = (upload.file_id, architecture, dataset_name) if upload is not None else None
    if attempt is not None and st.session_state.get(_UPLOAD) != attempt:
        st.session_state[_UPLOAD] = attempt
        load_upload(upload, architecture, dataset_name)
    view = st.session_state.get(_VIEW)
    if upload is not None and view is not None and view[0] == upload.file_id:
        page = page_for_path(view[1]["page"])
        if page is not None:
            st.page_link(page, label=f"Open the view saved in {as_markdown_text(upload.name)}: {page.title}",
                         icon=":material/arrow_forward:", query_params=view[1]["params"])


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
        st.error(f"{as_markdown_text(upload.name)} was not loaded: {as_markdown_text(exc, limit=400)}  \n"
                 f"The current model is unchanged: {as_markdown_text(current_model().info.name)}.")
        return
    if loaded.reads_text and loaded.info.spec.kind != "text_cnn":
        st.error(f"{as_markdown_text(upload.name)} holds a {as_markdown_text(loaded.info.spec.name)} model; only "
                 "TextCNN text models can be explored here (on the TextCNN page). Nothing was changed.")
        return
    view = saved_view(upload.getvalue())  # a teacher's file may carry a view to open with the model
    st.session_state[_VIEW] = (upload.file_id, view) if view is not None else None
    if loaded.reads_text:  # the image pages keep their model; the TextCNN page takes this one
        set_current_text_model(loaded, reason=f"loaded from the file {upload.name}")
        st.success(f"Loaded {as_markdown_text(upload.name)}: {as_markdown_text(loaded.info.name)} is now the model "
                   "of the TextCNN page.")
        return
    own = own_test_data(loaded)
    if loaded.info.test_accuracy is None and own is not None:
        loaded = loaded.with_accuracy(evaluate(loaded.model, *own.test_tensors()).accuracy)
    set_current_model(loaded, reason=f"loaded from the file {upload.name}")
    st.success(f"Loaded {as_markdown_text(upload.name)}: {as_markdown_text(loaded.info.name)} is now the current "
               "model.")


frame = page_frame()
st.title("Train / load a model")

train_section, zoo_section, file_section = st.tabs(["Train", "Model zoo", "Save / load a file"])
with train_section:
    train_tab()
with zoo_section:
    zoo_tab()
with file_section:
    file_tab()

with st.expander("Layers of the current model"):
    info = current_model().info
    rows = shared_view("summary", current_model(), (),
                       lambda: model_summary(current_model().model, info.preprocessing.input_shape))
    st.dataframe([{"layer": r.name, "type": r.kind, "output shape": "×".join(map(str, r.output_shape)),
                   "parameters": r.params} for r in rows], hide_index=True)
    st.caption(f"{current_model().parameters:,} parameters in all.")

close_page_frame(frame)
