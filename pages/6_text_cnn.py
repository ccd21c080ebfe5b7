"""TextCNN: n-gram filters over a sentence, 1-max pooling over time, and token attributions with Captum."""

import streamlit as st

from cnnviz import (
    IG_TOLERANCE,
    MAX_IG_STEPS,
    CnnvizError,
    attribute_tokens,
    encode_sentence,
    lossless_weights_dtype,
    model_to_bytes,
    ngram_activations,
    top_ngrams,
)
from cnnviz.plots import (
    plot_class_probabilities,
    plot_embedding_matrix,
    plot_ngram_activations,
    plot_pooled_vector,
    plot_token_attributions,
    plot_top_ngrams,
    plot_winning_ngrams,
)
from cnnviz.safe_text import as_markdown_text
from pages.common import words_text_cnn as words
from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import figure_labels, t
from pages.common.inputs import index_slider
from pages.common.links import linked
from pages.common.reproduce import model_code, reproduce_panel, snippet
from pages.common.session import app_settings, current_text_model, text_corpus
from pages.common.shared_runs import shared_view, shared_with_figure
from pages.common.text_models import FOLLOW, examples, ngrams_that_decided, reads_chinese, zoo_picker
from pages.common.text_training import training_section, zoo_comparison

METHODS, CORPORA = words.METHODS, words.CORPORA
TARGET_MODEL = "text_target_model"   # the model the class box was last shown for (a new model: follow again)


def follow_prediction() -> None:
    """The sentence changed (typed or picked): explain its predicted class again, not the class picked before."""
    st.session_state[FOLLOW] = True


def pick_example() -> None:
    st.session_state.text_sentence = st.session_state.text_example
    follow_prediction()


frame = page_frame(text=True)
trained = current_text_model()   # a zoo model picked below is installed by the picker's callback, before this run
info, chinese = trained.info, reads_chinese(trained)
unit = "characters" if chinese else "words"   # the model's tokens: where the page says "words", it says which
st.title(words.title(chinese))
zoo_picker()
st.caption(words.intro(getattr(info.spec, "widths", None), chinese))
prep = info.preprocessing
try:
    corpus = text_corpus(info.dataset) if info.dataset in CORPORA else None
except CnnvizError as exc:  # a model of an online corpus, opened without a network
    st.info(words.corpus_missing(as_markdown_text(exc, limit=300)))
    corpus = None
st.caption(words.model_caption(as_markdown_text(info.name), info.test_accuracy, trained.parameters,
                               len(prep.vocabulary), chinese))

left, right = st.columns([2, 1])
with left:
    # Picking an example puts it into the sentence box, where it can be edited.
    sentences = examples(trained)   # in the model's language
    example = st.selectbox(t("text_cnn.sentence.example"), sentences, format_func=words.example,
                           key=linked("text_example", choices=sentences), on_change=pick_example)
    sentence = st.text_input(t("text_cnn.sentence.sentence"), value=example, key=linked("text_sentence", text=True),
                             max_chars=2000, on_change=follow_prediction)
tokens = prep.encode_batch([sentence])[0]
if not sentence.strip():
    st.warning(t("text_cnn.sentence.empty"))
    close_page_frame(frame)
    st.stop()
probabilities, probabilities_figure = shared_with_figure(
    "text_probabilities", trained, (sentence,), lambda: trained.predict_proba([sentence])[0],
    lambda found: plot_class_probabilities(found, info.class_names, labels=figure_labels("class_probabilities")))
encoded = encode_sentence(prep, sentence)
with right:
    st.plotly_chart(probabilities_figure, key="text_probs")
if encoded.dropped:
    st.info(words.dropped(len(encoded.words), encoded.kept, encoded.dropped), icon=":material/content_cut:")
if encoded.unknown:
    # The words are the user's own text: shown with st.text, never as markdown or HTML.
    st.caption(words.unknown(len(encoded.unknown), chinese))
    st.text("   ".join(encoded.unknown))


def ngram_figures(acts):
    """The embedding matrix, each width's activations and winners, and the pooled vector, as figures."""
    embedded = trained.model.embedding.weight.detach().numpy()[tokens.numpy()]
    return (plot_embedding_matrix(acts.tokens[:len(tokens)], embedded, labels=figure_labels("embedding_matrix")),
            [(plot_ngram_activations(acts, i, labels=figure_labels("ngram_activations")),
              plot_winning_ngrams(acts, i, labels=figure_labels("winning_ngrams"))) for i in range(len(acts.widths))],
            plot_pooled_vector(acts, labels=figure_labels("pooled_vector")))


acts, (embedding_figure, width_figures, pooled_figure) = shared_with_figure(
    "text_ngrams", trained, (sentence,), lambda: ngram_activations(trained.model, tokens, prep.vocabulary),
    ngram_figures)
with st.expander(t(f"text_cnn.ngrams.embeddings_{unit}")):
    st.plotly_chart(embedding_figure, key="text_embeddings")

st.subheader(t("text_cnn.ngrams.heading"))
width_tabs = st.tabs([t("text_cnn.ngrams.tab", width=w) for w in acts.widths])
for index, (tab, (activations_figure, winners_figure)) in enumerate(zip(width_tabs, width_figures)):
    with tab:
        st.plotly_chart(activations_figure, key=f"text_acts_{index}")
        st.plotly_chart(winners_figure, key=f"text_winners_{index}")
