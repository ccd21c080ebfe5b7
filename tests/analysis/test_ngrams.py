"""cnnviz.analysis.ngrams: n-gram maps and 1-max pooling by hand, captum attributions checked for completeness."""

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients
from torch import nn

from cnnviz.analysis.ngrams import (
    MAX_OCCLUSION_TOKENS,
    MAX_TOKENS,
    NgramActivations,
    TokenAttribution,
    TopNgram,
    attribute_tokens,
    ngram_activations,
    top_ngrams,
)
from cnnviz.data.vocabulary import Vocabulary
from cnnviz.models.text import TextCNN, TextCNNSpec, build_text_model, fasttext

# A one-dimensional embedding: each word is one number, so every convolution is a sum by hand.
WORDS = {"<pad>": 0.0, "<unk>": 0.0, "not": -2.0, "good": 3.0, "bad": -3.0, "movie": 1.0, "great": 4.0,
         "the": 0.0, "😀": 0.5, "好": 2.0, "不": -2.0}
VOCAB = Vocabulary(tuple(WORDS))


def ids(text: str) -> torch.Tensor:
    return torch.tensor(VOCAB.encode(text), dtype=torch.long)


def hand_model() -> TextCNN:
    """K = 1, widths (2, 3), two filters each, no biases unless said; fc picks pooled values out.

    width 2: filter 0 = [1, 1] (sum of a 2-gram), filter 1 = [1, -1] (a drop from one word to the next)
    width 3: filter 0 = [1, 1, 1], filter 1 = [0, 0, 1] with bias -1 (the third word minus 1)
    fc: logit 0 = pooled[0] (width 2, filter 0); logit 1 = pooled[3] (width 3, filter 1).
    """
    model = build_text_model(TextCNNSpec(vocab_size=len(WORDS), embedding_dim=1, widths=(2, 3), filters=2,
                                         num_classes=2, dropout=0.5), seed=0)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.tensor(list(WORDS.values())).reshape(-1, 1))
        model.convs[0].weight.copy_(torch.tensor([[[1.0, 1.0]], [[1.0, -1.0]]]))
        model.convs[0].bias.zero_()
        model.convs[1].weight.copy_(torch.tensor([[[1.0, 1.0, 1.0]], [[0.0, 0.0, 1.0]]]))
        model.convs[1].bias.copy_(torch.tensor([0.0, -1.0]))
        model.fc.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]))
        model.fc.bias.zero_()
    return model


def random_model(*, vocab_size: int = 60, seed: int = 0) -> TextCNN:
    return build_text_model(TextCNNSpec(vocab_size=vocab_size, embedding_dim=8, widths=(2, 3, 4), filters=6,
                                        num_classes=3, dropout=0.5), seed=seed)


RANDOM_VOCAB = Vocabulary(("<pad>", "<unk>", *(f"w{i}" for i in range(58))))


def fc_input(model: TextCNN, tokens: torch.Tensor) -> np.ndarray:
    """What the linear head receives, recorded by this test's own hook (eval mode)."""
    seen = []
    handle = model.fc.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].detach().clone()))
    try:
        model.eval()
        with torch.no_grad():
            model(tokens.unsqueeze(0))
    finally:
        handle.remove()
    return seen[0][0].numpy()


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


# --- ngram_activations ------------------------------------------------------------------------

def test_activations_winners_and_pooling_by_hand():
    # "good movie not good" embeds as [3, 1, -2, 3].
    acts = ngram_activations(hand_model(), ids("good movie not good"), VOCAB)
    assert isinstance(acts, NgramActivations)
    assert acts.tokens == ("good", "movie", "not", "good") and acts.widths == (2, 3)
    # width 2, [1, 1]: 4, -1 -> 0, 1;  [1, -1]: 2, 3, -5 -> 0
    np.testing.assert_array_equal(acts.activations[0], [[4, 0, 1], [2, 3, 0]])
    np.testing.assert_array_equal(acts.winners[0], [0, 1])
    np.testing.assert_array_equal(acts.pooled[0], [4, 3])
    # width 3, [1, 1, 1]: 2, 2 (a tie: the first wins);  third word - 1: -3 -> 0, 2
    np.testing.assert_array_equal(acts.activations[1], [[2, 2], [0, 2]])
    np.testing.assert_array_equal(acts.winners[1], [0, 1])
    np.testing.assert_array_equal(acts.pooled[1], [2, 2])
    np.testing.assert_array_equal(acts.pooled_vector, [4, 3, 2, 2])


