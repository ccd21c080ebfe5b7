"""The Parameter sharing page in Chinese: its words, its figures' words and the sentences numbers decide, with
default and changed settings; switching the language keeps the page's settings."""

from __future__ import annotations

from pages.common.i18n import catalogue
from tests.app.test_i18n import chinese_page, english_left, english_runs
from tests.conftest import chart_spec, fresh_app, open_page


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_the_page_in_chinese_with_default_settings():
    at = open_page(fresh_app(lang="zh"), "parameter_sharing")
    chinese_page(at, min_cjk=501)
    assert at.title[0].value == "参数共享：卷积是等变的"
    assert [s.value for s in at.subheader] == ["参数共享省下了什么"]
    network = at.radio(key="eq_network")
    assert network.value == "current" and network.options[0].startswith("当前模型（")
    assert network.options[1] == "由三个卷积堆叠成的玩具网络"
    assert at.selectbox(key="eq_layer").label == "层" and at.slider(key="eq_dx").label == "向右平移（像素）"
    # LeNet's conv1 after a shift of (2, 0): exact inside the box, the edges add an error.
    (verdict,) = [s.value for s in at.success]
    assert verdict == ("在 conv1，平移 (2, 0) 是跳距 (1, 1) 的整数倍：特征图移动 (2, 0)，"
                       "在虚线框内完全吻合（相对误差 0）。等变。")
    assert ("误差在虚线框内测量，即每个通道中边界影响不到的 528 个单元：恰好为 0；"
            "在整张图上（包括边缘）误差为") in captions(at)
    assert "多出来的误差位于边缘" in captions(at)
    # The figures' words: titles, axis titles, legends, hovers.
    view = chart_spec(at, "eq_view")
    assert view["layout"]["title"]["text"] == "conv1，通道 0"
    assert view["layout"]["title"]["subtitle"]["text"].startswith("特征图平移 (2, 0) 个单元：精确")
    assert [a["text"] for a in view["layout"]["annotations"]][:4] == ["f(x)", "f(平移 x)", "平移 f(x)", "差值"]
    assert view["layout"]["shapes"][0]["name"] == "比较区域（边界影响不到）"
    assert view["data"][0]["hovertemplate"].startswith("第 %{y} 行，第 %{x} 列<br>")
    errors = chart_spec(at, "eq_errors")
    assert errors["layout"]["xaxis"]["title"]["text"] == "层"
    assert errors["layout"]["yaxis"]["title"]["text"].startswith("相对误差<br>")
    assert errors["data"][0]["name"] == "平移是跳距的整数倍"
    assert "每个通道比较了" in errors["data"][0]["hovertext"][0]
    counts = chart_spec(at, "eq_counts")
    assert counts["layout"]["yaxis"]["title"]["text"] == "参数"
    table = at.dataframe[0].value.to_dict("records")
    assert table[0]["层"] == "conv1" and table[0]["卷积（共享）"] == 156
    # The same page in English shows the catalogue's English: the checks above can fail.
    english = open_page(fresh_app(lang="en"), "parameter_sharing")
    assert english_left(english) and chart_spec(english, "eq_view")["layout"]["title"]["text"] == "conv1, channel 0"


def test_the_page_in_chinese_with_changed_settings(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "parameter_sharing")
    at.slider(key="eq_dy").set_value(1).run()
    at.selectbox(key="eq_layer").set_value("pool2").run()       # jump 4: a 1-pixel shift moves it 0.25
    chinese_page(at, min_cjk=501)
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("在 pool2，跳距为 (4, 4)，所以 (1, 0) 像素的平移会让特征图移动 (0.25, 0.0) 个单元")
    assert warning.endswith("步幅破坏了严格的等变性。")
    assert "不精确" in chart_spec(at, "eq_view")["layout"]["title"]["subtitle"]["text"]
    # The toy stack, each of its settings.
    at.radio(key="eq_network").set_value("toy").run()
    chinese_page(at, min_cjk=501)
    assert at.radio(key="eq_padding").options == ["补零", "循环"] and at.radio(key="eq_pool").options[0] == "无"
    assert at.radio(key="eq_padding").help.startswith("循环填充把图像首尾相接地绕回")
    at.slider(key="eq_dy").set_value(0).run()
    at.slider(key="eq_dx").set_value(0).run()                   # no shift: nothing differs, anywhere
    chinese_page(at, min_cjk=501)
    assert "个单元：恰好为 0；在整张图上（包括边缘）误差也恰好为 0：这里边缘没有带来误差。" in captions(at)
    assert [a["text"] for a in chart_spec(at, "eq_view")["layout"]["annotations"]
            if a.get("name") == "zero note"] == ["<b>恰好为 0</b>"]
    at.radio(key="eq_padding").set_value("circular").run()
    chinese_page(at, min_cjk=501)
    assert "循环填充加循环平移没有边界：每个通道的全部 1,024 个单元都参与比较" in captions(at)
    assert "全部单元（首尾绕回）上测量" in captions(at)
    assert any(s.value.endswith("在整张图上完全吻合（相对误差 0）。等变。") for s in at.success)
    at.radio(key="eq_stride").set_value(2).run()
    at.radio(key="eq_pool").set_value("max").run()
    at.slider(key="eq_dx").set_value(3).run()
    at.selectbox(key="eq_layer").set_value(at.selectbox(key="eq_layer").options[-1]).run()
    chinese_page(at, min_cjk=501)
    assert any(w.value.endswith("步幅破坏了严格的等变性。") for w in at.warning)   # shift 3 against jump 4
    assert at.radio(key="eq_pool").value == "max" and at.radio(key="eq_pool").options == ["无", "最大", "平均"]


def test_switching_the_language_keeps_the_page_s_settings():
    at = open_page(fresh_app(), "parameter_sharing")
    at.radio(key="eq_network").set_value("toy").run()
    at.radio(key="eq_padding").set_value("circular").run()
    at.radio(key="eq_stride").set_value(2).run()
    at.radio(key="eq_pool").set_value("avg").run()
    at.slider(key="eq_dy").set_value(-4).run()
    at.slider(key="eq_dx").set_value(5).run()
    at.selectbox(key="eq_layer").set_value("pool2").run()
    at.slider(key="eq_channel").set_value(2).run()
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert not at.exception
    assert (at.radio(key="eq_network").value, at.radio(key="eq_padding").value, at.radio(key="eq_stride").value,
            at.radio(key="eq_pool").value, at.slider(key="eq_dy").value, at.slider(key="eq_dx").value,
            at.selectbox(key="eq_layer").value, at.slider(key="eq_channel").value) == (
        "toy", "circular", 2, "avg", -4, 5, "pool2", 2)
    assert at.title[0].value == "参数共享：卷积是等变的" and at.radio(key="eq_pool").options[2] == "平均"
    assert chart_spec(at, "eq_view")["layout"]["title"]["text"] == "pool2，通道 2"
    assert english_left(at) == [] and english_runs(at) == []


def test_the_lesson_s_words_match_the_page():
    """Step 2 of the lesson quotes the difference panel's words ("exactly 0") in each language."""
    from cnnviz.plots import EQUIVARIANCE_VIEW_LABELS

    for language, exactly_zero in (("en", EQUIVARIANCE_VIEW_LABELS["exactly_zero"]),
                                   ("zh", catalogue("zh")["plots_equivariance.equivariance_view.exactly_zero"])):
        assert f"'{exactly_zero}'" in catalogue(language)["lesson.sharing.look"] or \
            f"“{exactly_zero}”" in catalogue(language)["lesson.sharing.look"], language
