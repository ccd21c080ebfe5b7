"""The Receptive fields page's words built from numbers: how the measured gradient spread reads, which input a unit
sees, and the library's notes on layers in the session's language (the rest: `t("receptive_fields. ...")`)."""

from __future__ import annotations

import re

from cnnviz import GradientSpread
from pages.common.i18n import t

# The choices of "Gradient of" (language-neutral keys, also in links), shown as t("receptive_fields.erf.modes.<key>").
ERF_MODES = ("this input", "test images", "random inputs")
# How the ERF sentence reads the measured spread: share of the box that holds 95% of the gradient,
# and how far the peak lies from the box's centre (0 centre, 1 edge).
FILLS_MOST, CLEARLY_SMALLER, NEAR_CENTRE = 0.75, 0.5, 1 / 3


def erf_modes() -> dict[str, str]:
    """The words of each choice of "Gradient of"."""
    return {mode: t(f"receptive_fields.erf.modes.{mode}") for mode in ERF_MODES}


def _pixel(value: float) -> str:
    """A row or column, whole or (the mean of tied pixels) to one decimal."""
    return f"{value:.1f}".removesuffix(".0")


def erf_sentence(spread: GradientSpread) -> str:
    """The caption beside the effective receptive field, worded from what was measured for this unit."""
    text = t("receptive_fields.erf.share", mass=spread.mass, fraction=spread.fraction)
    if spread.fraction >= FILLS_MOST:
        text += t("receptive_fields.erf.fills")
    elif spread.fraction >= CLEARLY_SMALLER:
        text += t("receptive_fields.erf.somewhat")
    else:
        text += t("receptive_fields.erf.clearly")
    central = spread.peak_offset is not None and spread.peak_offset <= NEAR_CENTRE
    if central:
        text += t("receptive_fields.erf.central")
    else:
        (row, col), (c_row, c_col) = spread.peak, spread.centre
        text += t("receptive_fields.erf.off_centre", row=_pixel(row), col=_pixel(col), centre_row=_pixel(c_row),
                  centre_col=_pixel(c_col))
    if central and spread.fraction < CLEARLY_SMALLER:
        return text + t("receptive_fields.erf.luo_found")
    return text + t("receptive_fields.erf.luo_maybe")


def unit_sees(unit: tuple[int, int], layer: str, box: tuple[int, int, int, int],
              window: tuple[int, int] | None = None, input_size: int | None = None) -> str:
    """The heading over a unit's receptive field: which input rows and columns it sees; when its theoretical
    `window` is larger than the `input_size` side, it says so (the box is then clipped to the input)."""
    text = t("receptive_fields.unit.sees", row=unit[0], col=unit[1], layer=layer, top=box[0], bottom=box[2],
             left=box[1], right=box[3])
    if window is not None and input_size is not None and max(window) > input_size:
        text += t("receptive_fields.unit.clipped", rows=window[0], cols=window[1], size=input_size)
    return text


def switched_off(mode: str) -> str:
    """No gradient reaches the input: the unit's ReLU is 0 for every input of `mode` (one of ERF_MODES)."""
    # For a mean over many inputs, a zero gradient means the unit is off for each one of them.
    return t("receptive_fields.erf.off_one" if mode == "this input" else "receptive_fields.erf.off_many",
             inputs=t(f"receptive_fields.erf.inputs.{mode}"))


def padding_connections(padding: int, total: int, reaching: int) -> str:
    """How many of a convolution's connections fall on padding."""
    return t("receptive_fields.sparse_view.on_padding", padding=padding, total=total, reaching=reaching)


def no_output(n: int, k: int, p: int) -> str:
    """Why a kernel of k over n inputs, padded by p on each side, gives no output."""
    return t("receptive_fields.sparse_view.no_output", n=n, k=k, p=p, total=n + 2 * p)


# The notes cnnviz.receptive_fields gives (English, from cnnviz/analysis/graph_walker.py), read back into
# catalogue keys (the groups "what" and "note" are notes themselves; "kind" and "origin" are names).
_NOTES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), key) for pattern, key in (
    (r"global: after flatten every unit sees the whole input", "flatten"),
    (r"global: (?P<what>.+), so every unit sees the whole input", "global"),
    (r"pooling over the whole map", "whole_pooling"),
    (r"LayerNorm normalises over the whole map", "layer_norm"),
    (r"(?P<kind>\S+) normalises with statistics of the whole map", "statistics"),
    (r"(?P<kind>\S+) over the whole map", "whole_map"),
    (r"depends on (?P<origin>'[^']*'|\"[^\"]*\"), which has no receptive field \((?P<note>.*)\)", "depends"),
    (r"circular padding: units at the border also see pixels from the opposite side", "circular"),
    (r"ceil_mode: the last row/column of windows may hang over the edge; sizes are unchanged", "ceil_mode"),
))


def layer_note(note: str) -> str:
    """A layer's note from `receptive_fields` in the session's language; a note not known here stays as it is
    (cnnviz's own words, like its error messages)."""
    for pattern, key in _NOTES:
        found = pattern.fullmatch(note)
        if found:
            values = {name: layer_note(value) if name in ("what", "note") else value
                      for name, value in found.groupdict().items()}
            return t(f"receptive_fields.notes.{key}", **values)
    return note
