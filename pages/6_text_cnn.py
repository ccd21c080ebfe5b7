"""TextCNN: n-gram filters over a sentence, 1-max pooling over time, and token attributions with Captum."""

import time
from collections.abc import Callable

import streamlit as st

from cnnviz import (
    IG_TOLERANCE,
    MAX_IG_STEPS,
    CnnvizError,
    EpochReport,
    TrainConfig,
    attribute_tokens,
    csv_columns,
    encode_sentence,
    evaluate,
    model_to_bytes,
    ngram_activations,
    text_dataset_from_rows,
    texts_from_csv,
    top_ngrams,
    train,
    untrained_text_model,
)
from cnnviz.plots import (
    plot_class_probabilities,
    plot_embedding_matrix,
    plot_ngram_activations,
    plot_pooled_vector,
    plot_token_attributions,
    plot_top_ngrams,
    plot_training_curves,
    plot_winning_ngrams,
)
from cnnviz.safe_text import as_markdown_text
from pages.common.frame import close_page_frame, page_frame
from pages.common.inputs import index_slider
from pages.common.links import linked
from pages.common.reproduce import model_code, reproduce_panel, snippet
from pages.common.session import (
    app_settings,
    current_text_model,
    current_zoo_key,
    set_current_text_model,
    text_corpus,
)
from pages.common.shared_runs import shared_view, shared_with_figure, training_slot

EXAMPLES = ("the plot was not good at all", "dull at first but wonderful in the end",
            "a very good film", "not bad", "the acting was never boring")
WIDTHS = [(2, 3, 4), (3, 4, 5)]
METHODS = {"integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion"}
CORPORA = {"sentiment": "procedural sentiment corpus (offline)", "rotten_tomatoes": "Rotten Tomatoes, MR (online)",
           "sst2": "SST-2 (online)", "ag_news": "AG News (online)", "trec": "TREC questions (online)"}
FOLLOW = "text_target_follow"        # set when the user changes the sentence: the class box follows the prediction
TARGET_MODEL = "text_target_model"   # the model the class box was last shown for (a new model: follow again)


def follow_prediction() -> None:
    """The sentence changed (typed or picked): explain its predicted class again, not the class picked before."""
    st.session_state[FOLLOW] = True


def pick_example() -> None:
    st.session_state.text_sentence = st.session_state.text_example
    follow_prediction()


def show_epochs(progress, label: str) -> Callable[[EpochReport], None]:
    """An on_epoch callback that moves `progress`. It returns None: only cnnviz.STOP would stop the run."""
    def on_epoch(report: EpochReport) -> None:
        progress.progress(report.epoch / report.epochs, text=f"{label}: epoch {report.epoch} of {report.epochs}")
    return on_epoch

frame = page_frame(text=True)
st.title("TextCNN: convolution over words")
st.caption("For text, a CNN's window is an n-gram. Each word becomes a row of K numbers (its embedding), so a "
           "sentence is an N×K matrix; filters of width 2, 3, 4 slide over it, 1-max pooling keeps each "
           "filter's strongest n-gram wherever it is, and a linear layer classifies (Kim 2014).")

trained = current_text_model()
info = trained.info
prep = info.preprocessing
try:
    corpus = text_corpus(info.dataset) if info.dataset in CORPORA else None
except CnnvizError as exc:  # a model of an online corpus, opened without a network
    st.info(f"The corpus of this model is not available ({as_markdown_text(exc, limit=300)}); its top n-grams "
            "are not shown.")
    corpus = None
st.caption(f"Text model: **{as_markdown_text(info.name)}** — test accuracy "
           f"{'not measured' if info.test_accuracy is None else f'{info.test_accuracy:.1%}'}, "
           f"{trained.parameters:,} parameters, vocabulary of {len(prep.vocabulary):,} words.")

left, right = st.columns([2, 1])
with left:
    # Picking an example puts it into the sentence box, where it can be edited.
    example = st.selectbox("Example", EXAMPLES, key=linked("text_example", choices=EXAMPLES),
                           on_change=pick_example)
    sentence = st.text_input("Sentence", value=example, key=linked("text_sentence", text=True), max_chars=2000,
                             on_change=follow_prediction)
tokens = prep.encode_batch([sentence])[0]
if not sentence.strip():
    st.warning("Type a sentence: an empty one has no words to look at.")
    close_page_frame(frame)
    st.stop()
