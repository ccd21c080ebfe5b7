"""AppTests of the Streamlit app: home, the Train / load page, uploads of good and bad model files.

Each test starts a fresh AppTest (its own session) with cleared caches. Expected
numbers come from the library (the zoo checkpoint's metadata, model_to_bytes), so
the page is checked against what the library says, not against copied values.
"""

import io
import os
import pickle
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_safetensors
from streamlit.testing.v1 import AppTest

from cnnviz import (
    ZOO,
    TrainConfig,
    load_image_dataset,
    load_zoo_model,
    model_to_bytes,
    untrained_model,
)
from pages.common.session import DATASET_LABELS
from pages.common.words_train import ZOO_LABELS
from tests.conftest import chart_spec, open_page


def sidebar_text(at: AppTest) -> str:
    """All text of the sidebar's current-model panel."""
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def train_page(at: AppTest) -> AppTest:
    return open_page(at, "train")


def upload_model(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].upload(name, data).run()
    assert not at.exception
    return at


def test_home_shows_the_zoo_model_with_its_numbers(app):
    expected = load_zoo_model().info
    assert app.title[0].value.startswith("cnnviz")
    panel = sidebar_text(app)
    assert expected.name in panel
    assert f"{expected.test_accuracy:.1%}" in panel
    assert "61,706" in panel                      # LeNet-5's parameter count
    assert "1×28×28" in panel
    charts = app.get("plotly_chart")
    assert len(charts) == 2                       # architecture and example images
    assert any("Train / load" in m.value for m in app.markdown)


def test_train_page_defaults(app):
    at = train_page(app)
    assert at.title[0].value == "Train / load a model"
    assert [s.label for s in at.selectbox][:3] == ["Architecture", "Data set", "Batch size"]
    assert at.selectbox[0].value == "lenet5" and at.selectbox[1].value == "mnist"  # real digits by default
    assert at.selectbox[1].options[:4] == [DATASET_LABELS[k] for k in ("mnist", "fashion_mnist", "digits", "shapes")]
    assert at.number_input[0].value == TrainConfig().epochs == 10
    assert len(at.file_uploader) == 1
    assert len(at.main.get("download_button")) == 1  # the model file (the sidebar's share box has its own)
    assert not at.error


def test_train_one_epoch_then_save_and_load_it_back(app):
    at = train_page(app)
    at.selectbox[1].set_value("digits")
    at.number_input[0].set_value(1)
    at.button(key="FormSubmitter:train_form-Train").click().run()
    assert not at.exception
    assert any("Trained for 1 epochs" in s.value for s in at.success)
    trained = at.session_state["current_model"]
    assert trained.info.name == "LeNet-5 on digits"
    assert trained.info.test_accuracy is not None
    assert f"{trained.info.test_accuracy:.1%}" in sidebar_text(at)
    assert len(at.get("plotly_chart")) >= 2       # curves and confusion matrix

    # Save: the download button's bytes come from model_to_bytes; load them back through the uploader.
    saved = model_to_bytes(trained)
    at = upload_model(at, "my-lenet.safetensors", saved)
    assert any("Loaded my-lenet.safetensors" in s.value for s in at.success)
    loaded = at.session_state["current_model"]
    assert loaded.info == trained.info
    for key, tensor in trained.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], tensor)


def test_train_tiny_vgg_on_shapes_with_other_settings(app):
    at = train_page(app)
    at.selectbox[0].set_value("tiny_vgg")
    at.selectbox[1].set_value("shapes")
    at.number_input[0].set_value(2)
    at.selectbox[2].set_value(128)
    at.select_slider[0].set_value(3e-3)
    at.number_input[1].set_value(7)
    at.button(key="FormSubmitter:train_form-Train").click().run()
    assert not at.exception
    assert any("Trained for 2 epochs" in s.value for s in at.success)
    info = at.session_state["current_model"].info
    assert info.name == "TinyVGG on shapes"
    assert info.class_names == ("circle", "square", "triangle", "cross", "ring", "star")
    assert "TinyVGG on shapes" in sidebar_text(at)


