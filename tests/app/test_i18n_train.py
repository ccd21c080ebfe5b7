"""The Train / load page in Chinese: its form, tabs and notes, a quick training run with its results, figures and
training replay, the zoo and file tabs with their messages; switching the language keeps the form's settings and
the last run's results. Runs are one epoch on the digits lab (about a second)."""

import dataclasses
import os

from streamlit.testing.v1 import AppTest

from cnnviz import ReplayRecorder, TrainConfig, load_image_dataset, load_zoo_model, model_to_bytes, untrained_model
from pages.common import words_replay, words_train
from tests.app.test_i18n import CJK, chinese_page, english_left
from tests.conftest import APP, APP_TIMEOUT, chart_spec, fresh_app, open_page

SUBMIT = "FormSubmitter:train_form-Train"   # the submit button's key: the same in every language


def submit(at, architecture="tiny_vgg", dataset="digits", epochs=1, batch_size=128, learning_rate=3e-3, seed=7):
    """Fill in the training form (other settings than the defaults) and press Train."""
    at.selectbox(key="train_architecture").set_value(architecture)
    at.selectbox(key="train_dataset").set_value(dataset)
    at.number_input(key="train_epochs").set_value(epochs)
    at.selectbox(key="train_batch_size").set_value(batch_size)
    at.select_slider(key="train_learning_rate").set_value(learning_rate)
    at.number_input(key="train_seed").set_value(seed)
    at.button(key=SUBMIT).click().run(timeout=300)
    assert not at.exception, at.exception
    return at


def figure_words(at, key: str) -> tuple:
    """A figure's title, subplot titles / annotations, axis titles, trace names and first hover."""
    figure = chart_spec(at, key)
    layout = figure["layout"]
    axes = {name: axis.get("title", {}).get("text") for name, axis in layout.items()
            if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict)}
    return (layout.get("title", {}).get("text"), [a["text"] for a in layout.get("annotations", [])], axes,
            [trace.get("name") for trace in figure["data"]], figure["data"][0].get("hovertemplate"))


def test_the_page_in_chinese_with_default_settings():
    at = open_page(fresh_app(lang="zh"), "train")
    chinese_page(at, min_cjk=400)
    assert at.title[0].value == "训练 / 加载模型"
    assert [tab.label for tab in at.get("tab")] == ["训练", "模型库", "保存 / 加载文件"]
    assert [s.label for s in at.selectbox][:3] == ["架构", "数据集", "批量大小"]
    assert at.selectbox(key="train_architecture").options == ["LeNet-5（LeCun 1998）", "TinyVGG（CNN Explainer）"]
    assert at.selectbox(key="train_dataset").value == "mnist"          # the values stay the keys
    assert at.number_input(key="train_epochs").label == "轮数（epoch）"
    assert at.select_slider(key="train_learning_rate").help.startswith("Adam 优化器")
    assert at.button(key=SUBMIT).label == "训练"
    assert at.selectbox(key="zoo_model").options[0] == "LeNet-5，在 MNIST 上训练（真实手写数字）"
    assert at.file_uploader(key="model_file").label == "加载模型文件"
    assert at.checkbox(key="save_replay").help == "当前模型没有训练回放：在“训练”标签页训练一个。"
    assert any(c.value.startswith("当前模型没有训练回放。") for c in at.caption)
    assert "当前模型的各层" in [e.label for e in at.main.expander]
    assert list(at.dataframe[0].value.columns) == ["层", "类型", "输出形状", "参数量"]
    assert "共 61,706 个参数。" in [c.value for c in at.caption]
    # The same page in English shows the catalogue's English: the checks above can fail.
    english = open_page(fresh_app(lang="en"), "train")
    assert english_left(english) and english.title[0].value == "Train / load a model"


