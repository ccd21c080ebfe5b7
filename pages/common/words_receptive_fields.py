"""The Receptive fields page's words: how the measured gradient spread reads, and the captions of the layer table."""

from __future__ import annotations

from cnnviz import GradientSpread

INTRO = ("Each unit of a convolutional layer sees only a window of the input: its receptive field. "
         "Stacking layers and pooling make the window grow.")
TABLE_NOTE = ("Size: the input window one unit sees (rows × columns). Jump: how many input pixels apart "
              "neighbouring units look (the product of the strides so far). Start: the input position of "
              "the centre of the first unit. After Araujo, Norris & Sim, Distill 2019.")
SPARSE_NOTE = ("n inputs, m outputs. A dense layer wires every input to every output: m·n connections, each with "
               "its own weight. A convolution wires each output to a window of k neighbouring inputs only: k·m "
               "connections, and all outputs share the same k weights.")
ERF_MODES = {"this input": "this input", "test images": "the mean over 32 test images",
             "random inputs": "the mean over 32 random inputs"}
# What the gradient's switched-off message says of the inputs of each mode.
ERF_INPUTS = {"this input": "this input", "test images": "every one of the 32 test images",
              "random inputs": "every one of the 32 random inputs"}
# How the ERF sentence reads the measured spread: share of the box that holds 95% of the gradient,
# and how far the peak lies from the box's centre (0 centre, 1 edge).
FILLS_MOST, CLEARLY_SMALLER, NEAR_CENTRE = 0.75, 0.5, 1 / 3


def _pixel(value: float) -> str:
    """A row or column, whole or (the mean of tied pixels) to one decimal."""
    return f"{value:.1f}".removesuffix(".0")


def erf_sentence(spread: GradientSpread) -> str:
    """The caption beside the effective receptive field, worded from what was measured for this unit."""
    text = f"{spread.mass:.0%} of the gradient inside the box lies on {spread.fraction:.0%} of its pixels: "
    if spread.fraction >= FILLS_MOST:
        text += "it fills most of the box, so for this unit the effective receptive field is about as large " \
                "as the theoretical one"
    elif spread.fraction >= CLEARLY_SMALLER:
        text += "the effective receptive field is somewhat smaller than the theoretical one"
    else:
        text += "the effective receptive field is clearly smaller than the theoretical one"
    central = spread.peak_offset is not None and spread.peak_offset <= NEAR_CENTRE
    if central:
        text += ", and the gradient peaks near the centre of the box."
    else:
        (row, col), (c_row, c_col) = spread.peak, spread.centre
        text += (f", and the gradient peaks off centre, at row {_pixel(row)}, column {_pixel(col)} (the box's "
                 f"centre is row {_pixel(c_row)}, column {_pixel(c_col)}).")
    if central and spread.fraction < CLEARLY_SMALLER:
        return text + " This is what Luo et al. (2016) found for deep networks: a small bump in the middle."
    return text + (" Luo et al. (2016) found a small bump in the middle of the box for deep networks, averaged "
                   "over many inputs; a shallow network, a single input or a unit at the border need not show it.")



def unit_sees(unit: tuple[int, int], layer: str, box: tuple[int, int, int, int],
              window: tuple[int, int] | None = None, input_size: int | None = None) -> str:
    """The heading over a unit's receptive field: which input rows and columns it sees; when its theoretical
    `window` is larger than the `input_size` side, it says so (the box is then clipped to the input)."""
    text = (f"**Unit ({unit[0]}, {unit[1]}) of {layer} sees input rows {box[0]}–{box[2]}, "
            f"columns {box[1]}–{box[3]}**")
    if window is not None and input_size is not None and max(window) > input_size:
        text += (f" (its theoretical window is {window[0]}×{window[1]}, larger than the {input_size}×{input_size} "
                 "input: the box below is clipped to the input, and the rest of the window falls on padding)")
    return text


def switched_off(mode: str) -> str:
    """No gradient reaches the input: the unit's ReLU is 0 for every input of `mode` (a key of ERF_MODES)."""
    # For a mean over many inputs, a zero gradient means the unit is off for each one of them.
    return (f"No gradient reaches the input: this unit is switched off for {ERF_INPUTS[mode]} (its ReLU gives 0, "
            "or a ReLU6 on its path is saturated at 6, which passes no gradient either). "
            "Pick another unit" + (", or average over many inputs." if mode == "this input" else " or channel."))


def padding_connections(padding: int, total: int, reaching: int) -> str:
    """How many of a convolution's connections fall on padding."""
    return (f"{padding} of the {total} connections fall on padding (open circles, a constant 0), so {reaching} "
            "lines reach the inputs.")
