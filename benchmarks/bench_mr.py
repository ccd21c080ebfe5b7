"""TextCNN against fastText on real review sentences, English (MR) and Chinese, in one run (not part of the tests).

    python -m benchmarks.bench_mr [--corpora mr reviews_zh] [--page] [--threads 1] [--repeats 1]

For each corpus, trains the zoo's TextCNN and fastText configurations (`ZOO["textcnn-<corpus>"]`,
`ZOO["fasttext-<corpus>"]`) from their seeds on the bundled split and prints, for each, the held-out
accuracy, the training time (median of `--repeats`) and the ratio of the two times; for MR beside
Kim 2014's 76.1% for CNN-rand (10-fold cross-validation; here one fixed 90/10 split). The Chinese
reviews are read a character per token. `--page` also trains both the way the TextCNN page's "Train
both" does with its defaults (the spec's 16 filters of widths 2, 3, 4; 15 epochs, batch 64, learning
rate 0.01), to time what a user waits for.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from cnnviz import ZOO, TrainConfig, evaluate, load_text_corpus, train, untrained_text_model

KIM_2014_CNN_RAND_MR = 0.761  # Kim 2014, table 2, CNN-rand on MR
PAGE_CONFIG = TrainConfig(epochs=15, batch_size=64, learning_rate=0.01)   # pages/common/text_training.py
PAGE_OPTIONS = {"text_cnn": {"widths": (2, 3, 4)}, "fasttext": {}}


def timed(corpus, kind: str, options: dict, config: TrainConfig, repeats: int) -> tuple[float, float, int]:
    """(accuracy, median training seconds, parameters) of `kind` trained from seed `config.seed`."""
    times, accuracy, parameters = [], 0.0, 0
    for _ in range(repeats):
        model = untrained_text_model(kind, corpus, seed=config.seed, **options)
        began = time.perf_counter()
        train(model.model, corpus.train_tensors(), config)
        times.append(time.perf_counter() - began)
        accuracy = evaluate(model.model, *corpus.test_tensors()).accuracy
        parameters = model.parameters
    return accuracy, statistics.median(times), parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", choices=["mr", "reviews_zh"], default=["mr", "reviews_zh"])
    parser.add_argument("--page", action="store_true", help="also train with the TextCNN page's defaults")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    for name in args.corpora:
        start = time.perf_counter()
        corpus = load_text_corpus(name)
        print(f"{name}: {len(corpus.train_texts):,} training and {len(corpus.test_texts):,} test texts, vocabulary "
              f"{len(corpus.preprocessing.vocabulary):,}, at most {corpus.preprocessing.max_length} tokens "
              f"(loaded in {time.perf_counter() - start:.2f} s)")
        seconds = {}
        for kind in ("textcnn", "fasttext"):
            entry = ZOO[f"{kind}-{name}"]
            accuracy, seconds[kind], parameters = timed(corpus, entry.architecture, dict(entry.spec_options),
                                                        entry.config, args.repeats)
            print(f"  {entry.key:20s} accuracy {accuracy:.3f}   training {seconds[kind]:.1f} s "
                  f"({entry.config.epochs} epochs)   {parameters:,} parameters")
        print(f"  TextCNN / fastText training time: {seconds['textcnn'] / seconds['fasttext']:.1f}x"
              + (f"; Kim 2014 CNN-rand on MR: {KIM_2014_CNN_RAND_MR:.1%}" if name == "mr" else ""))
        if args.page:
            for kind, options in PAGE_OPTIONS.items():
                accuracy, took, parameters = timed(corpus, kind, options, PAGE_CONFIG, args.repeats)
                print(f"  page's {kind:13s} accuracy {accuracy:.3f}   training {took:.1f} s "
                      f"({PAGE_CONFIG.epochs} epochs)   {parameters:,} parameters")


if __name__ == "__main__":
    main()