def test_a_diverging_run_is_reported_and_keeps_the_last_good_weights(app, monkeypatch):
    # Adam rarely produces NaN by itself, so feed it one corrupt training image (an inf pixel).
    import dataclasses

    import pages.common.live_training as live_training
    import pages.common.runs as runs
    import pages.common.session as session

    digits = load_image_dataset("digits")
    corrupt = digits.x_train.copy()
    corrupt[100, 0, 5, 5] = float("inf")
    for module in (session, live_training, runs):  # the page, the training and its evaluation
        monkeypatch.setattr(module, "dataset", lambda name: dataclasses.replace(digits, x_train=corrupt))
    at = train_page(app)
    at.number_input[0].set_value(2)
    at.button(key="FormSubmitter:train_form-Train").click().run()
    assert not at.exception
    assert any("The loss became nan in epoch 1" in e.value and "lower learning rate" in e.value
               for e in at.error), [e.value for e in at.error]
    # Nothing finished, so the run's weights are the initial ones of the same seed; they do not
    # replace the zoo model unless the user asks.
    assert at.session_state["current_model"].info.name == load_zoo_model().info.name
    at.button(key="adopt_run").click().run()
    initial = untrained_model("lenet5", digits, seed=0).model.state_dict()
    for key, tensor in at.session_state["current_model"].model.state_dict().items():
        assert torch.equal(tensor, initial[key])


def test_a_ui_training_runs_every_epoch_and_reaches_its_accuracy(app):
    """A page that stopped after one epoch passed every other test once: count the epochs."""
    at = train_page(app)
    at.number_input[0].set_value(3)
    at.button(key="FormSubmitter:train_form-Train").click().run(timeout=300)
    assert not at.exception
    assert any("Trained for 3 epochs" in s.value and "This is now the current model" in s.value
               for s in at.success)
    result = at.session_state["training_result"]
    assert [r.epoch for r in result["history"]] == [1, 2, 3] and result["status"] == "completed"
    assert result["evaluation"].accuracy >= 0.9    # LeNet-5 on digits: ~96% after 3 one-cycle epochs
    assert max(len(trace["x"]) for trace in chart_spec(at, "curves")["data"]) == 3
    assert "trained on Train / load (3 of 3 epochs)" in sidebar_text(at)
    # The zoo model it replaced is one click away.
    at.button(key="switch_back_image").click().run()
    assert at.session_state["current_model"].info.name == load_zoo_model().info.name


def test_stop_keeps_the_previous_model_and_offers_the_stopped_one(app):
    # A click on Stop reruns the app while the loop runs; the run it interrupts is left in
    # session state. Recreate that state: the next run must not let it replace the good model.
    from pages.common.runs import TrainingRun

    data = load_image_dataset("digits")
    good = app.session_state["current_model"]
    partial = untrained_model("lenet5", data, seed=3)
    app.session_state["training_run"] = TrainingRun(partial, TrainConfig(epochs=5))
    app.run()                                     # any page settles an interrupted run
    assert "training_run" not in app.session_state
    assert app.session_state["current_model"] is good
    assert "not made current" in sidebar_text(app)  # said on whatever page comes next
    at = train_page(app)
    assert at.session_state["current_model"] is good
    assert any("Stopped after 0 finished epoch(s)" in w.value and "current model is unchanged" in w.value
               for w in at.warning)
    at.button(key="adopt_run").click().run()
    assert at.session_state["current_model"].model is partial.model
    assert "stopped after 0 of 5 epochs" in sidebar_text(at)
    at.button(key="switch_back_image").click().run()
    assert at.session_state["current_model"] is good


def test_online_data_set_offline_gives_a_clear_message_and_keeps_the_model(app):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    before = app.session_state["current_model"]
    at = train_page(app)
    at.selectbox[1].set_value("mnist_full")
    at.button(key="FormSubmitter:train_form-Train").click().run()
    assert not at.exception
    assert any("network" in e.value and "offline data sets" in e.value for e in at.error)
    assert at.session_state["current_model"] is before


