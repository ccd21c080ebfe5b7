"""cnnviz.models.zoo: every shipped checkpoint loads and still reaches its accuracy (no retraining here)."""

import pytest

import cnnviz.models.zoo as zoo_module
from cnnviz import (
    DEFAULT_ZOO_MODEL,
    ZOO,
    ModelLoadError,
    TextCNNSpec,
    TrainConfig,
    architecture_spec,
    count_parameters,
    evaluate,
    load_text_corpus,
    load_zoo_model,
    zoo_path,
)

DATASET_FIXTURES = {"digits": "lib_digits", "shapes": "lib_shapes"}


def test_zoo_entries():
    assert DEFAULT_ZOO_MODEL in ZOO
    assert {key: (e.architecture, e.dataset, e.min_accuracy) for key, e in ZOO.items()} == {
        "lenet5-digits": ("lenet5", "digits", 0.97),
        "tinyvgg-shapes": ("tiny_vgg", "shapes", 0.95),
        "textcnn-sentiment": ("text_cnn", "sentiment", 0.95),
    }
    assert all(e.key == key and isinstance(e.config, TrainConfig) for key, e in ZOO.items())
    assert hash(ZOO["lenet5-digits"])  # frozen: usable as a cache key


def test_every_shipped_checkpoint_is_a_zoo_entry():
    shipped = {p.stem for p in zoo_module.CHECKPOINT_DIR.glob("*.safetensors")}
    assert shipped == set(ZOO)


@pytest.mark.parametrize("key", sorted(ZOO))
def test_checkpoint_is_in_the_repository(key):
    path = zoo_path(key)
    assert path.name == f"{key}.safetensors" and path.parent.name == "checkpoints"
    assert path.is_file() and 1_000 < path.stat().st_size < 2**20  # small enough to ship


@pytest.mark.parametrize("key", sorted(ZOO))
def test_checkpoint_reaches_its_accuracy_on_a_fresh_evaluation(request, key):
    entry = ZOO[key]
    trained = load_zoo_model(key)
    info = trained.info
    if entry.architecture == "text_cnn":
        dataset = load_text_corpus(entry.dataset)
        expected_spec = TextCNNSpec(vocab_size=len(dataset.preprocessing.vocabulary), num_classes=2)
    else:
        dataset = request.getfixturevalue(DATASET_FIXTURES[entry.dataset])
        prep = dataset.preprocessing
        expected_spec = architecture_spec(entry.architecture, in_channels=prep.channels, input_size=prep.size,
                                          num_classes=len(dataset.class_names))
    assert info.dataset == entry.dataset and info.class_names == dataset.class_names
    assert info.preprocessing == dataset.preprocessing  # same statistics / vocabulary as its training split
    assert info.spec == expected_spec
    accuracy = evaluate(trained.model, *dataset.test_tensors()).accuracy
    assert accuracy >= entry.min_accuracy
    assert info.test_accuracy == pytest.approx(accuracy, abs=1e-9)


def test_lenet5_digits_reaches_97_percent(lib_digits):
    trained = load_zoo_model("lenet5-digits")
    assert count_parameters(trained.model) == 61706
    assert evaluate(trained.model, *lib_digits.test_tensors()).accuracy >= 0.97


def test_tinyvgg_shapes_reaches_95_percent(lib_shapes):
    trained = load_zoo_model("tinyvgg-shapes")
    # TinyVGG on 32x32 grey, 6 classes: 100 + 3*910 + (10*5*5*6 + 6) = 4336 parameters
    assert count_parameters(trained.model) == 4336
    assert evaluate(trained.model, *lib_shapes.test_tensors()).accuracy >= 0.95


def test_default_zoo_model_is_lenet5_on_digits():
    assert load_zoo_model().info.spec.name == "LeNet-5"


def test_unknown_zoo_key():
    with pytest.raises(ModelLoadError, match="Unknown zoo model 'resnet-cifar'.*lenet5-digits"):
        load_zoo_model("resnet-cifar")


def test_missing_checkpoint_says_how_to_rebuild(monkeypatch, tmp_path):
    monkeypatch.setattr(zoo_module, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match=r"lenet5-digits.safetensors is missing.*python -m cnnviz.models.zoo"):
        load_zoo_model("lenet5-digits")


def test_rebuild_command_refuses_unknown_entries(capsys):
    with pytest.raises(SystemExit) as exit_info:
        zoo_module.main(["no-such-model"])
    assert exit_info.value.code == 2
    assert "unknown zoo entries: no-such-model" in capsys.readouterr().err
