"""cnnviz.plots.attributions: the grid of maps, the sanity-check figures and the deletion/insertion curves.

The dataclasses are built by hand from small arrays (no model, no torch), so every number
a figure carries can be checked against what was passed.
"""

import ast
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import cnnviz.plots.attributions as attribution_plots
from cnnviz.analysis.attributions import METHODS, DeletionInsertion, ImageAttribution, SanityCheck
from cnnviz.plots.attributions import (
    METHOD_TITLES,
    plot_attribution_grid,
    plot_deletion_insertion,
    plot_sanity_curves,
    plot_sanity_maps,
)

GREY = np.linspace(0, 1, 16).reshape(1, 4, 4)
SIGNED = np.array([[-2.0, 0.0, 1.0, 0.5],
                   [0.25, -0.5, 0.0, 0.0],
                   [0.0, 0.0, 1.5, 0.0],
                   [0.0, 0.0, 0.0, 0.1]])          # largest |value| 2 (negative)
UNSIGNED = np.abs(SIGNED) * 0.15                   # largest 0.3
IG = ImageAttribution("integrated_gradients", 3, SIGNED, True, delta=0.01, score_change=2.0)
SAL = ImageAttribution("saliency", 3, UNSIGNED, False)
CAM = ImageAttribution("grad_cam", 3, UNSIGNED * 10, False, layer="features.4")


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


# --- the grid ----------------------------------------------------------------------------------

def test_method_titles_name_every_method_in_order():
    assert tuple(METHOD_TITLES) == METHODS
    assert list(METHOD_TITLES.values()) == ["Saliency", "Input × Gradient", "Integrated Gradients", "SmoothGrad",
                                            "Guided Backprop", "Grad-CAM", "Guided Grad-CAM", "Occlusion"]


def test_grid_draws_the_grey_input_then_a_heatmap_per_method():
    fig = plot_attribution_grid(GREY, [IG, SAL, CAM], columns=2)
    assert len(fig.data) == 4 and all(isinstance(t, go.Heatmap) for t in fig.data)
    first = fig.data[0]
    np.testing.assert_allclose(np.asarray(first.z, dtype=float), GREY[0], atol=1e-6)
    assert (first.zmin, first.zmax, first.showscale) == (0, 1, False)
    assert first.colorscale[0][1] == "rgb(0, 0, 0)" and first.colorscale[-1][1].startswith("rgb(25")  # black..white
    # 2 columns, 4 tiles: 2 rows, one subplot (its own axes) each, row-major
    assert [(t.xaxis, t.yaxis) for t in fig.data] == [("x", "y"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4")]
    assert all(np.asarray(t.z).shape == (4, 4) for t in fig.data)


def test_grid_draws_a_colour_input_as_an_image():
    rgb = np.stack([GREY[0], 1 - GREY[0], np.full((4, 4), 0.5)])
    fig = plot_attribution_grid(rgb, [IG])
    assert isinstance(fig.data[0], go.Image) and isinstance(fig.data[1], go.Heatmap)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), np.round(rgb.transpose(1, 2, 0) * 255).astype(np.uint8))


def test_a_signed_map_is_diverging_and_symmetric_around_zero_on_its_own_scale():
    small = ImageAttribution("input_x_gradient", 3, SIGNED * 1e-3, True)
    fig = plot_attribution_grid(GREY, [IG, small])
    for heat, bound in zip(fig.data[1:], (2.0, 2e-3), strict=True):
        assert heat.zmid == 0 and heat.zmin == pytest.approx(-bound) and heat.zmax == pytest.approx(bound)
        # red for negative values, blue for positive ones, as plot_filters
        assert (heat.colorscale[0][1], heat.colorscale[-1][1]) == ("rgb(103,0,31)", "rgb(5,48,97)")  # RdBu


def test_unsigned_maps_and_absolute_use_a_sequential_scale_from_zero():
    fig = plot_attribution_grid(GREY, [IG, SAL])
    sal = fig.data[2]
    assert (sal.zmin, sal.zmid) == (0, None) and sal.zmax == pytest.approx(0.3)
    assert sal.colorscale[0][1] == "#440154"          # Viridis: no red or blue to read as a sign
    shown = plot_attribution_grid(GREY, [IG, SAL], absolute=True).data[1]
    np.testing.assert_allclose(np.asarray(shown.z, dtype=float), np.abs(SIGNED), atol=1e-6)
    assert (shown.zmin, shown.zmid) == (0, None) and shown.zmax == pytest.approx(2.0)
    assert "|attribution|" in shown.hovertemplate


