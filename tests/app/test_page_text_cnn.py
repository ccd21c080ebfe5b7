"""AppTests of the TextCNN page: the zoo TextCNN on example sentences, attributions, training both models.

The page opens on the TextCNN trained on real movie-review sentences (MR); tests of behaviours that the
procedural negation lab was built to show take `negation_app`, whose text model is the lab's TextCNN.
"""

import json
import re

import pytest

from cnnviz import load_zoo_model, tokenize
from tests.conftest import chart_spec, open_page


def test_default_view_explains_a_negated_sentence(app):
    at = open_page(app, "text_cnn")
    zoo = load_zoo_model("textcnn-mr")                                    # trained on real sentences
    assert at.session_state["current_text_model"].info == zoo.info
    assert at.text_input(key="text_sentence").value == "the plot was not good at all"
    probabilities = zoo.predict_proba(["the plot was not good at all"])[0]
    assert zoo.info.class_names[int(probabilities.argmax())] == "negative"
    assert at.selectbox(key="text_target").value == int(probabilities.argmax())
    assert len(at.tabs) == 3 and zoo.info.spec.widths == (3, 4, 5)        # Kim 2014's widths
    attributions = chart_spec(at, "text_attributions")
    assert "the" in json.dumps(attributions) and "good" in json.dumps(attributions)
    assert any("convergence delta" in c.value for c in at.caption)
    assert chart_spec(at, "text_top_ngrams")["data"]


def test_other_sentence_method_and_filter(app):
    at = open_page(app, "text_cnn")
    at.selectbox(key="text_example").set_value("dull at first but wonderful in the end").run()
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(2).run()
    at.selectbox(key="text_top_width").set_value(2).run()
    at.slider(key="text_top_filter").set_value(5).run()
    assert not at.exception
    assert not at.error


@pytest.mark.parametrize("sentence", ["", "good", "word " * 5000, "😀 好 \x07 bad"])
def test_odd_sentences_get_a_result_or_a_message(app, sentence):
    at = open_page(app, "text_cnn")
    key = "text_sentence"
    at.text_input(key=key).input(sentence[:2000]).run()
    assert not at.exception
    if not sentence.strip():
        assert any("Type a sentence" in w.value for w in at.warning)
    else:
        assert at.get("plotly_chart")


def training_rows(at) -> list[dict]:
    """The rows of the table of the two models just trained (the one with an "epochs" column)."""
    (frame,) = [d.value for d in at.dataframe if "epochs" in d.value.columns]
    return frame.to_dict("records")


def test_training_both_models_on_the_offline_corpus(app):
    at = open_page(app, "text_cnn")
    assert at.selectbox(key="text_corpus").value == "mr"                  # real sentences by default
    at.selectbox(key="text_corpus").set_value("sentiment")               # the negation lab: quick to train
    form_slider = next(s for s in at.slider if s.label == "Epochs")
    form_slider.set_value(8)
    at.button(key="FormSubmitter:text_train_form-Train both").click().run()
    assert not at.exception
    rows = training_rows(at)
    assert [r["model"] for r in rows] == ["TextCNN", "fastText (unigrams)"]
    assert all(r["training time"].endswith(" s") and float(r["training time"][:-2]) > 0 for r in rows)
    # every epoch of both models ran (a callback that returned a progress bar once stopped both after 1)
    assert [r["epochs"] for r in rows] == ["8 of 8", "8 of 8"]
    new = at.session_state["current_text_model"]
    assert new.info.name == "TextCNN on sentiment" and new.info.test_accuracy >= 0.95
    assert rows[0]["test accuracy"] == f"{new.info.test_accuracy:.1%}"
    assert any("now the text model" in s.value and "Switch back" in s.value for s in at.success)
    # the zoo model it replaced is one click away, and comes back whole
    at.sidebar.button(key="switch_back_text").click().run()
    assert at.session_state["current_text_model"].info == load_zoo_model("textcnn-mr").info


def test_the_class_box_follows_the_prediction_until_the_user_picks_one(negation_app):
    at = open_page(negation_app, "text_cnn")
    names = load_zoo_model("textcnn-sentiment").info.class_names
    assert names[at.selectbox(key="text_target").value] == "negative"    # the default sentence is negative
    at.text_input(key="text_sentence").input("a truly wonderful and moving film").run()
    assert names[at.selectbox(key="text_target").value] == "positive"
    at.selectbox(key="text_target").set_value(names.index("negative")).run()
    at.radio(key="text_method").set_value("occlusion").run()             # the user's pick stays ...
    assert names[at.selectbox(key="text_target").value] == "negative"
    assert "for class 0 (negative)" in chart_spec(at, "text_attributions")["layout"]["title"]["text"]
    at.selectbox(key="text_example").set_value("not bad").run()          # ... until the sentence changes
    assert names[at.selectbox(key="text_target").value] == "positive"


