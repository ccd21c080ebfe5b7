"""cnnviz.analysis.replay: snapshots of a training run, that they do not change it, and their model-file form.

Every number a snapshot holds is checked against what it claims to be: the conv1 weights of that epoch,
`cnnviz.feature_maps` of the fixed image at that epoch's weights, a histogram that counts every weight,
and the gradient of the loss on the probe batch.
"""

import copy
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from cnnviz import (
    STOP,
    CNNSpec,
    ConvSpec,
    ModelInfo,
    ModelLoadError,
    Preprocessing,
    ReplayRecorder,
    TrainConfig,
    TrainedModel,
    build_model,
    convolution_layers,
    feature_maps,
    histogram_layers,
    load_model_bytes,
    load_replay,
    model_to_bytes,
    train,
)
from cnnviz.analysis import replay as replay_module
from cnnviz.models.files import REPLAY_PREFIX, FileSection

SPEC = CNNSpec("tiny", 1, 8, (ConvSpec(3, 3, pool="max"), ConvSpec(4, 2)), num_classes=3)


def toy_data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 1, 8, 8, generator=g) + y.float().view(-1, 1, 1, 1)
    return x, y


def trained_with_replay(epochs=3, seed=0, **kwargs):
    """A tiny model trained `epochs` epochs with a recorder, and the weights after every epoch."""
    x, y = toy_data()
    test = toy_data(24, seed=1)
    model = build_model(SPEC, seed=seed)
    states = [copy.deepcopy(model.state_dict())]
    recorder = ReplayRecorder(model, test, **kwargs)

    def on_epoch(report):
        recorder(report)
        states.append(copy.deepcopy(model.state_dict()))

    result = train(model, (x, y), TrainConfig(epochs=epochs, batch_size=16, seed=seed), on_epoch=on_epoch)
    return model, recorder.replay(), states, test, result


# --- what the snapshots hold ------------------------------------------------------------------

def test_one_snapshot_before_training_and_one_per_epoch():
    _, replay, _, _, result = trained_with_replay(epochs=3)
    assert result.status == "completed"
    assert replay.epochs == (0, 1, 2, 3)
    assert [s.epoch for s in replay.snapshots] == [0, 1, 2, 3]
    assert replay.filter_layer == "conv1" and replay.map_layers == ("conv1",)   # the default: first convolution


def test_filters_are_the_first_convolutions_weights_of_each_epoch():
    model, replay, states, _, _ = trained_with_replay(epochs=3)
    np.testing.assert_array_equal(replay.snapshot(0).filters, states[0]["conv1.weight"].numpy())   # initial
    np.testing.assert_array_equal(replay.snapshots[-1].filters, model.conv1.weight.detach().numpy())  # final
    for epoch, state in enumerate(states):
        np.testing.assert_array_equal(replay.snapshot(epoch).filters, state["conv1.weight"].numpy())
    assert not np.array_equal(replay.snapshot(0).filters, replay.snapshot(3).filters)   # training changed them


def test_maps_are_feature_maps_of_the_fixed_image_at_that_epochs_weights():
    _, replay, states, (x_test, _), _ = trained_with_replay(epochs=2, layers=["conv1", "relu2"], image_index=5)
    assert replay.map_layers == ("conv1", "relu2") and replay.image_index == 5
    assert replay.map_shapes == ((3, 6, 6), (4, 2, 2))
    model = build_model(SPEC, seed=0)
    for epoch, state in enumerate(states):
        model.load_state_dict(state)
        expected = feature_maps(model, x_test[5], layers=["conv1", "relu2"])
        for layer in replay.map_layers:
            kept = replay.snapshot(epoch).maps[layer]
            assert kept.dtype == np.float16
            np.testing.assert_array_equal(kept, expected[layer].astype(np.float16))


