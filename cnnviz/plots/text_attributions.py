"""Figures of what a TextCNN's decision rests on: the attribution of each token, and the n-grams a filter
likes most over a corpus.

The attributions share the sentence's x axis with `plot_winning_ngrams` (cnnviz/plots/text.py):
token number p at x = p, the same plot area, so the two line up column for column. Each plot
function takes `labels` over its `<NAME>_LABELS` (English defaults) for its words in another language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from cnnviz.plots._common import chosen_labels
from cnnviz.plots.text import (
    _AXIS_LABELS,
    _FONT,
    _SENTENCE_MARGIN,
    _axis_depth,
    _bound,
    _cell_texts,
    _font_for,
    _hover,
    _sentence_cell,
    _shown,
    _token_axis,
)
from cnnviz.safe_text import as_plotly_text

if TYPE_CHECKING:  # the dataclasses only: plots never import torch
    from cnnviz.analysis.ngrams import TokenAttribution, TopNgram


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


TOKEN_ATTRIBUTIONS_LABELS = {
    "integrated_gradients": "Integrated gradients",
    "occlusion": "Occlusion",
    "target": "class {target}",
    "target_named": "class {target} ({name})",
    "title": "{method} for {target}: Σ = {total:.3g}",
    "title_padded": "{method} for {target}: Σ over the words = {total:.3g}",
    "difference": ", logit(sentence) − logit(all &lt;pad&gt;) = {difference:.3g}",
    "delta": "<br>convergence δ = {delta:.2g}",
    "share": " ({share:.2%} of the difference)",
    "steps": " with {steps} steps",
    "not_converged": " (NOT converged: do not trust small differences)",
    "occlusion_note": "<br>drop in the logit when tokens are replaced by &lt;pad&gt;",
    "colorbar": "red: against {target} · blue: for it",
    "hover": "token {position}: {token}<br>attribution {value}",
    "padding": "padding",
    "padding_run": "padding<br>(not a word)",
    **_AXIS_LABELS,
}


def plot_token_attributions(attr: TokenAttribution, *, class_name: str | None = None,
                            labels: Mapping[str, str] | None = None) -> go.Figure:
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
    `labels` over TOKEN_ATTRIBUTIONS_LABELS (a model reading characters may say so in
    "title_padded" and "padding_run").
    """
    words = chosen_labels(TOKEN_ATTRIBUTIONS_LABELS, labels)
    values = np.asarray(attr.attributions, dtype=np.float32).reshape(-1)
    tokens = _shown(attr.tokens)
    if len(tokens) != len(values):
        raise ValueError(f"{len(values)} attributions for {len(tokens)} tokens")
    length = len(tokens)
    padding = np.zeros(length, dtype=bool) if attr.padding is None else np.asarray(attr.padding, dtype=bool)
    if padding.shape != (length,):
        raise ValueError(f"padding must mark each of the {length} tokens, not have shape {padding.shape}")
    shown = np.where(padding, np.nan, values)  # NaN: plotly leaves the cell empty
    kept = values[~padding]
    bound = _bound(kept)
    target = (words["target_named"].format(target=attr.target, name=as_plotly_text(class_name)) if class_name
              else words["target"].format(target=attr.target))
    method = words.get(attr.method, attr.method)
    title = words["title_padded" if padding.any() else "title"].format(method=method, target=target,
                                                                        total=kept.sum())
    if attr.prediction_difference is not None:
        title += words["difference"].format(difference=attr.prediction_difference)
    if attr.delta is not None:
        title += words["delta"].format(delta=attr.delta)
        relative = attr.relative_delta
        if relative is not None and np.isfinite(relative) and attr.prediction_difference:
            title += words["share"].format(share=relative)
        if attr.n_steps is not None:
            title += words["steps"].format(steps=attr.n_steps)
        if attr.prediction_difference is not None and attr.converged is False:
            title += words["not_converged"]
    elif attr.method == "occlusion":
        title += words["occlusion_note"]
    cell = _sentence_cell(tokens)
    texts = [("" if pad else text) for text, pad in zip(_cell_texts(tokens), padding, strict=True)]
    fig = go.Figure(go.Heatmap(
        z=shown[None, :], x=np.arange(length), y=[0], text=[texts], customdata=[tokens], texttemplate="%{text}",
        textfont=dict(size=_font_for(cell, [t for t, pad in zip(tokens, padding, strict=True) if not pad])),
        colorscale="RdBu", zmid=0.0, zmin=-bound, zmax=bound, xgap=1,
        # A horizontal colour bar below keeps the plot area as wide as plot_winning_ngrams' (columns line up).
        colorbar=dict(orientation="h", x=0.5, xanchor="center", yanchor="top", len=0.7, thickness=10,
                      title=dict(text=words["colorbar"].format(target=target), side="top")),
        hovertemplate=_hover(words["hover"], position="%{x}", token="%{customdata}", value="%{z:.4g}")))
    for first, last in _runs(padding):
        fig.add_annotation(x=(first + last) / 2, y=0, text=words["padding_run" if last > first else "padding"],
                           showarrow=False, font=dict(size=10, color="#888888"))
    _token_axis(fig, tokens, words)
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


TOP_NGRAMS_LABELS = {
    "x": "relu(conv): the filter's activation",
    "hover": "“{ngram}”<br>activation {value}<br>example {example}, from token {start}",
    "empty": "no n-grams (empty corpus)",
}


def plot_top_ngrams(items: Sequence[TopNgram], *, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Horizontal bars of the n-grams a filter likes most over a corpus, strongest on top.

    Hover shows the activation and where it was reached (example, start). `labels` over TOP_NGRAMS_LABELS.
    """
    words = chosen_labels(TOP_NGRAMS_LABELS, labels)
    items = list(items)
    n = len(items)
    texts = _shown([item.text for item in items])
    fig = go.Figure(go.Bar(
        x=[item.activation for item in items], y=np.arange(n), orientation="h", marker_color="#4a90c2",
        customdata=[[text, item.example, item.start] for text, item in zip(texts, items, strict=True)],
        text=[f"{item.activation:.3g}" for item in items], textposition="outside", cliponaxis=False,
        hovertemplate=_hover(words["hover"], ngram="%{customdata[0]}", value="%{x:.4g}", example="%{customdata[1]}",
                             start="%{customdata[2]}")))
    fig.update_yaxes(tickmode="array", tickvals=list(range(n)), ticktext=texts,
                     autorange="reversed", showgrid=False)
    fig.update_xaxes(title_text=words["x"], rangemode="tozero")
    if not items:
        fig.add_annotation(text=words["empty"], showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper", font_size=_FONT + 2)
    fig.update_layout(height=100 + 26 * max(n, 2), margin=dict(l=10, r=40, t=30, b=45))
    fig.update_yaxes(automargin=True)
    return fig
