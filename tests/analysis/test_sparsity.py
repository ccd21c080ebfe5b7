"""cnnviz.analysis.sparsity: 1-D wiring counted by hand (Goodfellow et al. 2016, 9.2) and per-layer parameter counts."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.analysis.sparsity import Connectivity, LayerParameterCount, connectivity, layer_parameter_counts
from cnnviz.models.cnn import lenet5, tiny_vgg

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None)


def inputs_per_output(conn: Connectivity) -> list[int]:
    return np.bincount(conn.conv_edges[:, 0], minlength=conn.n_outputs).tolist()


def outputs_per_input(conn: Connectivity) -> list[int]:
    return np.bincount(conn.conv_edges[:, 1], minlength=conn.n_inputs).tolist()


# --- connectivity ------------------------------------------------------------------------------

def test_the_lesson_default_n_8_k_3():
    """The counts the lesson's step 1 quotes: n = 8 inputs, k = 3, stride 1, no padding."""
    conn = connectivity(8, 3)
    assert conn.n_outputs == 6                                   # (8 - 3) // 1 + 1
    assert conn.dense_connections == conn.dense_weights == 48    # m·n = 6 * 8
    assert conn.conv_connections == conn.input_connections == 18  # k·m = 3 * 6, none on padding
    assert conn.conv_weights == 3 and conn.locally_connected_weights == 18 and conn.padding_connections == 0


def test_five_inputs_kernel_three():
    # (5 - 3) // 1 + 1 = 3 outputs; output j sees inputs j, j+1, j+2 with weights 0, 1, 2.
    conn = connectivity(5, 3)
    assert (conn.n_inputs, conn.n_outputs, conn.kernel_size, conn.stride, conn.padding) == (5, 3, 3, 1, 0)
    assert conn.conv_edges.tolist() == [[0, 0, 0], [0, 1, 1], [0, 2, 2],
                                        [1, 1, 0], [1, 2, 1], [1, 3, 2],
                                        [2, 2, 0], [2, 3, 1], [2, 4, 2]]
    assert conn.conv_edges.dtype == np.int64
    assert conn.dense_weights == 15        # 5 * 3
    assert conn.conv_connections == 9      # 3 outputs * 3 inputs
    assert conn.conv_weights == 3          # one shared kernel
    assert conn.locally_connected_weights == 9
    assert outputs_per_input(conn) == [1, 2, 3, 2, 1]


def test_padding_one_keeps_the_size_and_the_border_outputs_see_two_inputs():
    # (5 + 2 - 3) // 1 + 1 = 5 outputs; 5 * 3 windows minus the 2 that fall on padding = 13 edges.
    conn = connectivity(5, 3, padding=1)
    assert conn.n_outputs == 5 and conn.input_connections == 13
    assert inputs_per_output(conn) == [2, 3, 3, 3, 2]
    edges = conn.conv_edges.tolist()
    assert edges[:2] == [[0, 0, 1], [0, 1, 2]]     # output 0: weight 0 is on the left padding
    assert edges[-2:] == [[4, 3, 0], [4, 4, 1]]    # output 4: weight 2 is on the right padding
    # k·m = 3 * 5 = 15 connections, 2 of them on padding: 13 reach the inputs (the lines drawn).
    assert conn.conv_connections == 15 and conn.padding_connections == 2 and conn.input_connections == 13
    assert conn.dense_weights == 25 and conn.conv_weights == 3 and conn.locally_connected_weights == 15


def test_stride_two_overlapping_windows():
    # n = 7, k = 3, s = 2: (7 - 3) // 2 + 1 = 3 outputs seeing inputs 0-2, 2-4, 4-6.
    conn = connectivity(7, 3, stride=2)
    assert conn.n_outputs == 3 and conn.conv_connections == 9 and conn.dense_weights == 21
    assert outputs_per_input(conn) == [1, 1, 2, 1, 2, 1, 1]
    assert conn.conv_edges[conn.conv_edges[:, 0] == 1, 1].tolist() == [2, 3, 4]


