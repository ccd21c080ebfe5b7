"""Trainings shared by every session of the process, and the slots that limit how many run at once.

Thirty students pressing Train with the same settings need one training: the first
runs it, the others follow its epochs and then load its weights (`SharedTrainings`).
And a small server must not run thirty trainings at once: `training_slot` lets
`max_trainings` run, and shows the others that they are waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from cnnviz import EpochReport, TrainingReplay
from pages.common.i18n import Phrase, t
from pages.common.session import app_settings
from pages.common.shared_runs import SharedResults


@dataclass(frozen=True)
class FinishedTraining:
    """A training that ran to its last epoch: its weights (read-only: load a copy), epochs and message (a phrase:
    each session that reuses it reads it in its own language), and its training replay (read-only arrays, shared
    by every session that reuses the training)."""

    state: dict
    history: tuple[EpochReport, ...]
    message: Phrase | str
    replay: TrainingReplay | None = None


class SharedTrainings(SharedResults):
    """Finished trainings by request (architecture, data set, config), and the epochs of those running.

    A training with the same request and seed gives the same weights in this process
    (cnnviz seeds its own generators), so thirty students pressing Train with the
    defaults need one training: the first runs it, the others follow its epochs and
    then load its weights.
    """

    def __init__(self, capacity: int = 16) -> None:
        super().__init__(capacity)
        self.live: dict[Hashable, list[EpochReport]] = {}  # request -> epochs finished so far, while it runs

    def follow(self, request: Hashable, show: Callable[[list[EpochReport]], None],
               poll_seconds: float = 0.5) -> FinishedTraining | None:
        """Wait while another session runs `request`, calling `show(its epochs so far)` on every poll;
        its result if it finished, else None (none ran, or it was stopped: train it yourself)."""
        while self.computing(request):
            show(list(self.live.get(request, ())))
            self.wait(request, poll_seconds)
        found = self.get(request)
        return found[0] if found is not None else None

    def publish(self, request: Hashable, finished: FinishedTraining) -> None:
        """Keep a finished training for the next identical request."""
        self.put(request, (finished,))


@st.cache_resource
def shared_trainings() -> SharedTrainings:
    """The process's one store of finished trainings."""
    return SharedTrainings()


class TrainingSlots:
    """At most `limit` holders at once; the others wait, told every second how long they have waited."""

    def __init__(self, limit: int) -> None:
        self.limit = max(int(limit), 1)
        self._free = threading.BoundedSemaphore(self.limit)
        self._guard = threading.Lock()
        self.running = 0

    @contextmanager
    def hold(self, on_wait: Callable[[int], None] = lambda seconds: None) -> Iterator[None]:
        """Wait for a free slot (calling `on_wait(seconds waited)` each second), hold it for the block."""
        waited = 0
        while not self._free.acquire(timeout=1.0):
            waited += 1
            on_wait(waited)
        with self._guard:
            self.running += 1
        try:
            yield
        finally:
            with self._guard:
                self.running -= 1
            self._free.release()


@st.cache_resource
def training_slots() -> TrainingSlots:
    """The process's training slots: `max_trainings` of them."""
    return TrainingSlots(app_settings().max_trainings)


@contextmanager
def training_slot() -> Iterator[None]:
    """Run the block in a training slot; while every slot is taken, say so on the page and wait."""
    slots = training_slots()
    note = st.empty()

    def waiting(seconds: int) -> None:
        note.info(t("train.run.waiting_slot", running=slots.running, limit=slots.limit, seconds=seconds),
                  icon=":material/hourglass_top:")

    with slots.hold(waiting):
        note.empty()
        yield
