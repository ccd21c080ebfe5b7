"""The ResNet page's words: the gradient ratio read aloud, why the curves look as they do, the verdict."""

from cnnviz import ResNetSpec

DATASETS = {"digits": "digits (8×8, offline)", "shapes": "shapes (16×16, offline)",
            "cifar10": "CIFAR-10 (32×32, online)"}
PRESETS = {"paper": "The paper's set-up: ReLU, batch norm, He init, 56 layers",
           "vanish": "Vanishing: ReLU, no batch norm, PyTorch default init",
           "sigmoid_post": "Sigmoid after every sum (post-activation)",
           "sigmoid_pre": "Sigmoid with a clean shortcut (pre-activation)"}
ACTIVATIONS = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
INITS = {"he": "He (Kaiming) normal", "xavier": "Xavier (Glorot) normal", "default": "PyTorch default"}
BLOCKS = {"post": "post-activation (He 2016)", "pre": "pre-activation (He 2016b)"}
RATIO_HELP = "The gradient norm of the first conv layer divided by that of the last: 1 means no change with depth."

INTRO = ("A deeper network should do at least as well as a shallower one: its extra layers could just copy "
         "their input. Yet a deep *plain* network trains worse: the degradation problem (He et al. 2016). "
         "It is not vanishing gradients: with batch norm, as in the paper, the plain nets' gradients have "
         "healthy norms, and the paper calls it an optimisation difficulty (section 4.1). Identity shortcuts "
         "make it easy, since an extra block only has to learn a change to the identity. Without batch norm "
         "or a good initialisation, gradients do vanish or explode with depth: the other set-ups show that.")
BLOCK_HELP = ("Post-activation: the sum of block and shortcut passes through the activation. "
              "Pre-activation: normalisation and activation come before each conv, the shortcut is the "
              "identity alone.")
TRAINING_NOTE = ("All four nets start from the same seed and see the same batches in the same order, with the "
                 "network options above. The default run takes about half a minute on two cores.")
HEATMAP_CAPTION = ("Each row is one layer (first conv on top), each column one training step, on one colour scale "
                   "for both nets. Compare the rows: how far apart the early and the late layers' gradients are "
                   "at the start (the first columns are View 1's picture) and how that changes while the net "
                   "learns.")
STOPPED = "Stopped: the curves end where the run was stopped."
TRAINED_NOW = "Trained just now."
SHARED_EARLIER = "Computed earlier for this configuration (shared with the class)."
SHARED_OTHER = "Computed for someone else with the same configuration (shared with the class)."
WAITING = "Someone else is training this exact configuration; waiting for their result ..."
PRESS_TRAIN = "Press **Train the four nets** to run the experiment of He et al. 2016's Figure 1."


def same_batch(batch: int) -> str:
    """The caption beside the two ratios: what the two nets share."""
    return (f"Same seed, same batch of {batch} images; the two nets share every weight and differ only "
            "in the shortcuts.")


def depths_in_order(shallow: int, deep: int) -> str:
    """The warning when the shallow net is not shallower than the deep one."""
    return f"The shallow net ({shallow} layers) must have fewer layers than the deep one ({deep})."


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

