"""Hosted mode: the caps reach the pages, are shown there, and trainings beyond the limit wait their turn."""

import threading
import time

import pytest

from pages.common.shared_trainings import TrainingSlots
from tests.conftest import open_page


@pytest.fixture
def hosted_app(monkeypatch, app):
    """The app as a hosted demo (CNNVIZ_HOSTED=1), in a fresh session with cleared caches."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP, APP_TIMEOUT

    monkeypatch.setenv("CNNVIZ_HOSTED", "1")
    st.cache_resource.clear()      # app_settings is read once per process: read it again
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.run()
    assert not at.exception
    yield at
    monkeypatch.delenv("CNNVIZ_HOSTED")
    st.cache_resource.clear()


def test_the_limits_are_shown_in_the_sidebar_only_when_hosted(app, hosted_app):
    assert not [c for c in app.sidebar.caption if "Hosted demo limits" in c.value]
    (note,) = [c.value for c in hosted_app.sidebar.caption if "Hosted demo limits" in c.value]
    assert "up to 10 epochs" in note and "300 ResNet steps" in note and "2 trainings run at once" in note


def test_hosted_caps_reach_the_widgets(hosted_app):
    at = open_page(hosted_app, "train")
    assert at.number_input(key="train_epochs").max == 10
    at = open_page(at, "resnet")
    assert at.select_slider(key="resnet_depth").options[-1] == "56"          # 110 is not offered
    assert at.select_slider(key="resnet_steps").options[-1] == "300"
    at = open_page(at, "text_cnn")
    assert at.slider(key="text_steps").max == 50


def test_a_link_beyond_a_hosted_cap_falls_back_with_a_notice(hosted_app):
    from tests.conftest import new_session_from_link

    at = open_page(hosted_app, "resnet")
    shared = new_session_from_link(at, "resnet", {"resnet_depth": "110", "resnet_steps": "1000"})
    assert shared.select_slider(key="resnet_depth").value == 20
    assert "resnet_depth=110" in shared.warning[0].value and "resnet_steps=1000" in shared.warning[0].value


def test_training_slots_let_the_limit_run_and_the_rest_wait():
    slots = TrainingSlots(2)
    inside, most, waits = [0], [0], []
    guard = threading.Lock()

    def train(i):
        with slots.hold(lambda seconds: waits.append((i, seconds))):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(1.3)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=train, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 2                  # never more than the limit at once
    assert waits                         # the others were told they were waiting
    assert slots.running == 0            # every slot is free again
