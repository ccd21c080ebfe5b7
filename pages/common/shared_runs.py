"""Long experiments computed once per configuration and shared by every session of the process.

A class of thirty students asking for the same experiment should cost one
computation: the first session to ask computes it (with progress on its own
page) while the others wait for its result, and later requests read it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

import streamlit as st


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
