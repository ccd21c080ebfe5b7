"""Feature maps' "what the channel wants to see": an input optimised to excite one channel (issue 18, part 1).

Feature visualisation by optimisation (Olah, Mordvintsev & Schubert 2017) for the page's layer and
channel, beside the test images that excite the channel most: the first session to ask computes it
with a progress bar, sessions asking meanwhile wait for it, later ones look it up (`shared_results`).
Small models run at once; a large one (EfficientNet's 224×224 inputs) waits for a click.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from cnnviz import (
    DEFAULT_VISUALISATION_STEPS,
    ImageDataset,
    ReceptiveField,
    TrainedModel,
    channel_objective,
    feature_maps,
    load_photo,
    to_model_input,
    top_activations,
    visualise_channel,
)
from cnnviz.data.photos import labelled_photos
from cnnviz.plots import plot_feature_visualisation
from cnnviz.safe_text import as_markdown_text
from pages.common.links import linked
from pages.common.reproduce import model_code, reproduce_panel, snippet
from pages.common.session import app_settings
from pages.common.shared_runs import model_key, shared_results, shared_view

TITLE = "What the channel wants to see"
NOTE = ("An image made from noise by gradient ascent, so that {target} responds as strongly as it can, while it is "
        "shifted, zoomed and turned a little at every step (Olah et al. 2017, *Feature Visualization*). It shows "
        "what drives the channel hardest, not what the channel *is*: real images that excite it can look quite "
        "different, and one channel may respond to several patterns (ask for several images).")
TARGETS = {"unit": "one unit (the centre of its map)", "channel": "the whole channel (mean over its map)"}
TARGET_WORDS = {"unit": "unit {unit} of channel {channel} of {layer}", "channel": "channel {channel} of {layer}"}
COMPARED = ("**Activation** of {target}: **{value:.2f}** for the {which}; the strongest of the "
            "{count:,} {what} reaches {best:.2f}{where}.")
ONE = "optimised image"
MANY = "strongest of the {n} optimised images (all: {values})"
WEAKER = " The optimiser found no stronger image than the best real one here: try more steps or another seed."
ASK = "Optimising an image for this {size}×{size} network takes a while ({steps} steps)."
WAITING = "Another session is making this image; waiting for it ..."
LARGE = 64  # inputs larger than this many pixels a side (EfficientNet's 224) are optimised on request only
_SHARED = "feature_visualisation"


def _reference(trained: TrainedModel, data: ImageDataset | None) -> tuple[np.ndarray, str] | None:
    """The real images to compare with (in [0, 1]) and what they are: the model's test images, or the bundled
    photos of its label set (ImageNet's 20 for EfficientNet), or None."""
    if data is not None:
        return data.x_test, "test images"
    names = labelled_photos(trained.info.dataset)
    if not names:
        return None
    prep = trained.info.preprocessing
    return np.stack([to_model_input(load_photo(n), prep) for n in names]), f"{trained.info.dataset} photos"


def _best_real(trained: TrainedModel, images: np.ndarray, layer: str, channel: int, target: str) -> float:
    """The strongest real image's activation: its strongest unit of the channel (the first crop shown above) for
    a unit, its mean over the map for the whole channel."""
    x = trained.info.preprocessing.apply(images)
    if target == "unit":
        return float(top_activations(trained.model, x, layer, channel, k=1, batch_size=32).values[0])
    return float(channel_objective(trained.model, x, layer, channel, batch_size=32).max())


def _window(record: ReceptiveField | None, unit: tuple[int, int] | None, size: int) -> tuple[int, ...] | None:
    """The unit's input window (clipped to the image), if the layer has one."""
    if unit is None or record is None or record.size is None:
        return None
    try:
        return tuple(record.box(unit, (size, size)))
    except ValueError:
        return None


def _region(window: tuple[int, ...] | None, size: int) -> tuple[int, int, int, int] | None:
    """What the figure shows of a unit's image: its window and a margin (the rest stays at the mean colour), as the
    crops of real images above show their window; None (the whole image) for the whole channel."""
    if window is None:
        return None
    top, left, bottom, right = window
    margin = max(2, (bottom - top + 1) // 4)
    last = size - 1
    region = (max(top - margin, 0), max(left - margin, 0), min(bottom + margin, last), min(right + margin, last))
    return None if region == (0, 0, last, last) else region


def _run(trained: TrainedModel, settings: dict, window, region, key) -> tuple:
    """The visualisation and its figure: looked up, waited for, or computed here with a progress bar."""
    store = shared_results()
    found = store.get(key)
    if found is not None:
        return found
    with store.claim(key) as mine:
        if mine:
            bar = st.progress(0.0, text="Optimising ...")
            shown = [0.0]

            def on_step(step: int, steps: int, value: float) -> None:
                if time.monotonic() - shown[0] > 0.1 or step == steps:  # at most ten messages a second
                    shown[0] = time.monotonic()
                    bar.progress(step / steps, text=f"step {step}/{steps}: activation {value:.2f}")

            vis = visualise_channel(trained.model, trained.info.preprocessing, **settings, on_step=on_step)
            found = (vis, plot_feature_visualisation(vis, window=window, region=region))
            store.put(key, found)
            bar.empty()
            return found
    with st.spinner(WAITING):
        return store.wait(key, timeout=300)


def visualisation_section(trained: TrainedModel, layer: str, channel: int, record: ReceptiveField | None,
                          data: ImageDataset | None) -> None:
    """The optimised image for `channel` of `layer`, its settings, and how it compares with the strongest real image."""
    st.subheader(TITLE)
    prep = trained.info.preprocessing
    map_shape = shared_view("vis_map_shape", trained, (layer,), lambda: feature_maps(
        trained.model, np.zeros((1, *prep.input_shape), np.float32), layers=[layer])[layer].shape[2:])
    large = prep.size > LARGE
    left, right = st.columns(2)
    target = left.radio("Maximise", list(TARGETS), format_func=TARGETS.__getitem__, horizontal=True,
                        key=linked("vis_target", choices=list(TARGETS)))
    images = int(right.slider("Images", 1, 4, 1, key=linked("vis_images", low=1, high=4),
                              help="More than one: a diversity term pushes the images apart, so the channel's "
                                   "different patterns show (it costs some activation)."))
    most = max(16, app_settings().max_visualisation_steps)  # a hosted demo allows fewer
    with st.expander("Optimisation settings", icon=":material/tune:"):
        a, b, c = st.columns(3)
        steps = int(a.slider("Steps", 16, most, min(most, 64 if large else DEFAULT_VISUALISATION_STEPS), step=16,
                             key=linked("vis_steps", low=16, high=most, step=16)))
        seed = int(b.number_input("Seed", 0, 9999, 0, key=linked("vis_seed", low=0, high=9999),
                                  help="The same seed gives the same image; another seed, another start."))
        param = c.radio("Parameterisation", ["fourier", "pixel"], horizontal=True,
                        key=linked("vis_parameterisation", choices=["fourier", "pixel"]),
                        help="Fourier (default): the image's spectrum, scaled as natural images' is, which keeps "
                             "high-frequency noise out. Pixel: every pixel on its own, noisier.")
    unit = (map_shape[0] // 2, map_shape[1] // 2) if target == "unit" else None
    settings = dict(layer=layer, channel=channel, unit=unit, diversity=images, steps=steps, seed=seed,
                    parameterisation=param)
    window = _window(record, unit, prep.size)
    region = _region(window, prep.size)
    key = (_SHARED, model_key(trained), tuple(settings.items()))
    if large and shared_results().get(key) is None and not shared_results().computing(key):
        ask = st.empty()  # gone once the image is made
        with ask.container():
            st.caption(ASK.format(size=prep.size, steps=steps))
            clicked = st.button("Optimise an image", icon=":material/auto_awesome:", key="vis_run")
        if not clicked:
            return
        ask.empty()
    found = _run(trained, settings, window, region, key)
    if found is None:
        return
    vis, figure = found
    st.plotly_chart(figure, key="visualisation")
    words = TARGET_WORDS[target].format(unit=unit, channel=channel, layer=as_markdown_text(layer))
    st.caption(NOTE.format(target=words))
    real = shared_view("vis_reference", trained, (layer, channel, target), lambda: _compare(trained, data, layer,
                                                                                            channel, target))
    if real is not None:
        best, count, what = real
        values = ", ".join(f"{v:.2f}" for v in vis.activations)
        which = ONE if len(vis.activations) == 1 else MANY.format(n=len(vis.activations), values=values)
        where = " at its strongest unit (the first crop above)" if target == "unit" and data is not None else ""
        value = float(vis.activations.max())
        st.markdown(COMPARED.format(target=words, value=value, which=which, count=count, what=as_markdown_text(what),
                                    best=best, where=where) + (WEAKER if value <= best else ""))
    reproduce_panel(figure, snippet(
        model_code(),
        f"vis = cnnviz.visualise_channel(trained.model, trained.info.preprocessing, {layer!r}, {channel}, "
        f"unit={unit!r}, diversity={images}, steps={steps}, seed={seed}, parameterisation={param!r})",
        f"fig = cnnviz.plots.plot_feature_visualisation(vis, window={window!r}, region={region!r})"),
        name="feature_visualisation")


def _compare(trained: TrainedModel, data: ImageDataset | None, layer: str, channel: int,
             target: str) -> tuple[float, int, str] | None:
    """(the strongest real image's activation, how many real images, what they are), or None without any."""
    reference = _reference(trained, data)
    if reference is None:
        return None
    images, what = reference
    return _best_real(trained, images, layer, channel, target), len(images), what
