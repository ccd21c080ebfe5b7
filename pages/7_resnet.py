"""ResNet vs plain net: gradient norms layer by layer at initialisation, and the degradation experiment."""

from dataclasses import replace

import numpy as np
import streamlit as st

from cnnviz import (
    CnnvizError,
    DegradationConfig,
    DegradationResult,
    ResNetSpec,
    activation_stats,
    build_resnet,
    gradient_norms,
)
from cnnviz.plots import plot_gradient_heatmap, plot_gradient_norms, plot_loss_curves
from pages.common import words_resnet as words
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import Phrase, figure_labels, phrase, t
from pages.common.links import linked
from pages.common.live_training import LIVE_DEGRADATION, live_result, shared_degradation
from pages.common.reproduce import reproduce_panel, snippet
from pages.common.session import app_settings, dataset
from pages.common.shared_runs import shared_view

# Small images keep a 56-layer net fast on two cores; the sizes are each set's own (digits are 8x8).
DATASETS = {"digits": 8, "shapes": 16, "cifar10": 32}  # named in resnet.toml's [datasets]
DEPTHS = [8, 14, 20, 32, 44, 56, 110]
WIDTHS = [0.25, 0.5, 1.0, 2.0]
STEPS = list(range(20, 1001, 20))
LEARNING_RATES = [0.005, 0.01, 0.02, 0.05, 0.1]
BATCH = 64  # images in View 1's batch: the same for both nets
# Lessons a student can start from (named in resnet.toml's [presets]): each sets the options to show one effect.
PRESETS = {
    "paper": dict(activation="relu", batch_norm=True, init="he", block="post", depth=56),
    "vanish": dict(activation="relu", batch_norm=False, init="default", block="post", depth=20),
    "sigmoid_post": dict(activation="sigmoid", batch_norm=False, init="default", block="post"),
    "sigmoid_pre": dict(activation="sigmoid", batch_norm=False, init="default", block="pre"),
}
# The options a lesson sets, with the values a link may give them.
LESSON_OPTIONS = dict(activation=words.ACTIVATIONS, batch_norm=(False, True), init=words.INITS, block=words.BLOCKS)
_RESULT = "resnet_result"     # the degradation result this session last saw (complete or stopped), and its note


def apply_preset() -> None:
    """Set the network options to the chosen lesson's."""
    preset = st.session_state.get("resnet_preset")
    if preset in PRESETS:
        for name, value in PRESETS[preset].items():
            st.session_state[f"resnet_{name}"] = value


@st.cache_data(max_entries=128, show_spinner=False)
def at_initialisation(spec: ResNetSpec, dataset_name: str, seed: int):
    """Gradient norms and input statistics of the plain and the residual net on the same batch."""
    x, y = dataset(dataset_name, DATASETS[dataset_name]).train_tensors()
    x, y = x[:BATCH], y[:BATCH]
    norms, stats = {}, {}
    for residual in (False, True):
        net = replace(spec, residual=residual)
        model = build_resnet(net, seed=seed)
        norms[net.label] = gradient_norms(model, x, y)
        stats[net.label] = activation_stats(model, x)
    return norms, stats


def init_code(spec: ResNetSpec, dataset_name: str, seed: int) -> str:
    """The snippet that redraws the at-initialisation chart (what `at_initialisation` computes)."""
    options = ", ".join(f"{name}={value!r}" for name, value in vars(spec).items() if name != "residual")
    return snippet(
        f"data = cnnviz.load_image_dataset({dataset_name!r}, size={DATASETS[dataset_name]})",
        "x, y = data.train_tensors()",
        f"x, y = x[:{BATCH}], y[:{BATCH}]  # one batch, the same for both nets",
        f"options = dict({options})",
        "norms, stats = {}, {}",
        f"""
        for residual in (False, True):  # the same weights, without and with the shortcuts
            spec = cnnviz.ResNetSpec(**options, residual=residual)
            model = cnnviz.build_resnet(spec, seed={seed})
            norms[spec.label] = cnnviz.gradient_norms(model, x, y)
            stats[spec.label] = cnnviz.activation_stats(model, x)
        """,
        "fig = cnnviz.plots.plot_gradient_norms(norms, stats)")


def show_result(result: DegradationResult, note: Phrase) -> None:
    """Loss curves, final losses with a verdict, heatmaps of gradient norms; `note` says where they came from."""
    config = result.config
    st.caption(str(note))
    st.plotly_chart(plot_loss_curves(result.runs, total_steps=config.steps, labels=figure_labels("loss_curves")),
                    key="resnet_losses")
    finals = {label: trace.final_loss() for label, trace in result.runs.items()}
    st.dataframe([{t("resnet.result.net"): label, t("resnet.result.steps"): trace.steps_done,
                   t("resnet.result.final_loss"): round(finals[label], 4)} for label, trace in result.runs.items()],
                 hide_index=True)
    shallow, deep = config.shallow_depth, config.deep_depth
    if result.complete:
        st.markdown(words.verdict(finals, shallow, deep, chance=float(np.log(config.net.num_classes))))
    pair = st.radio(t("resnet.result.pair"), ["deep", "shallow"], format_func=words.named("result"), horizontal=True,
                    key="resnet_heatmap_pair")
    depth = deep if pair == "deep" else shallow
    shown = [result.runs[label] for label in (f"plain-{depth}", f"ResNet-{depth}") if label in result.runs]
    values = np.concatenate([np.log10(trace.norms[trace.norms > 0]) for trace in shown] + [np.empty(0)])
    zrange = (float(values.min()), float(values.max())) if values.size else None
    for column, trace_label in zip(st.columns(2), (f"plain-{depth}", f"ResNet-{depth}"), strict=True):
        if trace_label in result.runs:
            figure = plot_gradient_heatmap(result.runs[trace_label], title=trace_label, total_steps=config.steps,
                                           zrange=zrange, labels=figure_labels("gradient_heatmap"))
            column.plotly_chart(figure, key=f"resnet_heatmap_{trace_label}")
    st.caption(t("resnet.result.heatmap_caption"))


