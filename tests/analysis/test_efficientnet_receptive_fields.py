"""Receptive fields of EfficientNet-Lite0: depthwise and 1x1 convolutions, ReLU6 and residual adds, by torch.fx.

The analytic windows of `receptive_fields` are checked against the pixels an input gradient reaches
(`effective_receptive_field` on a network whose gradients cannot cancel), and against a count by hand.
"""

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz import receptive_fields
from cnnviz.analysis.effective_receptive_field import effective_receptive_field
from cnnviz.models.efficientnet import EfficientNetLite, build_efficientnet_lite
from tests.analysis.test_receptive_field import nonzero_extent

SIDE = 224
# Side r, jump j (input pixels between neighbouring units) and start s (the input row of the centre of unit 0)
# of the output of blocks.0 .. blocks.15, by hand: r grows by (k - 1) * j at each k x k depthwise convolution
# (1x1 convolutions, batch norm, ReLU6 and the residual adds, whose two paths are aligned, add nothing) and j is
# multiplied by its stride. The strided convolutions pad TensorFlow's way, p = (k - 2) // 2 before (0 for 3x3,
# 1 for 5x5), so their centre moves on by ((k - 1) / 2 - p) * j: s = 1 after the stem, then 3, 7, 15 and 31.
#   stem 3x3 s2: r = 3, j = 2
#   block 0 3x3: 3 + 2*2 = 7                 block 1 3x3 s2: 7 + 2*2 = 11, j = 4
#   block 2 3x3: 11 + 2*4 = 19               block 3 5x5 s2: 19 + 4*4 = 35, j = 8
#   block 4 5x5: 35 + 4*8 = 67               block 5 3x3 s2: 67 + 2*8 = 83, j = 16
#   blocks 6, 7 3x3: 83 + 32 = 115, 147      blocks 8, 9, 10 5x5: 147 + 64 = 211, 275, 339
#   block 11 5x5 s2: 339 + 4*16 = 403, j = 32
#   blocks 12, 13, 14 5x5: 403 + 128 = 531, 659, 787
#   block 15 3x3: 787 + 2*32 = 851; the 1x1 head convolution adds nothing: the last conv sees 851 x 851.
BY_HAND = [(7, 2, 1), (11, 4, 3), (19, 4, 3), (35, 8, 7), (67, 8, 7), (83, 16, 15), (115, 16, 15), (147, 16, 15),
           (211, 16, 15), (275, 16, 15), (339, 16, 15), (403, 32, 31), (531, 32, 31), (659, 32, 31), (787, 32, 31),
           (851, 32, 31)]


def linearised(model: nn.Module) -> nn.Module:
    """Positive constant convolutions (each the mean of its inputs) and identity batch norms: no gradient can
    cancel or vanish, so a unit's input gradient is nonzero on exactly its receptive field as long as ReLU6
    stays in its linear range, 0 to 6. On an input of 1e-3 each of the 9 residual sums doubles the values:
    2**9 * 1e-3 = 0.5, far below 6."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
                module.reset_running_stats()
                module.eps = 0.0
    return model.eval()


def block_outputs(model: EfficientNetLite, records) -> list:
    """The record of each block's output (its projection's batch norm, or the residual add right after it)."""
    names = [r.name for r in records]
    outputs = []
    for i, block in enumerate(model.blocks):
        at = names.index(f"blocks.{i}.project.bn") + (1 if block.residual else 0)
        outputs.append(records[at])
    return outputs


@pytest.fixture(scope="module")
def model():
    return linearised(build_efficientnet_lite(seed=0))


@pytest.fixture(scope="module")
def records(model):
    return receptive_fields(model, (3, SIDE, SIDE))


def test_every_layer_up_to_the_pooling_has_a_window(records):
    spatial = records[:[r.name for r in records].index("pool")]
    assert all(r.size is not None for r in spatial), [(r.name, r.note) for r in spatial if r.size is None]
    assert {"ZeroPad2d", "Conv2d", "BatchNorm2d", "ReLU6", "add"} == {r.kind for r in spatial} - {"input"}
    assert [r.kind for r in spatial].count("add") == 9  # the blocks that keep stride 1 and their channels
    assert all(r.note.startswith("global") for r in records[len(spatial):])


def test_sizes_and_jumps_match_the_count_by_hand(model, records):
    outputs = block_outputs(model, records)
    assert [(r.size[0], r.jump[0], r.start[0]) for r in outputs] == BY_HAND
    assert all(r.size[0] == r.size[1] and r.jump[0] == r.jump[1] and r.start[0] == r.start[1] for r in outputs)
    head = next(r for r in records if r.name == "head.conv")
    assert (head.size, head.jump, head.output_shape) == ((851, 851), (32, 32), (1280, 7, 7))


def test_each_blocks_window_is_where_the_gradient_reaches(model, records):
    x = torch.full((3, SIDE, SIDE), 1e-3)
    for record in block_outputs(model, records):
        unit = (record.output_shape[1] // 2, record.output_shape[2] // 2)  # the centre: both edges are seen
        erf = effective_receptive_field(model, x, record.name, unit)
        assert nonzero_extent(erf) == record.box(unit, (SIDE, SIDE)), record.name
        assert np.all(erf >= 0)


def test_the_deep_windows_on_a_larger_input(model):
    # From block 8 on the window (211 and more) is clipped on both sides at 224: on a 480 x 480 input (its
    # maps are even wherever a stride 2 halves them, as at 224) the window of unit (0, 0) ends at
    # start + (size - 1) / 2, which checks the size itself (up to 31 + 425 = 456 for 851).
    side = 480
    records = receptive_fields(model, (3, side, side))
    x = torch.full((3, side, side), 1e-3)
    for record in block_outputs(model, records)[8:]:
        erf = effective_receptive_field(model, x, record.name, (0, 0))
        end = int(record.start[0]) + (record.size[0] - 1) // 2
        assert nonzero_extent(erf) == record.box((0, 0), (side, side)) == (0, 0, end, end), record.name
