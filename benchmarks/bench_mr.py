"""TextCNN against fastText on real movie-review sentences (MR), in one run (not part of the tests).

    python -m benchmarks.bench_mr [--threads 1] [--repeats 1]

Trains the zoo's TextCNN and fastText configurations (`ZOO["textcnn-mr"]`, `ZOO["fasttext-mr"]`)
from their seeds on the bundled MR split and prints, for each, the held-out accuracy, the
training time (median of `--repeats`) and the ratio of the two times, beside Kim 2014's
76.1% for CNN-rand on MR (10-fold cross-validation; here one fixed 90/10 split).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from cnnviz import ZOO, evaluate, load_text_corpus, train, untrained_text_model

KIM_2014_CNN_RAND_MR = 0.761  # Kim 2014, table 2, CNN-rand on MR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    start = time.perf_counter()
    corpus = load_text_corpus("mr")
    print(f"MR: {len(corpus.train_texts):,} training and {len(corpus.test_texts):,} test sentences, vocabulary "
          f"{len(corpus.preprocessing.vocabulary):,} (loaded in {time.perf_counter() - start:.2f} s)")
    seconds = {}
    for key in ("textcnn-mr", "fasttext-mr"):
        entry = ZOO[key]
        times, accuracy, parameters = [], 0.0, 0
        for _ in range(args.repeats):
            model = untrained_text_model(entry.architecture, corpus, seed=entry.config.seed,
                                         **dict(entry.spec_options))
            began = time.perf_counter()
            train(model.model, corpus.train_tensors(), entry.config)
            times.append(time.perf_counter() - began)
            accuracy = evaluate(model.model, *corpus.test_tensors()).accuracy
            parameters = model.parameters
        seconds[key] = statistics.median(times)
        print(f"  {key:12s} accuracy {accuracy:.3f}   training {seconds[key]:.1f} s ({entry.config.epochs} epochs)   "
              f"{parameters:,} parameters")
    print(f"  TextCNN / fastText training time: {seconds['textcnn-mr'] / seconds['fasttext-mr']:.1f}x; "
          f"Kim 2014 CNN-rand on MR: {KIM_2014_CNN_RAND_MR:.1%}")


if __name__ == "__main__":
    main()