def test_hover_carries_the_raw_values():
    fig = plot_attribution_grid(GREY, [IG, SAL])
    np.testing.assert_allclose(np.asarray(fig.data[1].z, dtype=float), SIGNED, atol=1e-6)   # not divided by 2
    np.testing.assert_allclose(np.asarray(fig.data[2].z, dtype=float), UNSIGNED, atol=1e-6)
    assert "%{z:.4g}" in fig.data[1].hovertemplate and "row %{y}, col %{x}" in fig.data[1].hovertemplate


def test_tiles_are_titled_with_the_method_and_grad_cams_layer():
    fig = plot_attribution_grid(GREY, [IG, SAL, CAM])
    assert annotation_texts(fig)[:4] == ["input", "Integrated Gradients", "Saliency", "Grad-CAM · features.4"]


def test_the_title_explains_the_colour_scale():
    both = plot_attribution_grid(GREY, [IG, SAL], class_name="cat").layout.title
    assert "class 3 (cat)" in both.text
    assert "blue: for class 3 (cat), red: against it" in both.subtitle.text
    assert "0 (purple)" in both.subtitle.text and "own scale" in both.subtitle.text
    unsigned = plot_attribution_grid(GREY, [SAL]).layout.title.subtitle.text
    assert "blue" not in unsigned and "0 (purple)" in unsigned
    assert "mean of" not in unsigned                   # 4x4: every value drawn


def test_a_hostile_class_name_is_shown_as_text():
    title = plot_attribution_grid(GREY, [IG], class_name="<b>x</b>").layout.title
    assert "&lt;b&gt;x&lt;/b&gt;" in title.text and "<b>" not in title.text + title.subtitle.text


def test_tiles_have_square_pixels_and_row_zero_on_top():
    fig = plot_attribution_grid(GREY, [IG, SAL, CAM], columns=3)
    for k in range(1, 7):                              # 2 rows of 3, the last two tiles empty
        suffix = "" if k == 1 else str(k)
        yaxis, xaxis = fig.layout[f"yaxis{suffix}"], fig.layout[f"xaxis{suffix}"]
        assert yaxis.scaleanchor == f"x{suffix}" and tuple(yaxis.range) == (3.5, -0.5)
        assert tuple(xaxis.range) == (-0.5, 3.5)


def test_large_maps_are_drawn_as_block_means_in_the_inputs_pixels():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(224, 224))
    fig = plot_attribution_grid(np.full((1, 224, 224), 0.5), [ImageAttribution("occlusion", 0, values, True)])
    heat = fig.data[1]
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (112, 112) and np.asarray(fig.data[0].z).shape == (112, 112)
    assert z[0, 0] == pytest.approx(values[0:2, 0:2].mean(), abs=1e-6)
    assert z[5, 7] == pytest.approx(values[10:12, 14:16].mean(), abs=1e-6)
    assert (heat.x0, heat.dx, heat.y0, heat.dy) == (0.5, 2, 0.5, 2)    # axes stay in the input's pixels
    assert tuple(fig.layout.xaxis2.range) == (-0.5, 223.5)
    assert "mean of 2×2 pixels" in fig.layout.title.subtitle.text and "2×2 block" in heat.hovertemplate
    # 112 a side is drawn whole; 225 needs blocks of 3
    assert np.asarray(plot_attribution_grid(np.zeros((1, 112, 112)), [ImageAttribution(
        "occlusion", 0, np.ones((112, 112)), True)]).data[1].z).shape == (112, 112)
    assert np.asarray(plot_attribution_grid(np.zeros((1, 225, 225)), [ImageAttribution(
        "occlusion", 0, np.ones((225, 225)), True)]).data[1].z).shape == (75, 75)


def test_eight_maps_of_224x224_make_a_figure_under_3_mb():
    rng = np.random.default_rng(1)
    maps = [ImageAttribution(m, 0, rng.normal(size=(224, 224)), m != "saliency") for m in METHODS]
    fig = plot_attribution_grid(rng.uniform(size=(3, 224, 224)), maps)
    assert len(fig.data) == 9 and all(np.asarray(t.z).shape[:2] == (112, 112) for t in fig.data)
    assert len(fig.to_json()) < 3_000_000


