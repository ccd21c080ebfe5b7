"""Figures of a TextCNN at work: the embedding matrix, n-gram maps, 1-max pooling and token attributions.

Every figure of one sentence puts token (or n-gram) number p at x = p, so the
winning n-grams and the attributions of a sentence line up column for column when
shown one above the other (`plot_winning_ngrams`, `plot_token_attributions`).
Category axes are avoided on purpose: plotly merges equal labels, and a sentence
may repeat a word. Signed values use one diverging scale symmetric around 0
(red negative, blue positive); relu activations, which are never negative, a
sequential one starting at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # the dataclasses only: plots never import torch
    from cnnviz.analysis.ngrams import NgramActivations, TokenAttribution, TopNgram

_FONT = 11
_PLOT_WIDTH = 620  # pixels of plotting area in a ~700 px wide column
_WIDTH_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_SENTENCE_MARGIN = dict(l=90, r=10)  # the same plot area in every sentence figure, so columns line up
_METHOD_NAMES = {"integrated_gradients": "Integrated gradients", "occlusion": "Occlusion"}
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


def _token_axis(fig: go.Figure, tokens: Sequence[str]) -> None:
    """x = token position 0 .. L-1, the same range and ticks in every sentence figure (so figures line up).

    The ticks are positions when the tokens are written in their cells, else the tokens
    themselves, rotated, one every few columns so that neighbouring labels never overlap.
    """
    if _tokens_fit_cells(tokens):
        positions = list(range(0, len(tokens), _tick_step(len(tokens))))
        fig.update_xaxes(tickmode="array", tickvals=positions, ticktext=[str(p) for p in positions],
                         title_text="token position")
    else:
        # one label per 1.3 font sizes of width: rotated labels stand side by side without touching
        step = max(_tick_step(len(tokens)), int(np.ceil(1.3 * _TICK_FONT / _sentence_cell(tokens))))
        positions = list(range(0, len(tokens), step))
        every = "" if step == 1 else f", 1 in {step} named"
        fig.update_xaxes(tickmode="array", tickvals=positions, ticktext=[_short(tokens[p]) for p in positions],
                         tickangle=-90, tickfont_size=_TICK_FONT, title_text=f"token{every} (hover for each)")
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


def _font_for(cell: float, texts: Sequence[str]) -> int:
    """A cell-text size that lets the longest text fit a cell of `cell` pixels (about 0.6 em per character)."""
    longest = max((len(t) for t in texts), default=1)
    return int(np.clip(cell / (0.62 * max(longest, 1)), _SMALLEST_FONT, 13))


# --- the input matrix --------------------------------------------------------------------------

def plot_embedding_matrix(tokens: Sequence[str], embeddings: np.ndarray) -> go.Figure:
    """The sentence as the N x K matrix a TextCNN reads: a row per token (top to bottom), a column per dimension.

    Diverging colours symmetric around 0 (red negative, blue positive); square cells;
    hover shows token, position, dimension and value.
    """
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
        zmin=-bound, zmax=bound, colorbar=dict(title=dict(text="value"), thickness=12),
        hovertemplate="%{text} (token %{y})<br>dimension %{x}<br>value %{z:.4g}<extra></extra>"))
    step = _tick_step(n, 60)
    rows = list(range(0, n, step))
    fig.update_yaxes(tickmode="array", tickvals=rows, ticktext=[tokens[i] for i in rows], autorange="reversed",
                     scaleanchor="x", constrain="domain", showgrid=False, zeroline=False)
    fig.update_xaxes(title_text="embedding dimension", constrain="domain", showgrid=False, zeroline=False)
    # Square cells at most 24 px; a long sentence shrinks them so the figure stays under ~1,400 px.
    unit = min(24.0, _PLOT_WIDTH / k, 1300 / n)
    fig.update_layout(title=dict(text=f"The input: {n} tokens × {k} embedding dimensions", font_size=13),
                      height=int(110 + unit * n), margin=dict(l=90, r=10, t=45, b=50), plot_bgcolor="white")
    return fig


# --- n-gram maps and 1-max pooling -------------------------------------------------------------

def plot_ngram_activations(acts: NgramActivations, width_index: int) -> go.Figure:
    """Filters x positions heatmap of one width's relu(conv) values; x labels are the n-grams; winners circled.

    The circle on each row marks the n-gram that 1-max pooling keeps for that filter
    (its value is the pooled one). Where other n-grams reach the same maximum (a tie),
    they get a small red cross: pooling keeps the same value whichever it picks. A
    silent filter (0 everywhere) gets no circle: it has no winner. Hover names filter,
    n-gram, position and value. The axes show the real filters and positions only.
    """
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
                   hovertemplate="filter %{y}<br>“%{text}” (position %{x})<br>activation %{z:.4g}<extra></extra>"),
        go.Scatter(x=winners[fired], y=fired, mode="markers", name="kept by 1-max pooling", showlegend=True,
                   marker=dict(symbol="circle-open", size=size, color="#d62728", line_width=2),
                   customdata=np.stack([texts_array[winners[fired]], pooled[fired]], axis=1).reshape(-1, 2),
                   hovertemplate="filter %{y} keeps “%{customdata[0]}”<br>pooled value %{customdata[1]:.4g}"
                                 "<extra></extra>"),
        go.Scatter(x=tie_cols, y=tie_rows, mode="markers", name="a tie: the same maximum",
                   showlegend=bool(len(tie_rows)),
                   marker=dict(symbol="x-thin-open", size=0.6 * size, color="#d62728", line_width=2),
                   customdata=np.stack([texts_array[tie_cols], pooled[tie_rows]], axis=1).reshape(-1, 2),
                   hovertemplate="filter %{y}: “%{customdata[0]}” ties at the maximum %{customdata[1]:.4g}"
                                 "<br>(pooling keeps this value whichever n-gram it picks)<extra></extra>"),
    ])
    step = _tick_step(positions)
    ticks = list(range(0, positions, step))
    fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=[texts[p] for p in ticks], tickangle=-45,
                     range=[-0.5, positions - 0.5], showgrid=False, zeroline=False, constrain="domain")
    # An explicit range: autorange would pad around the markers and show rows -1 and F that do not exist.
    rows = list(range(0, filters, _tick_step(filters, 32)))
    fig.update_yaxes(title_text="filter", range=[filters - 0.5, -0.5], tickmode="array", tickvals=rows,
                     ticktext=[str(r) for r in rows], scaleanchor="x", constrain="domain", showgrid=False,
                     zeroline=False)
    unit = min(_cell(positions, largest=40), 1200 / filters)
    longest = max((len(t) for t in texts), default=1)
    silent = filters - len(fired)
    title = f"{filters} filters of width {width} on each {width}-gram"
    if silent:
        title += f" · {silent} silent (0 everywhere: no winner)"
    fig.update_layout(
        title=dict(text=title, font_size=13),
        height=int(100 + unit * filters + 5.5 * min(longest, 40)), plot_bgcolor="white",
        margin=dict(l=50, r=10, t=45, b=10), showlegend=True,
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    return fig


def plot_pooled_vector(acts: NgramActivations) -> go.Figure:
    """Bars of the pooled vector the linear head reads, in the model's order, a colour per filter width.

    Hover names width, filter, the winning n-gram and its value.
    """
    fig = go.Figure()
    offset = 0
    vector = np.asarray(acts.pooled_vector, dtype=np.float32)
    for i, width in enumerate(acts.widths):
        filters = len(acts.pooled[i])
        ngrams = _shown([acts.winning_ngram(i, f)[2] for f in range(filters)])
        fig.add_trace(go.Bar(
            x=np.arange(offset, offset + filters), y=vector[offset:offset + filters], name=f"width {width}",
            marker_color=_WIDTH_COLOURS[i % len(_WIDTH_COLOURS)],
            customdata=np.stack([np.arange(filters), np.array(ngrams, dtype=object)], axis=1),
            hovertemplate=f"width {width}, filter %{{customdata[0]}}<br>“%{{customdata[1]}}”"
                          "<br>pooled %{y:.4g}<extra></extra>"))
        offset += filters
    fig.update_xaxes(title_text="position in the pooled vector (the linear head's input)", range=[-0.5, offset - 0.5],
                     showgrid=False)
    fig.update_yaxes(title_text="1-max pooled value", rangemode="tozero")
    fig.update_layout(title=dict(text=f"1-max pooling: {offset} values, one per filter", font_size=13), height=320,
                      bargap=0.15, margin=dict(l=60, r=10, t=45, b=50),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    return fig


def plot_winning_ngrams(acts: NgramActivations, width_index: int, *, max_filters: int = 16) -> go.Figure:
    """For each filter of one width, the sentence with the n-gram that 1-max pooling kept highlighted.

    A row per filter (the `max_filters` with the largest pooled values, strongest
    first), a column per token at x = token position, the token written in each cell;
    1 inside the winning window, 0 elsewhere. A filter whose pooled value is 0 is
    silent (every n-gram ties at 0, so none is highlighted). Same x axis as
    `plot_token_attributions` for the same sentence.
    """
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
        ngrams.append(as_plotly_text(text, limit=_TOKEN_CHARS) if pooled[f] > 0 else "(silent: all n-grams give 0)")
    labels = [f"f{f} · {pooled[f]:.2g}" for f in chosen]
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
        hovertemplate="filter %{customdata[0]} keeps “%{customdata[1]}”<br>pooled value %{customdata[2]:.4g}"
                      "<br>token %{x}: %{customdata[3]}<extra></extra>"))
    _token_axis(fig, tokens)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(chosen))), ticktext=labels, autorange="reversed",
                     showgrid=False, zeroline=False, automargin=False)
    title = f"The {width}-gram each filter keeps"
    if len(chosen) < total:
        title += f" (the {len(chosen)} strongest of {total} filters)"
    row_height = float(np.clip(cell * 0.6, 18, 30))
    depth = _axis_depth(tokens)
    fig.update_layout(title=dict(text=title, font_size=13), height=int(55 + depth + row_height * len(chosen)),
                      plot_bgcolor="white", margin=dict(**_SENTENCE_MARGIN, t=45, b=depth + 3))
    return fig


# --- attributions and top n-grams --------------------------------------------------------------

def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of True in a 1-d bool mask."""
    runs, first = [], None
    for i, flag in enumerate([*mask.tolist(), False]):
        if flag and first is None:
            first = i
        elif not flag and first is not None:
            runs.append((first, i - 1))
            first = None
    return runs


