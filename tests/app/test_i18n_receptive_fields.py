"""The Receptive fields page in Chinese: its words, its figures' words and the library's notes on layers, with
default and changed settings; switching the language keeps the page's settings."""

from __future__ import annotations

import re

import pytest

from cnnviz import GradientSpread
from pages.common.i18n import catalogue, figure_labels
from tests.app.test_i18n import CJK, chinese_page, english_fragments, english_left, english_runs
from tests.conftest import chart_spec, fresh_app, open_page


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def shown_columns(table) -> list[str]:
    """The column names a table shows (its column_config's labels)."""
    import json

    return [column["label"] for column in json.loads(table.proto.columns).values() if "label" in column]


def test_the_page_in_chinese_with_default_settings():
    at = open_page(fresh_app(lang="zh"), "receptive_fields")
    text = chinese_page(at)
    assert len(CJK.findall(text)) > 800
    assert at.title[0].value == "感受野"
    # The lesson's step 1 names these headings (pages/locales/zh/lesson.toml): they must be the page's.
    headings = [s.value for s in at.subheader]
    assert headings == ["每一层的感受野", "一个单元：它看到的窗口与梯度落在哪里", "稀疏交互"]
    look = catalogue("zh")["lesson.sparse.look"]
    assert "**稀疏交互**" in look and "**每一层的感受野**" in look
    assert any(m.value == "**conv2 的单元 (5, 5) 看到输入的第 8–21 行、第 8–21 列**" for m in at.markdown)
    assert "框内 95% 的梯度集中在" in captions(at) and "参照 Araujo、Norris 和 Sim" in captions(at)
    assert at.selectbox(key="rf_layer").label == "层" and at.radio(key="rf_mode").options[0] == "这个输入"
    assert {m.label: m.value for m in at.metric} == {"输出数 m": "6", "全连接的连接数 m·n": "48",
                                                     "卷积的连接数 k·m": "18", "卷积的共享权重数 k": "3"}
    # The tables: English column names (the English tests read them) shown in Chinese, the notes in Chinese.
    layers = at.dataframe[0]
    assert "全局：展平之后，每个单元都看到整个输入" in set(layers.value["note"])
    assert shown_columns(layers) == ["层", "类型", "大小", "跳距", "起点", "说明"]
    assert shown_columns(at.dataframe[1]) == ["层", "输入", "输出", "卷积", "局部连接", "全连接"]
    # The figures' words: titles, axis titles, legends, hovers.
    sizes = chart_spec(at, "rf_sizes")
    assert sizes["layout"]["yaxis"]["title"]["text"] == "感受野（输入像素）"
    assert [trace["name"] for trace in sizes["data"]] == ["大小", "跳距", "没有感受野"]
    conv2 = sizes["data"][0]["x"].index("conv2")
    assert "<b>conv2</b>（Conv2d）<br>每个单元看到 14×14 个输入像素" in sizes["data"][0]["hovertext"][conv2]
    assert "没有感受野：全局：展平之后" in sizes["data"][2]["hovertext"][0]
    erf = chart_spec(at, "erf")
    assert erf["layout"]["title"]["text"].startswith("有效感受野<br><sub>框内 95% 的梯度")
    assert erf["data"][0]["hovertemplate"].startswith("第 %{y} 行，第 %{x} 列<br>|梯度|")
    assert chart_spec(at, "picker_conv2")["data"][0]["colorbar"]["title"]["text"] == "激活值"
    assert chart_spec(at, "rf_box")["layout"]["xaxis"]["title"]["text"] == "列"
    wiring = chart_spec(at, "connectivity")["layout"]
    assert [a["text"] for a in wiring["annotations"]] == ["全连接：48 个权重<br>m·n = 6 × 8 = 48 个连接",
                                                          "卷积：3 个共享权重<br>k·m = 3 × 6 = 18 个连接"]
    assert wiring["title"]["text"].startswith("n = 8 个输入，m = 6 个输出，k = 3，步幅 1，填充 0：")
    counts = chart_spec(at, "param_counts")
    assert counts["layout"]["yaxis"]["title"]["text"] == "参数" and counts["data"][0]["name"] == "卷积（参数共享）"
    # The same page in English shows the catalogue's English: the checks above can fail.
    english = open_page(fresh_app(lang="en"), "receptive_fields")
    assert english_left(english) and english.subheader[2].value == "Sparse interaction"
    assert chart_spec(english, "erf")["layout"]["title"]["text"].startswith("Effective receptive field")


