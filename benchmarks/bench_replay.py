"""What recording a training replay costs: time against the same training without it, and memory.

    python -m benchmarks.bench_replay [--repeats 3] [--epochs 3] [--threads 1]

For LeNet-5 on MNIST (4,000 training images) and TinyVGG on Fashion-MNIST (6,000), as the
app records them (maps of every convolution): `cnnviz.train` with and without a
`ReplayRecorder` as on_epoch, same seed and initial weights, run alternately so both see the
same machine load; the median of each and their ratio. Then one snapshot's own time (and the
epochs + 1 snapshots' share of the run without them, steadier than the ratio on a busy machine),
its bytes, and the bytes of a replay at the app's most epochs (50; 10 in a hosted demo).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from cnnviz import (
    HOSTED,
    ReplayRecorder,
    Settings,
    TrainConfig,
    convolution_layers,
    load_image_dataset,
    train,
    untrained_model,
)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(architecture: str, dataset_name: str, config: TrainConfig, repeats: int) -> None:
    data = load_image_dataset(dataset_name)
    train_set, test_set = data.train_tensors(), data.test_tensors()

    def plain() -> None:
        train(untrained_model(architecture, data).model, train_set, config)

    def recorded() -> ReplayRecorder:
        model = untrained_model(architecture, data).model
        recorder = ReplayRecorder(model, test_set, layers=convolution_layers(model))  # epoch 0 is recorded here
        train(model, train_set, config, on_epoch=recorder)
        return recorder

    plain()  # warm-up: lazy initialisation inside torch
    without, with_replay = [], []
    for _ in range(repeats):
        without.append(timed(plain))
        with_replay.append(timed(recorded))
    recorder = recorded()
    snapshot_times = [timed(lambda: recorder.record(config.epochs)) for _ in range(20)]
    replay = recorder.replay()
    per_snapshot = replay.snapshots[0].nbytes
    print(f"{architecture} on {dataset_name}: {len(train_set[0]):,} training images, {config.epochs} epochs, "
          f"batch {config.batch_size}, {repeats} alternating repeats")
    print(f"  without replay: median {statistics.median(without):.3f} s  {[round(t, 3) for t in without]}")
    print(f"  with replay:    median {statistics.median(with_replay):.3f} s  {[round(t, 3) for t in with_replay]}")
    print(f"  ratio with / without: {statistics.median(with_replay) / statistics.median(without):.3f}")
    snapshot = statistics.median(snapshot_times)
    print(f"  one snapshot: median {snapshot * 1000:.1f} ms "
          f"(maps of {', '.join(replay.map_layers)}; {len(replay.histogram_layers)} histogrammed layers)")
    # Less noisy than the ratio on a busy machine: what the epochs + 1 snapshots add to the run, by their own time.
    print(f"  snapshots' share of the run: {(config.epochs + 1) * snapshot / statistics.median(without):.1%}")
    print(f"  bytes per snapshot: {per_snapshot:,}; replay of {Settings().max_epochs} epochs (the app's most): "
          f"{replay.bytes_for(Settings().max_epochs):,}; of {HOSTED.max_epochs} (hosted): "
          f"{replay.bytes_for(HOSTED.max_epochs):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    config = TrainConfig(epochs=args.epochs)
    for architecture, dataset_name in (("lenet5", "mnist"), ("tiny_vgg", "fashion_mnist")):
        measure(architecture, dataset_name, config, args.repeats)


if __name__ == "__main__":
    main()
