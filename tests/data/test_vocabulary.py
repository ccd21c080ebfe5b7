"""cnnviz.data.vocabulary: vocabulary ids, padding and truncation, JSON round trips."""

import json

import pytest
import torch

from cnnviz.data.tokenizer import PAD, UNK
from cnnviz.data.vocabulary import TextPreprocessing, Vocabulary

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
