"""ResNet vs plain net: gradient norms layer by layer at initialisation, and the degradation experiment."""

import time
from dataclasses import replace

import numpy as np
import streamlit as st

from cnnviz import (
    CnnvizError,
    DegradationConfig,
    DegradationResult,
    GradientTrace,
    ResNetSpec,
    activation_stats,
    build_resnet,
    degradation_experiment,
    gradient_norms,
)
from cnnviz.plots import plot_gradient_heatmap, plot_gradient_norms, plot_loss_curves
from pages.common.frame import close_page_frame, page_frame
from pages.common.links import linked
from pages.common.reproduce import reproduce_panel, snippet
from pages.common.session import app_settings, dataset
from pages.common.shared_runs import shared_results, shared_view, training_slot

# Small images keep a 56-layer net fast on two cores; the sizes are each set's own (digits are 8x8).
DATASETS = {"digits": ("digits (8×8, offline)", 8), "shapes": ("shapes (16×16, offline)", 16),
            "cifar10": ("CIFAR-10 (32×32, online)", 32)}
ACTIVATIONS = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
INITS = {"he": "He (Kaiming) normal", "xavier": "Xavier (Glorot) normal", "default": "PyTorch default"}
BLOCKS = {"post": "post-activation (He 2016)", "pre": "pre-activation (He 2016b)"}
DEPTHS = [8, 14, 20, 32, 44, 56, 110]
WIDTHS = [0.25, 0.5, 1.0, 2.0]
STEPS = list(range(20, 1001, 20))
LEARNING_RATES = [0.005, 0.01, 0.02, 0.05, 0.1]
BATCH = 64  # images in View 1's batch: the same for both nets
# Lessons a student can start from: each sets the network options to show one effect.
PRESETS = {
    "paper": ("The paper's set-up: ReLU, batch norm, He init, 56 layers",
              dict(activation="relu", batch_norm=True, init="he", block="post", depth=56)),
    "vanish": ("Vanishing: ReLU, no batch norm, PyTorch default init", dict(activation="relu", batch_norm=False,
                                                                            init="default", block="post",
                                                                            depth=20)),
    "sigmoid_post": ("Sigmoid after every sum (post-activation)", dict(activation="sigmoid", batch_norm=False,
                                                                       init="default", block="post")),
    "sigmoid_pre": ("Sigmoid with a clean shortcut (pre-activation)", dict(activation="sigmoid", batch_norm=False,
                                                                           init="default", block="pre")),
}
# The options a lesson sets, with the values a link may give them.
LESSON_OPTIONS = {"activation": list(ACTIVATIONS), "batch_norm": [False, True], "init": list(INITS),
                  "block": list(BLOCKS)}
_RESULT = "resnet_result"     # the degradation result this session last saw (complete or stopped)
_LIVE = "resnet_live"         # steps recorded by a run in progress; left behind when Stop interrupts it

RATIO_HELP = "The gradient norm of the first conv layer divided by that of the last: 1 means no change with depth."


def apply_preset() -> None:
    """Set the network options to the chosen lesson's."""
    preset = st.session_state.get("resnet_preset")
    if preset in PRESETS:
        for name, value in PRESETS[preset][1].items():
            st.session_state[f"resnet_{name}"] = value


@st.cache_data(max_entries=128, show_spinner=False)
def at_initialisation(spec: ResNetSpec, dataset_name: str, seed: int):
    """Gradient norms and input statistics of the plain and the residual net on the same batch."""
    x, y = dataset(dataset_name, DATASETS[dataset_name][1]).train_tensors()
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
        f"data = cnnviz.load_image_dataset({dataset_name!r}, size={DATASETS[dataset_name][1]})",
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


def ratio_number(ratio: float) -> str:
    """A ratio as a reader takes it in: 2.9 or 0.63 near 1, 3.1e+05 far from it."""
    return f"{ratio:.2g}" if 1e-3 <= ratio < 1e4 else f"{ratio:.1e}"