probabilities, probabilities_figure = shared_with_figure(
    "text_probabilities", trained, (sentence,), lambda: trained.predict_proba([sentence])[0],
    lambda found: plot_class_probabilities(found, info.class_names))
encoded = encode_sentence(prep, sentence)
with right:
    st.plotly_chart(probabilities_figure, key="text_probs")
if encoded.dropped:
    st.info(f"This sentence has {len(encoded.words):,} tokens; the model reads only the first {encoded.kept} "
            f"(its longest input), so the last {encoded.dropped:,} are dropped: they change nothing and are not "
            "shown below.", icon=":material/content_cut:")
if encoded.unknown:
    # The words are the user's own text: shown with st.text, never as markdown or HTML.
    st.caption(f"{len(encoded.unknown)} word(s) this model has never seen; it reads each of them as the one "
               "unknown-word token `<unk>`, so to the model they all look alike:")
    st.text("   ".join(encoded.unknown))



def ngram_figures(acts):
    """The embedding matrix, each width's activations and winners, and the pooled vector, as figures."""
    embedded = trained.model.embedding.weight.detach().numpy()[tokens.numpy()]
    return (plot_embedding_matrix(acts.tokens[:len(tokens)], embedded),
            [(plot_ngram_activations(acts, i), plot_winning_ngrams(acts, i)) for i in range(len(acts.widths))],
            plot_pooled_vector(acts))


acts, (embedding_figure, width_figures, pooled_figure) = shared_with_figure(
    "text_ngrams", trained, (sentence,), lambda: ngram_activations(trained.model, tokens, prep.vocabulary),
    ngram_figures)
with st.expander("The input: an N×K matrix of word embeddings"):
    st.plotly_chart(embedding_figure, key="text_embeddings")

st.subheader("Filters over n-grams")
width_tabs = st.tabs([f"width {w} ({w}-grams)" for w in acts.widths])
for index, (tab, (activations_figure, winners_figure)) in enumerate(zip(width_tabs, width_figures)):
    with tab:
        st.plotly_chart(activations_figure, key=f"text_acts_{index}")
        st.plotly_chart(winners_figure, key=f"text_winners_{index}")
st.plotly_chart(pooled_figure, key="text_pooled")
st.caption("1-max pooling: each filter keeps only its largest value over the sentence, so any sentence length "
           "gives the same vector, which the linear layer classifies.")

st.subheader("Which words decided it")
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
target = a.selectbox("Explain the class", range(len(info.class_names)), format_func=info.class_names.__getitem__,
                     key=target_key)
method = b.radio("Method", list(METHODS), format_func=METHODS.get, key=linked("text_method", choices=list(METHODS)))
if method == "integrated_gradients":
    most = max(10, app_settings().max_attribution_steps)  # a hosted demo allows fewer
    # More steps are tried when the chosen ones leave the sum off; a hosted demo keeps its own cap.
    most_tried = most if app_settings().hosted else max(most, MAX_IG_STEPS)
    options = {"n_steps": c.slider("Integration steps", 10, most, min(50, most), step=10,
                                   key=linked("text_steps", low=10, high=most, step=10),
                                   help=f"If these steps leave the attributions more than {IG_TOLERANCE:.0%} off "
                                        f"the change of the score, they are doubled, up to {most_tried}.")}
else:
    longest = min(4, len(acts.tokens))
    window = 1 if longest == 1 else c.slider("Occlusion window (words)", 1, longest, 1,
                                             key=linked("text_window", low=1, high=longest))
    options = {"window": window}
if method == "integrated_gradients":
    options_tried = {**options, "max_steps": most_tried}
else:
    options_tried = options
try:
    attribution, figure = shared_with_figure(
        "text_attribution", trained, (sentence, int(target), method, tuple(sorted(options_tried.items()))),
        lambda: attribute_tokens(trained.model, tokens, int(target), vocabulary=prep.vocabulary, method=method,
                                 **options_tried),
        lambda found: plot_token_attributions(found, class_name=info.class_names[int(target)]))
except ValueError as exc:
    st.error(str(exc))
    attribution = None
