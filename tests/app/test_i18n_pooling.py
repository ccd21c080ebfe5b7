"""The Pooling page in Chinese: its words, its figures' words and the sentences numbers decide, with default and
changed settings; switching the language keeps the page's settings."""

from __future__ import annotations

from pages.common.i18n import catalogue
from tests.app.test_i18n import chinese_page, english_left, english_runs
from tests.conftest import chart_spec, fresh_app, open_page


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def titles(spec: dict) -> list[str]:
    return [a["text"] for a in spec["layout"].get("annotations", [])]


def test_the_page_in_chinese_with_default_settings():
    at = open_page(fresh_app(lang="zh"), "pooling")
    chinese_page(at, min_cjk=501)
    assert at.title[0].value == "池化：换来不变性的降采样"
    # The lesson's step 3 names the heading "Invariance, measured" (pages/locales/zh/lesson.toml): the page's.
    headings = [s.value for s in at.subheader]
    assert headings == ["对一张特征图做池化", "不变性的测量", "降采样"]
    assert f"**{headings[1]}**" in catalogue("zh")["lesson.pooling.look"]
    assert at.selectbox(key="pool_map").value == "image" and at.selectbox(key="pool_map").options[0] == "输入图像"
    assert at.radio(key="pool_kind").options == [
        "最大池化", "平均池化", "BlurPool：先模糊，再降采样（Zhang 2019）",
        "MaxBlurPool：以步幅 1 取最大值，模糊，再降采样（Zhang 2019）", "仅降采样（按步幅取值，不池化）"]
    assert at.radio(key="pool_over").options == ["这个输入", "64 张测试图像"]
    assert at.radio(key="pool_transform").options == ["平移", "旋转", "缩放"]
    assert at.select_slider(key="pool_amount_translate").label == "向右平移（像素）"
    assert "圆点标出在每个窗口中胜出的值" in captions(at) and "个是并列的" in captions(at)
    # The figures' words: titles, axis titles, legends, hovers.
    pooled = chart_spec(at, "pool_figure")
    assert titles(pooled)[0] == "输入 28×28" and titles(pooled)[1].startswith("最大池化，窗口 2，步幅 2 → 14×14<br>")
    assert "个窗口中有" in titles(pooled)[1]
    assert pooled["data"][0]["hovertemplate"].startswith("输入第 %{y} 行，第 %{x} 列")
    assert pooled["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "值"
    assert pooled["data"][-1]["name"] == "窗口的胜出者"
    curves = chart_spec(at, "pool_curves")
    assert titles(curves) == ["各层输出的变化", "预测的稳定性"]
    assert curves["layout"]["xaxis"]["title"]["text"] == "向右平移（像素）"
    assert "relu1（pool1 的输入）" in [trace.get("name") for trace in curves["data"]]
    bars = chart_spec(at, "pool_layer_change")
    assert bars["layout"]["title"]["text"] == "平移 1 个像素后各层输出的变化"
    assert bars["layout"]["xaxis"]["title"]["text"].startswith("按调用顺序排列的层")
    table = at.dataframe[0].value.to_dict("records")
    assert [(row["池化层"], row["输入"], row["输出"]) for row in table] == [
        ("pool1", "6×28×28", "6×14×14"), ("pool2", "16×10×10", "16×5×5")]
    # The same page in English shows the catalogue's English: the checks above can fail.
    english = open_page(fresh_app(lang="en"), "pooling")
    assert english_left(english) and titles(chart_spec(english, "pool_curves"))[1] == "prediction stability"


def test_the_page_in_chinese_with_changed_settings(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "pooling")
    at.selectbox(key="pool_map").set_value("conv2").run()
    at.slider(key="pool_channel").set_value(3).run()
    for kind, note in (("avg", None), ("blur", "**BlurPool**（Zhang 2019）先用二项式卷积核"),
                       ("maxblur", "**MaxBlurPool**（Zhang 2019）是抗混叠的最大池化"), ("subsample", None)):
        at.radio(key="pool_kind").set_value(kind).run()
        chinese_page(at, min_cjk=501)
        assert note is None or note in captions(at), kind
    assert titles(chart_spec(at, "pool_figure"))[1] == "仅降采样，步幅 2 → 5×5"
    at.radio(key="pool_kind").set_value("maxblur").run()
    assert at.slider(key="pool_kernel").label == "取最大值的窗口"
    assert at.slider(key="pool_blur").help.startswith("Zhang 2019 试过")
    assert titles(chart_spec(at, "pool_figure"))[1] == (
        "最大-模糊池化，窗口 2，步幅 2 → 5×5<br>（先以步幅 1 取最大值，再以大小 3 的核模糊）")
    at.radio(key="pool_over").set_value("test_images").run()
    chinese_page(at, min_cjk=501)
    assert titles(chart_spec(at, "pool_curves"))[0] == "各层输出的变化（64 张图像的平均）"
    assert chart_spec(at, "pool_layer_change")["layout"]["title"]["text"] == (
        "平移 1 个像素后各层输出的变化（64 张图像的平均）")
    for transform, axis, title in (("rotate", "逆时针旋转（度）", "旋转 15°后各层输出的变化（64 张图像的平均）"),
                                   ("scale", "缩放倍数（1 = 不变）", "缩放 1.2×后各层输出的变化（64 张图像的平均）")):
        at.radio(key="pool_transform").set_value(transform).run()
        chinese_page(at, min_cjk=501)
        assert chart_spec(at, "pool_curves")["layout"]["xaxis"]["title"]["text"] == axis
        assert chart_spec(at, "pool_layer_change")["layout"]["title"]["text"] == title
    assert at.select_slider(key="pool_amount_scale").label == "缩放倍数"


def test_a_window_too_large_says_so_in_chinese(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "pooling")
    at.selectbox(key="pool_map").set_value("pool2").run()      # 5x5 maps
    at.radio(key="pool_kind").set_value("maxblur").run()
    at.slider(key="pool_kernel").set_value(5).run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning]
    # The library's reason stays English (cnnviz's errors are not translated); the page's advice is Chinese.
    assert warning.endswith("请选择更小的窗口。")
    assert english_left(at) == []


def test_switching_the_language_keeps_the_page_s_settings():
    at = open_page(fresh_app(), "pooling")
    at.selectbox(key="pool_map").set_value("relu1").run()
    at.slider(key="pool_channel").set_value(2).run()
    at.radio(key="pool_kind").set_value("avg").run()
    at.slider(key="pool_kernel").set_value(3).run()
    at.slider(key="pool_stride").set_value(3).run()
    at.radio(key="pool_transform").set_value("rotate").run()
    at.radio(key="pool_over").set_value("test_images").run()
    at.select_slider(key="pool_amount_rotate").set_value(-5.0).run()
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert not at.exception
    assert (at.selectbox(key="pool_map").value, at.slider(key="pool_channel").value, at.radio(key="pool_kind").value,
            at.slider(key="pool_kernel").value, at.slider(key="pool_stride").value,
            at.radio(key="pool_transform").value, at.radio(key="pool_over").value,
            at.select_slider(key="pool_amount_rotate").value) == (
        "relu1", 2, "avg", 3, 3, "rotate", "test_images", -5.0)
    assert at.subheader[1].value == "不变性的测量" and at.radio(key="pool_kind").options[1] == "平均池化"
    assert titles(chart_spec(at, "pool_figure"))[1] == "平均池化，窗口 3，步幅 3 → 9×9"
    assert chart_spec(at, "pool_layer_change")["layout"]["title"]["text"] == (
        "旋转 -5°后各层输出的变化（64 张图像的平均）")
    assert english_left(at) == [] and english_runs(at) == []
