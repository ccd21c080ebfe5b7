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

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

if TYPE_CHECKING:  # the dataclasses only: plots never import torch
    from cnnviz.text_analysis import NgramActivations, TokenAttribution, TopNgram

_FONT = 11
_PLOT_WIDTH = 620  # pixels of plotting area in a ~700 px wide column
_WIDTH_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_SENTENCE_MARGIN = dict(l=90, r=10)  # the same plot area in every sentence figure, so columns line up
_METHOD_NAMES = {"integrated_gradients": "Integrated gradients", "occlusion": "Occlusion"}


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


def _token_axis(fig: go.Figure, tokens: Sequence[str]) -> None:
    """x = token position 0 .. L-1, the same range and ticks in every sentence figure (so figures line up)."""
    positions = list(range(0, len(tokens), _tick_step(len(tokens))))
    fig.update_xaxes(range=[-0.5, len(tokens) - 0.5], tickmode="array", tickvals=positions,
                     ticktext=[str(p) for p in positions], showgrid=False, zeroline=False,
                     title_text="token position")


def _font_for(cell: float, texts: Sequence[str]) -> int:
    """A cell-text size that lets the longest text fit a cell of `cell` pixels (about 0.6 em per character)."""
    longest = max((len(t) for t in texts), default=1)
    return int(np.clip(cell / (0.62 * max(longest, 1)), 7, 13))


# --- the input matrix --------------------------------------------------------------------------

def plot_embedding_matrix(tokens: Sequence[str], embeddings: np.ndarray) -> go.Figure:
    """The sentence as the N x K matrix a TextCNN reads: a row per token (top to bottom), a column per dimension.

    Diverging colours symmetric around 0 (red negative, blue positive); square cells;
    hover shows token, position, dimension and value.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    tokens = [str(t) for t in tokens]
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
    (its value is the pooled one). Hover names filter, n-gram, position and value.
    """
    maps = np.asarray(acts.activations[width_index], dtype=np.float32)
    width = acts.widths[width_index]
    texts = acts.ngram_texts(width_index)
    filters, positions = maps.shape
    top = float(maps.max()) if maps.size and maps.max() > 0 else 1.0
    cell_text = np.repeat(np.array(texts, dtype=object)[None, :], filters, axis=0)
    winners = np.asarray(acts.winners[width_index])
    pooled = np.asarray(acts.pooled[width_index])
    fig = go.Figure([
        go.Heatmap(z=maps, x=np.arange(positions), y=np.arange(filters), text=cell_text, colorscale="Blues",
                   zmin=0.0, zmax=top, xgap=1, ygap=1, colorbar=dict(title=dict(text="relu(conv)"), thickness=12),
                   hovertemplate="filter %{y}<br>“%{text}” (position %{x})<br>activation %{z:.4g}<extra></extra>"),
        go.Scatter(x=winners, y=np.arange(filters), mode="markers", name="kept by 1-max pooling", showlegend=True,
                   marker=dict(symbol="circle-open", size=max(6.0, 0.6 * _cell(positions, largest=40)),
                               color="#d62728", line_width=2),
                   customdata=np.stack([np.array(texts, dtype=object)[winners], pooled], axis=1),
                   hovertemplate="filter %{y} keeps “%{customdata[0]}”<br>pooled value %{customdata[1]:.4g}"
                                 "<extra></extra>"),
    ])
    step = _tick_step(positions)
    ticks = list(range(0, positions, step))
    fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=[texts[p] for p in ticks], tickangle=-45,
                     range=[-0.5, positions - 0.5], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(title_text="filter", autorange="reversed", scaleanchor="x", constrain="domain",
                     showgrid=False, zeroline=False, dtick=_tick_step(filters, 32))
    unit = min(_cell(positions, largest=40), 1200 / filters)
    longest = max((len(t) for t in texts), default=1)
    fig.update_layout(
        title=dict(text=f"{filters} filters of width {width} on each {width}-gram", font_size=13),
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
        ngrams = [acts.winning_ngram(i, f)[2] for f in range(filters)]
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
    tokens = list(acts.tokens)
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
        ngrams.append(text if pooled[f] > 0 else "(silent: all n-grams give 0)")
    labels = [f"f{f} · {pooled[f]:.2g}" for f in chosen]
    cell_text = np.array([tokens] * len(chosen), dtype=object).reshape(len(chosen), length)
    custom = np.empty((len(chosen), length, 3), dtype=object)
    custom[..., 0] = chosen[:, None]
    custom[..., 1] = np.array(ngrams, dtype=object)[:, None]
    custom[..., 2] = pooled[chosen][:, None]
    cell = _cell(length, smallest=4, largest=60)
    fig = go.Figure(go.Heatmap(
        z=z, x=np.arange(length), y=np.arange(len(chosen)), text=cell_text, texttemplate="%{text}",
        textfont=dict(size=_font_for(cell, tokens)), customdata=custom, colorscale=[[0, "#f7f7f7"], [1, "#fdae61"]],
        zmin=0.0, zmax=1.0, showscale=False, xgap=1, ygap=1,
        hovertemplate="filter %{customdata[0]} keeps “%{customdata[1]}”<br>pooled value %{customdata[2]:.4g}"
                      "<br>token %{x}: %{text}<extra></extra>"))
    _token_axis(fig, tokens)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(chosen))), ticktext=labels, autorange="reversed",
                     showgrid=False, zeroline=False, automargin=False)
    title = f"The {width}-gram each filter keeps"
    if len(chosen) < total:
        title += f" (the {len(chosen)} strongest of {total} filters)"
    row_height = float(np.clip(cell * 0.6, 18, 30))
    fig.update_layout(title=dict(text=title, font_size=13), height=int(100 + row_height * len(chosen)),
                      plot_bgcolor="white", margin=dict(**_SENTENCE_MARGIN, t=45, b=45))
    return fig


