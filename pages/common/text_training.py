"""The TextCNN page's training: a TextCNN and a fastText baseline on the same data (a corpus or a CSV file).

Each trains with a progress bar in a training slot; the table compares their test
accuracy, their accuracy on the hard sentences (negation, contrast), time and size.
Only a TextCNN that finished every epoch replaces the page's text model.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from cnnviz import (
    CnnvizError,
    EpochReport,
    TextDataset,
    TrainConfig,
    bundled_corpus_sizes,
    csv_columns,
    evaluate,
    model_cost,
    text_dataset_from_rows,
    texts_from_csv,
    train,
    untrained_text_model,
)
from cnnviz.plots import plot_training_curves
from cnnviz.safe_text import as_markdown_text
from pages.common import words_text_cnn as words
from pages.common.i18n import Phrase, figure_labels, phrase, t
from pages.common.links import linked
from pages.common.session import (
    app_settings,
    current_text_model,
    current_zoo_key,
    set_current_text_model,
    text_corpus,
    zoo_reference,
)
from pages.common.shared_trainings import training_slot

# The zoo's TextCNN and fastText on each real corpus, and the caption that compares them.
ZOO_PAIRS = (("mr", "textcnn-mr", "fasttext-mr", words.mr_comparison),
             ("reviews_zh", "textcnn-reviews_zh", "fasttext-reviews_zh", words.zh_comparison))


def zoo_comparison() -> None:
    """The zoo's TextCNN and fastText on the same real sentences (English MR, Chinese reviews): accuracy, size
    and cost per sentence."""
    rows, captions = [], []
    for corpus_name, *keys, caption in ZOO_PAIRS:
        accuracies = []
        for key in keys:
            trained = zoo_reference(key)
            accuracies.append(trained.info.test_accuracy or 0.0)
            cost = model_cost(trained.info.spec, text_length=trained.info.preprocessing.max_length)
            rows.append({t("text_cnn.comparison.data"): corpus_name, t("text_cnn.comparison.model"): trained.info.name,
                         t("text_cnn.comparison.accuracy"): f"{trained.info.test_accuracy:.1%}",
                         t("text_cnn.comparison.parameters"): f"{trained.parameters:,}",
                         t("text_cnn.comparison.cost"): f"{cost.multiply_adds:,}"})
        captions.append(caption(*bundled_corpus_sizes(corpus_name), *accuracies))
    st.dataframe(rows, hide_index=True)
    for text in captions:
        st.caption(text)


def show_epochs(progress, label: str) -> Callable[[EpochReport], None]:
    """An on_epoch callback that moves `progress`. It returns None: only cnnviz.STOP would stop the run."""
    def on_epoch(report: EpochReport) -> None:
        progress.progress(report.epoch / report.epochs,
                          text=t("text_cnn.training.progress_epoch", label=label, epoch=report.epoch,
                                 epochs=report.epochs))
    return on_epoch


def train_and_compare(data: TextDataset, widths: tuple[int, ...], epochs: int, *, data_label: str | Phrase) -> None:
    """Train both models on `data` (named `data_label`), show the table, and replace the text model if the
    TextCNN finished every epoch."""
    config = TrainConfig(epochs=epochs, batch_size=64, learning_rate=0.01)
    rows = []
    candidate = outcome = None
    column = {name: t(f"text_cnn.training.columns.{name}") for name in
              ("model", "epochs", "accuracy", "hard", "time", "parameters")}
    for kind, label in (("text_cnn", "TextCNN"), ("fasttext", t("text_cnn.training.fasttext"))):
        model = untrained_text_model(kind, data, seed=0, **({"widths": widths} if kind == "text_cnn" else {}))
        progress = st.progress(0.0, text=t("text_cnn.training.progress_start", label=label))
        start = time.perf_counter()
        with training_slot():
            result = train(model.model, data.train_tensors(), config, test_set=data.test_tensors(),
                           on_epoch=show_epochs(progress, label))
        seconds = time.perf_counter() - start
        progress.empty()
        evaluation = evaluate(model.model, *data.test_tensors())
        hard = [i for i, tag in enumerate(data.test_tags) if tag in ("negation", "contrast")]
        hard_accuracy = (evaluation.predictions[hard] == evaluation.labels[hard]).mean() if hard else None
        rows.append({column["model"]: label,
                     column["epochs"]: t("text_cnn.training.epochs_done", done=len(result.history), epochs=epochs),
                     column["accuracy"]: f"{evaluation.accuracy:.1%}",
                     column["hard"]: "—" if hard_accuracy is None else f"{hard_accuracy:.1%}",
                     column["time"]: f"{seconds:.1f} s", column["parameters"]: f"{model.parameters:,}"})
        if kind == "text_cnn":
            candidate, outcome = model.with_accuracy(evaluation.accuracy), result
            st.plotly_chart(plot_training_curves(result.history, total_epochs=epochs,
                                                 labels=figure_labels("training_curves")), key="text_curves")
    st.dataframe(rows, hide_index=True)
    # Only a run that finished every epoch replaces the text model (a rerun that interrupts the
    # training never gets here); the replaced one stays a click away in the sidebar.
    old = current_text_model()
    old_label = words.model_label(as_markdown_text(old.info.name), old.info.test_accuracy,
                                  zoo=bool(current_zoo_key(text=True)))
    if outcome.status == "completed" and len(outcome.history) == epochs:
        set_current_text_model(candidate, reason=words.trained_reason(epochs, data_label))
        st.success(words.replaced(candidate.info.test_accuracy, old_label, as_markdown_text(old.info.name)))
    else:
        st.warning(words.not_replaced(outcome.status, len(outcome.history), epochs, outcome.message, old_label))


def csv_upload() -> tuple | None:
    """A CSV file's rows to train on, with its text and label columns picked: (file name, texts, labels),
    or None while there is no usable file (a refused one says why)."""
    upload = st.file_uploader(t("text_cnn.csv.upload"), type=["csv", "tsv", "txt"],
                              key="text_csv")
    if upload is None:
        return None
    try:
        limit = app_settings().max_upload_mb * 2**20
        columns = csv_columns(upload.getvalue(), max_bytes=limit)
        c1, c2 = st.columns(2)
        text_column = c1.selectbox(t("text_cnn.csv.text_column"), columns, key=linked("text_csv_text", choices=columns))
        label_column = c2.selectbox(t("text_cnn.csv.label_column"), columns, index=min(1, len(columns) - 1),
                                    key=linked("text_csv_label", choices=columns))
        return (upload.name, *texts_from_csv(upload.getvalue(), text_column=text_column, label_column=label_column,
                                             max_bytes=limit, max_rows=app_settings().max_samples))
    except CnnvizError as exc:
        st.error(words.csv_refused(as_markdown_text(upload.name), as_markdown_text(exc, limit=300)))
        return None


WIDTHS = [(1, 2, 3), (2, 3, 4), (3, 4, 5)]   # (1, 2, 3): characters of Chinese, where a word is one or two
SOURCES = ["corpus", "csv"]                  # what to train on: named in text_cnn.toml's [training.sources]


def training_section() -> None:
    """The form that trains both models on a corpus or an uploaded CSV file, and their results."""
    st.subheader(t("text_cnn.training.heading"))
    source = st.radio(t("text_cnn.training.source"), SOURCES, horizontal=True,
                      format_func=lambda key: t(f"text_cnn.training.sources.{key}"),
                      key=linked("text_train_source", choices=SOURCES))
    csv_rows = csv_upload() if source == "csv" else None
    with st.form("text_train_form"):
        t1, t2, t3 = st.columns(3)
        corpora = list(words.CORPORA)
        corpus_name = t1.selectbox(t("text_cnn.training.corpus"), corpora, format_func=words.corpus_name,
                                   disabled=source != "corpus", key=linked("text_corpus", choices=corpora))
        widths = t2.selectbox(t("text_cnn.training.widths"), WIDTHS, index=1,
                              format_func=lambda w: ", ".join(map(str, w)), key=linked("text_widths", choices=WIDTHS))
        limit = app_settings().max_epochs
        epochs = t3.slider(t("text_cnn.training.epochs"), 1, limit, min(15, limit),
                           key=linked("text_epochs", low=1, high=limit))
        go = st.form_submit_button(t("text_cnn.training.submit"), type="primary")
    if go:
        train_from(source, corpus_name, csv_rows, widths, epochs)


def train_from(source: str, corpus_name: str, csv_rows: tuple | None, widths: tuple[int, ...], epochs: int) -> None:
    """Train both models on the corpus `corpus_name` (`source` "corpus") or on `csv_rows`, or say why not."""
    try:
        if source == "corpus":
            data = text_corpus(corpus_name)
        elif csv_rows is None:
            raise CnnvizError(t("text_cnn.csv.no_csv"))
        else:
            data = text_dataset_from_rows(*csv_rows)
    except (CnnvizError, ValueError) as exc:
        st.error(words.not_trained(as_markdown_text(exc, limit=400)))   # may quote the CSV
    else:
        # A corpus is named in the language of the run that shows the reason; a file by its name.
        train_and_compare(data, widths, epochs, data_label=phrase(f"text_cnn.corpora.{corpus_name}")
                          if source == "corpus" else csv_rows[0])
