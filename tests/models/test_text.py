"""cnnviz.models.text: TextCNN and fastText specs, parameter counts and forward passes by hand, one training run."""

import json
import time

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.data.text import load_text_corpus
from cnnviz.models.specs import spec_from_dict
from cnnviz.models.text import (
    FastText,
    FastTextSpec,
    TextCNN,
    TextCNNSpec,
    bigram_ids,
    build_text_model,
    fasttext,
    text_cnn,
)
from cnnviz.models.training import TrainConfig, evaluate, train


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- parameter counts --------------------------------------------------------------------------

def test_text_cnn_parameter_count_by_hand():
    # embedding 100*8 = 800; conv w=2: 8*4*2+4 = 68; conv w=3: 8*4*3+4 = 100; fc 8*2+2 = 18 -> 986
    model = text_cnn(vocab_size=100, embedding_dim=8, widths=(2, 3), filters=4, num_classes=2)
    assert count(model) == 800 + 68 + 100 + 18 == 986
    assert [tuple(c.weight.shape) for c in model.convs] == [(4, 8, 2), (4, 8, 3)]
    assert model.embedding.padding_idx == 0 and model.fc.in_features == 8
    assert isinstance(model, TextCNN) and model.spec.kind == "text_cnn"


def test_text_cnn_default_parameter_count():
    # K 32, widths 2, 3, 4, F 16: convs 32*16*(2+3+4) + 3*16 = 4656; fc 48*2+2 = 98
    assert count(text_cnn(vocab_size=150)) == 150 * 32 + 4656 + 98 == 9554


def test_fasttext_parameter_count_by_hand():
    # embedding 100*8 = 800, fc 8*2+2 = 18 -> 818; 50 bigram buckets add 50*8 = 400
    assert count(fasttext(vocab_size=100, embedding_dim=8)) == 818
    model = fasttext(vocab_size=100, embedding_dim=8, bigram_buckets=50, num_classes=3)
    assert count(model) == 800 + 400 + 8 * 3 + 3 == 1227
    assert isinstance(model, FastText) and model.bigrams is not None and model.spec.kind == "fasttext"
    assert fasttext(vocab_size=100).bigrams is None


# --- forward passes by hand --------------------------------------------------------------------

def hand_text_cnn(widths=(2,)) -> TextCNN:
    """K = 1: ids 2 and 3 embed to +1 and -1; the width-2 filter is [1, 2], width 3 is [1, 1, 1] - 0.5."""
    model = text_cnn(vocab_size=4, embedding_dim=1, widths=widths, filters=1, num_classes=2)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.tensor([[0.0], [0.0], [1.0], [-1.0]]))
        for conv in model.convs:
            width = conv.kernel_size[0]
            conv.weight.copy_(torch.tensor([[[1.0, 2.0]]]) if width == 2 else torch.ones(1, 1, width))
            conv.bias.fill_(0.0 if width == 2 else -0.5)
        model.fc.weight.copy_(torch.tensor([[1.0] * len(widths), [-1.0] * len(widths)]))
        model.fc.bias.zero_()
    return model.eval()


def test_text_cnn_forward_by_hand():
    model = hand_text_cnn()
    # tokens 2 3 2 -> embeddings 1 -1 1; windows: 1*1 + 2*(-1) = -1 -> relu 0, (-1)*1 + 2*1 = 1 -> 1.
    maps = model.ngram_features(model.embedding(torch.tensor([[2, 3, 2]])))
    assert len(maps) == 1 and maps[0].tolist() == [[[0.0, 1.0]]]
    # 1-max pooling keeps 1; fc: [1, -1] * 1
    assert model(torch.tensor([[2, 3, 2]])).tolist() == [[1.0, -1.0]]
    # Word order matters: 2 2 3 -> windows 1 + 2 = 3 and 1 - 2 = -1 -> max 3
    assert model(torch.tensor([[2, 2, 3]])).tolist() == [[3.0, -3.0]]


def test_short_inputs_are_right_padded_to_the_widest_filter():
    model = hand_text_cnn(widths=(2, 3))
    one = torch.tensor([[2], [3]])
    assert model.pad_tokens(one).tolist() == [[2, 0, 0], [3, 0, 0]]
    long = torch.tensor([[2, 3, 2, 3]])
    assert torch.equal(model.pad_tokens(long), long)  # long enough: unchanged
    # [2] -> 2 0 0: width 2 sees (1, 0) -> 1; width 3 sees 1 + 0 + 0 - 0.5 = 0.5; logits +-(1 + 0.5)
    # [3] -> 3 0 0: width 2: -1 -> 0 but its window (0, 0) gives 0 too; width 3: -1.5 -> 0; logits 0
    assert model(one).tolist() == [[1.5, -1.5], [0.0, 0.0]]
    assert model(torch.zeros(3, 0, dtype=torch.long)).shape == (3, 2)  # even no tokens at all
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        model(torch.tensor([2, 3]))


