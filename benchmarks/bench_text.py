"""TextCNN against a fastText-style baseline, and the cost of one attribution (not part of the tests).

    python -m benchmarks.bench_text [--threads 2]

1. On the offline sentiment corpus, with the zoo's TrainConfig: held-out accuracy and
   training time of the TextCNN (target: at least 95% within 20 s) and of a unigram
   fastText, overall and on the test sentences tagged negation or contrast.
2. Median time of Integrated Gradients (n_steps=50) for one sentence with the zoo
   TextCNN (target: at most 50 ms).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from cnnviz import ZOO, attribute_tokens, evaluate, load_text_corpus, load_zoo_model, train, untrained_text_model

SENTENCE = "the acting was not good at all but the ending was really wonderful"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    corpus = load_text_corpus("sentiment")
    config = ZOO["textcnn-sentiment"].config
    hard = np.array([tag in ("negation", "contrast") for tag in corpus.test_tags])
    print(f"sentiment corpus: {len(corpus.train_texts)} training, {len(corpus.test_texts)} test sentences "
          f"({hard.sum()} tagged negation or contrast); {config}")
    for kind, label in (("text_cnn", "TextCNN"), ("fasttext", "fastText, unigrams"),
                        ("fasttext", "fastText, 10,000 bigram buckets")):
        extra = {"bigram_buckets": 10_000} if "bigram" in label else {}
        model = untrained_text_model(kind, corpus, seed=0, **extra)
        start = time.perf_counter()
        train(model.model, corpus.train_tensors(), config)
        seconds = time.perf_counter() - start
        result = evaluate(model.model, *corpus.test_tensors())
        right = result.predictions == result.labels
        print(f"  {label:32s} accuracy {right.mean():.3f}   negation/contrast {right[hard].mean():.3f}   "
              f"plain/intensifier {right[~hard].mean():.3f}   training {seconds:.1f} s")

    trained = load_zoo_model("textcnn-sentiment")
    tokens = trained.info.preprocessing.encode_batch([SENTENCE])[0]
    vocabulary = trained.info.preprocessing.vocabulary

    def attribute():
        return attribute_tokens(trained.model, tokens, 0, vocabulary=vocabulary, n_steps=50)

    attribute()
    times = []
    for _ in range(20):
        start = time.perf_counter()
        result = attribute()
        times.append(time.perf_counter() - start)
    print(f"Integrated Gradients, {len(tokens)} tokens, n_steps {result.n_steps}: median "
          f"{1000 * statistics.median(times):.1f} ms over 20 runs (delta {result.delta:.2g})")


if __name__ == "__main__":
    main()