def test_winning_ngram_text_and_window():
    acts = ngram_activations(hand_model(), ids("good movie not good"), VOCAB)
    assert acts.winning_ngram(0, 0) == (0, 2, "good movie")
    assert acts.winning_ngram(0, 1) == (1, 3, "movie not")
    assert acts.winning_ngram(1, 1) == (1, 4, "movie not good")
    assert acts.ngram_texts(0) == ["good movie", "movie not", "not good"]


def test_pooled_values_are_the_models_own_max_over_time_and_fc_input():
    model = random_model()
    for seed in range(4):
        tokens = torch.randint(0, 60, (3 + 4 * seed,), generator=torch.Generator().manual_seed(seed))
        acts = ngram_activations(model, tokens, RANDOM_VOCAB)
        for i, w in enumerate(acts.widths):
            assert acts.activations[i].shape == (6, len(acts.tokens) - w + 1)
            filters = np.arange(6)
            np.testing.assert_array_equal(acts.pooled[i], acts.activations[i][filters, acts.winners[i]])
            np.testing.assert_array_equal(acts.pooled[i], acts.activations[i].max(axis=1))
        np.testing.assert_array_equal(acts.pooled_vector, np.concatenate(acts.pooled))
        np.testing.assert_allclose(acts.pooled_vector, fc_input(model, tokens), rtol=1e-6, atol=1e-6)


def test_training_flags_are_restored_and_hooks_removed():
    model = hand_model().train()
    model.convs[1].eval()  # a part frozen on purpose stays frozen
    ngram_activations(model, ids("good movie"), VOCAB)
    attribute_tokens(model, ids("good movie"), 0, vocabulary=VOCAB)
    attribute_tokens(model, ids("good movie"), 0, vocabulary=VOCAB, method="occlusion")
    assert model.training and model.dropout.training and not model.convs[1].training
    assert no_hooks(model)
    with pytest.raises(ValueError):
        ngram_activations(model, torch.tensor([99]), VOCAB)
    assert model.training and no_hooks(model)


# --- edge cases -----------------------------------------------------------------------------

def test_an_empty_sentence_is_refused_with_a_clear_message():
    model = hand_model()
    for call in (lambda t: ngram_activations(model, t, VOCAB),
                 lambda t: attribute_tokens(model, t, 0, vocabulary=VOCAB),
                 lambda t: attribute_tokens(model, t, 0, vocabulary=VOCAB, method="occlusion")):
        with pytest.raises(ValueError, match="no tokens"):
            call(torch.zeros(0, dtype=torch.long))


def test_bad_inputs_are_refused():
    model = hand_model()
    with pytest.raises(ValueError, match="vocabulary"):
        ngram_activations(model, torch.tensor([3, len(WORDS)]), VOCAB)
    with pytest.raises(ValueError, match="integer"):
        ngram_activations(model, torch.tensor([1.0, 2.0]), VOCAB)
    with pytest.raises(ValueError, match="shape"):
        ngram_activations(model, torch.ones(2, 3, dtype=torch.long), VOCAB)
    with pytest.raises(ValueError, match="target"):
        attribute_tokens(model, ids("good"), 2, vocabulary=VOCAB)
    with pytest.raises(ValueError, match="method"):
        attribute_tokens(model, ids("good"), 0, vocabulary=VOCAB, method="saliency")
    with pytest.raises(ValueError, match="window"):
        attribute_tokens(model, ids("good movie not"), 0, vocabulary=VOCAB, method="occlusion", window=4)
    with pytest.raises(ValueError, match="tokens"):
        ngram_activations(model, torch.full((MAX_TOKENS + 1,), 3), VOCAB)


def test_one_word_is_padded_to_the_widest_filter():
    model = hand_model()
    acts = ngram_activations(model, ids("good"), VOCAB)
    assert acts.tokens == ("good", "<pad>", "<pad>")
    np.testing.assert_array_equal(acts.activations[0], [[3, 0], [3, 0]])
    assert acts.winning_ngram(0, 0) == (0, 2, "good <pad>")
    attr = attribute_tokens(model, ids("good"), 0, vocabulary=VOCAB)
    assert attr.tokens == acts.tokens
    np.testing.assert_allclose(attr.attributions, [3, 0, 0], atol=1e-5)  # pads equal the baseline: exactly 0


