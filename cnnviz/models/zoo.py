"""The model zoo: small trained checkpoints shipped in the repository.

Every entry is rebuilt deterministically (same seed, same data, one thread) by

    python -m cnnviz.models.zoo

which trains each model, checks it reaches its minimum test accuracy, and writes
`cnnviz/checkpoints/<key>.safetensors`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from cnnviz.data.images import ImageDataset, load_image_dataset
from cnnviz.data.text import TextDataset, load_text_corpus
from cnnviz.errors import ModelLoadError
from cnnviz.models.files import load_model, save_model
from cnnviz.models.specs import TEXT_KINDS
from cnnviz.models.trained import TrainedModel, untrained_model, untrained_text_model
from cnnviz.models.training import TrainConfig, TrainResult, train

CHECKPOINT_DIR = Path(__file__).parent.parent / "checkpoints"


@dataclass(frozen=True)
class ZooEntry:
    """How one zoo model is trained, and the test accuracy it must reach."""

    key: str
    architecture: str
    dataset: str
    config: TrainConfig
    min_accuracy: float


ZOO: dict[str, ZooEntry] = {
    entry.key: entry for entry in (
        ZooEntry("lenet5-digits", "lenet5", "digits", TrainConfig(epochs=15), 0.97),
        ZooEntry("tinyvgg-shapes", "tiny_vgg", "shapes", TrainConfig(epochs=15), 0.95),
        ZooEntry("textcnn-sentiment", "text_cnn", "sentiment", TrainConfig(epochs=15, learning_rate=0.01), 0.95),
    )
}
DEFAULT_ZOO_MODEL = "lenet5-digits"
DEFAULT_TEXT_ZOO_MODEL = "textcnn-sentiment"


def zoo_path(key: str) -> Path:
    """Where the checkpoint of zoo entry `key` lives."""
    return CHECKPOINT_DIR / f"{key}.safetensors"


def load_zoo_model(key: str = DEFAULT_ZOO_MODEL) -> TrainedModel:
    """Load a zoo checkpoint; raises ModelLoadError if it is missing."""
    if key not in ZOO:
        raise ModelLoadError(f"Unknown zoo model {key!r}; choose one of {', '.join(ZOO)}.")
    path = zoo_path(key)
    if not path.exists():
        raise ModelLoadError(f"The zoo checkpoint {path.name} is missing; rebuild it with "
                             "`python -m cnnviz.models.zoo`.")
    return load_model(path)


def build_zoo_model(key: str) -> tuple[TrainedModel, TrainResult]:
    """Train zoo entry `key` from its seed; returns the model (with test accuracy) and its history."""
    entry = ZOO[key]
    dataset: TextDataset | ImageDataset
    if entry.architecture in TEXT_KINDS:
        dataset = corpus = load_text_corpus(entry.dataset)
        trained = untrained_text_model(entry.architecture, corpus, seed=entry.config.seed)
    else:
        dataset = images = load_image_dataset(entry.dataset)
        trained = untrained_model(entry.architecture, images, seed=entry.config.seed)
    result = train(trained.model, dataset.train_tensors(), entry.config, test_set=dataset.test_tensors())
    return trained.with_accuracy(result.test_accuracy), result


def main(argv: list[str] | None = None) -> None:
    """Command line: rebuild all zoo checkpoints (or those named)."""
    parser = argparse.ArgumentParser(description="Rebuild the cnnviz model zoo.")
    parser.add_argument("keys", nargs="*", help=f"entries to rebuild: {', '.join(ZOO)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [key for key in args.keys if key not in ZOO]
    if unknown:
        parser.error(f"unknown zoo entries: {', '.join(unknown)}")
    torch.set_num_threads(1)  # one thread: the same floating-point sums on every machine
    CHECKPOINT_DIR.mkdir(exist_ok=True)
    for key in args.keys or list(ZOO):
        start = time.perf_counter()
        trained, _ = build_zoo_model(key)
        accuracy = trained.info.test_accuracy or 0.0
        print(f"{key}: test accuracy {accuracy:.4f} in {time.perf_counter() - start:.1f} s")
        if accuracy < ZOO[key].min_accuracy:
            raise SystemExit(f"{key} reached only {accuracy:.4f}, below {ZOO[key].min_accuracy}")
        save_model(trained, zoo_path(key))


if __name__ == "__main__":
    main()
