"""cnnviz.models.cnn: specs, built shapes, parameter counts checked by hand."""

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz import (
    ARCHITECTURES,
    CNN,
    CNNSpec,
    ConvSpec,
    architecture_spec,
    build_model,
    count_parameters,
    lenet5,
    lenet5_spec,
    model_summary,
    spec_from_dict,
    tiny_vgg,
    tiny_vgg_spec,
)

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def conv_out(n, k, s=1, p=0, d=1):
    """The convolution output size formula (PyTorch Conv2d docs; Dumoulin & Visin 2016)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


# --- LeNet-5 (LeCun et al. 1998, common PyTorch form) ------------------------------------------

def test_lenet5_has_61706_parameters():
    # conv1 1*6*25+6 = 156, conv2 6*16*25+16 = 2416, fc1 400*120+120 = 48120,
    # fc2 120*84+84 = 10164, fc3 84*10+10 = 850; sum 61706.
    assert count_parameters(lenet5()) == 156 + 2416 + 48120 + 10164 + 850 == 61706


def test_lenet5_per_layer_shapes_and_params_for_28x28():
    rows = model_summary(lenet5(), (1, 28, 28))
    assert [(r.name, r.kind, r.output_shape, r.params) for r in rows] == [
        ("conv1", "Conv2d", (6, 28, 28), 156),   # padding 2: 28 + 4 - 5 + 1 = 28
        ("relu1", "ReLU", (6, 28, 28), 0),
        ("pool1", "MaxPool2d", (6, 14, 14), 0),
        ("conv2", "Conv2d", (16, 10, 10), 2416),  # 14 - 5 + 1 = 10
        ("relu2", "ReLU", (16, 10, 10), 0),
        ("pool2", "MaxPool2d", (16, 5, 5), 0),
        ("flatten", "Flatten", (400,), 0),        # 16*5*5
        ("fc1", "Linear", (120,), 48120),
        ("relu_fc1", "ReLU", (120,), 0),
        ("fc2", "Linear", (84,), 10164),
        ("relu_fc2", "ReLU", (84,), 0),
        ("fc3", "Linear", (10,), 850),
    ]


def test_lenet5_32x32_form_is_the_paper_one_with_the_same_count():
    spec = lenet5_spec(input_size=32)
    assert spec.convs[0].padding == 0
    model = build_model(spec)
    assert count_parameters(model) == 61706
    shapes = {r.name: r.output_shape for r in model_summary(model, (1, 32, 32))}
    assert shapes["conv1"] == (6, 28, 28) and shapes["flatten"] == (400,)


def test_lenet5_variants_count_by_hand():
    # Three input channels: conv1 gets 3*6*25 = 450 weights instead of 150, +300.
    assert count_parameters(lenet5(in_channels=3)) == 61706 + 300
    # Six classes: fc3 is 84*6+6 = 510 instead of 850.
    assert count_parameters(lenet5(num_classes=6)) == 61706 - 850 + 510
    # tanh and average pooling (the 1998 paper's choice) add no parameters.
    model = lenet5(activation="tanh", pool="avg")
    assert count_parameters(model) == 61706
    assert isinstance(model.tanh1, nn.Tanh) and isinstance(model.pool1, nn.AvgPool2d)


@pytest.mark.parametrize("size", [16, 31, 64])
def test_lenet5_refuses_other_input_sizes(size):
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        lenet5_spec(input_size=size)


def test_lenet5_forward_gives_logits_per_class():
    assert lenet5(seed=0)(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


# --- TinyVGG (CNN Explainer, Wang et al. 2020) -------------------------------------------------

def test_tiny_vgg_has_19920_parameters():
    # 64x64x3 input, 10 filters 3x3, 10 classes.
    # conv1 3*10*9+10 = 280; conv2..conv4 10*10*9+10 = 910 each (2730);
    # sizes 64 -> 62 -> 60 -> pool 30 -> 28 -> 26 -> pool 13; flatten 10*13*13 = 1690;
    # fc1 1690*10+10 = 16910. Total 280 + 2730 + 16910 = 19920.
    model = tiny_vgg()
    assert count_parameters(model) == 280 + 3 * 910 + 16910 == 19920
    rows = model_summary(model, (3, 64, 64))
    assert [(r.name, r.output_shape, r.params) for r in rows if r.kind != "ReLU"] == [
        ("conv1", (10, 62, 62), 280), ("conv2", (10, 60, 60), 910), ("pool2", (10, 30, 30), 0),
        ("conv3", (10, 28, 28), 910), ("conv4", (10, 26, 26), 910), ("pool4", (10, 13, 13), 0),
        ("flatten", (1690,), 0), ("fc1", (10,), 16910),
    ]


def test_tiny_vgg_on_grey_32x32_shapes():
    # 32 -> 30 -> 28 -> 14 -> 12 -> 10 -> 5; fc1 10*5*5*6+6 = 1506; convs 1*10*9+10 = 100 + 3*910.
    model = tiny_vgg(in_channels=1, input_size=32, num_classes=6)
    assert model.spec.feature_size() == 5
    assert count_parameters(model) == 100 + 2730 + 1506


# --- output sizes: stride, padding, dilation, batch norm, pooling ------------------------------

def test_feature_size_matches_formula_on_a_hand_example():
    # n = 11, k = 3, stride 2, padding 1, dilation 2: floor((11 + 2 - 2*2 - 1) / 2) + 1 = floor(8/2) + 1 = 5;
    # avg pool 2: floor((5 - 2) / 2) + 1 = 2.
    spec = CNNSpec("hand", 1, 11, (ConvSpec(4, 3, stride=2, padding=1, dilation=2, batch_norm=True, pool="avg"),),
                   num_classes=3)
    assert conv_out(11, 3, 2, 1, 2) == 5
    assert spec.feature_size() == 2
    model = build_model(spec)
    rows = {r.name: r for r in model_summary(model, (1, 11, 11))}
    assert rows["conv1"].output_shape == (4, 5, 5)
    assert rows["conv1"].params == 4 * 1 * 9       # no bias before batch norm
    assert rows["bn1"].kind == "BatchNorm2d" and rows["bn1"].params == 2 * 4  # weight and bias
    assert rows["pool1"].kind == "AvgPool2d" and rows["pool1"].output_shape == (4, 2, 2)
    assert rows["fc1"].params == 4 * 2 * 2 * 3 + 3


def test_dilation_widens_the_kernel():
    # A 3x3 kernel with dilation 3 spans 7 pixels: 10 - 7 + 1 = 4.
    spec = CNNSpec("d", 1, 10, (ConvSpec(1, 3, dilation=3),), num_classes=2)
    assert spec.feature_size() == 4
    assert build_model(spec)(torch.zeros(1, 1, 10, 10)).shape == (1, 2)


@pytest.mark.parametrize("padding_mode", ["zeros", "circular", "reflect", "replicate"])
def test_padding_modes_keep_the_size(padding_mode):
    spec = CNNSpec("p", 2, 9, (ConvSpec(3, 3, padding=1),), num_classes=4, padding_mode=padding_mode)
    model = build_model(spec)
    assert model.conv1.padding_mode == padding_mode
    assert {r.name: r.output_shape for r in model_summary(model, (2, 9, 9))}["conv1"] == (3, 9, 9)


def test_hidden_layers_and_activation_names():
    spec = CNNSpec("h", 1, 6, (ConvSpec(2, 3),), hidden=(5, 4), num_classes=3, activation="sigmoid")
    model = build_model(spec)
    names = [name for name, _ in model.named_children()]
    assert names == ["conv1", "sigmoid1", "flatten", "fc1", "sigmoid_fc1", "fc2", "sigmoid_fc2", "fc3"]
    # fc1 2*4*4*5+5 = 165, fc2 5*4+4 = 24, fc3 4*3+3 = 15, conv1 1*2*9+2 = 20
    assert count_parameters(model) == 20 + 165 + 24 + 15
    assert isinstance(model, CNN) and model.spec is spec


def test_too_small_input_raises_a_clear_value_error():
    # 8 -> 5x5 conv -> 4 -> pool 2 -> 5x5 conv on 2 pixels: nothing left.
    with pytest.raises(ValueError, match=r"8x8 input is too small: block 2 of Small"):
        CNNSpec("Small", 1, 8, (ConvSpec(6, 5, pool="max"), ConvSpec(16, 5, pool="max")))


def test_pool_on_a_single_pixel_is_too_small():
    with pytest.raises(ValueError, match="block 1"):
        CNNSpec("s", 1, 3, (ConvSpec(1, 3, pool="max"),))  # 3 -> 1 -> pool 2 -> 0


@FUZZ
@given(size=st.integers(1, 24), blocks=st.lists(st.tuples(
    st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3),
    st.sampled_from([None, "max", "avg"]), st.integers(1, 3)), min_size=1, max_size=3))
def test_feature_size_agrees_with_pytorch(size, blocks):
    """feature_size equals what a hand-built torch stack gives, and raises exactly when torch fails."""
    convs = tuple(ConvSpec(2, k, stride=s, padding=min(p, k // 2), dilation=d, pool=pool, pool_size=ps)
                  for k, s, p, d, pool, ps in blocks)
    layers = []
    for c in convs:
        layers.append(nn.Conv2d(layers and 2 or 1, 2, c.kernel_size, stride=c.stride, padding=c.padding,
                                dilation=c.dilation))
        if c.pool:
            layers.append(nn.MaxPool2d(c.pool_size) if c.pool == "max" else nn.AvgPool2d(c.pool_size))
    try:
        expected = nn.Sequential(*layers)(torch.zeros(1, 1, size, size)).shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError, match="too small"):
            CNNSpec("fuzz", 1, size, convs)
        return
    spec = CNNSpec("fuzz", 1, size, convs)
    assert spec.feature_size() == expected
    assert build_model(spec)(torch.zeros(2, 1, size, size)).shape == (2, 10)


@pytest.mark.parametrize("bad", [
    pytest.param(dict(activation="gelu"), id="unknown-activation"),
    pytest.param(dict(stride=0), id="stride-0"),
    pytest.param(dict(pool_size=0), id="pool-size-0"),
    pytest.param(dict(pool="median"), id="unknown-pool"),
    pytest.param(dict(padding_mode="mirror"), id="unknown-padding-mode"),
    pytest.param(dict(out_channels=-1), id="negative-channels"),
])
def test_invalid_spec_is_refused_or_builds_a_working_model(bad):
    """An invalid spec (e.g. from a damaged model file) is refused with one of the errors that
    cnnviz.models.files turns into a ModelLoadError (ValueError, TypeError, RuntimeError); if it is not
    refused, the model it builds must run on an input of the spec's size."""
    conv = {"out_channels": 2, "kernel_size": 3, "pool": "max"}
    top = {"activation": "relu", "padding_mode": "zeros"}
    for key, value in bad.items():
        (top if key in top else conv)[key] = value
    try:
        model = build_model(CNNSpec("bad", 1, 8, (ConvSpec(**conv),), num_classes=3, **top))
    except (ValueError, TypeError, RuntimeError):
        return
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 3)