if attribution is not None:
    st.plotly_chart(figure, key="text_attributions")
    pads = int(attribution.padding.sum()) if attribution.padding is not None else 0
    padding_note = (f" The {pads} padding position(s) the model adds to reach its widest filter are not words: "
                    "they are left empty." if pads else "")
    if method == "occlusion" and options["window"] > 1:
        st.caption(f"Occlusion, window of {options['window']} words: each run of {options['window']} neighbouring "
                   "tokens is replaced by padding, and every token of the run gets the whole drop of the class "
                   "score, not a share of it; a token's value is the mean drop over the runs that contain it. So "
                   "values mix a word with its neighbours and do not add up to anything, and the first and last "
                   "words, inside fewer runs, show the drop of just those." + padding_note)
    elif method == "occlusion":
        st.caption("Occlusion, window of 1 word: each token's value is the drop of the class score when that "
                   "token alone is replaced by padding." + padding_note)
    option_code = ", ".join(f"{name}={value!r}" for name, value in options.items())
    reproduce_panel(figure, snippet(model_code(text=True), "prep = trained.info.preprocessing",
                                    f"tokens = prep.encode_batch([{sentence!r}])[0]",
                                    f"attribution = cnnviz.attribute_tokens(trained.model, tokens, {int(target)}, "
                                    f"vocabulary=prep.vocabulary,\n{' ' * 38}method={method!r}, {option_code})",
                                    "fig = cnnviz.plots.plot_token_attributions(attribution, "
                                    f"class_name=trained.info.class_names[{int(target)}])"),
                    name="token_attributions", text=True)
if attribution is not None and attribution.delta is not None:
    difference, delta, relative = attribution.prediction_difference, attribution.delta, attribution.relative_delta
    share = f"{relative:.2%} of it" if relative != float("inf") else "while the change is 0"
    steps = f"{attribution.n_steps} steps"
    if attribution.steps_doubled:
        steps += (f" (the {attribution.requested_steps} chosen left the sum more than {IG_TOLERANCE:.0%} off, "
                  f"so they were doubled{', up to the most tried' if attribution.converged is False else ''})")
    completeness = (f"the attributions add up to {attribution.attributions.sum():.4g}, while the class score "
                    f"changes by {difference:.4g} from an all-padding sentence to this one: the convergence delta "
                    f"is {delta:.2g}, {share}")
    if attribution.converged is False:
        st.warning(f"Integrated Gradients did not converge with {steps}: {completeness}, more than the "
                   f"{IG_TOLERANCE:.0%} a converged result stays within. Read small differences with care.")
    else:
        st.caption(f"Integrated Gradients with {steps}: {completeness} (converged: within {IG_TOLERANCE:.0%}).")

if corpus is not None:
    st.subheader("What one filter looks for, over the whole corpus")
    f1, f2 = st.columns(2)
    width_index = f1.selectbox("Width", range(len(acts.widths)), format_func=lambda i: f"{acts.widths[i]}-grams",
                               key=linked("text_top_width", choices=range(len(acts.widths))))
    filter_index = index_slider("Filter", len(acts.pooled[0]), key="text_top_filter", container=f2)
    top_figure = shared_view("text_top_ngrams", trained, (width_index, filter_index), lambda: plot_top_ngrams(
        top_ngrams(trained.model, corpus.test_tensors()[0], prep.vocabulary, width_index=width_index,
                   filter_index=filter_index, k=10)))
    st.plotly_chart(top_figure, key="text_top_ngrams")

st.download_button("Download this text model (.safetensors)", lambda: model_to_bytes(trained), on_click="ignore",
                   file_name=info.name.lower().replace(" ", "-") + ".safetensors", icon=":material/download:",
                   help="Load it again on the Train / load page.")

st.subheader("Train a TextCNN and a fastText baseline")
source = st.radio("Train on", ["a corpus", "a CSV file"], horizontal=True,
                  key=linked("text_train_source", choices=["a corpus", "a CSV file"]))
csv_rows = None
if source == "a CSV file":
    upload = st.file_uploader("CSV file with a text column and a label column", type=["csv", "tsv", "txt"],
                              key="text_csv")
    if upload is not None:
        try:
            limit = app_settings().max_upload_mb * 2**20
            columns = csv_columns(upload.getvalue(), max_bytes=limit)
            c1, c2 = st.columns(2)
            text_column = c1.selectbox("Text column", columns, key=linked("text_csv_text", choices=columns))
            label_column = c2.selectbox("Label column", columns, index=min(1, len(columns) - 1),
                                        key=linked("text_csv_label", choices=columns))
            csv_rows = (upload.name, *texts_from_csv(upload.getvalue(), text_column=text_column,
                                                     label_column=label_column, max_bytes=limit,
                                                     max_rows=app_settings().max_samples))
        except CnnvizError as exc:
            st.error(f"{as_markdown_text(upload.name)} cannot be used: {as_markdown_text(exc, limit=300)}")
