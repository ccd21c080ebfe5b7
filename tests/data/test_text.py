"""cnnviz.data.text: text data sets, offline loading and splits, online sets with a fake hub, sets from rows."""

import sys
import time
import types

import pytest
import torch

import cnnviz.data.text as text_module
from cnnviz.data.sentiment import SENTIMENT_TAGS
from cnnviz.data.text import (
    ONLINE_TEXT_CORPORA,
    TextDataset,
    load_text_corpus,
    text_dataset_from_rows,
)
from cnnviz.data.tokenizer import PAD, UNK, tokenize
from cnnviz.errors import DatasetUnavailableError


def test_load_sentiment_corpus_split():
    ds = load_text_corpus("sentiment")
    assert isinstance(ds, TextDataset) and ds.name == "sentiment"
    assert len(ds.train_texts) == 3200 and len(ds.test_texts) == 800 == len(ds.test_tags) == len(ds.y_test)
    assert ds.class_names == ("negative", "positive")
    assert int(ds.y_train.sum()) == 1600 and int(ds.y_test.sum()) == 400  # stratified
    assert set(ds.test_tags) == set(SENTIMENT_TAGS)
    # The vocabulary is the training split's tokens exactly.
    assert set(ds.preprocessing.vocabulary.tokens[2:]) == {t for text in ds.train_texts for t in tokenize(text)}
    x, y = ds.train_tensors()
    assert x.shape[0] == 3200 and x.dtype == torch.long and torch.equal(y, torch.as_tensor(ds.y_train))
    assert ds.test_tensors()[0].shape[0] == 800
    small = load_text_corpus("sentiment", n_samples=500, seed=1, max_length=5)
    assert (len(small.train_texts), len(small.test_texts)) == (400, 100)
    assert small.train_tensors()[0].shape[1] == 5
    assert load_text_corpus("sentiment", n_samples=500, seed=1).test_texts == small.test_texts


@pytest.mark.parametrize("name", ONLINE_TEXT_CORPORA)
def test_online_corpus_offline_fails_fast_with_a_clear_message(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_download(*args, **kwargs):
        raise AssertionError("load_dataset was called offline")
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=no_download))
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_text_corpus(name)
    assert time.perf_counter() - start < 5
    assert "network" in str(info.value) and "sentiment" in str(info.value)


def test_unknown_corpus():
    with pytest.raises(DatasetUnavailableError, match="Unknown text data set 'imdb'.*sentiment.*trec"):
        load_text_corpus("imdb")


def test_online_corpus_is_converted_with_a_fake_hub(monkeypatch):
    """Real `datasets.Dataset` splits, handed out by a fake `load_dataset` (nothing is downloaded)."""
    import datasets

    requested = []

    def fake(repo, split):
        requested.append((repo, split))
        n = 30 if split == "train" else 6
        # sorted by label, as some hub splits are: slicing would give one class only
        return datasets.Dataset.from_dict({"text": [f"question {i} ?" for i in range(n)],
                                           "coarse_label": [i * 6 // n for i in range(n)]})
    monkeypatch.setattr(datasets, "load_dataset", fake)
    monkeypatch.setattr(text_module, "network_available", lambda timeout=2.0: True)
    ds = load_text_corpus("trec", n_samples=20)
    assert requested == [("CogComp/trec", "train"), ("CogComp/trec", "test")]
    assert (len(ds.train_texts), len(ds.test_texts)) == (16, 4)  # 20 - 20 // 5, 20 // 5
    assert ds.class_names == ("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM")
    assert len(set(ds.y_train.tolist())) > 1  # sampled, not sliced
    assert ds.test_tags == ("",) * 4
    assert set(ds.preprocessing.vocabulary.tokens) <= {PAD, UNK, "question", "?"} | {str(i) for i in range(30)}


def test_hub_failure_becomes_dataset_unavailable(monkeypatch):
    def failing(repo, split):
        raise ConnectionError("hub is down")
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=failing))
    monkeypatch.setattr(text_module, "network_available", lambda timeout=2.0: True)
    with pytest.raises(DatasetUnavailableError, match="Could not load sst2 from Hugging Face: hub is down"):
        load_text_corpus("sst2")


def test_text_dataset_from_rows():
    texts = [f"text number {i}" for i in range(20)]
    labels = ["10", "2"] * 10
    ds = text_dataset_from_rows("upload", texts, labels, seed=3, max_length=16)
    assert ds.class_names == ("2", "10")  # whole numbers sort as numbers
    assert (len(ds.train_texts), len(ds.test_texts)) == (16, 4)
    assert sorted(ds.y_test.tolist()) == [0, 0, 1, 1]  # stratified
    assert ds.test_tags == ("",) * 4 and ds.preprocessing.max_length == 16
    for text, y in zip(ds.train_texts, ds.y_train, strict=True):
        assert ds.class_names[y] == labels[texts.index(text)]
    words = text_dataset_from_rows("u", texts, ["pos", "neg", "meh", "neg"] * 5)
    assert words.class_names == ("meh", "neg", "pos")


def test_text_dataset_from_rows_refuses_too_little():
    with pytest.raises(DatasetUnavailableError, match="two different labels"):
        text_dataset_from_rows("u", ["a"] * 20, ["pos"] * 20)
    with pytest.raises(DatasetUnavailableError, match="at least 10"):
        text_dataset_from_rows("u", ["a"] * 9, ["pos", "neg", "pos"] * 3)


def test_one_example_classes_are_split_without_stratification():
    labels = ["a"] * 11 + ["b"]  # "b" once: a stratified split is impossible, a plain one works
    ds = text_dataset_from_rows("u", [str(i) for i in range(12)], labels)
    assert len(ds.train_texts) + len(ds.test_texts) == 12