def test_stride_equal_to_the_kernel_tiles_the_input():
    conn = connectivity(6, 2, stride=2)  # (6 - 2) // 2 + 1 = 3 outputs, each input used once
    assert conn.n_outputs == 3 and outputs_per_input(conn) == [1] * 6


def test_stride_two_with_padding_and_an_unused_input():
    # n = 8, k = 3, s = 2, p = 1: (8 + 2 - 3) // 2 + 1 = 4 outputs; output 0 sees -1, 0, 1 -> 0, 1.
    conn = connectivity(8, 3, stride=2, padding=1)
    assert conn.n_outputs == 4 and inputs_per_output(conn) == [2, 3, 3, 3] and conn.input_connections == 11
    assert conn.conv_connections == 12 and conn.padding_connections == 1
    # n = 6, k = 3, s = 2: (6 - 3) // 2 + 1 = 2 outputs seeing 0-2 and 2-4; input 5 is never used.
    assert outputs_per_input(connectivity(6, 3, stride=2)) == [1, 1, 2, 1, 1, 0]


def test_padding_wider_than_the_kernel_leaves_outputs_that_see_only_padding():
    # n = 3, k = 2, p = 2: (3 + 4 - 2) + 1 = 6 outputs; windows start at -2..3.
    conn = connectivity(3, 2, padding=2)
    assert conn.n_outputs == 6 and inputs_per_output(conn) == [0, 1, 2, 2, 1, 0]


def test_kernel_of_one_is_the_identity_wiring():
    conn = connectivity(4, 1)
    assert conn.conv_edges.tolist() == [[0, 0, 0], [1, 1, 0], [2, 2, 0], [3, 3, 0]]
    assert conn.dense_weights == 16 and conn.conv_weights == 1


@FUZZ
@given(n=st.integers(1, 20), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3), seed=st.integers(0, 99))
def test_edges_compute_what_torch_conv1d_computes(n, k, s, p, seed):
    """y_j = sum of weight[w] * x[i] over the edges (j, i, w) is exactly F.conv1d with zero padding."""
    if n + 2 * p < k:
        with pytest.raises(ValueError, match="no output"):
            connectivity(n, k, stride=s, padding=p)
        return
    conn = connectivity(n, k, stride=s, padding=p)
    generator = torch.Generator().manual_seed(seed)
    x, weight = torch.randn(n, generator=generator, dtype=torch.float64), torch.randn(k, dtype=torch.float64)
    expected = F.conv1d(x.view(1, 1, n), weight.view(1, 1, k), stride=s, padding=p).view(-1).numpy()
    j, i, w = conn.conv_edges.T
    ours = np.zeros(conn.n_outputs)
    np.add.at(ours, j, weight.numpy()[w] * x.numpy()[i])
    assert conn.n_outputs == len(expected)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    assert len({(a, b) for a, b, _ in conn.conv_edges.tolist()}) == conn.input_connections  # no duplicates
    assert conn.conv_connections == k * conn.n_outputs and conn.dense_connections == conn.n_outputs * n
    assert conn.padding_connections == conn.conv_connections - conn.input_connections >= 0
    assert conn.padding_connections == 0 or p > 0


@pytest.mark.parametrize("args, kwargs, message", [
    ((5, 0), {}, "kernel_size must be a whole number of at least 1, not 0"),
    ((5, 3), {"stride": 0}, "stride must be a whole number of at least 1, not 0"),
    ((5, 3), {"padding": -1}, "padding must be a whole number of at least 0, not -1"),
    ((0, 1), {}, "n_inputs must be a whole number of at least 1, not 0"),
    ((5, 2.5), {}, "kernel_size must be a whole number"),
    ((5, True), {}, "kernel_size must be a whole number"),
    ((2, 5), {"padding": 1}, r"A kernel of 5 does not fit 2 inputs with padding 1 .*no output"),
])
def test_bad_arguments_raise_clear_value_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        connectivity(*args, **kwargs)


