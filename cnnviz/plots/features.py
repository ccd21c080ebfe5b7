"""Figures of what a CNN computes: feature maps, filters and class probabilities.

Maps and filters are drawn as one montage heatmap (tiles separated by NaN gaps),
which a browser draws far faster than a subplot per channel. Hover always shows
the raw numbers (from `customdata`), whatever the colours are scaled to.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import plotly.graph_objects as go

from cnnviz.plots._common import chosen_labels, unique_labels
from cnnviz.plots._common import montage as _montage
from cnnviz.safe_text import as_plotly_text

_FONT = 11


def _tile_customdata(shape: tuple[int, ...], origins: np.ndarray, tiles: np.ndarray,
                     labels: np.ndarray) -> np.ndarray:
    """Per montage cell: the tile's labels (e.g. channel), then row, col and raw value; NaN in the gaps."""
    _, height, width = tiles.shape
    data = np.full((*shape, labels.shape[1] + 3), np.nan, dtype=np.float32)
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    for i, (top, left) in enumerate(origins):
        cell = data[top:top + height, left:left + width]
        cell[..., :labels.shape[1]] = labels[i]
        cell[..., -3], cell[..., -2], cell[..., -1] = rows, cols, tiles[i]
    return data


def _square_pixels(fig: go.Figure) -> None:
    fig.update_xaxes(constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showgrid=False, zeroline=False)


# The words of the maps and filters figures (str.format templates; a hover's {channel}, {row}, {col}, {value} ...
# are the hovered cell's).
FEATURE_MAPS_LABELS = {
    "tile": "ch {channel}",
    "hover": "channel {channel}<br>row {row}, col {col}<br>value {value}",
    "block_hover": "channel {channel}<br>rows {row}+, cols {col}+<br>mean of {block}×{block} {value}",
    "colorbar": "value",
    "title": "{shown} feature maps of {height}×{width} ({subtitle})",
    "layer_scale": "one colour scale for the layer",
    "channel_scale": "each channel coloured from its min to max",
    "blocks": "each cell the mean of {block}×{block} values; {subtitle}",
    "subset": "first {shown} of {total} channels; {subtitle}",
}
FILTERS_LABELS = {
    "hover": "out {out}, in {input}<br>row {row}, col {col}<br>weight {value}",
    "colorbar": "weight",
    "input_tick": "in {index}",
    "output_tick": "out {index}",
    "title": "{filters} filters of {inputs}×{height}×{width}",
    "some_filters": "{title} (first {shown} filters shown)",
    "some_inputs": "{title} (first {shown_inputs} of {inputs} input channels shown)",
    "some_both": "{title} (first {shown} filters and first {shown_inputs} of {inputs} input channels shown)",
}
MAX_FEATURE_MAPS = 64  # tiles `plot_feature_maps` draws by default; a layer may have thousands of channels
# Cells of the montage a figure sends at most: the browser gets a value and hover data for each, and 64
# maps of 112x112 (an ImageNet network's early layer) made a 37 MB figure, wider than any screen. Past
# this, every map is shown as the means of f x f blocks (`display_block`).
MAX_MONTAGE_CELLS = 160_000


