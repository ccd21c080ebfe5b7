"""cnnviz.analysis.receptive_field: windows by hand (Araujo et al. 2019), against gradients, through residual paths.

Notation in the comments: per layer with kernel k, stride s, padding p, dilation d,
k' = d(k - 1) + 1, size += (k' - 1) * jump, start += ((k' - 1) / 2 - p) * jump,
jump *= s; the input has size 1, jump 1, start 0.
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnviz.analysis.effective_receptive_field import (
    effective_receptive_field,
)
from cnnviz.analysis.receptive_field import ReceptiveField, receptive_fields
from cnnviz.models.cnn import CNNSpec, ConvSpec, build_model, lenet5

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None)


def seq(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers))


def by_name(records):
    return {r.name: r for r in records}


def geometry(records, *names):
    """(size, jump, start) of each named record, sizes and jumps as single numbers when square."""
    table = by_name(records)
    out = []
    for name in names:
        r = table[name]
        assert r.size[0] == r.size[1] and r.jump[0] == r.jump[1] and r.start[0] == r.start[1], r
        out.append((r.size[0], r.jump[0], r.start[0]))
    return out


def constant_weights(model: nn.Module, value: float = 1.0) -> nn.Module:
    """Positive weights and zero biases: a linear model in which no gradient can cancel."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(value)
                if module.bias is not None:
                    module.bias.zero_()
    return model


def nonzero_extent(erf: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(erf.sum(axis=0))
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


# --- hand formula on small stacks --------------------------------------------------------------

def test_two_3x3_convolutions_see_3_then_5():
    # conv1: size 1 + 2*1 = 3, start 0 + (1 - 0)*1 = 1; conv2: size 3 + 2*1 = 5, start 1 + 1 = 2.
    model = seq(("conv1", nn.Conv2d(1, 2, 3)), ("conv2", nn.Conv2d(2, 2, 3)))
    records = receptive_fields(model, (1, 9, 9))
    assert [r.name for r in records] == ["input", "conv1", "conv2"]
    assert records[0] == ReceptiveField("input", "input", (1, 1), (1, 1), (0.0, 0.0), (1, 9, 9))
    assert geometry(records, "conv1", "conv2") == [(3, 1, 1.0), (5, 1, 2.0)]
    assert [r.output_shape for r in records[1:]] == [(2, 7, 7), (2, 5, 5)]


def test_a_stride_2_multiplies_the_growth_of_the_next_layer():
    # conv1 s2: size 3, jump 2, start 1; conv2: size 3 + 2*2 = 7, jump 2, start 1 + 1*2 = 3.
    model = seq(("conv1", nn.Conv2d(1, 1, 3, stride=2)), ("conv2", nn.Conv2d(1, 1, 3)))
    assert geometry(receptive_fields(model, (1, 11, 11)), "conv1", "conv2") == [(3, 2, 1.0), (7, 2, 3.0)]


def test_padding_moves_start_and_not_size():
    # conv 3x3 p1: start 0 + (1 - 1) = 0; conv 5x5 p1: start 0 + (2 - 1)*1 = 1, size 3 + 4 = 7;
    # conv 3x3 s2 p1: start 1 + (1 - 1)*1 = 1, size 7 + 2 = 9, jump 2.
    model = seq(("a", nn.Conv2d(1, 1, 3, padding=1)), ("b", nn.Conv2d(1, 1, 5, padding=1)),
                ("c", nn.Conv2d(1, 1, 3, stride=2, padding=1)))
    assert geometry(receptive_fields(model, (1, 12, 12)), "a", "b", "c") == [(3, 1, 0.0), (7, 1, 1.0), (9, 2, 1.0)]


@pytest.mark.parametrize("padding, start", [(0, 2.0), (2, 0.0)])
def test_dilation_2_makes_a_3x3_kernel_span_5(padding, start):
    # k' = 2*(3 - 1) + 1 = 5: size 5, start (5 - 1)/2 - p.
    model = seq(("conv", nn.Conv2d(1, 1, 3, dilation=2, padding=padding)))
    assert geometry(receptive_fields(model, (1, 9, 9)), "conv") == [(5, 1, start)]


def test_rows_and_columns_are_separate():
    # rows: k 3, s 1, p 0 -> size 3, jump 1, start 1; cols: k 5, s 2, p 2 -> size 5, jump 2, start 2 - 2 = 0.
    model = seq(("conv", nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(0, 2))))
    conv = by_name(receptive_fields(model, (1, 8, 10)))["conv"]
    assert (conv.size, conv.jump, conv.start, conv.output_shape) == ((3, 5), (1, 2), (1.0, 0.0), (1, 6, 5))