@pytest.mark.parametrize("image, maps, options", [
    (GREY, [], {}),                                                               # nothing to draw
    (GREY, [ImageAttribution("saliency", 3, np.ones((4, 5)), False)], {}),         # map is not the image's size
    (np.zeros((2, 4, 4)), [IG], {}),                                              # neither grey nor RGB
    (GREY[0], [IG], {}),                                                          # no channel axis
    (GREY, [IG], {"columns": 0}),
    (GREY, [IG, ImageAttribution("saliency", 4, UNSIGNED, False)], {}),           # two targets
])
def test_the_grid_rejects_bad_input(image, maps, options):
    with pytest.raises(ValueError):
        plot_attribution_grid(image, maps, **options)


# --- sanity checks -----------------------------------------------------------------------------

STEPS = ("original", "fc3", "fc2", "fc1", "conv1")
BASE = np.array([[0.0, -4.0], [1.0, 2.0]])
MAPS = np.stack([BASE * (s + 1) + s for s in range(5)])
SPEARMAN = np.array([1.0, 0.8, 0.5, 0.1, -0.2])
SSIM = np.array([1.0, 0.9, 0.6, 0.3, 0.05])
CHECK_IG = SanityCheck("integrated_gradients", STEPS, MAPS, SPEARMAN, SSIM)
CHECK_CAM = SanityCheck("grad_cam", STEPS, -MAPS, SPEARMAN[::-1].copy(), SSIM * 0.5)


def test_sanity_maps_show_evenly_spaced_steps_including_the_first_and_the_last():
    fig = plot_sanity_maps([CHECK_IG, CHECK_CAM], max_steps_shown=3)
    assert len(fig.data) == 6 and all(isinstance(t, go.Heatmap) for t in fig.data)
    assert annotation_texts(fig) == ["original", "+fc2", "+conv1"] * 2
    assert annotation_texts(plot_sanity_maps([CHECK_IG], max_steps_shown=10)) == [
        "original", "+fc3", "+fc2", "+fc1", "+conv1"]
    ten = SanityCheck("saliency", tuple(f"l{i}" for i in range(10)), np.ones((10, 2, 2)), np.ones(10), np.ones(10))
    assert annotation_texts(plot_sanity_maps([ten], max_steps_shown=4)) == ["original", "+l3", "+l6", "+l9"]


def test_sanity_maps_are_absolute_maps_divided_by_their_own_max():
    fig = plot_sanity_maps([CHECK_IG, CHECK_CAM], max_steps_shown=3)
    for heat, step in zip(fig.data[:3], (0, 2, 4), strict=True):
        expected = np.abs(MAPS[step]) / np.abs(MAPS[step]).max()
        np.testing.assert_allclose(np.asarray(heat.z, dtype=float), expected, atol=1e-6)
        assert (heat.zmin, heat.zmax) == (0, 1)
    np.testing.assert_allclose(np.asarray(fig.data[3].z, dtype=float), np.asarray(fig.data[0].z, dtype=float))
    assert [t.showscale for t in fig.data] == [True] + [False] * 5     # one colour bar
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis4.title.text) == ("Integrated Gradients", "Grad-CAM")
    assert fig.data[4].name == "Grad-CAM, +fc2"


def test_sanity_maps_of_224x224_are_block_means():
    check = SanityCheck("occlusion", ("original", "fc"), np.ones((2, 224, 224)), np.ones(2), np.ones(2))
    fig = plot_sanity_maps([check])
    assert all(np.asarray(t.z).shape == (56, 56) and t.dx == 4 for t in fig.data)


def test_sanity_curves_draw_each_measure_per_method_against_the_layers_randomised():
    fig = plot_sanity_curves([CHECK_IG, CHECK_CAM])
    assert len(fig.data) == 4 and all(isinstance(t, go.Scatter) for t in fig.data)
    ig_spearman, ig_ssim, cam_spearman, cam_ssim = fig.data
    assert list(ig_spearman.x) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(ig_spearman.y, SPEARMAN)
    np.testing.assert_allclose(ig_ssim.y, SSIM)
    np.testing.assert_allclose(cam_spearman.y, SPEARMAN[::-1])
    assert (ig_spearman.xaxis, ig_ssim.xaxis) == ("x", "x2")
    # hover names the layer randomised at each step
    assert list(ig_spearman.customdata) == ["original (nothing randomised)", "fc3 (and all above)",
                                            "fc2 (and all above)", "fc1 (and all above)", "conv1 (and all above)"]
    assert "%{customdata}" in ig_spearman.hovertemplate and "Spearman" in ig_spearman.hovertemplate
    assert "SSIM" in ig_ssim.hovertemplate
    # one colour and one legend entry per method
    assert ig_spearman.line.color == ig_ssim.line.color != cam_spearman.line.color == cam_ssim.line.color
    assert [t.showlegend for t in fig.data] == [True, False, True, False]
    assert [t.name for t in fig.data[::2]] == ["Integrated Gradients", "Grad-CAM"]
    assert "from the top" in fig.layout.xaxis.title.text


