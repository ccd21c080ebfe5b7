"""cnnviz.models.resnet: He et al. 2016's CIFAR ResNets and plain nets, counted, wired and initialised as
the paper says."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.models.cnn import count_parameters
from cnnviz.models.resnet import ResNetCIFAR, ResNetSpec, build_resnet, resnet_cifar, weighted_layers


@pytest.fixture(scope="module")
def resnet20():
    return resnet_cifar(20, seed=0)


def block_convs(model: ResNetCIFAR) -> list[nn.Conv2d]:
    return [m for name, m in model.named_modules() if name.startswith("stage") and isinstance(m, nn.Conv2d)]


# --- parameter counts ------------------------------------------------------------------------

@pytest.mark.parametrize(("depth", "parameters"), [
    (20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018), (110, 1_727_962),
])
def test_parameter_counts_match_he_et_al_table_6(depth, parameters):
    # Table 6 rounds these to 0.27M, 0.46M, 0.66M, 0.85M and 1.7M.
    assert count_parameters(resnet_cifar(depth)) == parameters


def test_resnet20_parameters_stage_by_stage(resnet20):
    # conv1 3*16*9 = 432 plus batch norm 2*16 = 32; stage 1: three blocks of 2 * (16*16*9 + 32) = 14,016;
    # stage 2: (16*32*9 + 64) + (32*32*9 + 64) + 2 blocks * 2 * (32*32*9 + 64) = 51,072;
    # stage 3: (32*64*9 + 128) + (64*64*9 + 128) + 2 * 2 * (64*64*9 + 128) = 203,520; fc 64*10 + 10 = 650.
    parts = (resnet20.conv1, resnet20.bn1, resnet20.stage1, resnet20.stage2, resnet20.stage3, resnet20.fc)
    assert [count_parameters(part) for part in parts] == [432, 32, 14_016, 51_072, 203_520, 650]
    assert 432 + 32 + 14_016 + 51_072 + 203_520 + 650 == 269_722


def test_plain_net_has_the_same_parameters_and_weights_but_other_outputs(resnet20):
    plain = resnet_cifar(20, residual=False, seed=0)
    assert count_parameters(plain) == 269_722
    residual_state, plain_state = resnet20.state_dict(), plain.state_dict()
    assert list(residual_state) == list(plain_state)
    assert all(torch.equal(residual_state[k], plain_state[k]) for k in residual_state)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    resnet20.eval()
    plain.eval()
    with torch.no_grad():
        assert not torch.allclose(resnet20(x), plain(x), atol=1e-3)


# --- structure ---------------------------------------------------------------------------------

def test_weighted_layers_are_the_6n_plus_2_layers_input_to_output(resnet20):
    names = [name for name, _ in weighted_layers(resnet20)]
    assert len(names) == 20 and names[0] == "conv1" and names[-1] == "fc"
    assert names[1:3] == ["stage1.0.conv1", "stage1.0.conv2"] and names[-2] == "stage3.2.conv2"
    assert [name for name, _ in weighted_layers(resnet_cifar(8, block="pre"))] == [
        "conv1", "stage1.0.conv1", "stage1.0.conv2", "stage2.0.conv1", "stage2.0.conv2",
        "stage3.0.conv1", "stage3.0.conv2", "fc"]


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("block", ["post", "pre"])
def test_output_is_one_logit_per_class(residual, block):
    model = resnet_cifar(8, residual=residual, block=block, num_classes=7, in_channels=1, seed=0)
    assert model(torch.randn(5, 1, 16, 16)).shape == (5, 7)
    assert model(torch.randn(2, 1, 7, 7)).shape == (2, 7)  # odd sizes: stride 2 and ::2 both give 4 then 2


def test_stages_halve_the_map_twice(resnet20):
    # 16x16 -> 16x16 (16 filters) -> 8x8 (32) -> 4x4 (64).
    with torch.no_grad():
        s1 = resnet20.stage1(resnet20.conv1(torch.randn(2, 3, 16, 16)))
        s2 = resnet20.stage2(s1)
        s3 = resnet20.stage3(s2)
    assert (s1.shape, s2.shape, s3.shape) == ((2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 4, 4))


def test_option_a_shortcut_subsamples_and_zero_pads_channels(resnet20):
    shortcut = resnet20.stage2[0].shortcut
    assert not list(shortcut.parameters())
    x = torch.arange(1.0, 1 + 2 * 16 * 4 * 4).reshape(2, 16, 4, 4)  # every value distinct and non-zero
    out = shortcut(x)
    assert out.shape == (2, 32, 2, 2)
    # 16 new channels: 8 zero channels in front, 8 behind; kept pixels are rows and columns 0 and 2.
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert out[0, 8, :, :].tolist() == [[1.0, 3.0], [9.0, 11.0]]
    assert (out[:, :8] == 0).all() and (out[:, 24:] == 0).all()
    assert isinstance(resnet20.stage1[0].shortcut, nn.Identity) and isinstance(resnet20.stage2[1].shortcut,
                                                                              nn.Identity)


def test_an_odd_channel_increase_puts_the_extra_zero_channel_behind():
    # width 0.3: 16*0.3 -> 5, 32*0.3 -> 10, 64*0.3 -> 19; 10 -> 19 pads 4 in front and 5 behind.
    model = resnet_cifar(8, width=0.3, seed=0)
    assert model.spec.stage_widths == (5, 10, 19)
    out = model.stage3[0].shortcut(torch.ones(1, 10, 2, 2))
    assert out[0, :, 0, 0].tolist() == [0.0] * 4 + [1.0] * 10 + [0.0] * 5
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_zeroed_pre_activation_blocks_are_the_identity():
    model = resnet_cifar(14, block="pre", batch_norm=False, seed=0)
    with torch.no_grad():
        for conv in block_convs(model):
            conv.weight.zero_()
            conv.bias.zero_()
    x = torch.randn(2, 16, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        s1 = model.stage1(x)
        s2 = model.stage2(s1)
        s3 = model.stage3(s2)
        logits = model(torch.ones(1, 3, 8, 8))
        features = model.conv1(torch.ones(1, 3, 8, 8))
    assert torch.equal(s1, x)
    assert torch.equal(s2, F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 8, 8)))
    assert torch.equal(s3, F.pad(x[:, :, ::4, ::4], (0, 0, 0, 0, 24, 24)))
    # The whole net: conv1, subsample to 2x2, pad to 64 channels, ReLU, average, fc.
    pooled = F.pad(features[:, :, ::4, ::4], (0, 0, 0, 0, 24, 24)).relu().mean(dim=(2, 3))
    torch.testing.assert_close(logits, model.fc(pooled))


def test_zeroed_blocks_pass_through_the_activation_post_and_give_nothing_plain():
    post = resnet_cifar(8, batch_norm=False, seed=0)
    plain = resnet_cifar(8, batch_norm=False, residual=False, block="pre", seed=0)
    with torch.no_grad():
        for conv in block_convs(post) + block_convs(plain):
            conv.weight.zero_()
            conv.bias.zero_()
        x = torch.tensor([-2.0, -0.5, 0.0, 3.0]).repeat(1, 16, 1, 1)  # (1, 16, 1, 4)
        assert post.stage1(x)[0, 0, 0].tolist() == [0.0, 0.0, 0.0, 3.0]  # relu(0 + x)
        assert (plain.stage1(x) == 0).all()  # no shortcut: zero weights give zero


# --- validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [21, 7, 0, 2, 1208, True, "20", 20.0])
def test_depth_must_be_6n_plus_2(depth):
    with pytest.raises(ValueError, match="depth must be 6n \\+ 2"):
        resnet_cifar(depth)


@pytest.mark.parametrize(("options", "message"), [
    ({"width": 0}, "width must be"),
    ({"width": 9}, "width must be"),
    ({"width": "1"}, "width must be"),
    ({"activation": "gelu"}, "activation must be one of relu, tanh, sigmoid"),
    ({"init": "orthogonal"}, "init must be one of he, xavier, default"),
    ({"block": "mid"}, "block must be 'post' or 'pre'"),
    ({"in_channels": 0}, "in_channels must be"),
    ({"num_classes": 1.5}, "num_classes must be"),
])
def test_invalid_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        resnet_cifar(8, **options)
    with pytest.raises(ValueError, match=message):
        ResNetSpec(**options)


def test_the_deepest_valid_depths():
    assert ResNetSpec(8).blocks_per_stage == 1 and ResNetSpec(1202).blocks_per_stage == 200


# --- seeds and initialisation -------------------------------------------------------------------

def test_same_seed_same_weights_other_seed_other_weights(resnet20):
    again = resnet_cifar(20, seed=0).state_dict()
    other = resnet_cifar(20, seed=1).state_dict()
    state = resnet20.state_dict()
    assert all(torch.equal(state[k], again[k]) for k in state)
    assert not torch.equal(state["conv1.weight"], other["conv1.weight"])
    assert not torch.equal(state["stage3.2.conv2.weight"], other["stage3.2.conv2.weight"])


def test_a_seed_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(2), torch.rand(2)
    torch.manual_seed(123)
    first = torch.rand(2)
    resnet_cifar(8, seed=5)
    build_resnet(ResNetSpec(8, init="default"), seed=6)
    assert torch.equal(first, expected[0]) and torch.equal(torch.rand(2), expected[1])


def largest_conv(model: ResNetCIFAR) -> nn.Conv2d:
    return model.stage3[-1].conv2  # 64 x 64 x 3 x 3 = 36,864 weights, fan in and fan out 576


def std(tensor: torch.Tensor) -> float:
    return float(tensor.detach().std())


def test_he_init_has_std_sqrt_2_over_fan_in(resnet20):
    weight = largest_conv(resnet20).weight
    assert std(weight) == pytest.approx(math.sqrt(2 / 576), rel=0.05)  # 0.0589
    assert abs(float(weight.detach().mean())) < 0.002
    # conv1: fan in 3*9 = 27 (fan out 16*9 = 144 would give 0.118); only 432 weights, so 15%.
    assert std(resnet20.conv1.weight) == pytest.approx(math.sqrt(2 / 27), rel=0.15)  # 0.272
    assert largest_conv(resnet20).bias is None  # batch norm: no bias


def test_xavier_init_has_std_sqrt_2_over_fan_in_plus_fan_out():
    model = resnet_cifar(8, init="xavier", seed=0)
    assert std(largest_conv(model).weight) == pytest.approx(math.sqrt(2 / (576 + 576)), rel=0.05)  # 1/24
    # conv1: fan in 3*9 = 27, fan out 16*9 = 144 -> sqrt(2/171) = 0.108; only 432 weights, so 15%.
    assert std(model.conv1.weight) == pytest.approx(math.sqrt(2 / 171), rel=0.15)


def test_default_init_is_uniform_with_std_sqrt_1_over_3_fan_in():
    model = resnet_cifar(8, init="default", batch_norm=False, seed=0)
    weight = largest_conv(model).weight
    assert std(weight) == pytest.approx(math.sqrt(1 / (3 * 576)), rel=0.05)  # 0.0241
    assert float(weight.detach().abs().max()) <= 1 / 24  # uniform on +-1/sqrt(576)
    assert std(model.conv1.weight) == pytest.approx(math.sqrt(1 / (3 * 27)), rel=0.15)  # 0.111
    assert float(largest_conv(model).bias.detach().abs().sum()) > 0  # PyTorch's biases are not zero


@pytest.mark.parametrize("init", ["he", "xavier"])
def test_he_and_xavier_zero_every_bias_without_batch_norm(init):
    model = resnet_cifar(8, init=init, batch_norm=False, seed=0)
    biases = [module.bias for _, module in weighted_layers(model)]
    assert len(biases) == 8 and all(b is not None and (b == 0).all() for b in biases)
    assert float(model.conv1.weight.detach().abs().sum()) > 0


def test_batch_norm_leaves_convolutions_without_bias_but_fc_with_one(resnet20):
    layers = weighted_layers(resnet20)
    assert all(module.bias is None for _, module in layers[:-1]) and layers[-1][1].bias is not None


# --- the spec -------------------------------------------------------------------------------------

def test_spec_round_trips_through_json():
    spec = ResNetSpec(56, residual=False, width=0.5, activation="sigmoid", batch_norm=False, init="xavier",
                      block="pre", in_channels=1, num_classes=4)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["kind"] == "resnet_cifar" and data["depth"] == 56 and data["block"] == "pre"
    back = ResNetSpec.from_dict(data)
    assert back == spec and hash(back) == hash(spec)
    assert ResNetSpec.from_dict(ResNetSpec().to_dict()) == ResNetSpec()


def test_model_keeps_its_spec():
    spec = ResNetSpec(14, residual=False, in_channels=1)
    assert build_resnet(spec).spec is spec
    assert resnet_cifar(14, residual=False, in_channels=1).spec == spec


@pytest.mark.parametrize(("spec", "name"), [
    (ResNetSpec(), "ResNet-20"),
    (ResNetSpec(56, residual=False), "plain-56"),
    (ResNetSpec(56, residual=False, block="pre", activation="sigmoid", batch_norm=False),
     "plain-56 (pre-act, sigmoid, no BN)"),
    (ResNetSpec(110, width=0.5), "ResNet-110 (width 0.5)"),
    (ResNetSpec(20, activation="tanh", width=2), "ResNet-20 (tanh, width 2)"),
])
def test_spec_name(spec, name):
    assert spec.name == name
    assert spec.label == name.split(" ")[0]  # the label is kind and depth only


def test_width_multiplies_the_stage_widths():
    assert ResNetSpec().stage_widths == (16, 32, 64)
    assert ResNetSpec(width=2).stage_widths == (32, 64, 128)
    assert ResNetSpec(width=1 / 16).stage_widths == (1, 2, 4)
    half = resnet_cifar(8, width=0.5, seed=0)
    assert half.spec.stage_widths == (8, 16, 32)
    assert (half.conv1.out_channels, half.stage2[0].conv1.out_channels, half.fc.in_features) == (8, 16, 32)
    assert half(torch.randn(3, 3, 8, 8)).shape == (3, 10)
