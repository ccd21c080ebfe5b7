"""The words of the training figures (curves, confusion matrix) and of the maps and filters figures are arguments:
English by default, any language through `labels`, every word reaching the figure; unknown keys are refused."""

import numpy as np
import pytest

from cnnviz import EpochReport
from cnnviz.plots import (
    CONFUSION_MATRIX_LABELS,
    FEATURE_MAPS_LABELS,
    FILTERS_LABELS,
    TRAINING_CURVES_LABELS,
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_training_curves,
)

HISTORY = [EpochReport(e, 3, 1.0 / e, 0.5 + 0.1 * e, 0.4 + 0.1 * e, 0.1) for e in (1, 2, 3)]


def test_training_curves_take_their_words():
    english = plot_training_curves(HISTORY)
    assert [a.text for a in english.layout.annotations] == ["Training loss", "Accuracy"]
    assert [t.name for t in english.data] == ["train loss", "train accuracy", "test accuracy"]
    assert english.layout.xaxis.title.text == english.layout.xaxis2.title.text == "epoch"
    words = {"loss_title": "训练损失", "accuracy_title": "准确率", "train_loss": "训练损失",
             "train_accuracy": "训练准确率", "test_accuracy": "测试准确率", "x": "轮"}
    assert set(words) == set(TRAINING_CURVES_LABELS)
    fig = plot_training_curves(HISTORY, labels=words)
    assert [a.text for a in fig.layout.annotations] == ["训练损失", "准确率"]
    assert [t.name for t in fig.data] == ["训练损失", "训练准确率", "测试准确率"]
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "轮"
    with pytest.raises(ValueError, match="unknown figure labels"):
        plot_training_curves(HISTORY, labels={"epochs": "轮"})


def test_confusion_matrix_takes_its_words():
    confusion = np.array([[5, 1], [2, 7]])
    english = plot_confusion_matrix(confusion, ["cat", "dog"])
    assert english.data[0].hovertemplate == "true %{y}, predicted %{x}: %{z}<extra></extra>"
    fig = plot_confusion_matrix(confusion, ["cat", "dog"], labels={
        "hover": "真实 {true}，预测 {predicted}：{count}", "x": "预测类别", "y": "真实类别"})
    assert fig.data[0].hovertemplate == "真实 %{y}，预测 %{x}：%{z}<extra></extra>"
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("预测类别", "真实类别")
    assert list(fig.data[0].x) == ["cat", "dog"]                      # class names are data: as they are
    assert set(CONFUSION_MATRIX_LABELS) == {"hover", "x", "y"}


def test_feature_maps_take_their_words_in_every_title_and_hover():
    maps = np.random.default_rng(0).normal(size=(70, 120, 120)).astype(np.float32)   # a subset, in blocks
    english = plot_feature_maps(maps)
    assert english.layout.title.text.startswith("64 feature maps of 120×120 (first 64 of 70 channels; each cell")
    words = {"tile": "通道 {channel}", "hover": "通道 {channel}<br>第 {row} 行，第 {col} 列<br>值 {value}",
             "block_hover": "通道 {channel}<br>从 {row} 行、{col} 列起<br>{block}×{block} 块均值 {value}",
             "colorbar": "值", "title": "{shown} 张 {height}×{width} 的特征图（{subtitle}）",
             "layer_scale": "整层一个标尺", "channel_scale": "每个通道各自着色",
             "blocks": "每格 {block}×{block} 个值的均值；{subtitle}",
             "subset": "{total} 个通道中的前 {shown} 个；{subtitle}"}
    assert set(words) == set(FEATURE_MAPS_LABELS)
    fig = plot_feature_maps(maps, labels=words)
    assert fig.layout.title.text == "64 张 120×120 的特征图（70 个通道中的前 64 个；每格 3×3 个值的均值；整层一个标尺）"
    assert fig.layout.annotations[1].text == "通道 1" and fig.data[0].colorbar.title.text == "值"
    assert fig.data[0].hovertemplate.startswith("通道 %{customdata[0]}<br>从 %{customdata[1]} 行")
    small = plot_feature_maps(maps[:3, :8, :8], scale="channel", labels=words)
    assert small.layout.title.text == "3 张 8×8 的特征图（每个通道各自着色）"
    assert small.data[0].hovertemplate == ("通道 %{customdata[0]}<br>第 %{customdata[1]} 行，第 %{customdata[2]} 列<br>"
                                           "值 %{customdata[3]:.4g}<extra></extra>")


def test_filters_take_their_words_in_the_title_ticks_and_hover():
    weights = np.random.default_rng(1).normal(size=(70, 10, 3, 3)).astype(np.float32)
    words = {"hover": "输出 {out}，输入 {input}<br>第 {row} 行，第 {col} 列<br>权重 {value}", "colorbar": "权重",
             "input_tick": "输入 {index}", "output_tick": "输出 {index}",
             "title": "{filters} 个 {inputs}×{height}×{width} 的卷积核",
             "some_filters": "{title}（前 {shown} 个）", "some_inputs": "{title}（输入前 {shown_inputs}/{inputs}）",
             "some_both": "{title}（前 {shown} 个，输入前 {shown_inputs}/{inputs}）"}
    assert set(words) == set(FILTERS_LABELS)
    assert plot_filters(weights, labels=words).layout.title.text == "70 个 10×3×3 的卷积核（前 64 个，输入前 8/10）"
    assert plot_filters(weights[:5], labels=words).layout.title.text == "5 个 10×3×3 的卷积核（输入前 8/10）"
    fig = plot_filters(weights[:, :2], labels=words)
    assert fig.layout.title.text == "70 个 2×3×3 的卷积核（前 64 个）"
    assert list(fig.layout.xaxis.ticktext) == ["输入 0", "输入 1"] and fig.layout.yaxis.ticktext[0] == "输出 0"
    assert fig.data[0].colorbar.title.text == "权重" and fig.data[0].hovertemplate.startswith("输出 %{customdata[0]}，")
    assert plot_filters(weights[:5, :2], labels=words).layout.title.text == "5 个 2×3×3 的卷积核"
