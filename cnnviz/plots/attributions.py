"""Figures of which pixels made an image model say a class: attribution maps, sanity checks, faithfulness.

- `plot_attribution_grid`: the input, then one map per method, each coloured on its own scale
  (methods differ by orders of magnitude: they are compared by pattern; hover gives raw values);
- `plot_sanity_maps` and `plot_sanity_curves`: Adebayo et al. 2018's cascading randomisation as
  two figures (the maps of every method at a few steps, and Spearman / SSIM against the steps).
  They are two figures on purpose: eight rows of maps and two line charts in one figure left
  each part too small to read, and a page can put them in columns or tabs;
- `plot_deletion_insertion`: Petsiuk et al. 2018's curves, deletion and insertion side by side.

Signed maps use the diverging scale of the rest of cnnviz (red negative, blue positive,
symmetric around 0); magnitudes a sequential one starting at 0. Every heatmap keeps the raw
values in `z` (each trace has its own zmin/zmax), so hover shows them without extra data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels
from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # the dataclasses only: plots never import torch (the analysis module does)
    from cnnviz.analysis.attributions import DeletionInsertion, ImageAttribution, SanityCheck

__all__ = ["ATTRIBUTION_GRID_LABELS", "ATTRIBUTION_METHODS_LABELS", "DELETION_INSERTION_LABELS", "METHOD_TITLES",
           "SANITY_CURVES_LABELS", "SANITY_MAPS_LABELS", "plot_attribution_grid", "plot_deletion_insertion",
           "plot_sanity_curves", "plot_sanity_maps"]

# In the order of `cnnviz.analysis.attributions.METHODS` (a test checks it), which also fixes each colour.
METHOD_TITLES: dict[str, str] = {
    "saliency": "Saliency", "input_x_gradient": "Input × Gradient", "integrated_gradients": "Integrated Gradients",
    "smoothgrad": "SmoothGrad", "guided_backprop": "Guided Backprop", "grad_cam": "Grad-CAM",
    "guided_grad_cam": "Guided Grad-CAM", "occlusion": "Occlusion",
}
# The figures' words (str.format templates), English defaults: each plot function's `labels` go over its table and
# over the method titles (ATTRIBUTION_METHODS_LABELS: METHOD_TITLES, the same dict), e.g. another language's.
ATTRIBUTION_METHODS_LABELS = METHOD_TITLES
_PIXEL = {"pixel": "row {row}, col {col}"}
ATTRIBUTION_GRID_LABELS: dict[str, str] = {
    **_PIXEL, "input": "input", "block": "{block}×{block} block at row {row}, col {col}", "rgb": "RGB", "grey": "grey",
    "attribution": "attribution", "magnitude": "|attribution|", "mean": "{label} (mean)",
    "minus_max": "−max", "plus_max": "+max", "max": "max", "scale_bar": "each map's<br>own scale",
    "target": "class {target}", "target_named": "class {target} ({name})",
    "title": "What each method says made the model see {target}",
    "signed_note": "blue: for {target}, red: against it, white: 0",
    "magnitude_note": "|value| from 0 (purple) to the map's max (yellow)",
    "clipped": "its {percentile:g}th percentile of |value| (a few brighter pixels saturate)",
    "largest": "its largest |value|", "scale": "each map on its own scale: {bound}; hover: raw values",
    "scale_blocks": "each map on its own scale: {bound}; hover: raw values; each cell the mean of {block}×{block} "
                    "pixels",
}
SANITY_MAPS_LABELS: dict[str, str] = {
    **_PIXEL, "original": "original", "step": "+{layer}", "trace": "{method}, {step}", "colour_bar": "|map| / max",
    "value": "|map| / its max {value}", "title": "Cascading randomisation (Adebayo et al. 2018): the maps",
    "subtitle": "layers re-initialised from the top, one more each step; a map that stays alike does not depend on "
                "what the model learnt",
}
SANITY_CURVES_LABELS: dict[str, str] = {
    "spearman_panel": "Spearman rank correlation with the original", "ssim_panel": "SSIM with the original",
    "original": "original (nothing randomised)", "step": "{layer} (and all above)",
    "hover": "{count} layers randomised, last {layer}<br>{measure} {value}", "x": "layers randomised (from the top)",
    "title": "Cascading randomisation (Adebayo et al. 2018): similarity to the original map",
}
DELETION_INSERTION_LABELS: dict[str, str] = {
    "deletion_panel": "Deletion: most important pixels removed first<br>(lower is better)",
    "insertion_panel": "Insertion: most important pixels added first<br>(higher is better)",
    "random": "random order (AUC {auc:.3f})", "curve": "{method} (AUC {auc:.3f})",
    "random_hover": "random order (from {method}'s run)",
    "removed": "{share} removed<br>p = {p}", "added": "{share} added<br>p = {p}",
    "target": "class {target}", "any_target": "the target class", "x": "pixels, most important first",
    "y": "probability of {target}", "title": "Deletion and insertion (Petsiuk et al. 2018)",
}
# D3's palette without its grey, which is the random order's colour.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
_RANDOM_COLOUR = "#7f7f7f"
_DIVERGING = "RdBu"      # plotly's RdBu runs red (low) to blue (high), as plot_filters and the text figures
_SEQUENTIAL = "Viridis"  # as plot_feature_maps; no red or blue, so it cannot be read as a sign
# Cells per side of a grid tile: a 224x224 map is 50k cells, and nine of them (each with a value per
# cell) made a 4.6 MB figure drawn at ~180 screen pixels a tile. Past this, blocks are averaged.
MAX_TILE_SIDE = 112
MAX_SANITY_TILE_SIDE = 56  # sanity-check tiles are smaller still (up to 8 rows of 6)
_LAYER_CHARS = 24          # a layer name comes from a model file: shortened, and shown as text


def _words(defaults: dict[str, str], labels: Mapping[str, str] | None) -> dict[str, str]:
    """A figure's words: its `defaults` and the method titles, with `labels` over them."""
    return chosen_labels({**METHOD_TITLES, **defaults}, labels)