def test_pooling_stride_defaults_to_the_kernel_and_ceil_mode_changes_no_number():
    # max 3: size 3, jump 3, start 1; avg 2 stride 1: size 3 + 1*3 = 6, jump 3, start 1 + 0.5*3 = 2.5.
    def model(ceil):
        return seq(("max", nn.MaxPool2d(3, ceil_mode=ceil)), ("avg", nn.AvgPool2d(2, stride=1, ceil_mode=ceil)))
    floor, ceil = receptive_fields(model(False), (1, 10, 10)), receptive_fields(model(True), (1, 10, 10))
    assert geometry(floor, "max", "avg") == geometry(ceil, "max", "avg") == [(3, 3, 1.0), (6, 3, 2.5)]
    # 10 pixels: floor((10 - 3)/3) + 1 = 3 windows; with ceil_mode ceil(7/3) + 1 = 4, the last one partial.
    assert by_name(floor)["max"].output_shape == (1, 3, 3) and by_name(ceil)["max"].output_shape == (1, 4, 4)
    assert "ceil_mode" in by_name(ceil)["max"].note and by_name(floor)["max"].note == ""


def test_even_kernel_centres_between_pixels():
    # k 2: size 2, start (2 - 1)/2 = 0.5; unit (0, 0) sees rows 0..1, cols 0..1.
    conv = by_name(receptive_fields(seq(("conv", nn.Conv2d(1, 1, 2))), (1, 4, 4)))["conv"]
    assert (conv.size, conv.start) == ((2, 2), (0.5, 0.5))
    assert conv.box((0, 0), (4, 4)) == (0, 0, 1, 1) and conv.box((2, 1), (4, 4)) == (2, 1, 3, 2)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel, start", [(3, 0.0), (4, 0.5)])
def test_same_padding_puts_the_smaller_half_first(kernel, start):
    # 'same' with k 4: total padding 3, 1 before: start (4 - 1)/2 - 1 = 0.5; k 3: 1 - 1 = 0.
    model = constant_weights(seq(("conv", nn.Conv2d(1, 1, kernel, padding="same"))))
    conv = by_name(receptive_fields(model, (1, 6, 6)))["conv"]
    assert (conv.size[0], conv.start[0], conv.output_shape) == (kernel, start, (1, 6, 6))
    # Unit 2: centre 2 + start, half (k - 1)/2: k 3 -> rows 1..3; k 4 -> 2.5 -/+ 1.5 -> rows 1..4. Torch agrees:
    erf = effective_receptive_field(model, torch.ones(1, 6, 6), "conv", (2, 2))
    assert nonzero_extent(erf) == conv.box((2, 2), (6, 6)) == (1, 1, 1 + kernel - 1, 1 + kernel - 1)


class PadThenConv(nn.Module):
    """Pad 2 rows on top and 1 column on the left (functionally or with a layer), then a 3x3 conv."""

    def __init__(self, functional: bool):
        super().__init__()
        self.pad = None if functional else nn.ZeroPad2d((1, 0, 2, 0))  # (left, right, top, bottom)
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        x = F.pad(x, (1, 0, 2, 0)) if self.pad is None else self.pad(x)
        return self.conv(x)


