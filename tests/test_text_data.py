"""cnnviz.text_data: tokenizer rules, vocabulary ids, padding, the sentiment corpus, offline loading, CSV uploads."""

import codecs
import json
import sys
import time
import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnviz.data as data_module
import cnnviz.text_data as text_module
from cnnviz.errors import DatasetUnavailableError
from cnnviz.text_data import (
    ONLINE_TEXT_CORPORA,
    PAD,
    SENTIMENT_TAGS,
    UNK,
    TextDataset,
    TextPreprocessing,
    Vocabulary,
    csv_columns,
    load_text_corpus,
    make_sentiment_corpus,
    text_dataset_from_rows,
    texts_from_csv,
    tokenize,
)

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None)


# --- tokenize ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, tokens", [
    ("Not bad, at ALL!", ["not", "bad", ",", "at", "all", "!"]),
    ("It isn't good", ["it", "isn't", "good"]),
    ("It isn\u2019t good", ["it", "isn't", "good"]),                       # a curly apostrophe is "'"
    ("'tis the players' ball", ["'", "tis", "the", "players", "'", "ball"]),  # apostrophes at the edges
    ("rock'n'roll", ["rock'n'roll"]),
    ("Wow!!! 10/10", ["wow", "!", "!", "!", "10", "/", "10"]),
    ("the director's cut...", ["the", "director's", "cut", ".", ".", "."]),
    ("\uff27\uff2f\uff2f\uff24 \u2026", ["good", ".", ".", "."]),          # NFKC: full-width letters, ellipsis
    ("Caf\u00e9 CAF\u00c9", ["caf\u00e9", "caf\u00e9"]),
    ("cafe\u0301", ["caf\u00e9"]),                                         # a combining accent is composed
    ("\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e", ["\u0939\u093f\u0928\u094d\u0926\u0940",
                                                                        "\u092d\u093e\u0937\u093e"]),  # marks stay
    ("\u732b\u304c\u597d\u304d\u3002", ["\u732b", "\u304c", "\u597d", "\u304d", "\u3002"]),  # one token per CJK char
    ("\uc815\ub9d0 \uc88b\uc544\uc694", ["\uc815\ub9d0", "\uc88b\uc544\uc694"]),  # Korean is split at spaces
    ("great \U0001f44d", ["great", "\U0001f44d"]),
    ("\u2764\ufe0f it", ["\u2764\ufe0f", "it"]),                           # the emoji keeps its variation selector
    ("\U0001f468\u200d\U0001f469", ["\U0001f468", "\U0001f469"]),          # the zero-width joiner is deleted
    ("a\x00b\x07c\td\ne\u200bf", ["abc", "d", "ef"]),                      # controls deleted, white space splits
    ("x\ud800y \ue000z", ["xy", "z"]),                                     # a lone surrogate, private use: deleted
    ("\u0301abc", ["abc"]),                                                # a mark with nothing before it: dropped
    ("", []),
    (" \n\t ", []),
])
def test_tokenize_by_hand(text, tokens):
    assert tokenize(text) == tokens


@FUZZ
@given(st.text())
def test_tokenize_never_raises_and_is_stable(text):
    """Any str gives non-empty tokens without white space, the same every time; joining the tokens
    with spaces and tokenizing again gives them back (so vocabulary tokens are fixed points)."""
    tokens = tokenize(text)
    assert tokens == tokenize(text)
    assert all(token and not any(c.isspace() for c in token) for token in tokens)
    assert tokenize(" ".join(tokens)) == tokens


# --- vocabulary --------------------------------------------------------------------------------

def test_vocabulary_build_orders_by_count_then_alphabet():
    # counts: a 3, b 2, c 1, z 1 -> a, b, then c and z tied (alphabetical)
    vocab = Vocabulary.build(["b a a", "z b a", "c"])
    assert vocab.tokens == (PAD, UNK, "a", "b", "c", "z")
    assert len(vocab) == 6 and vocab.tokens[0] == "<pad>" and vocab.tokens[1] == "<unk>"
    assert Vocabulary.build(["b a a", "z b a", "c"], min_count=2).tokens == (PAD, UNK, "a", "b")
    assert Vocabulary.build(["b a a", "z b a", "c"], max_size=3).tokens == (PAD, UNK, "a")  # PAD, UNK count
    assert Vocabulary.build([]).tokens == (PAD, UNK)