@pytest.mark.parametrize("unseen", [["xyzzy", "qwerty", "blorf"], ["電影", "😀"], ["<b>bold</b>", "**x**"]])
def test_unknown_words_are_listed_as_the_user_typed_them(negation_app, unseen):
    at = open_page(negation_app, "text_cnn")
    at.text_input(key="text_sentence").input(" ".join([*unseen, "film"])).run()
    known = set(load_zoo_model("textcnn-sentiment").info.preprocessing.vocabulary.tokens)
    expected = [w for w in dict.fromkeys(tokenize(" ".join(unseen))) if w not in known]
    assert expected                                                    # the test's words are unseen
    assert any(f"{len(expected)} word(s) this model has never seen" in c.value for c in at.caption)
    assert [t.value for t in at.text] == ["   ".join(expected)]         # st.text: never markdown, never <unk>


def test_a_long_sentence_says_what_is_dropped(app):
    at = open_page(app, "text_cnn")
    longest = load_zoo_model("textcnn-mr").info.preprocessing.max_length
    at.text_input(key="text_sentence").input(" ".join(["good"] * (longest + 16))).run()
    (notice,) = [i.value for i in at.info if "dropped" in i.value]
    assert f"has {longest + 16} tokens" in notice and f"only the first {longest}" in notice
    assert "the last 16 are dropped" in notice
    assert len(chart_spec(at, "text_attributions")["data"][0]["customdata"][0]) == longest
    at.text_input(key="text_sentence").input("good film").run()
    assert not any("dropped" in i.value for i in at.info)


def test_integrated_gradients_says_how_many_steps_it_used_and_judges_delta_by_the_change(negation_app):
    at = open_page(negation_app, "text_cnn")
    at.slider(key="text_steps").set_value(10).run()
    (caption,) = [c.value for c in at.caption if c.value.startswith("Integrated Gradients with")]
    used = int(re.search(r"with (\d+) steps", caption).group(1))
    assert used >= 10 and used % 10 == 0
    assert ("the 10 chosen" in caption) == (used > 10)                 # doubling is said, with the chosen number
    total, change, share = (float(x) for x in re.search(
        r"add up to (\S+), while the class score changes by (\S+) .* is \S+, (\S+)% of it", caption).groups())
    assert abs(total - change) / abs(change) * 100 == pytest.approx(share, abs=0.02)
    assert share < 1 and "converged: within 1%" in caption and not at.warning


def test_occlusion_explains_wide_windows_and_leaves_padding_empty(app):
    at = open_page(app, "text_cnn")
    at.selectbox(key="text_example").set_value("not bad").run()
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(3).run()
    (caption,) = [c.value for c in at.caption if c.value.startswith("Occlusion, window of 3")]
    assert "the whole drop" in caption and "not a share" in caption and "mean drop over the runs" in caption
    assert "3 padding position(s)" in caption                         # "not bad" is padded to 5 (widest filter)
    cells = chart_spec(at, "text_attributions")["data"][0]
    assert cells["customdata"][0][:2] == ["not", "bad"] and cells["text"][0] == ["not", "bad", "", "", ""]


def test_training_on_an_uploaded_csv_with_picked_columns(app):
    at = open_page(app, "text_cnn")
    at.radio(key="text_train_source").set_value("csv").run()
    rows = ["id;review;stars"] + [f"{i};{'great fun' if i % 2 else 'awful mess'} number {i};{i % 2}"
                                  for i in range(40)]
    at.file_uploader(key="text_csv").upload("reviews.csv", "\n".join(rows).encode(), "text/csv").run()
    assert at.selectbox(key="text_csv_text").options == ["id", "review", "stars"]
    at.selectbox(key="text_csv_text").set_value("review").run()
    at.selectbox(key="text_csv_label").set_value("stars").run()
    next(s for s in at.slider if s.label == "Epochs").set_value(2)
    at.button(key="FormSubmitter:text_train_form-Train both").click().run()
    assert not at.exception and not at.error
    assert at.session_state["current_text_model"].info.dataset == "reviews.csv"
    assert at.session_state["current_text_model"].info.class_names == ("0", "1")