def test_emoji_and_cjk_tokens_pass_through():
    model = hand_model()
    tokens = ids("😀 好 good")
    assert tokens.tolist() == [8, 9, 3]
    acts = ngram_activations(model, tokens, VOCAB)
    assert acts.tokens == ("😀", "好", "good")
    assert acts.winning_ngram(0, 0) == (1, 3, "好 good")   # 0.5 + 2 = 2.5 < 2 + 3 = 5
    assert attribute_tokens(model, tokens, 0, vocabulary=VOCAB).tokens == ("😀", "好", "good")


def test_a_5000_token_sentence_works_with_integrated_gradients():
    model = random_model()
    tokens = torch.randint(2, 60, (5000,), generator=torch.Generator().manual_seed(5))
    acts = ngram_activations(model, tokens, RANDOM_VOCAB)
    assert acts.activations[2].shape == (6, 4997)
    attr = attribute_tokens(model, tokens, 1, vocabulary=RANDOM_VOCAB)
    assert attr.attributions.shape == (5000,) and attr.converged
    with pytest.raises(ValueError, match="integrated gradients"):
        attribute_tokens(model, tokens[:MAX_OCCLUSION_TOKENS + 1], 1, vocabulary=RANDOM_VOCAB, method="occlusion")


def test_chinese_ngrams_are_shown_without_spaces_english_ones_with():
    model = hand_model()
    acts = ngram_activations(model, ids("不好 good"), VOCAB)                # 不 好 good: -2, 2, 3
    assert acts.tokens == ("不", "好", "good")
    assert acts.ngram_texts(0) == ["不好", "好 good"]                        # a Latin word keeps its space
    assert acts.ngram_texts(1) == ["不好 good"]
    assert acts.winning_ngram(0, 1) == (0, 2, "不好")                        # [1, -1]: -2 - 2 = -4, 2 - 3 = -1 -> 0
    items = top_ngrams(model, corpus_tokens(["不好", "好不好"]), VOCAB, width_index=1, filter_index=0)
    assert [(t.text, t.activation) for t in items] == [("好不好", 2.0), ("不好 <pad>", 0.0)]


# --- top_ngrams -----------------------------------------------------------------------------

CORPUS = ["good movie", "not good", "great great movie", "good"]


def corpus_tokens(texts) -> torch.Tensor:
    rows = [VOCAB.encode(t) for t in texts]
    out = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row)
    return out


def test_top_ngrams_of_the_sum_filter_by_hand():
    # width 2, filter [1, 1] over rows padded to 3 tokens:
    #   0 "good movie <pad>": 4, 1     1 "not good <pad>": 1, 3
    #   2 "great great movie": 8, 5    3 "good <pad> <pad>": 3, (all padding: left out)
    items = top_ngrams(hand_model(), corpus_tokens(CORPUS), VOCAB, width_index=0, filter_index=0, k=10)
    assert items[0] == TopNgram("great great", 8.0, 2, 0)
    assert [(t.text, t.activation, t.example, t.start) for t in items] == [
        ("great great", 8, 2, 0), ("great movie", 5, 2, 1), ("good movie", 4, 0, 0),
        ("good <pad>", 3, 1, 1),   # also 3 in row 3: the first row is kept
        ("movie <pad>", 1, 0, 1),  # ties at 1 go by example: row 0 before row 1
        ("not good", 1, 1, 0)]
    texts = [t.text for t in items]
    assert len(texts) == len(set(texts)) and "<pad> <pad>" not in texts
    top2 = top_ngrams(hand_model(), corpus_tokens(CORPUS), VOCAB, width_index=0, filter_index=0, k=2)
    assert top2 == items[:2]


