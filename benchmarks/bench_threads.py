"""How many torch threads the app should use: 1 against 2, on a quiet and on a busy machine.

    python -m benchmarks.bench_threads [--repeats 3] [--epochs 3]

The app shares its 2 cores with the browser and with other sessions, so the
thread count that is fastest alone may be slow in use. For each load (quiet; busy:
one spinning process per core, as a browser redrawing and another session would
keep them) it times the app's two heaviest routine jobs with 1 and with 2 torch
threads, alternating the thread counts so both see the same load:

- training LeNet-5 on digits for `--epochs` epochs (the Train page's default model),
- 20 Integrated Gradients explanations of a TextCNN sentence (the TextCNN page).

It prints the median of each and the ratio 2 threads / 1 thread (below 1: two are faster).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from cnnviz import TrainConfig, attribute_tokens, load_image_dataset, load_zoo_model, train, untrained_model


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def jobs(epochs: int) -> dict[str, Callable[[], None]]:
    """The timed jobs, each a function that does one unit of work."""
    digits = load_image_dataset("digits")
    x, y = digits.train_tensors()
    config = TrainConfig(epochs=epochs)
    text = load_zoo_model("textcnn-sentiment")
    prep = text.info.preprocessing
    tokens = prep.encode_batch(["dull at first but wonderful in the end"])[0]

    def training() -> None:
        train(untrained_model("lenet5", digits).model, (x, y), config)

    def attributions() -> None:
        for _ in range(20):
            attribute_tokens(text.model, tokens, 1, vocabulary=prep.vocabulary, method="integrated_gradients",
                             n_steps=50)

    return {f"train LeNet-5, {epochs} epochs": training, "20 x Integrated Gradients (TextCNN)": attributions}


def measure(work: dict[str, Callable[[], None]], repeats: int) -> dict[tuple[str, int], float]:
    """Median seconds of each job at 1 and 2 threads, the thread counts alternating."""
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeats):
        for name, fn in work.items():
            for threads in (1, 2):
                torch.set_num_threads(threads)
                start = time.perf_counter()
                fn()
                times.setdefault((name, threads), []).append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    work = jobs(args.epochs)
    for fn in work.values():  # warm-up: lazy initialisation inside torch
        torch.set_num_threads(1)
        fn()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    for load in ("quiet", "busy"):
        spinners = []
        if load == "busy":
            spinners = [multiprocessing.Process(target=_spin, args=(3600,), daemon=True)
                        for _ in range(os.cpu_count() or 2)]
            for spinner in spinners:
                spinner.start()
        try:
            medians = measure(work, args.repeats)
        finally:
            for spinner in spinners:
                spinner.terminate()
                spinner.join()
        for name in work:
            one, two = medians[(name, 1)], medians[(name, 2)]
            print(f"{load:5}  {name:38}  1 thread {one:7.2f} s   2 threads {two:7.2f} s   2/1 = {two / one:.2f}")


if __name__ == "__main__":
    main()
