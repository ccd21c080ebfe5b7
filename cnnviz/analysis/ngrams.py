"""What a TextCNN computes for a sentence: n-gram activations, 1-max pooling, and which words decided.

A TextCNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification")
slides filters of a few widths w over the L x K matrix of word embeddings. Each
filter gives one value per n-gram of w words (relu of the convolution), 1-max
pooling over time keeps its largest value, and the pooled values of all filters
feed a linear head. So every pooled value comes from exactly one n-gram: the
"winner", which is what `ngram_activations` reports.

Attributions come from captum: Integrated Gradients on the embedding layer
(Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks") and
occlusion (Zeiler & Fergus 2014). Both explain the target class *logit*.

Every function pads the sentence the way the model does (right, with the pad id 0,
to at least the widest filter) before it runs, so the tokens it returns are the
ones the model saw, and all results of one sentence share one token axis. Results
are detached CPU numpy arrays; each module's training flag is restored on exit.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.hooks import eval_with_hooks
from cnnviz.data.tokenizer import UNK_ID, join_tokens, tokenize

if TYPE_CHECKING:
    from cnnviz.data.vocabulary import TextPreprocessing
    from cnnviz.models.text import TextCNN

PAD_ID = 0
MAX_TOKENS = 10_000          # longer sentences are refused with a clear message (memory and time on a shared server)
MAX_OCCLUSION_TOKENS = 1_000  # occlusion runs one forward per window: time grows as L^2 (1,000 tokens: ~0.5 s)
MAX_IG_STEPS = 400           # Integrated Gradients doubles n_steps up to this while it has not converged
IG_TOLERANCE = 0.01          # converged: |delta| <= 1% of |F(x) - F(baseline)| ...
IG_ABSOLUTE_TOLERANCE = 1e-5  # ... or below this, for a difference of about 0 where 1% of it is below float noise
_VALUES_PER_BATCH = 400_000  # token positions per forward pass in captum (IG steps x L, occlusions x L)


class _Vocabulary(Protocol):
    """What the analysis needs of `cnnviz.data.vocabulary.Vocabulary`: ids back to token strings."""

    def decode(self, ids: Sequence[int]) -> list[str]: ...


# --- helpers -----------------------------------------------------------------------------------

def _sentence(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """One encoded sentence as a (1, L') long tensor, padded as the model pads it; ValueError if unusable."""
    tokens = torch.as_tensor(tokens)
    if tokens.ndim == 2 and tokens.shape[0] == 1:
        tokens = tokens[0]
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be one encoded sentence of shape (L,), not shape {tuple(tokens.shape)}")
    if tokens.numel() == 0:
        raise ValueError("The sentence has no tokens: type at least one word.")
    if tokens.numel() > MAX_TOKENS:
        raise ValueError(f"The sentence has {tokens.numel():,} tokens; at most {MAX_TOKENS:,} can be analysed.")
    return _checked_ids(model, tokens.unsqueeze(0))


def _checked_ids(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Integer ids inside the vocabulary, right-padded by the model itself (`pad_tokens`)."""
    if tokens.dtype.is_floating_point or tokens.dtype == torch.bool or tokens.is_complex():
        raise ValueError(f"tokens must be integer ids, not {tokens.dtype}")
    tokens = tokens.to(torch.long)
    embedding = cast(nn.Embedding, model.embedding)
    vocab_size = embedding.num_embeddings
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise ValueError(f"Token ids must lie in 0 .. {vocab_size - 1} (this model's vocabulary), "
                         f"not {int(tokens.min())} .. {int(tokens.max())}")
    tokens = tokens.to(embedding.weight.device)
    # A model without `pad_tokens` (fastText) takes any length as it is.
    pad = getattr(model, "pad_tokens", None)
    return pad(tokens) if pad is not None else tokens


def _strings(vocabulary: _Vocabulary, ids: torch.Tensor) -> tuple[str, ...]:
    return tuple(str(token) for token in vocabulary.decode([int(i) for i in ids.tolist()]))


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float32).clone().numpy()


def _width_index(model: TextCNN, width_index: int) -> int:
    widths = tuple(model.spec.widths)
    if not 0 <= width_index < len(widths):
        raise ValueError(f"width_index must be 0 .. {len(widths) - 1} (widths {widths}), not {width_index}")
    return width_index


def _filter_index(model: TextCNN, filter_index: int) -> int:
    if not 0 <= filter_index < model.spec.filters:
        raise ValueError(f"filter_index must be 0 .. {model.spec.filters - 1}, not {filter_index}")
    return filter_index


# --- n-gram activations of one sentence -------------------------------------------------------

@dataclass(frozen=True, eq=False)
class NgramActivations:
    """Every filter's value on every n-gram of one sentence, and the n-gram that 1-max pooling kept.

    For width w = widths[i], activations[i][f, p] is relu(conv) of filter f on tokens
    p .. p+w-1; pooled[i][f] is its maximum over p and winners[i][f] the first p that
    attains it. pooled_vector is what the model's linear head received (recorded with a
    hook), in the model's order: all filters of widths[0], then widths[1], ...
    """

    tokens: tuple[str, ...]                 # the padded token strings the model saw, pads as "<pad>"
    widths: tuple[int, ...]
    activations: tuple[np.ndarray, ...]     # per width: (F, L - w + 1)
    pooled: tuple[np.ndarray, ...]          # per width: (F,)
    winners: tuple[np.ndarray, ...]         # per width: (F,) start of the winning n-gram
    pooled_vector: np.ndarray               # (F * len(widths),) the linear head's input

    def winning_ngram(self, width_index: int, filter_index: int) -> tuple[int, int, str]:
        """(start, end exclusive, "the n gram") that filter `filter_index` of width `widths[width_index]` kept.

        The n-gram's tokens are joined as `join_tokens` joins them: "not good", but "不好" (Chinese characters
        without spaces)."""
        start = int(self.winners[width_index][filter_index])
        end = start + self.widths[width_index]
        return start, end, join_tokens(self.tokens[start:end])

    def ties(self, width_index: int) -> np.ndarray:
        """(F, P) bool: True where filter f's value at position p equals its pooled maximum, for a filter that fired.

        A row with more than one True is a tie: 1-max pooling keeps the same value
        whichever of them it picks (`winners` holds the first). A silent filter (pooled
        value 0, so relu gave 0 everywhere) has no winner at all: its row is all False.
        """
        maps = np.asarray(self.activations[width_index])
        pooled = np.asarray(self.pooled[width_index])
        return (maps == pooled[:, None]) & (pooled[:, None] > 0)

    def ngram_texts(self, width_index: int) -> list[str]:
        """The text of the n-gram at each position for width `widths[width_index]` (the x axis of its map),
        joined by `join_tokens`."""
        width = self.widths[width_index]
        return [join_tokens(self.tokens[p:p + width]) for p in range(len(self.tokens) - width + 1)]


def ngram_activations(model: TextCNN, tokens: torch.Tensor, vocabulary: _Vocabulary) -> NgramActivations:
    """The n-gram activations, 1-max pooled values and winning n-grams of one encoded sentence (L,).

    Runs in eval mode without gradients. The embedding's output and the linear head's
    input are recorded with forward hooks during one ordinary forward, so the numbers
    are the model's own. Raises ValueError for an empty sentence, one longer than
    MAX_TOKENS, or ids outside the model's vocabulary.
    """
    ids = _sentence(model, tokens)
    recorded: dict[str, torch.Tensor] = {}

    def keep_embedding(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        recorded["embedding"] = output.detach()

    def keep_fc_input(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: Any) -> None:
        recorded["fc"] = inputs[0].detach()

    with eval_with_hooks(model, {model.embedding: keep_embedding, model.fc: keep_fc_input}):
        model(ids)
        features = model.ngram_features(recorded["embedding"])
    activations = tuple(_numpy(maps[0]) for maps in features)
    # argmax gives the first maximum on ties: the earliest n-gram wins, as documented.
    winners = tuple(maps.argmax(axis=1).astype(np.int64) for maps in activations)
    pooled = tuple(maps[np.arange(len(maps)), best] for maps, best in zip(activations, winners, strict=True))
    return NgramActivations(
        tokens=_strings(vocabulary, ids[0]), widths=tuple(int(w) for w in model.spec.widths),
        activations=activations, pooled=pooled, winners=winners, pooled_vector=_numpy(recorded["fc"][0]))


# --- the n-grams that excite one filter most over a corpus ------------------------------------

@dataclass(frozen=True)
class TopNgram:
    """One distinct n-gram with the largest value one filter gave it anywhere in a corpus."""

    text: str           # its tokens by `join_tokens` ("not good", "不好"); a trailing "<pad>": at the sentence's end
    activation: float   # relu(conv) of the filter on it
    example: int        # the row of the corpus where it reached that value (the first such row on ties)
    start: int          # its first token's position in that row


def top_ngrams(model: TextCNN, texts_tokens: torch.Tensor, vocabulary: _Vocabulary, *, width_index: int,
               filter_index: int, k: int = 10, batch_size: int = 256) -> list[TopNgram]:
    """The k distinct n-grams of a padded corpus (N, L) that one filter of one width likes most.

    The filter is number `filter_index` of width `model.spec.widths[width_index]`.

    Each distinct n-gram appears once, with its largest activation and where that was
    reached; windows made only of padding are left out (a window that runs past a
    sentence's end keeps its "<pad>" tokens in the text: the filter saw them). Order:
    activation from high to low, then example, then start (so ties are deterministic).
    Fewer than k n-grams are returned when the corpus has fewer distinct ones.
    """
    texts_tokens = torch.as_tensor(texts_tokens)
    if texts_tokens.ndim != 2:
        raise ValueError(f"texts_tokens must be a padded batch (N, L), not shape {tuple(texts_tokens.shape)}")
    if k < 1 or batch_size < 1:
        raise ValueError(f"k and batch_size must be at least 1, not {k} and {batch_size}")
    width = int(model.spec.widths[_width_index(model, width_index)])
    _filter_index(model, filter_index)
    found: list[tuple[np.ndarray, ...]] = []
    if texts_tokens.shape[0] and texts_tokens.shape[1]:
        with eval_with_hooks(model, {}):  # eval mode and no gradients, flags restored
            for first in range(0, len(texts_tokens), batch_size):
                ids = _checked_ids(model, texts_tokens[first:first + batch_size])
                values = model.ngram_features(model.embedding(ids))[width_index][:, filter_index]
                windows = ids.unfold(1, width, 1).cpu().numpy()              # (B, P, w)
                rows, starts = np.nonzero((windows != PAD_ID).any(axis=2))  # not all padding
                found.append(_best_per_ngram(windows[rows, starts], _numpy(values)[rows, starts],
                                             rows + first, starts))
    if not found:
        return []
    ngrams, best, examples, starts = _best_per_ngram(*(np.concatenate(parts) for parts in zip(*found, strict=True)))
    return [TopNgram(join_tokens(_strings(vocabulary, torch.from_numpy(ngrams[i]))), float(best[i]),
                     int(examples[i]), int(starts[i])) for i in range(min(k, len(best)))]


def _best_per_ngram(ngrams: np.ndarray, values: np.ndarray, examples: np.ndarray,
                    starts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each distinct row of ngrams (M, w) once, at its best (value, then lowest example, start), best first."""
    order = np.lexsort((starts, examples, -values))  # the last key sorts first
    ngrams, values, examples, starts = ngrams[order], values[order], examples[order], starts[order]
    _, first = np.unique(ngrams, axis=0, return_index=True)  # first = best occurrence, in sorted order
    keep = np.sort(first)
    return ngrams[keep], values[keep], examples[keep], starts[keep]


# --- which tokens decided: captum attributions -------------------------------------------------

@dataclass(frozen=True, eq=False)
class TokenAttribution:
    """How much each token of one sentence pushed the target class's logit, by one captum method.

    Both methods explain the target *logit*, not its softmax probability. The logit is
    linear in the pooled n-gram values (the head is one linear layer), so the sum of
    the attributions (Integrated Gradients' completeness: sum = F(x) - F(baseline)) reads
    in the head's own units and depends on this class alone; a probability would also
    move with every other class's logit and saturate near 0 and 1, where a confident
    prediction's words would all look unimportant.
    """

    tokens: tuple[str, ...]         # the padded tokens the model saw (same axis as NgramActivations.tokens)
    attributions: np.ndarray        # (L,) per token, summed over the embedding dimensions
    target: int                     # the class whose logit is explained
    method: str                     # "integrated_gradients" or "occlusion"
    delta: float | None             # IG: captum's convergence delta, sum(attributions) - prediction_difference
    prediction_difference: float | None  # IG: logit_target(sentence) - logit_target(all-padding baseline)
    n_steps: int | None             # IG: the steps actually used (after any doubling)
    padding: np.ndarray | None = None  # (L,) bool: True at the pad positions the model added (not words)
    requested_steps: int | None = None  # IG: the n_steps asked for, before any doubling

    @property
    def converged(self) -> bool | None:
        """IG: |delta| <= IG_TOLERANCE * |prediction_difference| (or <= IG_ABSOLUTE_TOLERANCE); None otherwise."""
        if self.delta is None or self.prediction_difference is None:
            return None
        return _converged(self.delta, self.prediction_difference)

    @property
    def relative_delta(self) -> float | None:
        """IG: |delta| / |prediction_difference|, the completeness error as a fraction of what is explained.

        The raw delta has no scale: -0.00026 is 0.01% of a logit change of 2.5 (converged)
        but 2.6% of a change of 0.01 (not). inf when the difference is 0 and delta is not;
        None for occlusion.
        """
        if self.delta is None or self.prediction_difference is None:
            return None
        if self.prediction_difference == 0:
            return 0.0 if self.delta == 0 else float("inf")
        return abs(self.delta) / abs(self.prediction_difference)

    @property
    def steps_doubled(self) -> bool:
        """IG: True when the requested steps left |delta| too large, so more steps were used."""
        return self.requested_steps is not None and self.n_steps is not None and self.n_steps > self.requested_steps


def _converged(delta: float, difference: float) -> bool:
    return abs(delta) <= max(IG_TOLERANCE * abs(difference), IG_ABSOLUTE_TOLERANCE)


def attribute_tokens(model: nn.Module, tokens: torch.Tensor, target: int, *, vocabulary: _Vocabulary,
                     method: Literal["integrated_gradients", "occlusion"] = "integrated_gradients",
                     n_steps: int = 50, window: int = 1, max_steps: int = MAX_IG_STEPS) -> TokenAttribution:
    """Attribution of the target class's logit to each token of one encoded sentence (L,), with captum.

    integrated_gradients: `captum.attr.LayerIntegratedGradients` on the embedding layer,
    from a baseline of the same length made only of padding (id 0), so a token's
    score is the logit it adds along the straight path from "no words" to the
    sentence, summed over its embedding dimensions. If the convergence delta is
    above 1% of |F(x) - F(baseline)| (IG_TOLERANCE; see `TokenAttribution.relative_delta`),
    n_steps is doubled while the doubled count stays within `max_steps` (MAX_IG_STEPS = 400
    by default; a hosted demo passes its own cap) and the attribution recomputed; the steps
    asked for and used, the final delta and `converged` are reported, so an inexact result
    is never silent.

    occlusion: `captum.attr.Occlusion` on the token ids: each window of `window`
    consecutive tokens (stride 1, inside the padded sentence) is replaced by the pad id
    (the model then sees what it sees past a sentence's end), and the drop in the target
    logit, F(x) - F(x with the window padded), is given *in full* to every token of the
    window, not split among them. A token's score is the mean of the drops of the
    windows that contain it. So with window > 1 the scores are smoothed over
    neighbours and do not add up to anything; a token at either end lies in fewer
    windows (the first and last only in one), so its score is the drop of those few;
    and a pad position the model added gets the drops of the windows it shares with
    the last words, although padding it changes nothing. `padding` marks those
    positions, so they need not be shown as words. Window 1 gives each token its own
    drop. It runs the model once per window, so it is limited to MAX_OCCLUSION_TOKENS tokens.

    Any model with an `embedding` layer and a linear head `fc` works (a fastText model too,
    whose bigram embeddings are then not attributed: its delta shows that part).
    Eval mode (dropout off); each module's training flag is restored. Raises ValueError
    for an empty sentence, one longer than MAX_TOKENS (MAX_OCCLUSION_TOKENS for occlusion),
    ids outside the vocabulary, an unknown class, method or window, or n_steps < 1.
    """
    ids = _sentence(model, tokens)
    length = ids.shape[1]
    padding = (ids[0] == PAD_ID).cpu().numpy()
    num_classes = cast(nn.Linear, model.fc).out_features
    target = operator.index(target)  # an int (numpy ints too); TypeError for 1.0
    if not 0 <= target < num_classes:
        raise ValueError(f"target must be a class 0 .. {num_classes - 1}, not {target}")
    if method not in ("integrated_gradients", "occlusion"):
        raise ValueError(f"method must be 'integrated_gradients' or 'occlusion', not {method!r}")

    # eval_with_hooks turns dropout off and restores every module's flag on exit, also on error.
    with eval_with_hooks(model, {}):
        if method == "occlusion":
            if length > MAX_OCCLUSION_TOKENS:
                raise ValueError(f"Occlusion is limited to {MAX_OCCLUSION_TOKENS:,} tokens (it runs the model once per "
                                 f"window); this sentence has {length:,}. Use integrated gradients instead.")
            if not 1 <= window <= length:
                raise ValueError(f"window must be 1 .. {length} tokens (the padded sentence), not {window}")
            from captum.attr import (
                Occlusion,  # captum takes ~0.7 s to import: not at start-up
            )

            scores = Occlusion(model).attribute(
                ids, sliding_window_shapes=(window,), strides=1, baselines=PAD_ID, target=target,
                perturbations_per_eval=max(1, min(length, _VALUES_PER_BATCH // length)))
            return TokenAttribution(_strings(vocabulary, ids[0]), _numpy(scores[0]), target, method,
                                    None, None, None, padding=padding)

        if n_steps < 1:
            raise ValueError(f"n_steps must be at least 1, not {n_steps}")
        requested = n_steps
        baseline = torch.full_like(ids, PAD_ID)
        logits = model(torch.cat([ids, baseline]))[:, target]
        difference = float(logits[0] - logits[1])
        from captum.attr import (
            LayerIntegratedGradients,  # imported when first needed, as above
        )

        ig = LayerIntegratedGradients(model, model.embedding)
        with torch.enable_grad():  # eval_with_hooks turned gradients off; IG needs them
            while True:
                scores, delta = ig.attribute(
                    ids, baselines=baseline, target=target, n_steps=n_steps, return_convergence_delta=True,
                    internal_batch_size=max(1, _VALUES_PER_BATCH // length))  # bounds memory for long sentences
                delta_value = float(delta[0])
                # The ReLU and max kinks make the error shrink only about as 1/n_steps, so double it.
                if _converged(delta_value, difference) or n_steps * 2 > max_steps:
                    break
                n_steps *= 2
    return TokenAttribution(_strings(vocabulary, ids[0]), _numpy(scores[0].sum(dim=-1)), target, method,
                            delta_value, difference, n_steps, padding=padding, requested_steps=requested)


# --- what the model reads of a typed sentence ------------------------------------------------

@dataclass(frozen=True, eq=False)
class EncodedSentence:
    """A typed sentence as a text model reads it: its tokens, the ones it never saw, the ones cut off.

    `words` are all tokens of the text (`cnnviz.data.tokenizer.tokenize`); the model reads
    the first `kept` of them (the preprocessing's max_length) and drops the other
    `dropped`. `unknown` lists, once each in order of appearance, the kept words that
    are not in the vocabulary: the model reads every one of them as the same "<unk>".
    """

    words: tuple[str, ...]
    ids: np.ndarray            # (kept,) the ids the model reads, as `encode_batch` gives them
    unknown: tuple[str, ...]
    kept: int
    dropped: int


def encode_sentence(preprocessing: TextPreprocessing, text: str) -> EncodedSentence:
    """What `preprocessing` makes of one text: the ids it keeps, its unseen words, how many tokens it drops."""
    words = tuple(tokenize(text))
    all_ids = preprocessing.vocabulary.encode(text)  # one id per token of `tokenize`, in order
    kept = min(len(all_ids), preprocessing.max_length)  # encode_batch keeps the first max_length tokens
    unknown = tuple(dict.fromkeys(w for w, i in zip(words[:kept], all_ids[:kept], strict=True) if i == UNK_ID))
    return EncodedSentence(words, np.asarray(all_ids[:kept], dtype=np.int64), unknown, kept, len(all_ids) - kept)
