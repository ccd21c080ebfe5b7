"""Figures of receptive fields: how the window grows with depth, one unit's window and its effective part.

`plot_unit_picker` is the clickable map for choosing a unit: heatmaps cannot be
selected in plotly, so it lays one nearly invisible, clickable marker over each
pixel. A Streamlit page shows it with
``event = st.plotly_chart(fig, on_select="rerun", selection_mode="points")`` and reads
the clicked unit as ``row, col = event.selection["points"][0]["customdata"]`` (or
``y``, ``x`` of that point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots._common import chosen_labels, unique_labels
from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # only for type hints: the figures need no torch
    from cnnviz.analysis.receptive_field import ReceptiveField

Box = tuple[int, int, int, int]

_BOX_COLOUR = "#e4002b"
_SIZE_COLOUR, _COLS_COLOUR, _JUMP_COLOUR, _NONE_COLOUR = "#1f77b4", "#17becf", "#ff7f0e", "#7f7f7f"

# The words of each figure (str.format templates); a `labels` argument with the same keys replaces them.
RECEPTIVE_FIELD_SIZES_LABELS = {
    "head": "{name} ({kind})",
    "output": "output {shape}",
    "no_field": "no receptive field: {note}",
    "sees": "each unit sees {rows}×{cols} input pixels",
    "jump_hover": "jump {rows}×{cols} pixels between units",
    "centre": "unit (0, 0) centred on row {row}, col {col}",
    "size": "size",
    "size_rows": "size (rows)",
    "size_cols": "size (cols)",
    "jump": "jump",
    "jump_rows": "jump (rows)",
    "jump_cols": "jump (cols)",
    "none": "no receptive field",
    "x": "layer",
    "x_every": "layer (every {step}th named)",
    "y": "receptive field (input pixels)",
    "y2": "jump (pixels between units)",
}
RECEPTIVE_FIELD_BOX_LABELS = {
    "pixel": "row {row}, col {col}",
    "pixel_value": "row {row}, col {col}: {value}",
    "box": "rows {top}–{bottom}, cols {left}–{right} ({height}×{width} pixels)",
    "x": "column",
    "y": "row",
}
EFFECTIVE_RECEPTIVE_FIELD_LABELS = {
    "colorbar": "|∂unit/∂x|",
    "hover": "row {row}, col {col}<br>|gradient| {value}",
    "title": "Effective receptive field",
    "no_gradient": "no gradient reaches the input",
    "share": "{mass:.0%} of the gradient in the box<br>lies in {fraction:.0%} of its pixels",
    "x": "column",
    "y": "row",
}
UNIT_PICKER_LABELS = {
    "colorbar": "activation",
    "hover": "unit (row {row}, col {col})<br>activation {value}<br>click to pick",
    "x": "column",
    "y": "row",
}
# Plotly fills these into hover texts: a template's {row} becomes the hovered pixel's row.
_PLOTLY_PIXEL = {"row": "%{y}", "col": "%{x}"}


def _num(value: float) -> str:
    return f"{value:g}"


def _describe(record: ReceptiveField, words: Mapping[str, str]) -> str:
    """Hover text of one layer: its window in words, or why it has none."""
    head = words["head"].format(name=f"<b>{record.name}</b>", kind=record.kind)
    shape = "" if record.output_shape is None else "<br>" + words["output"].format(
        shape="×".join(str(s) for s in record.output_shape))
    if record.size is None or record.jump is None or record.start is None:
        return f"{head}<br>{words['no_field'].format(note=record.note)}{shape}"
    note = f"<br>{record.note}" if record.note else ""
    return (f"{head}<br>{words['sees'].format(rows=record.size[0], cols=record.size[1])}"
            f"<br>{words['jump_hover'].format(rows=record.jump[0], cols=record.jump[1])}"
            f"<br>{words['centre'].format(row=_num(record.start[0]), col=_num(record.start[1]))}{shape}{note}")


MAX_LAYER_TICKS = 30  # layer names on the x axis of `plot_receptive_field_sizes`; more overlap at 45 degrees


def plot_receptive_field_sizes(records: Sequence[ReceptiveField], *,
                               labels: Mapping[str, str] | None = None) -> go.Figure:
    """Receptive field size (left axis) and jump (right axis) per layer, in order; `labels` over
    RECEPTIVE_FIELD_SIZES_LABELS give its words in another language.

    One line of sizes (rows; a second one for columns only if any layer differs) and
    a dashed line of jumps on the second y axis. Layers without a receptive field are
    gaps in the lines, marked with a grey x at 0 whose hover gives the reason. Past
    `MAX_LAYER_TICKS` layers only every k-th is named on the axis (the axis title says k);
    every point's hover still names its layer.
    """
    words = chosen_labels(RECEPTIVE_FIELD_SIZES_LABELS, labels)
    names = unique_labels([r.name for r in records])
    hover = [_describe(r, words) for r in records]
    rows = [r.size[0] if r.size else None for r in records]
    cols = [r.size[1] if r.size else None for r in records]
    jump_rows = [r.jump[0] if r.jump else None for r in records]
    jump_cols = [r.jump[1] if r.jump else None for r in records]
    square = rows == cols
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=names, y=rows, mode="lines+markers", name=words["size" if square else "size_rows"],
                             line_color=_SIZE_COLOUR, connectgaps=False, hovertext=hover, hoverinfo="text"),
                  secondary_y=False)
    if not square:
        fig.add_trace(go.Scatter(x=names, y=cols, mode="lines+markers", name=words["size_cols"],
                                 line_color=_COLS_COLOUR, connectgaps=False, hovertext=hover, hoverinfo="text"),
                      secondary_y=False)
    jump_square = jump_rows == jump_cols
    fig.add_trace(go.Scatter(x=names, y=jump_rows, mode="lines+markers",
                             name=words["jump" if jump_square else "jump_rows"],
                             line=dict(color=_JUMP_COLOUR, dash="dash"), marker_symbol="diamond", connectgaps=False,
                             hovertext=hover, hoverinfo="text"), secondary_y=True)
    if not jump_square:
        fig.add_trace(go.Scatter(x=names, y=jump_cols, mode="lines+markers", name=words["jump_cols"],
                                 line=dict(color=_JUMP_COLOUR, dash="dot"), marker_symbol="diamond-open",
                                 connectgaps=False, hovertext=hover, hoverinfo="text"), secondary_y=True)
    undefined = [i for i, r in enumerate(records) if r.size is None]
    if undefined:
        fig.add_trace(go.Scatter(x=[names[i] for i in undefined], y=[0] * len(undefined), mode="markers",
                                 name=words["none"], marker=dict(symbol="x", size=9, color=_NONE_COLOUR),
                                 hovertext=[hover[i] for i in undefined], hoverinfo="text"), secondary_y=False)
    fig.update_xaxes(type="category", title_text=words["x"], tickangle=-45, automargin=True)
    if len(names) > MAX_LAYER_TICKS:  # EfficientNet-Lite0 has 150 layers: name every k-th, hover names each
        step = -(-len(names) // MAX_LAYER_TICKS)
        fig.update_xaxes(tickmode="array", tickvals=names[::step], title_text=words["x_every"].format(step=step))
    fig.update_yaxes(title_text=words["y"], rangemode="tozero", secondary_y=False)
    top_jump = max([j for j in jump_rows + jump_cols if j is not None], default=1)
    fig.update_yaxes(title_text=words["y2"], rangemode="tozero", showgrid=False,
                     tick0=0, dtick=max(1, -(-top_jump // 4)), secondary_y=True)  # whole numbers only
    fig.update_layout(height=380, margin=dict(l=50, r=50, t=20, b=40), hovermode="closest",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return fig


def _add_box(fig: go.Figure, box: Box | None) -> None:
    if box is None:
        return
    top, left, bottom, right = box
    # Pixel (r, c) covers r - 0.5 .. r + 0.5: the rectangle follows the pixels' outer edges.
    fig.add_shape(type="rect", xref="x", yref="y", x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                  line=dict(color=_BOX_COLOUR, width=2), fillcolor="rgba(0,0,0,0)")


def _colorbar_below(title: str) -> dict:
    """A thin horizontal colour bar under the x axis: in a narrow column a vertical one took more
    room than the map (about 60 px of map on a 1024 px page)."""
    return dict(orientation="h", x=0.5, xanchor="center", y=-0.2, yanchor="top", thickness=10, len=1.0,
                title=dict(text=title, side="top"), tickfont_size=10)


def _pixel_axes(fig: go.Figure, height: int, width: int, words: Mapping[str, str]) -> None:
    """Image axes: row 0 at the top, square pixels, the whole image in view."""
    fig.update_xaxes(title_text=words["x"], range=[-0.5, width - 0.5], constrain="domain", showgrid=False,
                     zeroline=False)
    fig.update_yaxes(title_text=words["y"], range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain",
                     showgrid=False, zeroline=False)


def _box_text(box: Box | None, words: Mapping[str, str]) -> str:
    if box is None:
        return ""
    top, left, bottom, right = box
    return words["box"].format(top=top, bottom=bottom, left=left, right=right, height=bottom - top + 1,
                               width=right - left + 1)


def plot_receptive_field_box(image: np.ndarray, box: Box | None, *, title: str = "",
                             labels: Mapping[str, str] | None = None) -> go.Figure:
    """An input image (C, H, W) in [0, 1] with a unit's window (top, left, bottom, right) drawn on it;
    `labels` over RECEPTIVE_FIELD_BOX_LABELS give its words in another language.

    One channel is drawn grey, three in colour, any other number as the channel mean.
    The box is given in pixels, inclusive (as `ReceptiveField.box` returns it); None
    draws no box. `title` is shown as plain text.
    """
    words = chosen_labels(RECEPTIVE_FIELD_BOX_LABELS, labels)
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[None]
    if pixels.ndim != 3:
        raise ValueError(f"image must be (C, H, W), not shape {pixels.shape}")
    channels, height, width = pixels.shape
    pixels = np.clip(pixels, 0, 1)
    if channels == 3:
        rgb = np.round(pixels.transpose(1, 2, 0) * 255).astype(np.uint8)
        trace: go.Image | go.Heatmap = go.Image(
            z=rgb, hovertemplate=words["pixel"].format(**_PLOTLY_PIXEL) + "<extra></extra>")
    else:
        grey = pixels[0] if channels == 1 else pixels.mean(axis=0)
        trace = go.Heatmap(z=grey, colorscale="gray", zmin=0, zmax=1, showscale=False,
                           hovertemplate=words["pixel_value"].format(**_PLOTLY_PIXEL, value="%{z:.2f}")
                           + "<extra></extra>")
    fig = go.Figure(trace)
    _add_box(fig, box)
    _pixel_axes(fig, height, width, words)
    full_title = as_plotly_text(title) if title else _box_text(box, words)   # a title may name an uploaded file
    fig.update_layout(height=420, margin=dict(l=50, r=10, t=40 if full_title else 10, b=40),
                      title=dict(text=full_title, font_size=13), plot_bgcolor="white")
    return fig


def plot_effective_receptive_field(erf: np.ndarray, box: Box | None, *, fraction: float | None = None,
                                   mass: float = 0.95, labels: Mapping[str, str] | None = None) -> go.Figure:
    """|d unit / d input| (H, W) or (C, H, W), summed over channels, with the theoretical window on top;
    `labels` over EFFECTIVE_RECEPTIVE_FIELD_LABELS give its words in another language.

    With `fraction` (from `gradient_mass_fraction(erf, box, mass)`), the title says
    which share of the window holds `mass` of the gradient, or that no gradient reaches
    the input when it is all zero.
    """
    words = chosen_labels(EFFECTIVE_RECEPTIVE_FIELD_LABELS, labels)
    values = np.abs(np.asarray(erf, dtype=np.float64))
    if values.ndim == 3:
        values = values.sum(axis=0)
    if values.ndim != 2:
        raise ValueError(f"erf must be (H, W) or (C, H, W), not shape {values.shape}")
    height, width = values.shape
    fig = go.Figure(go.Heatmap(
        z=values, colorscale="Viridis", zmin=0, colorbar=_colorbar_below(words["colorbar"]),
        hovertemplate=words["hover"].format(**_PLOTLY_PIXEL, value="%{z:.3g}") + "<extra></extra>"))
    _add_box(fig, box)
    _pixel_axes(fig, height, width, words)
    title = words["title"]
    # Two short lines: one long one was clipped in a column of a 1024 px wide page.
    if fraction is not None and not values.any():
        title += f"<br><sub>{words['no_gradient']}</sub>"
    elif fraction is not None:
        title += f"<br><sub>{words['share'].format(mass=mass, fraction=fraction)}</sub>"
    # The map sits on the x axis, right above the colour bar, wherever the column's width leaves room.
    fig.update_yaxes(constraintoward="bottom")
    fig.update_layout(height=480, margin=dict(l=50, r=10, t=80, b=110), title=dict(text=title, font_size=14),
                      plot_bgcolor="white")
    return fig


def plot_unit_picker(feature_map: np.ndarray, selected: tuple[int, int] | None, *,
                     labels: Mapping[str, str] | None = None) -> go.Figure:
    """One channel of a feature map (H, W) on which a click picks a unit; `labels` over UNIT_PICKER_LABELS
    give its words in another language.

    The last trace is a scatter with one nearly invisible square marker per pixel
    centre (x = column, y = row, customdata = [row, col]): heatmaps cannot be
    selected in plotly, these markers can. Shown with ``st.plotly_chart(fig,
    on_select="rerun", selection_mode="points")``, the clicked unit is
    ``event.selection["points"][0]["customdata"]`` = [row, col] (also its ``y``, ``x``).
    `selected` (row, col) is outlined.
    """
    words = chosen_labels(UNIT_PICKER_LABELS, labels)
    values = np.asarray(feature_map, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"feature_map must be one channel (H, W), not shape {values.shape}")
    height, width = values.shape
    rows, cols = np.mgrid[0:height, 0:width]
    fig = go.Figure(go.Heatmap(z=values, colorscale="Viridis", hoverinfo="skip",
                               colorbar=_colorbar_below(words["colorbar"])))
    if selected is not None:
        row, col = selected
        fig.add_shape(type="rect", xref="x", yref="y", x0=col - 0.5, x1=col + 0.5, y0=row - 0.5, y1=row + 0.5,
                      line=dict(color=_BOX_COLOUR, width=3), fillcolor="rgba(0,0,0,0)")
    # No wider than a cell in a narrow (~150 px) plot: overlapping markers would let a click pick a
    # neighbour. A click between markers still picks the nearest one (plotly's hover distance).
    marker_size = int(np.clip(120 / max(height, width), 3, 24))
    invisible = dict(opacity=0.01)
    fig.add_trace(go.Scatter(
        x=cols.ravel(), y=rows.ravel(), mode="markers", name="units", showlegend=False,
        marker=dict(symbol="square", size=marker_size, color="white", opacity=0.01),
        selected=dict(marker=invisible), unselected=dict(marker=invisible),
        customdata=np.stack([rows.ravel(), cols.ravel()], axis=1),
        text=[f"{v:.3g}" for v in values.ravel()],
        hovertemplate=words["hover"].format(row="%{customdata[0]}", col="%{customdata[1]}", value="%{text}")
        + "<extra></extra>"))
    _pixel_axes(fig, height, width, words)
    # Clicks select points (Streamlit sets the same when on_select is used; this also serves notebooks).
    fig.update_yaxes(constraintoward="bottom")
    fig.update_layout(height=420, margin=dict(l=50, r=10, t=10, b=110), clickmode="event+select",
                      plot_bgcolor="white")
    return fig
