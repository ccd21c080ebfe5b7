"""A training run's life in the session: started, finished (or interrupted), its results, its model adopted.

A completed run becomes the current model; a stopped or diverged one waits in the
results as a candidate. The run is recorded before its first step, so a rerun that
interrupts it (the Stop button, leaving the page) keeps the model trained so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from cnnviz import EpochReport, ReplayRecorder, TrainConfig, TrainedModel, TrainingReplay, evaluate
from pages.common import words_train as words
from pages.common.i18n import Phrase, phrase
from pages.common.replays import attach_replay
from pages.common.session import RESULT_KEY, RUN_KEY, dataset, set_current_model


@dataclass
class TrainingRun:
    """A run in progress: the model being trained and the epochs finished so far."""

    trained: TrainedModel
    config: TrainConfig
    history: list[EpochReport] = field(default_factory=list)
    recorder: ReplayRecorder | None = None  # its training replay, recorded as it goes (kept if it is stopped)


def finish_run(run: TrainingRun, status: str, message: Phrase | str, *,
               replay: TrainingReplay | None = None) -> None:
    """Evaluate the run's model and keep its results for display, with its training replay (`replay`, else
    the snapshots its recorder took); `message` says how it ended (a phrase: shown in each later run's language).

    A run that completed becomes the current model (the one it replaces can be switched
    back to). A stopped or diverged one does not: a half-trained model must not silently
    replace a good one, so it waits in the results as a candidate the user may adopt.
    """
    data = dataset(run.trained.info.dataset)
    evaluation = evaluate(run.trained.model, *data.test_tensors())
    trained = run.trained.with_accuracy(evaluation.accuracy)
    epochs = phrase("frame.reason.epochs", done=len(run.history), epochs=run.config.epochs)
    replay = replay if replay is not None or run.recorder is None else run.recorder.replay()
    if status == "completed":
        set_current_model(trained, reason=phrase("frame.reason.trained", epochs=epochs))
        attach_replay(trained, replay)
    st.session_state[RESULT_KEY] = {"history": run.history, "evaluation": evaluation, "status": status,
                                 "message": message, "dataset": data.name, "epochs": run.config.epochs,
                                 "candidate": None if status == "completed" else trained, "replay": replay,
                                 "reason": phrase("frame.reason.trained_early", status=phrase(f"frame.status.{status}"),
                                                   epochs=epochs)}
    st.session_state.pop(RUN_KEY, None)


def adopt_candidate() -> None:
    """Make the last run's stopped or diverged model the current one (the user asked for it)."""
    result = last_result()
    if result and result.get("candidate") is not None:
        candidate, reason = result["candidate"], result["reason"]
        set_current_model(candidate, reason=reason)  # this clears the results, so keep them
        attach_replay(candidate, result.get("replay"))
        st.session_state[RESULT_KEY] = {**result, "candidate": None}


def start_run(run: TrainingRun) -> TrainingRun:
    """Record a run before its first step, so an interruption cannot lose it."""
    st.session_state[RUN_KEY] = run
    return run


def settle_interrupted_run() -> None:
    """Keep the model of a run that a rerun interrupted (the Stop button, or leaving the page)."""
    run = st.session_state.get(RUN_KEY)
    if run is not None:
        finish_run(run, "stopped", words.stopped_after(len(run.history)))


def last_result() -> dict | None:
    """The results of the last finished or stopped run, if any."""
    return st.session_state.get(RESULT_KEY)
