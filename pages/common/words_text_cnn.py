"""The TextCNN page's words: what the model reads of a sentence, how to read the attributions, training news."""

from __future__ import annotations

from typing import Any

METHODS = {"integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion"}
CORPORA = {"mr": "MR: 10,568 real movie-review sentences (offline)",
           "sentiment": "negation lab: procedural sentences (offline)",
           "rotten_tomatoes": "Rotten Tomatoes, MR (online)",
           "sst2": "SST-2 (online)", "ag_news": "AG News (online)", "trec": "TREC questions (online)"}
# Sentences whose words pull both ways (negation, contrast), and one in the style of the real reviews.
EXAMPLES = ("the plot was not good at all", "dull at first but wonderful in the end",
            "a gorgeous, witty, seductive movie", "not bad", "the acting was never boring")
def intro(widths: tuple[int, ...] | None) -> str:
    """The page's first words; `widths` are the current TextCNN's filter widths (None: a model without them)."""
    slide = (f"filters of width {', '.join(map(str, widths))} slide over it" if widths
             else "filters of a few widths slide over it")
    return ("For text, a CNN's window is an n-gram. Each word becomes a row of K numbers (its embedding), so a "
            f"sentence is an N×K matrix; {slide}, 1-max pooling keeps each filter's strongest n-gram wherever it "
            "is, and a linear layer classifies (Kim 2014).")
EMPTY_SENTENCE = "Type a sentence: an empty one has no words to look at."
POOLING_NOTE = ("1-max pooling: each filter keeps only its largest value over the sentence, so any sentence length "
                "gives the same vector, which the linear layer classifies.")
def mr_comparison(n_train: int, n_test: int, cnn_accuracy: float, mean_accuracy: float) -> str:
    """Under the TextCNN-vs-fastText table: what was compared, the published figure, what the numbers say."""
    gap = cnn_accuracy - mean_accuracy
    # One test sentence in a thousand is 0.1 points: within two points, neither is better on this split.
    if abs(gap) < 0.02:
        verdict = ("The mean of word embeddings (fastText) is about as accurate here, and far cheaper: word order "
                   "buys little on short reviews without pre-trained embeddings.")
    elif gap > 0:
        verdict = f"The TextCNN is {gap:.1%} better here, at many times the cost per sentence."
    else:
        verdict = (f"The mean of word embeddings (fastText) is {-gap:.1%} better here, and far cheaper: word order "
                   "buys little on short reviews without pre-trained embeddings.")
    return (f"Both were trained on the same {n_train:,} real movie-review sentences (MR, Pang & Lee 2005) and "
            f"tested on the same {n_test:,}. Kim 2014 reports 76.1% for a TextCNN with random embeddings on MR "
            f"(10-fold cross-validation, 300-dimensional embeddings). {verdict} Train both below to time them "
            "on this server.")


NO_CSV = "Upload a CSV file and pick its columns first."


def corpus_missing(error: str) -> str:
    """The corpus of the model cannot be loaded (no network): its top n-grams are not shown."""
    return f"The corpus of this model is not available ({error}); its top n-grams are not shown."


def model_caption(name: str, accuracy: float | None, parameters: int, vocabulary: int) -> str:
    """The line under the title: which text model this is (`name` already markdown-safe)."""
    measured = "not measured" if accuracy is None else f"{accuracy:.1%}"
    return (f"Text model: **{name}** — test accuracy {measured}, {parameters:,} parameters, vocabulary of "
            f"{vocabulary:,} words.")


def dropped(tokens: int, kept: int, dropped: int) -> str:
    """A sentence longer than the model reads: how much of it is dropped."""
    return (f"This sentence has {tokens:,} tokens; the model reads only the first {kept} (its longest input), so "
            f"the last {dropped:,} are dropped: they change nothing and are not shown below.")


def unknown(count: int) -> str:
    """The caption over the words the model has never seen (the words themselves are shown as plain text)."""
    return (f"{count} word(s) this model has never seen; it reads each of them as the one unknown-word token "
            "`<unk>`, so to the model they all look alike:")