def test_histograms_count_every_weight_within_their_range():
    model, replay, states, _, _ = trained_with_replay(epochs=2)
    assert replay.histogram_layers == ("conv1.weight", "conv2.weight", "fc1.weight") == tuple(histogram_layers(model))
    sizes = [model.get_parameter(name).numel() for name in replay.histogram_layers]
    for epoch, state in enumerate(states):
        snap = replay.snapshot(epoch)
        assert snap.weight_counts.shape == (3, 64) and snap.weight_counts.dtype == np.int32
        assert snap.weight_counts.sum(axis=1).tolist() == sizes
        assert snap.gradient_counts.sum(axis=1).tolist() == sizes
        for i, name in enumerate(replay.histogram_layers):
            values = state[name].numpy()
            assert snap.weight_ranges[i, 0] == pytest.approx(values.min()) and \
                snap.weight_ranges[i, 1] == pytest.approx(values.max())
            counts, _ = np.histogram(values.astype(np.float64), 64, range=tuple(map(float, snap.weight_ranges[i])))
            assert abs(counts - snap.weight_counts[i]).sum() <= 2   # the float32 range may move an edge value


def test_gradients_are_those_of_the_loss_on_the_probe_batch():
    model, replay, _, (x_test, y_test), _ = trained_with_replay(epochs=1, probe_size=8)
    model.eval()
    loss = nn.functional.cross_entropy(model(x_test[:8]), y_test[:8])
    grads = torch.autograd.grad(loss, [model.get_parameter(n) for n in replay.histogram_layers])
    snap = replay.snapshots[-1]
    assert snap.probe_loss == pytest.approx(float(loss.detach()), rel=1e-6)
    for i, grad in enumerate(grads):
        assert snap.gradient_ranges[i, 0] == pytest.approx(float(grad.min()), rel=1e-5, abs=1e-9)
        assert snap.gradient_ranges[i, 1] == pytest.approx(float(grad.max()), rel=1e-5, abs=1e-9)


# --- recording does not change training ---------------------------------------------------------

