"""AppTests of the training replay on Train / load: an epoch slider over the snapshots of a run, its figures,
the replay of a stopped or shared run, and the replay saved in and loaded from a model file.

Runs are kept small (one or two epochs on the offline sets) so the tests stay quick.
"""

import numpy as np
import pytest
import torch
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from cnnviz import (
    ReplayRecorder,
    TrainConfig,
    convolution_layers,
    feature_maps,
    load_image_dataset,
    load_replay,
    model_to_bytes,
    train,
    untrained_model,
)
from cnnviz.models.files import REPLAY_PREFIX
from pages.common import words_replay as words
from pages.common.i18n import t
from tests.conftest import APP, APP_TIMEOUT, chart_spec, open_page, plotly_array, run_snippet


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The app trains with one torch thread (`Settings.threads`); a snippet retrains here, in the test's thread,
    which the conftest gave two. One on both sides gives the same weights, whatever ran in this process before."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def submit(at: AppTest, architecture="lenet5", dataset="digits", epochs=2, batch_size=64, learning_rate=5e-3,
           seed=0) -> AppTest:
    """Fill in the training form and press Train."""
    at.selectbox(key="train_architecture").set_value(architecture)
    at.selectbox(key="train_dataset").set_value(dataset)
    at.number_input(key="train_epochs").set_value(epochs)
    at.selectbox(key="train_batch_size").set_value(batch_size)
    at.select_slider(key="train_learning_rate").set_value(learning_rate)
    at.number_input(key="train_seed").set_value(seed)
    at.button(key="FormSubmitter:train_form-Train").click().run(timeout=300)
    assert not at.exception, at.exception
    return at


def has_replay(at: AppTest) -> bool:
    return any(s.key == "replay_epoch" for s in at.select_slider)


def heatmap(at: AppTest, key: str) -> tuple[np.ndarray, float, float]:
    """The z of a chart's heatmap as the user's browser gets it, and its colour range."""
    (trace,) = chart_spec(at, key)["data"]
    return plotly_array(trace["z"]).astype(float), trace["zmin"], trace["zmax"]


def bar_heights(at: AppTest) -> list[np.ndarray]:
    return [plotly_array(t["y"]).astype(float) for t in chart_spec(at, "replay_histograms")["data"]]


def test_lenet_on_digits_replays_every_epoch_from_its_initial_filters_to_its_final_ones(app):
    at = open_page(app, "train")
    assert not has_replay(at) and t("replay.none") in [c.value for c in at.caption]
    at = submit(at, epochs=2)
    slider = at.select_slider(key="replay_epoch")
    assert [int(o) for o in slider.options] == [0, 1, 2] and int(slider.value) == 0   # epochs + 1 positions
    assert any("KB of memory (3 snapshots of 16 KB" in c.value and "50 epochs" in c.value for c in at.caption)

    # Epoch 0 shows the seed's initial filters; the last epoch the trained model's, on the same colour scale.
    initial = untrained_model("lenet5", load_image_dataset("digits"), seed=0).model.conv1.weight.detach().numpy()
    start, low, high = heatmap(at, "replay_filters")
    np.testing.assert_allclose(start[0:5, 0:5], initial[0, 0], rtol=1e-6)        # filter 0 is the first tile
    np.testing.assert_allclose(start[6:11, 0:5], initial[1, 0], rtol=1e-6)       # a 1-row gap, then filter 1
    assert chart_spec(at, "replay_filters")["layout"]["title"]["text"].startswith("conv1 before training")
    maps_start = heatmap(at, "replay_maps")
    bars_start = bar_heights(at)
    assert len(bars_start) == 10                                                 # 5 layers x (weights, gradients)

    slider.set_value("2").run()
    assert not at.exception
    trained = at.session_state["current_model"].model
    end, end_low, end_high = heatmap(at, "replay_filters")
    np.testing.assert_allclose(end[0:5, 0:5], trained.conv1.weight.detach().numpy()[0, 0], rtol=1e-6)
    assert (end_low, end_high) == (low, high) and not np.allclose(start, end, equal_nan=True)
    maps_end = heatmap(at, "replay_maps")
    x = at.session_state["current_model"].info.preprocessing.apply(load_image_dataset("digits").x_test[:1])[0]
    expected = feature_maps(trained, x, layers=["conv1"])["conv1"]
    np.testing.assert_allclose(maps_end[0][0:28, 0:28], expected[0], rtol=2e-3, atol=2e-3)   # float16 maps
    assert maps_end[1:] == maps_start[1:] and not np.allclose(maps_start[0], maps_end[0], equal_nan=True)
    assert any(not np.allclose(a, b, equal_nan=True) for a, b in zip(bars_start, bar_heights(at)))
    run_snippet(at, "replay_filters", code_with="plot_replay_filters")     # trains again, same replay

    at.selectbox(key="replay_layer").set_value("conv2").run()
    assert int(at.select_slider(key="replay_epoch").value) == 2               # the epoch stays
    assert chart_spec(at, "replay_maps")["layout"]["title"]["text"].startswith("conv2 after epoch 2")
    run_snippet(at, "replay_maps", code_with="plot_replay_feature_maps")


