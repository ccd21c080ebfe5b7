"""The floor for `benchmarks.bench_agents`: a bare Streamlit app, one plotly chart per page.

    streamlit run benchmarks/bare_app.py

It has the pages of the agent tour (the same url paths) and, on each, the widgets the
tour changes, under the same keys as in cnnviz, so the same tour runs against both;
each page draws one small plotly heatmap that depends on its widgets. Nothing else:
no model, no torch, no caches. Not part of the app.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st


def chart(*values: object) -> None:
    """One plotly chart: a 28x28 heatmap drawn from the widgets' values."""
    rng = np.random.default_rng(abs(hash(values)) % 2**32)
    st.plotly_chart(go.Figure(go.Heatmap(z=rng.random((28, 28)))), key="chart")


def home() -> None:
    st.title("Bare app")
    chart("home")


def feature_maps() -> None:
    st.title("Feature maps")
    index = st.number_input("Test image (0 to 359)", 0, 359, 0, key="features_index")
    layer = st.selectbox("Layer", ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"], key="features_layer")
    chart(index, layer)


def pooling() -> None:
    st.title("Pooling")
    kernel = st.slider("Window (kernel)", 1, 5, 2, key="pool_kernel")
    chart(kernel)


def receptive_fields() -> None:
    st.title("Receptive fields")
    k = st.slider("Kernel size k", 1, 9, 3, key="sparse_k")
    chart(k)


def text_cnn() -> None:
    st.title("TextCNN")
    example = st.selectbox("Example", ["the plot was not good at all", "dull at first but wonderful in the end",
                                       "a very good film"], key="text_example")
    chart(example)


def train() -> None:
    st.title("Train / load a model")
    with st.form("train_form"):
        epochs = st.number_input("Epochs", 1, 10, 10, key="train_epochs")
        submitted = st.form_submit_button("Train")
    if submitted:
        st.success(f"Trained for {epochs} epochs.")  # nothing is trained: the tour checks for this text
    chart(epochs, submitted)


st.navigation([st.Page(home, title="Home", default=True),
               st.Page(train, title="Train / load", url_path="train"),
               st.Page(feature_maps, title="Feature maps", url_path="feature_maps"),
               st.Page(receptive_fields, title="Receptive fields", url_path="receptive_fields"),
               st.Page(pooling, title="Pooling", url_path="pooling"),
               st.Page(text_cnn, title="TextCNN", url_path="text_cnn")]).run()
