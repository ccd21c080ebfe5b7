"""Trainer overhead and time to accuracy, measured in one run (not part of the tests).

    python -m benchmarks.bench_train [--repeats 5] [--epochs 10] [--threads 2]

1. `cnnviz.train` against a bare PyTorch loop doing the same work (same LeNet-5
   initial weights, digits data, batch size, Adam with the one-cycle schedule,
   same shuffling), run alternately so both see the same machine load; reports
   the median of each and their ratio (target: at most 1.10).
2. Wall time until LeNet-5 on digits first reaches 98% test accuracy with the
   default TrainConfig (the app's default settings).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time

import torch
from torch import nn

from cnnviz import TrainConfig, load_image_dataset, train, untrained_model


def bare_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig) -> None:
    """The textbook loop: what `train` does minus reporting, accuracy counting and NaN checks."""
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    batches = math.ceil(len(x) / config.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate,
                                                    total_steps=config.epochs * batches)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for b in range(batches):
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()


def time_it(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    digits = load_image_dataset("digits")
    load_seconds = time.perf_counter() - start
    x, y = digits.train_tensors()
    test = digits.test_tensors()
    config = TrainConfig(epochs=args.epochs)

    # Warm-up: the first run pays for lazy initialisation inside torch.
    bare_loop(untrained_model("lenet5", digits).model, x, y, config)
    ours, bare = [], []
    for _ in range(args.repeats):
        ours.append(time_it(lambda: train(untrained_model("lenet5", digits).model, (x, y), config)))
        bare.append(time_it(lambda: bare_loop(untrained_model("lenet5", digits).model, x, y, config)))
    with_test = time_it(lambda: train(untrained_model("lenet5", digits).model, (x, y), config, test_set=test))

    reached = {}

    def note_98(report):
        if report.test_accuracy >= 0.98 and "epoch" not in reached:
            reached.update(epoch=report.epoch, seconds=time.perf_counter() - t0)

    t0 = time.perf_counter()
    result = train(untrained_model("lenet5", digits).model, (x, y), TrainConfig(), test_set=test,
                   on_epoch=note_98)
    full_run = time.perf_counter() - t0

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print(f"digits load: {load_seconds:.2f} s")
    print(f"LeNet-5, digits, {args.epochs} epochs, batch {config.batch_size}, {args.repeats} alternating repeats")
    print(f"  cnnviz.train (no test set): median {statistics.median(ours):.3f} s  {[round(t, 3) for t in ours]}")
    print(f"  bare PyTorch loop:          median {statistics.median(bare):.3f} s  {[round(t, 3) for t in bare]}")
    print(f"  ratio trainer / bare loop:  {statistics.median(ours) / statistics.median(bare):.3f}")
    print(f"  cnnviz.train with a test evaluation every epoch: {with_test:.3f} s")
    if reached:
        print(f"default config ({TrainConfig().epochs} epochs): 98% test accuracy after epoch {reached['epoch']}, "
              f"{reached['seconds']:.2f} s; final {result.test_accuracy:.4f} after {full_run:.2f} s")
    else:
        print(f"default config never reached 98% (final {result.test_accuracy:.4f}, {full_run:.2f} s)")


if __name__ == "__main__":
    main()
