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
from pages.common.links import linked
from pages.common.live_training import LIVE_DEGRADATION, live_result, shared_degradation
from pages.common.reproduce import reproduce_panel, snippet
from pages.common.session import app_settings, dataset
from pages.common.shared_runs import shared_view

# Small images keep a 56-layer net fast on two cores; the sizes are each set's own (digits are 8x8).
DATASETS = {"digits": 8, "shapes": 16, "cifar10": 32}  # named in words.DATASETS
DEPTHS = [8, 14, 20, 32, 44, 56, 110]
WIDTHS = [0.25, 0.5, 1.0, 2.0]
STEPS = list(range(20, 1001, 20))
LEARNING_RATES = [0.005, 0.01, 0.02, 0.05, 0.1]
BATCH = 64  # images in View 1's batch: the same for both nets
# Lessons a student can start from (named in words.PRESETS): each sets the network options to show one effect.
PRESETS = {
    "paper": dict(activation="relu", batch_norm=True, init="he", block="post", depth=56),
    "vanish": dict(activation="relu", batch_norm=False, init="default", block="post", depth=20),
    "sigmoid_post": dict(activation="sigmoid", batch_norm=False, init="default", block="post"),
    "sigmoid_pre": dict(activation="sigmoid", batch_norm=False, init="default", block="pre"),
}
# The options a lesson sets, with the values a link may give them.
LESSON_OPTIONS = {"activation": list(words.ACTIVATIONS), "batch_norm": [False, True], "init": list(words.INITS),
                  "block": list(words.BLOCKS)}
_RESULT = "resnet_result"     # the degradation result this session last saw (complete or stopped)


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


def show_result(result: DegradationResult, note: str) -> None:
    """Loss curves, final losses with a verdict, and heatmaps of gradient norms."""
    config = result.config
    st.caption(note)
    st.plotly_chart(plot_loss_curves(result.runs, total_steps=config.steps), key="resnet_losses")
    finals = {label: trace.final_loss() for label, trace in result.runs.items()}
    st.dataframe([{"net": label, "steps": trace.steps_done, "final training loss (mean of last 20 steps)":
                   round(finals[label], 4)} for label, trace in result.runs.items()], hide_index=True)
    shallow, deep = config.shallow_depth, config.deep_depth
    if result.complete:
        st.markdown(words.verdict(finals, shallow, deep, chance=float(np.log(config.net.num_classes))))
    pair = st.radio("Gradient norms while training", ["deep nets", "shallow nets"], horizontal=True,
                    key="resnet_heatmap_pair")
    depth = deep if pair == "deep nets" else shallow
    shown = [result.runs[label] for label in (f"plain-{depth}", f"ResNet-{depth}") if label in result.runs]
    values = np.concatenate([np.log10(t.norms[t.norms > 0]) for t in shown] + [np.empty(0)])
    zrange = (float(values.min()), float(values.max())) if values.size else None
    for column, trace_label in zip(st.columns(2), (f"plain-{depth}", f"ResNet-{depth}"), strict=True):
        if trace_label in result.runs:
            column.plotly_chart(plot_gradient_heatmap(result.runs[trace_label], title=trace_label,
                                                      total_steps=config.steps, zrange=zrange),
                                key=f"resnet_heatmap_{trace_label}")
    st.caption(words.HEATMAP_CAPTION)


frame = page_frame()
settings = app_settings()
depths = [d for d in DEPTHS if d <= settings.max_depth]  # a hosted demo caps depth and steps
steps_allowed = [s for s in STEPS if s <= settings.max_steps]
# The lesson options' defaults, which their widgets take from the session state. Each is linked first,
# so that a link's value is already in the session state and wins over the default.
for name, value in PRESETS["paper"].items():
    key = linked(f"resnet_{name}", choices=depths if name == "depth" else LESSON_OPTIONS[name])
    st.session_state.setdefault(key, value if name != "depth" else 20)
st.title("ResNet: why shortcuts let deep networks train")
st.caption(words.INTRO)