def test_a_quick_run_in_chinese_its_results_figures_and_replay(chinese_widgets):
    at = submit(open_page(fresh_app(lang="zh"), "train"))
    chinese_page(at, min_cjk=1200)
    (success,) = at.success
    assert success.value.startswith("训练了 1 轮。测试准确率 ") and success.value.endswith("。它现在是当前模型。")
    assert "**混淆矩阵**（测试集）" in [m.value for m in at.markdown]
    assert any(m.value.startswith("**分错的测试样本**（共 ") for m in at.markdown)
    title, subplots, axes, names, _ = figure_words(at, "curves")
    assert subplots == ["训练损失", "准确率"] and axes["xaxis"] == axes["xaxis2"] == "轮（epoch）"
    assert names == ["训练损失", "训练准确率", "测试准确率"]
    _, _, axes, _, hover = figure_words(at, "confusion")
    assert axes == {"xaxis": "预测类别", "yaxis": "真实类别"} and hover.startswith("真实类别 %{y}，预测类别 %{x}：")

    # The training replay: its words, its figures' words, and the same after moving the slider.
    assert at.subheader[0].value == "训练回放"
    assert at.select_slider(key="replay_epoch").label == "轮（0：训练前）"
    assert at.selectbox(key="replay_layer").label == "特征图所在的层"
    assert any(c.value.startswith("这个回放占用 ") for c in at.caption)
    assert any(c.value.startswith("特征图来自测试图像 #0（类别：") and "）。训练前探测批量上的损失：" in c.value
               for c in at.caption)
    title, _, _, _, hover = figure_words(at, "replay_filters")
    assert title == "conv1 训练前：10 个 1×3×3 的卷积核" and hover.startswith("输出 %{customdata[0]}，输入")
    title, tiles, _, _, hover = figure_words(at, "replay_maps")
    assert title == "conv1 训练前：测试图像 #0 的特征图，所有轮共用一个颜色标尺"
    assert tiles[:2] == ["通道 0", "通道 1"] and hover.startswith("通道 %{customdata[0]}<br>第 ")
    assert chart_spec(at, "replay_maps")["data"][0]["colorbar"]["title"]["text"] == "值"
    title, parts, _, _, hover = figure_words(at, "replay_histograms")
    assert title == "训练前每一层的权重和梯度（占该层数值的比例，对数坐标）"
    assert parts == ["权重", "损失在 32 张测试图像上的梯度"] and hover.startswith("值 %{x:.3g}<br>占比")
    at.select_slider(key="replay_epoch").set_value(1).run()
    at.selectbox(key="replay_layer").set_value("conv3").run()
    chinese_page(at)
    assert figure_words(at, "replay_maps")[0].startswith("conv3 第 1 轮后：")
    assert figure_words(at, "replay_histograms")[0].startswith("第 1 轮后每一层")
    assert any("第 1 轮后探测批量上的损失：" in c.value for c in at.caption)

    # The run's message is kept as words, not as a sentence: another session reusing the run reads its own language.
    other = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)          # same process, caches kept
    other.query_params["lang"] = "en"
    other.run()
    chinese_widgets["language"] = "en"
    other = submit(open_page(other, "train"))
    assert other.success[0].value.startswith("Trained for 1 epochs. This exact training (same model, data set")
    chinese_widgets["language"] = "zh"
    at.run()
    assert at.success[0].value.startswith("训练了 1 轮。测试准确率")


