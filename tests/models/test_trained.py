"""cnnviz.models.trained: ModelInfo as JSON, TrainedModel, untrained_model."""

import json

import numpy as np
import pytest
import torch

from cnnviz import (
    ModelInfo,
    ModelLoadError,
    lenet5_spec,
    tiny_vgg_spec,
    untrained_model,
)


def test_model_info_round_trips_through_json(lib_tiny_trained):
    info = lib_tiny_trained.info
    data = json.loads(json.dumps(info.to_dict()))
    assert data["format"] == 1 and data["dataset"] == "toy" and data["test_accuracy"] == 0.625
    back = ModelInfo.from_dict(data)
    assert back == info and hash(back) == hash(info)


def test_model_info_without_accuracy(lib_tiny_trained):
    info = lib_tiny_trained.with_accuracy(None).info
    assert ModelInfo.from_dict(json.loads(json.dumps(info.to_dict()))).test_accuracy is None


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("spec"),
    lambda d: d.pop("name"),
    lambda d: d.pop("preprocessing"),
    lambda d: d.__setitem__("spec", []),
    lambda d: d.__setitem__("spec", {"kind": "resnet"}),
    lambda d: d["spec"].__setitem__("convs", 3),
    lambda d: d["preprocessing"].__setitem__("mean", 0.5),
    lambda d: d.__setitem__("class_names", None),
    lambda d: d.__setitem__("test_accuracy", "high"),
], ids=["no-spec", "no-name", "no-preprocessing", "spec-list", "spec-kind", "convs-int", "mean-number",
        "class-names-none", "accuracy-text"])
def test_model_info_from_damaged_dict_raises_model_load_error(lib_tiny_trained, damage):
    data = lib_tiny_trained.info.to_dict()
    damage(data)
    # a spec of an unknown kind is not damaged JSON, but a network cnnviz does not build: either says so
    with pytest.raises(ModelLoadError, match="metadata is damaged|describes a network cnnviz does not build"):
        ModelInfo.from_dict(data)


def test_trained_model_parameters_and_with_accuracy(lib_tiny_trained):
    assert lib_tiny_trained.parameters == 77  # conv1 1*2*9+2 = 20, fc1 18*3+3 = 57
    updated = lib_tiny_trained.with_accuracy(0.9)
    assert updated.info.test_accuracy == 0.9 and updated.model is lib_tiny_trained.model
    assert lib_tiny_trained.info.test_accuracy == 0.625  # the original is unchanged
    assert updated.info.spec == lib_tiny_trained.info.spec


def test_trained_model_predict_proba_applies_the_preprocessing(lib_tiny_trained):
    images = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    p = lib_tiny_trained.predict_proba(images)
    assert p.shape == (4, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-6)
    # the same as normalising by hand, (x - 0.5) / 0.25, then a softmax of the logits
    with torch.no_grad():
        logits = lib_tiny_trained.model(torch.as_tensor((images - 0.5) / 0.25))
    assert np.allclose(p, torch.softmax(logits, 1).numpy(), atol=1e-6)


def test_untrained_model_fits_the_dataset(lib_digits):
    trained = untrained_model("lenet5", lib_digits, seed=3)
    assert trained.info.spec == lenet5_spec(in_channels=1, input_size=28, num_classes=10)
    assert trained.info.preprocessing == lib_digits.preprocessing
    assert trained.info.class_names == lib_digits.class_names and trained.info.dataset == "digits"
    assert trained.info.name == "LeNet-5 on digits" and trained.info.test_accuracy is None
    assert trained.parameters == 61706
    again = untrained_model("lenet5", lib_digits, seed=3)
    assert torch.equal(trained.model.fc1.weight, again.model.fc1.weight)
    assert not torch.equal(trained.model.fc1.weight,
                           untrained_model("lenet5", lib_digits, seed=4).model.fc1.weight)
    vgg = untrained_model("tiny_vgg", lib_digits)
    assert vgg.info.spec == tiny_vgg_spec(in_channels=1, input_size=28, num_classes=10)
    assert vgg.predict_proba(lib_digits.x_test[:2]).shape == (2, 10)


def test_untrained_model_unknown_architecture(lib_digits):
    with pytest.raises(ValueError, match="Unknown architecture"):
        untrained_model("alexnet", lib_digits)