def _title(method: str, words: Mapping[str, str] = METHOD_TITLES) -> str:
    return (words[method] if method in METHOD_TITLES else "") or as_plotly_text(method, limit=_LAYER_CHARS)


def _colour(method: str, index: int) -> str:
    """The same colour for a method in every figure; methods cnnviz does not know take the next ones."""
    known = list(METHOD_TITLES)
    slot = known.index(method) if method in known else len(known) + index
    return _COLOURS[slot % len(_COLOURS)]


def _display_block(height: int, width: int, largest: int) -> int:
    """The smallest side f of blocks such that the map as f x f block means has at most `largest` cells a side."""
    return max(1, -(-max(height, width) // largest))


def _block_means(values: np.ndarray, block: int) -> np.ndarray:
    """(..., H, W) -> (..., ceil(H/f), ceil(W/f)): the mean of each f x f block (of what is left at an edge)."""
    if block == 1:
        return values
    *lead, height, width = values.shape
    rows, cols = -(-height // block), -(-width // block)
    padded = np.full((*lead, rows * block, cols * block), np.nan)
    padded[..., :height, :width] = values  # every block holds at least one pixel of the map: no empty mean
    return np.nanmean(padded.reshape(*lead, rows, block, cols, block), axis=(-3, -1))


# On a map of this many cells or more the colours saturate at the CLIP_PERCENTILE-th percentile of |value|:
# gradients of an ImageNet network have a few extreme pixels that left every other one white (Captum's own
# viewer clips at the 98th).
CLIP_CELLS, CLIP_PERCENTILE = 1000, 99.5


def _largest(values: np.ndarray) -> float:
    """The half-width of a tile's colour range: the largest finite |value|, or on a map of `CLIP_CELLS` or more
    its `CLIP_PERCENTILE`-th percentile (if above 0); 1 when there is nothing but 0."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size >= CLIP_CELLS and np.percentile(finite, CLIP_PERCENTILE) > 0:
        return float(np.percentile(finite, CLIP_PERCENTILE))
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def _placement(block: int) -> dict[str, float]:
    """Cell k of a block-mean tile covers pixels k*f .. k*f+f-1: axes stay in the input's own pixels."""
    return dict(x0=(block - 1) / 2, dx=block, y0=(block - 1) / 2, dy=block)


def _pixel_axes(fig: go.Figure, rows: int, columns: int, height: int, width: int) -> None:
    """Square pixels, row 0 on top, no ticks, on every tile of a rows x columns grid of subplots."""
    for k in range(rows * columns):
        row, col = divmod(k, columns)
        fig.update_xaxes(range=[-0.5, width - 0.5], visible=False, constrain="domain", row=row + 1, col=col + 1)
        fig.update_yaxes(range=[height - 0.5, -0.5], scaleanchor="x" if k == 0 else f"x{k + 1}", visible=False,
                         constrain="domain", row=row + 1, col=col + 1)


_WHERE = dict(row="%{y}", col="%{x}")  # plotly's hover placeholders, put into the words' {row} and {col}


def _input_trace(pixels: np.ndarray, block: int, words: Mapping[str, str]) -> go.Image | go.Heatmap:
    """The input image (C, H, W) in [0, 1] as block means: grey for one channel, colour for three."""
    shown = _block_means(np.clip(pixels, 0, 1), block)
    where, name = words["pixel"].format(**_WHERE), words["input"]
    if pixels.shape[0] == 3:
        rgb = np.round(np.nan_to_num(shown).transpose(1, 2, 0) * 255).astype(np.uint8)
        return go.Image(z=rgb, name=name, hovertemplate=f"{where}<br>{words['rgb']} %{{z}}", **_placement(block))
    return go.Heatmap(z=shown[0].astype(np.float32), colorscale="gray", zmin=0, zmax=1, showscale=False, name=name,
                      hovertemplate=f"{where}<br>{words['grey']} %{{z:.2f}}", **_placement(block))


def plot_attribution_grid(image: np.ndarray, attributions: Sequence[ImageAttribution], *, absolute: bool = False,
                          columns: int = 4, class_name: str | None = None,
                          labels: Mapping[str, str] | None = None) -> go.Figure:
    """The input image, then each method's map for it, a tile each, at most `columns` tiles a row.

    `image` is (C, H, W) in [0, 1] (grey for C = 1, colour for C = 3); every map must be
    (H, W) and for the same target. Tiles are titled with `METHOD_TITLES` (and the layer,
    for Grad-CAM). A signed map (`signed=True`, shown unless `absolute`) is coloured on a
    diverging scale symmetric around 0 (red against the class, blue for it, white 0);
    an unsigned map, or any map when `absolute=True`, shows |value| on a sequential scale
    from 0. Each tile's range is set by its own largest |value|, so methods whose values
    differ by orders of magnitude are compared by pattern; `z` and the hover are the raw
    values (|value| for sequential tiles). The figure's title and subtitle explain this.

    Maps larger than `MAX_TILE_SIDE` a side are drawn as means of f x f blocks (input
    included; the subtitle says so; hover gives the block's centre in the input's pixels).
    `class_name` may come from a file: it is shown as text. `labels` over ATTRIBUTION_GRID_LABELS and
    METHOD_TITLES give the figure's words in another language.
    """
    words = _words(ATTRIBUTION_GRID_LABELS, labels)
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim != 3 or pixels.shape[0] not in (1, 3) or 0 in pixels.shape:
        raise ValueError(f"image must be (C, H, W) with C = 1 or 3 and no empty axis, not shape {pixels.shape}")
    attributions = list(attributions)
    if not attributions:
        raise ValueError("give at least one attribution to draw")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, not {columns}")
    _, height, width = pixels.shape
    maps = [np.asarray(a.attribution, dtype=np.float64) for a in attributions]
    for a, values in zip(attributions, maps, strict=True):
        if values.shape != (height, width):
            raise ValueError(f"the {a.method} map has shape {values.shape}, the image is {height}×{width}")
    targets = sorted({a.target for a in attributions})
    if len(targets) > 1:
        raise ValueError(f"the maps are for different targets {targets}: draw one grid per target")

    block = _display_block(height, width, MAX_TILE_SIDE)
    count = len(attributions) + 1
    columns = min(columns, count)
    rows = -(-count // columns)
    titles = [words["input"]]
    for a in attributions:
        layer = f" · {as_plotly_text(a.layer, limit=_LAYER_CHARS)}" if a.layer else ""
        titles.append(_title(a.method, words) + layer)
    tile = min(200.0, 760 / columns)  # screen pixels per tile: a grid of 4 fills a ~800 px column
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=min(0.3 / rows, 32 / (rows * (tile + 32))))
    fig.add_trace(_input_trace(pixels, block, words), row=1, col=1)

    where = words["pixel"].format(**_WHERE) if block == 1 else words["block"].format(block=block, **_WHERE)
    bars: dict[str, bool] = {}
    for k, (a, values) in enumerate(zip(attributions, maps, strict=True), start=1):
        signed = a.signed and not absolute
        label = words["attribution"] if signed or not (values < 0).any() else words["magnitude"]
        label = label if block == 1 else words["mean"].format(label=label)
        shown = _block_means(values if signed else np.abs(values), block).astype(np.float32)
        bound = _largest(shown)
        kind = "signed" if signed else "magnitude"
        colour = (dict(colorscale=_DIVERGING, zmid=0.0, zmin=-bound, zmax=bound) if signed
                  else dict(colorscale=_SEQUENTIAL, zmin=0.0, zmax=bound))
        # One colour bar per kind, its ticks in words: every tile has its own range, so numbers would lie.
        ticks = (([-bound, 0.0, bound], [words["minus_max"], "0", words["plus_max"]]) if signed
                 else ([0.0, bound], ["0", words["max"]]))
        colorbar = dict(thickness=10, len=0.45, x=1.01, xanchor="left", tickvals=ticks[0], ticktext=ticks[1],
                        y=1.0 if signed else 0.0, yanchor="top" if signed else "bottom",
                        title=dict(text=words["scale_bar"], side="right"))
        fig.add_trace(go.Heatmap(
            z=shown, name=titles[k], showscale=kind not in bars, colorbar=colorbar, hoverongaps=False,
            hovertemplate=f"{where}<br>{label} %{{z:.4g}}", **colour, **_placement(block)),
            row=k // columns + 1, col=k % columns + 1)
        bars[kind] = True
    _pixel_axes(fig, rows, columns, height, width)

    target = (words["target_named"].format(target=targets[0], name=as_plotly_text(class_name, limit=40))
              if class_name else words["target"].format(target=targets[0]))
    notes = []
    if "signed" in bars:
        notes.append(words["signed_note"].format(target=target))
    if "magnitude" in bars:
        notes.append(words["magnitude_note"])
    bound_words = (words["clipped"].format(percentile=CLIP_PERCENTILE) if height * width >= CLIP_CELLS
                   else words["largest"])
    scale = words["scale" if block == 1 else "scale_blocks"].format(bound=bound_words, block=block)
    # The title at the top edge, its subtitle (one line a note) above the first row's tile titles.
    top = 70 + 15 * len(notes)
    fig.update_layout(
        title=dict(text=words["title"].format(target=target), font_size=14, y=1, yref="container",
                   yanchor="top", pad=dict(t=12), subtitle=dict(text="<br>".join([*notes, scale]), font_size=11)),
        height=int(rows * (tile + 32) + top), margin=dict(l=5, r=70, t=top, b=5), plot_bgcolor="white")
    fig.update_annotations(font_size=11)
    return fig


def _steps_shown(steps: int, most: int) -> list[int]:
    """Up to `most` step indices spread evenly over 0 .. steps-1, always the first and the last."""
    return sorted({int(round(i)) for i in np.linspace(0, steps - 1, min(most, steps))})


def _step_label(check: SanityCheck, index: int, words: Mapping[str, str]) -> str:
    return words["original"] if index == 0 else words["step"].format(
        layer=as_plotly_text(check.steps[index], limit=_LAYER_CHARS))


def _checked(checks: Sequence[SanityCheck]) -> list[SanityCheck]:
    checks = list(checks)
    if not checks:
        raise ValueError("give at least one sanity check to draw")
    for check in checks:
        maps = np.asarray(check.maps)
        steps = len(check.steps)
        if maps.ndim != 3 or 0 in maps.shape:
            raise ValueError(f"the {check.method} maps must be (S, H, W) with no empty axis, not {maps.shape}")
        if not maps.shape[0] == steps == len(check.spearman) == len(check.ssim):
            raise ValueError(f"the {check.method} check has {steps} steps, {maps.shape[0]} maps, "
                             f"{len(check.spearman)} Spearman and {len(check.ssim)} SSIM values")
    return checks


def plot_sanity_maps(checks: Sequence[SanityCheck], *, max_steps_shown: int = 6,
                     labels: Mapping[str, str] | None = None) -> go.Figure:
    """A row per method of its |map| at up to `max_steps_shown` steps of cascading randomisation.

    The steps shown are spread evenly and always include the first ("original") and the
    last (every layer randomised); each tile is titled with the layer randomised at that
    step ("+fc3": fc3 and every layer above it). Each tile is |map| divided by its own
    maximum (0..1, one sequential scale): a method that explains the model loses its
    structure from left to right; one whose maps stay alike does not depend on the
    weights. Rows get smaller as methods are added (the figure stays under ~1,000 px);
    maps over `MAX_SANITY_TILE_SIDE` a side are block means (normalised after averaging).
    `plot_sanity_curves` gives the numbers for the same checks. `labels` over SANITY_MAPS_LABELS and
    METHOD_TITLES give the figure's words in another language.
    """
    words = _words(SANITY_MAPS_LABELS, labels)
    checks = _checked(checks)
    if max_steps_shown < 2:
        raise ValueError(f"max_steps_shown must be at least 2 (the first and the last), not {max_steps_shown}")
    picks = [_steps_shown(len(check.steps), max_steps_shown) for check in checks]
    rows, columns = len(checks), max(len(p) for p in picks)
    titles = [(_step_label(check, p[j], words) if j < len(p) else "") for check, p in zip(checks, picks, strict=True)
              for j in range(columns)]
    tile = min(760 / columns, 900 / rows, 150.0)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.01,
                        vertical_spacing=min(0.3 / rows, 26 / (rows * (tile + 26))))
    for r, (check, p) in enumerate(zip(checks, picks, strict=True)):
        maps = np.abs(np.asarray(check.maps, dtype=np.float64))
        block = _display_block(maps.shape[1], maps.shape[2], MAX_SANITY_TILE_SIDE)
        for j, step in enumerate(p):
            shown = _block_means(maps[step], block)
            fig.add_trace(go.Heatmap(
                z=(shown / (float(shown.max()) or 1.0)).astype(np.float32), colorscale=_SEQUENTIAL, zmin=0.0, zmax=1.0,
                showscale=r == 0 and j == 0, hoverongaps=False,
                colorbar=dict(thickness=10, len=min(1.0, 300 / (rows * (tile + 26))), y=1.0, yanchor="top",
                              title=dict(text=words["colour_bar"], side="right")),
                name=words["trace"].format(method=_title(check.method, words), step=titles[r * columns + j]),
                hovertemplate=words["pixel"].format(**_WHERE) + "<br>" + words["value"].format(value="%{z:.2f}"),
                **_placement(block)),
                row=r + 1, col=j + 1)
        height_r, width_r = maps.shape[1:]
        for j in range(columns):
            k = r * columns + j
            fig.update_xaxes(range=[-0.5, width_r - 0.5], visible=False, constrain="domain", row=r + 1, col=j + 1)
            fig.update_yaxes(range=[height_r - 0.5, -0.5], scaleanchor="x" if k == 0 else f"x{k + 1}",
                             constrain="domain", showticklabels=False, ticks="", showgrid=False, zeroline=False,
                             title=dict(text=_title(check.method, words), font_size=11) if j == 0 else None,
                             row=r + 1, col=j + 1)
    fig.update_annotations(font_size=10)
    fig.update_layout(
        title=dict(text=words["title"], font_size=14, subtitle=dict(text=words["subtitle"], font_size=11)),
        height=int(rows * (tile + 26) + 100), margin=dict(l=70, r=60, t=90, b=5), plot_bgcolor="white")
    return fig


def plot_sanity_curves(checks: Sequence[SanityCheck], *, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Spearman rank correlation (left) and SSIM (right) of each step's |map| with the original, per method.

    x is the number of layers randomised (0 = the original model, from the top down);
    hover names the layer randomised at that step. One colour per method, the same in
    both panels and in `plot_deletion_insertion` (one legend entry toggles both lines).
    A dashed line marks 0.5: a method that depends on the weights drops well below it as
    layers are randomised; one that stays near 1 explains the image, not the model. `labels` over
    SANITY_CURVES_LABELS and METHOD_TITLES give the figure's words in another language.
    """
    words = _words(SANITY_CURVES_LABELS, labels)
    checks = _checked(checks)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=(
        words["spearman_panel"], words["ssim_panel"]))
    low = 0.0
    for i, check in enumerate(checks):
        steps = [words["original"]] + [
            words["step"].format(layer=as_plotly_text(s, limit=_LAYER_CHARS)) for s in check.steps[1:]]
        for col, (name, values) in enumerate((("Spearman", check.spearman), ("SSIM", check.ssim)), start=1):
            values = np.asarray(values, dtype=np.float64)
            if np.isfinite(values).any():
                low = min(low, float(np.nanmin(values)))
            fig.add_trace(go.Scatter(
                x=np.arange(len(values)), y=values, mode="lines+markers", name=_title(check.method, words),
                legendgroup=check.method, showlegend=col == 1, customdata=steps,
                line=dict(color=_colour(check.method, i), width=2), marker_size=5,
                hovertemplate=words["hover"].format(count="%{x}", layer="%{customdata}", measure=name,
                                                    value="%{y:.3f}")),
                row=1, col=col)
    for col in (1, 2):
        fig.add_hline(y=0.5, line=dict(dash="dash", color=_RANDOM_COLOUR, width=1), row=1, col=col,
                      annotation_text="0.5", annotation_position="top left", annotation_font_size=10)
    fig.update_xaxes(title_text=words["x"], rangemode="tozero", dtick=1)
    fig.update_yaxes(range=[min(-0.05, low - 0.05), 1.05])
    fig.update_layout(
        title=dict(text=words["title"], font_size=14),
        height=380, margin=dict(l=50, r=10, t=70, b=50), plot_bgcolor="white",
        legend=dict(orientation="h", y=-0.2, yanchor="top", x=0, font_size=11))
    return fig


def plot_deletion_insertion(curves: Sequence[DeletionInsertion], *,
                            labels: Mapping[str, str] | None = None) -> go.Figure:
    """Deletion (left) and insertion (right) curves of each method's map (Petsiuk et al. 2018).

    x is the share of pixels removed (deletion) or added (insertion), most important first,
    0 to 100%; y is the target class's probability, 0 to 1. One line per method, in the
    same colour in both panels; each panel has its own legend under it, whose entries carry
    that panel's area under the curve, "Grad-CAM (AUC 0.123)". Deletion: lower is better (the
    probability falls at once); insertion: higher is better. The dashed grey line is the
    random order of the first curve (`curves[0].random_*`; the others are the same seeded
    order on the same image), which a faithful map must beat. `labels` over DELETION_INSERTION_LABELS and
    METHOD_TITLES give the figure's words in another language.
    """
    words = _words(DELETION_INSERTION_LABELS, labels)
    curves = list(curves)
    if not curves:
        raise ValueError("give at least one deletion/insertion result to draw")
    for c in curves:
        k = len(np.asarray(c.fractions))
        lengths = [len(np.asarray(v)) for v in (c.deletion, c.insertion, c.random_deletion, c.random_insertion)]
        if k == 0 or np.asarray(c.fractions).ndim != 1 or any(n != k for n in lengths):
            raise ValueError(f"the {c.method} curves have {lengths} points for {k} fractions")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=(
        words["deletion_panel"], words["insertion_panel"]))
    first = curves[0]
    panels = (("deletion", "removed", "legend"), ("insertion", "added", "legend2"))
    point = dict(share="%{x:.0f}%", p="%{y:.3f}")  # plotly's hover placeholders
    for col, (kind, verb, legend) in enumerate(panels, start=1):
        random_auc = float(getattr(first, f"random_{kind}_auc"))
        fig.add_trace(go.Scatter(
            x=100 * np.asarray(first.fractions, dtype=np.float64), y=getattr(first, f"random_{kind}"),
            mode="lines", name=words["random"].format(auc=random_auc), legend=legend,
            line=dict(color=_RANDOM_COLOUR, dash="dash", width=1.5),
            hovertemplate=words["random_hover"].format(method=_title(first.method, words)) + "<br>"
                          + words[verb].format(**point) + "<extra></extra>"),
            row=1, col=col)
        for i, c in enumerate(curves):
            auc = float(getattr(c, f"{kind}_auc"))
            fig.add_trace(go.Scatter(
                x=100 * np.asarray(c.fractions, dtype=np.float64), y=getattr(c, kind), mode="lines",
                name=words["curve"].format(method=_title(c.method, words), auc=auc), legend=legend,
                legendgroup=c.method, line=dict(color=_colour(c.method, i), width=2),
                hovertemplate=words[verb].format(**point)), row=1, col=col)
    targets = {c.target for c in curves}
    who = words["target"].format(target=first.target) if len(targets) == 1 else words["any_target"]
    fig.update_xaxes(title_text=words["x"], range=[0, 100], ticksuffix="%")
    fig.update_yaxes(title_text=words["y"].format(target=who), range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    # Each legend under its own panel, below the x axis title; the plot area stays ~300 px high.
    # (tracegroupgap 0: each method is its own legend group, which would otherwise add 10 px an entry.)
    entries = 20 * (len(curves) + 1)
    legends = dict(orientation="v", y=-0.22, yanchor="top", font_size=11, bgcolor="rgba(0,0,0,0)", tracegroupgap=0)
    fig.update_layout(
        title=dict(text=words["title"], font_size=14, y=1, yref="container",
                   yanchor="top", pad=dict(t=12)),
        legend=dict(legends, x=0.0, xanchor="left"), legend2=dict(legends, x=0.55, xanchor="left"),
        height=100 + 300 + 75 + entries, margin=dict(l=60, r=10, t=100, b=75 + entries), plot_bgcolor="white")
    return fig