def test_a_diverged_run_and_a_stopped_one_in_chinese(monkeypatch, chinese_widgets):
    import pages.common.live_training as live_training
    import pages.common.runs as runs
    import pages.common.session as session
    from pages.common.runs import TrainingRun

    # As in test_app: one corrupt training image (an inf pixel) makes the loss NaN in the first epoch.
    digits = load_image_dataset("digits")
    corrupt = digits.x_train.copy()
    corrupt[100, 0, 5, 5] = float("inf")
    for module in (session, live_training, runs):
        monkeypatch.setattr(module, "dataset", lambda name: dataclasses.replace(digits, x_train=corrupt))
    at = fresh_app(lang="zh")
    at = submit(open_page(at, "train"), architecture="lenet5", epochs=2, batch_size=64, learning_rate=1e-3)
    (error,) = at.error
    assert error.value.startswith("第 1 轮第 ")
    assert "个批量的损失变成了 nan；权重已恢复到初始值。试试更小的学习率。测试准确率 " in error.value
    assert "当前模型没有改变（LeNet-5 on mnist）" in error.value
    assert at.button(key="adopt_run").label == "仍然使用这次训练的模型"
    chinese_page(at)

    # A run that Stop interrupted (a rerun while it trained): its model waits, with a Chinese warning.
    at.session_state["training_run"] = TrainingRun(untrained_model("lenet5", digits, seed=3),
                                                   TrainConfig(epochs=5))
    at.run()
    (warning,) = at.warning
    assert warning.value.startswith("完成 0 轮后停止。测试准确率 ")
    chinese_page(at)


def test_the_zoo_tab_and_the_file_tab_in_chinese(chinese_widgets):
    at = open_page(fresh_app(lang="zh"), "train")
    at.selectbox(key="zoo_model").set_value("efficientnet-lite0-imagenet").run()
    assert any(c.value.startswith("EfficientNet-Lite0（Tan 和 Le，2019）带有已发表的 ImageNet 权重")
               for c in at.caption)
    chinese_page(at)
    at.selectbox(key="zoo_model").set_value("tinyvgg-shapes").run()
    at.button(key="use_zoo_model").click().run()
    assert at.success[0].value == "TinyVGG on shapes 现在是当前模型。"    # the model's name is its file's
    chinese_page(at)

    # A file that is no model: the page's sentence in Chinese, the library's reason inside it as it is.
    at.file_uploader(key="model_file").upload("random.safetensors", os.urandom(4096)).run()
    (error,) = at.error
    assert error.value.startswith("random.safetensors 没有加载：")
    assert error.value.endswith("  \n当前模型没有改变：TinyVGG on shapes。")
    reason = error.value[len("random.safetensors 没有加载："):-len("  \n当前模型没有改变：TinyVGG on shapes。")]
    assert reason and not CJK.search(reason)                      # cnnviz's own words (CnnvizError) stay English
    chinese_page(at, allowed=(reason,))

    # A model file with a training replay, loaded: both messages in Chinese, and its replay shown in Chinese.
    digits = load_image_dataset("digits")
    trained = untrained_model("lenet5", digits, seed=1)
    replay = ReplayRecorder(trained.model, digits.test_tensors()).replay()
    at.file_uploader(key="model_file").upload("mine.safetensors", model_to_bytes(trained, replay=replay)).run()
    assert at.success[0].value == "已加载 mine.safetensors：LeNet-5 on digits 现在是当前模型。"
    assert at.info[0].value == "这个文件带有 0 轮的训练回放：可在“训练”标签页回放。"
    assert at.subheader[0].value == "训练回放"
    at.run()                           # the file tab's download, drawn above the uploader, offers it from now on
    assert at.checkbox(key="save_replay").help.startswith("把训练过程的 1 个快照")
    chinese_page(at, min_cjk=800)


def test_a_bare_state_dict_with_the_architecture_picked_in_chinese(chinese_widgets):
    import io

    import torch

    at = open_page(fresh_app(lang="zh"), "train")
    at.selectbox(key="upload_architecture").set_value("tiny_vgg")
    at.selectbox(key="upload_dataset").set_value("shapes").run()
    assert at.selectbox(key="upload_architecture").options[1] == "TinyVGG（CNN Explainer）"
    buffer = io.BytesIO()
    torch.save(load_zoo_model("tinyvgg-shapes").model.state_dict(), buffer)
    at.file_uploader(key="model_file").upload("weights.pt", buffer.getvalue()).run()
    assert at.success[0].value.startswith("已加载 weights.pt：TinyVGG (weights.pt) 现在是当前模型。")
    chinese_page(at)


