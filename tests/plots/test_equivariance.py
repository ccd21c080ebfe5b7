"""cnnviz.plots.equivariance: traces, shared and symmetric colour ranges, marker groups, log axis."""

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from cnnviz.analysis.equivariance import EquivarianceView, LayerEquivariance, equivariance_view, toy_spec
from cnnviz.models.cnn import build_model
from cnnviz.plots.equivariance import (
    EQUIVARIANCE_ERRORS_LABELS,
    ZERO_FLOOR,
    plot_equivariance_errors,
    plot_equivariance_view,
)

EXACT_NAME, INEXACT_NAME, NONE_NAME = (EQUIVARIANCE_ERRORS_LABELS[k] for k in ("exact", "inexact", "none"))

NAN = np.nan
# f(x) spans -1..4, f(shift x) 0..6, shift f(x) -2..3; the difference is f(shift x) - shift f(x) on the
# whole map, 2 and 3 along the border row 0 (not compared), -0.5..0.25 on the compared row 1.
VIEW = EquivarianceView(
    layer="conv2", channel=3,
    f_x=np.array([[-1.0, 4.0], [0.0, 1.0]], dtype=np.float32),
    f_shifted_x=np.array([[0.0, 6.0], [1.0, 2.0]], dtype=np.float32),
    shifted_f_x=np.array([[-2.0, 3.0], [1.5, 1.75]], dtype=np.float32),
    difference=np.array([[2.0, 3.0], [-0.5, 0.25]], dtype=np.float32),
    map_shift=(1, 0), exact=True, compared=np.array([[False, False], [True, True]]))


def layer(name, error, exact=True, jump=(1, 1), map_shift=(1.0, 0.0), compared=10):
    return LayerEquivariance(name, jump, map_shift, exact, error, compared)


# --- the view --------------------------------------------------------------------------------------

def test_view_is_four_heatmaps_titled_in_order():
    fig = plot_equivariance_view(VIEW)
    assert isinstance(fig, go.Figure) and len(fig.data) == 4
    assert all(isinstance(trace, go.Heatmap) for trace in fig.data)
    assert [a.text for a in fig.layout.annotations][:4] == ["f(x)", "f(shift x)", "shift f(x)", "difference"]
    assert [trace.xaxis for trace in fig.data] == ["x", "x2", "x3", "x4"]
    np.testing.assert_array_equal(np.asarray(fig.data[2].z, dtype=float), VIEW.shifted_f_x)


def test_the_first_three_share_one_colour_scale_with_one_colour_bar():
    fig = plot_equivariance_view(VIEW)
    assert [(t.zmin, t.zmax) for t in fig.data[:3]] == [(-2.0, 6.0)] * 3
    assert [bool(t.showscale) for t in fig.data[:3]] == [True, False, False]
    assert fig.data[0].colorscale == fig.data[1].colorscale == fig.data[2].colorscale


def test_difference_is_diverging_and_symmetric_around_0_with_its_own_colour_bar():
    diff = plot_equivariance_view(VIEW).data[3]
    # Largest |difference| 3, on the border row: the whole map sets the scale (floor 1e-3 * 6).
    assert (diff.zmin, diff.zmid, diff.zmax) == (-3.0, 0.0, 3.0)
    np.testing.assert_array_equal(np.asarray(diff.z, dtype=float), VIEW.difference)  # no blank edges
    assert diff.showscale is not False and diff.hoverongaps is False
    assert diff.colorscale[0][1] != plot_equivariance_view(VIEW).data[0].colorscale[0][1]


def test_float_noise_in_the_difference_does_not_fill_the_colour_scale():
    noisy = EquivarianceView(**{**VIEW.__dict__, "difference": np.array([[0.0, 3e-7], [1e-7, -2e-7]])})
    fig = plot_equivariance_view(noisy)
    diff = fig.data[3]
    assert math.isclose(diff.zmax, 6e-3) and math.isclose(diff.zmin, -6e-3)  # 1e-3 * max |value| 6
    (note,) = [a for a in fig.layout.annotations if a.name == "zero note"]
    assert note.text == "<b>≈ 0 everywhere<br>(largest |difference| 3.0e-07)</b>" and note.xref == "x4 domain"