def plot_token_attributions(attr: TokenAttribution, *, class_name: str | None = None) -> go.Figure:
    """The sentence as one row of coloured cells, each token written in its cell, coloured by its attribution.

    Blue pushes the target class's logit up, red pushes it down; the colour range is
    symmetric around 0. The title names the method and the target and, for integrated
    gradients, the completeness check: sum of attributions, logit difference to the
    all-padding baseline, the convergence delta (also relative to that difference) and
    the steps used.

    Pad positions the model added (`attr.padding`) are not words: their cells are left
    empty and marked "padding", and they count neither in the colour range nor in Σ
    (with occlusion windows wider than one word they would otherwise get the drops of
    the words next to them). Integrated gradients gives them exactly 0, so Σ is the same.
    """
    values = np.asarray(attr.attributions, dtype=np.float32).reshape(-1)
    tokens = _shown(attr.tokens)
    if len(tokens) != len(values):
        raise ValueError(f"{len(values)} attributions for {len(tokens)} tokens")
    length = len(tokens)
    padding = np.zeros(length, dtype=bool) if attr.padding is None else np.asarray(attr.padding, dtype=bool)
    if padding.shape != (length,):
        raise ValueError(f"padding must mark each of the {length} tokens, not have shape {padding.shape}")
    shown = np.where(padding, np.nan, values)  # NaN: plotly leaves the cell empty
    words = values[~padding]
    bound = _bound(words)
    target = f"class {attr.target}" + (f" ({as_plotly_text(class_name)})" if class_name else "")
    method = _METHOD_NAMES.get(attr.method, attr.method)
    title = f"{method} for {target}: Σ{' over the words' if padding.any() else ''} = {words.sum():.3g}"
    if attr.prediction_difference is not None:
        title += f", logit(sentence) − logit(all &lt;pad&gt;) = {attr.prediction_difference:.3g}"
    if attr.delta is not None:
        title += f"<br>convergence δ = {attr.delta:.2g}"
        relative = attr.relative_delta
        if relative is not None and np.isfinite(relative) and attr.prediction_difference:
            title += f" ({relative:.2%} of the difference)"
        if attr.n_steps is not None:
            title += f" with {attr.n_steps} steps"
        if attr.prediction_difference is not None and attr.converged is False:
            title += " (NOT converged: do not trust small differences)"
    elif attr.method == "occlusion":
        title += "<br>drop in the logit when tokens are replaced by &lt;pad&gt;"
    cell = _sentence_cell(tokens)
    texts = [("" if pad else text) for text, pad in zip(_cell_texts(tokens), padding, strict=True)]
    fig = go.Figure(go.Heatmap(
        z=shown[None, :], x=np.arange(length), y=[0], text=[texts], customdata=[tokens], texttemplate="%{text}",
        textfont=dict(size=_font_for(cell, [t for t, pad in zip(tokens, padding, strict=True) if not pad])),
        colorscale="RdBu", zmid=0.0, zmin=-bound, zmax=bound, xgap=1,
        # A horizontal colour bar below keeps the plot area as wide as plot_winning_ngrams' (columns line up).
        colorbar=dict(orientation="h", x=0.5, xanchor="center", yanchor="top", len=0.7, thickness=10,
                      title=dict(text=f"red: against {target} · blue: for it", side="top")),
        hovertemplate="token %{x}: %{customdata}<br>attribution %{z:.4g}<extra></extra>"))
    for first, last in _runs(padding):
        fig.add_annotation(x=(first + last) / 2, y=0, text="padding<br>(not a word)" if last > first else "padding",
                           showarrow=False, font=dict(size=10, color="#888888"))
    _token_axis(fig, tokens)
    fig.update_yaxes(visible=False, range=[-0.5, 0.5], automargin=False)
    row = float(np.clip(cell * 0.8, 26, 48))
    # The colour bar sits at the figure's bottom edge, below the margin that the token axis
    # needs, so its title cannot run into the axis labels however long the tokens are.
    depth, bar = _axis_depth(tokens) + 6, 58
    height = int(row + 60 + depth + bar)
    fig.update_traces(colorbar=dict(yref="container", y=4 / height, yanchor="bottom"))
    fig.update_layout(title=dict(text=title, font_size=12), height=height,
                      plot_bgcolor="white", margin=dict(**_SENTENCE_MARGIN, t=60, b=depth + bar))
    return fig


