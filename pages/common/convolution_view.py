"""Feature maps' "one value, step by step": how a convolution computes one number of its output map.

CNN Explainer's signature view, with the real numbers of the current model and input: the
input patch under the kernel (padding marked), the kernel, their products and sums per input
channel, the bias, the total, the activation, and where the window sits on the input.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from cnnviz import TrainedModel, convolution_positions, convolution_step
from cnnviz.plots import plot_convolution_step, plot_convolution_window
from pages.common.i18n import figure_labels, t
from pages.common.inputs import PickedInput, index_slider
from pages.common.links import linked
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.shared_runs import shared_with_figure


def convolution_steps(trained: TrainedModel, picked: PickedInput, x: np.ndarray | torch.Tensor, layer: str,
                      channels: int) -> None:
    """Sliders for an output channel and position of the convolution `layer`, and the computation of that value."""
    rows, cols = convolution_positions(trained.model, trained.info.preprocessing.input_shape, layer)
    left, middle, right = st.columns(3)
    channel = index_slider(t("convolution.channel"), channels, key=f"conv_channel_{layer}", container=left)
    row = int(middle.number_input(t("convolution.row"), 0, rows - 1, rows // 2,
                                  key=linked(f"conv_row_{layer}", low=0, high=rows - 1)))
    col = int(right.number_input(t("convolution.column"), 0, cols - 1, cols // 2,
                                 key=linked(f"conv_col_{layer}", low=0, high=cols - 1)))
    st.caption(t("convolution.note"))

    def figures(step):
        return (plot_convolution_step(step, labels=figure_labels("convolution_step")),
                plot_convolution_window(step.input_map, step.output_map, step,
                                        labels=figure_labels("convolution_window")))

    step, (numbers, window) = shared_with_figure(
        "conv_step", trained, (picked.image, layer, channel, row, col),
        lambda: convolution_step(trained.model, x, layer, channel, (row, col)), figures)
    st.plotly_chart(window, key="conv_window")
    st.plotly_chart(numbers, key="conv_numbers")
    reproduce_panel(numbers, snippet(
        model_code(), input_code(picked), "x = trained.info.preprocessing.apply(image[None])[0]",
        f"step = cnnviz.convolution_step(trained.model, x, {layer!r}, {channel}, ({row}, {col}))",
        "fig = cnnviz.plots.plot_convolution_step(step)"), name="convolution_step")
