"""The home page: what cnnviz is, what each page teaches, and a picture of the current model."""

import numpy as np
import streamlit as st

from cnnviz import load_photo, model_summary, to_model_input
from cnnviz.data.photos import labelled_photos, photo_label
from cnnviz.plots import plot_architecture, plot_image_grid
from cnnviz.safe_text import as_markdown_text
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import figure_labels, t
from pages.common.reproduce import model_code, reproduce_panel, snippet
from pages.common.session import current_model, own_test_data
from pages.common.shared_runs import shared_view


def home() -> None:
    """What cnnviz is, what each page teaches, and a picture of the current model."""
    frame = page_frame()
    st.title(t("home.title"))
    st.markdown(t("home.intro"))
    st.page_link("pages/8_lesson.py", label=t("home.lesson_link"), icon=":material/school:")
    st.subheader(t("home.pages_heading"))
    st.markdown(t("home.pages"))
    st.caption(t("home.topics"))

    trained = current_model()
    info = trained.info
    left, right = st.columns([3, 2])
    with left:
        st.subheader(t("home.current_model", name=as_markdown_text(info.name)))
        figure = shared_view("architecture", trained, (), lambda: plot_architecture(
            model_summary(trained.model, info.preprocessing.input_shape), info.preprocessing.input_shape,
            labels=figure_labels("architecture")))
        st.plotly_chart(figure, key="architecture")
        st.caption(t("home.architecture_note"))
        reproduce_panel(figure, snippet(model_code(), "shape = trained.info.preprocessing.input_shape",
                                        "summary = cnnviz.model_summary(trained.model, shape)",
                                        "fig = cnnviz.plots.plot_architecture(summary, shape)"),
                        name="architecture")
    with right:
        st.subheader(t("home.examples", dataset=as_markdown_text(info.dataset)))
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
            st.caption(t("home.photos_note", dataset=as_markdown_text(info.dataset)))
        else:
            st.info(t("home.no_examples", dataset=as_markdown_text(info.dataset)))
    close_page_frame(frame)
