"""pages.common.shared_runs: a result computed once per key, others wait for it, capacity is kept."""

import threading
import time

from pages.common.shared_runs import SharedResults


def test_the_first_claim_computes_and_a_second_waits_for_its_result():
    store = SharedResults()
    started, computed = threading.Event(), []

    def first():
        with store.claim("k") as mine:
            assert mine
            started.set()
            time.sleep(0.2)
            computed.append(1)
            store.put("k", 42)

    worker = threading.Thread(target=first)
    worker.start()
    started.wait(5)
    with store.claim("k") as mine:
        assert not mine                          # someone else is computing "k"
    assert store.wait("k", timeout=5) == 42     # ... and its result arrives
    worker.join()
    assert computed == [1]


def test_a_failed_computation_releases_its_claim():
    store = SharedResults()
    try:
        with store.claim("k") as mine:
            assert mine
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    with store.claim("k") as mine:
        assert mine                              # free again, nothing stored
    assert store.get("k") is None
    assert store.wait("k", timeout=0.01) is None


def test_the_least_recently_used_result_goes_first():
    store = SharedResults(capacity=2)
    store.put("a", 1)
    store.put("b", 2)
    assert store.get("a") == 1                   # "a" is now the most recent
    store.put("c", 3)
    assert (store.get("a"), store.get("b"), store.get("c")) == (1, None, 3)