def test_switch_to_a_zoo_model(app):
    at = train_page(app)
    zoo_select = next(s for s in at.selectbox if s.label == "Zoo model")
    zoo_select.set_value("tinyvgg-shapes")
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.exception
    expected = load_zoo_model("tinyvgg-shapes").info
    assert at.session_state["current_model"].info == expected
    assert "TinyVGG on shapes" in sidebar_text(at)
    # Image models only, real data first: the zoo's text models belong to the TextCNN page.
    assert zoo_select.options == [ZOO_LABELS[key] for key in ("lenet5-mnist", "tinyvgg-fashion_mnist",
                                                             "efficientnet-lite0-imagenet", "lenet5-digits",
                                                             "tinyvgg-shapes")]
    assert set(ZOO) - set(ZOO_LABELS) == {"textcnn-mr", "fasttext-mr", "textcnn-sentiment", "textcnn-reviews_zh",
                                          "fasttext-reviews_zh"}


def test_bare_state_dict_loads_with_the_picked_architecture(app):
    zoo = load_zoo_model("tinyvgg-shapes")
    at = train_page(app)
    next(s for s in at.selectbox if s.label == "Architecture of the weights").set_value("tiny_vgg")
    next(s for s in at.selectbox if s.label.startswith("Data set they")).set_value("shapes")
    at.run()
    buffer = io.BytesIO()
    torch.save(zoo.model.state_dict(), buffer)
    at = upload_model(at, "weights.pt", buffer.getvalue())
    assert any("Loaded weights.pt" in s.value for s in at.success)
    loaded = at.session_state["current_model"]
    assert loaded.info.spec == zoo.info.spec
    assert loaded.info.test_accuracy == pytest.approx(zoo.info.test_accuracy)