def test_a_csv_that_cannot_be_used_gets_a_message(app):
    at = open_page(app, "text_cnn")
    at.radio(key="text_train_source").set_value("csv").run()
    at.file_uploader(key="text_csv").upload("empty.csv", b"", "text/csv").run()
    assert not at.exception
    assert any("empty.csv cannot be used" in e.value for e in at.error)
    at.button(key="FormSubmitter:text_train_form-Train both").click().run()
    assert any("Upload a CSV file" in e.value for e in at.error)
    assert at.session_state["current_text_model"].info.name == load_zoo_model("textcnn-mr").info.name


def test_a_model_of_an_online_corpus_works_offline_without_its_corpus(app):
    import dataclasses

    zoo = load_zoo_model("textcnn-sentiment")
    app.session_state["current_text_model"] = dataclasses.replace(
        zoo, info=dataclasses.replace(zoo.info, dataset="sst2", name="TextCNN on sst2"))
    app.run()
    at = open_page(app, "text_cnn")
    assert not at.exception
    assert any("corpus of this model is not available" in i.value for i in at.info)


def test_the_sidebar_shows_the_text_model_on_this_page(app):
    at = open_page(app, "text_cnn")
    panel = "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])
    zoo = load_zoo_model("textcnn-mr")
    assert "Current text model" in panel and zoo.info.name in panel
    assert f"{zoo.info.test_accuracy:.1%}" in panel and f"{len(zoo.info.preprocessing.vocabulary):,} known" in panel


# --- shareable links and reproducible figures ---------------------------------------------------

def _is_link_notice(warning) -> bool:
    return "settings in the link did not fit" in warning.value


def test_a_link_restores_the_view_and_a_garbled_one_falls_back(app):
    from tests.conftest import new_session_from_link

    at = open_page(app, "text_cnn")
    at.selectbox(key="text_example").set_value("a gorgeous, witty, seductive movie").run()
    assert at.text_input(key="text_sentence").value == "a gorgeous, witty, seductive movie"  # an example fills it
    at.text_input(key="text_sentence").input("not boring, a wonderful film in the end").run()
    at.selectbox(key="text_target").set_value(0).run()
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(3).run()
    at.selectbox(key="text_top_width").set_value(1).run()
    at.slider(key="text_top_filter").set_value(5).run()
    at.radio(key="text_train_source").set_value("csv").run()
    # The training form's widgets take a new value only when the form is sent (which trains): link them by hand.
    shared = new_session_from_link(at, "text_cnn", {"text_corpus": "trec", "text_widths": "(3, 4, 5)",
                                                    "text_epochs": "4"})
    assert (shared.selectbox(key="text_example").value, shared.text_input(key="text_sentence").value,
            shared.selectbox(key="text_target").value, shared.radio(key="text_method").value,
            shared.slider(key="text_window").value, shared.selectbox(key="text_top_width").value,
            shared.slider(key="text_top_filter").value, shared.radio(key="text_train_source").value,
            shared.selectbox(key="text_corpus").value, shared.selectbox(key="text_widths").value,
            shared.slider(key="text_epochs").value) == (
        "a gorgeous, witty, seductive movie", "not boring, a wonderful film in the end", 0, "occlusion", 3, 1, 5,
        "csv",
        "trec", (3, 4, 5), 4)
    assert not any(_is_link_notice(w) for w in shared.warning)
    assert chart_spec(shared, "text_attributions") == chart_spec(at, "text_attributions")

    garbled = new_session_from_link(at, "text_cnn", {
        "text_example": "a bad film", "text_sentence": "word " * 401, "text_target": "7", "text_method": "saliency",
        "text_steps": "500", "text_top_width": "w", "text_top_filter": "999", "text_train_source": "a URL",
        "text_corpus": "imdb", "text_widths": "(1, 2)", "text_epochs": "many"})
    assert (garbled.selectbox(key="text_example").value, garbled.text_input(key="text_sentence").value,
            garbled.radio(key="text_method").value, garbled.slider(key="text_steps").value,
            garbled.selectbox(key="text_top_width").value, garbled.slider(key="text_top_filter").value,
            garbled.radio(key="text_train_source").value, garbled.selectbox(key="text_corpus").value,
            garbled.selectbox(key="text_widths").value, garbled.slider(key="text_epochs").value) == (
        "the plot was not good at all", "the plot was not good at all", "integrated_gradients", 50, 0, 0,
        "corpus", "mr", (2, 3, 4), 15)
    assert garbled.selectbox(key="text_target").value == garbled.selectbox(key="text_target").options.index(
        "negative")                                                  # the predicted class, as by default
    (notice,) = [w.value for w in garbled.warning if _is_link_notice(w)]
    assert all(name in notice for name in ("text_example", "text_sentence", "text_target", "text_method",
                                           "text_steps", "text_top_width", "text_top_filter", "text_train_source",
                                           "text_corpus", "text_widths", "text_epochs"))
    assert "word " * 20 not in notice                                # the notice quotes only the start