# --- specs as data: JSON, hashing, seeds -------------------------------------------------------

def test_spec_round_trips_through_json_and_is_hashable():
    spec = CNNSpec("rt", 3, 20, (ConvSpec(4, 5, stride=2, padding=2, dilation=1, batch_norm=True, pool="avg",
                                          pool_size=3), ConvSpec(6, 3)),
                   hidden=(7,), num_classes=4, activation="tanh", padding_mode="reflect")
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["kind"] == "cnn"
    back = spec_from_dict(data)
    assert back == spec and hash(back) == hash(spec)
    assert isinstance(back.convs, tuple) and isinstance(back.hidden, tuple)
    assert {spec: 1}[back] == 1


def test_zoo_specs_round_trip():
    for make in ARCHITECTURES.values():
        spec = make(in_channels=1, input_size=28, num_classes=10)
        assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("kind", [None, "resnet", "textcnn"])
def test_spec_from_dict_refuses_other_kinds(kind):
    data = lenet5_spec().to_dict()
    data["kind"] = kind
    with pytest.raises(ValueError, match="unknown model kind"):
        spec_from_dict(data)


def test_spec_from_dict_refuses_unknown_fields():
    data = lenet5_spec().to_dict()
    data["convs"][0]["groups"] = 2
    with pytest.raises(TypeError):
        spec_from_dict(data)


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b = lenet5(seed=7), lenet5(seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    c = lenet5(seed=8)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_unseeded_builds_differ():
    assert not torch.equal(lenet5().conv1.weight, lenet5().conv1.weight)


def test_architecture_spec():
    spec = architecture_spec("tiny_vgg", in_channels=1, input_size=28, num_classes=10)
    assert spec == tiny_vgg_spec(in_channels=1, input_size=28, num_classes=10)
    assert set(ARCHITECTURES) == {"lenet5", "tiny_vgg"}
    with pytest.raises(ValueError, match="Unknown architecture 'resnet'.*lenet5, tiny_vgg"):
        architecture_spec("resnet", in_channels=1, input_size=28, num_classes=10)
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        architecture_spec("lenet5", in_channels=1, input_size=8, num_classes=10)


# --- summary and counting ----------------------------------------------------------------------

def test_count_parameters_counts_only_trainable():
    model = lenet5()
    model.fc3.requires_grad_(False)
    assert count_parameters(model) == 61706 - 850


# --- bounds on what a spec from a file may ask for (issue 13) ------------------------------------

def test_hidden_layers_are_capped_like_conv_blocks():
    CNNSpec("ok", 1, 4, (ConvSpec(1, 1),), hidden=(2,) * 16, num_classes=2)
    with pytest.raises(ValueError, match="at most 16 hidden layers"):
        CNNSpec("deep", 1, 4, (ConvSpec(1, 1),), hidden=(2,) * 17, num_classes=2)
    with pytest.raises(ValueError, match="tuple of at most 16 hidden layers"):
        CNNSpec("list", 1, 4, (ConvSpec(1, 1),), hidden=[2, 2], num_classes=2)  # a list is not hashable


def test_from_dict_refuses_thousands_of_layers_before_reading_them():
    data = CNNSpec("x", 1, 4, (ConvSpec(1, 1),), num_classes=2).to_dict()
    with pytest.raises(ValueError, match="at most 16 hidden layers, not 30000"):
        CNNSpec.from_dict({**data, "hidden": [2] * 30_000})
    with pytest.raises(ValueError, match="1 to 64 convolution blocks, not 5000"):
        CNNSpec.from_dict({**data, "convs": [{"out_channels": 1, "kernel_size": 1}] * 5000})


@pytest.mark.parametrize("mode, padding, ok", [
    ("reflect", 8, False), ("reflect", 7, True), ("circular", 9, False), ("circular", 8, True),
    ("replicate", 20, True), ("zeros", 20, True),
])
def test_padding_that_pytorch_refuses_at_run_time_is_refused_by_the_spec(mode, padding, ok):
    """PyTorch: reflect padding must be smaller than the map, circular at most as large."""
    def make():
        return CNNSpec("p", 1, 8, (ConvSpec(2, 3, padding=padding),), num_classes=2, padding_mode=mode)
    if not ok:
        with pytest.raises(ValueError, match=f"pads a 8x8 map by {padding} with {mode} padding"):
            make()
        return
    spec = make()
    assert build_model(spec)(torch.zeros(1, 1, 8, 8)).shape == (1, 2)


def test_padding_is_checked_against_the_map_each_block_sees():
    # 16 -> conv 3x3 -> 14 -> pool 2 -> 7: a second block may reflect-pad by 6, not by 7.
    first = ConvSpec(2, 3, pool="max")
    CNNSpec("r", 1, 16, (first, ConvSpec(2, 3, padding=6)), num_classes=2, padding_mode="reflect")
    with pytest.raises(ValueError, match="block 2 of r pads a 7x7 map by 7"):
        CNNSpec("r", 1, 16, (first, ConvSpec(2, 3, padding=7)), num_classes=2, padding_mode="reflect")
