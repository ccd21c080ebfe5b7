"""Attributions: which pixels made the model say a class, and whether each map can be trusted."""

import streamlit as st

from cnnviz import attribute_image, deletion_insertion, last_rectified, sanity_check, spatial_layers
from cnnviz.analysis.attributions import BASELINES, METHODS, randomised_layers
from cnnviz.plots import (
    plot_attribution_grid,
    plot_class_probabilities,
    plot_deletion_insertion,
    plot_sanity_curves,
    plot_sanity_maps,
)
from cnnviz.safe_text import as_markdown_text
from pages.common import words_attributions as words
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import figure_labels, t
from pages.common.inputs import pick_input
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import app_settings, current_model
from pages.common.shared_runs import shared_view, shared_with_figure

PREDICTED = -1  # the class box's "the prediction"
CHECKED = ["saliency", "integrated_gradients", "guided_backprop", "grad_cam"]  # the checks' default methods
MAX_SANITY_LAYERS = 20  # one map per method and layer: EfficientNet-Lite0's 99 layers are too many for a page
# A photo-sized input (EfficientNet's 224x224) makes a map cost up to seconds: the slowest methods (SmoothGrad,
# Occlusion) are then left for the user to add, and the faithfulness test waits for a click.
LARGE_INPUT = 100
SLOW = ("smoothgrad", "occlusion")



def figure_words(name: str) -> dict[str, str]:
    """A figure's words in the session's language, with the methods' names (every attribution figure uses them)."""
    return {**figure_labels("attribution_methods"), **figure_labels(name)}


frame = page_frame()
st.title(t("attributions.title"))
st.caption(t("attributions.intro"))
titles = figure_labels("attribution_methods")  # the methods' names, in the session's language

trained = current_model()
info = trained.info
prep = info.preprocessing
left, right = st.columns([1, 2])
with left:
    picked = pick_input(trained, key="attr", class_key="attr_input_class")  # attr_class: the class to explain
x = prep.apply(picked.image[None])[0]
if picked.blank:
    right.markdown(words.blank_input(as_markdown_text(picked.label)))
    close_page_frame(frame)
    st.stop()
probabilities, bars = shared_with_figure("attr_prediction", trained, (picked.image,),
                                         lambda: trained.predict_proba(picked.image[None])[0],
                                         lambda found: plot_class_probabilities(
                                             found, info.class_names, labels=figure_labels("class_probabilities")))
predicted = int(probabilities.argmax())
with right:
    classes = [PREDICTED, *range(len(info.class_names))]
    choice = st.selectbox(t("attributions.class_box"), classes, key=linked("attr_class", choices=classes),
                          format_func=lambda c: words.class_choice(c, predicted, info.class_names))
    target = predicted if choice == PREDICTED else int(choice)
    st.plotly_chart(bars, key="attr_probabilities")

