"""The ResNet vs plain page in Chinese: its words, its figures' words and its notes, with default and changed
settings; switching the language keeps the page's settings and its trained result."""

import numpy as np

from tests.app.test_i18n import CJK, chinese_page, english_left
from tests.conftest import chart_spec, fresh_app, open_page


def train_small(at, shallow=8, deep=14, steps=20):
    """Submit a quick run of the four nets (form values go in with the click)."""
    at.select_slider(key="resnet_shallow").set_value(shallow)
    at.select_slider(key="resnet_deep").set_value(deep)
    at.select_slider(key="resnet_steps").set_value(steps)
    next(b for b in at.button if b.label == "训练这四个网络").click().run()
    return at


def test_the_page_in_chinese_with_default_settings():
    at = open_page(fresh_app(lang="zh"), "resnet")
    text = chinese_page(at)
    assert len(CJK.findall(text)) > 400
    assert at.title[0].value.startswith("ResNet：") and CJK.search(at.title[0].value)
    assert {"网络", "初始化时：每一层得到的梯度", "训练：浅的和深的，普通的和残差的"} <= {s.value for s in at.subheader}
    assert "退化问题" in at.caption[0].value and "梯度消失" in at.caption[0].value
    assert at.selectbox(key="resnet_preset").placeholder == "选择一种设置来探索……"
    assert at.metric[0].label == "plain-20：首层 / 末层"
    assert "在普通网络中，梯度**" in "\n".join(m.value for m in at.markdown)
    assert any("训练这四个网络" in i.value for i in at.info)
    # The figure's words: subplot titles, axis titles and hovers.
    figure = chart_spec(at, "resnet_init_norms")
    assert figure["layout"]["yaxis"]["title"]["text"] == "梯度范数"
    assert figure["layout"]["xaxis2"]["title"]["text"].startswith("层（1 = 第一个卷积层")
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["每层权重的 ‖∂loss/∂W‖", "每层输入的标准差"]
    assert figure["data"][0]["hovertemplate"].startswith("plain-20<br>第 %{x} 层：%{customdata}")
    # The same page in English shows the catalogue's English: the checks above can fail.
    english = open_page(fresh_app(lang="en"), "resnet")
    assert english_left(english) and english.metric[0].label == "plain-20: first / last"


def test_the_page_in_chinese_with_changed_settings_and_every_lesson(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "resnet")
    options = at.selectbox(key="resnet_preset").options
    assert options[0] == "论文的设置：ReLU、批量规范化、He 初始化、56 层"
    for preset, says in (("vanish", "PyTorch 的默认初始化"), ("sigmoid_post", "试试**预激活**块"),
                         ("sigmoid_pre", "只经过一个 sigmoid"), ("paper", "批量规范化的平均场理论")):
        at.selectbox(key="resnet_preset").set_value(preset).run()
        assert says in chinese_page(at), preset
    at.selectbox(key="resnet_dataset").set_value("shapes")
    at.radio(key="resnet_activation").set_value("tanh")
    at.radio(key="resnet_block").set_value("pre")
    at.selectbox(key="resnet_init").set_value("xavier")
    at.toggle(key="resnet_batch_norm").set_value(False)
    at.select_slider(key="resnet_width").set_value(0.5)
    at.select_slider(key="resnet_depth").set_value(8).run()
    chinese_page(at)
    assert at.radio(key="resnet_block").options == ["后激活（He 2016）", "预激活（He 2016b）"]
    assert at.selectbox(key="resnet_init").options[1] == "Xavier（Glorot）正态"
    assert at.selectbox(key="resnet_dataset").options[1] == "shapes（16×16，离线）"