def test_tiny_vgg_on_fashion_mnist_with_other_settings_replays_another_layer(app):
    at = submit(open_page(app, "train"), architecture="tiny_vgg", dataset="fashion_mnist", epochs=1,
                batch_size=128, learning_rate=3e-3, seed=7)
    assert [int(o) for o in at.select_slider(key="replay_epoch").options] == [0, 1]
    assert at.selectbox(key="replay_layer").options == ["conv1", "conv2", "conv3", "conv4"]
    at.selectbox(key="replay_layer").set_value("conv3").run()
    before = heatmap(at, "replay_maps")
    at.select_slider(key="replay_epoch").set_value("1").run()
    after = heatmap(at, "replay_maps")
    assert after[1:] == before[1:] and not np.allclose(before[0], after[0], equal_nan=True)
    assert chart_spec(at, "replay_maps")["layout"]["title"]["text"].startswith("conv3 after epoch 1")
    assert heatmap(at, "replay_filters")[0].shape[0] > 10 * 3               # ten 3x3 filters, one row each
    run_snippet(at, "replay_histograms", code_with="plot_replay_histograms")


def test_a_zoo_model_has_no_replay_and_switching_back_brings_it_again(app):
    at = open_page(app, "train")
    zoo = next(s for s in at.selectbox if s.label == "Zoo model")
    zoo.set_value("tinyvgg-shapes")
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not has_replay(at) and t("replay.none") in [c.value for c in at.caption]
    assert at.checkbox(key="save_replay").disabled                         # nothing to include in the file
    at = submit(at, epochs=1)
    assert has_replay(at)
    next(s for s in at.selectbox if s.label == "Zoo model").set_value("lenet5-mnist")
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not has_replay(at) and t("replay.none") in [c.value for c in at.caption]
    at.button(key="switch_back_image").click().run()                        # the trained model is current again
    assert has_replay(at) and [int(o) for o in at.select_slider(key="replay_epoch").options] == [0, 1]


def test_a_stopped_run_keeps_the_snapshots_it_recorded(app):
    from pages.common.runs import TrainingRun

    digits = load_image_dataset("digits")
    partial = untrained_model("lenet5", digits, seed=3)
    recorder = ReplayRecorder(partial.model, digits.test_tensors(), layers=convolution_layers(partial.model))
    result = train(partial.model, digits.train_tensors(), TrainConfig(epochs=1), on_epoch=recorder)
    app.session_state["training_run"] = TrainingRun(partial, TrainConfig(epochs=5), result.history, recorder)
    app.run()                                                               # Stop reran the app mid-run
    at = open_page(app, "train")
    assert any("Stopped after 1 finished epoch(s)" in w.value for w in at.warning)
    assert [int(o) for o in at.select_slider(key="replay_epoch").options] == [0, 1]
    assert words.stopped(1, 5) in [c.value for c in at.caption]
    assert not [c for c in at.code if "replay" in c.value]                  # no snippet: it would train to the end


