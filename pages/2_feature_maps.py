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
from pages.common.inputs import index_slider, pick_input
from pages.common.links import linked, refresh_link
from pages.common.reproduce import input_code, model_code, reproduce_panel, snippet
from pages.common.session import current_model, current_zoo_key, own_test_data
from pages.common.shared_runs import shared_view
from pages.common.words_frame import no_test_images

frame = page_frame()
st.title("Feature maps")
st.caption("A convolution slides each filter over its input and writes one map per filter: bright where "
           "the input looks like the filter. Pick an input, then a layer, and see every channel's map.")

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
    return (probabilities, plot_image_grid(picked.image[None], ["input"], columns=1),
            plot_class_probabilities(probabilities, info.class_names))


with right:
    probabilities, image_figure, bars_figure = shared_view("prediction", trained, (picked.image,),
                                                           prediction_figures)
    top = int(probabilities.argmax())
    truth = f" (true class: {as_markdown_text(picked.true_class)})" if picked.true_class is not None else ""
    top_class = as_markdown_text(info.class_names[top])  # names and labels may come from files: text, not markup
    if picked.blank:
        # A confident-looking number for an empty canvas ("4, 71%") is no prediction: say so first.
        st.markdown(f"**No prediction for {as_markdown_text(picked.label)}:** it is blank. (The model still puts "
                    f"{probabilities[top]:.0%} on {top_class}: a high probability does not mean the input "
                    "shows anything.)")
    else:
        st.markdown(f"**Prediction for {as_markdown_text(picked.label)}:** {top_class} "
                    f"({probabilities[top]:.0%}){truth}")
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
        crops, what = data.x_test[best.indices], "whole images"
    else:
        crops = receptive_field_crops(data.x_test[best.indices], best.positions, record)
        what = f"the {record.size[0]}×{record.size[1]} input window its strongest unit sees"
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
    layer = a.selectbox("Layer", layers, index=layers.index(first_convolution(trained.model, layers)),
                        key=linked("features_layer", choices=layers),
                        help="Layers whose output is still an image (before flattening).")
    per_channel = b.toggle("Colour scale per channel", key=linked("features_per_channel"),
                           help="Off: one scale for the whole layer, so channels compare. On: each "
                                "channel stretched to its own range, so weak patterns show.")
    scale = "channel" if per_channel else "layer"

    def maps_figure():
        maps = feature_maps(trained.model, x, layers=[layer])[layer]
        return maps.shape[0], plot_feature_maps(maps, scale=scale)   # at most MAX_FEATURE_MAPS tiles

    channels, figure = shared_view("feature_maps", trained, (picked.image, layer, scale), maps_figure)
    st.plotly_chart(figure, key="maps")
    if channels > MAX_FEATURE_MAPS:  # a model file may give a layer thousands of channels
        st.caption(f"Only the first {MAX_FEATURE_MAPS} of the {channels} channels of "
                   f"{as_markdown_text(layer)} are drawn, so the figure stays quick to build and to send.")
    reproduce_panel(figure, snippet(model_code(), input_code(picked),
                                    "x = trained.info.preprocessing.apply(image[None])[0]",
                                    f"maps = cnnviz.feature_maps(trained.model, x, layers=[{layer!r}])[{layer!r}]",
                                    f"fig = cnnviz.plots.plot_feature_maps(maps, scale={scale!r})"),
                    name="feature_maps")
    module = dict(trained.model.named_modules())[layer]
    if hasattr(module, "weight") and getattr(module.weight, "ndim", 0) == 4:
        shape = ", ".join(map(str, module.weight.shape))
        with st.expander(f"Filters of {layer} ({shape})", expanded=False):
            filters = shared_view("filters", trained, (layer,), lambda: plot_filters(module.weight.detach().numpy()))
            st.plotly_chart(filters, key="filters")
            st.caption("One row per output channel, one column per input channel: blue weights add, "
                       "red subtract.")
        with st.expander(f"One value of {layer}, step by step", icon=":material/calculate:"):
            convolution_steps(trained, picked, x, layer, channels)

    data = own_test_data(trained)
    if data is None:
        st.caption(no_test_images("Finding the images that excite a channel most", as_markdown_text(info.dataset)))
        return
    st.subheader("What excites one channel")
    channel = index_slider("Channel", channels, key="features_channel")
    whole, what, crops_figure = shared_view("top_crops", trained, (layer, channel),
                                            lambda: top_crops(data, layer, channel, records.get(layer)))
    if whole:
        st.info(f"{layer} has no single receptive field, so whole images are shown.")
    st.plotly_chart(crops_figure, key="top_crops")
    st.caption(f"The 8 test images that activate channel {channel} of {layer} most, each cropped to {what}. "
               "Titles: test image number and the activation.")


layer_view()
close_page_frame(frame)