def ratio_words(ratio: float) -> str:
    """How a first-conv / last-conv gradient ratio reads."""
    if ratio < 1e-2:
        return "vanishes towards the input"
    if ratio > 1e2:
        return "explodes towards the input"
    return "stays within two orders of magnitude"


def explain(spec: ResNetSpec, plain_ratio: float, residual_ratio: float) -> str:
    """Why the two curves look as they do for these options, and what to try next."""
    lines = [f"In the plain net the gradient **{ratio_words(plain_ratio)}** (first conv / last conv = "
             f"{ratio_number(plain_ratio)}); in the residual net it **{ratio_words(residual_ratio)}** "
             f"({ratio_number(residual_ratio)})."]
    if spec.activation == "sigmoid":
        lines.append("A sigmoid's slope is at most 1/4, so every layer it follows scales the backward signal down. "
                     + ("In a *post-activation* block even the shortcut's sum passes through a sigmoid after every "
                        "addition, so the shortcut cannot carry the gradient past it: try **pre-activation** blocks, "
                        "whose shortcut is the identity alone." if spec.block == "post" else
                        "In *pre-activation* blocks the shortcut is the identity alone: the gradient reaches the "
                        "first layers through the sums, passing only one sigmoid (the final activation after the "
                        "last block), whatever the depth."))
    elif not spec.batch_norm and spec.init == "default":
        lines.append("PyTorch's default initialisation gives weights a variance of 1/(3·fan-in), a sixth of the "
                     "2/fan-in that keeps a ReLU net's signal steady (He et al. 2015), so each plain layer shrinks "
                     "the signal by about √(1/6) ≈ 0.41 on the way forward and on the way back. Late layers still "
                     "see their biases; the first ones get almost nothing. Try **He** initialisation, or batch norm.")
    if spec.batch_norm and plain_ratio > 10:
        lines.append("Batch norm keeps every layer's *forward* signal at unit scale, but at initialisation the "
                     "*backward* signal through a deep plain stack of batch-normalised layers grows layer by layer "
                     "(Yang et al. 2019, a mean-field theory of batch norm): early layers get the largest, most "
                     "erratic updates. Compare depth 20 with depth 56.")
    if spec.batch_norm and 1e-2 <= plain_ratio <= 1e2:
        lines.append("Here the plain net's gradient is healthy, as He et al. (2016, section 4.1) checked for "
                     "their batch-normalised plain nets, and yet a deep plain net trains worse than a shallow "
                     "one (train the four nets below): the degradation is an optimisation difficulty, not a "
                     "vanishing gradient.")
    if 1e-2 <= residual_ratio <= 1e2:
        lines.append("Shortcuts add the identity to every block's Jacobian, so part of the gradient reaches each "
                     "layer without passing through the layers above it: the residual curve stays flat "
                     "(He et al. 2016).")
    else:
        lines.append("Shortcuts only help when the path they open is clean: here something on that path (see "
                     "above) still scales the gradient at every block, so the residual net's curve falls too.")
    return "\n\n".join(lines)


def live_result(config: DegradationConfig, live: dict, status: str) -> DegradationResult:
    """A result from the steps recorded so far (of a run in progress, or one that Stop interrupted)."""
    runs = {label: GradientTrace(layers, np.array(losses), np.array(norms).reshape(len(losses), len(layers)),
                                 status)
            for label, (layers, losses, norms) in live.items()}
    return DegradationResult(config, runs)