def test_all_padding_windows_are_left_out_even_when_they_would_win():
    model = hand_model()
    with torch.no_grad():  # width 2, filter 1 = 1 - (a + b): all-padding windows give relu(1) = 1
        model.convs[0].weight[1] = torch.tensor([[-1.0, -1.0]])
        model.convs[0].bias[1] = 1.0
    items = top_ngrams(model, corpus_tokens(["good", "not not movie"]), VOCAB, width_index=0, filter_index=1)
    # rows: "good <pad> <pad>" -> 1-3 = -2 -> 0, <pad><pad> = 1 left out;  "not not movie" -> 5, 1 - (-1) = 2
    assert [(t.text, t.activation) for t in items] == [("not not", 5), ("not movie", 2), ("good <pad>", 0)]


def test_top_ngrams_batches_agree_and_narrow_corpora_are_padded():
    model = random_model()
    corpus = torch.randint(0, 60, (50, 9), generator=torch.Generator().manual_seed(3))
    one = top_ngrams(model, corpus, RANDOM_VOCAB, width_index=1, filter_index=2, k=7, batch_size=256)
    many = top_ngrams(model, corpus, RANDOM_VOCAB, width_index=1, filter_index=2, k=7, batch_size=4)
    assert one == many
    assert [t.activation for t in one] == sorted((t.activation for t in one), reverse=True)
    # a corpus narrower than the widest filter (4) is padded as the model pads it
    narrow = top_ngrams(model, torch.tensor([[5], [6]]), RANDOM_VOCAB, width_index=2, filter_index=0)
    assert sorted(t.text for t in narrow) == ["w3 <pad> <pad> <pad>", "w4 <pad> <pad> <pad>"]
    assert top_ngrams(model, torch.zeros(0, 5, dtype=torch.long), RANDOM_VOCAB, width_index=0, filter_index=0) == []
    with pytest.raises(ValueError, match="width_index"):
        top_ngrams(model, corpus, RANDOM_VOCAB, width_index=3, filter_index=0)
    with pytest.raises(ValueError, match="filter_index"):
        top_ngrams(model, corpus, RANDOM_VOCAB, width_index=0, filter_index=6)


# --- attribute_tokens -----------------------------------------------------------------------

def one_word_model() -> TextCNN:
    """Of the words, only "good" has a non-zero embedding (3): logit 0 = max of (a + b) over 2-grams = 3 with it.

    "<unk>" embeds as 5, so replacing a word by "<unk>" instead of "<pad>" would show.
    """
    model = hand_model()
    with torch.no_grad():
        model.embedding.weight.zero_()
        model.embedding.weight[VOCAB.encode("good")[0]] = 3.0
        model.embedding.weight[1] = 5.0
    return model


def test_integrated_gradients_gives_the_one_word_its_whole_logit():
    attr = attribute_tokens(one_word_model(), ids("the good movie"), 0, vocabulary=VOCAB)
    assert isinstance(attr, TokenAttribution)
    assert attr.method == "integrated_gradients" and attr.target == 0 and attr.n_steps == 50
    np.testing.assert_allclose(attr.attributions, [0, 3, 0], atol=1e-5)
    assert attr.prediction_difference == pytest.approx(3.0)
    assert abs(attr.delta) < 1e-5 and attr.converged


def test_occlusion_gives_the_one_word_all_the_attribution():
    attr = attribute_tokens(one_word_model(), ids("the good movie"), 0, vocabulary=VOCAB, method="occlusion")
    assert (attr.method, attr.delta, attr.prediction_difference, attr.n_steps, attr.converged) == \
        ("occlusion", None, None, None, None)
    np.testing.assert_allclose(attr.attributions, [0, 3, 0], atol=1e-6)
    # window 2: both windows hold "good" and drop the logit by 3; each token gets the mean
    # over the windows covering it, so 3 everywhere.
    wide = attribute_tokens(one_word_model(), ids("the good movie"), 0, vocabulary=VOCAB, method="occlusion",
                            window=2)
    np.testing.assert_allclose(wide.attributions, [3, 3, 3], atol=1e-6)


SENTENCES = [[5, 17, 33, 2, 41, 8], [12, 12, 7], [3], [44, 21, 9, 30, 18, 55, 6, 27, 39, 10, 11, 50]]


