"""cnnviz.plots.text and .text_attributions: traces, the numbers and token texts they carry, one x axis per
sentence, and their words from `labels`."""

import ast
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import cnnviz.plots.text as text_plots
import cnnviz.plots.text_attributions as attribution_plots
from cnnviz.analysis.ngrams import NgramActivations, TokenAttribution, TopNgram
from cnnviz.plots.text import (
    plot_embedding_matrix,
    plot_ngram_activations,
    plot_pooled_vector,
    plot_winning_ngrams,
)
from cnnviz.plots.text_attributions import plot_token_attributions, plot_top_ngrams

TOKENS = ("good", "movie", "not", "good")
# The hand-weighted TextCNN of test_text_analysis on "good movie not good" (embeddings 3, 1, -2, 3),
# with width 3's filter 1 made silent (all 0) here.
ACTS = NgramActivations(
    tokens=TOKENS, widths=(2, 3),
    activations=(np.array([[4, 0, 1], [2, 3, 0]], np.float32), np.array([[2, 2], [0, 0]], np.float32)),
    pooled=(np.array([4, 3], np.float32), np.array([2, 0], np.float32)),
    winners=(np.array([0, 1]), np.array([0, 0])),
    pooled_vector=np.array([4, 3, 2, 0], np.float32))
IG = TokenAttribution(tokens=TOKENS, attributions=np.array([1.5, -0.5, -2.0, 0.25], np.float32), target=1,
                      method="integrated_gradients", delta=0.002, prediction_difference=-0.748, n_steps=100)


def heatmap(fig: go.Figure) -> go.Heatmap:
    assert isinstance(fig, go.Figure) and isinstance(fig.data[0], go.Heatmap)
    return fig.data[0]


def test_embedding_matrix_is_tokens_by_dimensions_with_a_symmetric_diverging_scale():
    emb = np.array([[3.0, -1.0], [1.0, 0.5], [-2.0, 0.0], [3.0, -1.0]])
    fig = plot_embedding_matrix(TOKENS, emb)
    heat = heatmap(fig)
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), emb)
    assert (heat.zmin, heat.zmax, heat.zmid) == (-3.0, 3.0, 0.0)
    assert list(fig.layout.yaxis.ticktext) == list(TOKENS)  # "good" twice: positions, not merged categories
    assert np.asarray(heat.text)[3, 1] == "good" and "%{text}" in heat.hovertemplate
    assert fig.layout.yaxis.scaleanchor == "x"  # square cells
    with pytest.raises(ValueError, match="N = 4"):
        plot_embedding_matrix(TOKENS, emb[:3])


def test_ngram_activations_label_each_column_with_its_ngram_and_circle_the_winners():
    fig = plot_ngram_activations(ACTS, 0)
    heat = heatmap(fig)
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), ACTS.activations[0])
    assert heat.zmin == 0.0 and heat.zmax == 4.0  # relu values: a sequential scale from 0
    assert list(fig.layout.xaxis.ticktext) == ["good movie", "movie not", "not good"]
    assert np.asarray(heat.text)[1, 2] == "not good"
    winners = fig.data[1]
    assert isinstance(winners, go.Scatter)
    assert list(winners.x) == [0, 1] and list(winners.y) == [0, 1]
    assert [list(row) for row in winners.customdata] == [["good movie", 4.0], ["movie not", 3.0]]
    assert "customdata[0]" in winners.hovertemplate


def test_pooled_vector_bars_come_per_width_in_the_models_order():
    fig = plot_pooled_vector(ACTS)
    assert [type(t) for t in fig.data] == [go.Bar, go.Bar]
    assert [t.name for t in fig.data] == ["width 2", "width 3"]
    np.testing.assert_array_equal(np.concatenate([t.x for t in fig.data]), [0, 1, 2, 3])
    np.testing.assert_array_equal(np.concatenate([t.y for t in fig.data]), ACTS.pooled_vector)
    assert fig.data[0].marker.color != fig.data[1].marker.color
    assert [list(row) for row in fig.data[1].customdata] == [[0, "good movie not"], [1, "good movie not"]]


def test_token_attributions_write_each_token_in_its_cell_on_a_symmetric_scale():
    fig = plot_token_attributions(IG, class_name="positive")
    heat = heatmap(fig)
    assert list(heat.text[0]) == list(TOKENS) and heat.texttemplate == "%{text}"
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), [[1.5, -0.5, -2.0, 0.25]])
    assert heat.zmin == -2.0 and heat.zmax == 2.0 and heat.zmid == 0.0
    assert heat.colorscale[0][1].lower() != heat.colorscale[-1][1].lower()  # diverging: red low, blue high
    bar = heat.colorbar.title.text
    assert "red: against" in bar and "blue: for" in bar and "class 1 (positive)" in bar
    title = fig.layout.title.text
    for part in ("Integrated gradients", "class 1 (positive)", "Σ = -0.75", "δ = 0.002", "100 steps"):
        assert part in title, part
    assert "NOT converged" not in title