def test_vocabulary_encode_decode():
    vocab = Vocabulary.build(["the film was good", "the film was bad"])
    # counts: film 2, the 2, was 2, bad 1, good 1 -> ids film 2, the 3, was 4, bad 5, good 6
    assert vocab.tokens[2:] == ("film", "the", "was", "bad", "good")
    assert vocab.encode("The film was GREAT!") == [3, 2, 4, 1, 1]  # "great" and "!" are unknown
    assert vocab.encode("") == []
    assert vocab.encode("<pad> <unk>") == [1] * 6  # typed markers are text ("<", "pad", ">"), never id 0
    assert vocab.decode([3, 2, 0, 1]) == ["the", "film", PAD, UNK]
    assert vocab.decode(torch.tensor([6])) == ["good"]
    for bad in (-1, 7):
        with pytest.raises(ValueError, match="outside this vocabulary"):
            vocab.decode([bad])


def test_vocabulary_json_round_trip_and_validation():
    vocab = Vocabulary.build(["b a a", "c"])
    back = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert back == vocab and hash(back) == hash(vocab) and back.encode("a c x") == [2, 4, 1]
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(("a", "b"))
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary((PAD, UNK, "a", "a"))
    with pytest.raises(ValueError):
        Vocabulary.from_dict({"tokens": "abc"})
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(["a"], min_count=0)


# --- padding and truncation --------------------------------------------------------------------

def test_encode_batch_pads_with_zero_and_truncates():
    vocab = Vocabulary.build(["good film", "film"])  # film 2, good 3
    prep = TextPreprocessing(vocab, max_length=3)
    batch = prep.encode_batch(["good film", "film", "", "good good good good film"])
    assert batch.dtype == torch.long
    assert batch.tolist() == [[3, 2, 0],
                              [2, 0, 0],
                              [0, 0, 0],
                              [3, 3, 3]]  # truncated to max_length: the first 3 tokens
    # L is the longest text when that is shorter than max_length
    assert prep.encode_batch(["film", "good film"]).tolist() == [[2, 0], [3, 2]]


def test_encode_batch_long_and_empty_texts():
    vocab = Vocabulary.build(["good"])  # good 2
    prep = TextPreprocessing(vocab, max_length=64)
    long = prep.encode_batch(["good " * 5000])
    assert long.shape == (1, 64) and bool((long == 2).all())
    assert prep.encode_batch([""]).tolist() == [[0]]  # at least one column
    assert prep.encode_batch(["", "  "]).shape == (2, 1)
    assert prep.encode_batch([]).shape == (0, 1)


def test_text_preprocessing_json_round_trip_and_validation():
    prep = TextPreprocessing(Vocabulary.build(["a b b"]), max_length=7)
    data = json.loads(json.dumps(prep.to_dict()))
    assert data["kind"] == "text" and prep.kind == "text"
    assert TextPreprocessing.from_dict(data) == prep
    with pytest.raises(ValueError, match="max_length"):
        TextPreprocessing(prep.vocabulary, max_length=0)
    with pytest.raises(ValueError, match="text model"):
        TextPreprocessing.from_dict({**data, "kind": "image"})


# --- the sentiment corpus ----------------------------------------------------------------------

NEGATORS = {"not", "never", "hardly", "from", "wasn't", "isn't"}  # "from" of "far from"


def rule_label(text: str) -> int:
    """The label by a local rule: the polarity of the *last* sentiment word, flipped when a negator is
    among the three tokens before it. That the corpus obeys it shows every label is decided inside a
    window of at most four tokens, which a TextCNN with widths up to 4 can see."""
    positive = set(text_module._POSITIVE) | {n.split()[1] for n in text_module._POSITIVE_NOUNS}
    negative = set(text_module._NEGATIVE) | {n.split()[1] for n in text_module._NEGATIVE_NOUNS}
    tokens = tokenize(text)
    last = max(i for i, t in enumerate(tokens) if t in positive | negative)
    polarity = 1 if tokens[last] in positive else -1
    if NEGATORS & set(tokens[max(last - 3, 0):last]):
        polarity = -polarity
    return int(polarity > 0)