def test_an_identical_training_in_another_session_is_reused_with_its_replay(app):
    first = submit(open_page(app, "train"), epochs=1, seed=11)
    other = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)             # same process, caches kept
    other.run()
    other = submit(open_page(other, "train"), epochs=1, seed=11)
    assert any("already ran on this server" in s.value for s in other.success)
    mine, theirs = first.session_state["training_result"]["replay"], other.session_state["training_result"]["replay"]
    assert theirs.epochs == mine.epochs == (0, 1)
    for a, b in zip(mine.snapshots, theirs.snapshots, strict=True):
        np.testing.assert_array_equal(a.filters, b.filters)
    assert heatmap(other, "replay_filters")[0].shape == heatmap(first, "replay_filters")[0].shape
    assert [int(o) for o in other.select_slider(key="replay_epoch").options] == [0, 1]


@pytest.fixture
def downloads(monkeypatch):
    """The callables of deferred download buttons, by file id, so a test can take what a click would give."""
    made = {}
    original = MediaFileManager.add_deferred

    def recording(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        made[file_id] = data_callable
        return file_id
    monkeypatch.setattr(MediaFileManager, "add_deferred", recording)
    return made


def downloaded(at: AppTest, downloads: dict) -> bytes:
    (button,) = [b for b in at.main.get("download_button") if "current model" in b.proto.label]
    return downloads[button.proto.deferred_file_id]()


def test_the_replay_goes_into_the_file_only_if_asked_and_comes_back_with_it(app, downloads):
    at = submit(open_page(app, "train"), epochs=2)
    box = at.checkbox(key="save_replay")
    assert box.value is False and not box.disabled
    plain = downloaded(at, downloads)
    assert load_replay(plain) is None and REPLAY_PREFIX.encode() not in plain
    box.check().run()
    with_replay = downloaded(at, downloads)
    assert load_replay(with_replay).epochs == (0, 1, 2) and len(with_replay) > len(plain)

    # Back in: from a fresh session, the file brings the model and its replay.
    other = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    other.run()
    other = open_page(other, "train")
    assert not has_replay(other)
    other.file_uploader[0].upload("mine.safetensors", with_replay).run()
    assert not other.exception
    assert any("training replay of 2 epochs" in i.value for i in other.info)
    trained = at.session_state["current_model"].model
    for key, tensor in other.session_state["current_model"].model.state_dict().items():
        assert torch.equal(tensor, trained.state_dict()[key])
    assert [int(o) for o in other.select_slider(key="replay_epoch").options] == [0, 1, 2]
    np.testing.assert_array_equal(heatmap(other, "replay_filters")[0], heatmap(at, "replay_filters")[0])


def test_a_damaged_replay_in_a_file_is_refused_with_a_message_and_the_model_still_loads(app):
    import json

    from safetensors.torch import load, save

    digits = load_image_dataset("digits")
    trained = untrained_model("lenet5", digits, seed=1)
    original = model_to_bytes(trained, replay=ReplayRecorder(trained.model, digits.test_tensors()).replay())
    tensors = load(original)
    tensors[REPLAY_PREFIX + "filters"] = torch.full_like(tensors[REPLAY_PREFIX + "filters"], float("nan"))
    metadata = json.loads(original[8:8 + int.from_bytes(original[:8], "little")])["__metadata__"]
    at = open_page(app, "train")
    at.file_uploader[0].upload("odd.safetensors", save(tensors, metadata=metadata)).run()
    assert not at.exception
    assert any("Loaded odd.safetensors" in s.value for s in at.success)
    assert any("not its training replay" in w.value and "not finite" in w.value for w in at.warning)
    assert torch.equal(at.session_state["current_model"].model.conv1.weight, trained.model.conv1.weight)
    assert not has_replay(at)