def test_ngram_feature_shapes_follow_the_widths():
    model = text_cnn(vocab_size=50, embedding_dim=8, widths=(2, 3, 5), filters=4, seed=0)
    maps = model.ngram_features(torch.randn(2, 7, 8))
    assert [tuple(m.shape) for m in maps] == [(2, 4, 6), (2, 4, 5), (2, 4, 3)]  # L - w + 1
    assert all(bool((m >= 0).all()) for m in maps)  # after relu
    assert model(torch.randint(0, 50, (5, 1))).shape == (5, 2)


def test_fasttext_forward_by_hand():
    model = fasttext(vocab_size=4, embedding_dim=1, bigram_buckets=5)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.tensor([[0.0], [5.0], [1.0], [3.0]]))
        model.bigrams.weight.copy_(torch.tensor([[11.0], [0.0], [0.0], [41.0], [0.0]]))
        model.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model.fc.bias.zero_()
    # bigram (2, 3): 2 * 200003 + 3 = 400009; 400009 * 48271 mod (2**31 - 1) = 2128965263; mod 5 = 3
    # bigram (3, 2): 600011 * 48271 mod (2**31 - 1) = 1045843570; mod 5 = 0
    ids, real = bigram_ids(torch.tensor([[2, 3, 0], [3, 2, 0]]), 5)
    assert ids[:, 0].tolist() == [3, 0] and real.tolist() == [[True, False], [True, False]]
    assert bigram_ids(torch.tensor([[2, 3]]), 2**31 - 1)[0].tolist() == [[2128965263]]
    # mean of words 1, 3 and bigram 41 = 15; of 3, 1 and 11 = 5; padding is left out of the mean
    out = model(torch.tensor([[2, 3, 0], [3, 2, 0]]))
    assert out.tolist() == [[15.0, -15.0], [5.0, -5.0]]
    assert model(torch.tensor([[0, 0]])).tolist() == [[0.0, 0.0]]  # padding only: the bias


def test_bigram_hash_spreads_a_small_vocabulary():
    """All 149 * 149 bigrams of a 150-word vocabulary reach most of 10,000 buckets; the simpler
    (a * 1000003 + b) mod 10000 = (3a + b) mod 10000 would reach only 4 .. 596, fewer than 600 of them."""
    a, b = torch.meshgrid(torch.arange(1, 150), torch.arange(1, 150), indexing="ij")
    ids, real = bigram_ids(torch.stack([a.flatten(), b.flatten()], dim=1), 10_000)
    assert bool(real.all())
    assert len(torch.unique(ids)) > 8000  # 22,201 bigrams into 10,000 buckets: about 8,910 expected
    assert len(torch.unique((a * 1_000_003 + b) % 10_000)) < 600


def test_unigram_fasttext_ignores_word_order_and_padding():
    model = fasttext(vocab_size=4, embedding_dim=1)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.tensor([[0.0], [5.0], [1.0], [3.0]]))
        model.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model.fc.bias.zero_()
    # (1 + 3) / 2 = 2 either way; (5 + 1 + 3) / 3 = 3
    out = model(torch.tensor([[2, 3, 0, 0], [3, 2, 0, 0], [1, 2, 3, 0]]))
    assert out.tolist() == [[2.0, -2.0], [2.0, -2.0], [3.0, -3.0]]
    assert model(torch.tensor([[2]])).shape == (1, 2)
    assert model(torch.zeros(1, 0, dtype=torch.long)).tolist() == [[0.0, 0.0]]


# --- specs as data: JSON, validation, seeds ----------------------------------------------------

def test_specs_round_trip_through_json_and_are_hashable():
    cnn = TextCNNSpec(name="mine", vocab_size=300, embedding_dim=16, widths=(1, 3, 5), filters=7,
                      num_classes=4, dropout=0.25)
    ft = FastTextSpec(vocab_size=300, embedding_dim=10, bigram_buckets=1000, num_classes=3)
    for spec, kind in ((cnn, "text_cnn"), (ft, "fasttext")):
        data = json.loads(json.dumps(spec.to_dict()))
        assert data["kind"] == kind
        back = spec_from_dict(data)
        assert back == spec and hash(back) == hash(spec) and type(back).from_dict(data) == spec
    assert isinstance(spec_from_dict(cnn.to_dict()).widths, tuple)
    assert TextCNNSpec(vocab_size=5, widths=[2, 3]).widths == (2, 3)  # a JSON list becomes a tuple


def test_spec_from_dict_refuses_other_kinds_and_fields():
    data = TextCNNSpec(vocab_size=10).to_dict()
    with pytest.raises(ValueError, match="unknown model kind 'textcnn'"):
        spec_from_dict({**data, "kind": "textcnn"})
    with pytest.raises(ValueError, match="not a fasttext spec"):
        FastTextSpec.from_dict(data)
    with pytest.raises(TypeError):
        TextCNNSpec.from_dict({**data, "stride": 2})
    with pytest.raises(TypeError):
        TextCNNSpec("TextCNN", 10)  # keyword-only: TextCNNSpec(vocab_size=10)