def test_the_snippet_reproduces_the_token_attributions(app):
    from tests.conftest import run_snippet

    at = open_page(app, "text_cnn")
    run_snippet(at, "text_attributions")                             # Integrated Gradients, 50 steps, argmax
    at.text_input(key="text_sentence").input("a film that's never dull, 😀 wonderful").run()
    at.selectbox(key="text_target").set_value(0).run()
    at.slider(key="text_steps").set_value(20).run()
    run_snippet(at, "text_attributions")
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(2).run()
    run_snippet(at, "text_attributions")
    (code,) = [c.value for c in at.code if c.language == "python"]
    assert "cnnviz.load_zoo_model('textcnn-mr')" in code and "method='occlusion', window=2" in code


def test_a_link_to_the_zoo_fasttext_keeps_the_textcnn_and_says_why():
    # fastText has no filters, so the page cannot look inside it; an uploaded fastText file is refused too.
    from tests.conftest import fresh_app

    home = fresh_app("fasttext-mr")                                        # the link opens on home
    (notice,) = [w.value for w in home.warning if _is_link_notice(w)]
    assert "model=fasttext-mr (not a TextCNN, so the TextCNN page only compares it in a table)" in notice
    at = open_page(home, "text_cnn")
    assert at.session_state["current_text_model"].info == load_zoo_model("textcnn-mr").info
    assert len(at.tabs) == 3                                                  # the TextCNN's widths 3, 4, 5


# --- Chinese: the zoo's TextCNN on Chinese reviews, a character per token ------------------------

def shown_prediction(at) -> tuple[str, str]:
    """The class the probability chart highlights and the probability written on its bar."""
    (bars,) = chart_spec(at, "text_probs")["data"]
    top = bars["marker"]["color"].index("#d62728")
    return bars["y"][top], bars["text"][top]


def decided_rows(at) -> list[dict]:
    """The rows of the "which n-grams decided" table."""
    (frame,) = [d.value for d in at.dataframe if "n-gram" in d.value.columns]
    return frame.to_dict("records")


def test_the_zoo_picker_opens_the_chinese_textcnn_on_a_negated_sentence(app):
    at = open_page(app, "text_cnn")
    picker = at.radio(key="text_zoo")
    assert picker.value == "textcnn-mr" and "Chinese reviews (中文评论)" in picker.options
    picker.set_value("textcnn-reviews_zh").run()
    assert not at.exception
    zoo = load_zoo_model("textcnn-reviews_zh")
    assert at.session_state["current_text_model"].info == zoo.info and at.query_params["model"] == "textcnn-reviews_zh"
    # The sentence box switches to the first Chinese example; the class box and the chart follow its prediction.
    assert at.text_input(key="text_sentence").value == "这个酒店不好"
    # The Chinese examples, each with its meaning in the page's language (English here).
    assert at.selectbox(key="text_example").options[:3] == [
        "这个酒店不好 (this hotel is not good)", "这个酒店很好 (this hotel is very good)",
        "质量不错 (the quality is not bad)"]
    probabilities = zoo.predict_proba(["这个酒店不好"])[0]
    assert shown_prediction(at) == ("negative", f"{probabilities.max():.1%}") and probabilities.argmax() == 0
    assert zoo.info.class_names[at.selectbox(key="text_target").value] == "negative"
    # Windows of 1, 2 and 3 characters, labelled as Chinese is written: no spaces.
    assert [t.label for t in at.tabs] == ["width 1 (1-grams)", "width 2 (2-grams)", "width 3 (3-grams)"]
    assert chart_spec(at, "text_acts_0")["layout"]["xaxis"]["ticktext"] == list("这个酒店不好")
    assert chart_spec(at, "text_acts_1")["layout"]["xaxis"]["ticktext"] == ["这个", "个酒", "酒店", "店不", "不好"]
    assert chart_spec(at, "text_acts_2")["layout"]["xaxis"]["ticktext"] == ["这个酒", "个酒店", "酒店不", "店不好"]
    # Which n-grams decided: the character bigram 不好 ("not good") pushed "negative" most.
    rows = decided_rows(at)
    assert rows[0]["n-gram"] == "不好" and rows[0]["pushes negative by"] > 0
    assert all(" " not in row["n-gram"] for row in rows)
    assert any("margin of negative" in c.value and "splits exactly" in c.value for c in at.caption)
    assert any("a character at a time" in c.value for c in at.caption)
    top = chart_spec(at, "text_top_ngrams")["layout"]["yaxis"]["ticktext"]   # width 1: single characters
    assert top and all(len(text) == 1 for text in top)
    # The sidebar's switch-back button brings the English model and its examples back.
    at.sidebar.button(key="switch_back_text").click().run()
    assert at.session_state["current_text_model"].info == load_zoo_model("textcnn-mr").info
    assert at.text_input(key="text_sentence").value == "the plot was not good at all"
    assert decided_rows(at)[0]["n-gram"].count(" ") >= 2                 # English n-grams keep their spaces


