"""Long work shared by every session of the process: results computed once, and training slots.

A class of thirty students asking for the same experiment should cost one
computation: the first session to ask computes it (with progress on its own
page) while the others wait for its result, and later requests read it.
And a small server must not run thirty trainings at once: `training_slot` lets
`max_trainings` run, and shows the others that they are waiting.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

import streamlit as st

from pages.common.session import app_settings


class SharedResults:
    """Finished results by key (the most recent `capacity` of them) and one lock per key being computed."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._results: OrderedDict[Hashable, object] = OrderedDict()
        self._computing: dict[Hashable, threading.Event] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        """The finished result for `key`, or None."""
        with self._guard:
            if key in self._results:
                self._results.move_to_end(key)
            return self._results.get(key)

    @contextmanager
    def claim(self, key: Hashable) -> Iterator[bool]:
        """Yield True if this caller should compute `key` (and `put` it), False if another caller already is.

        The claim ends with the block, also when the computation fails or the
        session's script is interrupted, so a key is never left claimed.
        """
        with self._guard:
            mine = key not in self._computing
            if mine:
                self._computing[key] = threading.Event()
            done = self._computing[key]
        try:
            yield mine
        finally:
            if mine:
                with self._guard:
                    self._computing.pop(key, None)
                done.set()

    def put(self, key: Hashable, result: object) -> None:
        """Keep a finished result, dropping the least recently used beyond `capacity`."""
        with self._guard:
            self._results[key] = result
            self._results.move_to_end(key)
            while len(self._results) > self._capacity:
                self._results.popitem(last=False)

    def wait(self, key: Hashable, timeout: float) -> object | None:
        """Wait up to `timeout` seconds for another caller's computation of `key`; its result or None."""
        with self._guard:
            done = self._computing.get(key)
        if done is not None:
            done.wait(timeout)
        return self.get(key)


@st.cache_resource
def shared_results() -> SharedResults:
    """The process's one store of shared experiment results."""
    return SharedResults()


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
        note.info(f"Waiting for a free training slot: {slots.running} trainings are running on this server, "
                  f"which runs {slots.limit} at once. Waiting {seconds} s ...", icon=":material/hourglass_top:")

    with slots.hold(waiting):
        note.empty()
        yield