def test_sanity_curves_have_a_dashed_labelled_line_at_one_half():
    fig = plot_sanity_curves([CHECK_IG])
    lines = [s for s in fig.layout.shapes if s.y0 == 0.5 and s.y1 == 0.5]
    assert len(lines) == 2 and all(s.line.dash == "dash" for s in lines)
    assert {s.xref for s in lines} == {"x domain", "x2 domain"}
    assert annotation_texts(fig).count("0.5") == 2
    assert fig.layout.yaxis.range[0] <= -0.2 - 0.05 + 1e-9           # Spearman's -0.2 is in view


@pytest.mark.parametrize("checks, options", [
    ([], {}),
    ([SanityCheck("saliency", STEPS[:4], MAPS, SPEARMAN, SSIM)], {}),            # 4 steps for 5 maps
    ([SanityCheck("saliency", STEPS, MAPS, SPEARMAN[:3], SSIM)], {}),            # 3 Spearman values
    ([SanityCheck("saliency", STEPS, MAPS, SPEARMAN, SSIM[:4])], {}),
    ([SanityCheck("saliency", STEPS, MAPS[:, 0], SPEARMAN, SSIM)], {}),          # maps not (S, H, W)
    ([CHECK_IG], {"max_steps_shown": 1}),                                         # cannot show first and last
])
def test_sanity_figures_reject_bad_input(checks, options):
    with pytest.raises(ValueError):
        plot_sanity_maps(checks, **options)
    if not options:
        with pytest.raises(ValueError):
            plot_sanity_curves(checks)


# --- deletion and insertion --------------------------------------------------------------------

FRACTIONS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])


def curves(method: str, shift: float, seed: float, aucs: tuple[float, float]) -> DeletionInsertion:
    deletion = np.array([0.9, 0.5, 0.2, 0.1, 0.05]) * shift
    insertion = np.array([0.05, 0.4, 0.7, 0.85, 0.9]) * shift
    return DeletionInsertion(method, 3, FRACTIONS, deletion, insertion, random_deletion=np.linspace(0.9, seed, 5),
                             random_insertion=np.linspace(seed, 0.9, 5), deletion_auc=aucs[0], insertion_auc=aucs[1],
                             random_deletion_auc=0.4441 + seed, random_insertion_auc=0.5559 + seed)


DI_CAM = curves("grad_cam", 1.0, 0.0, (0.2341, 0.6789))
DI_IG = curves("integrated_gradients", 0.5, 0.3, (0.1172, 0.3391))


def test_deletion_and_insertion_are_two_panels_of_probability_against_percent():
    fig = plot_deletion_insertion([DI_CAM, DI_IG])
    assert len(fig.data) == 6 and all(isinstance(t, go.Scatter) for t in fig.data)
    deletion, insertion = fig.data[1], fig.data[4]                  # each panel: random, then the methods
    assert (deletion.xaxis, insertion.xaxis) == ("x", "x2")
    np.testing.assert_allclose(deletion.x, [0, 25, 50, 75, 100])
    np.testing.assert_allclose(deletion.y, DI_CAM.deletion)
    np.testing.assert_allclose(insertion.y, DI_CAM.insertion)
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert tuple(axis.range) == (0, 100) and axis.ticksuffix == "%"
    assert fig.layout.yaxis.range[0] == 0 and 1 <= fig.layout.yaxis.range[1] <= 1.05
    assert fig.layout.yaxis.title.text == "probability of class 3"


def test_legend_entries_carry_each_panels_auc():
    fig = plot_deletion_insertion([DI_CAM, DI_IG])
    by_legend = {legend: [t.name for t in fig.data if (t.legend or "legend") == legend]
                 for legend in ("legend", "legend2")}
    assert by_legend == {
        "legend": ["random order (AUC 0.444)", "Grad-CAM (AUC 0.234)", "Integrated Gradients (AUC 0.117)"],
        "legend2": ["random order (AUC 0.556)", "Grad-CAM (AUC 0.679)", "Integrated Gradients (AUC 0.339)"]}
    # the random order's AUC is the first curve's (DI_IG's would read 0.744 and 0.856)
    assert fig.layout.legend2.x > fig.layout.legend.x                # each legend under its panel


