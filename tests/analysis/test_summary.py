"""cnnviz.analysis.summary: the leaf layers of a model, with the mode restored and no hook left."""

import pytest

from cnnviz import lenet5, model_summary


def test_model_summary_restores_mode_and_removes_hooks_even_on_error():
    model = lenet5()
    model.train()
    model_summary(model, (1, 28, 28))
    assert model.training
    with pytest.raises(RuntimeError):
        model_summary(model, (3, 28, 28))  # wrong channel count: conv1 fails
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())
    model.eval()
    model_summary(model, (1, 28, 28))
    assert not model.training
