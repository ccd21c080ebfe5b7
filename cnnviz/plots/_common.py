"""Layout helpers shared by the figures.

Tiles go on one grid so many small images are drawn as one trace (fast in a browser).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def montage(tiles: np.ndarray, columns: int, gap_x: int, gap_y: int) -> tuple[np.ndarray, np.ndarray]:
    """Tiles (n, h, w, ...) on a grid of `columns`, NaN between them.

    Returns the montage (rows*(h+gap_y)-gap_y, columns*(w+gap_x)-gap_x, ...) and each
    tile's (top, left) as an (n, 2) array.
    """
    n, height, width = tiles.shape[:3]
    rows = max(1, -(-n // columns))
    step_x, step_y = width + gap_x, height + gap_y
    grid = np.full((rows * step_y - gap_y, columns * step_x - gap_x, *tiles.shape[3:]), np.nan, dtype=np.float32)
    origins = np.array([((i // columns) * step_y, (i % columns) * step_x) for i in range(n)],
                       dtype=np.int64).reshape(n, 2)
    for tile, (top, left) in zip(tiles, origins, strict=True):
        grid[top:top + height, left:left + width] = tile
    return grid, origins


def unique_labels(names: Sequence[str]) -> list[str]:
    """Category labels must differ (plotly merges equal ones): a layer called twice gets ' (2)', ..."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return labels


def chosen_labels(defaults: Mapping[str, str], labels: Mapping[str, str] | None) -> dict[str, str]:
    """A figure's words: its English `defaults` with `labels` (e.g. another language's) over them.

    Each plot function that draws words has a public `<NAME>_LABELS` dict of English defaults
    and a `labels` argument taking the same keys (str.format templates where a value goes in).
    """
    unknown = set(labels or {}) - set(defaults)
    if unknown:
        raise ValueError(f"unknown figure labels {sorted(unknown)}; known: {sorted(defaults)}")
    return {**defaults, **(labels or {})}
