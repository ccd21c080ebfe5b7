"""Feature maps: what every channel of a layer computes for one input, its filters, and what excites it."""

import streamlit as st

from cnnviz import (
    feature_maps,
    first_convolution,
    receptive_field_crops,
    receptive_fields,
    spatial_layers,
    top_activations,
)
from cnnviz.plots import (
    plot_class_probabilities,
    plot_feature_maps,
    plot_filters,
    plot_image_grid,
)
from cnnviz.plots.features import MAX_FEATURE_MAPS
from cnnviz.safe_text import as_markdown_text
from pages.common.convolution_view import convolution_steps
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import figure_labels, t
from pages.common.inputs import index_slider, pick_input
from pages.common.links import from_link, linked, refresh_link
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model, current_zoo_key, own_test_data
from pages.common.shared_runs import shared_view
from pages.common.visualisation_view import visualisation_section
from pages.common.words_frame import no_test_images

frame = page_frame()
st.title(t("feature_maps.title"))
st.caption(t("feature_maps.intro"))

trained = current_model()
info = trained.info
prep = info.preprocessing
left, right = st.columns([1, 2])
with left:
    picked = pick_input(trained, key="features")
x = prep.apply(picked.image[None])[0]


def prediction_figures():
    """The class probabilities for the input, its picture and their bar chart (shared: see shared_view)."""
    probabilities = trained.predict_proba(picked.image[None])[0]
    return (probabilities, plot_image_grid(picked.image[None], [t("feature_maps.input")], columns=1),
            plot_class_probabilities(probabilities, info.class_names, labels=figure_labels("class_probabilities")))


with right:
    probabilities, image_figure, bars_figure = shared_view("prediction", trained, (picked.image,),
                                                           prediction_figures)
    top = int(probabilities.argmax())
    truth = (t("feature_maps.true_class", name=as_markdown_text(picked.true_class))
             if picked.true_class is not None else "")
    top_class = as_markdown_text(info.class_names[top])  # names and labels may come from files: text, not markup
    if picked.blank:
        # A confident-looking number for an empty canvas ("4, 71%") is no prediction: say so first.
        st.markdown(t("feature_maps.blank", label=as_markdown_text(picked.label), probability=probabilities[top],
                      name=top_class))
    else:
        st.markdown(t("feature_maps.prediction", label=as_markdown_text(picked.label), name=top_class,
                      probability=probabilities[top], truth=truth))
    image_col, bars_col = st.columns([1, 2])
    image_col.plotly_chart(image_figure, key="input_image")
    bars_col.plotly_chart(bars_figure, key="probabilities")

layers, records = shared_view("layers", trained, (), lambda: (
    spatial_layers(trained.model, prep.input_shape),
    {r.name: r for r in receptive_fields(trained.model, prep.input_shape)}))


def top_crops(data, layer: str, channel: int, record):
    """(whole images?, what the crops show, their figure) for the 8 test images that excite `channel` most."""
    best = top_activations(trained.model, prep.apply(data.x_test), layer, channel, k=8)
    if record is None or record.size is None:
        crops, what = data.x_test[best.indices], t("feature_maps.whole_images")
    else:
        crops = receptive_field_crops(data.x_test[best.indices], best.positions, record)
        what = t("feature_maps.window", rows=record.size[0], cols=record.size[1])
    titles = [f"#{i} {v:.2f}" for i, v in zip(best.indices, best.values)]
    return record is None or record.size is None, what, plot_image_grid(crops, titles, columns=8)


@st.fragment
def layer_view() -> None:
    """Maps, filters and top activations of one layer; its widgets rerun only this part."""
    layer_details()
    refresh_link(current_zoo_key())  # a fragment's rerun skips close_page_frame: keep the URL in step


def layer_details() -> None:
    """Maps, filters and top activations of one layer."""
    a, b = st.columns([2, 1])
    layer = a.selectbox(t("feature_maps.layer"), layers, index=layers.index(first_convolution(trained.model, layers)),
                        key=linked("features_layer", choices=layers),
                        help=t("feature_maps.layer_help"))
    per_channel = b.toggle(t("feature_maps.per_channel"), key=linked("features_per_channel"),
                           help=t("feature_maps.per_channel_help"))
    scale = "channel" if per_channel else "layer"

    def maps_figure():
        maps = feature_maps(trained.model, x, layers=[layer])[layer]
        # at most MAX_FEATURE_MAPS tiles
        return maps.shape[0], plot_feature_maps(maps, scale=scale, labels=figure_labels("feature_maps"))

    channels, figure = shared_view("feature_maps", trained, (picked.image, layer, scale), maps_figure)
    st.plotly_chart(figure, key="maps")
    if channels > MAX_FEATURE_MAPS:  # a model file may give a layer thousands of channels
        st.caption(t("feature_maps.first_maps", shown=MAX_FEATURE_MAPS, channels=channels,
                     layer=as_markdown_text(layer)))
    reproduce_panel(figure, snippet(model_code(), input_code(picked),
                                    "x = trained.info.preprocessing.apply(image[None])[0]",
                                    f"maps = cnnviz.feature_maps(trained.model, x, layers=[{layer!r}])[{layer!r}]",
                                    f"fig = cnnviz.plots.plot_feature_maps(maps, scale={scale!r})"),
                    name="feature_maps")
    module = dict(trained.model.named_modules())[layer]
    if hasattr(module, "weight") and getattr(module.weight, "ndim", 0) == 4:
        shape = ", ".join(map(str, module.weight.shape))
        with st.expander(t("feature_maps.filters", layer=layer, shape=shape), expanded=False):
            filters = shared_view("filters", trained, (layer,), lambda: plot_filters(module.weight.detach().numpy(),
                                                                            labels=figure_labels("filters")))
            st.plotly_chart(filters, key="filters")
            st.caption(t("feature_maps.filters_note"))
        if from_link(f"conv_row_{layer}"):  # a link to one value (the lesson's first step) opens its view
            st.session_state["conv_steps_open"] = True
        with st.expander(t("convolution.expander", layer=layer), icon=":material/calculate:",
                         expanded=st.session_state.get("conv_steps_open", False)):
            convolution_steps(trained, picked, x, layer, channels)

    data = own_test_data(trained)
    st.subheader(t("feature_maps.excites"))
    channel = index_slider(t("feature_maps.channel"), channels, key="features_channel")
    if data is None:
        st.caption(no_test_images(t("feature_maps.finding"), as_markdown_text(info.dataset)))
    else:
        whole, what, crops_figure = shared_view("top_crops", trained, (layer, channel),
                                                lambda: top_crops(data, layer, channel, records.get(layer)))
        if whole:
            st.info(t("feature_maps.no_field", layer=layer))
        st.plotly_chart(crops_figure, key="top_crops")
        st.caption(t("feature_maps.crops", channel=channel, layer=layer, what=what))
    visualisation_section(trained, layer, channel, records.get(layer), data)


layer_view()
close_page_frame(frame)