def test_an_unconverged_or_occlusion_attribution_says_so_in_the_title():
    rough = TokenAttribution(TOKENS, np.array([1.0, 0, 0, 0]), 0, "integrated_gradients", 0.5, 0.5, 400)
    assert "NOT converged" in plot_token_attributions(rough).layout.title.text
    occl = TokenAttribution(TOKENS, np.zeros(4), 0, "occlusion", None, None, None)
    fig = plot_token_attributions(occl)
    assert fig.layout.title.text.startswith("Occlusion for class 0") and "δ" not in fig.layout.title.text
    assert (heatmap(fig).zmin, heatmap(fig).zmax) == (-1.0, 1.0)  # all zero: still a valid symmetric range
    with pytest.raises(ValueError):
        plot_token_attributions(TokenAttribution(TOKENS, np.zeros(3), 0, "occlusion", None, None, None))


def test_winning_ngrams_highlight_each_filters_window_with_the_tokens_written():
    fig = plot_winning_ngrams(ACTS, 1)
    heat = heatmap(fig)
    # width 3: filter 0 keeps "good movie not" (0 .. 3); filter 1 is silent (pooled 0): nothing highlighted
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), [[1, 1, 1, 0], [0, 0, 0, 0]])
    assert [list(row) for row in heat.text] == [list(TOKENS)] * 2
    assert list(fig.layout.yaxis.ticktext) == ["f0 · 2", "f1 · 0"]
    assert np.asarray(heat.customdata)[1, 0, 1].startswith("(silent")


def test_winning_ngrams_show_the_strongest_filters_first():
    fig = plot_winning_ngrams(ACTS, 0, max_filters=1)
    heat = heatmap(fig)
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), [[1, 1, 0, 0]])  # filter 0 (4 > 3)
    assert "1 strongest of 2" in fig.layout.title.text
    with pytest.raises(ValueError, match="max_filters"):
        plot_winning_ngrams(ACTS, 0, max_filters=0)


def test_winning_ngrams_and_attributions_share_the_token_x_axis():
    wins, attrs = plot_winning_ngrams(ACTS, 0), plot_token_attributions(IG)
    np.testing.assert_array_equal(heatmap(wins).x, heatmap(attrs).x)
    np.testing.assert_array_equal(heatmap(wins).x, np.arange(4))
    assert wins.layout.xaxis.range == attrs.layout.xaxis.range == (-0.5, 3.5)
    assert list(wins.layout.xaxis.tickvals) == list(attrs.layout.xaxis.tickvals)
    # the same plot area: equal side margins, no vertical colour bar on either, no auto-grown margin
    assert (wins.layout.margin.l, wins.layout.margin.r) == (attrs.layout.margin.l, attrs.layout.margin.r)
    assert heatmap(wins).showscale is False and heatmap(attrs).colorbar.orientation == "h"
    assert wins.layout.yaxis.automargin is False and attrs.layout.yaxis.automargin is False


def test_long_sentences_label_at_most_40_positions():
    tokens = tuple(f"w{i}" for i in range(200))
    attr = TokenAttribution(tokens, np.linspace(-1, 1, 200), 0, "occlusion", None, None, None)
    fig = plot_token_attributions(attr)
    assert len(fig.layout.xaxis.tickvals) <= 40
    # 200 cells are too narrow to write in: the cells stay empty and hover names every token
    assert set(heatmap(fig).text[0]) == {""} and list(heatmap(fig).customdata[0]) == list(tokens)


def test_top_ngrams_are_horizontal_bars_strongest_on_top():
    items = [TopNgram("great great", 8.0, 2, 0), TopNgram("great movie", 5.0, 2, 1), TopNgram("好 😀", 4.0, 0, 0)]
    fig = plot_top_ngrams(items)
    bar = fig.data[0]
    assert isinstance(bar, go.Bar) and bar.orientation == "h"
    assert list(bar.x) == [8.0, 5.0, 4.0]
    assert list(fig.layout.yaxis.ticktext) == ["great great", "great movie", "好 😀"]
    assert fig.layout.yaxis.autorange == "reversed"
    assert list(bar.customdata[2]) == ["好 😀", 0, 0]
    empty = plot_top_ngrams([])
    assert len(empty.data[0].x) == 0 and "no n-grams" in empty.layout.annotations[0].text


@pytest.mark.parametrize("module", [text_plots, attribution_plots])
def test_the_plot_module_does_not_import_torch(module):
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert "torch" not in imported and "captum" not in imported