class _RunsCode:
    """Unpickling this would call `exec`, which writes a marker file: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def _bad_files(tmp_path: Path) -> dict[str, tuple[str, bytes, str]]:
    """Each refused kind of file: (file name, content, a phrase the message must contain)."""
    zoo = load_zoo_model()
    good = model_to_bytes(zoo)
    whole_module = io.BytesIO()
    torch.save(zoo.model, whole_module)
    code_pickle = io.BytesIO()
    torch.save({"weights": _RunsCode(tmp_path / "marker")}, code_pickle)
    scripted = io.BytesIO()
    torch.jit.save(torch.jit.script(zoo.model), scripted)
    png = io.BytesIO()
    from PIL import Image
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    wrong_arch = save_safetensors(dict(load_zoo_model("tinyvgg-shapes").model.state_dict()))
    return {
        "pickled module": ("model.pt", whole_module.getvalue(), "never unpickles"),
        "pickle carrying code": ("evil.pt", code_pickle.getvalue(), "never unpickles"),
        "plain pickle": ("evil.pkl", pickle.dumps(_RunsCode(tmp_path / "marker")), "never unpickles"),
        # Seeded: os.urandom once began with b"\x80" (a pickle's first byte) and got the pickle message.
        "random binary": ("random.safetensors", random.Random(0).randbytes(4096), "not a model file"),
        "truncated safetensors": ("cut.safetensors", good[: len(good) // 2], "truncated"),
        "image renamed": ("cat.safetensors", png.getvalue(), "PNG image"),
        "wrong architecture": ("tinyvgg.safetensors", wrong_arch, "conv1.weight"),
        "torchscript": ("scripted.pt", scripted.getvalue(), "TorchScript"),
    }


@pytest.mark.parametrize("kind", ["pickled module", "pickle carrying code", "plain pickle", "random binary",
                                  "truncated safetensors", "image renamed", "wrong architecture",
                                  "torchscript"])
def test_refused_files_get_a_clear_message_and_change_nothing(app, tmp_path, kind):
    name, data, phrase = _bad_files(tmp_path)[kind]
    before = app.session_state["current_model"]
    at = upload_model(train_page(app), name, data)
    errors = [e.value for e in at.error]
    assert errors and phrase in errors[0], errors
    assert "current model is unchanged" in errors[0]
    assert at.session_state["current_model"] is before
    assert not (tmp_path / "marker").exists()     # nothing was executed
    # The app keeps working: the home page still renders with the old model.
    assert before.info.name in sidebar_text(at)


def test_a_fasttext_model_file_is_refused_with_a_message(app):
    from cnnviz import TrainedModel, load_text_corpus, untrained_text_model

    corpus = load_text_corpus("sentiment")
    fast: TrainedModel = untrained_text_model("fasttext", corpus, seed=0)
    before_text = app.session_state["current_text_model"] if "current_text_model" in app.session_state else None
    at = upload_model(train_page(app), "fast.safetensors", model_to_bytes(fast))
    assert any("only TextCNN text models" in e.value for e in at.error)
    assert ("current_text_model" in at.session_state) == (before_text is not None)


def test_a_text_model_file_goes_to_the_text_cnn_page(app):
    zoo_text = load_zoo_model("textcnn-sentiment")
    before = app.session_state["current_model"]
    at = upload_model(train_page(app), "text.safetensors", model_to_bytes(zoo_text))
    assert any("model of the TextCNN page" in s.value for s in at.success)
    assert at.session_state["current_text_model"].info == zoo_text.info
    assert at.session_state["current_model"] is before


# --- shareable links and reproducible figures ---------------------------------------------------

def training_settings(at: AppTest) -> tuple:
    return (at.selectbox(key="train_architecture").value, at.selectbox(key="train_dataset").value,
            at.number_input(key="train_epochs").value, at.selectbox(key="train_batch_size").value,
            at.select_slider(key="train_learning_rate").value, at.number_input(key="train_seed").value)


def submit_training(at: AppTest, architecture="tiny_vgg", dataset="digits", epochs=1, batch_size=128,
                    learning_rate=3e-3, seed=7) -> AppTest:
    """Fill in the training form and press Train (form values go in with the click)."""
    at.selectbox(key="train_architecture").set_value(architecture)
    at.selectbox(key="train_dataset").set_value(dataset)
    at.number_input(key="train_epochs").set_value(epochs)
    at.selectbox(key="train_batch_size").set_value(batch_size)
    at.select_slider(key="train_learning_rate").set_value(learning_rate)
    at.number_input(key="train_seed").set_value(seed)
    at.button(key="FormSubmitter:train_form-Train").click().run()
    assert not at.exception, at.exception
    return at


def test_a_link_restores_the_training_settings_and_a_garbled_one_falls_back(app):
    from tests.conftest import new_session_from_link

    # The full MNIST is online, so offline the run is refused at once: the settings are in, nothing trains.
    at = submit_training(train_page(app), dataset="mnist_full", epochs=3, seed=12345)
    assert any("offline data sets" in e.value for e in at.error)
    shared = new_session_from_link(at, "train")
    assert training_settings(shared) == ("tiny_vgg", "mnist_full", 3, 128, 3e-3, 12345)
    assert not shared.warning and not shared.error                  # a link does not start a run

    bad = {"train_architecture": "resnet50", "train_dataset": "imagenet", "train_epochs": "999",
           "train_batch_size": "100", "train_learning_rate": "2", "train_seed": "seven"}
    garbled = new_session_from_link(at, "train", bad)
    defaults = TrainConfig()
    assert training_settings(garbled) == ("lenet5", "mnist", defaults.epochs, defaults.batch_size,
                                          defaults.learning_rate, defaults.seed)
    notice = garbled.warning[0].value
    assert all(key in notice for key in bad)


def test_a_stale_copy_of_an_older_url_on_the_same_page_changes_nothing(app):
    # The browser can send a rerun before it has applied the URL the last run wrote: that older
    # URL (here the first one, with the zoo model and 10 epochs) must not undo what the user did.
    at = train_page(app)
    first_url = dict(at.query_params)
    assert first_url["model"] == "lenet5-mnist" and first_url["train_epochs"] == "10"
    at = submit_training(at, architecture="lenet5", dataset="digits", epochs=1)
    trained = at.session_state["current_model"]
    assert "model" not in at.query_params                           # a trained model is not a zoo model
    for key, value in first_url.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert at.session_state["current_model"] is trained
    assert at.number_input(key="train_epochs").value == 1
    assert not at.warning


def python_code(at: AppTest) -> list[str]:
    return [c.value for c in at.code if c.language == "python"]


def test_the_snippet_retrains_the_same_curves(app):
    # cnnviz.train is deterministic for a seed in one process (same threads), so the curves match exactly.
    from pages.common.runs import TrainingRun
    from tests.conftest import run_snippet

    at = train_page(app)
    assert not python_code(at)                                      # no run, no curves, no snippet
    at.number_input(key="train_epochs").set_value(1)                # otherwise the defaults: LeNet-5 on digits
    at.button(key="FormSubmitter:train_form-Train").click().run()
    run_snippet(at, "curves", code_with="plot_training_curves")
    submit_training(at, epochs=2)                                   # TinyVGG, batch 128, 3e-3, seed 7
    assert "seed=7" in python_code(at)[0]
    run_snippet(at, "curves", code_with="plot_training_curves")
    at.run()                                                        # a rerun keeps the snippet of that run
    run_snippet(at, "curves", code_with="plot_training_curves")

    # A stopped run ends early: the snippet would train to the end, so there is none.
    at.session_state["training_run"] = TrainingRun(untrained_model("lenet5", load_image_dataset("digits")),
                                                   TrainConfig(epochs=5))
    at.run()
    assert any("Stopped" in w.value for w in at.warning) and not python_code(at)


def test_the_home_snippet_draws_the_architecture(app):
    from tests.conftest import APP, APP_TIMEOUT, run_snippet

    run_snippet(app, "architecture")                                # LeNet-5, the default zoo model
    assert "load_zoo_model('lenet5-mnist')" in python_code(app)[0]
    other = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    other.query_params["model"] = "tinyvgg-shapes"                  # a link to home with another zoo model
    other.run()
    assert not other.exception
    run_snippet(other, "architecture")
    assert "load_zoo_model('tinyvgg-shapes')" in python_code(other)[0]


def test_a_model_file_with_a_saved_view_offers_a_link_to_that_view(app):
    from cnnviz import load_zoo_model, model_to_bytes

    teacher = load_zoo_model("tinyvgg-shapes")
    view = {"page": "pooling", "params": {"pool_kind": "avg", "pool_kernel": "3"}}
    at = upload_model(train_page(app), "lesson.safetensors", model_to_bytes(teacher, view=view))
    assert at.session_state["current_model"].info.name == teacher.info.name
    (link,) = [p for p in at.get("page_link") if "view saved in lesson.safetensors" in p.proto.label]
    assert link.proto.page == "pooling" and link.proto.query_string == "pool_kind=avg&pool_kernel=3"

    at = upload_model(at, "plain.safetensors", model_to_bytes(teacher))   # a file without a view: no link
    assert not [p for p in at.get("page_link") if "view saved in" in p.proto.label]


def test_a_page_left_and_opened_again_keeps_its_settings(app):
    """Streamlit forgets the widgets of a page that a run does not draw; the session must not."""
    at = open_page(app, "feature_maps")
    at.number_input(key="features_index").set_value(17).run()
    at.selectbox(key="features_layer").set_value("conv2").run()
    at = open_page(at, "pooling")
    at.radio(key="pool_kind").set_value("avg").run()
    at = open_page(at, "feature_maps")
    assert (at.number_input(key="features_index").value, at.selectbox(key="features_layer").value) == (17, "conv2")
    assert "features_index=17" in at.sidebar.code[0].value        # and the share box says so
    at = open_page(at, "pooling")
    assert at.radio(key="pool_kind").value == "avg"
    # A kept value that no longer fits (another model's layers) falls back to the default, silently.
    at.session_state["link_kept"]["features_layer"] = "conv9"
    at = open_page(at, "feature_maps")
    assert at.selectbox(key="features_layer").value == "conv1" and not at.warning