def test_switching_the_language_keeps_the_form_and_the_last_runs_results(chinese_widgets):
    chinese_widgets["language"] = "en"
    at = submit(open_page(fresh_app(), "train"), seed=3)
    at.select_slider(key="replay_epoch").set_value(1).run()
    at.selectbox(key="replay_layer").set_value("conv2").run()
    at.selectbox(key="zoo_model").set_value("tinyvgg-shapes").run()
    before = settings(at)
    assert before == ("tiny_vgg", "digits", 1, 128, 3e-3, 3, 1, "conv2", "tinyvgg-shapes")
    message = at.success[0].value
    assert message.startswith("Trained for 1 epochs. Test accuracy ")

    at.sidebar.radio(key="lang").set_value("zh").run()
    chinese_widgets["language"] = "zh"
    assert not at.exception
    assert settings(at) == before
    accuracy = message.split("Test accuracy ")[1].split(". ")[0]
    assert at.success[0].value == f"训练了 1 轮。测试准确率 {accuracy}。它现在是当前模型。"
    assert figure_words(at, "curves")[1] == ["训练损失", "准确率"]
    assert figure_words(at, "replay_maps")[0].startswith("conv2 第 1 轮后：")
    chinese_page(at, min_cjk=1200)

    at.sidebar.radio(key="lang").set_value("en").run()
    chinese_widgets["language"] = "en"
    assert not at.exception and settings(at) == before and at.success[0].value == message
    assert figure_words(at, "curves")[1] == ["Training loss", "Accuracy"]


def settings(at) -> tuple:
    return (at.selectbox(key="train_architecture").value, at.selectbox(key="train_dataset").value,
            at.number_input(key="train_epochs").value, at.selectbox(key="train_batch_size").value,
            at.select_slider(key="train_learning_rate").value, at.number_input(key="train_seed").value,
            int(at.select_slider(key="replay_epoch").value), at.selectbox(key="replay_layer").value,
            at.selectbox(key="zoo_model").value)


def test_the_words_in_chinese(chinese_widgets):
    """Sentences built from numbers (the progress while training, the trainer's own messages, notes) in Chinese."""
    assert words_train.batch_progress(2, 5, 30, 100, 0.12345) == "第 2/5 轮，第 30/100 个批量，损失 0.123"
    assert words_train.following(3, 10).startswith("另一个会话正在这台服务器上运行相同的训练")
    assert words_train.unchanged("No network.") == "No network. 当前模型没有改变。"
    note = words_train.prebuilt_file_note("EfficientNet-Lite0", "efficientnet-lite0-imagenet")
    assert "`cnnviz.load_zoo_model('efficientnet-lite0-imagenet')`" in note and CJK.search(note)
    later = words_train.trainer_message("The loss became inf in epoch 3, batch 7; the weights were restored to the "
                                        "end of epoch 2. Try a lower learning rate.")
    assert str(later) == "第 3 轮第 7 个批量的损失变成了 inf；权重已恢复到第 2 轮结束时的值。试试更小的学习率。"
    assert words_train.trainer_message("Stopped after epoch 2.") == "Stopped after epoch 2."   # unknown: as it is
    assert str(words_train.stopped_after(4)) == "完成 4 轮后停止。"
    assert words_replay.stopped(1, 5) == "这次训练在计划的 5 轮中完成 1 轮后结束：回放也到此为止。"
    assert words_replay.maps_caption(3, None, 2, 0.5) == "特征图来自测试图像 #3。第 2 轮后探测批量上的损失：0.500。"
    chinese_widgets["language"] = "en"
    assert str(later) == ("The loss became inf in epoch 3, batch 7; the weights were restored to the end of epoch 2. "
                          "Try a lower learning rate.")                   # the kept phrase, now read in English
    assert words_replay.maps_caption(3, "cat", 0, 0.5) == ("The maps are of test image #3 (class: cat). "
                                                           "Loss on the probe batch before training: 0.500.")
