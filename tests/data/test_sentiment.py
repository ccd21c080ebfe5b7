"""cnnviz.data.sentiment: the procedural corpus is deterministic, balanced, tagged and decided by word order."""


import numpy as np
import pytest

import cnnviz.data.sentiment as sentiment_module
from cnnviz.data.sentiment import SENTIMENT_TAGS, make_sentiment_corpus
from cnnviz.data.tokenizer import tokenize

# --- the sentiment corpus ----------------------------------------------------------------------

NEGATORS = {"not", "never", "hardly", "from", "wasn't", "isn't"}  # "from" of "far from"


def rule_label(text: str) -> int:
    """The label by a local rule: the polarity of the *last* sentiment word, flipped when a negator is
    among the three tokens before it. That the corpus obeys it shows every label is decided inside a
    window of at most four tokens, which a TextCNN with widths up to 4 can see."""
    positive = set(sentiment_module._POSITIVE) | {n.split()[1] for n in sentiment_module._POSITIVE_NOUNS}
    negative = set(sentiment_module._NEGATIVE) | {n.split()[1] for n in sentiment_module._NEGATIVE_NOUNS}
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
    assert all(set(tokens) & set(sentiment_module._INTENSIFIERS) for tokens in by_tag["intensifier"])
    assert not any(NEGATORS & set(tokens) or "but" in tokens for tokens in by_tag["plain"])
    # The examples of the brief occur: negation flips and a "but" whose second clause decides.
    joined = " | ".join(" ".join(tokenize(t)) for t in texts)
    for phrase in ("not bad at all", "never boring", "hardly interesting", "at first but", "not good"):
        assert phrase in joined