settings = app_settings()
layers = spatial_layers(trained.model, prep.input_shape)
large = prep.size >= LARGE_INPUT
default_methods = [m for m in METHODS if not (large and m in SLOW)]
with st.expander(t("attributions.settings"), icon=":material/tune:"):
    method_col, ig_col, occlusion_col = st.columns(3)
    methods = method_col.multiselect(t("attributions.methods"), list(METHODS), default=default_methods,
                                     format_func=titles.get,
                                     key=linked("attr_methods", choices=list(METHODS), many=True))
    layer = method_col.selectbox(t("attributions.layer"), layers,
                                 index=layers.index(last_rectified(trained.model, layers)),
                                 key=linked("attr_layer", choices=layers), help=t("attributions.layer_help"))
    baseline = ig_col.radio(t("attributions.baseline"), BASELINES, horizontal=True,
                            format_func=lambda b: t(f"attributions.baselines.{b}"),
                            key=linked("attr_baseline", choices=list(BASELINES)))
    cap = max(20, settings.max_attribution_steps)  # a slider from 10 needs room to move
    n_steps = ig_col.slider(t("attributions.steps"), 10, cap, min(50, cap), step=10,
                            key=linked("attr_steps", low=10, high=cap, step=10))
    # One forward pass per window position: windows of an eighth of the image at half that stride make about
    # 15 x 15 passes (on a 28-pixel digit, windows of 3 at stride 1 make 26 x 26, each cheap).
    widest = max(3, prep.size // 2)
    window = occlusion_col.slider(t("attributions.window"), 2, widest, max(2, prep.size // 8),
                                  key=linked("attr_window", low=2, high=widest))
    stride = occlusion_col.slider(t("attributions.stride"), 1, widest, max(1, prep.size // 16),
                                  key=linked("attr_stride", low=1, high=widest))
    absolute = st.toggle(t("attributions.absolute"), key=linked("attr_absolute"), help=t("attributions.signed_help"))
with st.popover(t("attributions.what_methods"), icon=":material/info:"):
    for method in METHODS:
        st.markdown(t("attributions.method_note", title=titles[method], note=t(f"attributions.method_notes.{method}")))
options = dict(layer=layer, baseline=baseline, n_steps=n_steps, window=window, stride=stride)
setting_key = (picked.image, target, tuple(sorted(options.items())))


def attributions(chosen: list[str]) -> list:
    """Every chosen method's map for this input and class, each computed once per process (the grid and the
    faithfulness test share them)."""
    return [shared_view("attr_map", trained, (*setting_key, m), lambda m=m: attribute_image(
        trained.model, x, m, target, preprocessing=prep, **options)) for m in chosen]


if not methods:
    st.info(t("attributions.no_method"))
else:
    with st.spinner(t("attributions.computing")):
        maps, grid = shared_with_figure(
            "attr_grid", trained, (*setting_key, tuple(methods), absolute), lambda: attributions(methods),
            lambda found: plot_attribution_grid(picked.image, found, absolute=absolute,
                                                class_name=info.class_names[target],
                                                labels=figure_words("attribution_grid")))
    st.plotly_chart(grid, key="attr_grid")
    ig = next((m for m in maps if m.method == "integrated_gradients"), None)
    if ig is not None and ig.delta is not None and ig.score_change is not None:
        st.caption(words.completeness(float(ig.attribution.sum()), ig.score_change, ig.delta,
                                      at_cap=n_steps >= settings.max_attribution_steps))
    reproduce_panel(grid, snippet(
        model_code(), input_code(picked), "prep = trained.info.preprocessing", "x = prep.apply(image[None])[0]",
        f"maps = [cnnviz.attribute_image(trained.model, x, method, {target}, preprocessing=prep, **{options!r})",
        f"        for method in {methods!r}]",
        f"fig = cnnviz.plots.plot_attribution_grid(image, maps, absolute={absolute!r}, "
        f"class_name=trained.info.class_names[{target}])"), name="attributions")

st.subheader(t("attributions.trust"))
checked = st.multiselect(t("attributions.checked"), list(METHODS), default=CHECKED, format_func=titles.get,
                         key=linked("attr_checked", choices=list(METHODS), many=True))
sanity_tab, faithful_tab = st.tabs([t("attributions.sanity_tab"), t("attributions.faithfulness_tab")])
weighted = len(shared_view("attr_randomised", trained, (), lambda: randomised_layers(trained.model, prep.input_shape)))
with sanity_tab:
    st.caption(t("attributions.sanity_note"))
    if weighted > MAX_SANITY_LAYERS:
        st.info(words.too_many_layers(as_markdown_text(info.name), weighted, MAX_SANITY_LAYERS))
    elif checked:
        with st.spinner(t("attributions.randomising")):
            checks, curves_figure = shared_with_figure(
                "attr_sanity", trained, (*setting_key, tuple(checked)),
                lambda: [sanity_check(trained.model, x, m, target, preprocessing=prep, **options) for m in checked],
                lambda found: plot_sanity_curves(found, labels=figure_words("sanity_curves")))
        st.plotly_chart(curves_figure, key="attr_sanity_curves")
        st.markdown(words.sanity_verdict({titles[check.method]: float(check.spearman[-1])
                                          for check in checks}))
        st.plotly_chart(shared_view("attr_sanity_maps", trained, (*setting_key, tuple(checked)),
                                    lambda: plot_sanity_maps(checks, labels=figure_words("sanity_maps"))),
                        key="attr_sanity_maps")
with faithful_tab:
    st.caption(t("attributions.faithfulness_note"))
    if len(info.class_names) == 1:
        st.info(t("attributions.one_class"))
    elif checked and (not large or st.toggle(t("attributions.run_faithfulness"), key="attr_run_faithfulness")):
        with st.spinner(t("attributions.deleting")):
            curves, curves_figure = shared_with_figure(
                "attr_faithfulness", trained, (*setting_key, tuple(checked)),
                lambda: [deletion_insertion(trained.model, x, found, target, preprocessing=prep)
                         for found in attributions(checked)],
                lambda found: plot_deletion_insertion(found, labels=figure_words("deletion_insertion")))
        st.plotly_chart(curves_figure, key="attr_faithfulness")
        st.dataframe(words.auc_rows([(titles[curve.method], curve.deletion_auc, curve.insertion_auc)
                                     for curve in curves],
                                    curves[0].random_deletion_auc, curves[0].random_insertion_auc), hide_index=True)
close_page_frame(frame)