st.subheader("The networks")
st.selectbox("Start from a lesson", list(PRESETS), format_func=words.PRESETS.get, key="resnet_preset",
             on_change=apply_preset, index=None, placeholder="Choose a set-up to explore ...")
o1, o2, o3, o4, o5 = st.columns(5)  # activation, block, init, batch norm and depth are linked above
dataset_name = o1.selectbox("Data", list(DATASETS), format_func=words.DATASETS.get,
                            key=linked("resnet_dataset", choices=list(DATASETS)))
activation = o2.radio("Activation", list(words.ACTIVATIONS), format_func=words.ACTIVATIONS.get,
                      key="resnet_activation")
block = o3.radio("Block", list(words.BLOCKS), format_func=words.BLOCKS.get, key="resnet_block",
                 help=words.BLOCK_HELP)
init = o4.selectbox("Initialisation", list(words.INITS), format_func=words.INITS.get, key="resnet_init")
batch_norm = o4.toggle("Batch norm", key="resnet_batch_norm")
width = o5.select_slider("Width ×", WIDTHS, value=1.0, key=linked("resnet_width", choices=WIDTHS),
                         help="Multiplies the 16/32/64 filters of the three stages.")
seed = o5.number_input("Seed", 0, 9999, 0, key=linked("resnet_seed", low=0, high=9999))

try:
    data = dataset(dataset_name, DATASETS[dataset_name])
except CnnvizError as exc:
    st.error(f"{exc} Choose an offline data set.")
    close_page_frame(frame)
    st.stop()
net = ResNetSpec(width=width, activation=activation, batch_norm=batch_norm, init=init, block=block,
                 in_channels=data.preprocessing.channels, num_classes=len(data.class_names))

st.subheader("At initialisation: the gradient each layer gets")
depth = st.select_slider("Depth (layers with weights, 6n + 2)", depths, key="resnet_depth")
spec = replace(net, depth=depth)
norms, stats = at_initialisation(spec, dataset_name, int(seed))
plain_label, residual_label = list(norms)
plain_ratio, residual_ratio = norms[plain_label].ratio(), norms[residual_label].ratio()
left, right = st.columns([3, 1])
with left:
    figure = shared_view("resnet_init_norms", None, (spec, dataset_name, int(seed)),
                         lambda: plot_gradient_norms(norms, stats))
    st.plotly_chart(figure, key="resnet_init_norms")
    reproduce_panel(figure, init_code(spec, dataset_name, int(seed)), name="resnet_init_norms")
right.metric(f"{plain_label}: first / last", words.ratio_number(plain_ratio), help=words.RATIO_HELP)
right.metric(f"{residual_label}: first / last", words.ratio_number(residual_ratio), help=words.RATIO_HELP)
right.caption(words.same_batch(BATCH))
st.markdown(words.explain(spec, plain_ratio, residual_ratio))

st.subheader("Training: shallow and deep, plain and residual")
with st.form("resnet_training"):
    f1, f2, f3, f4 = st.columns(4)
    shallow = f1.select_slider("Shallow depth", depths[:-1], value=20,
                               key=linked("resnet_shallow", choices=depths[:-1]))
    deep = f2.select_slider("Deep depth", depths[1:], value=min(56, depths[-1]),
                            key=linked("resnet_deep", choices=depths[1:]))
    steps = f3.select_slider("Steps (mini-batches of 64)", steps_allowed, value=200,
                             key=linked("resnet_steps", choices=steps_allowed))
    learning_rate = f4.select_slider("Learning rate (SGD, momentum 0.9)", LEARNING_RATES, value=0.02,
                                     key=linked("resnet_lr", choices=LEARNING_RATES))
    submitted = st.form_submit_button("Train the four nets", type="primary")
st.caption(words.TRAINING_NOTE)

live = st.session_state.pop(LIVE_DEGRADATION, None)
if live is not None:  # Stop interrupted a run: keep what it learnt
    st.session_state[_RESULT] = (live_result(live[0], live[1], "stopped"), words.STOPPED)
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
    st.info(words.PRESS_TRAIN)

close_page_frame(frame)
