"""A training run's life in the session: started, finished (or interrupted), its results, its model adopted.

A completed run becomes the current model; a stopped or diverged one waits in the
results as a candidate. The run is recorded before its first step, so a rerun that
interrupts it (the Stop button, leaving the page) keeps the model trained so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from cnnviz import EpochReport, TrainConfig, TrainedModel, evaluate
from pages.common.session import RESULT_KEY, RUN_KEY, dataset, set_current_model


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
    st.session_state[RESULT_KEY] = {"history": run.history, "evaluation": evaluation, "status": status,
                                 "message": message, "dataset": data.name, "epochs": run.config.epochs,
                                 "candidate": None if status == "completed" else trained,
                                 "reason": f"trained on Train / load, {status} after {epochs}"}
    st.session_state.pop(RUN_KEY, None)


def adopt_candidate() -> None:
    """Make the last run's stopped or diverged model the current one (the user asked for it)."""
    result = last_result()
    if result and result.get("candidate") is not None:
        candidate, reason = result["candidate"], result["reason"]
        set_current_model(candidate, reason=reason)  # this clears the results, so keep them
        st.session_state[RESULT_KEY] = {**result, "candidate": None}


def start_run(run: TrainingRun) -> TrainingRun:
    """Record a run before its first step, so an interruption cannot lose it."""
    st.session_state[RUN_KEY] = run
    return run


def settle_interrupted_run() -> None:
    """Keep the model of a run that a rerun interrupted (the Stop button, or leaving the page)."""
    run = st.session_state.get(RUN_KEY)
    if run is not None:
        finish_run(run, "stopped", f"Stopped after {len(run.history)} finished epoch(s).")


def last_result() -> dict | None:
    """The results of the last finished or stopped run, if any."""
    return st.session_state.get(RESULT_KEY)