def run_experiment(config: DegradationConfig, dataset_name: str) -> DegradationResult | None:
    """Train the four nets with a progress bar, live curves and a Stop button; None if it cannot start."""
    try:
        x, y = dataset(dataset_name, DATASETS[dataset_name][1]).train_tensors()
    except CnnvizError as exc:
        st.error(str(exc))
        return None
    live: dict = {}
    st.session_state[_LIVE] = (config, live)
    # Any click reruns the page, which interrupts the loop; the rerun keeps the steps recorded so far.
    stop = st.empty()
    stop.button("Stop", icon=":material/stop:", key="resnet_stop")
    progress = st.progress(0.0, text="Starting ...")
    curves, heatmap = st.empty(), st.empty()
    total = 4 * config.steps
    last_update = [0.0]

    def on_step(label, report):
        layers, losses, norms = live.setdefault(label, (report.layers, [], []))
        losses.append(report.loss)
        norms.append(report.norms)
        now = time.monotonic()
        if now - last_update[0] < 0.5 and report.step < report.steps:
            return  # at most two redraws a second: each is a message to the browser
        last_update[0] = now
        done = (list(live).index(label) * config.steps + report.step) / total
        progress.progress(done, text=f"{label}: step {report.step}/{report.steps}, loss {report.loss:.3f}")
        partial = live_result(config, live, "running")
        # Static while they change: interactive plotly charts cost the browser far more to redraw.
        curves.plotly_chart(plot_loss_curves(partial.runs, total_steps=config.steps), config={"staticPlot": True})
        heatmap.plotly_chart(plot_gradient_heatmap(partial.runs[label], title=f"{label}: gradient norms",
                                                   total_steps=config.steps), config={"staticPlot": True})

    with training_slot():
        result = degradation_experiment(config, x, y, on_step=on_step)
    st.session_state.pop(_LIVE, None)
    for placeholder in (stop, progress, curves, heatmap):
        placeholder.empty()
    return result


def verdict(finals: dict[str, float], shallow: int, deep: int, *, chance: float) -> str:
    """What the four final training losses say, in words."""
    plain_shallow, plain_deep = finals[f"plain-{shallow}"], finals[f"plain-{deep}"]
    res_shallow, res_deep = finals[f"ResNet-{shallow}"], finals[f"ResNet-{deep}"]
    if min(plain_shallow, plain_deep) > 0.9 * chance:
        words = (f"Neither plain net learnt anything: both stayed near chance level (loss ln(classes) = "
                 f"{chance:.2f}), since almost no gradient reaches their early layers. ")
    elif plain_deep > plain_shallow + 0.05:
        words = (f"**plain-{deep}** ends at {plain_deep:.3f}, *above* plain-{shallow} ({plain_shallow:.3f}): the "
                 "deeper plain net trains worse, although it could copy the shallow one and set its extra layers "
                 "to the identity. That is the degradation problem, and it is not overfitting: this is the "
                 "*training* loss. ")
    else:
        words = (f"**plain-{deep}** ends at {plain_deep:.3f}, not clearly above plain-{shallow} "
                 f"({plain_shallow:.3f}) in this run. ")
    return words + (f"**ResNet-{deep}** ends at {res_deep:.3f} (ResNet-{shallow}: {res_shallow:.3f}): with "
                    "shortcuts, an extra block only has to learn a change to the identity.")


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
        st.markdown(verdict(finals, shallow, deep, chance=float(np.log(config.net.num_classes))))
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
    st.caption("Each row is one layer (first conv on top), each column one training step, on one colour scale "
               "for both nets. Compare the rows: how far apart the early and the late layers' gradients are at "
               "the start (the first columns are View 1's picture) and how that changes while the net learns.")


frame = page_frame()
settings = app_settings()
depths = [d for d in DEPTHS if d <= settings.max_depth]  # a hosted demo caps depth and steps
steps_allowed = [s for s in STEPS if s <= settings.max_steps]
# The lesson options' defaults, which their widgets take from the session state. Each is linked first,
# so that a link's value is already in the session state and wins over the default.
for name, value in PRESETS["paper"][1].items():
    key = linked(f"resnet_{name}", choices=depths if name == "depth" else LESSON_OPTIONS[name])
    st.session_state.setdefault(key, value if name != "depth" else 20)