def test_a_link_opens_the_chinese_textcnn_with_another_example_and_a_typed_sentence():
    from tests.conftest import fresh_app

    at = open_page(fresh_app("textcnn-reviews_zh"), "text_cnn")
    zoo = load_zoo_model("textcnn-reviews_zh")
    assert at.session_state["current_text_model"].info == zoo.info
    # A model that reads characters: the page says so where it would say "words".
    assert at.title[0].value == "TextCNN: convolution over characters"
    assert "Which characters decided it" in [s.value for s in at.subheader]
    at.selectbox(key="text_example").set_value("一点也不好").run()        # "not good at all"
    assert at.text_input(key="text_sentence").value == "一点也不好"
    assert shown_prediction(at)[0] == "negative"
    assert {row["n-gram"] for row in decided_rows(at)[:2]} == {"也不好", "不好"}
    at.selectbox(key="text_example").set_value("质量不错").run()           # "the quality is not bad": positive
    assert shown_prediction(at)[0] == "positive"
    assert zoo.info.class_names[at.selectbox(key="text_target").value] == "positive"
    sentence = "iPhone很好用，物流也快"
    at.text_input(key="text_sentence").input(sentence).run()
    probabilities = zoo.predict_proba([sentence])[0]
    assert shown_prediction(at) == (zoo.info.class_names[probabilities.argmax()], f"{probabilities.max():.1%}")
    assert any(c.value.startswith("1 character(s) this model has never seen") for c in at.caption)
    bigrams = chart_spec(at, "text_acts_1")["layout"]["xaxis"]["ticktext"]
    assert bigrams[:4] == ["&lt;unk&gt; 很", "很好", "好用", "用,"]                # "iphone" was never seen: <unk>
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(2).run()
    assert at.slider(key="text_window").label == "Occlusion window (characters)"
    assert any(c.value.startswith("Occlusion, window of 2 characters: ") for c in at.caption)
    cells = chart_spec(at, "text_attributions")["data"][0]
    assert cells["customdata"][0] == ["&lt;unk&gt;", "很", "好", "用", ",", "物", "流", "也", "快"]   # a character each
    assert not at.exception and not at.error


def test_the_chinese_examples_are_predicted_as_the_words_say():
    """The first five Chinese examples are right, the last three instructively wrong (words_text_cnn says why)."""
    from pages.common.words_text_cnn import EXAMPLES_ZH

    zoo = load_zoo_model("textcnn-reviews_zh")
    predicted = [zoo.info.class_names[i] for i in zoo.predict_proba(list(EXAMPLES_ZH)).argmax(axis=1)]
    truth = ["negative", "positive", "positive", "negative", "positive", "positive", "negative", "negative"]
    assert [p == t for p, t in zip(predicted, truth, strict=True)] == [True] * 5 + [False] * 3


def test_training_both_models_on_the_chinese_reviews(app):
    at = open_page(app, "text_cnn")
    at.selectbox(key="text_corpus").set_value("reviews_zh")
    at.selectbox(key="text_widths").set_value((1, 2, 3))
    next(s for s in at.slider if s.label == "Epochs").set_value(1)
    at.button(key="FormSubmitter:text_train_form-Train both").click().run()
    assert not at.exception and not at.error
    assert [r["epochs"] for r in training_rows(at)] == ["1 of 1", "1 of 1"]
    new = at.session_state["current_text_model"]
    assert new.info.dataset == "reviews_zh" and new.info.spec.widths == (1, 2, 3) and new.info.test_accuracy > 0.6
    assert any("now the text model" in s.value for s in at.success)
    at.run()                                                               # the page now shows Chinese examples
    assert at.text_input(key="text_sentence").value == "这个酒店不好"
    assert at.radio(key="text_zoo").value is None                          # not a zoo model