@pytest.mark.parametrize("target", [0, 1])
@pytest.mark.parametrize("sentence", SENTENCES)
def test_integrated_gradients_is_complete_and_reports_captums_delta(sentence, target):
    model = random_model(seed=1)
    tokens = torch.tensor(sentence)
    attr = attribute_tokens(model, tokens, target, vocabulary=RANDOM_VOCAB)
    padded = model.pad_tokens(tokens.unsqueeze(0))
    model.eval()
    with torch.no_grad():
        logits = model(torch.cat([padded, torch.zeros_like(padded)]))[:, target]
    difference = float(logits[0] - logits[1])
    assert abs(difference) > 0.03  # the 1% check below means something
    assert attr.prediction_difference == pytest.approx(difference, abs=1e-5)
    # completeness: the attributions add up to F(x) - F(baseline), within 1% of it
    assert abs(attr.attributions.sum() - difference) <= 0.01 * abs(difference)
    assert attr.converged
    # the delta and attributions are captum's own for the steps used
    lig = LayerIntegratedGradients(model, model.embedding)
    scores, delta = lig.attribute(padded, baselines=torch.zeros_like(padded), target=target,
                                  n_steps=attr.n_steps, return_convergence_delta=True)
    assert attr.delta == pytest.approx(float(delta[0]), abs=1e-6)
    np.testing.assert_allclose(attr.attributions, scores[0].sum(-1).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_too_few_steps_are_doubled_until_converged():
    model = random_model(seed=1)
    tokens = torch.tensor(SENTENCES[3])
    rough = attribute_tokens(model, tokens, 0, vocabulary=RANDOM_VOCAB, n_steps=1)
    assert rough.n_steps in (2, 4, 8, 16, 32, 64, 128, 256)  # started at 1, doubled at least once
    assert rough.converged
    # with n_steps above the cap there is no retry: the result says whether it converged
    big = attribute_tokens(model, tokens, 0, vocabulary=RANDOM_VOCAB, n_steps=500)
    assert big.n_steps == 500 and big.converged is not None


def test_a_result_that_does_not_converge_says_so():
    # Target 2 of this sentence: logit difference 0.0026, while tokens add and cancel about 0.1.
    # The ReLU and max kinks leave an O(1/n_steps) error, so 400 steps miss 1% of 0.0026.
    model = random_model(seed=1)
    attr = attribute_tokens(model, torch.tensor(SENTENCES[0]), 2, vocabulary=RANDOM_VOCAB)
    assert attr.n_steps == 400 and attr.converged is False
    assert abs(attr.prediction_difference) < 0.01
    assert attr.attributions.sum() - attr.prediction_difference == pytest.approx(attr.delta, abs=1e-6)
    assert abs(attr.delta) > 0.01 * abs(attr.prediction_difference)


def test_attributions_ignore_the_training_flag():
    model = random_model(seed=2)
    tokens = torch.tensor(SENTENCES[0])
    model.eval()
    in_eval = attribute_tokens(model, tokens, 1, vocabulary=RANDOM_VOCAB)
    model.train()
    in_train = attribute_tokens(model, tokens, 1, vocabulary=RANDOM_VOCAB)  # dropout must be off
    np.testing.assert_array_equal(in_eval.attributions, in_train.attributions)
    assert model.training


def test_an_all_padding_sentence_has_nothing_to_attribute():
    attr = attribute_tokens(random_model(), torch.tensor([0]), 0, vocabulary=RANDOM_VOCAB)
    np.testing.assert_array_equal(attr.attributions, [0, 0, 0, 0])
    assert attr.prediction_difference == 0 and attr.converged and attr.n_steps == 50


def test_a_bag_of_words_fasttext_model_is_attributed_too():
    # fastText without bigrams: the logit is linear in the mean of the word embeddings, so
    # Integrated Gradients is exact and each word gets its own share.
    model = fasttext(vocab_size=60, embedding_dim=8, num_classes=2, seed=0)
    attr = attribute_tokens(model, torch.tensor([5, 9, 11]), 1, vocabulary=RANDOM_VOCAB)
    assert attr.tokens == ("w3", "w7", "w9") and attr.n_steps == 50  # no padding to a filter width
    assert abs(attr.delta) < 1e-5
    weights = model.fc.weight[1].detach().numpy()
    vectors = model.embedding.weight[[5, 9, 11]].detach().numpy()
    np.testing.assert_allclose(attr.attributions, vectors @ weights / 3, rtol=1e-4, atol=1e-6)