st.title("ResNet: why shortcuts let deep networks train")
st.caption("A deeper network should do at least as well as a shallower one: its extra layers could just copy "
           "their input. Yet a deep *plain* network trains worse: the degradation problem (He et al. 2016). "
           "It is not vanishing gradients: with batch norm, as in the paper, the plain nets' gradients have "
           "healthy norms, and the paper calls it an optimisation difficulty (section 4.1). Identity shortcuts "
           "make it easy, since an extra block only has to learn a change to the identity. Without batch norm "
           "or a good initialisation, gradients do vanish or explode with depth: the other set-ups show that.")

st.subheader("The networks")
st.selectbox("Start from a lesson", list(PRESETS), format_func=lambda k: PRESETS[k][0], key="resnet_preset",
             on_change=apply_preset, index=None, placeholder="Choose a set-up to explore ...")
o1, o2, o3, o4, o5 = st.columns(5)  # activation, block, init, batch norm and depth are linked above
dataset_name = o1.selectbox("Data", list(DATASETS), format_func=lambda k: DATASETS[k][0],
                            key=linked("resnet_dataset", choices=list(DATASETS)))
activation = o2.radio("Activation", list(ACTIVATIONS), format_func=ACTIVATIONS.get, key="resnet_activation")
block = o3.radio("Block", list(BLOCKS), format_func=BLOCKS.get, key="resnet_block",
                 help="Post-activation: the sum of block and shortcut passes through the activation. "
                      "Pre-activation: normalisation and activation come before each conv, the shortcut is the "
                      "identity alone.")
init = o4.selectbox("Initialisation", list(INITS), format_func=INITS.get, key="resnet_init")
batch_norm = o4.toggle("Batch norm", key="resnet_batch_norm")
width = o5.select_slider("Width ×", WIDTHS, value=1.0, key=linked("resnet_width", choices=WIDTHS),
                         help="Multiplies the 16/32/64 filters of the three stages.")
seed = o5.number_input("Seed", 0, 9999, 0, key=linked("resnet_seed", low=0, high=9999))

try:
    data = dataset(dataset_name, DATASETS[dataset_name][1])
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
right.metric(f"{plain_label}: first / last", ratio_number(plain_ratio), help=RATIO_HELP)
right.metric(f"{residual_label}: first / last", ratio_number(residual_ratio), help=RATIO_HELP)
right.caption(f"Same seed, same batch of {BATCH} images; the two nets share every weight and differ only "
              "in the shortcuts.")
st.markdown(explain(spec, plain_ratio, residual_ratio))

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
st.caption("All four nets start from the same seed and see the same batches in the same order, with the network "
           "options above. The default run takes about half a minute on two cores.")

live = st.session_state.pop(_LIVE, None)
if live is not None:  # Stop interrupted a run: keep what it learnt
    st.session_state[_RESULT] = (live_result(live[0], live[1], "stopped"), "Stopped: the curves end where the "
                                                                            "run was stopped.")
if submitted:
    if shallow >= deep:
        st.warning(f"The shallow net ({shallow} layers) must have fewer layers than the deep one ({deep}).")
    else:
        config = DegradationConfig(net=net, shallow_depth=shallow, deep_depth=deep, steps=steps,
                                   learning_rate=learning_rate, seed=int(seed))
        key = (config, dataset_name)
        store = shared_results()
        result, note = store.get(key), "Computed earlier for this configuration (shared with the class)."
        if result is None:
            with store.claim(key) as mine:
                if mine:
                    result, note = run_experiment(config, dataset_name), "Trained just now."
                    if result is not None and result.complete:
                        store.put(key, result)
            if not mine:
                with st.spinner("Someone else is training this exact configuration; waiting for their result ..."):
                    result = store.wait(key, timeout=300)
                note = "Computed for someone else with the same configuration (shared with the class)."
        if result is not None:
            st.session_state[_RESULT] = (result, note)

if _RESULT in st.session_state:
    show_result(*st.session_state[_RESULT])
else:
    st.info("Press **Train the four nets** to run the experiment of He et al. 2016's Figure 1.")

close_page_frame(frame)