def plot_top_ngrams(items: Sequence[TopNgram]) -> go.Figure:
    """Horizontal bars of the n-grams a filter likes most over a corpus, strongest on top.

    Hover shows the activation and where it was reached (example, start).
    """
    items = list(items)
    n = len(items)
    texts = _shown([item.text for item in items])
    fig = go.Figure(go.Bar(
        x=[item.activation for item in items], y=np.arange(n), orientation="h", marker_color="#4a90c2",
        customdata=[[text, item.example, item.start] for text, item in zip(texts, items, strict=True)],
        text=[f"{item.activation:.3g}" for item in items], textposition="outside", cliponaxis=False,
        hovertemplate="“%{customdata[0]}”<br>activation %{x:.4g}<br>example %{customdata[1]}, "
                      "from token %{customdata[2]}<extra></extra>"))
    fig.update_yaxes(tickmode="array", tickvals=list(range(n)), ticktext=texts,
                     autorange="reversed", showgrid=False)
    fig.update_xaxes(title_text="relu(conv): the filter's activation", rangemode="tozero")
    if not items:
        fig.add_annotation(text="no n-grams (empty corpus)", showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper", font_size=_FONT + 2)
    fig.update_layout(height=100 + 26 * max(n, 2), margin=dict(l=10, r=40, t=30, b=45))
    fig.update_yaxes(automargin=True)
    return fig