@pytest.mark.parametrize("functional", [True, False])
def test_spatial_padding_moves_start(functional):
    # pad: index 0 is old row -2, col -1: start (-2, -1), size 1; conv 3: size 3, start (-2 + 1, -1 + 1) = (-1, 0).
    model = constant_weights(PadThenConv(functional))
    records = receptive_fields(model, (1, 6, 6))
    pad, conv = records[1], records[2]
    assert (pad.kind, pad.size, pad.start, pad.output_shape) == (
        "pad" if functional else "ZeroPad2d", (1, 1), (-2.0, -1.0), (1, 8, 7))
    assert (conv.size, conv.start) == ((3, 3), (-1.0, 0.0))
    # Unit (3, 3): centre (2, 3): rows 1..3, cols 2..4, as the gradient shows.
    erf = effective_receptive_field(model, torch.ones(1, 6, 6), "conv", (3, 3))
    assert nonzero_extent(erf) == conv.box((3, 3), (6, 6)) == (1, 2, 3, 4)


def test_circular_padding_is_flagged():
    conv = receptive_fields(seq(("conv", nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"))), (1, 5, 5))[1]
    assert conv.size == (3, 3) and "circular padding" in conv.note


def test_pointwise_layers_keep_their_parents_window():
    model = seq(("conv", nn.Conv2d(1, 2, 3, stride=2)), ("bn", nn.BatchNorm2d(2)), ("relu", nn.ReLU()),
                ("drop", nn.Dropout2d(0.5)), ("tanh", nn.Tanh()), ("sig", nn.Sigmoid()), ("id", nn.Identity()))
    records = receptive_fields(model, (1, 9, 9))
    assert [(r.kind, r.size, r.jump, r.start) for r in records[1:]] == [
        (kind, (3, 3), (2, 2), (1.0, 1.0)) for kind in
        ("Conv2d", "BatchNorm2d", "ReLU", "Dropout2d", "Tanh", "Sigmoid", "Identity")]


def test_functional_layers_are_read_from_their_arguments():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(2, 1, 3, 3))

        def forward(self, x):
            x = torch.relu(F.conv2d(x, self.weight, stride=2, padding=1))  # size 3, jump 2, start 0
            x = F.max_pool2d(x, 2)                    # size 3 + 1*2 = 5, jump 4, start 0 + 0.5*2 = 1
            x = F.avg_pool2d(x, x.size(3))            # kernel 3 (from the traced size): 5 + 2*4 = 13, start 1 + 1*4 = 5
            return x

    records = receptive_fields(Functional(), (1, 12, 12))
    assert [r.kind for r in records] == ["input", "conv2d", "relu", "max_pool2d", "avg_pool2d"]
    assert geometry(records, "conv2d", "max_pool2d", "avg_pool2d") == [(3, 2, 0.0), (5, 4, 1.0), (13, 12, 5.0)]
    assert records[-1].output_shape == (2, 1, 1)


# --- the analytic window equals the support of the input gradient ------------------------------

@pytest.mark.parametrize("layers, unit, box", [
    # (size, jump, start): conv 3 s2 (3, 2, 1), avg 2 (3 + 1*2 = 5, 4, 1 + 0.5*2 = 2),
    # conv 3 d2 (k' = 5: 5 + 4*4 = 21, 4, 2 + 2*4 = 10). Unit (1, 2): centre (14, 18), half 10.
    ([nn.Conv2d(1, 1, 3, stride=2), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, dilation=2)], (1, 2), (4, 8, 24, 28)),
    # conv 3 s2 p1 (3, 2, 0), then a 1x2 kernel: rows (3, 2, 0), cols (3 + 1*2 = 5, 2, 0 + 0.5*2 = 1).
    # Unit (3, 4): centre (6, 9): rows 5..7, cols 7..11.
    ([nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, (1, 2))], (3, 4), (5, 7, 7, 11)),
])
def test_hand_stacks_match_the_nonzero_gradient(layers, unit, box):
    model = constant_weights(nn.Sequential(*layers))
    record = receptive_fields(model, (1, 40, 40))[-1]
    assert record.box(unit, (40, 40)) == box
    erf = effective_receptive_field(model, torch.rand(1, 40, 40), str(len(layers) - 1), unit)
    assert nonzero_extent(erf) == box


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["conv", "avg"]), st.integers(1, 4), st.integers(1, 3),
                          st.integers(0, 2), st.integers(1, 2)), min_size=1, max_size=3))