def test_corpus_is_deterministic_balanced_and_tagged():
    texts, labels, tags = make_sentiment_corpus(1000, seed=5)
    again = make_sentiment_corpus(1000, seed=5)
    assert texts == again[0] and np.array_equal(labels, again[1]) and tags == again[2]
    assert make_sentiment_corpus(1000, seed=6)[0] != texts
    assert len(texts) == len(labels) == len(tags) == 1000
    assert labels.dtype == np.int64 and int(labels.sum()) == 500
    assert int(make_sentiment_corpus(7, seed=0)[1].sum()) == 4  # odd n: the extra one is positive
    assert set(tags) == set(SENTIMENT_TAGS)
    shares = {tag: tags.count(tag) / 1000 for tag in SENTIMENT_TAGS}
    assert shares == pytest.approx({"plain": 0.3, "intensifier": 0.2, "negation": 0.25, "contrast": 0.25}, abs=0.05)
    for tag in ("negation", "contrast"):  # both labels in the hard cases, so word order is needed
        tagged = labels[np.array(tags) == tag]
        assert 0.4 < tagged.mean() < 0.6


def test_corpus_labels_follow_a_local_word_order_rule():
    texts, labels, tags = make_sentiment_corpus(2000, seed=0)
    assert [rule_label(t) for t in texts] == labels.tolist()
    by_tag = {tag: [tokenize(t) for t, g in zip(texts, tags, strict=True) if g == tag] for tag in SENTIMENT_TAGS}
    assert all(NEGATORS & set(tokens) for tokens in by_tag["negation"])
    assert all("but" in tokens for tokens in by_tag["contrast"])
    assert all(set(tokens) & set(text_module._INTENSIFIERS) for tokens in by_tag["intensifier"])
    assert not any(NEGATORS & set(tokens) or "but" in tokens for tokens in by_tag["plain"])
    # The examples of the brief occur: negation flips and a "but" whose second clause decides.
    joined = " | ".join(" ".join(tokenize(t)) for t in texts)
    for phrase in ("not bad at all", "never boring", "hardly interesting", "at first but", "not good"):
        assert phrase in joined


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
    monkeypatch.setattr(data_module, "network_available", lambda timeout=2.0: True)
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
    monkeypatch.setattr(data_module, "network_available", lambda timeout=2.0: True)
    with pytest.raises(DatasetUnavailableError, match="Could not load sst2 from Hugging Face: hub is down"):
        load_text_corpus("sst2")


# --- CSV uploads -------------------------------------------------------------------------------

GOOD_CSV = b'id,text,label\n1,I loved it,pos\n2,"Bad, really bad",neg\n3,"two\nlines",pos\n'


def test_csv_good_file():
    assert csv_columns(GOOD_CSV) == ["id", "text", "label"]
    texts, labels = texts_from_csv(GOOD_CSV, text_column="text", label_column="label")
    assert texts == ["I loved it", "Bad, really bad", "two\nlines"]
    assert labels == ["pos", "neg", "pos"]


def test_csv_encodings_and_delimiters():
    bom = codecs.BOM_UTF8 + "text,label\nsch\u00f6n,pos\n".encode()
    assert csv_columns(bom) == ["text", "label"]  # not "\ufefftext"
    assert texts_from_csv(bom, text_column="text", label_column="label") == (["sch\u00f6n"], ["pos"])
    latin1 = "text;label\ncaf\u00e9 cr\u00e8me;pos\n".encode("latin-1")  # not valid UTF-8
    assert texts_from_csv(latin1, text_column="text", label_column="label") == (["caf\u00e9 cr\u00e8me"], ["pos"])
    utf16 = "text\tlabel\n\u732b\tpos\n".encode("utf-16")
    assert texts_from_csv(utf16, text_column="text", label_column="label") == (["\u732b"], ["pos"])


def test_csv_skips_blank_lines_and_rows_without_label():
    data = b"text,label\n\ngood, pos \nno label,\nshort row\n,neg\n"
    assert texts_from_csv(data, text_column="text", label_column="label") == (["good", ""], ["pos", "neg"])


@pytest.mark.parametrize("data, kwargs, message", [
    (b"", {}, "empty"),
    (b"  \n \n", {}, "empty"),
    (b"text,label\n", {}, "no rows with a label"),
    (GOOD_CSV, {"text_column": "review"}, "no column 'review'; its columns are: 'id', 'text', 'label'"),
    (b"text,label\n" + b"a,b\n" * 4, {"max_rows": 3}, "more than 3 rows; the limit is 3"),
    (GOOD_CSV, {"max_bytes": 10}, "the limit is"),
])
def test_csv_bad_files_get_a_message(data, kwargs, message):
    args = {"text_column": "text", "label_column": "label", **kwargs}
    with pytest.raises(DatasetUnavailableError, match=message):
        texts_from_csv(data, **args)


def test_csv_columns_of_an_empty_file():
    with pytest.raises(DatasetUnavailableError, match="empty"):
        csv_columns(b"")


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
