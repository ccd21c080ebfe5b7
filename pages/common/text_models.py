"""The TextCNN page's model and sentences: the zoo TextCNNs to pick from, example sentences in the model's
language, and which n-grams decided a prediction.

A model that reads Chinese (its vocabulary is mostly Chinese characters, one token each) gets Chinese
example sentences; switching between an English and a Chinese model puts the new language's first
example into the sentence box, since a sentence in the other language would be all unknown tokens.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import ZOO, NgramActivations, TrainedModel, is_cjk, ngram_contributions
from cnnviz.safe_text import as_markdown_text
from pages.common import words_text_cnn as words
from pages.common.i18n import t
from pages.common.session import current_zoo_key, set_current_text_model, zoo_copy

ZOO_TEXT_CNNS = tuple(key for key, entry in ZOO.items() if entry.architecture == "text_cnn")
FOLLOW = "text_target_follow"        # set when the sentence changes: the class box follows the prediction
_PICKED = "text_zoo"                # the zoo picker's widget key
_LANGUAGE = "text_examples_chinese"  # whether the examples last shown were Chinese
_SHOWN = 6                           # n-grams in the "which n-grams decided" table


def reads_chinese(trained: TrainedModel) -> bool:
    """Whether a text model reads Chinese: most of its 100 most frequent tokens are Chinese characters."""
    tokens = trained.info.preprocessing.vocabulary.tokens[2:102]   # after <pad> and <unk>, most frequent first
    return sum(is_cjk(token) for token in tokens) > len(tokens) / 2


def _open_zoo_model() -> None:
    key = st.session_state.get(_PICKED)
    if key is not None and key != current_zoo_key(text=True):
        set_current_text_model(zoo_copy(key), zoo_key=key, reason=words.picked_reason())


def zoo_picker() -> None:
    """Choices that make one of the zoo's TextCNNs the page's model; the current one is shown selected (none
    for a trained or loaded model). A radio, not a segmented control: its names change with the language."""
    st.session_state[_PICKED] = current_zoo_key(text=True) if current_zoo_key(text=True) in ZOO_TEXT_CNNS else None
    st.radio(t("text_cnn.zoo.picker"), ZOO_TEXT_CNNS, format_func=words.zoo_model_name, key=_PICKED, horizontal=True,
             on_change=_open_zoo_model, help=t("text_cnn.zoo.help"))


def examples(trained: TrainedModel) -> tuple[str, ...]:
    """The example sentences for `trained`'s language. When that language changed since the last run, the
    sentence box gets the first of them (a sentence a link brings is applied after this, and wins)."""
    chinese = reads_chinese(trained)
    found = words.EXAMPLES_ZH if chinese else words.EXAMPLES
    if st.session_state.get(_LANGUAGE, chinese) != chinese:
        st.session_state.text_sentence = st.session_state.text_example = found[0]
        st.session_state[FOLLOW] = True   # explain the new sentence's predicted class
    st.session_state[_LANGUAGE] = chinese
    return found


def ngrams_that_decided(trained: TrainedModel, acts: NgramActivations, predicted: int) -> None:
    """The winning n-grams that pushed the predicted class most, and most against it: the head's exact split."""
    found = ngram_contributions(trained.model, acts, predicted)
    picked = list(range(min(_SHOWN, len(found.texts))))
    picked += [i for i in range(len(found.texts) - 2, len(found.texts)) if i >= _SHOWN and found.contributions[i] < 0]
    names = trained.info.class_names
    st.dataframe([{t("text_cnn.decided.ngram"): found.texts[i], t("text_cnn.decided.width"): int(found.widths[i]),
                   t("text_cnn.decided.filters"): int(found.filters[i]),
                   words.push_column(names[predicted]): round(float(found.contributions[i]), 3)} for i in picked],
                 hide_index=True, key="text_decided")
    # A class name comes from a model file: text, never markdown.
    st.caption(words.decided_caption(as_markdown_text(names[predicted], limit=60), len(names), found.margin,
                                     float(found.contributions.sum()), found.bias, len(found.texts)))
