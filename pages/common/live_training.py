"""Trainings that show their progress on the page: a progress bar, live curves and a Stop button.

Any click reruns the page, which interrupts a loop in progress: what the run recorded
is kept in the session state, and the rerun shows it (a stopped run).
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from cnnviz import (
    CnnvizError,
    DegradationConfig,
    DegradationResult,
    GradientTrace,
    ReplayRecorder,
    TrainConfig,
    convolution_layers,
    degradation_experiment,
    train,
    untrained_model,
)
from cnnviz.plots import plot_gradient_heatmap, plot_loss_curves, plot_training_curves
from pages.common import words_train as train_words
from pages.common.i18n import Phrase, figure_labels, phrase, t
from pages.common.runs import TrainingRun, finish_run, last_result, start_run
from pages.common.session import dataset
from pages.common.shared_runs import shared_results
from pages.common.shared_trainings import FinishedTraining, shared_trainings, training_slot

TRAINED_WITH = "trained_with"  # (result, architecture, data set, config) of the last run Train / load finished
LIVE_DEGRADATION = "resnet_live"  # (config, steps recorded) of a degradation run; left behind when Stop interrupts it


def run_training(architecture: str, dataset_name: str, config: TrainConfig) -> None:
    """Train a new model with a progress bar, live curves and a Stop button; a training another session
    already ran (or is running) with the same request is followed and then reused, not run again."""
    try:
        data = dataset(dataset_name)
        trained = untrained_model(architecture, data, seed=config.seed)
    except (CnnvizError, ValueError) as exc:
        st.error(train_words.unchanged(exc))
        return
    # Any click reruns the app, which interrupts the loop below; the rerun then keeps the
    # model trained so far (`settle_interrupted_run`, called by every page's frame).
    stop = st.empty()
    stop.button(t("train.run.stop"), icon=":material/stop:", key="stop_training")
    progress = st.progress(0.0, text=t("train.run.starting"))
    chart = st.empty()
    curve_labels = figure_labels("training_curves")

    def draw_curves(history: list) -> None:
        # Static while it changes: interactive plotly charts cost the browser far more to redraw.
        chart.plotly_chart(plot_training_curves(history, total_epochs=config.epochs, labels=curve_labels),
                           config={"staticPlot": True})

    drawn = [-1]

    def follow_identical(history: list) -> None:
        if len(history) == drawn[0]:
            return
        drawn[0] = len(history)
        progress.progress(len(history) / config.epochs,
                          text=train_words.following(len(history), config.epochs))
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
                   train_words.reused(finished.message), replay=finished.replay)
        st.session_state[TRAINED_WITH] = (last_result(), architecture, dataset_name, config)
        return
    # The training replay: epoch 0 now, then a snapshot after every epoch (cnnviz.analysis.replay).
    recorder = ReplayRecorder(trained.model, data.test_tensors(), layers=convolution_layers(trained.model))
    run = start_run(TrainingRun(trained, config, recorder=recorder))
    last_update = [0.0]

    def on_batch(report):
        now = time.monotonic()
        if now - last_update[0] < 0.1 and report.batch < report.batches:
            return  # at most ten updates a second: each one is a message to the browser
        last_update[0] = now
        done = (report.epoch - 1 + report.batch / report.batches) / config.epochs
        progress.progress(min(done, 1.0), text=train_words.batch_progress(report.epoch, config.epochs, report.batch,
                                                                          report.batches, report.loss))

    def on_epoch(report):
        run.history.append(report)
        recorder(report)
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
        # A phrase (the result keeps it, and another session may reuse it): shown in each reader's language.
        message = train_words.trainer_message(result.message) if result.message else train_words.trained_for(
            len(run.history))
        if mine and result.status == "completed":
            state = {name: tensor.detach().clone() for name, tensor in trained.model.state_dict().items()}
            trainings.publish(request, FinishedTraining(state, tuple(run.history), message, recorder.replay()))
    for placeholder in (stop, progress, chart):
        placeholder.empty()
    finish_run(run, result.status, message)
    st.session_state[TRAINED_WITH] = (last_result(), architecture, dataset_name, config)


def live_result(config: DegradationConfig, live: dict, status: str) -> DegradationResult:
    """A result from the steps recorded so far (of a run in progress, or one that Stop interrupted)."""
    runs = {label: GradientTrace(layers, np.array(losses), np.array(norms).reshape(len(losses), len(layers)),
                                 status)
            for label, (layers, losses, norms) in live.items()}
    return DegradationResult(config, runs)


def run_degradation(config: DegradationConfig, dataset_name: str, size: int) -> DegradationResult | None:
    """Train the ResNet page's four nets (on `dataset_name` at `size` pixels) with a progress bar, live
    curves and a Stop button; None if it cannot start."""
    try:
        x, y = dataset(dataset_name, size).train_tensors()
    except CnnvizError as exc:
        st.error(str(exc))
        return None
    live: dict = {}
    st.session_state[LIVE_DEGRADATION] = (config, live)
    # Any click reruns the page, which interrupts the loop; the rerun keeps the steps recorded so far.
    stop = st.empty()
    stop.button(t("resnet.training.stop"), icon=":material/stop:", key="resnet_stop")
    progress = st.progress(0.0, text=t("resnet.training.starting"))
    curves, heatmap = st.empty(), st.empty()
    total = 4 * config.steps
    last_update = [0.0]
    loss_labels, heatmap_labels = figure_labels("loss_curves"), figure_labels("gradient_heatmap")

    def on_step(label, report):
        layers, losses, norms = live.setdefault(label, (report.layers, [], []))
        losses.append(report.loss)
        norms.append(report.norms)
        now = time.monotonic()
        if now - last_update[0] < 0.5 and report.step < report.steps:
            return  # at most two redraws a second: each is a message to the browser
        last_update[0] = now
        done = (list(live).index(label) * config.steps + report.step) / total
        progress.progress(done, text=t("resnet.training.progress", net=label, step=report.step, steps=report.steps,
                                       loss=report.loss))
        partial = live_result(config, live, "running")
        # Static while they change: interactive plotly charts cost the browser far more to redraw.
        curves.plotly_chart(plot_loss_curves(partial.runs, total_steps=config.steps, labels=loss_labels),
                            config={"staticPlot": True})
        title = t("resnet.training.heatmap_title", net=label)
        heatmap.plotly_chart(plot_gradient_heatmap(partial.runs[label], title=title, total_steps=config.steps,
                                                   labels=heatmap_labels), config={"staticPlot": True})

    with training_slot():
        result = degradation_experiment(config, x, y, on_step=on_step)
    st.session_state.pop(LIVE_DEGRADATION, None)
    for placeholder in (stop, progress, curves, heatmap):
        placeholder.empty()
    return result


def shared_degradation(config: DegradationConfig, dataset_name: str,
                       size: int) -> tuple[DegradationResult | None, Phrase]:
    """The ResNet page's experiment and a note of where it came from (a phrase: the page keeps it and shows it
    in the language of each later run): trained here (with live progress), or computed for another session
    with the same configuration (a class shares one run)."""
    key = (config, dataset_name)
    store = shared_results()
    result, note = store.get(key), phrase("resnet.training.shared_earlier")
    if result is None:
        with store.claim(key) as mine:
            if mine:
                result, note = run_degradation(config, dataset_name, size), phrase("resnet.training.trained_now")
                if result is not None and result.complete:
                    store.put(key, result)
        if not mine:
            with st.spinner(t("resnet.training.waiting")):
                result = store.wait(key, timeout=300)
            note = phrase("resnet.training.shared_other")
    return result, note