class Net(nn.Module):
    """Dropout and batch norm: a snapshot in training mode would draw masks and update running statistics."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(self.drop(self.flat(self.relu(self.bn(self.conv1(x))))))


@pytest.mark.parametrize("make", [lambda: build_model(SPEC, seed=0), Net], ids=["cnn", "dropout+batchnorm"])
def test_recording_leaves_the_training_exactly_as_without(make):
    x, y = toy_data()
    test = toy_data(24, seed=1)
    config = TrainConfig(epochs=3, batch_size=16, seed=4)
    plain, recorded = make(), make()
    first = train(plain, (x, y), config, test_set=test)
    recorder = ReplayRecorder(recorded, test)
    second = train(recorded, (x, y), config, test_set=test, on_epoch=recorder)
    assert len(recorder.replay().snapshots) == 4
    for key, tensor in plain.state_dict().items():                  # weights and batch-norm statistics
        assert torch.equal(recorded.state_dict()[key], tensor), key
    assert [r.train_loss for r in first.history] == [r.train_loss for r in second.history]


def test_a_snapshot_leaves_grads_modes_and_random_state_alone():
    model = Net()
    model.train()
    model.bn.eval()                                                 # a frozen part stays frozen
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    before = torch.random.get_rng_state()
    recorder = ReplayRecorder(model, toy_data(24, seed=1))
    recorder.record(1)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in model.parameters())
    assert model.training and model.drop.training and not model.bn.training


def test_a_stopped_run_keeps_the_snapshots_of_the_epochs_it_finished():
    x, y = toy_data()
    model = build_model(SPEC, seed=0)
    recorder = ReplayRecorder(model, toy_data(24, seed=1))

    def stop_after_two(report):
        recorder(report)
        return STOP if report.epoch == 2 else None

    result = train(model, (x, y), TrainConfig(epochs=5, batch_size=16), on_epoch=stop_after_two)
    assert result.status == "stopped"
    assert recorder.replay().epochs == (0, 1, 2)


# --- bounded memory -----------------------------------------------------------------------------

def test_a_big_layer_is_kept_within_the_caps():
    # 100 filters of 10 inputs, maps of 100 x 150 x 150: far over every cap.
    model = nn.Sequential(nn.Conv2d(10, 100, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(100, 2))
    test = (torch.randn(4, 10, 150, 150), torch.tensor([0, 1, 0, 1]))
    replay = ReplayRecorder(model, test, layers=["0", "1"]).replay()
    snap = replay.snapshots[0]
    assert snap.filters.shape == (replay_module.MAX_FILTERS, replay_module.MAX_FILTER_INPUTS, 3, 3) == (64, 8, 3, 3)
    assert replay.map_shapes == ((100, 150, 150), (100, 150, 150))
    assert snap.maps["0"].shape == (16, 50, 50)              # 16 channels, 150 / 3: means of 3 x 3 blocks
    full = feature_maps(model, test[0][0], layers=["0"])["0"]
    np.testing.assert_allclose(snap.maps["0"][0, 0, 0], full[0, :3, :3].mean(), rtol=2e-3)
    bound = (64 * 8 * 3 * 3 * 4 + replay_module.MAX_MAP_LAYERS * 16 * 64 * 64 * 2
             + replay_module.MAX_HISTOGRAM_LAYERS * 2 * (64 * 4 + 2 * 4))
    assert snap.nbytes <= bound
    assert snap.nbytes == 64 * 8 * 9 * 4 + 2 * 16 * 50 * 50 * 2 + 2 * 2 * (64 * 4 + 8)
    assert replay.bytes_for(50) == 51 * snap.nbytes


def test_the_app_models_take_a_few_kilobytes_per_snapshot(lib_mnist):
    from cnnviz import untrained_model

    trained = untrained_model("lenet5", lib_mnist)
    replay = ReplayRecorder(trained.model, lib_mnist.test_tensors(), layers=convolution_layers(trained.model)).replay()
    assert replay.map_layers == ("conv1", "conv2")
    # filters 6x1x5x5 float32, maps 6x28x28 + 16x10x10 float16, 5 layers x 2 histograms x (64 + 2) x 4 bytes
    assert replay.snapshots[0].nbytes == 600 + (4704 + 1600) * 2 + 5 * 2 * 66 * 4 == 15_848


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layers": ["fc1"]}, "no \\(C, H, W\\) maps"),
    ({"layers": ["nope"]}, "Unknown layer"),
    ({"layers": [f"conv{i}" for i in range(9)]}, "1 to 8 layers"),
    ({"image_index": 99}, "image_index"),
    ({"bins": 1}, "bins"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReplayRecorder(build_model(SPEC, seed=0), toy_data(24), **kwargs)


def test_a_model_without_a_convolution_has_no_replay():
    with pytest.raises(ValueError, match="needs a model with a convolution"):
        ReplayRecorder(nn.Sequential(nn.Flatten(), nn.Linear(64, 3)), toy_data(24))


# --- in a model file ----------------------------------------------------------------------------

@pytest.fixture
def tiny_with_replay():
    model, replay, _, _, _ = trained_with_replay(epochs=2, layers=["conv1", "conv2"])
    info = ModelInfo(name="tiny on toy", spec=SPEC, preprocessing=Preprocessing(1, 8, (0.5,), (0.25,)),
                     class_names=("a", "b", "c"), dataset="toy")
    return TrainedModel(model, info), replay


def test_a_replay_saved_with_the_model_comes_back_whole(tiny_with_replay):
    trained, replay = tiny_with_replay
    data = model_to_bytes(trained, replay=replay)
    loaded = load_model_bytes(data)                                   # the model, as from a file without it
    for key, tensor in trained.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], tensor)
    back = load_replay(data, model=loaded.model)
    assert (back.epochs, back.filter_layer, back.map_layers, back.map_shapes, back.histogram_layers,
            back.image_index, back.probe_size) == (replay.epochs, replay.filter_layer, replay.map_layers,
                                                   replay.map_shapes, replay.histogram_layers, replay.image_index,
                                                   replay.probe_size)
    for a, b in zip(back.snapshots, replay.snapshots, strict=True):
        for name in ("filters", "weight_counts", "weight_ranges", "gradient_counts", "gradient_ranges"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        for layer in replay.map_layers:
            np.testing.assert_array_equal(a.maps[layer], b.maps[layer])
        assert a.probe_loss == pytest.approx(b.probe_loss)
    assert back.nbytes == replay.nbytes
    assert len(data) > len(model_to_bytes(trained)) + replay.nbytes * 0.9
    assert load_replay(model_to_bytes(trained)) is None               # a file without one
    assert load_replay(b"not a model file") is None


def hostile(trained, replay, *, tensors=None, metadata=None, drop=()) -> bytes:
    """The model file with its replay section edited: tensors replaced or added, metadata changed."""
    section = replay.to_section()
    edited_tensors = {k: v for k, v in {**section.tensors, **(tensors or {})}.items() if k not in drop}
    edited = FileSection(edited_tensors, {**section.metadata, **(metadata or {})})

    class Edited:
        def to_section(self):
            return edited
    return model_to_bytes(trained, replay=Edited())


@pytest.mark.parametrize(("edit", "message"), [
    ({"metadata": {"format": 2}}, "newer cnnviz"),
    ({"metadata": {"epochs": [0, 2, 1]}}, "increasing order"),
    ({"metadata": {"epochs": list(range(1002))}}, "1 to 1001 epochs"),
    ({"metadata": {"map_layers": ["conv1", "x" * 300]}}, "layer names"),
    ({"metadata": {"map_shapes": [[3, 6], [4, 2, 2]]}}, "map shapes"),
    ({"metadata": {"image_index": -1}}, "whole numbers"),
    ({"tensors": {"filters": torch.zeros(3, 3, 1, 3, 3, dtype=torch.float64)}}, "float32"),
    ({"tensors": {"filters": torch.zeros(2, 3, 1, 3, 3)}}, "3 rows"),
    ({"tensors": {"filters": torch.full((3, 3, 1, 3, 3), float("nan"))}}, "not finite"),
    ({"tensors": {"filters": torch.zeros(3, 65, 1, 3, 3)}}, "over the caps"),
    ({"tensors": {"maps.0": torch.zeros(3, 3, 65, 65, dtype=torch.float16)}}, "over the caps"),
    ({"tensors": {"maps.0": torch.zeros(3, 17, 6, 6, dtype=torch.float16)}}, "over the caps"),
    ({"tensors": {"weight_counts": torch.full((3, 3, 64), -1, dtype=torch.int32)}}, "negative counts"),
    ({"tensors": {"gradient_counts": torch.zeros(3, 3, 100_000, dtype=torch.int32)}}, "histograms have shapes"),
    ({"tensors": {"surprise": torch.zeros(1)}}, "do not match"),
    ({"drop": ("maps.1",)}, "do not match"),
])
def test_a_hostile_replay_is_refused_with_a_message_and_the_model_still_loads(tiny_with_replay, edit, message):
    trained, replay = tiny_with_replay
    data = hostile(trained, replay, **edit)
    with pytest.raises(ModelLoadError, match=f"training replay is damaged: .*{message}"):
        load_replay(data)
    loaded = load_model_bytes(data)                                   # the weights are untouched by the edit
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in trained.model.state_dict().items())


def test_a_replay_description_that_is_not_json_is_refused(tiny_with_replay):
    trained, replay = tiny_with_replay
    tensors = st_load(model_to_bytes(trained, replay=replay))
    data = st_save(tensors, metadata={"cnnviz": json.dumps(trained.info.to_dict()), "cnnviz_replay": "{oops"})
    with pytest.raises(ModelLoadError, match="training replay is damaged: its description is not JSON"):
        load_replay(data)
    assert load_model_bytes(data).info == trained.info


def test_a_replay_declaring_absurd_sizes_is_refused_before_reading(tiny_with_replay):
    # The header says 10^9 values: the whole file is refused before a tensor is read, as any such file.
    trained, replay = tiny_with_replay
    data = bytearray(model_to_bytes(trained, replay=replay))
    head_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + head_len])
    header[REPLAY_PREFIX + "filters"]["shape"] = [1000, 1000, 1000, 1, 1]
    head = json.dumps(header).encode()
    forged = len(head).to_bytes(8, "little") + head + bytes(data[8 + head_len:])
    for load in (load_replay, load_model_bytes):
        with pytest.raises(ModelLoadError, match="too many for cnnviz"):
            load(forged)


def test_a_replay_for_another_network_is_refused_against_the_model(tiny_with_replay):
    trained, replay = tiny_with_replay
    other = build_model(CNNSpec("other", 1, 8, (ConvSpec(5, 3),), num_classes=3), seed=0)
    with pytest.raises(ModelLoadError, match="for another network"):
        load_replay(model_to_bytes(trained, replay=replay), model=other)