def test_the_random_order_is_one_dashed_grey_line_per_panel_from_the_first_curve():
    fig = plot_deletion_insertion([DI_CAM, DI_IG])
    dashed = [t for t in fig.data if t.line.dash == "dash"]
    assert len(dashed) == 2 and [t.xaxis for t in dashed] == ["x", "x2"]
    np.testing.assert_allclose(dashed[0].y, DI_CAM.random_deletion)    # the first curve's, not DI_IG's
    np.testing.assert_allclose(dashed[1].y, DI_CAM.random_insertion)
    assert {t.line.color for t in dashed} == {"#7f7f7f"}
    assert "Grad-CAM's run" in dashed[0].hovertemplate
    assert all(t.line.dash is None for t in fig.data if t not in dashed)


def test_method_colours_agree_across_panels_and_figures():
    fig = plot_deletion_insertion([DI_CAM, DI_IG])
    colours = {(t.name.split(" (")[0], t.xaxis): t.line.color for t in fig.data}
    assert colours["Grad-CAM", "x"] == colours["Grad-CAM", "x2"] != colours["Integrated Gradients", "x"]
    assert colours["Grad-CAM", "x"] not in (colours["random order", "x"],)
    sanity = plot_sanity_curves([CHECK_IG, CHECK_CAM])
    assert sanity.data[2].line.color == colours["Grad-CAM", "x"]     # a method keeps its colour everywhere
    assert sanity.data[0].line.color == colours["Integrated Gradients", "x"]


def test_subplot_titles_say_which_way_is_better():
    titles = annotation_texts(plot_deletion_insertion([DI_CAM]))
    assert "Deletion" in titles[0] and "lower is better" in titles[0]
    assert "Insertion" in titles[1] and "higher is better" in titles[1]


def test_two_targets_get_a_generic_axis_title():
    other = DeletionInsertion(**{**DI_IG.__dict__, "target": 5})
    assert plot_deletion_insertion([DI_CAM, other]).layout.yaxis.title.text == "probability of the target class"


@pytest.mark.parametrize("bad", [
    [],
    [DeletionInsertion(**{**DI_CAM.__dict__, "deletion": DI_CAM.deletion[:4]})],
    [DeletionInsertion(**{**DI_CAM.__dict__, "random_insertion": DI_CAM.random_insertion[:3]})],
    [DeletionInsertion(**{**DI_CAM.__dict__, "fractions": np.array([]), "deletion": np.array([]),
                          "insertion": np.array([]), "random_deletion": np.array([]),
                          "random_insertion": np.array([])})],
])
def test_deletion_insertion_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        plot_deletion_insertion(bad)


def test_the_plot_module_imports_neither_torch_nor_the_analysis_at_run_time():
    tree = ast.parse(Path(attribution_plots.__file__).read_text(encoding="utf-8"))
    everywhere = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                  for alias in node.names}
    everywhere |= {node.module.split(".")[0] for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert "torch" not in everywhere and "captum" not in everywhere
    # The dataclasses' module will import torch: only under TYPE_CHECKING here.
    top_level = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.startswith("cnnviz.analysis") for name in top_level)


def test_a_large_map_saturates_at_its_99_5th_percentile_so_one_extreme_pixel_does_not_blank_the_rest():
    values = np.full((40, 40), 1.0)                     # 1,600 cells: at least CLIP_CELLS
    values[0, 0] = 1000.0                               # one extreme pixel, as ImageNet gradients have
    fig = plot_attribution_grid(np.zeros((1, 40, 40)), [ImageAttribution("saliency", 0, values, signed=False)])
    heat = fig.data[1]
    assert attribution_plots.CLIP_CELLS == 1000 and heat.zmax == pytest.approx(np.percentile(np.abs(values), 99.5))
    assert heat.zmax == 1.0 and np.asarray(heat.z).max() == 1000.0        # the colour saturates, the hover does not
    assert "99.5th percentile of |value|" in fig.layout.title.subtitle.text
    small = plot_attribution_grid(np.zeros((1, 20, 20)), [ImageAttribution("saliency", 0, values[:20, :20],
                                                                              signed=False)])
    assert small.data[1].zmax == 1000.0 and "its largest |value|" in small.layout.title.subtitle.text
