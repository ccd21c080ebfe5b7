"""Figures of a TextCNN at work: the embedding matrix, n-gram maps and 1-max pooling (token attributions and
top n-grams: cnnviz/plots/text_attributions.py, which shares this module's sentence axis).

Every figure of one sentence puts token (or n-gram) number p at x = p, so the
winning n-grams and the attributions of a sentence line up column for column when
shown one above the other (`plot_winning_ngrams`, `plot_token_attributions`).
Category axes are avoided on purpose: plotly merges equal labels, and a sentence
may repeat a word. Signed values use one diverging scale symmetric around 0
(red negative, blue positive); relu activations, which are never negative, a
sequential one starting at 0.

Each plot function takes `labels` over its `<NAME>_LABELS` (English defaults) for its words
in another language: str.format templates; in a hover, the {names} stand for the hovered
point's values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from cnnviz.plots._common import chosen_labels
from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # the dataclasses only: plots never import torch
    from cnnviz.analysis.ngrams import NgramActivations

_FONT = 11
_PLOT_WIDTH = 620  # pixels of plotting area in a ~700 px wide column
_WIDTH_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_SENTENCE_MARGIN = dict(l=90, r=10)  # the same plot area in every sentence figure, so columns line up
_TOKEN_CHARS = 40   # a "word" of a typed sentence may be thousands of characters long


def _shown(texts: Sequence[str]) -> list[str]:
    """Tokens and n-grams as plotly shows them: the user's text, never plotly's HTML ("<pad>" stays visible)."""
    return [as_plotly_text(t, limit=_TOKEN_CHARS) for t in texts]


def _cell(columns: int, *, smallest: float = 6.0, largest: float = 56.0) -> float:
    """Screen pixels per column so `columns` columns fill about 620 px, within [smallest, largest]."""
    return float(np.clip(_PLOT_WIDTH / max(columns, 1), smallest, largest))


def _bound(values: np.ndarray) -> float:
    """Half-width of a colour range symmetric around 0 that holds every finite value (1 if all are 0)."""
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def _tick_step(count: int, most: int = 40) -> int:
    """Label every n-th column so that at most `most` labels are drawn (hover still names every one)."""
    return max(1, -(-count // most))


_SMALLEST_FONT = 7      # below this a token written in its cell cannot be read
_TICK_FONT = 9          # rotated token names under the axis, when the cells are too narrow for them
_TICK_CHARS = 12        # longer token names are shortened under the axis (hover shows them whole)


def _sentence_cell(tokens: Sequence[str]) -> float:
    """Pixels per token column, the same in every sentence figure (so their columns line up)."""
    return _cell(len(tokens), smallest=4, largest=60)


def _tokens_fit_cells(tokens: Sequence[str]) -> bool:
    """Whether the longest token, written in its cell at the smallest readable size, stays inside it.

    When it does not (a long sentence makes the cells narrow), the tokens are named under
    the axis instead, rotated, where they cannot run into each other.
    """
    longest = max((len(t) for t in tokens), default=1)
    return _sentence_cell(tokens) >= 0.62 * _SMALLEST_FONT * max(longest, 1)


def _short(token: str) -> str:
    return token if len(token) <= _TICK_CHARS else token[:_TICK_CHARS - 1] + "…"


# The x axis of a sentence figure (plot_winning_ngrams, plot_token_attributions): both take these words.
_AXIS_LABELS = {"positions": "token position", "tokens": "token (hover for each)",
                "tokens_sampled": "token, 1 in {step} named (hover for each)"}


def _token_axis(fig: go.Figure, tokens: Sequence[str], words: Mapping[str, str]) -> None:
    """x = token position 0 .. L-1, the same range and ticks in every sentence figure (so figures line up).

    The ticks are positions when the tokens are written in their cells, else the tokens
    themselves, rotated, one every few columns so that neighbouring labels never overlap.
    """
    if _tokens_fit_cells(tokens):
        positions = list(range(0, len(tokens), _tick_step(len(tokens))))
        fig.update_xaxes(tickmode="array", tickvals=positions, ticktext=[str(p) for p in positions],
                         title_text=words["positions"])
    else:
        # one label per 1.3 font sizes of width: rotated labels stand side by side without touching
        step = max(_tick_step(len(tokens)), int(np.ceil(1.3 * _TICK_FONT / _sentence_cell(tokens))))
        positions = list(range(0, len(tokens), step))
        title = words["tokens"] if step == 1 else words["tokens_sampled"].format(step=step)
        fig.update_xaxes(tickmode="array", tickvals=positions, ticktext=[_short(tokens[p]) for p in positions],
                         tickangle=-90, tickfont_size=_TICK_FONT, title_text=title)
    fig.update_xaxes(range=[-0.5, len(tokens) - 0.5], showgrid=False, zeroline=False, automargin=False)


def _axis_depth(tokens: Sequence[str]) -> int:
    """Pixels under the plot area that the token axis (tick labels and title) needs."""
    if _tokens_fit_cells(tokens):
        return 42
    longest = min(max((len(t) for t in tokens), default=1), _TICK_CHARS)
    return int(34 + 0.62 * _TICK_FONT * longest)


def _cell_texts(tokens: Sequence[str]) -> list[str]:
    """The tokens to write in their cells: all of them, or none when the cells are too narrow to hold them."""
    return [str(t) for t in tokens] if _tokens_fit_cells(tokens) else [""] * len(tokens)


def _hover(template: str, **points: object) -> str:
    """A hover template from a figure's words, the {names} put in (plotly's %{...} placeholders mostly)."""
    return template.format(**points) + "<extra></extra>"


def _font_for(cell: float, texts: Sequence[str]) -> int:
    """A cell-text size that lets the longest text fit a cell of `cell` pixels (about 0.6 em per character)."""
    longest = max((len(t) for t in texts), default=1)
    return int(np.clip(cell / (0.62 * max(longest, 1)), _SMALLEST_FONT, 13))


# --- the input matrix --------------------------------------------------------------------------

EMBEDDING_MATRIX_LABELS = {
    "title": "The input: {tokens} tokens × {dimensions} embedding dimensions",
    "x": "embedding dimension",
    "colorbar": "value",
    "hover": "{token} (token {position})<br>dimension {dimension}<br>value {value}",
}


def plot_embedding_matrix(tokens: Sequence[str], embeddings: np.ndarray, *,
                          labels: Mapping[str, str] | None = None) -> go.Figure:
    """The sentence as the N x K matrix a TextCNN reads: a row per token (top to bottom), a column per dimension.

    Diverging colours symmetric around 0 (red negative, blue positive); square cells;
    hover shows token, position, dimension and value. `labels` over EMBEDDING_MATRIX_LABELS.
    """
    words = chosen_labels(EMBEDDING_MATRIX_LABELS, labels)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    tokens = _shown(tokens)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(tokens) or 0 in embeddings.shape:
        raise ValueError(f"embeddings must have shape (N, K) with N = {len(tokens)} tokens and K >= 1, "
                         f"not {embeddings.shape}")
    n, k = embeddings.shape
    bound = _bound(embeddings)
    hover_tokens = np.repeat(np.array(tokens, dtype=object)[:, None], k, axis=1)
    fig = go.Figure(go.Heatmap(
        z=embeddings, x=np.arange(k), y=np.arange(n), text=hover_tokens, colorscale="RdBu", zmid=0.0,
        zmin=-bound, zmax=bound, colorbar=dict(title=dict(text=words["colorbar"]), thickness=12),
        hovertemplate=_hover(words["hover"], token="%{text}", position="%{y}", dimension="%{x}", value="%{z:.4g}")))
    step = _tick_step(n, 60)
    rows = list(range(0, n, step))
    fig.update_yaxes(tickmode="array", tickvals=rows, ticktext=[tokens[i] for i in rows], autorange="reversed",
                     scaleanchor="x", constrain="domain", showgrid=False, zeroline=False)
    fig.update_xaxes(title_text=words["x"], constrain="domain", showgrid=False, zeroline=False)
    # Square cells at most 24 px; a long sentence shrinks them so the figure stays under ~1,400 px.
    unit = min(24.0, _PLOT_WIDTH / k, 1300 / n)
    fig.update_layout(title=dict(text=words["title"].format(tokens=n, dimensions=k), font_size=13),
                      height=int(110 + unit * n), margin=dict(l=90, r=10, t=45, b=50), plot_bgcolor="white")
    return fig


# --- n-gram maps and 1-max pooling -------------------------------------------------------------

NGRAM_ACTIVATIONS_LABELS = {
    "title": "{filters} filters of width {width} on each {width}-gram",
    "silent": " · {silent} silent (0 everywhere: no winner)",
    "y": "filter",
    "hover": "filter {filter}<br>“{ngram}” (position {position})<br>activation {value}",
    "kept": "kept by 1-max pooling",
    "kept_hover": "filter {filter} keeps “{ngram}”<br>pooled value {value}",
    "tie": "a tie: the same maximum",
    "tie_hover": "filter {filter}: “{ngram}” ties at the maximum {value}<br>(pooling keeps this value whichever "
                 "n-gram it picks)",
}


def plot_ngram_activations(acts: NgramActivations, width_index: int, *,
                           labels: Mapping[str, str] | None = None) -> go.Figure:
    """Filters x positions heatmap of one width's relu(conv) values; x labels are the n-grams; winners circled.

    The circle on each row marks the n-gram that 1-max pooling keeps for that filter
    (its value is the pooled one). Where other n-grams reach the same maximum (a tie),
    they get a small red cross: pooling keeps the same value whichever it picks. A
    silent filter (0 everywhere) gets no circle: it has no winner. Hover names filter,
    n-gram, position and value. The axes show the real filters and positions only.
    `labels` over NGRAM_ACTIVATIONS_LABELS.
    """
    words = chosen_labels(NGRAM_ACTIVATIONS_LABELS, labels)
    maps = np.asarray(acts.activations[width_index], dtype=np.float32)
    width = acts.widths[width_index]
    texts = _shown(acts.ngram_texts(width_index))
    filters, positions = maps.shape
    top = float(maps.max()) if maps.size and maps.max() > 0 else 1.0
    cell_text = np.repeat(np.array(texts, dtype=object)[None, :], filters, axis=0)
    winners = np.asarray(acts.winners[width_index])
    pooled = np.asarray(acts.pooled[width_index])
    ties = np.asarray(acts.ties(width_index))
    fired = np.flatnonzero(ties.any(axis=1))           # filters with a winner: pooled value above 0
    ties[fired, winners[fired]] = False                # the circled one is not drawn again as a tie
    tie_rows, tie_cols = np.nonzero(ties)
    texts_array = np.array(texts, dtype=object)
    size = max(6.0, 0.6 * _cell(positions, largest=40))
    fig = go.Figure([
        go.Heatmap(z=maps, x=np.arange(positions), y=np.arange(filters), text=cell_text, colorscale="Blues",
                   zmin=0.0, zmax=top, xgap=1, ygap=1, colorbar=dict(title=dict(text="relu(conv)"), thickness=12),
                   hovertemplate=_hover(words["hover"], filter="%{y}", ngram="%{text}", position="%{x}",
                                        value="%{z:.4g}")),
        go.Scatter(x=winners[fired], y=fired, mode="markers", name=words["kept"], showlegend=True,
                   marker=dict(symbol="circle-open", size=size, color="#d62728", line_width=2),
                   customdata=np.stack([texts_array[winners[fired]], pooled[fired]], axis=1).reshape(-1, 2),
                   hovertemplate=_hover(words["kept_hover"], filter="%{y}", ngram="%{customdata[0]}",
                                        value="%{customdata[1]:.4g}")),
        go.Scatter(x=tie_cols, y=tie_rows, mode="markers", name=words["tie"],
                   showlegend=bool(len(tie_rows)),
                   marker=dict(symbol="x-thin-open", size=0.6 * size, color="#d62728", line_width=2),
                   customdata=np.stack([texts_array[tie_cols], pooled[tie_rows]], axis=1).reshape(-1, 2),
                   hovertemplate=_hover(words["tie_hover"], filter="%{y}", ngram="%{customdata[0]}",
                                        value="%{customdata[1]:.4g}")),
    ])
    step = _tick_step(positions)
    ticks = list(range(0, positions, step))
    fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=[texts[p] for p in ticks], tickangle=-45,
                     range=[-0.5, positions - 0.5], showgrid=False, zeroline=False, constrain="domain")
    # An explicit range: autorange would pad around the markers and show rows -1 and F that do not exist.
    rows = list(range(0, filters, _tick_step(filters, 32)))
    fig.update_yaxes(title_text=words["y"], range=[filters - 0.5, -0.5], tickmode="array", tickvals=rows,
                     ticktext=[str(r) for r in rows], scaleanchor="x", constrain="domain", showgrid=False,
                     zeroline=False)
    unit = min(_cell(positions, largest=40), 1200 / filters)
    longest = max((len(t) for t in texts), default=1)
    silent = filters - len(fired)
    title = words["title"].format(filters=filters, width=width)
    if silent:
        title += words["silent"].format(silent=silent)
    fig.update_layout(
        title=dict(text=title, font_size=13),
        height=int(100 + unit * filters + 5.5 * min(longest, 40)), plot_bgcolor="white",
        margin=dict(l=50, r=10, t=45, b=10), showlegend=True,
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    return fig


POOLED_VECTOR_LABELS = {
    "title": "1-max pooling: {values} values, one per filter",
    "x": "position in the pooled vector (the linear head's input)",
    "y": "1-max pooled value",
    "width": "width {width}",
    "hover": "width {width}, filter {filter}<br>“{ngram}”<br>pooled {value}",
}


def plot_pooled_vector(acts: NgramActivations, *, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Bars of the pooled vector the linear head reads, in the model's order, a colour per filter width.

    Hover names width, filter, the winning n-gram and its value. `labels` over POOLED_VECTOR_LABELS.
    """
    words = chosen_labels(POOLED_VECTOR_LABELS, labels)
    fig = go.Figure()
    offset = 0
    vector = np.asarray(acts.pooled_vector, dtype=np.float32)
    for i, width in enumerate(acts.widths):
        filters = len(acts.pooled[i])
        ngrams = _shown([acts.winning_ngram(i, f)[2] for f in range(filters)])
        fig.add_trace(go.Bar(
            x=np.arange(offset, offset + filters), y=vector[offset:offset + filters],
            name=words["width"].format(width=width),
            marker_color=_WIDTH_COLOURS[i % len(_WIDTH_COLOURS)],
            customdata=np.stack([np.arange(filters), np.array(ngrams, dtype=object)], axis=1),
            hovertemplate=_hover(words["hover"], width=width, filter="%{customdata[0]}", ngram="%{customdata[1]}",
                                 value="%{y:.4g}")))
        offset += filters
    fig.update_xaxes(title_text=words["x"], range=[-0.5, offset - 0.5],
                     showgrid=False)
    fig.update_yaxes(title_text=words["y"], rangemode="tozero")
    fig.update_layout(title=dict(text=words["title"].format(values=offset), font_size=13), height=320,
                      bargap=0.15, margin=dict(l=60, r=10, t=45, b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    return fig


WINNING_NGRAMS_LABELS = {
    "title": "The {width}-gram each filter keeps",
    "strongest": " (the {shown} strongest of {total} filters)",
    "silent": "(silent: all n-grams give 0)",
    "hover": "filter {filter} keeps “{ngram}”<br>pooled value {value}<br>token {position}: {token}",
    **_AXIS_LABELS,
}


def plot_winning_ngrams(acts: NgramActivations, width_index: int, *, max_filters: int = 16,
                        labels: Mapping[str, str] | None = None) -> go.Figure:
    """For each filter of one width, the sentence with the n-gram that 1-max pooling kept highlighted.

    A row per filter (the `max_filters` with the largest pooled values, strongest
    first), a column per token at x = token position, the token written in each cell;
    1 inside the winning window, 0 elsewhere. A filter whose pooled value is 0 is
    silent (every n-gram ties at 0, so none is highlighted). Same x axis as
    `plot_token_attributions` for the same sentence. `labels` over WINNING_NGRAMS_LABELS.
    """
    words = chosen_labels(WINNING_NGRAMS_LABELS, labels)
    if max_filters < 1:
        raise ValueError(f"max_filters must be at least 1, not {max_filters}")
    tokens = _shown(acts.tokens)
    length = len(tokens)
    width = acts.widths[width_index]
    pooled = np.asarray(acts.pooled[width_index], dtype=np.float64)
    total = len(pooled)
    chosen = np.argsort(-pooled, kind="stable")[:max_filters]  # strongest first, lower filter first on ties
    z = np.zeros((len(chosen), length), dtype=np.float32)
    ngrams = []
    for row, f in enumerate(chosen):
        start, end, text = acts.winning_ngram(width_index, int(f))
        if pooled[f] > 0:
            z[row, start:end] = 1.0
        ngrams.append(as_plotly_text(text, limit=_TOKEN_CHARS) if pooled[f] > 0 else words["silent"])
    row_names = [f"f{f} · {pooled[f]:.2g}" for f in chosen]
    cell_text = np.array([_cell_texts(tokens)] * len(chosen), dtype=object).reshape(len(chosen), length)
    hover_tokens = np.array([tokens] * len(chosen), dtype=object).reshape(len(chosen), length)
    custom = np.empty((len(chosen), length, 4), dtype=object)
    custom[..., 0] = chosen[:, None]
    custom[..., 1] = np.array(ngrams, dtype=object)[:, None]
    custom[..., 2] = pooled[chosen][:, None]
    custom[..., 3] = hover_tokens
    cell = _sentence_cell(tokens)
    fig = go.Figure(go.Heatmap(
        z=z, x=np.arange(length), y=np.arange(len(chosen)), text=cell_text, texttemplate="%{text}",
        textfont=dict(size=_font_for(cell, tokens)), customdata=custom, colorscale=[[0, "#f7f7f7"], [1, "#fdae61"]],
        zmin=0.0, zmax=1.0, showscale=False, xgap=1, ygap=1,
        hovertemplate=_hover(words["hover"], filter="%{customdata[0]}", ngram="%{customdata[1]}",
                             value="%{customdata[2]:.4g}", position="%{x}", token="%{customdata[3]}")))
    _token_axis(fig, tokens, words)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(chosen))), ticktext=row_names, autorange="reversed",
                     showgrid=False, zeroline=False, automargin=False)
    title = words["title"].format(width=width)
    if len(chosen) < total:
        title += words["strongest"].format(shown=len(chosen), total=total)
    row_height = float(np.clip(cell * 0.6, 18, 30))
    depth = _axis_depth(tokens)
    fig.update_layout(title=dict(text=title, font_size=13), height=int(55 + depth + row_height * len(chosen)),
                      plot_bgcolor="white", margin=dict(**_SENTENCE_MARGIN, t=45, b=depth + 3))
    return fig