def test_the_smallest_fitting_input_has_one_output():
    assert connectivity(3, 5, padding=1).n_outputs == 1  # 3 + 2 = 5 = k


# --- layer_parameter_counts --------------------------------------------------------------------

def test_lenet5_counts_by_hand():
    rows = layer_parameter_counts(lenet5(seed=0), (1, 28, 28))
    assert rows == [
        LayerParameterCount(
            "conv1", (1, 28, 28), (6, 28, 28),
            conv=156,                  # 6*1*5*5 + 6 = 150 + 6
            locally_connected=122304,  # 28*28*(6*1*25) + 6*28*28 = 784*150 + 4704 = 117600 + 4704
            dense=3692640),            # (1*28*28)*(6*28*28) + 6*28*28 = 784*4704 + 4704 = 3687936 + 4704
        LayerParameterCount(
            "conv2", (6, 14, 14), (16, 10, 10),
            conv=2416,                 # 16*6*5*5 + 16 = 2400 + 16
            locally_connected=241600,  # 10*10*(16*6*25) + 16*10*10 = 100*2400 + 1600 = 240000 + 1600
            dense=1883200),            # (6*14*14)*(16*10*10) + 1600 = 1176*1600 + 1600 = 1881600 + 1600
    ]


def test_conv_counts_equal_the_modules_parameters():
    for model, shape in ((lenet5(seed=0), (1, 28, 28)), (tiny_vgg(seed=0), (3, 64, 64))):
        modules = dict(model.named_modules())
        rows = layer_parameter_counts(model, shape)
        assert [r.name for r in rows] == [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        for row in rows:
            assert row.conv == sum(p.numel() for p in modules[row.name].parameters()), row.name


def test_tiny_vgg_conv1_by_hand():
    row = layer_parameter_counts(tiny_vgg(seed=0), (3, 64, 64))[0]
    assert (row.input_shape, row.output_shape) == ((3, 64, 64), (10, 62, 62))
    assert row.conv == 280                    # 10*3*9 + 10
    assert row.locally_connected == 1076320  # 62*62*270 + 10*62*62 = 3844*270 + 38440 = 1037880 + 38440
    assert row.dense == 472389160            # 12288*38440 + 38440 = 472350720 + 38440


def test_groups_no_bias_stride_and_qualified_names():
    model = nn.Sequential(OrderedDict(block=nn.Sequential(
        nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False),   # (4, 5, 5) -> (6, 5, 5)
        nn.Conv2d(6, 3, (1, 3), stride=(1, 2)),                # (6, 5, 5) -> (3, 5, 2)
    )))
    first, second = layer_parameter_counts(model, (4, 5, 5))
    assert first == LayerParameterCount(
        "block.0", (4, 5, 5), (6, 5, 5),
        conv=108,                  # 6*(4/2)*3*3 = 108, no bias
        locally_connected=2700,    # 5*5*108, no bias per output either
        dense=15150)               # (4*25)*(6*25) + 150 = 15000 + 150
    assert second == LayerParameterCount(
        "block.1", (6, 5, 5), (3, 5, 2),
        conv=57,                   # 3*6*1*3 + 3 = 54 + 3
        locally_connected=570,     # 5*2*54 + 3*5*2 = 540 + 30
        dense=4530)                # (6*25)*(3*5*2) + 30 = 150*30 + 30 = 4500 + 30


def test_hooks_are_removed_and_training_flags_restored_also_on_error():
    model = lenet5(seed=0)
    model.train()
    model.relu1.eval()
    layer_parameter_counts(model, (1, 28, 28))
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training and model.conv1.training and not model.relu1.training
    with pytest.raises(RuntimeError):
        layer_parameter_counts(model, (2, 28, 28))  # conv1 expects one channel
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training and not model.relu1.training


def test_a_model_without_convolutions_has_no_rows():
    assert layer_parameter_counts(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (1, 2, 2)) == []
