"""Which n-grams decided a TextCNN's prediction: the linear head's exact split over the winning n-grams.

A TextCNN's head is one linear layer over the 1-max pooled values (Kim 2014), and each pooled
value comes from one n-gram, the filter's winner (`cnnviz.analysis.ngrams.ngram_activations`).
So a class's margin over the others is a sum over n-grams plus the head's bias: no gradients,
no baseline, no approximation. Attributions (`attribute_tokens`) answer a different question,
per token and against an all-padding baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from cnnviz.analysis.ngrams import NgramActivations
from cnnviz.data.tokenizer import join_tokens

if TYPE_CHECKING:
    from cnnviz.models.text import TextCNN


@dataclass(frozen=True, eq=False)
class NgramContributions:
    """How far each winning n-gram of one sentence moved the target class above the other classes.

    The head is linear in the pooled values, and each pooled value comes from one n-gram (its
    filter's winner), so the target's *margin*, its logit minus the mean logit of the other
    classes (with two classes: minus the other one's), splits exactly:
    margin = contributions.sum() + bias, where an n-gram's contribution is the sum over the
    filters it won of (head weight of the target - mean head weight of the others) x pooled value.
    No approximation, no baseline: this is the model's own arithmetic. Silent filters (pooled 0)
    add nothing; an n-gram that won no filter is not listed.
    """

    target: int
    texts: tuple[str, ...]      # per n-gram, joined as `join_tokens` joins them ("not good", "不好")
    starts: np.ndarray          # (M,) first token position
    widths: np.ndarray          # (M,) its width
    filters: np.ndarray         # (M,) how many filters it won
    contributions: np.ndarray   # (M,) to the margin; largest first
    bias: float                 # the head's bias part of the margin (no n-gram's)
    margin: float               # the target's logit minus the mean of the other classes' logits


def ngram_contributions(model: TextCNN, acts: NgramActivations, target: int) -> NgramContributions:
    """Which n-grams decided: the margin of class `target` split over the winning n-grams of `acts`.

    `acts` is `ngram_activations` of the same model; ValueError if its pooled vector does not fit
    the model's head, or for a target that is not a class. Each distinct (start, width) is listed
    once, the largest contribution first (ties: earlier start, then narrower).
    """
    weight = model.fc.weight.detach().to("cpu", torch.float64).numpy()
    bias = model.fc.bias.detach().to("cpu", torch.float64).numpy()
    classes, features = weight.shape
    pooled = np.asarray(acts.pooled_vector, dtype=np.float64)
    if pooled.shape != (features,):
        raise ValueError(f"these n-gram activations give {pooled.size} pooled values; the model's head reads "
                         f"{features}: were they computed with this model?")
    if isinstance(target, bool) or not 0 <= int(target) < classes:
        raise ValueError(f"target must be a class from 0 to {classes - 1}, not {target!r}")
    target = int(target)
    others = [c for c in range(classes) if c != target]
    head = weight[target] - weight[others].mean(axis=0)
    keys: list[tuple[int, int]] = []   # (start, width) of each n-gram, in order of first win
    values: list[float] = []
    counts: list[int] = []
    index: dict[tuple[int, int], int] = {}
    offset = 0
    for width_index, width in enumerate(acts.widths):
        for f, start in enumerate(np.asarray(acts.winners[width_index])):
            j = offset + f
            if pooled[j] > 0:
                key = (int(start), int(width))
                if key not in index:
                    index[key] = len(keys)
                    keys.append(key)
                    values.append(0.0)
                    counts.append(0)
                values[index[key]] += head[j] * pooled[j]
                counts[index[key]] += 1
        offset += len(acts.pooled[width_index])
    order = sorted(range(len(keys)), key=lambda i: (-values[i], keys[i][0], keys[i][1]))
    starts = np.array([keys[i][0] for i in order], dtype=np.int64)
    widths = np.array([keys[i][1] for i in order], dtype=np.int64)
    bias_part = float(bias[target] - bias[others].mean())
    return NgramContributions(
        target=target, texts=tuple(join_tokens(acts.tokens[s:s + w]) for s, w in zip(starts, widths, strict=True)),
        starts=starts, widths=widths, filters=np.array([counts[i] for i in order], dtype=np.int64),
        contributions=np.array([values[i] for i in order], dtype=np.float64), bias=bias_part,
        margin=float(head @ pooled) + bias_part)