with st.form("text_train_form"):
    t1, t2, t3 = st.columns(3)
    corpus_name = t1.selectbox("Corpus", list(CORPORA), format_func=CORPORA.get, disabled=source != "a corpus",
                               key=linked("text_corpus", choices=list(CORPORA)))
    widths = t2.selectbox("Filter widths", WIDTHS, format_func=lambda w: ", ".join(map(str, w)),
                          key=linked("text_widths", choices=WIDTHS))
    limit = app_settings().max_epochs
    epochs = t3.slider("Epochs", 1, limit, min(15, limit), key=linked("text_epochs", low=1, high=limit))
    go = st.form_submit_button("Train both", type="primary")
if go:
    try:
        if source == "a corpus":
            data = text_corpus(corpus_name)
        elif csv_rows is None:
            raise CnnvizError("Upload a CSV file and pick its columns first.")
        else:
            data = text_dataset_from_rows(*csv_rows)
    except (CnnvizError, ValueError) as exc:
        st.error(f"{as_markdown_text(exc, limit=400)} The text model is unchanged.")   # may quote the CSV
    else:
        config = TrainConfig(epochs=epochs, batch_size=64, learning_rate=0.01)
        data_label = CORPORA[corpus_name] if source == "a corpus" else csv_rows[0]
        rows = []
        candidate = outcome = None
        for kind, label in (("text_cnn", "TextCNN"), ("fasttext", "fastText (unigrams)")):
            model = untrained_text_model(kind, data, seed=0, **({"widths": widths} if kind == "text_cnn" else {}))
            progress = st.progress(0.0, text=f"Training {label} ...")
            start = time.perf_counter()
            with training_slot():
                result = train(model.model, data.train_tensors(), config, test_set=data.test_tensors(),
                               on_epoch=show_epochs(progress, label))
            seconds = time.perf_counter() - start
            progress.empty()
            evaluation = evaluate(model.model, *data.test_tensors())
            hard = [i for i, tag in enumerate(data.test_tags) if tag in ("negation", "contrast")]
            hard_accuracy = (evaluation.predictions[hard] == evaluation.labels[hard]).mean() if hard else None
            rows.append({"model": label, "epochs": f"{len(result.history)} of {epochs}",
                         "test accuracy": f"{evaluation.accuracy:.1%}",
                         "negation / contrast": "—" if hard_accuracy is None else f"{hard_accuracy:.1%}",
                         "training time": f"{seconds:.1f} s", "parameters": f"{model.parameters:,}"})
            if kind == "text_cnn":
                candidate, outcome = model.with_accuracy(evaluation.accuracy), result
                st.plotly_chart(plot_training_curves(result.history, total_epochs=epochs), key="text_curves")
        st.dataframe(rows, hide_index=True)
        # Only a run that finished every epoch replaces the text model (a rerun that interrupts the
        # training never gets here); the replaced one stays a click away in the sidebar.
        old = current_text_model()
        old_label = (f"{'the zoo model ' if current_zoo_key(text=True) else ''}{as_markdown_text(old.info.name)} ("
                     + ("accuracy not measured" if old.info.test_accuracy is None
                        else f"{old.info.test_accuracy:.1%} test accuracy") + ")")
        if outcome.status == "completed" and len(outcome.history) == epochs:
            set_current_text_model(candidate, reason=f"trained on the TextCNN page ({epochs} epochs on {data_label})")
            st.success(f"The new TextCNN ({candidate.info.test_accuracy:.1%} test accuracy) is now the text "
                       f"model of this page. It replaced {old_label}; the sidebar's “Switch back to "
                       f"{as_markdown_text(old.info.name)}” button brings that one back.")
        else:
            st.warning(f"The TextCNN {outcome.status} after {len(outcome.history)} of {epochs} epochs "
                       f"({outcome.message}), so it did not replace the text model: {old_label} is still "
                       "the one in use.")

close_page_frame(frame)