def steps_help(tolerance: float, most_tried: int) -> str:
    """The help of the integration-steps slider."""
    return (f"If these steps leave the attributions more than {tolerance:.0%} off the change of the score, they "
            f"are doubled, up to {most_tried}.")


def padding_note(pads: int) -> str:
    """The sentence that ends an occlusion caption when the model pads the sentence ("" if it does not)."""
    if not pads:
        return ""
    return (f" The {pads} padding position(s) the model adds to reach its widest filter are not words: they are "
            "left empty.")


def occlusion_caption(window: int, pads: int) -> str:
    """How to read occlusion values with a window of `window` words."""
    if window > 1:
        return (f"Occlusion, window of {window} words: each run of {window} neighbouring tokens is replaced by "
                "padding, and every token of the run gets the whole drop of the class score, not a share of it; a "
                "token's value is the mean drop over the runs that contain it. So values mix a word with its "
                "neighbours and do not add up to anything, and the first and last words, inside fewer runs, show "
                "the drop of just those." + padding_note(pads))
    return ("Occlusion, window of 1 word: each token's value is the drop of the class score when that token alone "
            "is replaced by padding." + padding_note(pads))


def ig_completeness(attribution: Any, tolerance: float) -> str:
    """Whether Integrated Gradients' attributions add up to the change of the class score (completeness).

    `attribution` is a cnnviz TokenAttribution of method "integrated_gradients"; the page shows the text
    as a warning when `attribution.converged is False`, else as a caption."""
    relative = attribution.relative_delta
    share = f"{relative:.2%} of it" if relative != float("inf") else "while the change is 0"
    steps = f"{attribution.n_steps} steps"
    if attribution.steps_doubled:
        steps += (f" (the {attribution.requested_steps} chosen left the sum more than {tolerance:.0%} off, "
                  f"so they were doubled{', up to the most tried' if attribution.converged is False else ''})")
    completeness = (f"the attributions add up to {attribution.attributions.sum():.4g}, while the class score "
                    f"changes by {attribution.prediction_difference:.4g} from an all-padding sentence to this "
                    f"one: the convergence delta is {attribution.delta:.2g}, {share}")
    if attribution.converged is False:
        return (f"Integrated Gradients did not converge with {steps}: {completeness}, more than the "
                f"{tolerance:.0%} a converged result stays within. Read small differences with care.")
    return f"Integrated Gradients with {steps}: {completeness} (converged: within {tolerance:.0%})."


def csv_refused(file_name: str, error: str) -> str:
    """An uploaded CSV file that cannot be used (both already markdown-safe)."""
    return f"{file_name} cannot be used: {error}"


def not_trained(error: str) -> str:
    """Training could not start (`error` markdown-safe: it may quote the CSV)."""
    return f"{error} The text model is unchanged."


def model_label(name: str, accuracy: float | None, *, zoo: bool) -> str:
    """A text model as the training messages name it (`name` markdown-safe)."""
    measured = "accuracy not measured" if accuracy is None else f"{accuracy:.1%} test accuracy"
    return f"{'the zoo model ' if zoo else ''}{name} ({measured})"


def replaced(accuracy: float, old_label: str, old_name: str) -> str:
    """A new TextCNN finished every epoch and replaced the text model."""
    return (f"The new TextCNN ({accuracy:.1%} test accuracy) is now the text model of this page. It replaced "
            f"{old_label}; the sidebar's “Switch back to {old_name}” button brings that one back.")


def not_replaced(status: str, done: int, epochs: int, message: str, old_label: str) -> str:
    """A TextCNN run that did not finish every epoch: the text model stays."""
    return (f"The TextCNN {status} after {done} of {epochs} epochs ({message}), so it did not replace the text "
            f"model: {old_label} is still the one in use.")


def trained_reason(epochs: int, data_label: str) -> str:
    """Why the new TextCNN is the text model (the sidebar shows it)."""
    return f"trained on the TextCNN page ({epochs} epochs on {data_label})"