@pytest.mark.parametrize("bad, message", [
    (dict(vocab_size=1), "vocab_size"),
    (dict(vocab_size=200_001), "vocab_size"),
    (dict(embedding_dim=0), "embedding_dim"),
    (dict(embedding_dim=513), "embedding_dim"),
    (dict(widths=()), "widths"),
    (dict(widths=(2, 3, 4, 5, 6, 7, 8)), "widths"),
    (dict(widths=(0,)), "filter width"),
    (dict(widths=(11,)), "filter width"),
    (dict(widths=(2.0,)), "filter width"),
    (dict(filters=0), "filters"),
    (dict(filters=513), "filters"),
    (dict(num_classes=1), "num_classes"),
    (dict(num_classes=101), "num_classes"),
    (dict(dropout=-0.1), "dropout"),
    (dict(dropout=0.95), "dropout"),
    (dict(dropout=float("nan")), "dropout"),
    (dict(dropout=True), "dropout"),
    (dict(name=""), "name"),
])
def test_text_cnn_spec_validation(bad, message):
    with pytest.raises(ValueError, match=message):
        TextCNNSpec(**{"vocab_size": 100, **bad})


@pytest.mark.parametrize("bad, message", [
    (dict(vocab_size=1), "vocab_size"),
    (dict(embedding_dim=513), "embedding_dim"),
    (dict(bigram_buckets=-1), "bigram_buckets"),
    (dict(bigram_buckets=200_001), "bigram_buckets"),
    (dict(num_classes=1), "num_classes"),
])
def test_fasttext_spec_validation(bad, message):
    with pytest.raises(ValueError, match=message):
        FastTextSpec(**{"vocab_size": 100, **bad})


def test_bounds_are_accepted():
    TextCNNSpec(vocab_size=2, embedding_dim=1, widths=(1,), filters=1, num_classes=2, dropout=0)
    TextCNNSpec(vocab_size=10, widths=(10,) * 6, num_classes=100, dropout=0.9)
    FastTextSpec(vocab_size=2, embedding_dim=512, bigram_buckets=200_000, num_classes=100)


def test_seeded_builds_are_identical_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    for make in (text_cnn, fasttext):
        a, b, c = make(vocab_size=30, seed=4), make(vocab_size=30, seed=4), make(vocab_size=30, seed=5)
        assert torch.equal(torch.get_rng_state(), state)
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        assert not torch.equal(a.embedding.weight, c.embedding.weight)
        assert not bool(a.embedding.weight[0].any())  # the pad row is zero
    with pytest.raises(TypeError, match="not a text model spec"):
        build_text_model("text_cnn")


# --- training: word order matters --------------------------------------------------------------

# The configuration the app can offer for the sentiment corpus: 15 epochs take about 2-3 s here.
CONFIG = TrainConfig(epochs=15, batch_size=64, learning_rate=0.01, schedule="one_cycle", seed=0)


@pytest.fixture
def one_thread():
    """These models are tiny: one thread is as fast as two, and does not slow down 10x or more when
    another process competes for the cores (OpenMP threads then wait for each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_text_cnn_learns_the_sentiment_corpus_and_beats_a_bag_of_words_on_word_order(one_thread):
    """Kim's TextCNN reaches >= 95 % on held-out sentences; a unigram fastText trained the same way reads the
    words right ("plain" sentences) but cannot see "not good" or which side of "but" a word is on."""
    start = time.perf_counter()
    ds = load_text_corpus("sentiment", seed=0)
    x_test, y_test = ds.test_tensors()
    tags = np.array(ds.test_tags)
    hard = np.isin(tags, ["negation", "contrast"])
    vocab_size = len(ds.preprocessing.vocabulary)
    results = {}
    for name, model in (("TextCNN", text_cnn(vocab_size=vocab_size, seed=0)),
                        ("fastText", fasttext(vocab_size=vocab_size, seed=0))):
        run = train(model, ds.train_tensors(), CONFIG)
        assert run.status == "completed"
        right = evaluate(model, x_test, y_test).predictions == ds.y_test
        results[name] = (right.mean(), right[hard].mean(), right[tags == "plain"].mean())
    seconds = time.perf_counter() - start
    (cnn, cnn_hard, _), (bow, bow_hard, bow_plain) = results["TextCNN"], results["fastText"]
    report = (f"TextCNN {cnn:.3f} (negation+contrast {cnn_hard:.3f}), unigram fastText {bow:.3f} "
              f"(negation+contrast {bow_hard:.3f}, plain {bow_plain:.3f}), {seconds:.1f} s")
    assert cnn >= 0.95, report
    assert bow_hard < cnn_hard - 0.2, report
    assert bow_plain >= 0.85, report  # the baseline did learn the words: its failures are about order
