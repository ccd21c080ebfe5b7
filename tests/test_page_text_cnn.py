"""AppTests of the TextCNN page: the zoo TextCNN on example sentences, attributions, training both models."""

import json

import pytest

from cnnviz import load_zoo_model
from tests.conftest import chart_spec, open_page


def test_default_view_explains_a_negated_sentence(app):
    at = open_page(app, "text_cnn")
    zoo = load_zoo_model("textcnn-sentiment")
    assert at.text_input(key="text_sentence_the plot was not good at all").value == "the plot was not good at all"
    probabilities = zoo.predict_proba(["the plot was not good at all"])[0]
    assert zoo.info.class_names[int(probabilities.argmax())] == "negative"   # the n-gram "not good" decides
    assert at.selectbox(key="text_target").value == int(probabilities.argmax())
    assert len(at.tabs) == 3                                              # widths 2, 3, 4
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
    key = "text_sentence_the plot was not good at all"
    at.text_input(key=key).input(sentence[:2000]).run()
    assert not at.exception
    if not sentence.strip():
        assert any("Type a sentence" in w.value for w in at.warning)
    else:
        assert at.get("plotly_chart")


def test_training_both_models_on_the_offline_corpus(app):
    at = open_page(app, "text_cnn")
    form_slider = next(s for s in at.slider if s.label == "Epochs")
    form_slider.set_value(3)
    at.button(key="FormSubmitter:text_train_form-Train both").click().run()
    assert not at.exception
    rows = at.dataframe[0].value.to_dict("records")
    assert [r["model"] for r in rows] == ["TextCNN", "fastText (unigrams)"]
    assert any("now the text model" in s.value for s in at.success)
    assert at.session_state["current_text_model"].info.name == "TextCNN on sentiment"


def test_training_on_an_uploaded_csv_with_picked_columns(app):
    at = open_page(app, "text_cnn")
    at.radio(key="text_train_source").set_value("a CSV file").run()
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
    at.radio(key="text_train_source").set_value("a CSV file").run()
    at.file_uploader(key="text_csv").upload("empty.csv", b"", "text/csv").run()
    assert not at.exception
    assert any("empty.csv cannot be used" in e.value for e in at.error)
    at.button(key="FormSubmitter:text_train_form-Train both").click().run()
    assert any("Upload a CSV file" in e.value for e in at.error)
    assert at.session_state["current_text_model"].info.name == "TextCNN on sentiment"


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
    zoo = load_zoo_model("textcnn-sentiment")
    assert "Current text model" in panel and zoo.info.name in panel
    assert f"{zoo.info.test_accuracy:.1%}" in panel and f"{len(zoo.info.preprocessing.vocabulary):,} known" in panel