frame = page_frame()
settings = app_settings()
depths = [d for d in DEPTHS if d <= settings.max_depth]  # a hosted demo caps depth and steps
steps_allowed = [s for s in STEPS if s <= settings.max_steps]
# The lesson options' defaults, which their widgets take from the session state. Each is linked first,
# so that a link's value is already in the session state and wins over the default.
for name, value in PRESETS["paper"].items():
    key = linked(f"resnet_{name}", choices=depths if name == "depth" else LESSON_OPTIONS[name])
    st.session_state.setdefault(key, value if name != "depth" else 20)
st.title(t("resnet.title"))
st.caption(t("resnet.intro"))

st.subheader(t("resnet.networks.heading"))
st.selectbox(t("resnet.networks.preset"), list(PRESETS), format_func=words.named("presets"), key="resnet_preset",
             on_change=apply_preset, index=None, placeholder=t("resnet.networks.preset_placeholder"))
o1, o2, o3, o4, o5 = st.columns(5)  # activation, block, init, batch norm and depth are linked above
dataset_name = o1.selectbox(t("resnet.networks.data"), list(DATASETS), format_func=words.named("datasets"),
                            key=linked("resnet_dataset", choices=list(DATASETS)))
activation = o2.radio(t("resnet.networks.activation"), words.ACTIVATIONS, format_func=words.named("activations"),
                      key="resnet_activation")
block = o3.radio(t("resnet.networks.block"), words.BLOCKS, format_func=words.named("blocks"), key="resnet_block",
                 help=t("resnet.networks.block_help"))
init = o4.selectbox(t("resnet.networks.init"), words.INITS, format_func=words.named("inits"), key="resnet_init")
batch_norm = o4.toggle(t("resnet.networks.batch_norm"), key="resnet_batch_norm")
width = o5.select_slider(t("resnet.networks.width"), WIDTHS, value=1.0, key=linked("resnet_width", choices=WIDTHS),
                         help=t("resnet.networks.width_help"))
seed = o5.number_input(t("resnet.networks.seed"), 0, 9999, 0, key=linked("resnet_seed", low=0, high=9999))

try:
    data = dataset(dataset_name, DATASETS[dataset_name])
except CnnvizError as exc:
    st.error(t("resnet.networks.offline", error=exc))
    close_page_frame(frame)
    st.stop()
net = ResNetSpec(width=width, activation=activation, batch_norm=batch_norm, init=init, block=block,
                 in_channels=data.preprocessing.channels, num_classes=len(data.class_names))

st.subheader(t("resnet.initialisation.heading"))
depth = st.select_slider(t("resnet.initialisation.depth"), depths, key="resnet_depth")
spec = replace(net, depth=depth)
norms, stats = at_initialisation(spec, dataset_name, int(seed))
ratios = {label: measured.ratio() for label, measured in norms.items()}  # the plain net's, then the residual net's
left, right = st.columns([3, 1])
with left:
    figure = shared_view("resnet_init_norms", None, (spec, dataset_name, int(seed)),
                         lambda: plot_gradient_norms(norms, stats, labels=figure_labels("gradient_norms")))
    st.plotly_chart(figure, key="resnet_init_norms")
    reproduce_panel(figure, init_code(spec, dataset_name, int(seed)), name="resnet_init_norms")
for label, ratio in ratios.items():
    right.metric(t("resnet.initialisation.ratio", net=label), words.ratio_number(ratio),
                 help=t("resnet.initialisation.ratio_help"))
right.caption(words.same_batch(BATCH))
st.markdown(words.explain(spec, *ratios.values()))

st.subheader(t("resnet.training.heading"))
with st.form("resnet_training"):
    f1, f2, f3, f4 = st.columns(4)
    shallow = f1.select_slider(t("resnet.training.shallow"), depths[:-1], value=20,
                               key=linked("resnet_shallow", choices=depths[:-1]))
    deep = f2.select_slider(t("resnet.training.deep"), depths[1:], value=min(56, depths[-1]),
                            key=linked("resnet_deep", choices=depths[1:]))
    steps = f3.select_slider(t("resnet.training.steps"), steps_allowed, value=200,
                             key=linked("resnet_steps", choices=steps_allowed))
    learning_rate = f4.select_slider(t("resnet.training.learning_rate"), LEARNING_RATES, value=0.02,
                                     key=linked("resnet_lr", choices=LEARNING_RATES))
    submitted = st.form_submit_button(t("resnet.training.submit"), type="primary")
st.caption(t("resnet.training.note"))

live = st.session_state.pop(LIVE_DEGRADATION, None)
if live is not None:  # Stop interrupted a run: keep what it learnt
    st.session_state[_RESULT] = (live_result(live[0], live[1], "stopped"), phrase("resnet.training.stopped"))
if submitted:
    if shallow >= deep:
        st.warning(words.depths_in_order(shallow, deep))
    else:
        config = DegradationConfig(net=net, shallow_depth=shallow, deep_depth=deep, steps=steps,
                                   learning_rate=learning_rate, seed=int(seed))
        result, note = shared_degradation(config, dataset_name, DATASETS[dataset_name])
        if result is not None:
            st.session_state[_RESULT] = (result, note)

if _RESULT in st.session_state:
    show_result(*st.session_state[_RESULT])
else:
    st.info(t("resnet.training.press_train"))

close_page_frame(frame)
