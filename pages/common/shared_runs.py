"""Work shared by every session of the process: results and figures computed once.

A class of thirty students asking for the same experiment should cost one
computation: the first session to ask computes it (with progress on its own
page) while the others wait for its result, and later requests read it.
`shared_view` does the same for what a page shows on every rerun (analysis
results and their figures, keyed by the model's fingerprint and the settings):
a rerun that changed nothing, or a setting another student already chose,
costs a lookup. Trainings shared the same way, and the slots that keep a small
server from running thirty at once, are in `pages.common.shared_trainings`.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import streamlit as st

from cnnviz import TrainedModel
from pages.common.i18n import language

T = TypeVar("T")
VIEW_CAPACITY = 256  # results and figures kept per process: a figure is 10-300 KB, so at most ~75 MB
VIEW_WAIT_SECONDS = 30  # how long a rerun waits for another session computing the same view, then computes it


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

    def computing(self, key: Hashable) -> bool:
        """Whether some caller holds the claim on `key` now."""
        with self._guard:
            return key in self._computing

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


@st.cache_resource
def shared_views() -> SharedResults:
    """The process's one store of what pages show: analysis results and figures, the most recent ones."""
    return SharedResults(capacity=VIEW_CAPACITY)


_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # module -> (info, fingerprint)
_FINGERPRINTS_GUARD = threading.Lock()


def model_key(trained: TrainedModel) -> str:
    """`trained.fingerprint()`, taken once per model object (pages never change a model's weights in place:
    training makes a new model), so a rerun does not hash every weight again."""
    with _FINGERPRINTS_GUARD:
        known = _FINGERPRINTS.get(trained.model)
    if known is not None and known[0] is trained.info:
        return known[1]
    fingerprint = trained.fingerprint()
    with _FINGERPRINTS_GUARD:
        _FINGERPRINTS[trained.model] = (trained.info, fingerprint)
    return fingerprint


def _hashable(value: object) -> Hashable:
    """A settings value as part of a key: arrays (input images) by their digest, sequences as tuples."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype), hashlib.sha256(np.ascontiguousarray(value)).hexdigest())
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def shared_view(name: str, trained: TrainedModel | None, settings: tuple, compute: Callable[[], T]) -> T:
    """What `compute()` returns for `name` with this model and these settings, computed once per process.

    `settings` must hold everything besides the model that the result depends on
    (input images may be numpy arrays). Every session with the same model and
    settings gets the same object, so callers must treat it as read-only (plotly
    figures are only read by st.plotly_chart). While one session computes a key,
    others asking for it wait for that result instead of computing it again.
    """
    store = shared_views()
    # Figures carry words: each language has its own.
    key = (name, language(), model_key(trained) if trained is not None else None, _hashable(settings))
    found = store.get(key)
    if found is not None:
        return found[0]
    with store.claim(key) as mine:
        if not mine:
            found = store.wait(key, VIEW_WAIT_SECONDS)
            if found is not None:
                return found[0]
        result = compute()
        store.put(key, (result,))  # boxed, so that a result of None is kept too
    return result


def shared_with_figure(name: str, trained: TrainedModel | None, settings: tuple, compute: Callable[[], T],
                       draw: Callable[[T], object]) -> tuple[T, object]:
    """(`compute()`, `draw` of it), shared as `shared_view` shares one result: a result and its figure."""
    def both() -> tuple[T, object]:
        result = compute()
        return result, draw(result)

    return shared_view(name, trained, settings, both)
