"""A guided lesson: the six ideas in order, each opening the right page with the right settings."""

from dataclasses import dataclass

import streamlit as st

from pages.common.frame import close_page_frame, page_frame
from pages.common.links import linked


@dataclass(frozen=True)
class Step:
    """One step: the idea, the view that shows it (a page and its link settings), what to look at, a question."""

    title: str
    page: str
    params: dict
    idea: str
    look: str
    question: str
    hint: str


STEPS = (
    Step("Sparse interaction", "pages/3_receptive_fields.py",
         {"model": "lenet5-digits", "sparse_n": "8", "sparse_k": "3", "sparse_stride": "1", "sparse_padding": "0",
          "rf_layer": "conv2"},
         "With n inputs and m outputs, a fully connected layer joins every input to every output: m·n "
         "connections, each with its own weight. A convolution joins each output to a window of k inputs only: "
         "k·m connections (k per output), and, with sharing, just k weights.",
         "Scroll to **Sparse interaction**: each output has k lines, not n. Then look at **Receptive field of every "
         "layer**: stacking small windows lets deep units see a large part of the image.",
         "With n = 8 inputs and k = 3 (stride 1, no padding), how many outputs m are there, how many connections "
         "does the convolution have, and how many would a fully connected layer between the same inputs and "
         "outputs have? What happens to the receptive field of conv2 if conv1's kernel grows?",
         "m = 8 − 3 + 1 = 6 outputs: k·m = 3 × 6 = 18 connections and 3 shared weights, against m·n = 6 × 8 = 48. "
         "Each layer adds (k − 1) × (product of the strides before it) to the receptive field."),
    Step("Parameter sharing", "pages/4_parameter_sharing.py",
         {"eq_network": "a toy stack of three convolutions", "eq_padding": "circular", "eq_stride": "1",
          "eq_pool": "none", "eq_dy": "2", "eq_dx": "3"},
         "A convolution uses the same kernel at every position, so shifting the input shifts the feature maps: "
         "f(shift x) = shift f(x). Convolution is translation *equivariant*.",
         "The error between 'maps of the shifted input' and 'shifted maps' is exactly 0 with circular padding "
         "and stride 1: the difference panel says 'exactly 0'.",
         "Switch the padding to zeros: where does the error appear, and why only there? What does a stride of 2 "
         "do to a shift of 3 pixels?",
         "Zero padding treats the border differently from the inside, so the error sits along the edges: the "
         "difference panel is 0 inside the dashed box (the units no border reaches, where the error is measured) "
         "and not along the edges, and the caption gives both numbers. With stride 2, only even shifts can be "
         "matched: an odd shift falls between the output's samples."),
    Step("Pooling", "pages/5_pooling.py",
         {"model": "lenet5-digits", "pool_kind": "max", "pool_kernel": "2", "pool_stride": "2",
          "pool_transform": "translate", "pool_over": "64 test images"},
         "Pooling summarises each window by its maximum or mean. A small shift often keeps each window's winner "
         "inside its window, so the pooled output changes less: pooling makes the representation approximately "
         "*invariant* to small shifts.",
         "In **Invariance, measured**, compare each pooling layer with the layer just before it: the drop is the "
         "invariance that pooling buys.",
         "Which changes more after a one-pixel shift: relu2 or pool2? Is the invariance perfect? In the top part, "
         "try BlurPool and MaxBlurPool: which one replaces max pooling?",
         "pool2 changes less than relu2 (0.25 against 0.33 after one pixel, 64 test images), but far from zero: a "
         "shift can move a window's winner into the next window, or bring a larger value into it. MaxBlurPool "
         "(Zhang 2019: max with stride 1, then blur, then subsample) is the anti-aliased max pooling; BlurPool "
         "(blur, then subsample) is the one for strided convolutions and average pooling."),
    Step("TextCNN", "pages/6_text_cnn.py",
         {"model": "textcnn-sentiment", "text_example": "the plot was not good at all"},
         "For text, a convolution's window is an n-gram of word embeddings. Filters of width 2, 3, 4 act as "
         "n-gram detectors; 1-max pooling keeps each filter's best n-gram, wherever it is in the sentence.",
         "Under **Filters over n-grams**, find the width-2 filters that fire on 'not good'; under **Which words "
         "decided it**, see which words Integrated Gradients credits.",
         "Why can a bag-of-words model (fastText without bigrams) not tell 'not good' from 'good'? What does the "
         "TextCNN see that it does not?",
         "A bag of words adds up one vector per word, so word order is lost; a width-2 filter sees 'not good' as "
         "one feature."),
    Step("ResNet", "pages/7_resnet.py",
         {"resnet_activation": "relu", "resnet_batch_norm": "false", "resnet_init": "default",
          "resnet_block": "post", "resnet_depth": "20", "resnet_width": "1.0", "resnet_dataset": "digits"},
         "A deeper plain network trains *worse* than a shallower one (the degradation problem). Without batch "
         "norm or a good initialisation, the gradient that reaches its first layers vanishes or blows up; but "
         "with batch norm, as in He et al. 2016, the gradients are healthy and deep plain nets still train "
         "worse: an optimisation difficulty. Identity shortcuts give every block an easy default, the identity, "
         "and the gradient a path around it.",
         "Here (ReLU, no batch norm, PyTorch's default init) the plain net's first layers get a gradient "
         "10⁻⁷ to 10⁻⁸ times its last layers'; the ResNet's stays within about one order of magnitude.",
         "Switch the initialisation to He: what happens to the plain curve? Then turn batch norm on and set the "
         "depth to 20: is the plain net's gradient still vanishing? Finally, train the four nets: does "
         "plain-56 train as well as plain-20?",
         "He initialisation keeps a ReLU net's signal steady, so the gap closes at depth 20; with batch norm the "
         "plain-20's first/last ratio is about 3, a healthy gradient. In training, plain-56 still ends with a "
         "higher training loss than plain-20, while ResNet-56 does not: degradation without vanishing "
         "gradients, as the paper found."),
    Step("Which pixels decided?", "pages/9_attributions.py",
         {"model": "lenet5-mnist", "attr_layer": "relu2", "attr_baseline": "black"},
         "An attribution map says, pixel by pixel, how much each part of the input moved the class's score. "
         "Methods disagree, so a map has to be checked: it should change when the model's weights are destroyed "
         "(Adebayo et al. 2018), and removing the pixels it ranks first should destroy the prediction "
         "(Petsiuk et al. 2018).",
         "Compare the maps in the grid. Then, under **Can the maps be trusted?**, follow each method's rank "
         "correlation as the layers are randomised from the top, and the deletion curves against the random order.",
         "Which map stays almost the same when every weight of the network is random, and what does it show "
         "then? Which method's order of pixels destroys the prediction fastest?",
         "Integrated Gradients from a black baseline keeps a rank correlation near 1 (0.99 for this digit) with "
         "every weight random: a black pixel equals the baseline and gets 0 whatever the weights, so the map "
         "follows the digit's strokes: it shows the image, not the model. Grad-CAM's falls to about 0: it depends "
         "on the weights. On deletion, Integrated Gradients and Occlusion bring the probability down far faster "
         "than a random order."),
)
TITLES = [step.title for step in STEPS]