st.plotly_chart(pooled_figure, key="text_pooled")
st.caption(t("text_cnn.ngrams.pooling_note"))
st.subheader(t("text_cnn.decided.heading"))
ngrams_that_decided(trained, acts, int(probabilities.argmax()))

st.subheader(t(f"text_cnn.attribution.heading_{unit}"))
a, b, c = st.columns(3)
# The class box shows the predicted class, unless the user picked another for this sentence: a new
# sentence or a new model starts from its prediction again. A value a link brings is kept.
before = st.session_state.get("text_target")
target_key = linked("text_target", choices=range(len(info.class_names)))
from_link = st.session_state.get(target_key) != before
follow = st.session_state.pop(FOLLOW, False) or st.session_state.get(TARGET_MODEL, id(trained)) != id(trained)
st.session_state[TARGET_MODEL] = id(trained)
if target_key not in st.session_state or follow and not from_link:
    st.session_state[target_key] = int(probabilities.argmax())
target = a.selectbox(t("text_cnn.attribution.target"), range(len(info.class_names)),
                     format_func=info.class_names.__getitem__, key=target_key)
method = b.radio(t("text_cnn.attribution.method"), METHODS, format_func=words.method_name,
                 key=linked("text_method", choices=METHODS))
if method == "integrated_gradients":
    most = max(10, app_settings().max_attribution_steps)  # a hosted demo allows fewer
    # More steps are tried when the chosen ones leave the sum off; a hosted demo keeps its own cap.
    most_tried = most if app_settings().hosted else max(most, MAX_IG_STEPS)
    options = {"n_steps": c.slider(t("text_cnn.attribution.steps"), 10, most, min(50, most), step=10,
                                   key=linked("text_steps", low=10, high=most, step=10),
                                   help=words.steps_help(IG_TOLERANCE, most_tried))}
else:
    longest = min(4, len(acts.tokens))
    window = 1 if longest == 1 else c.slider(t(f"text_cnn.attribution.window_{unit}"), 1, longest, 1,
                                             key=linked("text_window", low=1, high=longest))
    options = {"window": window}
options_tried = {**options, "max_steps": most_tried} if method == "integrated_gradients" else options
try:
    attribution, figure = shared_with_figure(
        "text_attribution", trained, (sentence, int(target), method, tuple(sorted(options_tried.items()))),
        lambda: attribute_tokens(trained.model, tokens, int(target), vocabulary=prep.vocabulary, method=method,
                                 **options_tried),
        lambda found: plot_token_attributions(found, class_name=info.class_names[int(target)],
                                              labels=words.attribution_labels(chinese)))
except ValueError as exc:
    st.error(str(exc))
    attribution = None
if attribution is not None:
    st.plotly_chart(figure, key="text_attributions")
    if method == "occlusion":
        pads = int(attribution.padding.sum()) if attribution.padding is not None else 0
        st.caption(words.occlusion_caption(options["window"], pads, chinese))
    option_code = ", ".join(f"{name}={value!r}" for name, value in options.items())
    reproduce_panel(figure, snippet(model_code(text=True), "prep = trained.info.preprocessing",
                                    f"tokens = prep.encode_batch([{sentence!r}])[0]",
                                    f"attribution = cnnviz.attribute_tokens(trained.model, tokens, {int(target)}, "
                                    f"vocabulary=prep.vocabulary,\n{' ' * 38}method={method!r}, {option_code})",
                                    "fig = cnnviz.plots.plot_token_attributions(attribution, "
                                    f"class_name=trained.info.class_names[{int(target)}])"),
                    name="token_attributions", text=True)
if attribution is not None and attribution.delta is not None:
    # Completeness: a warning when more steps could not bring the sum within the tolerance.
    (st.warning if attribution.converged is False else st.caption)(words.ig_completeness(attribution, IG_TOLERANCE))

if corpus is not None:
    st.subheader(t("text_cnn.corpus.heading"))
    f1, f2 = st.columns(2)
    width_index = f1.selectbox(t("text_cnn.corpus.width"), range(len(acts.widths)),
                               format_func=lambda i: t("text_cnn.corpus.width_option", width=acts.widths[i]),
                               key=linked("text_top_width", choices=range(len(acts.widths))))
    filter_index = index_slider(t("text_cnn.corpus.filter"), len(acts.pooled[0]), key="text_top_filter", container=f2)
    top_figure = shared_view("text_top_ngrams", trained, (width_index, filter_index), lambda: plot_top_ngrams(
        top_ngrams(trained.model, corpus.test_tensors()[0], prep.vocabulary, width_index=width_index,
                   filter_index=filter_index, k=10), labels=figure_labels("top_ngrams")))
    st.plotly_chart(top_figure, key="text_top_ngrams")

st.download_button(t("text_cnn.download.label"), lambda: model_to_bytes(
    trained, weights_dtype=lossless_weights_dtype(trained)), on_click="ignore",
                   file_name=info.name.lower().replace(" ", "-") + ".safetensors", icon=":material/download:",
                   help=t("text_cnn.download.help"))

st.subheader(t("text_cnn.comparison.heading"))
zoo_comparison()
training_section()

close_page_frame(frame)
