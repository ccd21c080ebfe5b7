"""A procedural, seeded English sentiment corpus in which word order matters.

Built so that n-grams matter: negation ("not good"), intensifiers ("very good") and
"but" contrast, each sentence tagged with its kind.
"""

from __future__ import annotations

import numpy as np

SENTIMENT_CLASSES = ("negative", "positive")
SENTIMENT_TAGS = ("plain", "intensifier", "negation", "contrast")
_TAG_SHARES = (0.3, 0.2, 0.25, 0.25)


# --- the procedural sentiment corpus -----------------------------------------------------------

_POSITIVE = ("good", "great", "wonderful", "excellent", "brilliant", "charming", "delightful", "moving",
             "funny", "clever", "beautiful", "superb", "enjoyable", "gripping", "fresh", "interesting",
             "touching", "smart")
_NEGATIVE = ("bad", "awful", "dull", "boring", "terrible", "weak", "clumsy", "tedious", "bland", "messy",
             "poor", "predictable", "lifeless", "silly", "forgettable", "painful", "flat", "confusing")
_POSITIVE_NOUNS = ("a masterpiece", "a triumph", "a gem", "a delight", "a joy", "a pleasure")
_NEGATIVE_NOUNS = ("a mess", "a disaster", "a bore", "a letdown", "a failure", "a chore")
_INTENSIFIERS = ("very", "really", "extremely", "truly", "quite", "so", "incredibly")
_SUBJECTS = ("the film", "the movie", "this film", "this movie", "the sequel", "the comedy", "the thriller",
             "the documentary", "the plot", "the story", "the script", "the acting", "the cast", "the dialogue",
             "the soundtrack", "the ending", "the pacing", "the direction", "her performance",
             "his performance", "the director's latest", "the remake", "the animation", "the second half")
_THINGS = ("film", "movie", "plot", "story", "script", "performance", "ending", "cast", "soundtrack",
           "comedy", "thriller", "experience", "cartoon", "drama")
_VERBS = ("was", "is", "felt", "seemed")
_OPENERS = ("", "", "", "", "honestly, ", "overall, ", "I think ", "to be fair, ", "in my opinion, ",
            "frankly, ", "for me, ", "well, ", "I have to say ")
_CLOSERS = ("", "", ".", ".", ".", "!", " overall.", ", if you ask me.", ", to be honest.", " for sure.")
# Where the first, overruled clause of a contrast holds, and where the second, deciding one does.
_BEFORE = ("at first", "on paper", "in places", "early on", "for an hour", "in the trailer")
_AFTER = ("in the end", "by the end", "overall", "in the second half", "", "")


def _adjective_phrase(rng: np.random.Generator, polarity: int, *, negate: bool, intensify: bool,
                      tail_ok: bool = True) -> str:
    """An adjective phrase whose meaning has `polarity` (+1/-1); negated phrases use an opposite adjective.

    The negator and the adjective are at most three tokens apart ("not very good"), so
    one window of a TextCNN filter can see both.
    """
    base = -polarity if negate else polarity
    adjective = str(rng.choice(_POSITIVE if base > 0 else _NEGATIVE))
    intensifier = str(rng.choice(_INTENSIFIERS)) + " " if intensify else ""
    if not negate:
        return intensifier + adjective
    form = int(rng.integers(5 if tail_ok else 4))
    if form == 0:
        return f"not {intensifier}{adjective}"
    if form == 1:
        return f"never {intensifier}{adjective}"
    if form == 2:
        return f"hardly {adjective}"
    if form == 3:
        return f"far from {adjective}"
    return f"not {adjective} at all"