def go(offset: int) -> None:
    """Move to the previous or next step."""
    index = TITLES.index(st.session_state["lesson_step"]) + offset
    st.session_state["lesson_step"] = TITLES[max(0, min(index, len(TITLES) - 1))]


frame = page_frame()
st.title("A guided lesson: six ideas behind CNNs")
st.caption("Each step opens a page with the settings that show one idea, says what to look at, and asks one "
           "question. Come back here for the next step (the menu on the left, or the browser's back button).")

# Streamlit forgets a widget's value on the pages that do not show it: keep the step across visits.
if "lesson_step" not in st.session_state:
    st.session_state["lesson_step"] = st.session_state.get("lesson_at", TITLES[0])
title = st.segmented_control("Step", TITLES, key=linked("lesson_step", choices=TITLES), required=True)
st.session_state["lesson_at"] = title
index = TITLES.index(title)
step = STEPS[index]
st.subheader(f"{index + 1}. {step.title}")
st.markdown(step.idea)
st.page_link(step.page, label=f"Open the view for step {index + 1}", icon=":material/arrow_forward:",
             query_params=step.params)
st.markdown(f"**What to look at.** {step.look}")
st.info(f"**Think about it.** {step.question}", icon=":material/help:")
with st.expander("A hint"):
    st.markdown(step.hint)
back, forward = st.columns(2)
back.button("Previous step", on_click=go, args=(-1,), disabled=index == 0, icon=":material/arrow_back:",
            key="lesson_back")
forward.button("Next step", on_click=go, args=(1,), disabled=index == len(STEPS) - 1,
               icon=":material/arrow_forward:", key="lesson_next")

close_page_frame(frame)
