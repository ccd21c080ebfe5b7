"""The TextCNN page's words: what the model reads of a sentence, how to read the attributions, training news.

The sentences are templates of the `text_cnn` catalogue (pages/locales/*/text_cnn.toml). A model that reads
Chinese reads a character per token: where a sentence says "word", it has a twin that says "character"
(the argument `characters`), in both languages.
"""

from __future__ import annotations

from typing import Any

from pages.common.i18n import Phrase, figure_labels, phrase, t

# The options' keys (language-neutral: widget values and link values); their names are in the catalogue.
METHODS = ("integrated_gradients", "occlusion")
CORPORA = ("mr", "reviews_zh", "sentiment", "rotten_tomatoes", "sst2", "ag_news", "trec")
ZOO_TEXT_MODELS = ("textcnn-mr", "textcnn-reviews_zh", "textcnn-sentiment")
# Sentences whose words pull both ways (negation, contrast), and one in the style of the real reviews; each
# with its key in the catalogue's [examples], where its meaning is given in the other language.
EXAMPLES = ("the plot was not good at all", "dull at first but wonderful in the end",
            "a gorgeous, witty, seductive movie", "not bad", "the acting was never boring")
# Chinese sentences for a model that reads Chinese. The zoo's Chinese TextCNN gets the first five right and the
# last three wrong, instructively: 差 ("bad") is in three times as many negative reviews as positive ones and 不差
# ("not bad") in only 18, so 并不差 ("not bad at all") reads as negative; in 不是很满意 ("not very satisfied")
# 不 and 满意 never share a window of three characters; and 但是 ("but") needs the whole sentence.
# tests/app checks the predictions.
EXAMPLES_ZH = ("这个酒店不好", "这个酒店很好", "质量不错", "一点也不好", "房间很干净，服务也很热情", "并不差",
               "不是很满意", "物流很快，但是质量太差了")
_EXAMPLE_KEYS = dict(zip(EXAMPLES + EXAMPLES_ZH, (
    "plot_not_good", "dull_then_wonderful", "gorgeous", "not_bad", "never_boring",
    "hotel_bad", "hotel_good", "quality_fine", "not_good_at_all", "clean_and_warm", "not_bad_at_all",
    "not_very_satisfied", "fast_but_poor"), strict=True))


def _unit(characters: bool) -> str:
    """The end of a key that has a "words" and a "characters" twin."""
    return "characters" if characters else "words"


def example(sentence: str) -> str:
    """An example sentence as its menu shows it: with its meaning when it is in the other language."""
    key = _EXAMPLE_KEYS.get(sentence)
    return t(f"text_cnn.examples.{key}", sentence=sentence) if key else sentence


def method_name(method: str) -> str:
    return t(f"text_cnn.attribution.{method}")


def corpus_name(corpus: str) -> str:
    return t(f"text_cnn.corpora.{corpus}")


def zoo_model_name(key: str) -> str:
    """How the zoo picker names a zoo TextCNN (its key, if the catalogue has no name for it)."""
    return t(f"text_cnn.zoo.{key}") if key in ZOO_TEXT_MODELS else key


def picked_reason() -> Phrase:
    """Why a zoo TextCNN picked on the page is the text model (kept, so the sidebar shows it in any language)."""
    return phrase("text_cnn.zoo.picked_reason")


def intro(widths: tuple[int, ...] | None, chinese: bool = False) -> str:
    """The page's first words; `widths` are the current TextCNN's filter widths (None: a model without them);
    `chinese`: the model reads Chinese, a character per token."""
    slide = (t("text_cnn.intro.slide", widths=t("text_cnn.separator").join(map(str, widths))) if widths
             else t("text_cnn.intro.slide_unknown"))
    return t(f"text_cnn.intro.{_unit(chinese)}", slide=slide)


def title(characters: bool) -> str:
    return t(f"text_cnn.title_{_unit(characters)}")


def mr_comparison(n_train: int, n_test: int, cnn_accuracy: float, mean_accuracy: float) -> str:
    """Under the TextCNN-vs-fastText table: what was compared, the published figure, what the numbers say."""
    gap = cnn_accuracy - mean_accuracy
    # One test sentence in a thousand is 0.1 points: within two points, neither is better on this split.
    if abs(gap) < 0.02:
        verdict = t("text_cnn.comparison.mr_even")
    elif gap > 0:
        verdict = t("text_cnn.comparison.mr_cnn", gap=gap)
    else:
        verdict = t("text_cnn.comparison.mr_mean", gap=-gap)
    return t("text_cnn.comparison.mr", n_train=n_train, n_test=n_test, verdict=verdict)


def zh_comparison(n_train: int, n_test: int, cnn_accuracy: float, mean_accuracy: float) -> str:
    """Under the comparison table: the Chinese models, read a character at a time."""
    gap = cnn_accuracy - mean_accuracy
    verdict = t("text_cnn.comparison.zh_cnn", gap=gap) if gap >= 0.02 else t("text_cnn.comparison.zh_even")
    return t("text_cnn.comparison.zh", n_train=n_train, n_test=n_test, verdict=verdict)


def corpus_missing(error: str) -> str:
    """The corpus of the model cannot be loaded (no network): its top n-grams are not shown."""
    return t("text_cnn.corpus.missing", error=error)


def _measured(accuracy: float | None) -> str:
    return t("text_cnn.model.not_measured") if accuracy is None else f"{accuracy:.1%}"


