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


def zoo_comparison(keys: tuple[str, ...] = ("textcnn-mr", "fasttext-mr")) -> None:
    """The zoo's TextCNN and fastText on the same real sentences (MR): accuracy, size and cost per sentence."""
    rows, accuracies = [], []
    for key in keys:
        trained = zoo_reference(key)
        accuracies.append(trained.info.test_accuracy or 0.0)
        cost = model_cost(trained.info.spec, text_length=trained.info.preprocessing.max_length)
        rows.append({"model": trained.info.name, "test accuracy": f"{trained.info.test_accuracy:.1%}",
                     "parameters": f"{trained.parameters:,}", "multiply-adds per sentence": f"{cost.multiply_adds:,}"})
    st.dataframe(rows, hide_index=True)
    corpus = text_corpus("mr")
    st.caption(words.mr_comparison(len(corpus.train_texts), len(corpus.test_texts), *accuracies))


def show_epochs(progress, label: str) -> Callable[[EpochReport], None]:
    """An on_epoch callback that moves `progress`. It returns None: only cnnviz.STOP would stop the run."""
    def on_epoch(report: EpochReport) -> None:
        progress.progress(report.epoch / report.epochs, text=f"{label}: epoch {report.epoch} of {report.epochs}")
    return on_epoch


def train_and_compare(data: TextDataset, widths: tuple[int, ...], epochs: int, *, data_label: str) -> None:
    """Train both models on `data` (named `data_label`), show the table, and replace the text model if the
    TextCNN finished every epoch."""
    config = TrainConfig(epochs=epochs, batch_size=64, learning_rate=0.01)
    rows = []
    candidate = outcome = None
    for kind, label in (("text_cnn", "TextCNN"), ("fasttext", "fastText (unigrams)")):
        model = untrained_text_model(kind, data, seed=0, **({"widths": widths} if kind == "text_cnn" else {}))
        progress = st.progress(0.0, text=f"Training {label} ...")
        start = time.perf_counter()
        with training_slot():
            result = train(model.model, data.train_tensors(), config, test_set=data.test_tensors(),
                           on_epoch=show_epochs(progress, label))
        seconds = time.perf_counter() - start
        progress.empty()
        evaluation = evaluate(model.model, *data.test_tensors())
        hard = [i for i, tag in enumerate(data.test_tags) if tag in ("negation", "contrast")]
        hard_accuracy = (evaluation.predictions[hard] == evaluation.labels[hard]).mean() if hard else None
        rows.append({"model": label, "epochs": f"{len(result.history)} of {epochs}",
                     "test accuracy": f"{evaluation.accuracy:.1%}",
                     "negation / contrast": "—" if hard_accuracy is None else f"{hard_accuracy:.1%}",
                     "training time": f"{seconds:.1f} s", "parameters": f"{model.parameters:,}"})
        if kind == "text_cnn":
            candidate, outcome = model.with_accuracy(evaluation.accuracy), result
            st.plotly_chart(plot_training_curves(result.history, total_epochs=epochs), key="text_curves")
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
    upload = st.file_uploader("CSV file with a text column and a label column", type=["csv", "tsv", "txt"],
                              key="text_csv")
    if upload is None:
        return None
    try:
        limit = app_settings().max_upload_mb * 2**20
        columns = csv_columns(upload.getvalue(), max_bytes=limit)
        c1, c2 = st.columns(2)
        text_column = c1.selectbox("Text column", columns, key=linked("text_csv_text", choices=columns))
        label_column = c2.selectbox("Label column", columns, index=min(1, len(columns) - 1),
                                    key=linked("text_csv_label", choices=columns))
        return (upload.name, *texts_from_csv(upload.getvalue(), text_column=text_column, label_column=label_column,
                                             max_bytes=limit, max_rows=app_settings().max_samples))
    except CnnvizError as exc:
        st.error(words.csv_refused(as_markdown_text(upload.name), as_markdown_text(exc, limit=300)))
        return None


def train_from(source: str, corpus_name: str, csv_rows: tuple | None, widths: tuple[int, ...], epochs: int) -> None:
    """Train both models on the corpus `corpus_name` (`source` "a corpus") or on `csv_rows`, or say why not."""
    try:
        if source == "a corpus":
            data = text_corpus(corpus_name)
        elif csv_rows is None:
            raise CnnvizError(words.NO_CSV)
        else:
            data = text_dataset_from_rows(*csv_rows)
    except (CnnvizError, ValueError) as exc:
        st.error(words.not_trained(as_markdown_text(exc, limit=400)))   # may quote the CSV
    else:
        train_and_compare(data, widths, epochs, data_label=words.CORPORA[corpus_name] if source == "a corpus"
                          else csv_rows[0])
