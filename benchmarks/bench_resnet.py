"""The ResNet vs plain page's two views, timed, and whether the degradation experiment shows degradation.

    python -m benchmarks.bench_resnet [--seeds 3] [--depth 56]

View 1 (target: at most 2 s for depth 56): gradient norms and input statistics of
the plain and the residual net on one batch of 64 digits (8x8), plus the figure
serialised to JSON as Streamlit does; the median of 5 runs.

View 2 (target: the default run within 60 s): the page's default experiment
(digits 8x8, plain/ResNet-20 and -56, 200 SGD steps of 64, learning rate 0.02,
batch norm, He init, post-activation) for each seed, with each net's final
training loss (mean of the last 20 steps) and whether plain-56 > plain-20
(degradation) while ResNet-56 <= plain-20 and ResNet-56 <= ResNet-20 + 0.01
(no degradation beyond the noise of the last steps).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace

import torch

from cnnviz import (
    DegradationConfig,
    ResNetSpec,
    activation_stats,
    build_resnet,
    degradation_experiment,
    gradient_norms,
    load_image_dataset,
)
from cnnviz.plots import plot_gradient_norms


def view_at_initialisation(spec: ResNetSpec, x: torch.Tensor, y: torch.Tensor) -> None:
    norms, stats = {}, {}
    for residual in (False, True):
        net = replace(spec, residual=residual)
        model = build_resnet(net, seed=0)
        norms[net.label], stats[net.label] = gradient_norms(model, x, y), activation_stats(model, x)
    plot_gradient_norms(norms, stats).to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=56)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    data = load_image_dataset("digits", size=8)
    x, y = data.train_tensors()
    net = ResNetSpec(in_channels=1, num_classes=10)

    times = []
    for _ in range(5):
        start = time.perf_counter()
        view_at_initialisation(replace(net, depth=args.depth), x[:64], y[:64])
        times.append(time.perf_counter() - start)
    print(f"View 1, depth {args.depth}, plain and residual: median {statistics.median(times):.2f} s (target 2 s)")

    for seed in range(args.seeds):
        config = DegradationConfig(net=net, seed=seed)
        start = time.perf_counter()
        result = degradation_experiment(config, x, y)
        seconds = time.perf_counter() - start
        final = {label: trace.final_loss() for label, trace in result.runs.items()}
        degraded = final["plain-56"] > final["plain-20"]
        residual_fine = final["ResNet-56"] <= min(final["ResNet-20"] + 0.01, final["plain-20"])
        print(f"View 2, seed {seed}: {seconds:.1f} s (target 60 s); final losses "
              + ", ".join(f"{label} {loss:.4f}" for label, loss in final.items())
              + f"; plain-56 > plain-20: {degraded}; ResNet-56 not degraded: {residual_fine}")


if __name__ == "__main__":
    main()