def test_size_and_start_equal_the_extent_and_centre_of_the_gradient(spec):
    """For linear stacks with positive weights, the gradient of a unit is nonzero on exactly its window."""
    layers = []
    for kind, k, s, p, d in spec:
        if kind == "conv":
            layers.append(nn.Conv2d(1, 1, k, stride=s, padding=min(p, k // 2), dilation=d))
        else:
            layers.append(nn.AvgPool2d(k, stride=s, padding=min(p, k // 2)))
    model = constant_weights(nn.Sequential(*layers))
    side = 40
    try:
        record = receptive_fields(model, (1, side, side))[-1]
    except ValueError:
        assume(False)  # the input is too small for this stack
    rows, cols = record.output_shape[1:]
    unit = (rows // 2, cols // 2)
    first = [record.start[a] + unit[a] * record.jump[a] - (record.size[a] - 1) / 2 for a in range(2)]
    assume(all(0 <= f and f + record.size[a] <= side for a, f in enumerate(first)))  # window fully inside
    erf = effective_receptive_field(model, torch.ones(1, side, side), str(len(layers) - 1), unit)
    top, left, bottom, right = nonzero_extent(erf)
    assert (bottom - top + 1, right - left + 1) == record.size
    centre = ((top + bottom) / 2, (left + right) / 2)
    assert centre == (record.start[0] + unit[0] * record.jump[0], record.start[1] + unit[1] * record.jump[1])


# --- known networks ----------------------------------------------------------------------------

def test_vgg16_sees_196_at_conv5_3_and_212_at_pool5():
    """Araujo et al. 2019, table 1: VGG-16 has a 212-pixel receptive field (at pool5)."""
    blocks = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    convs = tuple(ConvSpec(width, 3, padding=1, pool="max" if i == n - 1 else None)
                  for width, n in blocks for i in range(n))
    # The window does not depend on the input size: 32 pixels (the smallest for 5 pools) is fast.
    model = build_model(CNNSpec("VGG-16", 3, 32, convs, num_classes=10), seed=0)
    records = receptive_fields(model, (3, 32, 32))
    table = by_name(records)
    conv_sizes = [table[f"conv{i}"].size[0] for i in range(1, 14)]
    # Each 3x3 conv adds 2*jump; each 2x2 pool adds 1*jump, then doubles the jump (1, 2, 4, 8, 16).
    assert conv_sizes == [3, 5, 10, 14, 24, 32, 40, 60, 76, 92, 132, 164, 196]
    pools = [table[f"pool{i}"] for i in (2, 4, 7, 10, 13)]
    assert [(p.size[0], p.jump[0]) for p in pools] == [(6, 2), (16, 4), (44, 8), (100, 16), (212, 32)]
    assert table["conv13"].jump == (16, 16) and table["conv13"].size == (196, 196)   # conv5_3
    assert table["pool13"].size == (212, 212) and table["pool13"].output_shape == (512, 1, 1)  # pool5


def test_lenet5_sizes_and_jumps():
    # conv1 5x5 p2: 5, start 0; pool1 2: 6, jump 2, start 0.5; conv2 5x5: 6 + 4*2 = 14, start 0.5 + 2*2 = 4.5;
    # pool2: 14 + 2 = 16, jump 4, start 4.5 + 0.5*2 = 5.5.
    records = receptive_fields(lenet5(), (1, 28, 28))
    assert geometry(records, "conv1", "pool1", "conv2", "pool2") == [
        (5, 1, 0.0), (6, 2, 0.5), (14, 2, 4.5), (16, 4, 5.5)]
    table = by_name(records)
    for name in ("flatten", "fc1", "relu_fc1", "fc2", "fc3"):
        assert table[name].size is table[name].jump is table[name].start is None
        assert table[name].note.startswith("global")
    assert table["fc3"].output_shape == (10,) and table["pool2"].output_shape == (16, 5, 5)


# --- multi-path networks -----------------------------------------------------------------------

class Residual(nn.Module):
    """conv3 p1 -> relu -> conv3 p1, plus the identity."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class OptionA(nn.Module):
    """He et al. 2016's CIFAR ResNet downsampling block, option A: strided path + subsampled, zero-padded identity."""

    def __init__(self, offset: int = 0):
        super().__init__()
        self.stem = nn.Conv2d(2, 2, 3, padding=1)
        self.conv1 = nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.offset = offset

    def forward(self, x):
        x = self.stem(x)
        out = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.pad(x[:, :, self.offset::2, self.offset::2], (0, 0, 0, 0, 1, 1), "constant", 0)
        return F.relu(out + shortcut)


def test_aligned_residual_block_takes_the_larger_window():
    # path: 3, then 5 (start 0 + 0); identity: 1 (start 0). Same jump and start: max(5, 1) = 5.
    records = receptive_fields(Residual(), (2, 8, 8))
    assert [r.name for r in records] == ["input", "conv1", "relu", "conv2", "add", "relu_1"]
    assert geometry(records, "conv2", "add", "relu_1") == [(5, 1, 0.0), (5, 1, 0.0), (5, 1, 0.0)]


def test_option_a_shortcut_lines_up_with_the_strided_path():
    # stem 3x3 p1: 3, jump 1, start 0.
    # path: conv 3x3 s2 p1: 3 + 2*1 = 5, jump 2, start 0 + (1 - 1)*1 = 0; conv 3x3 p1: 5 + 2*2 = 9, start 0.
    # identity x[:, :, ::2, ::2]: size 3, jump 1*2 = 2, start 0 + 0*1 = 0; the channel pad is pointwise.
    # Same jump (2) and start (0): the add sees max(9, 3) = 9.
    records = receptive_fields(OptionA(), (2, 8, 8))
    assert geometry(records, "getitem", "pad", "conv2", "add") == [(3, 2, 0.0), (3, 2, 0.0), (9, 2, 0.0), (9, 2, 0.0)]
    table = by_name(records)
    assert table["pad"].output_shape == (4, 4, 4) and table["add"].output_shape == (4, 4, 4)


def test_an_offset_shortcut_does_not_line_up_and_is_refused():
    # x[:, :, 1::2, 1::2]: start 0 + 1*1 = 1, while the strided path starts at 0: no single window.
    table = by_name(receptive_fields(OptionA(offset=1), (2, 8, 8)))
    assert table["getitem"].start == (1.0, 1.0) and table["getitem"].jump == (2, 2)
    add = table["add"]
    assert add.size is add.jump is add.start is None
    assert "paths with different alignment" in add.note
    assert "'conv2': jump (2, 2), start (0, 0)" in add.note and "'pad': jump (2, 2), start (1, 1)" in add.note
    assert table["relu_1"].size is None and "depends on 'add'" in table["relu_1"].note


class Cropped(nn.Module):
    """conv 3x3 without padding (8 -> 6) plus the identity cropped to 6x6 at `offset`."""

    def __init__(self, offset: int):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.offset = offset

    def forward(self, x):
        o = self.offset
        return torch.relu(self.conv(x) + x[:, :, o:o + 6, o:o + 6])


def test_a_top_left_crop_is_misaligned_and_everything_after_has_no_window():
    # conv: start 1; crop at 0: start 0, same shape 6x6 but shifted by one pixel.
    records = receptive_fields(Cropped(0), (1, 8, 8))
    table = by_name(records)
    assert table["add"].size is None and "paths with different alignment meet at add" in table["add"].note
    assert "start (1, 1)" in table["add"].note and "start (0, 0)" in table["add"].note
    assert table["relu"].size is None and table["relu"].note.startswith("depends on 'add'")


def test_a_centre_crop_is_aligned():
    # crop at 1: start 0 + 1*1 = 1 = the conv's start; max(3, 1) = 3.
    assert geometry(receptive_fields(Cropped(1), (1, 8, 8)), "getitem", "add") == [(1, 1, 1.0), (3, 1, 1.0)]


class Concat(nn.Module):
    def __init__(self, dim: int, padding: int):
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3, padding=1)
        self.b = nn.Conv2d(1, 1, 5, padding=padding)
        self.dim = dim

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=self.dim)


def test_concatenation_along_channels():
    # a: 3, start 0; b 5x5 p2: 5, start 2 - 2 = 0 -> aligned, max 5.
    assert geometry(receptive_fields(Concat(1, 2), (1, 8, 8)), "cat") == [(5, 1, 0.0)]
    # Side by side along the columns: the left and right halves have different windows.
    table = by_name(receptive_fields(Concat(3, 2), (1, 8, 8)))
    assert table["cat"].size is None and "along dimension 3" in table["cat"].note


class Rolled(nn.Module):
    def forward(self, x):
        return torch.roll(x, 1, dims=3)


def test_an_unknown_operation_stops_the_analysis_with_a_note():
    model = seq(("conv1", nn.Conv2d(1, 1, 3)), ("roll", Rolled()), ("conv2", nn.Conv2d(1, 1, 3)),
                ("relu", nn.ReLU()))
    records = receptive_fields(model, (1, 10, 10))
    assert [r.name for r in records] == ["input", "conv1", "roll", "conv2", "relu"]
    assert records[1].size == (3, 3)
    roll = records[2]
    assert roll.kind == "roll" and roll.size is None and "unknown operation roll" in roll.note
    for later in records[3:]:
        assert later.size is later.jump is later.start is None
        assert later.note.startswith("depends on 'roll'")
    assert records[-1].output_shape == (1, 6, 6)


def test_an_unknown_torch_layer_and_interpolate_are_not_guessed():
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2)

    upsample = receptive_fields(seq(("up", nn.Upsample(scale_factor=2)), ("conv", nn.Conv2d(1, 1, 3))), (1, 4, 4))
    assert upsample[1].size is None and "unknown layer Upsample ('up')" in upsample[1].note
    assert upsample[2].size is None
    interpolated = receptive_fields(seq(("up", Up())), (1, 4, 4))
    assert interpolated[1].kind == "interpolate" and interpolated[1].size is None


def test_global_pooling_and_means_see_everything():
    class MeanHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            return self.conv(x).mean((2, 3))

    pooled = by_name(receptive_fields(seq(("conv", nn.Conv2d(1, 2, 3)), ("gap", nn.AdaptiveAvgPool2d(1)),
                                          ("flat", nn.Flatten()), ("fc", nn.Linear(2, 3))), (1, 8, 8)))
    for name in ("gap", "flat", "fc"):
        assert pooled[name].size is None and pooled[name].note.startswith("global")
    mean = by_name(receptive_fields(MeanHead(), (1, 8, 8)))["mean"]
    assert mean.size is None and mean.note.startswith("global") and mean.output_shape == (2,)


def test_view_to_a_vector_is_global_and_a_leading_dims_view_is_not():
    class Views(nn.Module):
        def forward(self, x):
            x = x.view(x.size(0), 2, 1, 4, 4)   # regroups channels only: the 4x4 pixels stay where they are
            x = x.reshape(x.size(0), 2, 4, 4)
            return x.view(x.size(0), -1)

    records = receptive_fields(seq(("conv", nn.Conv2d(1, 2, 3)), ("views", Views())), (1, 6, 6))
    assert [(r.kind, r.size) for r in records[2:]] == [("view", (3, 3)), ("reshape", (3, 3)), ("view", None)]
    assert records[-1].note.startswith("global") and records[-1].output_shape == (32,)


def test_adaptive_pooling_to_an_even_split_is_an_ordinary_pooling():
    # 8 -> 2: kernel = stride = 4: size 4, jump 4, start 1.5; 8 -> 3 has uneven windows.
    assert geometry(receptive_fields(seq(("pool", nn.AdaptiveAvgPool2d(2))), (1, 8, 8)), "pool") == [(4, 4, 1.5)]
    uneven = receptive_fields(seq(("pool", nn.AdaptiveMaxPool2d(3))), (1, 8, 8))[1]
    assert uneven.size is None and "different sizes" in uneven.note


def test_untraceable_model_raises_a_value_error():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ValueError, match="torch.fx cannot trace Branchy"):
        receptive_fields(Branchy(), (1, 4, 4))


def test_bad_input_shapes_raise_value_errors():
    with pytest.raises(ValueError, match="does not run through"):
        receptive_fields(lenet5(), (1, 8, 8))  # too small for two 5x5 convolutions and two pools
    with pytest.raises(ValueError, match="channels, height, width"):
        receptive_fields(lenet5(), (28, 28))


def test_training_flags_are_restored():
    model = seq(("conv", nn.Conv2d(1, 2, 3)), ("bn", nn.BatchNorm2d(2)))
    model.train()
    receptive_fields(model, (1, 5, 5))  # a 3x3 map in training mode would still run; eval is used anyway
    assert model.training and model.bn.training
    model.eval()
    receptive_fields(model, (1, 5, 5))
    assert not model.training and not model.bn.training


class FunctionalBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.register_buffer("mean", torch.zeros(2))
        self.register_buffer("var", torch.ones(2))

    def forward(self, x):
        return F.batch_norm(self.conv(x), self.mean, self.var, training=self.training)


def test_a_model_in_training_mode_is_traced_in_eval_mode():
    # Traced in training mode, `training=self.training` would be baked in as True: batch statistics, global.
    model = FunctionalBatchNorm().train()
    bn = receptive_fields(model, (1, 5, 5))[-1]
    assert (bn.kind, bn.size, bn.note) == ("batch_norm", (3, 3), "")
    assert model.training


# --- box ---------------------------------------------------------------------------------------

def test_box_is_clipped_at_the_borders():
    table = by_name(receptive_fields(lenet5(), (1, 28, 28)))
    # conv1: centre 0, half 2: rows -2..2 -> 0..2.
    assert table["conv1"].box((0, 0), (28, 28)) == (0, 0, 2, 2)
    assert table["conv1"].box((27, 10), (28, 28)) == (25, 8, 27, 12)
    # conv2 (size 14, jump 2, start 4.5): unit 0 centre 4.5, rows 4.5 - 6.5 = -2 .. 11 -> 0..11;
    # unit 9: centre 4.5 + 18 = 22.5, rows 16..29 -> 16..27; unit 3: centre 10.5, rows 4..17.
    assert table["conv2"].box((0, 9), (28, 28)) == (0, 16, 11, 27)
    assert table["conv2"].box((3, 3), (28, 28)) == (4, 4, 17, 17)


def test_box_refuses_what_it_cannot_draw():
    table = by_name(receptive_fields(lenet5(), (1, 28, 28)))
    with pytest.raises(ValueError, match="no receptive field: global"):
        table["fc1"].box((0, 0), (28, 28))
    with pytest.raises(ValueError, match="outside the 10x10 map"):
        table["conv2"].box((10, 0), (28, 28))
    # A 1x1 convolution with padding 2: unit (0, 0) sees input pixel (-2, -2), all padding.
    pad = receptive_fields(seq(("conv", nn.Conv2d(1, 1, 1, padding=2))), (1, 4, 4))[1]
    assert pad.start == (-2.0, -2.0)
    with pytest.raises(ValueError, match="entirely in the padding"):
        pad.box((0, 0), (4, 4))
    assert pad.box((2, 3), (4, 4)) == (0, 1, 0, 1)


def test_box_takes_whole_floats_and_numpy_ints_as_a_chart_click_gives_them():
    conv1 = by_name(receptive_fields(lenet5(), (1, 28, 28)))["conv1"]
    assert conv1.box((27.0, np.int64(10)), (28, 28)) == conv1.box((27, 10), (28, 28)) == (25, 8, 27, 12)
    with pytest.raises(ValueError, match="whole numbers"):
        conv1.box((1.5, 2), (28, 28))


def test_plain_and_residual_nets_are_not_mixed_up_by_the_per_architecture_cache():
    from cnnviz import receptive_fields, resnet_cifar

    plain = receptive_fields(resnet_cifar(8, residual=False, in_channels=1), (1, 16, 16))
    residual = receptive_fields(resnet_cifar(8, residual=True, in_channels=1), (1, 16, 16))
    assert any(r.kind == "add" for r in residual) and not any(r.kind == "add" for r in plain)
    assert receptive_fields(resnet_cifar(8, residual=False, in_channels=1), (1, 16, 16)) == plain   # cached
