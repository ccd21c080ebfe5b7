"""Server time of the Feature maps and Receptive fields views (not part of the tests).

    python -m benchmarks.bench_views [--repeats 20]

For each zoo model and each layer: computing the feature maps of one input, building
the figure and serialising it to JSON as Streamlit does (target: under 100 ms);
then the top activations over the test set, the analytic receptive fields, and the
effective receptive field of one unit for one input and averaged over 32 inputs.
Medians of `--repeats` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from cnnviz import (
    effective_receptive_field,
    feature_maps,
    load_image_dataset,
    load_zoo_model,
    receptive_fields,
    spatial_layers,
    top_activations,
)
from cnnviz.plots import plot_feature_maps


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    for key in ("lenet5-digits", "tinyvgg-shapes"):
        trained = load_zoo_model(key)
        prep = trained.info.preprocessing
        data = load_image_dataset(trained.info.dataset)
        test_x, _ = data.test_tensors()
        x = test_x[0]
        print(f"\n{trained.info.name} (input {prep.input_shape}, {len(test_x)} test images)")
        print(f"  {'layer':10s} {'maps':>8s} {'maps+figure+json':>18s}")
        worst = 0.0
        for layer in spatial_layers(trained.model, prep.input_shape):
            maps_only = median_ms(lambda: feature_maps(trained.model, x, layers=[layer]), args.repeats)

            def view() -> None:
                maps = feature_maps(trained.model, x, layers=[layer])[layer]
                plot_feature_maps(maps).to_json()

            full = median_ms(view, args.repeats)
            worst = max(worst, full)
            print(f"  {layer:10s} {maps_only:7.2f}  {full:17.1f}")
        print(f"  slowest feature-map view: {worst:.1f} ms (target 100 ms)")
        last = spatial_layers(trained.model, prep.input_shape)[-1]
        print(f"  top activations over the test set ({last}, channel 0): "
              f"{median_ms(lambda: top_activations(trained.model, test_x, last, 0), args.repeats):.1f} ms")
        print(f"  analytic receptive fields (torch.fx trace): "
              f"{median_ms(lambda: receptive_fields(trained.model, prep.input_shape), args.repeats):.1f} ms")
        unit = (0, 0)
        print(f"  effective receptive field of {last} unit {unit}, one input: "
              f"{median_ms(lambda: effective_receptive_field(trained.model, x, last, unit), args.repeats):.1f} ms")
        batch = test_x[:32]
        print(f"  effective receptive field of {last} unit {unit}, mean over 32 inputs: "
              f"{median_ms(lambda: effective_receptive_field(trained.model, batch, last, unit), args.repeats):.1f}"
              " ms")


if __name__ == "__main__":
    main()