def test_the_page_in_chinese_with_changed_settings(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "receptive_fields")
    at.radio(key="rf_source").set_value("Photo").run()
    at.selectbox(key="rf_photo").set_value("coffee").run()
    at.selectbox(key="rf_layer").set_value("pool2").run()
    at.number_input(key="rf_row_pool2").set_value(0).run()
    chinese_page(at)
    assert any(m.value.startswith("**pool2 的单元 (0, 2) 看到输入的第 0–13 行") for m in at.markdown)
    for mode in ("test images", "random inputs"):
        at.radio(key="rf_mode").set_value(mode).run()
        chinese_page(at)
        assert "框内 95% 的梯度集中在" in captions(at) or "没有梯度传到输入" in captions(at), mode
    for key, value in {"sparse_n": 5, "sparse_k": 4, "sparse_stride": 2, "sparse_padding": 1}.items():
        at.slider(key=key).set_value(value).run()
    chinese_page(at)
    assert "个连接中有" in captions(at) and "空心圆" in captions(at)
    legend = chart_spec(at, "connectivity")
    assert "填充（0）" in [trace.get("name") for trace in legend["data"]]
    at.slider(key="sparse_k").set_value(9).run()
    at.slider(key="sparse_padding").set_value(0).run()
    chinese_page(at)
    assert [w.value for w in at.warning] == [
        "大小为 9 的卷积核放不进两侧各填充 0 的 5 个输入（5 + 2*0 = 5 < 9）：不会有任何输出。"
        "请选更小的卷积核或更多的填充。"]


def test_the_switched_off_unit_in_chinese(chinese_widgets):
    from pages.common.session import zoo_copy

    at = fresh_app(lang="zh")
    at.session_state["current_model"] = zoo_copy("tinyvgg-shapes")
    at.run()
    open_page(at, "receptive_fields")
    at.selectbox(key="rf_layer").set_value("relu1").run()      # unit (15, 15), channel 0: off for test image 0
    chinese_page(at)
    assert "没有梯度传到输入：这个单元对这个输入处于关闭状态" in captions(at)
    assert "没有梯度传到输入" in chart_spec(at, "erf")["layout"]["title"]["text"]
    at.selectbox(key="rf_layer").set_value("relu4").run()
    at.radio(key="rf_mode").set_value("random inputs").run()   # off for every one of them
    chinese_page(at)
    assert "这个单元对这 32 个随机输入中的每一个都处于关闭状态" in captions(at)
    assert "请换一个单元或通道。" in captions(at)


def test_switching_the_language_keeps_the_page_s_settings():
    at = open_page(fresh_app(), "receptive_fields")
    at.selectbox(key="rf_layer").set_value("pool2").run()
    at.slider(key="rf_channel").set_value(7).run()
    at.number_input(key="rf_col_pool2").set_value(3).run()
    at.radio(key="rf_mode").set_value("test images").run()
    at.slider(key="sparse_k").set_value(4).run()
    at.slider(key="sparse_padding").set_value(1).run()
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert not at.exception
    assert (at.selectbox(key="rf_layer").value, at.slider(key="rf_channel").value,
            at.number_input(key="rf_col_pool2").value, at.radio(key="rf_mode").value,
            at.slider(key="sparse_k").value, at.slider(key="sparse_padding").value) == (
        "pool2", 7, 3, "test images", 4, 1)
    assert at.radio(key="rf_mode").options[1] == "32 张测试图像上的平均"
    assert at.subheader[0].value == "每一层的感受野"
    assert any(m.value.startswith("**pool2 的单元 (2, 3)") for m in at.markdown)
    assert english_left(at) == [] and english_runs(at) == []


# --- the words module and the figures, in Chinese, without a page ---------------------------------------------

ENGLISH_WORDS = re.compile(r"[A-Za-z]+(?: [A-Za-z]+){2,}")   # three English words in a row


@pytest.fixture
def chinese(monkeypatch):
    from pages.common import i18n

    monkeypatch.setattr(i18n, "language", lambda: "zh")


def no_english(text: str) -> bool:
    fragments = {f for template in catalogue("en").values() for f in english_fragments(template)}
    return CJK.search(text) is not None and not any(f in text for f in fragments) and \
        not ENGLISH_WORDS.search(text.replace("Luo et al", "").replace("ReLU", ""))