def _simple_sentence(rng: np.random.Generator, polarity: int, *, negate: bool, intensify: bool) -> str:
    """One clause whose meaning has `polarity`, from one of several templates."""
    subject = str(rng.choice(_SUBJECTS))
    verb = str(rng.choice(_VERBS))
    template = int(rng.integers(6))
    if template == 0 and negate and verb in ("was", "is"):
        # A contraction: "wasn't" is one token, so the negation lives inside it.
        adjective = str(rng.choice(_NEGATIVE if polarity > 0 else _POSITIVE))
        intensifier = str(rng.choice(_INTENSIFIERS)) + " " if intensify else ""
        return f"{subject} {verb}n't {intensifier}{adjective}"
    if template == 1:
        thing = str(rng.choice(_THINGS))
        base = -polarity if negate else polarity
        adjective = str(rng.choice(_POSITIVE if base > 0 else _NEGATIVE))
        intensifier = str(rng.choice(_INTENSIFIERS)) + " " if intensify else ""
        article = "an" if (intensifier or adjective)[0] in "aeiou" else "a"
        if negate:
            negator = str(rng.choice(("not", "hardly", "far from", "never")))
            return f"it {rng.choice(('was', 'is'))} {negator} {article} {intensifier}{adjective} {thing}"
        start = str(rng.choice(("what", "it was", "it is", "such")))
        return f"{start} {article} {intensifier}{adjective} {thing}"
    if template == 2 and not intensify:
        base = -polarity if negate else polarity
        noun = str(rng.choice(_POSITIVE_NOUNS if base > 0 else _NEGATIVE_NOUNS))
        if negate:
            negator = str(rng.choice(("not", "hardly", "far from", "never")))
            return f"{subject} {verb} {negator} {noun}"
        return f"{subject} {verb} {noun}"
    if template == 3:
        phrase = _adjective_phrase(rng, polarity, negate=negate, intensify=intensify)
        return f"I found {subject} {phrase}"
    if template == 4:
        # Two adjective phrases of the same meaning; a negated one comes second, since
        # "never charming and dull" could also be read as "never (charming and dull)".
        first = _adjective_phrase(rng, polarity, negate=False, intensify=intensify and not negate)
        second = _adjective_phrase(rng, polarity, negate=negate, intensify=intensify and negate)
        return f"{subject} {verb} {first} and {second}"
    return f"{subject} {verb} {_adjective_phrase(rng, polarity, negate=negate, intensify=intensify)}"


def _contrast_sentence(rng: np.random.Generator, polarity: int) -> str:
    """Two clauses of opposite meaning joined by "but"; the clause after "but" decides (`polarity`).

    Both clauses are drawn from the same phrases, so the sentence and its mirror image
    ("dull at first but wonderful in the end" / "wonderful at first but dull in the end")
    have the same bag of words and opposite labels.
    """
    def phrase(p: int) -> str:
        return _adjective_phrase(rng, p, negate=rng.random() < 0.25, intensify=rng.random() < 0.3, tail_ok=False)

    first, second = phrase(-polarity), phrase(polarity)
    subject = str(rng.choice(_SUBJECTS))
    verb = str(rng.choice(_VERBS))
    template = int(rng.integers(4))
    if template == 0:
        after = str(rng.choice(_AFTER))
        return f"{subject} {verb} {first} {rng.choice(_BEFORE)} but {second}{' ' + after if after else ''}"
    if template == 1:
        return f"{subject} {verb} {first}, but {second}"
    if template == 2:
        other = str(rng.choice([s for s in _SUBJECTS if s != subject]))
        return f"{subject} {verb} {first} but {other} {rng.choice(_VERBS)} {second}"
    return f"I expected {subject} to be {first} but it {verb} {second}"


def make_sentiment_corpus(n: int = 4000, *, seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    """A seeded English sentiment corpus in which word order matters: (texts, labels, tags).

    Labels: 0 negative, 1 positive, balanced (n // 2 each, the odd one positive).
    Tags, one per text: "plain" (an adjective or noun of clear sentiment: "the film was
    good", "a dull plot"), "intensifier" ("really good"), "negation" (a negator flips
    the adjective: "not good", "not bad at all", "never boring", "hardly interesting",
    "wasn't funny"), "contrast" (two clauses joined by "but", the second decides: "dull
    at first but wonderful in the end"). About 30/20/25/25 % of the texts; within each tag,
    about half of the texts are positive.

    Word order decides the hard cases: negated sentences use adjectives of the opposite
    label, and a contrast has the same bag of words as its mirror image ("wonderful at
    first but dull in the end"), so a bag-of-words model reads "not good" as good and
    guesses on contrasts. Every label follows from a window of at most four tokens (the
    negator - not, never, hardly, the "from" of "far from", wasn't - is at most three
    tokens before its adjective; a contrast's deciding phrase follows "but"), which a
    TextCNN with filters of width up to 4 can see.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 1_000_000:
        raise ValueError(f"n must be a whole number from 2 to 1,000,000, not {n!r}")
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2 == 0).astype(np.int64)  # the odd one out is positive
    rng.shuffle(labels)
    tags = rng.choice(SENTIMENT_TAGS, size=n, p=_TAG_SHARES)
    texts = []
    for label, tag in zip(labels, tags, strict=True):
        polarity = 1 if label else -1
        if tag == "contrast":
            body = _contrast_sentence(rng, polarity)
        else:
            body = _simple_sentence(rng, polarity, negate=tag == "negation", intensify=tag == "intensifier"
                                    or (tag == "negation" and rng.random() < 0.25))
        text = f"{rng.choice(_OPENERS)}{body}{rng.choice(_CLOSERS)}"
        texts.append(text[0].upper() + text[1:])
    return texts, labels, [str(t) for t in tags]


