"""The Parameter sharing page's words that numbers decide: which region an error is measured on, and whether a
layer follows the shift (the rest: `t("parameter_sharing. ...")`)."""

from __future__ import annotations

import math

from cnnviz import EquivarianceView, LayerEquivariance
from pages.common.i18n import t

# Below this a relative error is float rounding (the figures say "≈0" below 1e-7, too).
ROUNDING = 1e-5


def region_sentence(chosen: LayerEquivariance, mode: str) -> str:
    """Which region the error is measured on, and what the edges outside it add: numbers decide the words."""
    if mode == "circular":
        return t("parameter_sharing.region.circular", compared=chosen.compared)
    if chosen.compared == 0:
        return t("parameter_sharing.region.none")
    inside = (t("parameter_sharing.region.exactly_zero") if chosen.error == 0
              else f"{chosen.error:.1e}" if chosen.error < ROUNDING else f"{chosen.error:.2f}")
    whole = chosen.full_error
    if math.isfinite(whole) and whole - chosen.error >= ROUNDING:
        edges = t("parameter_sharing.region.edges_add", whole=whole)
    elif math.isfinite(whole) and whole < ROUNDING:
        edges = (t("parameter_sharing.region.edges_zero") if whole == 0
                 else t("parameter_sharing.region.edges_tiny", whole=whole))
    else:
        edges = t("parameter_sharing.region.edges_same", whole=whole)
    return t("parameter_sharing.region.inside", compared=chosen.compared, inside=inside, edges=edges)


def verdict(chosen: LayerEquivariance, view: EquivarianceView, shift: tuple[int, int], mode: str) -> str:
    """Whether the chosen layer's map follows the image shift (`chosen.exact`: say it with st.success, else
    st.warning), and how closely, on the region the error is measured on."""
    where = t("parameter_sharing.verdict." + ("whole_map" if mode == "circular" else "in_box"))
    dy, dx = shift
    if chosen.exact:
        match = (t("parameter_sharing.verdict.match_zero") if chosen.error == 0
                 else t("parameter_sharing.verdict.match", error=chosen.error))
        return t("parameter_sharing.verdict.equivariant", layer=chosen.name, dy=dy, dx=dx, jump=chosen.jump,
                 map_shift=view.map_shift, match=match, where=where)
    return t("parameter_sharing.verdict.broken", layer=chosen.name, dy=dy, dx=dx, jump=chosen.jump,
             map_shift=chosen.map_shift, nearest=view.map_shift, error=chosen.error, where=where)