def display_block(channels: int, height: int, width: int, max_cells: int = MAX_MONTAGE_CELLS) -> int:
    """The side f of the blocks whose means `plot_feature_maps` draws: 1 (every value) unless `channels`
    maps of `height` x `width` have more than `max_cells` values, then the smallest f that fits."""
    block = 1
    while channels * -(-height // block) * -(-width // block) > max_cells:
        block += 1
    return block


def _block_means(maps: np.ndarray, block: int) -> np.ndarray:
    """(C, H, W) -> (C, ceil(H/block), ceil(W/block)): the mean of each block (of what is left at an edge)."""
    if block == 1:
        return maps
    count, height, width = maps.shape
    rows, cols = -(-height // block), -(-width // block)
    padded = np.full((count, rows * block, cols * block), np.nan, dtype=np.float32)
    padded[:, :height, :width] = maps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a block that is all NaN stays NaN
        return np.nanmean(padded.reshape(count, rows, block, cols, block), axis=(2, 4))


def feature_maps_shown(channels: int, max_channels: int = MAX_FEATURE_MAPS) -> int:
    """How many of a layer's `channels` maps `plot_feature_maps(..., max_channels=max_channels)` draws."""
    if max_channels < 1:
        raise ValueError(f"max_channels must be at least 1, not {max_channels}")
    return min(int(channels), int(max_channels))


def plot_feature_maps(maps: np.ndarray, *, scale: Literal["layer", "channel"] = "layer", columns: int = 8,
                      names: Sequence[str] | None = None, max_channels: int = MAX_FEATURE_MAPS,
                      labels: Mapping[str, str] | None = None) -> go.Figure:
    """Feature maps (C, H, W) of one input as one montage heatmap, a tile per channel titled "ch i".

    scale="layer": one colour scale for all channels (with a colour bar), so channels can
    be compared. scale="channel": each channel coloured from its own minimum to maximum
    (a constant channel is drawn mid-scale), which shows the pattern in weak channels.
    Hover shows channel, row, column and the raw value either way (customdata[..., 0:4],
    NaN in the gaps). At most `columns` tiles go in a row, spread evenly over the rows.
    `names` replaces the tile titles (one per channel).

    Only the first `max_channels` channels are drawn (`feature_maps_shown` says how many),
    and the title then says "first 64 of 512 channels"; the layer-wide colour range is
    that of the channels drawn. The figure's cost is linear in the channels drawn. Large
    maps are drawn as the means of f x f blocks (f from `display_block`; the title says so,
    hover gives the block's first row and column in the map's own coordinates). `labels` over
    FEATURE_MAPS_LABELS give its words.
    """
    words = chosen_labels(FEATURE_MAPS_LABELS, labels)
    maps = np.asarray(maps)
    if maps.ndim != 3 or 0 in maps.shape:
        raise ValueError(f"maps must have shape (C, H, W) with no empty axis, not {maps.shape}")
    if scale not in ("layer", "channel"):
        raise ValueError(f"scale must be 'layer' or 'channel', not {scale!r}")
    total = maps.shape[0]
    if names is not None and len(names) != total:
        raise ValueError(f"names has {len(names)} entries for {total} channels")
    n = feature_maps_shown(total, max_channels)
    maps = maps[:n].astype(np.float32)  # only the channels drawn are converted
    _, full_height, full_width = maps.shape
    block = display_block(n, full_height, full_width)
    maps = _block_means(maps, block)
    _, height, width = maps.shape
    titles = ([words["tile"].format(channel=i) for i in range(n)] if names is None
              else [str(name) for name in list(names)[:n]])
    # At most `columns` tiles a row, spread evenly over the rows (10 maps: 2 rows of 5, not 8 and 2),
    # which leaves no empty tiles to send to the browser.
    rows = -(-n // max(1, min(int(columns), n)))
    columns = -(-n // rows)
    gap_x, gap_y = max(1, width // 8), max(2, -(-height * 2 // 5))  # room for a title above each tile
    raw, origins = _montage(maps, columns, gap_x, gap_y)
    customdata = _tile_customdata(raw.shape, origins, maps, np.arange(n, dtype=np.float32)[:, None])
    customdata[..., 1:3] *= block  # hover names the map's own rows and columns, not the blocks'

    if scale == "layer":
        colours = raw
        finite = maps[np.isfinite(maps)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if low == high:
            low, high = low - 0.5, high + 0.5  # a constant layer: still a valid colour range
        colour = dict(zmin=low, zmax=high, showscale=True,
                      colorbar=dict(title=dict(text=words["colorbar"]), thickness=12))
    else:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel stays NaN
            low = np.nanmin(maps, axis=(1, 2), keepdims=True)
            span = np.nanmax(maps, axis=(1, 2), keepdims=True) - low
            scaled = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.5)
        colours, _ = _montage(scaled.astype(np.float32), columns, gap_x, gap_y)
        colour = dict(zmin=0.0, zmax=1.0, showscale=False)

    hover = words["hover" if block == 1 else "block_hover"].format(
        channel="%{customdata[0]}", row="%{customdata[1]}", col="%{customdata[2]}", value="%{customdata[3]:.4g}",
        block=block)
    fig = go.Figure(go.Heatmap(
        z=colours, customdata=customdata, colorscale="Viridis", hoverongaps=False,
        hovertemplate=hover + "<extra></extra>", **colour))
    # One list, not add_annotation per tile: plotly re-validates the whole list on each add (quadratic).
    fig.update_layout(annotations=[
        dict(x=left + (width - 1) / 2, y=top - 0.5, text=title, showarrow=False, yanchor="bottom", font_size=_FONT)
        for title, (top, left) in zip(titles, origins.tolist(), strict=True)])
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    _square_pixels(fig)
    # Up to 30 screen pixels per map pixel, and the whole montage about 800 pixels wide.
    unit = min(30.0, 800 / raw.shape[1])
    subtitle = words["layer_scale" if scale == "layer" else "channel_scale"]
    if block > 1:
        subtitle = words["blocks"].format(block=block, subtitle=subtitle)
    if n < total:
        subtitle = words["subset"].format(shown=n, total=total, subtitle=subtitle)
    fig.update_layout(height=int(70 + unit * (raw.shape[0] + gap_y)), plot_bgcolor="white",
                      margin=dict(l=5, r=5, t=45, b=5),
                      title=dict(text=words["title"].format(shown=n, height=full_height, width=full_width,
                                                             subtitle=subtitle), font_size=13))
    return fig


def plot_filters(weights: np.ndarray, *, max_inputs: int = 8, max_outputs: int = 64,
                 labels: Mapping[str, str] | None = None) -> go.Figure:
    """Convolution weights (Cout, Cin, kh, kw) as a montage: a row per output channel, a column per input.

    At most `max_inputs` input channels and `max_outputs` filters are drawn (the title
    says so when there are more: EfficientNet's head has 1,280 filters of 320 inputs). The
    colours are diverging, symmetric around 0 (red negative, blue positive), so a weight's
    sign reads at a glance; hover shows out, in, row, col and the weight. `labels` over FILTERS_LABELS give
    its words.
    """
    words = chosen_labels(FILTERS_LABELS, labels)
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 4 or 0 in weights.shape:
        raise ValueError(f"weights must have shape (Cout, Cin, kh, kw) with no empty axis, not {weights.shape}")
    if max_inputs < 1 or max_outputs < 1:
        raise ValueError(f"max_inputs and max_outputs must be at least 1, not {max_inputs} and {max_outputs}")
    all_outs, ins, kh, kw = weights.shape
    outs = min(all_outs, max_outputs)
    weights = weights[:outs]
    shown = min(ins, max_inputs)
    tiles = weights[:, :shown].reshape(outs * shown, kh, kw)
    gap = max(1, round(max(kh, kw) / 4))
    montage, origins = _montage(tiles, shown, gap, gap)
    out_index, in_index = np.divmod(np.arange(outs * shown), shown)
    tile_labels = np.stack([out_index, in_index], axis=1).astype(np.float32)
    customdata = _tile_customdata(montage.shape, origins, tiles, tile_labels)
    finite = np.abs(tiles[np.isfinite(tiles)])
    bound = float(finite.max()) if finite.size and finite.max() > 0 else 1.0

    fig = go.Figure(go.Heatmap(
        z=montage, customdata=customdata, colorscale="RdBu", zmid=0.0, zmin=-bound, zmax=bound,
        hoverongaps=False, colorbar=dict(title=dict(text=words["colorbar"]), thickness=12),
        hovertemplate=words["hover"].format(out="%{customdata[0]}", input="%{customdata[1]}", row="%{customdata[2]}",
                                            col="%{customdata[3]}", value="%{customdata[4]:.4g}") + "<extra></extra>"))
    step_x, step_y = kw + gap, kh + gap
    fig.update_xaxes(side="top", tickmode="array", tickvals=[j * step_x + (kw - 1) / 2 for j in range(shown)],
                     ticktext=[words["input_tick"].format(index=j) for j in range(shown)], ticks="", tickfont_size=10)
    fig.update_yaxes(tickmode="array", tickvals=[i * step_y + (kh - 1) / 2 for i in range(outs)],
                     ticktext=[words["output_tick"].format(index=i) for i in range(outs)], ticks="", tickfont_size=10)
    _square_pixels(fig)
    title = words["title"].format(filters=all_outs, inputs=ins, height=kh, width=kw)
    hidden = {(True, False): "some_filters", (False, True): "some_inputs", (True, True): "some_both"}.get(
        (outs < all_outs, shown < ins))
    if hidden is not None:
        title = words[hidden].format(title=title, shown=outs, shown_inputs=shown, inputs=ins)
    # Tiles up to about 72 screen pixels; a tall stack of filters is capped near 1,400 pixels.
    unit = min(72 / max(kh, kw), 700 / montage.shape[1], 1400 / montage.shape[0])
    fig.update_layout(title=dict(text=title, font_size=13), height=int(110 + unit * montage.shape[0]),
                      plot_bgcolor="white", margin=dict(l=50, r=5, t=80, b=5))
    return fig


MAX_CLASS_BARS = 10
CLASS_PROBABILITIES_LABELS = {
    "x": "probability",
    "title": "the {shown} most probable of {total:,} classes, most probable first",
}


def plot_class_probabilities(probabilities: np.ndarray, class_names: Sequence[str], *,
                             labels: Mapping[str, str] | None = None) -> go.Figure:
    """Horizontal bars of the probability of each class (in the given order), the top class highlighted.

    With more than `MAX_CLASS_BARS` classes (ImageNet has 1,000; a model file may declare
    thousands) only the most probable ones are drawn, most probable first, and the title says so:
    in class order they would be a list of look-alike neighbours (tabby, tiger cat, ...).
    `labels` over CLASS_PROBABILITIES_LABELS give its words in another language.
    """
    words = chosen_labels(CLASS_PROBABILITIES_LABELS, labels)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if len(class_names) != len(probabilities):
        raise ValueError(f"{len(probabilities)} probabilities for {len(class_names)} class names")
    shown = np.arange(len(probabilities))
    if len(shown) > MAX_CLASS_BARS:
        shown = np.argsort(-probabilities, kind="stable")[:MAX_CLASS_BARS]
    # Names may come from a file: text, never plotly's HTML; equal names stay separate bars.
    names = unique_labels([as_plotly_text(class_names[i], limit=30) for i in shown.tolist()])
    values = probabilities[shown]
    top = int(np.argmax(values)) if len(values) else -1
    colours = ["#d62728" if i == top else "#9ecae1" for i in range(len(names))]
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h", marker_color=colours,
        text=[f"{p:.1%}" for p in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title_text=words["x"])
    fig.update_yaxes(type="category", autorange="reversed")
    cut = len(shown) < len(probabilities)
    if cut:
        fig.update_layout(title=dict(text=words["title"].format(shown=len(shown), total=len(probabilities)),
                                     font_size=12))
    # "100.0%" is written beyond the bar: the right margin holds it on a narrow column
    fig.update_layout(height=60 + 26 * len(names) + (30 if cut else 0),
                      margin=dict(l=80, r=48, t=40 if cut else 10, b=40))
    return fig
