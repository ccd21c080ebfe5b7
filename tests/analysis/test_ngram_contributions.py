"""cnnviz.analysis.ngram_contributions: the head's split over the winning n-grams, by hand and against the model."""

import numpy as np
import pytest
import torch

from cnnviz.analysis.ngram_contributions import NgramContributions, ngram_contributions
from cnnviz.analysis.ngrams import ngram_activations
from tests.analysis.test_ngrams import RANDOM_VOCAB, VOCAB, hand_model, ids, random_model


def test_ngram_contributions_split_the_margin_by_hand():
    # "good movie not good": pooled [4, 3, 2, 2], won by "good movie", "movie not" (width 2) and
    # "good movie not", "movie not good" (width 3). The head: logit 0 = pooled[0], logit 1 = pooled[3].
    model = hand_model()
    acts = ngram_activations(model, ids("good movie not good"), VOCAB)
    found = ngram_contributions(model, acts, 0)
    assert isinstance(found, NgramContributions) and found.target == 0
    assert found.texts == ("good movie", "good movie not", "movie not", "movie not good")  # ties at 0: by start
    np.testing.assert_array_equal(found.contributions, [4, 0, 0, -2])
    np.testing.assert_array_equal(found.starts, [0, 0, 1, 1])
    np.testing.assert_array_equal(found.widths, [2, 3, 2, 3])
    np.testing.assert_array_equal(found.filters, [1, 1, 1, 1])
    assert found.bias == 0 and found.margin == 2.0                   # logit 0 - logit 1 = 4 - 2
    other = ngram_contributions(model, acts, 1)
    assert other.texts[0] == "movie not good" and other.margin == -2.0
    np.testing.assert_array_equal(sorted(other.contributions), [-4, 0, 0, 2])


def test_ngram_contributions_add_up_to_the_models_margin():
    model = random_model()
    model.eval()
    for seed in range(3):
        tokens = torch.randint(0, 60, (4 + 5 * seed,), generator=torch.Generator().manual_seed(seed))
        acts = ngram_activations(model, tokens, RANDOM_VOCAB)
        with torch.no_grad():
            logits = model(tokens.unsqueeze(0))[0].double().numpy()
        for target in range(3):
            found = ngram_contributions(model, acts, target)
            margin = logits[target] - np.delete(logits, target).mean()
            assert found.margin == pytest.approx(margin, abs=1e-5)
            assert found.contributions.sum() + found.bias == pytest.approx(margin, abs=1e-5)
            assert list(found.contributions) == sorted(found.contributions, reverse=True)
            assert found.filters.sum() == int((acts.pooled_vector > 0).sum())   # every filter that fired, once
            assert len(set(zip(found.starts, found.widths))) == len(found.texts)
    with pytest.raises(ValueError, match="target"):
        ngram_contributions(model, acts, 3)
    with pytest.raises(ValueError, match="computed with this model"):
        ngram_contributions(hand_model(), acts, 0)
