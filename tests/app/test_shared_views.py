"""What pages show is computed once per process for (model fingerprint, settings), and identical
trainings run once: the cost of a class looking at the same thing."""

import copy
import threading
import time

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

import cnnviz
import cnnviz.plots
from cnnviz import load_zoo_model
from pages.common.shared_runs import VIEW_CAPACITY, model_key, shared_view
from tests.app.test_app import submit_training
from tests.conftest import APP, APP_TIMEOUT, open_page


@pytest.fixture(autouse=True)
def empty_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


def counting(monkeypatch, module, name):
    """Replace module.name by a wrapper that counts its calls; the list of call counts is returned."""
    original, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_the_fingerprint_follows_weights_and_description_not_the_object():
    trained = load_zoo_model("lenet5-digits")
    twin = copy.deepcopy(trained)
    assert twin.fingerprint() == trained.fingerprint()                 # every session's copy: one key
    with torch.no_grad():
        twin.model.conv1.bias[0] += 1e-3
    assert twin.fingerprint() != trained.fingerprint()                 # one weight changed: another model
    assert trained.with_accuracy(0.5).fingerprint() != trained.fingerprint()
    assert model_key(trained) == trained.fingerprint()


def test_a_view_is_computed_once_per_model_and_settings():
    trained, twin = load_zoo_model("lenet5-digits"), load_zoo_model("lenet5-digits")
    calls = []

    def compute():
        calls.append(1)
        return object()

    image = np.zeros((1, 28, 28), np.float32)
    first = shared_view("test", trained, (image, "conv1"), compute)
    assert shared_view("test", twin, (image.copy(), "conv1"), compute) is first   # another copy, same pixels
    assert len(calls) == 1
    shared_view("test", trained, (image, "conv2"), compute)                      # another layer
    shared_view("test", trained, (image + 1, "conv1"), compute)                  # another image
    shared_view("test", load_zoo_model("tinyvgg-shapes"), (image, "conv1"), compute)  # another model
    assert len(calls) == 4


def test_the_store_is_bounded_and_keeps_a_result_of_none():
    calls = []
    for n in range(VIEW_CAPACITY + 5):
        shared_view("bounded", None, (n,), lambda: calls.append(1))
    assert len(calls) == VIEW_CAPACITY + 5
    shared_view("bounded", None, (VIEW_CAPACITY + 4,), lambda: calls.append(1))  # recent: kept, even as None
    shared_view("bounded", None, (0,), lambda: calls.append(1))                 # oldest: dropped
    assert len(calls) == VIEW_CAPACITY + 6


def test_sessions_asking_at_once_wait_for_the_one_computing():
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return object()

    threads = [threading.Thread(target=lambda: results.append(shared_view("slow", None, (), slow)))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and len(results) == 5 and all(r is results[0] for r in results)


def new_session(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.run()
    return open_page(at, page)


def test_a_second_session_on_the_same_view_builds_no_figure(monkeypatch):
    maps_figures = counting(monkeypatch, cnnviz.plots, "plot_feature_maps")
    first = new_session("feature_maps")
    built = len(maps_figures)
    assert built >= 1
    second = new_session("feature_maps")
    assert len(maps_figures) == built                                  # the same zoo model, image and layer
    assert second.get("plotly_chart")[-1].proto.spec == first.get("plotly_chart")[-1].proto.spec
    second.selectbox(key="features_layer").set_value("conv2").run()   # a new layer: built once, for it
    assert len(maps_figures) == built + 1


def submit(at: AppTest, epochs: int, seed: int) -> AppTest:
    """Train LeNet-5 on digits (Train / load's form) for `epochs` with `seed`."""
    return submit_training(at, architecture="lenet5", dataset="digits", epochs=epochs, seed=seed)


def test_an_identical_training_runs_once_and_every_session_gets_its_result(monkeypatch):
    import pages.common.live_training as live_training

    trainings = counting(monkeypatch, live_training, "train")    # Train / load's training calls cnnviz.train there
    first = submit(new_session("train"), epochs=2, seed=3)
    second = submit(new_session("train"), epochs=2, seed=3)
    assert len(trainings) == 1
    (told,) = [s.value for s in second.success]
    assert "Trained for 2 epochs" in told and "already ran on this server" in told
    mine, theirs = first.session_state["current_model"], second.session_state["current_model"]
    assert mine.model is not theirs.model                              # each session has its own copy
    assert theirs.info.test_accuracy == mine.info.test_accuracy
    assert all(torch.equal(a, b) for a, b in zip(mine.model.state_dict().values(),
                                                   theirs.model.state_dict().values()))
    assert len(second.session_state["training_result"]["history"]) == 2   # both epochs' curves
    submit(second, epochs=2, seed=4)                                   # another seed: trained anew
    assert len(trainings) == 2
