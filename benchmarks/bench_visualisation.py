"""Cost of feature visualisation (`cnnviz.visualise_channel`), the Feature maps page's "what the channel wants to see".

    python -m benchmarks.bench_visualisation [--threads 1] [--repeats 5]

With the page's settings (256 steps, Fourier parameterisation, one image; EfficientNet-Lite0 per
step, since its step count is the user's): the first call in a process (it imports torch's
optimiser machinery and traces the model's receptive fields once), then the median over channels
0 to `repeats` - 1 of each layer, for the centre unit and the whole channel, and four diverse
images. Target (issue 18): a LeNet-5 channel within about 3 s on 2 busy cores with 1 torch thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_over_channels(trained, layer: str, channels: int, **options) -> float:
    from cnnviz import visualise_channel

    prep = trained.info.preprocessing
    return statistics.median(seconds(lambda: visualise_channel(trained.model, prep, layer, c, **options))
                             for c in range(channels))


def small(key: str, layers: list[str], repeats: int) -> None:
    from cnnviz import feature_maps, load_zoo_model, visualise_channel

    trained = load_zoo_model(key)
    prep = trained.info.preprocessing
    first = seconds(lambda: visualise_channel(trained.model, prep, layers[0], 0))
    print(f"\n{trained.info.name} ({prep.size}x{prep.size}), 256 steps: first call in the process {first:.2f} s")
    for layer in layers:
        rows, cols = feature_maps(trained.model, torch.zeros((1, *prep.input_shape)), layers=[layer])[layer].shape[2:]
        unit = median_over_channels(trained, layer, repeats, unit=(rows // 2, cols // 2))
        channel = median_over_channels(trained, layer, repeats)
        diverse = median_over_channels(trained, layer, max(1, repeats // 2), diversity=4)
        print(f"  {layer:8s} centre unit {unit:5.2f} s   whole channel {channel:5.2f} s   "
              f"4 diverse images {diverse:5.2f} s")


def imagenet(layers: list[str], steps: int) -> None:
    from cnnviz import load_zoo_model, visualise_channel

    trained = load_zoo_model("efficientnet-lite0-imagenet")
    prep = trained.info.preprocessing
    visualise_channel(trained.model, prep, layers[0], 0, steps=2)  # the first call's one-off costs
    print(f"\n{trained.info.name} (224x224), {steps} steps, whole channel 0:")
    for layer in layers:
        taken = seconds(lambda: visualise_channel(trained.model, prep, layer, 0, steps=steps))
        print(f"  {layer:22s} {1000 * taken / steps:6.0f} ms a step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--imagenet-steps", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}")
    small("lenet5-mnist", ["conv1", "conv2", "relu2", "pool2"], args.repeats)
    small("tinyvgg-fashion_mnist", ["conv1", "relu2", "relu4", "pool4"], args.repeats)
    imagenet(["stem.conv", "blocks.3.expand.act", "blocks.8.project.bn", "blocks.15.project.bn", "head.act"],
             args.imagenet_steps)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
