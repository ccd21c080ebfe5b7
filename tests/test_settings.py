"""cnnviz.settings: CNNVIZ_* variables, with every bad value falling back to the default."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz import Settings, settings_from_env

DEFAULT = Settings()


def test_defaults():
    assert (DEFAULT.threads, DEFAULT.max_epochs, DEFAULT.max_upload_mb) == (1, 50, 10)
    assert settings_from_env({}) == DEFAULT


def test_good_values():
    env = {"CNNVIZ_THREADS": "4", "CNNVIZ_MAX_EPOCHS": "20", "CNNVIZ_MAX_UPLOAD_MB": " 5 ", "OTHER": "x"}
    assert settings_from_env(env) == Settings(threads=4, max_epochs=20, max_upload_mb=5)


def test_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("CNNVIZ_MAX_EPOCHS", "7")
    assert settings_from_env().max_epochs == 7


@pytest.mark.parametrize("raw", ["", "   ", "0", "00", "-1", "-4", "abc", "4.5", "1e3", "+3", "3 cores", "0x10"])
def test_bad_values_keep_the_default(raw):
    env = {"CNNVIZ_THREADS": raw, "CNNVIZ_MAX_EPOCHS": raw, "CNNVIZ_MAX_UPLOAD_MB": raw}
    assert settings_from_env(env) == DEFAULT


def test_one_bad_value_does_not_spoil_the_others():
    assert settings_from_env({"CNNVIZ_THREADS": "zero", "CNNVIZ_MAX_EPOCHS": "3"}) == Settings(max_epochs=3)


def test_unicode_digit_that_int_rejects_keeps_the_default():
    assert settings_from_env({"CNNVIZ_THREADS": "²"}) == DEFAULT


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8))
def test_any_ascii_value_gives_positive_settings(raw):
    result = settings_from_env({"CNNVIZ_THREADS": raw})
    digits = re.fullmatch(r"\s*([0-9]+)\s*", raw)
    expected = int(digits[1]) if digits and int(digits[1]) > 0 else DEFAULT.threads
    assert result.threads == expected and result.threads >= 1


# --- hosted mode --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_hosted_switches_every_limit_down(raw):
    from cnnviz import HOSTED

    hosted = settings_from_env({"CNNVIZ_HOSTED": raw})
    assert hosted == HOSTED and hosted.hosted
    for name in ("max_epochs", "max_upload_mb", "max_steps", "max_depth", "max_attribution_steps",
                 "max_samples", "max_trainings", "max_multiply_adds", "max_activation_mb"):
        assert getattr(hosted, name) < getattr(DEFAULT, name), name   # every cap is tighter than locally
    assert hosted.threads == DEFAULT.threads == 1                     # one thread is faster on shared cores


@pytest.mark.parametrize("raw", ["", "0", "no", "off", "hosted", "2"])
def test_anything_else_is_not_hosted(raw):
    assert not settings_from_env({"CNNVIZ_HOSTED": raw}).hosted


def test_a_hosted_limit_can_be_set_on_its_own():
    hosted = settings_from_env({"CNNVIZ_HOSTED": "1", "CNNVIZ_MAX_EPOCHS": "20", "CNNVIZ_MAX_TRAININGS": "x"})
    assert hosted.max_epochs == 20 and hosted.max_trainings == 2 and hosted.max_steps == 300


# --- the cost budget of models (cnnviz.models.budget) --------------------------------------------------

def test_budget_defaults_local_and_hosted():
    from cnnviz import DEFAULT_BUDGET, HOSTED, Budget

    assert (DEFAULT.max_multiply_adds, DEFAULT.max_activation_mb) == (500_000_000, 1000)
    assert (HOSTED.max_multiply_adds, HOSTED.max_activation_mb) == (50_000_000, 200)
    assert DEFAULT.budget() == DEFAULT_BUDGET                       # the library's default is the local app's
    assert HOSTED.budget() == Budget(max_multiply_adds=50_000_000, max_activation_bytes=200 * 2**20,
                                     max_parameters=25_000_000)


def test_budget_limits_are_set_like_the_others():
    env = {"CNNVIZ_HOSTED": "1", "CNNVIZ_MAX_MULTIPLY_ADDS": "1000000", "CNNVIZ_MAX_ACTIVATION_MB": "64"}
    budget = settings_from_env(env).budget()
    assert (budget.max_multiply_adds, budget.max_activation_bytes) == (1_000_000, 64 * 2**20)
    bad = settings_from_env({"CNNVIZ_MAX_MULTIPLY_ADDS": "-5", "CNNVIZ_MAX_ACTIVATION_MB": "2.5"})
    assert bad.budget() == DEFAULT.budget()


# --- threads from cores and replicas (docs/threads.md) ------------------------------------------

@pytest.mark.parametrize(("cores", "replicas", "threads"), [
    (2, 2, 1), (2, 1, 2), (2, 3, 1), (2, 4, 1),     # the 2-core class server: one per replica per core
    (8, 2, 4), (8, 4, 2), (8, 8, 1), (6, 4, 1),     # a share of the cores, rounded down
    (16, 1, 4), (64, 2, 4),                        # capped at MAX_THREADS = 4
    (1, 1, 1), (0, 1, 1), (4, 0, 4), (-3, -1, 1),  # nonsense counts as 1
])
def test_threads_for_gives_each_replica_its_share_of_the_cores(cores, replicas, threads):
    from cnnviz.settings import MAX_THREADS, threads_for

    assert MAX_THREADS == 4
    assert threads_for(cores, replicas) == threads


def test_replicas_set_the_threads_when_threads_are_not_given():
    assert settings_from_env({"CNNVIZ_REPLICAS": "2"}, cores=8) == Settings(replicas=2, threads=4)
    assert settings_from_env({"CNNVIZ_REPLICAS": "2"}, cores=2).threads == 1
    assert settings_from_env({"CNNVIZ_REPLICAS": "1"}, cores=2).threads == 2
    assert settings_from_env({"CNNVIZ_REPLICAS": "4"}, cores=8).threads == 2


def test_explicit_threads_win_over_replicas():
    env = {"CNNVIZ_REPLICAS": "1", "CNNVIZ_THREADS": "3"}
    assert settings_from_env(env, cores=8) == Settings(replicas=1, threads=3)


@pytest.mark.parametrize("raw", ["", "0", "-2", "two", "2.0"])
def test_without_valid_replicas_the_default_stays_one_thread(raw):
    assert settings_from_env({"CNNVIZ_REPLICAS": raw}, cores=16) == DEFAULT
    assert DEFAULT.replicas == 1 and DEFAULT.threads == 1


def test_a_bad_threads_value_falls_back_to_the_replicas_rule():
    assert settings_from_env({"CNNVIZ_THREADS": "x", "CNNVIZ_REPLICAS": "2"}, cores=8).threads == 4


def test_hosted_replicas_use_the_rule_too():
    hosted = settings_from_env({"CNNVIZ_HOSTED": "1", "CNNVIZ_REPLICAS": "3"}, cores=6)
    assert hosted.hosted and hosted.threads == 2 and hosted.max_epochs == 10


def test_cores_default_to_this_process_affinity(monkeypatch):
    import cnnviz.settings as module

    monkeypatch.setattr(module, "available_cores", lambda: 12)
    assert settings_from_env({"CNNVIZ_REPLICAS": "3"}).threads == 4
    assert settings_from_env({"CNNVIZ_REPLICAS": "6"}).threads == 2


def test_available_cores_is_the_affinity_mask():
    import os

    from cnnviz.settings import available_cores

    assert available_cores() == len(os.sched_getaffinity(0)) >= 1
