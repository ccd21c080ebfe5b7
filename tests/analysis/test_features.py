"""cnnviz.analysis.features: feature maps equal a manual forward, hooks never leak, top images picked by hand."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.analysis.features import TopActivations, feature_maps, spatial_layers, top_activations
from cnnviz.analysis.summary import model_summary
from cnnviz.models.cnn import lenet5, tiny_vgg

LENET_ORDER = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
               "fc1", "relu_fc1", "fc2", "relu_fc2", "fc3"]


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


def identity_conv(out_weights=(1.0,)) -> nn.Conv2d:
    """A 1x1 convolution from one channel with the given weight per output channel and no bias."""
    conv = nn.Conv2d(1, len(out_weights), 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(out_weights).reshape(-1, 1, 1, 1))
    return conv


# --- feature_maps ------------------------------------------------------------------------------

def test_lenet5_maps_come_in_call_order_with_the_summary_shapes():
    model = lenet5(seed=0)
    maps = feature_maps(model, torch.randn(1, 28, 28))
    assert list(maps) == LENET_ORDER
    summary = {r.name: r.output_shape for r in model_summary(model, (1, 28, 28))}
    assert {name: value.shape for name, value in maps.items()} == summary
    assert maps["conv1"].shape == (6, 28, 28) and maps["pool2"].shape == (16, 5, 5)  # no batch axis
    assert all(value.dtype == np.float32 for value in maps.values())


def test_lenet5_maps_equal_a_manual_forward_through_the_sequential():
    model = lenet5(seed=0).eval()
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    maps = feature_maps(model, x)
    out = x
    with torch.no_grad():
        for name, layer in model.named_children():
            out = layer(out)
            np.testing.assert_array_equal(maps[name], out.numpy(), err_msg=name)
    assert maps["fc3"].shape == (3, 10)


def test_a_single_input_gives_the_row_of_the_batch():
    model = lenet5(seed=0)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    batch = feature_maps(model, x)
    single = feature_maps(model, x[2])
    for name in LENET_ORDER:
        assert single[name].shape == batch[name].shape[1:]
        np.testing.assert_allclose(single[name], batch[name][2], rtol=1e-5, atol=1e-6, err_msg=name)


def test_chosen_layers_are_returned_in_call_order():
    maps = feature_maps(lenet5(seed=0), torch.zeros(1, 28, 28), layers=["pool2", "conv1", "pool2"])
    assert list(maps) == ["conv1", "pool2"]


def test_a_block_that_is_not_a_leaf_can_be_named():
    model = nn.Sequential(OrderedDict(block=nn.Sequential(identity_conv((2.0,)), nn.ReLU()), flat=nn.Flatten()))
    x = torch.tensor([[[1.0, -3.0], [0.5, 4.0]]])  # (1, 2, 2)
    maps = feature_maps(model, x)
    assert list(maps) == ["block.0", "block.1", "flat"]  # leaves only
    np.testing.assert_array_equal(maps["block.0"], [[[2.0, -6.0], [1.0, 8.0]]])
    block = feature_maps(model, x, layers=["block"])
    np.testing.assert_array_equal(block["block"], [[[2.0, 0.0], [1.0, 8.0]]])  # 2x, then ReLU


def test_an_in_place_relu_does_not_change_the_recorded_conv_output():
    model = nn.Sequential(OrderedDict(conv=identity_conv(), relu=nn.ReLU(inplace=True)))
    maps = feature_maps(model, torch.tensor([[[-1.0, 2.0]]]))
    np.testing.assert_array_equal(maps["conv"], [[[-1.0, 2.0]]])  # without the copy: [[0, 2]]
    np.testing.assert_array_equal(maps["relu"], [[[0.0, 2.0]]])


class SharedReLU(nn.Module):
    """Calls one ReLU twice, as torchvision's BasicBlock does."""

    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.scale = identity_conv((-2.0,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.scale(self.relu(x)))


def test_a_module_called_twice_is_listed_once_with_its_last_output():
    x = torch.tensor([[[1.0, -1.0]]])
    maps = feature_maps(SharedReLU(), x)
    assert list(maps) == ["scale", "relu"]  # relu moves to its last call, after scale
    np.testing.assert_array_equal(maps["scale"], [[[-2.0, 0.0]]])  # -2 * relu([1, -1])
    np.testing.assert_array_equal(maps["relu"], [[[0.0, 0.0]]])
    assert spatial_layers(SharedReLU(), (1, 1, 2)) == ["scale", "relu"]


def test_runs_in_eval_mode_and_restores_every_training_flag():
    model = nn.Sequential(OrderedDict(conv=identity_conv(), bn=nn.BatchNorm2d(1), drop=nn.Dropout(0.5)))
    model.train()
    model.bn.eval()  # a frozen part of a model in training mode must stay frozen
    maps = feature_maps(model, torch.ones(8, 1, 3, 3))
    np.testing.assert_array_equal(maps["drop"], maps["bn"])  # dropout is off in eval mode
    assert torch.equal(model.bn.running_mean, torch.zeros(1))  # no statistics were updated
    assert model.training and model.conv.training and model.drop.training and not model.bn.training
    model.eval()
    feature_maps(model, torch.ones(1, 3, 3))
    assert not any(m.training for m in model.modules())


def test_hooks_are_removed_after_success_and_after_a_failing_forward():
    model = lenet5(seed=0)
    model.train()
    feature_maps(model, torch.zeros(1, 28, 28))
    assert no_hooks(model)
    with pytest.raises(RuntimeError):
        feature_maps(model, torch.zeros(3, 28, 28))  # three channels: conv1 fails
    assert no_hooks(model)
    assert all(m.training for m in model.modules())
    with pytest.raises(RuntimeError):
        feature_maps(model, torch.zeros(1, 16, 16), layers=["conv1", "fc1"])  # fc1 gets the wrong width
    assert no_hooks(model) and model.training


def test_unknown_layer_names_raise_a_value_error_listing_the_valid_ones():
    model = lenet5(seed=0)
    with pytest.raises(ValueError, match=r"Unknown layer 'conv3'.*conv1, relu1, pool1, conv2"):
        feature_maps(model, torch.zeros(1, 28, 28), layers=["conv1", "conv3"])
    with pytest.raises(ValueError, match="Unknown layer ''"):
        feature_maps(model, torch.zeros(1, 28, 28), layers=[""])
    assert no_hooks(model)


@pytest.mark.parametrize("shape", [(28, 28), (1, 1, 1, 28, 28)])
def test_inputs_must_be_3d_or_4d(shape):
    with pytest.raises(ValueError, match=r"\(C, H, W\) or a batch"):
        feature_maps(lenet5(seed=0), torch.zeros(shape))


def test_spatial_layers():
    assert spatial_layers(lenet5(seed=0), (1, 28, 28)) == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    names = spatial_layers(tiny_vgg(in_channels=1, input_size=32, seed=0), (1, 32, 32))
    assert names == ["conv1", "relu1", "conv2", "relu2", "pool2", "conv3", "relu3", "conv4", "relu4", "pool4"]


# --- top_activations ---------------------------------------------------------------------------

def placed_images() -> torch.Tensor:
    """Five 4x4 images, zero except where a maximum is placed by hand."""
    x = torch.zeros(5, 1, 4, 4)
    x[0, 0, 1, 2] = 3.0
    x[1, 0, 3, 0] = 7.0
    x[2, 0, 0, 0] = 3.0   # ties image 0
    x[3, 0, 2, 3] = 5.0
    x[4, 0, 2, 2] = -9.0  # the maximum of the negated image
    return x


def test_top_activations_pick_images_values_and_positions_placed_by_hand():
    model = nn.Sequential(OrderedDict(conv=identity_conv((1.0, -1.0))))  # channel 1 is the negated image
    top = top_activations(model, placed_images(), "conv", 0, k=4)
    assert isinstance(top, TopActivations)
    assert top.indices.tolist() == [1, 3, 0, 2]  # 7, 5, then the tie 3, 3 by index
    assert top.values.tolist() == [7.0, 5.0, 3.0, 3.0]
    assert top.positions.tolist() == [[3, 0], [2, 3], [1, 2], [0, 0]]
    negated = top_activations(model, placed_images(), "conv", 1, k=1)
    assert negated.indices.tolist() == [4] and negated.values.tolist() == [9.0]
    assert negated.positions.tolist() == [[2, 2]]


def test_ties_between_images_keep_the_lower_index_first_across_batches():
    model = nn.Sequential(OrderedDict(conv=identity_conv()))
    x = torch.zeros(6, 1, 3, 3)
    x[:, 0, 1, 1] = torch.tensor([1.0, 2.0, 2.0, 1.0, 2.0, 0.5])
    top = top_activations(model, x, "conv", 0, k=6, batch_size=4)
    assert top.indices.tolist() == [1, 2, 4, 0, 3, 5]
    assert top.values.tolist() == [2.0, 2.0, 2.0, 1.0, 1.0, 0.5]


def test_a_tie_inside_a_map_gives_the_first_unit_in_reading_order():
    model = nn.Sequential(OrderedDict(conv=identity_conv()))
    x = torch.zeros(1, 1, 3, 4)
    x[0, 0, 2, 0] = x[0, 0, 0, 3] = 4.0
    assert top_activations(model, x, "conv", 0).positions.tolist() == [[0, 3]]


def test_k_larger_than_the_batch_gives_every_image():
    model = nn.Sequential(OrderedDict(conv=identity_conv()))
    top = top_activations(model, placed_images(), "conv", 0, k=50)
    assert top.indices.tolist() == [1, 3, 0, 2, 4] and top.positions.shape == (5, 2)


def test_top_activations_agree_with_feature_maps_on_lenet5():
    model = lenet5(seed=0)
    x = torch.randn(20, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    top = top_activations(model, x, "conv2", 5, k=4, batch_size=3)  # batches of 3, the last of 2
    maps = feature_maps(model, x, layers=["conv2"])["conv2"][:, 5]   # (20, 10, 10)
    best = maps.reshape(20, -1).max(axis=1)
    assert top.indices.tolist() == np.argsort(-best, kind="stable")[:4].tolist()
    np.testing.assert_array_equal(top.values, best[top.indices])
    rows, cols = top.positions.T
    np.testing.assert_array_equal(maps[top.indices, rows, cols], top.values)
    assert no_hooks(model)


def test_top_activations_errors_leave_no_hooks():
    model = lenet5(seed=0)
    model.train()
    x = torch.zeros(2, 1, 28, 28)
    with pytest.raises(ValueError, match="Unknown layer 'conv7'"):
        top_activations(model, x, "conv7", 0)
    with pytest.raises(ValueError, match="channels 0 to 5, not 6"):
        top_activations(model, x, "conv1", 6)
    with pytest.raises(ValueError, match=r"does not output \(C, H, W\) maps"):
        top_activations(model, x, "fc1", 0)
    with pytest.raises(ValueError, match="batch"):
        top_activations(model, x[0], "conv1", 0)
    with pytest.raises(ValueError, match="at least 1"):
        top_activations(model, x, "conv1", 0, k=0)
    assert no_hooks(model) and model.training


def test_a_float64_model_takes_the_float32_inputs_preprocessing_gives():
    model = lenet5().double()
    x = torch.rand(2, 1, 28, 28)                                        # float32, as Preprocessing.apply makes
    maps = feature_maps(model, x, layers=["conv1"])["conv1"]
    with torch.no_grad():
        expected = model.conv1(x.double()).float().numpy()
    assert np.allclose(maps, expected, atol=1e-6)
    best = top_activations(model, x, "conv2", 0, k=1)
    assert best.indices.shape == (1,) and no_hooks(model)
    assert torch.rand(1).dtype == torch.float32 and next(model.parameters()).dtype == torch.float64


def test_first_convolution_skips_what_computes_nothing():
    from cnnviz import first_convolution

    padded = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(1, 2, 3), nn.ReLU())
    assert first_convolution(padded, ["0", "1", "2"]) == "1"          # not the padding: the convolution
    assert first_convolution(nn.Sequential(nn.ReLU()), ["0"]) == "0"  # no convolution: the first layer
    model = lenet5()
    assert first_convolution(model, spatial_layers(model, (1, 28, 28))) == "conv1"


def test_last_rectified_is_grad_cams_default_layer():
    from cnnviz import last_rectified

    model = lenet5()
    assert last_rectified(model, spatial_layers(model, (1, 28, 28))) == "relu2"   # conv1 relu1 pool1 conv2 relu2 pool2
    no_relu = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3), nn.MaxPool2d(2))
    assert last_rectified(no_relu, ["0", "1", "2"]) == "1"                      # the last convolution
    assert last_rectified(nn.Sequential(nn.MaxPool2d(2)), ["0"]) == "0"
    with pytest.raises(ValueError, match="no layers"):
        last_rectified(model, [])
