"""The home page: what cnnviz is, what each page teaches, and a picture of the current model."""

import numpy as np
import streamlit as st

from cnnviz import load_photo, model_summary, to_model_input
from cnnviz.data.photos import labelled_photos, photo_label
from cnnviz.plots import plot_architecture, plot_image_grid
from cnnviz.safe_text import as_markdown_text
from pages.common.frame import close_page_frame, page_frame
from pages.common.reproduce import model_code, reproduce_panel, snippet
from pages.common.session import current_model, own_test_data
from pages.common.shared_runs import shared_view


def home() -> None:
    """What cnnviz is, what each page teaches, and a picture of the current model."""
    frame = page_frame()
    st.title("cnnviz: see how convolutional networks work")
    st.markdown(
        "Load or train a small convolutional neural network (CNN), then look inside it. "
        "A trained model is already loaded, so every page has something to show; the panel "
        "in the sidebar always says which model is current.")
    st.page_link("pages/8_lesson.py", label="New here? Follow the guided lesson: six ideas, one step at a time",
                 icon=":material/school:")

    st.subheader("What each page teaches")
    st.markdown(
        "- **Train / load**: train LeNet-5 or TinyVGG on a data set and watch the loss fall epoch by "
        "epoch; see the test accuracy, the confusion matrix and the examples the model gets wrong. "
        "Save the model as one file, load it again, or switch to a model from the zoo.\n"
        "- **Feature maps**: feed the model a real digit, a piece of clothing, a photo, your own upload or a "
        "drawing (or a photo to a real ImageNet network, EfficientNet-Lite0), and "
        "see what every channel of a layer computes, the filters that compute it, and which test images "
        "excite a channel most.\n"
        "- **Receptive fields**: how large a window of the input each layer's units see, in theory "
        "(a box) and in practice (where the gradient lands); and why convolutions need so few weights "
        "(sparse interaction).\n"
        "- **Parameter sharing**: shift the input and watch the feature maps shift with it: convolution is "
        "translation equivariant. Measured layer by layer, with the padding, stride and pooling that break "
        "it; and the parameters that sharing saves.\n"
        "- **Pooling**: max, average, BlurPool and MaxBlurPool on any map, which value wins each window, and how much "
        "invariance to small shifts, rotations and scalings each layer has, with and without pooling.\n"
        "- **TextCNN**: a CNN over words: filters of width 2, 3, 4 are n-gram detectors, 1-max pooling keeps "
        "each one's best n-gram, and Captum's Integrated Gradients shows which words decided; beside a "
        "fastText-style mean of word embeddings, which is as accurate on real movie reviews and far cheaper, "
        "yet cannot read \"not good\" in the negation lab.\n"
        "- **ResNet vs plain**: the gradient each layer of a deep network gets at initialisation, with and "
        "without shortcuts, and the degradation experiment: a deeper plain net trains worse than a shallower "
        "one, a deeper ResNet does not.\n"
        "- **Attributions**: which pixels made the model say a class, by eight methods from Captum side by side, and "
        "whether each map can be trusted: does it change when the weights are destroyed, does deleting its pixels "
        "destroy the prediction?\n"
        "- **Guided lesson**: the six ideas in order, each step opening the right page with the right settings.")
    st.caption(
        "The topics follow the usual course on CNNs: sparse interaction (each output sees a small "
        "window), parameter sharing (one kernel everywhere, so convolution is translation "
        "equivariant), pooling (which makes the output less sensitive to small shifts: approximately "
        "invariant, not exactly), CNNs for text, "
        "and residual networks (shortcuts that let deep networks train).")

    trained = current_model()
    info = trained.info
    left, right = st.columns([3, 2])
    with left:
        st.subheader(f"The current model: {as_markdown_text(info.name)}")
        figure = shared_view("architecture", trained, (), lambda: plot_architecture(
            model_summary(trained.model, info.preprocessing.input_shape), info.preprocessing.input_shape))
        st.plotly_chart(figure, key="architecture")
        st.caption("Each bar is one layer's output: convolutions keep or shrink the image and add "
                   "channels, pooling halves height and width, and linear layers end in one score per class.")
        reproduce_panel(figure, snippet(model_code(), "shape = trained.info.preprocessing.input_shape",
                                        "summary = cnnviz.model_summary(trained.model, shape)",
                                        "fig = cnnviz.plots.plot_architecture(summary, shape)"),
                        name="architecture")
    with right:
        st.subheader(f"Examples from {as_markdown_text(info.dataset)}")
        data = own_test_data(trained)
        if data is not None:
            examples = shared_view("examples", None, (data.name,), lambda: plot_image_grid(
                data.x_test[:12], [data.class_names[y] for y in data.y_test[:12]], columns=4))
            st.plotly_chart(examples, key="examples")
        elif labelled_photos(info.dataset):
            names = labelled_photos(info.dataset)[:12]
            examples = shared_view("examples", None, (info.dataset,), lambda: plot_image_grid(
                np.stack([to_model_input(load_photo(n), info.preprocessing) for n in names]),
                [photo_label(n).class_name for n in names], columns=4))
            st.plotly_chart(examples, key="examples")
            st.caption(f"Labelled {as_markdown_text(info.dataset)} photos shipped with cnnviz; the model's own "
                       "training images are not.")
        else:
            st.info(f"The images of {as_markdown_text(info.dataset)} are not shipped with cnnviz; examples are "
                    "shown for MNIST, Fashion-MNIST, the digits and shapes labs, and ImageNet and CIFAR-10 photos.")
    close_page_frame(frame)