def test_a_training_run_in_chinese_its_table_verdict_heatmaps_and_notes(chinese_widgets):
    at = train_small(open_page(fresh_app(lang="zh"), "resnet"))
    text = chinese_page(at)
    assert list(at.dataframe[0].value.columns) == ["网络", "步数", "最终训练损失（最后 20 步的平均）"]
    assert any(c.value == "刚刚训练完成。" for c in at.caption)
    assert "**ResNet-14** 最终为" in text and "有了残差连接" in text
    losses = chart_spec(at, "resnet_losses")
    assert losses["layout"]["yaxis"]["title"]["text"] == "训练损失"
    assert losses["data"][0]["hovertemplate"].startswith("plain-8<br>第 %{x} 步：损失 %{y:.3f}")
    heatmap = chart_spec(at, "resnet_heatmap_plain-14")
    axes = heatmap["layout"]["xaxis"]["title"]["text"], heatmap["layout"]["yaxis"]["title"]["text"]
    assert axes == ("训练步", "层")
    assert heatmap["data"][0]["hovertemplate"].startswith("第 %{x} 步，第 %{y} 层")
    assert heatmap["data"][0]["colorbar"]["title"]["text"] == "‖梯度‖"
    assert at.radio(key="resnet_heatmap_pair").options == ["深网络", "浅网络"]
    at.radio(key="resnet_heatmap_pair").set_value("shallow").run()
    chinese_page(at)
    assert chart_spec(at, "resnet_heatmap_plain-8")["layout"]["xaxis"]["title"]["text"] == "训练步"

    train_small(at)  # the same configuration again: from the shared store
    assert any(c.value == "之前已为这一配置计算过（与全班共享）。" for c in at.caption)
    chinese_page(at)


def test_warnings_a_stopped_run_and_an_offline_message_in_chinese(chinese_widgets):
    from cnnviz import DegradationConfig, ResNetSpec

    at = train_small(open_page(fresh_app(lang="zh"), "resnet"), shallow=20, deep=20)
    assert at.warning[0].value == "浅网络（20 层）的层数必须少于深网络（20 层）。"
    chinese_page(at)

    config = DegradationConfig(net=ResNetSpec(in_channels=1), shallow_depth=8, deep_depth=14, steps=50)
    layers = tuple(f"layer{i}" for i in range(8))
    at.session_state["resnet_live"] = (config, {"plain-8": (layers, [2.3, 2.2, 2.0, 1.9, 1.8], [np.ones(8)] * 5)})
    at.run()
    assert any(c.value == "已停止：曲线在训练被停止的地方结束。" for c in at.caption)
    chinese_page(at)

    at.selectbox(key="resnet_dataset").set_value("cifar10").run()
    error = at.error[0].value
    assert error.endswith("请选择一个离线数据集。")
    # The library's own message (CnnvizError) stays English, as the app's library errors do.
    chinese_page(at, allowed=(error,))


def test_switching_the_language_keeps_the_settings_and_translates_the_result(chinese_widgets):
    chinese_widgets["language"] = "en"
    at = open_page(fresh_app(), "resnet")
    at.selectbox(key="resnet_preset").set_value("vanish").run()
    at.selectbox(key="resnet_dataset").set_value("shapes")
    at.radio(key="resnet_block").set_value("pre")
    at.select_slider(key="resnet_width").set_value(0.5)
    at.select_slider(key="resnet_depth").set_value(8).run()
    at.select_slider(key="resnet_lr").set_value(0.05)
    train_english = next(b for b in at.button if b.label == "Train the four nets")
    at.select_slider(key="resnet_shallow").set_value(8)
    at.select_slider(key="resnet_deep").set_value(14)
    at.select_slider(key="resnet_steps").set_value(20)
    train_english.click().run()
    at.radio(key="resnet_heatmap_pair").set_value("shallow").run()
    assert any(c.value == "Trained just now." for c in at.caption)
    before = settings(at)

    at.sidebar.radio(key="lang").set_value("zh").run()
    chinese_widgets["language"] = "zh"
    assert not at.exception
    assert settings(at) == before == ("vanish", "shapes", "relu", "pre", "default", False, 0.5, 8, 8, 14, 20, 0.05,
                                      "shallow")
    assert at.subheader[0].value == "网络"
    assert any(c.value == "刚刚训练完成。" for c in at.caption)   # the kept note, now in Chinese
    assert list(at.dataframe[0].value.columns)[0] == "网络"
    chinese_page(at)

    at.sidebar.radio(key="lang").set_value("en").run()
    chinese_widgets["language"] = "en"
    at.run()
    assert not at.exception
    assert settings(at) == before and any(c.value == "Trained just now." for c in at.caption)


def settings(at) -> tuple:
    return (at.selectbox(key="resnet_preset").value, at.selectbox(key="resnet_dataset").value,
            at.radio(key="resnet_activation").value, at.radio(key="resnet_block").value,
            at.selectbox(key="resnet_init").value, at.toggle(key="resnet_batch_norm").value,
            at.select_slider(key="resnet_width").value, at.select_slider(key="resnet_depth").value,
            at.select_slider(key="resnet_shallow").value, at.select_slider(key="resnet_deep").value,
            at.select_slider(key="resnet_steps").value, at.select_slider(key="resnet_lr").value,
            at.radio(key="resnet_heatmap_pair").value)
