"""The Attributions page in Chinese, with the input picker it shares with the other image pages: its words, its
figures' words and its sentences from numbers, with default and changed settings; switching the language keeps the
page's settings. Also the data sets' names (pages/locales/*/datasets.toml)."""

from __future__ import annotations

import pytest

from cnnviz.analysis.attributions import METHODS
from pages.common.i18n import catalogue
from tests.app.test_i18n import CJK, chinese_page, english_left, english_runs
from tests.conftest import chart_spec, fresh_app, open_page


def figure_text(at, key: str) -> str:
    """Every word of a chart: its title and subtitle, axis titles, subplot titles, trace names and hovers."""
    return rendered_text_of(chart_spec(at, key))


def rendered_text_of(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(rendered_text_of(v) for k, v in value.items() if k not in ("z", "x", "y", "customdata"))
    if isinstance(value, list):
        return "\n".join(rendered_text_of(v) for v in value)
    return ""


@pytest.fixture(scope="module")
def chinese():
    """The page in Chinese on the default model (LeNet-5 on MNIST, test image 0), with default settings."""
    return open_page(fresh_app(lang="zh"), "attributions")


def test_the_page_in_chinese_with_default_settings(chinese):
    at = chinese
    text = chinese_page(at)
    assert len(CJK.findall(text)) > 1500
    assert at.title[0].value == "归因：哪些像素起了决定作用？"
    # The lesson's step names this heading (pages/locales/zh/lesson.toml): it must be the page's.
    assert [s.value for s in at.subheader] == ["这些图可信吗？"]
    assert "**这些图可信吗？**" in catalogue("zh")["lesson.attributions.look"]
    assert at.selectbox(key="attr_class").label == "要解释的类别"
    assert at.selectbox(key="attr_class").options[0].startswith("模型的预测：")
    baseline = at.radio(key="attr_baseline")
    assert baseline.options == ["黑色", "模糊", "噪声"] and baseline.value == "black"
    assert at.multiselect(key="attr_methods").options[2] == "积分梯度"
    # The popover's notes, the captions and the verdict in Chinese, with the page's numbers.
    assert any(m.value.startswith("**积分梯度**：沿着从基线图像到这张图像") for m in at.markdown)
    assert any(c.value.startswith("积分梯度：各归因之和为 ") and c.value.endswith("已收敛：误差在 1% 以内。")
               for c in at.caption)
    verdict = next(m.value for m in at.markdown if m.value.startswith("所有层都随机化后"))
    assert "仍高于界线的有：积分梯度（0." in verdict and "通过：" in verdict and "Grad-CAM（" in verdict
    table = at.dataframe[0].value
    assert list(table.columns) == ["像素的顺序", "删除 AUC（越低越好）", "插入 AUC（越高越好）"]
    assert list(table["像素的顺序"]) == ["显著图", "积分梯度", "引导反向传播", "Grad-CAM", "随机顺序"]


def test_the_input_picker_speaks_chinese(chinese):
    at = chinese
    source = at.radio(key="attr_source")
    assert source.label == "输入" and source.options == ["数据集", "照片", "上传", "手绘"]
    assert source.value == "Data set"   # the option values stay language-neutral (links, lessons)
    by = at.radio(key="attr_by")
    assert by.label == "选取方式" and by.options == ["按序号", "按类别"]
    assert at.number_input(key="attr_index").label == "测试图像（0 到 999）"


def test_the_figures_are_in_chinese(chinese):
    at = chinese
    predicted = at.selectbox(key="attr_class").options[0].removeprefix("模型的预测：")   # digits: class k is "k"
    grid = chart_spec(at, "attr_grid")
    assert grid["layout"]["title"]["text"] == f"各方法认为：是什么让模型判为类别 {predicted}（{predicted}）"
    assert f"蓝色：支持类别 {predicted}（{predicted}）" in grid["layout"]["title"]["subtitle"]["text"]
    assert [a["text"] for a in grid["layout"]["annotations"]][:4] == ["输入", "显著图", "输入 × 梯度", "积分梯度"]
    assert "第 %{y} 行，第 %{x} 列<br>归因 %{z:.4g}" in figure_text(at, "attr_grid")
    assert chart_spec(at, "attr_probabilities")["layout"]["xaxis"]["title"]["text"] == "概率"
    curves = chart_spec(at, "attr_sanity_curves")
    assert curves["layout"]["title"]["text"] == "级联随机化（Adebayo 等，2018）：与原始图的相似度"
    assert curves["layout"]["xaxis"]["title"]["text"] == "已随机化的层数（从顶层起）"
    maps = chart_spec(at, "attr_sanity_maps")
    assert maps["layout"]["title"]["text"] == "级联随机化（Adebayo 等，2018）：归因图"
    faithful = chart_spec(at, "attr_faithfulness")
    assert faithful["layout"]["title"]["text"] == "删除与插入（Petsiuk 等，2018）"
    assert faithful["layout"]["yaxis"]["title"]["text"] == f"概率（类别 {predicted}）"
    assert any(trace.get("name", "").startswith("随机顺序（AUC 为 0.") for trace in faithful["data"])
    for key in ("attr_grid", "attr_probabilities", "attr_sanity_curves", "attr_sanity_maps", "attr_faithfulness"):
        assert CJK.search(figure_text(at, key)), key


def test_the_page_in_chinese_with_changed_settings(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "attributions")
    at.radio(key="attr_by").set_value("class").run()
    # The picker's class box (its own key here: attr_class is the class to explain).
    assert at.selectbox(key="attr_input_class").label == "类别"
    assert at.number_input(key="attr_nth").label.startswith("第几个样本（共 ")
    at.selectbox(key="attr_input_class").set_value(4).run()
    at.selectbox(key="attr_class").set_value(3).run()
    at.radio(key="attr_baseline").set_value("blurred").run()
    at.multiselect(key="attr_methods").set_value(["integrated_gradients", "grad_cam"]).run()
    at.multiselect(key="attr_checked").set_value(["grad_cam", "occlusion"]).run()
    at.toggle(key="attr_absolute").set_value(True).run()
    text = chinese_page(at)
    assert len(CJK.findall(text)) > 1000
    grid = chart_spec(at, "attr_grid")
    assert "类别 3（3）" in grid["layout"]["title"]["text"]
    assert "|值| 从 0（紫色）" in grid["layout"]["title"]["subtitle"]["text"]
    assert [a["text"] for a in grid["layout"]["annotations"]] == ["输入", "积分梯度", "Grad-CAM · relu2"]
    assert list(at.dataframe[0].value["像素的顺序"]) == ["Grad-CAM", "遮挡", "随机顺序"]

    # A photo dark on a light background, the other way round from the digits the model knows: the inversion's words.
    at.radio(key="attr_source").set_value("Photo").run()
    at.selectbox(key="attr_photo").set_value("imagenet_04").run()
    text = chinese_page(at)
    assert at.selectbox(key="attr_photo").label == "照片"
    assert at.selectbox(key="attr_photo").options[0] == "chelsea（一只猫）"
    invert = at.toggle(key="attr_invert")
    assert invert.label == "反相（交换明暗）" and invert.value is True
    assert any(i.value.startswith("已反相：这张图像是") for i in at.info)
    invert.set_value(False).run()
    chinese_page(at)
    assert any("它对这张图像原样给出的预测意义不大" in w.value for w in at.warning)

    # No upload yet: the photo meanwhile, said in Chinese.
    at.radio(key="attr_source").set_value("Upload").run()
    chinese_page(at)
    assert any(i.value == "还没有上传图像：暂时显示照片“chelsea”。" for i in at.info)

    # An empty canvas: blank, so no maps, and the page says why.
    at.radio(key="attr_source").set_value("Draw").run()
    chinese_page(at)
    assert any(m.value.startswith("**没有你画的图的归因图：** 它是空白的") for m in at.markdown)
    assert any(w.value.endswith("请在方框里画点东西。") for w in at.warning)
    assert not [c for c in at.get("plotly_chart") if "attr_grid" in c.proto.id]


def test_switching_the_language_keeps_the_page_and_its_settings():
    at = open_page(fresh_app(), "attributions")
    at.radio(key="attr_source").set_value("Photo").run()
    at.selectbox(key="attr_photo").set_value("coffee").run()
    at.selectbox(key="attr_class").set_value(2).run()
    at.selectbox(key="attr_layer").set_value("conv2").run()
    at.radio(key="attr_baseline").set_value("noise").run()
    at.multiselect(key="attr_methods").set_value(["saliency", "grad_cam"]).run()
    at.multiselect(key="attr_checked").set_value(["grad_cam"]).run()
    at.toggle(key="attr_absolute").set_value(True).run()
    assert "Grad-CAM · conv2" in [a["text"] for a in chart_spec(at, "attr_grid")["layout"]["annotations"]]
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert not at.exception
    assert at.title[0].value == "归因：哪些像素起了决定作用？"
    assert (at.radio(key="attr_source").value, at.selectbox(key="attr_photo").value,
            at.selectbox(key="attr_class").value, at.selectbox(key="attr_layer").value,
            at.radio(key="attr_baseline").value,
            at.multiselect(key="attr_methods").value, at.multiselect(key="attr_checked").value,
            at.toggle(key="attr_absolute").value) == ("Photo", "coffee", 2, "conv2", "noise", ["saliency", "grad_cam"],
                                                      ["grad_cam"], True)
    assert [a["text"] for a in chart_spec(at, "attr_grid")["layout"]["annotations"]] == [
        "输入", "显著图", "Grad-CAM · conv2"]
    assert english_left(at) == [] and english_runs(at) == []


# --- sentences from numbers, and the data sets' names, with the session's language set to Chinese ----------

@pytest.fixture
def in_chinese(monkeypatch):
    from pages.common import i18n

    monkeypatch.setattr(i18n, "language", lambda: "zh")


def test_the_sentences_from_numbers_in_chinese(in_chinese):
    from pages.common import words_attributions as words

    assert words.completeness(25.13, 25.06, 0.071).endswith("是变化量的 0.3%——已收敛：误差在 1% 以内。")
    assert words.completeness(9.24, 8.918, 0.32).endswith("接近：误差在 5% 以内。")
    assert words.completeness(1.0, 2.0, 1.0).endswith("未收敛：请增加步数。")
    assert words.completeness(1.0, 2.0, 1.0, at_cap=True).endswith("请谨慎解读这张图。")
    assert words.completeness(0.0, 0.0, 0.0).startswith("积分梯度：基线得到的类别分数与图像相同")
    text = words.sanity_verdict({"积分梯度": 0.99, "显著图": 0.7, "Grad-CAM": -0.01, "遮挡": float("nan")})
    assert "仍高于界线的有：积分梯度（0.99）、显著图（0.70）。" in text
    assert "通过：Grad-CAM（-0.01）。" in text and text.endswith("遮挡 无法判定：这张图处处相同，所以不给出任何次序。")
    assert words.sanity_verdict({"Grad-CAM": 0.1}).startswith("所有层都随机化后，对于每种图中有高低次序的方法")
    assert words.too_many_layers("EfficientNet-Lite0", 99, 20).startswith("EfficientNet-Lite0 有 99 个带权重的层")
    assert list(words.auc_rows([("遮挡", 0.1, 0.9)], 0.5, 0.5)[1].values()) == ["随机顺序", 0.5, 0.5]
    assert words.class_choice(-1, 1, ("猫", "狗")) == "模型的预测：狗"


def test_the_data_sets_names(in_chinese):
    from cnnviz import OFFLINE_DATASETS
    from pages.common.session import DATASET_LABELS, dataset_label

    # The menus' option lists stay the data sets' names, in their order; the English names are the catalogue's.
    assert list(DATASET_LABELS) == ["mnist", "fashion_mnist", "digits", "shapes", "mnist_full", "fashion_mnist_full",
                                    "cifar10"]
    assert DATASET_LABELS["mnist"] == "MNIST (5,000 real handwritten digits, offline)"
    assert set(OFFLINE_DATASETS) <= set(DATASET_LABELS)
    assert dataset_label("mnist") == "MNIST（5,000 个真实手写数字，离线）"
    assert all(CJK.search(dataset_label(name)) for name in DATASET_LABELS)
    assert dataset_label("my_set") == "my_set"          # a name without an entry is shown as it is


@pytest.mark.parametrize("method", METHODS)
def test_every_method_has_a_chinese_name_and_note(method):
    chinese = catalogue("zh")
    assert chinese[f"plots_attributions.attribution_methods.{method}"]
    assert CJK.search(chinese[f"attributions.method_notes.{method}"])