# --- attributions and top n-grams --------------------------------------------------------------

def plot_token_attributions(attr: TokenAttribution, *, class_name: str | None = None) -> go.Figure:
    """The sentence as one row of coloured cells, each token written in its cell, coloured by its attribution.

    Blue pushes the target class's logit up, red pushes it down; the colour range is
    symmetric around 0. The title names the method and the target and, for integrated
    gradients, the completeness check: sum of attributions, logit difference to the
    all-padding baseline, the convergence delta and the steps used.
    """
    values = np.asarray(attr.attributions, dtype=np.float32).reshape(-1)
    tokens = list(attr.tokens)
    if len(tokens) != len(values):
        raise ValueError(f"{len(values)} attributions for {len(tokens)} tokens")
    length = len(tokens)
    bound = _bound(values)
    target = f"class {attr.target}" + (f" ({html.escape(class_name)})" if class_name else "")
    method = _METHOD_NAMES.get(attr.method, attr.method)
    title = f"{method} for {target}: Σ = {values.sum():.3g}"
    if attr.prediction_difference is not None:
        title += f", logit(sentence) − logit(all &lt;pad&gt;) = {attr.prediction_difference:.3g}"
    if attr.delta is not None:
        title += f"<br>convergence δ = {attr.delta:.2g}"
        if attr.n_steps is not None:
            title += f" with {attr.n_steps} steps"
        if attr.prediction_difference is not None and attr.converged is False:
            title += " (NOT converged: do not trust small differences)"
    elif attr.method == "occlusion":
        title += "<br>drop in the logit when tokens are replaced by &lt;pad&gt;"
    cell = _cell(length, smallest=4, largest=60)
    fig = go.Figure(go.Heatmap(
        z=values[None, :], x=np.arange(length), y=[0], text=[tokens], texttemplate="%{text}",
        textfont=dict(size=_font_for(cell, tokens)), colorscale="RdBu", zmid=0.0, zmin=-bound, zmax=bound,
        # A horizontal colour bar below keeps the plot area as wide as plot_winning_ngrams' (columns line up).
        xgap=1, colorbar=dict(orientation="h", x=0.5, xanchor="center", y=-1.1, yanchor="top", len=0.7,
                              thickness=10, title=dict(text=f"red: against {target} · blue: for it", side="top")),
        hovertemplate="token %{x}: %{text}<br>attribution %{z:.4g}<extra></extra>"))
    _token_axis(fig, tokens)
    fig.update_yaxes(visible=False, range=[-0.5, 0.5], automargin=False)
    row = float(np.clip(cell * 0.8, 26, 48))
    fig.update_layout(title=dict(text=title, font_size=12), height=int(row + 195), plot_bgcolor="white",
                      margin=dict(**_SENTENCE_MARGIN, t=60, b=135))
    return fig


def plot_top_ngrams(items: Sequence[TopNgram]) -> go.Figure:
    """Horizontal bars of the n-grams a filter likes most over a corpus, strongest on top.

    Hover shows the activation and where it was reached (example, start).
    """
    items = list(items)
    n = len(items)
    fig = go.Figure(go.Bar(
        x=[item.activation for item in items], y=np.arange(n), orientation="h", marker_color="#4a90c2",
        customdata=[[item.text, item.example, item.start] for item in items],
        text=[f"{item.activation:.3g}" for item in items], textposition="outside", cliponaxis=False,
        hovertemplate="“%{customdata[0]}”<br>activation %{x:.4g}<br>example %{customdata[1]}, "
                      "from token %{customdata[2]}<extra></extra>"))
    fig.update_yaxes(tickmode="array", tickvals=list(range(n)), ticktext=[item.text for item in items],
                     autorange="reversed", showgrid=False)
    fig.update_xaxes(title_text="relu(conv): the filter's activation", rangemode="tozero")
    if not items:
        fig.add_annotation(text="no n-grams (empty corpus)", showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper", font_size=_FONT + 2)
    fig.update_layout(height=100 + 26 * max(n, 2), margin=dict(l=10, r=40, t=30, b=45))
    fig.update_yaxes(automargin=True)
    return fig