def test_padding_cells_are_empty_and_left_out_of_the_sum_and_the_colour_range():
    attr = TokenAttribution(("not", "bad", "<pad>"), np.array([0.5, -1.0, 2.1], np.float32), 1, "occlusion",
                            None, None, None, padding=np.array([False, False, True]))
    fig = plot_token_attributions(attr)
    cells = heatmap(fig)
    assert np.isnan(cells.z[0][2]) and list(cells.text[0]) == ["not", "bad", ""]
    assert (cells.zmin, cells.zmax) == (-1.0, 1.0)                  # 2.1 on the pad would set the range
    assert "Σ over the words = -0.5" in fig.layout.title.text       # 0.5 - 1.0, the pad's 2.1 left out
    assert [a.text for a in fig.layout.annotations] == ["padding"]


def texts(fig: go.Figure) -> str:
    """Every word a figure draws: its spec as JSON."""
    return fig.to_json()


def test_the_figures_take_their_words_from_their_labels():
    emb = plot_embedding_matrix(TOKENS, np.ones((4, 2)), labels={"title": "entrée : {tokens} × {dimensions}",
                                                                 "hover": "{token} n° {position} : {value}"})
    assert emb.layout.title.text == "entrée : 4 × 2" and emb.data[0].hovertemplate.startswith("%{text} n° %{y} : ")
    acts = plot_ngram_activations(ACTS, 1, labels={"silent": " · {silent} muet", "kept": "gardé", "y": "filtre"})
    assert acts.layout.title.text.endswith(" · 1 muet") and acts.data[1].name == "gardé"
    assert acts.layout.yaxis.title.text == "filtre"
    pooled = plot_pooled_vector(ACTS, labels={"width": "largeur {width}", "x": "position"})
    assert [t.name for t in pooled.data] == ["largeur 2", "largeur 3"] and pooled.layout.xaxis.title.text == "position"
    wins = plot_winning_ngrams(ACTS, 1, labels={"silent": "(muet)", "positions": "position du jeton",
                                                "hover": "{filter}|{ngram}|{value}|{position}|{token}"})
    assert np.asarray(wins.data[0].customdata)[1, 0, 1] == "(muet)"
    assert wins.layout.xaxis.title.text == "position du jeton"
    assert wins.data[0].hovertemplate == ("%{customdata[0]}|%{customdata[1]}|%{customdata[2]:.4g}|%{x}|"
                                          "%{customdata[3]}<extra></extra>")
    padded = TokenAttribution(("不", "好", "<pad>"), np.array([0.5, -1.0, 0.0], np.float32), 1, "occlusion",
                              None, None, None, padding=np.array([False, False, True]))
    attrs = plot_token_attributions(padded, class_name="positive", labels={
        "occlusion": "遮挡", "target_named": "类别 {target}（{name}）", "padding": "填充",
        "title_padded": "{method}，{target}：各字 Σ = {total:.3g}", "colorbar": "红：不利于{target}"})
    assert attrs.layout.title.text.startswith("遮挡，类别 1（positive）：各字 Σ = -0.5<br>")
    assert [a.text for a in attrs.layout.annotations] == ["填充"]
    assert attrs.data[0].colorbar.title.text == "红：不利于类别 1（positive）"
    ig = plot_token_attributions(IG, labels={"steps": " en {steps} pas", "delta": "<br>δ de convergence = {delta:.2g}"})
    assert "δ de convergence = 0.002" in ig.layout.title.text and ig.layout.title.text.endswith(" en 100 pas")
    empty = plot_top_ngrams([], labels={"empty": "aucun n-gramme", "x": "activation"})
    assert empty.layout.annotations[0].text == "aucun n-gramme" and empty.layout.xaxis.title.text == "activation"
    # The defaults are the English words, and a wrong key is refused.
    assert "embedding dimension" in texts(plot_embedding_matrix(TOKENS, np.ones((4, 2))))
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_top_ngrams([], labels={"title": "x"})


def test_long_sentences_name_the_sampled_tokens_in_the_labels_words():
    tokens = tuple(f"w{i}" for i in range(200))
    attr = TokenAttribution(tokens, np.linspace(-1, 1, 200), 0, "occlusion", None, None, None)
    step = int(plot_token_attributions(attr).layout.xaxis.tickvals[1])
    assert plot_token_attributions(attr).layout.xaxis.title.text == f"token, 1 in {step} named (hover for each)"
    fig = plot_token_attributions(attr, labels={"tokens_sampled": "词元，每 {step} 个标出 1 个"})
    assert fig.layout.xaxis.title.text == f"词元，每 {step} 个标出 1 个"