def model_caption(name: str, accuracy: float | None, parameters: int, vocabulary: int, chinese: bool = False) -> str:
    """The line under the title: which text model this is (`name` already markdown-safe); `chinese`: its tokens
    are characters."""
    return t(f"text_cnn.model.caption_{_unit(chinese)}", name=name, accuracy=_measured(accuracy),
             parameters=parameters, vocabulary=vocabulary)


def dropped(tokens: int, kept: int, dropped: int) -> str:
    """A sentence longer than the model reads: how much of it is dropped."""
    return t("text_cnn.sentence.dropped", tokens=tokens, kept=kept, dropped=dropped)


def unknown(count: int, characters: bool = False) -> str:
    """The caption over the words (or characters) the model has never seen (shown as plain text)."""
    return t(f"text_cnn.sentence.unknown_{_unit(characters)}", count=count)


def steps_help(tolerance: float, most_tried: int) -> str:
    """The help of the integration-steps slider."""
    return t("text_cnn.attribution.steps_help", tolerance=tolerance, most=most_tried)


def padding_note(pads: int, characters: bool = False) -> str:
    """The sentence that ends an occlusion caption when the model pads the sentence ("" if it does not)."""
    return t(f"text_cnn.occlusion.padding_{_unit(characters)}", pads=pads) if pads else ""


def occlusion_caption(window: int, pads: int, characters: bool = False) -> str:
    """How to read occlusion values with a window of `window` words (or characters)."""
    unit = _unit(characters)
    text = (t(f"text_cnn.occlusion.wide_{unit}", window=window) if window > 1
            else t(f"text_cnn.occlusion.one_{unit}"))
    return text + padding_note(pads, characters)


def ig_completeness(attribution: Any, tolerance: float) -> str:
    """Whether Integrated Gradients' attributions add up to the change of the class score (completeness).

    `attribution` is a cnnviz TokenAttribution of method "integrated_gradients"; the page shows the text
    as a warning when `attribution.converged is False`, else as a caption."""
    relative = attribution.relative_delta
    share = (t("text_cnn.completeness.share", relative=relative) if relative != float("inf")
             else t("text_cnn.completeness.share_zero"))
    failed = attribution.converged is False
    if attribution.steps_doubled:
        steps = t(f"text_cnn.completeness.steps_doubled{'_capped' if failed else ''}", steps=attribution.n_steps,
                  requested=attribution.requested_steps, tolerance=tolerance)
    else:
        steps = t("text_cnn.completeness.steps", steps=attribution.n_steps)
    completeness = t("text_cnn.completeness.sums", total=float(attribution.attributions.sum()),
                     change=attribution.prediction_difference, delta=attribution.delta, share=share)
    return t(f"text_cnn.completeness.{'not_converged' if failed else 'converged'}", steps=steps,
             completeness=completeness, tolerance=tolerance)


def csv_refused(file_name: str, error: str) -> str:
    """An uploaded CSV file that cannot be used (both already markdown-safe)."""
    return t("text_cnn.csv.refused", file_name=file_name, error=error)


def not_trained(error: str) -> str:
    """Training could not start (`error` markdown-safe: it may quote the CSV)."""
    return t("text_cnn.training.not_trained", error=error)


def model_label(name: str, accuracy: float | None, *, zoo: bool) -> str:
    """A text model as the training messages name it (`name` markdown-safe)."""
    measured = (t("text_cnn.training.accuracy_not_measured") if accuracy is None
                else t("text_cnn.training.accuracy", accuracy=accuracy))
    return t(f"text_cnn.training.{'zoo_label' if zoo else 'label'}", name=name, measured=measured)


def replaced(accuracy: float, old_label: str, old_name: str) -> str:
    """A new TextCNN finished every epoch and replaced the text model."""
    return t("text_cnn.training.replaced", accuracy=accuracy, old_label=old_label,
             switch_back=t("frame.panel.switch_back", name=old_name))


def not_replaced(status: str, done: int, epochs: int, message: str, old_label: str) -> str:
    """A TextCNN run that did not finish every epoch: the text model stays."""
    return t("text_cnn.training.not_replaced", status=t(f"frame.status.{status}"), done=done, epochs=epochs,
             message=message, old_label=old_label)


def trained_reason(epochs: int, data_label: str | Phrase) -> Phrase:
    """Why the new TextCNN is the text model (the sidebar shows it, in the language of the run that shows it)."""
    return phrase("text_cnn.training.reason", epochs=epochs, data=data_label)


def push_column(class_name: str) -> str:
    """The column of the "which n-grams decided" table: how far each n-gram pushed the predicted class."""
    return t("text_cnn.decided.push", class_name=class_name)


def decided_caption(class_name: str, classes: int, margin: float, total: float, bias: float, ngrams: int) -> str:
    """Under the "which n-grams decided" table: what the numbers are, and that they add up exactly
    (`class_name` already markdown-safe)."""
    others = t("text_cnn.decided.other_class" if classes == 2 else "text_cnn.decided.other_classes")
    return t("text_cnn.decided.caption", class_name=class_name, others=others, margin=margin, total=total,
             bias=bias, ngrams=ngrams)


def attribution_labels(characters: bool) -> dict[str, str]:
    """The attribution figure's words; for a model that reads characters, the ones that say "word" say so."""
    labels = figure_labels("token_attributions")
    if characters:
        labels.update(title_padded=t("text_cnn.attribution.figure_title_characters"),
                      padding_run=t("text_cnn.attribution.figure_padding_characters"))
    return labels
