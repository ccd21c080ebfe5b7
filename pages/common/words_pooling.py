"""The Pooling page's words that numbers decide (the rest: `t("pooling. ...")`)."""

from __future__ import annotations

import numpy as np

from cnnviz import PoolResult
from pages.common.i18n import t


def winner_sentence(result: PoolResult) -> str:
    """What the dots mean, what a shift does to a max, and how many windows are ties: the count decides."""
    windows = int(np.prod(result.output.shape))
    ties = "" if result.ties == 0 else t("pooling.notes.ties", ties=result.ties, windows=windows)
    return t("pooling.notes.winner", ties=ties)