def test_a_difference_that_is_exactly_zero_says_so_instead_of_a_blank_square():
    zero = EquivarianceView(**{**VIEW.__dict__, "difference": np.zeros((2, 2)), "compared": None})
    fig = plot_equivariance_view(zero)
    notes = [a.text for a in fig.layout.annotations if a.name == "zero note"]
    assert notes == ["<b>exactly 0</b>"]
    assert not fig.layout.shapes                                         # every unit compared: no box
    assert not [a for a in plot_equivariance_view(VIEW).layout.annotations if a.name == "zero note"]
    relabelled = plot_equivariance_view(zero, labels={"exactly_zero": "exactement 0", "f_x": "a", "f_shifted_x": "b",
                                                      "shifted_f_x": "c", "difference": "d"})
    assert [a.text for a in relabelled.layout.annotations][:4] == ["a", "b", "c", "d"]
    assert "<b>exactement 0</b>" in [a.text for a in relabelled.layout.annotations]


def test_every_word_of_the_view_comes_from_its_labels():
    """Labels in another language replace each word: the title, subtitle, legend, colour bars and hover."""
    french = {"title": "{layer}, canal {channel}", "exact": "décalage {shift} : exact", "region": "région comparée",
              "activation": "activation (fr)", "difference_bar": "écart", "hover": "ligne {row}, colonne {col}"}
    fig = plot_equivariance_view(VIEW, labels=french)
    assert fig.layout.title.text == "conv2, canal 3" and fig.layout.title.subtitle.text == "décalage (1, 0) : exact"
    assert fig.layout.shapes[0].name == "région comparée"
    assert fig.data[0].colorbar.title.text == "activation (fr)" and fig.data[3].colorbar.title.text == "écart"
    assert fig.data[0].hovertemplate.startswith("ligne %{y}, colonne %{x}<br>")
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_equivariance_view(VIEW, labels={"titel": "x"})


def test_view_axes_are_reversed_square_and_the_title_says_the_shift():
    fig = plot_equivariance_view(VIEW)
    for i in ("", "2", "3", "4"):
        y = fig.layout[f"yaxis{i}"]
        assert list(y.range) == [1.5, -0.5] and y.scaleanchor == f"x{i}"
    assert fig.layout.title.text == "conv2, channel 3"
    subtitle = fig.layout.title.subtitle.text
    assert "map shift (1, 0)" in subtitle and "exact" in subtitle and "not exact" not in subtitle
    # The compared region (row 1 only) is framed on the two middle maps and on the difference, once in the legend.
    assert [(s.y0, s.y1, s.xref) for s in fig.layout.shapes] == [(0.5, 1.5, "x2"), (0.5, 1.5, "x3"),
                                                                 (0.5, 1.5, "x4")]
    assert [bool(s.showlegend) for s in fig.layout.shapes] == [True, False, False]
    assert fig.layout.shapes[0].name == "compared region (no border reaches it)"


def test_not_exact_is_said_in_the_title():
    inexact = EquivarianceView(**{**VIEW.__dict__, "exact": False})
    subtitle = plot_equivariance_view(inexact).layout.title.subtitle.text
    assert "not exact" in subtitle and "not a multiple of the jump" in subtitle and "nearest" in subtitle


def test_view_of_a_real_model_draws():
    x = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0))
    view = equivariance_view(build_model(toy_spec(size=16), seed=0), x, (2, 3), "relu2", 0)
    fig = plot_equivariance_view(view)
    assert len(fig.data) == 4 and fig.data[3].zmin == -fig.data[3].zmax
    assert np.isfinite(np.asarray(fig.data[3].z, dtype=float)).all() and len(fig.layout.shapes) == 3
    assert fig.to_json()  # serialisable as Streamlit sends it