def test_every_sentence_of_the_words_module_in_chinese(chinese):
    from pages.common import words_receptive_fields as words

    def spread(fraction, offset, peak=(4.0, 4.0)):
        return GradientSpread(fraction=fraction, mass=0.95, peak=peak, centre=(4.0, 4.0), peak_offset=offset)

    sentences = [words.erf_sentence(spread(0.8, 0.0)), words.erf_sentence(spread(0.2, 0.25)),
                 words.erf_sentence(spread(0.6, 0.5, peak=(2.0, 6.5))), words.erf_sentence(spread(0.9, None)),
                 words.switched_off("this input"), words.switched_off("test images"),
                 words.unit_sees((3, 3), "blocks.15", (0, 0, 223, 223), (851, 851), 224),
                 words.padding_connections(4, 24, 20), words.no_output(5, 9, 1), *words.erf_modes().values()]
    assert all(no_english(s) for s in sentences), sentences
    assert "偏离中心，位于第 2 行、第 6.5 列（方框的中心是第 4 行、第 4 列）" in sentences[2]
    assert sentences[1].endswith("这正是 Luo 等人（2016）在深层网络中发现的：中间有一个小鼓包。")
    assert "（它的理论窗口是 851×851，比 224×224 的输入还大" in sentences[6]


def test_the_library_s_notes_on_layers_in_chinese(chinese):
    from pages.common.words_receptive_fields import layer_note

    notes = {
        "global: after flatten every unit sees the whole input": "全局：展平之后，每个单元都看到整个输入",
        "global: pooling over the whole map, so every unit sees the whole input":
            "全局：在整张特征图上池化，所以每个单元都看到整个输入",
        "depends on 'fc', which has no receptive field (global: GroupNorm normalises with statistics of the whole "
        "map, so every unit sees the whole input)":
            "依赖于 'fc'，而它没有感受野（全局：GroupNorm 用整张特征图的统计量做规范化，所以每个单元都看到整个输入）",
        "circular padding: units at the border also see pixels from the opposite side":
            "循环填充：边界上的单元也会看到另一侧的像素",
        "": "",
    }
    assert {note: layer_note(note) for note in notes} == notes


def test_the_notes_read_back_the_notes_of_real_models(chinese):
    """The notes are matched against cnnviz's English: a note changed there would go untranslated."""
    from torch import nn

    from cnnviz import receptive_fields
    from cnnviz.models.cnn import lenet5
    from pages.common.words_receptive_fields import layer_note

    pooled = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular"), nn.MaxPool2d(2, ceil_mode=True),
                           nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))
    found = {r.note for model in (lenet5(), pooled) for r in receptive_fields(model, (1, 28, 28))} - {""}
    assert len(found) == 4
    assert all(CJK.search(layer_note(note)) for note in found), found


def test_the_figures_words_in_chinese_for_what_the_page_rarely_shows():
    import numpy as np

    from cnnviz.analysis.receptive_field import ReceptiveField
    from cnnviz.plots import plot_parameter_counts, plot_receptive_field_box, plot_receptive_field_sizes

    zh = {name: dict(table) for name, table in ((n, _chinese_table(n)) for n in (
        "receptive_field_sizes", "receptive_field_box", "parameter_counts"))}
    many = [ReceptiveField(f"layer{i}", "Conv2d", (1 + 2 * i, 3 + 2 * i), (1, 2), (0.0, 0.0), (1, 8, 8))
            for i in range(40)]
    fig = plot_receptive_field_sizes(many, labels=zh["receptive_field_sizes"])
    assert fig.layout.xaxis.title.text == "层（每 2 层标出一个名字）"
    assert [t.name for t in fig.data] == ["大小（行）", "大小（列）", "跳距（行）", "跳距（列）"]
    box = plot_receptive_field_box(np.zeros((1, 4, 4)), (0, 1, 2, 3), labels=zh["receptive_field_box"])
    assert box.layout.title.text == "第 0–2 行，第 1–3 列（3×3 个像素）"
    assert box.data[0].hovertemplate == "第 %{y} 行，第 %{x} 列：%{z:.2f}<extra></extra>"
    assert plot_parameter_counts([], labels=zh["parameter_counts"]).layout.annotations[0].text == "这个模型没有卷积层。"
    assert plot_parameter_counts([]).layout.annotations[0].text == "This model has no convolution layers."


def _chinese_table(name: str) -> dict[str, str]:
    from unittest import mock

    from pages.common import i18n

    with mock.patch.object(i18n, "language", lambda: "zh"):
        return figure_labels(name)
