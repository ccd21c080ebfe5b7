"""Server time of the Feature maps page on EfficientNet-Lite0 and the cat photo (not part of the tests).

    python -m benchmarks.bench_imagenet [--threads 1] [--layers 12]

Two measurements in one run:
1. The library: for every spatial layer of EfficientNet-Lite0 (150), the feature maps of
   the cat 'chelsea' (224x224), the figure, and its JSON as Streamlit sends it: median and
   worst time, and the largest figure in MB.
2. The page itself, through Streamlit's AppTest (the script runs in this process, so its
   wall time is the server's time for the run, without the network): the first view of
   Feature maps with `model=efficientnet-lite0-imagenet` in the URL (trace, prediction,
   first layer), then `--layers` changes of the layer (each a new view of the cat: maps,
   figure and filters computed for the first time), then a second session that asks for a
   layer the first already showed (the process-wide shared views answer it).
Target (issue 16): every view after the first within 2 s of server time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch


def library_views(threads: int) -> None:
    from cnnviz import feature_maps, load_photo, load_zoo_model, spatial_layers, to_model_input
    from cnnviz.plots import plot_feature_maps

    trained = load_zoo_model("efficientnet-lite0-imagenet")
    prep = trained.info.preprocessing
    x = prep.apply(to_model_input(load_photo("chelsea"), prep)[None])[0]
    layers = spatial_layers(trained.model, prep.input_shape)
    times, sizes = [], []
    for layer in layers:
        start = time.perf_counter()
        maps = feature_maps(trained.model, x, layers=[layer])[layer]
        text = plot_feature_maps(maps).to_json()
        times.append(time.perf_counter() - start)
        sizes.append(len(text))
    worst = max(range(len(layers)), key=times.__getitem__)
    print(f"library, {threads} thread(s): {len(layers)} layers, maps + figure + JSON median "
          f"{1000 * statistics.median(times):.0f} ms, worst {1000 * times[worst]:.0f} ms ({layers[worst]}), "
          f"largest figure {max(sizes) / 1e6:.1f} MB")


def page_views(changes: int) -> None:
    from streamlit.testing.v1 import AppTest

    app = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app.py")
    at = AppTest.from_file(app, default_timeout=600)
    at.query_params["model"] = "efficientnet-lite0-imagenet"
    start = time.perf_counter()
    at.run()
    at.switch_page("pages/2_feature_maps.py").run()
    first = time.perf_counter() - start
    assert not at.exception, at.exception
    prediction = next(m.value for m in at.markdown if m.value.startswith("**Prediction"))
    print(f"page: first view (process start-up, trace, prediction, first layer) {first:.2f} s; {prediction}")
    box = at.selectbox(key="features_layer")
    options = box.options
    step = max(1, len(options) // changes)
    chosen = options[step::step][:changes]
    seconds = []
    for layer in chosen:
        start = time.perf_counter()
        at.selectbox(key="features_layer").set_value(layer).run()
        seconds.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    print(f"page: {len(chosen)} new layers, each a rerun of the view: median {statistics.median(seconds):.2f} s, "
          f"worst {max(seconds):.2f} s ({chosen[seconds.index(max(seconds))]})")
    other = AppTest.from_file(app, default_timeout=600)
    other.query_params["model"] = "efficientnet-lite0-imagenet"
    other.run()
    other.switch_page("pages/2_feature_maps.py").run()
    start = time.perf_counter()
    other.selectbox(key="features_layer").set_value(chosen[0]).run()
    print(f"page: a second session asking for a layer already shown: {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--layers", type=int, default=12)
    args = parser.parse_args()
    os.environ.setdefault("CNNVIZ_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}")
    library_views(args.threads)
    page_views(args.layers)


if __name__ == "__main__":
    main()