# --- the error plot --------------------------------------------------------------------------------

LAYERS = [layer("conv1", 0.0), layer("pool1", 0.3, exact=False, jump=(2, 2), map_shift=(0.5, 0.0)),
          layer("conv2", 2e-8), layer("conv3", 0.05, exact=False, jump=(2, 2), map_shift=(0.5, 0.0))]


def test_errors_are_grouped_by_exact_and_not_exact_in_layer_order():
    fig = plot_equivariance_errors(LAYERS)
    assert [t.name for t in fig.data] == [EXACT_NAME, INEXACT_NAME]
    assert EXACT_NAME == "shift is a multiple of the jump" and INEXACT_NAME == "not a multiple: nearest map shift"
    exact, inexact = fig.data
    assert list(exact.x) == ["conv1", "conv2"] and list(inexact.x) == ["pool1", "conv3"]
    assert exact.marker.symbol != inexact.marker.symbol and exact.marker.color != inexact.marker.color
    assert fig.layout.xaxis.type == "category"
    assert list(fig.layout.xaxis.categoryarray) == ["conv1", "pool1", "conv2", "conv3"]


def test_errors_below_1e_7_are_clipped_up_and_marked_about_0_on_a_log_axis():
    fig = plot_equivariance_errors(LAYERS)
    exact, inexact = fig.data
    assert list(exact.y) == [ZERO_FLOOR, ZERO_FLOOR] == [1e-7, 1e-7]
    assert list(exact.text) == ["≈0", "≈0"] and list(inexact.text) == ["", ""]
    assert list(inexact.y) == [0.3, 0.05]
    assert fig.layout.yaxis.type == "log"  # 1e-7 .. 0.3 spans decades


def test_hover_gives_jump_and_map_shift():
    inexact = plot_equivariance_errors(LAYERS).data[1]
    assert "jump 2×2" in inexact.hovertext[0] and "(0.5, 0)" in inexact.hovertext[0]
    assert "nearest whole shift (1, 0)" in inexact.hovertext[0]


def test_errors_within_two_decades_stay_on_a_linear_axis_from_0():
    fig = plot_equivariance_errors([layer("a", 0.2, exact=False), layer("b", 0.6, exact=False)])
    assert [t.name for t in fig.data] == [INEXACT_NAME]
    assert fig.layout.yaxis.type == "linear" and fig.layout.yaxis.range[0] == 0


def test_all_rounding_errors_sit_at_the_bottom_of_a_0_to_1_axis():
    fig = plot_equivariance_errors([layer("a", 0.0), layer("b", 3e-7)])
    assert fig.layout.yaxis.type == "linear" and list(fig.layout.yaxis.range) == [0, 1.0]


def test_layers_without_compared_units_are_grey_crosses_and_repeated_names_stay_apart():
    fig = plot_equivariance_errors([layer("relu", 0.1), layer("relu", NAN, compared=0)])
    assert [t.name for t in fig.data] == [EXACT_NAME, NONE_NAME]
    assert list(fig.data[1].x) == ["relu (2)"] and "no unit" in fig.data[1].hovertext[0]
    assert list(fig.data[1].y) == [0.0] and fig.layout.yaxis.type == "linear"
    assert list(fig.layout.xaxis.categoryarray) == ["relu", "relu (2)"]


def test_the_error_plot_takes_its_words_from_its_labels():
    fig = plot_equivariance_errors(LAYERS, labels={"exact": "exact (fr)", "x": "couche", "jump": "saut {rows}×{cols}"})
    assert fig.data[0].name == "exact (fr)" and fig.layout.xaxis.title.text == "couche"
    assert "saut 2×2" in fig.data[1].hovertext[0]


def test_empty_list_gives_an_empty_figure():
    fig = plot_equivariance_errors([])
    assert len(fig.data) == 0 and fig.to_json()
