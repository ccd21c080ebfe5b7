"""cnnviz.models.budget: a model's cost from its spec alone, checked by hand and against measurement,
and the refusal of models over the budget (library and app, quickly, before anything runs)."""

import inspect
import time

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from cnnviz import (
    APP_BATCH_SIZE,
    DEFAULT_BUDGET,
    HOSTED,
    Budget,
    CNNSpec,
    ConvSpec,
    FastTextSpec,
    ModelCost,
    ModelInfo,
    ModelLoadError,
    ModelTooCostlyError,
    Preprocessing,
    ResNetSpec,
    Settings,
    TextCNNSpec,
    TrainedModel,
    build_from_spec,
    build_model,
    build_resnet,
    check_budget,
    evaluate,
    lenet5_spec,
    load_model_bytes,
    model_cost,
    model_to_bytes,
    tiny_vgg_spec,
)

# --- by hand ------------------------------------------------------------------------------------

def test_tiny_cnn_by_hand():
    # 1x8x8 input; conv 2@3x3 -> 2x6x6, relu 2x6x6, max pool 2 -> 2x3x3; flatten 18; fc 18 -> 3.
    # parameters: conv 1*2*9 + 2 = 20, fc 18*3 + 3 = 57: 77.
    # values: 72 (conv) + 72 (relu) + 18 (pool) + 18 (flatten) + 3 (fc) = 183; 183 * 4 bytes = 732 per image.
    # multiply-adds: conv 6*6*2*1*9 = 648, fc 18*3 = 54: 702 per image.
    spec = CNNSpec("tiny", 1, 8, (ConvSpec(2, 3, pool="max"),), num_classes=3)
    assert model_cost(spec) == ModelCost(parameters=77, activation_bytes=732, multiply_adds=702)
    assert model_cost(spec, batch=5) == ModelCost(77, 5 * 732, 5 * 702)


def test_batch_norm_stride_padding_and_hidden_by_hand():
    # 3x7x7 input; conv 4@3x3, stride 2, padding 1, no bias (batch norm): (7 + 2 - 2 - 1) // 2 + 1 = 4 -> 4x4x4,
    # bn 4x4x4, relu 4x4x4, avg pool 2 -> 4x2x2; flatten 16; fc 16 -> 5, relu 5; fc 5 -> 2.
    # parameters: conv 3*4*9 = 108, bn 2*4 = 8, fc1 16*5 + 5 = 85, fc2 5*2 + 2 = 12: 213.
    # values: 64 * 3 + 16 + 16 + 5 + 5 + 2 = 236 -> 944 bytes.
    # multiply-adds: conv 4*4*4*3*9 = 1728, fc1 80, fc2 10: 1818.
    spec = CNNSpec("bn", 3, 7, (ConvSpec(4, 3, stride=2, padding=1, batch_norm=True, pool="avg"),),
                   hidden=(5,), num_classes=2)
    assert model_cost(spec) == ModelCost(213, 944, 1818)


def test_lenet5_by_hand():
    # conv1 6@5x5 pad 2 on 28x28: 6*28*28 = 4704, relu 4704, pool 6*14*14 = 1176; conv2 16@5x5: 16*10*10 = 1600,
    # relu 1600, pool 400; flatten 400; fc 120 + relu 120, fc 84 + relu 84, fc 10.
    # values 4704*2 + 1176 + 1600*2 + 400*2 + 240 + 168 + 10 = 15002 -> 60,008 bytes.
    # multiply-adds: 4704*25 + 1600*6*25 + 400*120 + 120*84 + 84*10 = 117600 + 240000 + 48000 + 10080 + 840.
    cost = model_cost(lenet5_spec())
    assert cost == ModelCost(61_706, 60_008, 416_520)


def test_text_cnn_by_hand():
    # 10 tokens, K = 4, widths (2, 3), F = 3, 2 classes, vocabulary 20.
    # parameters: 20*4 + (4*3*2 + 3) + (4*3*3 + 3) + 6*2 + 2 = 80 + 27 + 39 + 14 = 160.
    # values: embedding 40; width 2: conv 3*9 = 27, relu 27, max 3; width 3: 3*8 = 24, 24, 3; concat 6,
    # dropout 6, fc 2: 162 -> 648 bytes. multiply-adds: 27*4*2 + 24*4*3 + 6*2 = 216 + 288 + 12 = 516.
    spec = TextCNNSpec(vocab_size=20, embedding_dim=4, widths=(2, 3), filters=3)
    assert model_cost(spec, text_length=10) == ModelCost(160, 648, 516)
    # A text shorter than the widest filter is padded to it (TextCNN.pad_tokens): 1 token costs as 3.
    assert model_cost(spec, text_length=1) == model_cost(spec, text_length=3)


def test_fasttext_by_hand():
    # 5 tokens, K = 4, 3 classes, vocabulary 10: parameters 40 + 4*3 + 3 = 55.
    # values: mask 5, embeddings 20, masked 20, sum 4, count 1, clamped count 1, mean 4, fc 3 = 58 -> 232 bytes.
    spec = FastTextSpec(vocab_size=10, embedding_dim=4, num_classes=3)
    assert model_cost(spec, text_length=5) == ModelCost(55, 232, 12)


def test_resnet20_parameters_are_the_papers():
    assert model_cost(ResNetSpec(20)).parameters == 269_722   # He et al. 2016, option A shortcuts


def test_the_zoo_fits_the_hosted_budget():
    # The trained zoo fits; EfficientNet-Lite0 does not (see test_efficientnet_lite0_is_over_both_default_budgets):
    # it is shipped, so trusted, and the pages only ever run it on one image at a time.
    from cnnviz import load_zoo_model
    from cnnviz.models.zoo import TRAINED_ZOO

    for key in TRAINED_ZOO:
        info = load_zoo_model(key).info
        check_budget(info.spec, HOSTED.budget(), text_length=getattr(info.preprocessing, "max_length", None))


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch"):
        model_cost(lenet5_spec(), batch=0)
    with pytest.raises(TypeError, match="no cost model"):
        model_cost("lenet5")
    with pytest.raises(ValueError, match="max_multiply_adds"):
        Budget(max_multiply_adds=0, max_activation_bytes=1)


# --- against measurement -------------------------------------------------------------------------

class _Between(TorchDispatchMode):
    """Counts the float values of new tensors made outside any layer (sums, relu maps of a TextCNN, ...)."""

    def __init__(self):
        super().__init__()
        self.inside = 0
        self.values = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not self.inside:
            inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0]
                      if isinstance(t, torch.Tensor)}
            self.values += sum(t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)
                               and t.is_floating_point() and t.untyped_storage().data_ptr() not in inputs)
        return out


def measure(model: nn.Module, x: torch.Tensor) -> ModelCost:
    """Parameters by sum(numel); multiply-adds by forward hooks on every convolution and linear layer;
    activations as the summed outputs of every layer (hooks) plus the float tensors made between layers."""
    between = _Between()
    counts = {"values": 0, "macs": 0}

    def enter(module, inputs):
        between.inside += 1

    def leave(module, inputs, output):
        between.inside -= 1
        counts["values"] += output.numel()
        if isinstance(module, nn.modules.conv._ConvNd):
            counts["macs"] += output.numel() * module.weight[0].numel()  # per output: in_c * kernel area
        elif isinstance(module, nn.Linear):
            counts["macs"] += output.numel() * module.in_features

    handles = []
    for module in model.modules():
        if not any(True for _ in module.children()):
            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    model.eval()
    try:
        with torch.no_grad(), between:
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return ModelCost(sum(p.numel() for p in model.parameters()), 4 * (counts["values"] + between.values),
                     counts["macs"])


B = 3
CNN_SPECS = [
    lenet5_spec(), lenet5_spec(input_size=32, in_channels=3), tiny_vgg_spec(input_size=20),
    CNNSpec("mixed", 3, 13, (ConvSpec(4, 3, stride=2, padding=1, dilation=2, batch_norm=True, pool="avg"),
                             ConvSpec(5, 2, pool="max", pool_size=2)), hidden=(7, 6), num_classes=4),
    CNNSpec("odd", 1, 11, (ConvSpec(3, 4, stride=3, padding=2), ConvSpec(2, 1, pool="max", pool_size=3)),
            num_classes=2, activation="tanh", padding_mode="reflect"),
]


@pytest.mark.parametrize("spec", CNN_SPECS, ids=lambda s: s.name)
def test_cnn_cost_matches_measurement(spec):
    x = torch.zeros(B, spec.in_channels, spec.input_size, spec.input_size)
    assert model_cost(spec, batch=B) == measure(build_model(spec, seed=0), x)


@pytest.mark.parametrize("spec, length", [
    (TextCNNSpec(vocab_size=20, embedding_dim=4, widths=(2, 3, 9), filters=3), 7),
    (TextCNNSpec(vocab_size=30, embedding_dim=5, widths=(1, 4), filters=2, num_classes=3), 12),
    (FastTextSpec(vocab_size=20, embedding_dim=4), 7),
    (FastTextSpec(vocab_size=20, embedding_dim=4, bigram_buckets=5, num_classes=4), 9),
])
def test_text_cost_matches_measurement(spec, length):
    tokens = torch.randint(1, spec.vocab_size, (B, length), generator=torch.Generator().manual_seed(0))
    assert model_cost(spec, batch=B, text_length=length) == measure(build_from_spec(spec, seed=0), tokens)


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("block", ["post", "pre"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_resnet_cost_matches_measurement(residual, block, batch_norm):
    spec = ResNetSpec(8, residual=residual, width=0.25, block=block, batch_norm=batch_norm, in_channels=2)
    x = torch.zeros(B, 2, 9, 9)  # odd: stride 2 gives 5, then 3
    assert model_cost(spec, batch=B, input_size=9) == measure(build_resnet(spec, seed=0), x)


# --- the budget -----------------------------------------------------------------------------------

WIDE = CNNSpec("wide", 1, 1024, (ConvSpec(512, 1, pool="max", pool_size=1024),), num_classes=2)


def test_a_wide_1x1_convolution_is_refused_with_the_numbers():
    # multiply-adds: 1024*1024*512*1*1 = 536,870,912 per image; activations: conv and relu 512*1024*1024
    # values each (4 GB at batch 1), pool 512, flatten 512, fc 2.
    with pytest.raises(ModelTooCostlyError) as hosted:
        check_budget(WIDE, HOSTED.budget(), batch=1)
    assert str(hosted.value) == ("This model is too costly to run here: it needs 537 M multiply-adds per image "
                                 "(this server allows 50 M) and 4 GB of memory for the activations of 1 image "
                                 "at once (this server allows 200 MB).")
    with pytest.raises(ModelTooCostlyError, match=r"^This model is too costly to run here: it needs 537 M "
                                                  r"multiply-adds per image \(this server allows 500 M\) and 1 TB "
                                                  r"of memory for the activations of 256 images at once \(this "
                                                  r"server allows 1,000 MB\)\.$"):
        check_budget(WIDE, DEFAULT_BUDGET)  # the local limits: 500 M multiply-adds, 1,000 MB
    assert issubclass(ModelTooCostlyError, ModelLoadError)


def test_parameters_over_the_budget():
    # conv 1*4*9 + 4 = 40; 8 -> 6, flatten 4*36 = 144; fc1 144*4096 + 4096 = 593,920;
    # fc2 4096*4096 + 4096 = 16,781,312; fc3 4096*2 + 2 = 8,194: 17,383,466 in all.
    spec = CNNSpec("fat", 1, 8, (ConvSpec(4, 3),), hidden=(4096, 4096), num_classes=2)
    with pytest.raises(ModelTooCostlyError, match=r"17,383,466 parameters \(this server allows 1,000,000\)"):
        check_budget(spec, Budget(10**12, 10**12, max_parameters=1_000_000))


def test_within_the_budget_the_cost_is_returned_at_the_batch():
    assert check_budget(lenet5_spec(), HOSTED.budget(), batch=2) == model_cost(lenet5_spec(), batch=2)


def test_the_app_evaluates_in_batches_no_larger_than_it_checks():
    from cnnviz import top_activations
    from cnnviz.analysis.ngrams import top_ngrams

    for function in (evaluate, top_activations, top_ngrams):
        assert inspect.signature(function).parameters["batch_size"].default <= APP_BATCH_SIZE, function


def test_evaluate_in_batches_gives_the_same_results(lib_digits):
    spec = lenet5_spec()
    model = build_model(spec, seed=0)
    x, y = lib_digits.test_tensors()
    small, whole = evaluate(model, x, y), evaluate(model, x, y, batch_size=len(x))
    assert (small.predictions == whole.predictions).all() and (small.confusion == whole.confusion).all()
    torch.testing.assert_close(torch.from_numpy(small.probabilities), torch.from_numpy(whole.probabilities),
                               rtol=0, atol=1e-6)


def _file(spec: CNNSpec) -> bytes:
    info = ModelInfo("hostile", spec, Preprocessing(spec.in_channels, spec.input_size, (0.5,) * spec.in_channels,
                                                    (0.25,) * spec.in_channels),
                     tuple(f"c{i}" for i in range(spec.num_classes)), "toy")
    return model_to_bytes(TrainedModel(build_model(spec, seed=0), info))


def test_loading_a_costly_file_is_refused_before_anything_is_built(monkeypatch):
    import cnnviz.models.files as cio

    data = _file(WIDE)
    assert len(data) < 10_000
    built = []
    monkeypatch.setattr(cio, "build_from_spec", lambda *a, **k: built.append(a))
    start = time.perf_counter()
    with pytest.raises(ModelTooCostlyError, match="537 M multiply-adds per image"):
        load_model_bytes(data, budget=HOSTED.budget())
    with pytest.raises(ModelTooCostlyError, match="1 TB of memory"):
        load_model_bytes(data)  # the default budget is the local app's
    assert time.perf_counter() - start < 2 and not built
    monkeypatch.undo()
    assert load_model_bytes(data, budget=None).info.spec == WIDE  # the notebook's opt-out


def test_the_settings_budget_is_the_app_budget():
    assert Settings().budget() == DEFAULT_BUDGET


# --- in the app ------------------------------------------------------------------------------------

def _hidden_layers_file(n: int) -> bytes:
    """A cnnviz file whose metadata claims `n` hidden layers (beyond the cap, so built by hand)."""
    import json

    from safetensors.torch import save

    spec = CNNSpec("deep", 1, 4, (ConvSpec(1, 1),), hidden=(2,) * 16, num_classes=2)
    info = ModelInfo("deep", spec, Preprocessing(1, 4, (0.5,), (0.25,)), ("a", "b"), "toy").to_dict()
    info["spec"]["hidden"] = [2] * n
    tensors = {"conv1.weight": torch.zeros(1, 1, 1, 1), "conv1.bias": torch.zeros(1),
               "fc1.weight": torch.zeros(2, 16), "fc1.bias": torch.zeros(2)}
    for j in range(2, n + 2):
        tensors[f"fc{j}.weight"], tensors[f"fc{j}.bias"] = torch.zeros(2, 2), torch.zeros(2)
    return save(tensors, metadata={"cnnviz": json.dumps(info)})


def test_a_file_with_a_thousand_hidden_layers_is_refused_quickly():
    data = _hidden_layers_file(1000)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="at most 16 hidden layers"):
        load_model_bytes(data, budget=None)
    assert time.perf_counter() - start < 2


def _upload(at, name: str, data: bytes):
    from tests.conftest import open_page

    at = open_page(at, "train")
    start = time.perf_counter()
    at.file_uploader[0].upload(name, data).run()
    return at, time.perf_counter() - start


def _sidebar(at) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption])


@pytest.mark.parametrize("case", ["wide", "hidden"])
def test_the_train_page_refuses_a_costly_file_and_keeps_its_model(app, case):
    before = app.session_state["current_model"]
    data = _file(WIDE) if case == "wide" else _hidden_layers_file(1000)
    at, seconds = _upload(app, f"{case}.safetensors", data)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "current model is unchanged" in errors[0], errors
    if case == "wide":
        assert "too costly to run here" in errors[0] and "1 TB of memory" in errors[0], errors
        assert "this server allows 1,000 MB" in errors[0]
    else:
        assert "at most 16 hidden layers" in errors[0], errors
    assert seconds < 2, seconds
    assert at.session_state["current_model"] is before
    assert before.info.name in _sidebar(at)


# --- EfficientNet-Lite0 ---------------------------------------------------------------------------

def test_efficientnet_lite0_cost_matches_measurement():
    from cnnviz.models.efficientnet import EfficientNetLiteSpec, build_efficientnet_lite

    spec = EfficientNetLiteSpec()
    cost = model_cost(spec, batch=2)
    assert cost == measure(build_efficientnet_lite(spec, seed=0), torch.zeros(2, 3, 224, 224))
    # per image: 4.65 M parameters, 385 M multiply-adds (the TF README's "407M"), 84.4 MB of layer outputs
    assert (cost.parameters, cost.multiply_adds // 2, cost.activation_bytes // 2) == (4_652_008, 385_187_552,
                                                                                      88_491_564)


def test_efficientnet_lite0_is_over_both_default_budgets_at_the_apps_batch():
    from cnnviz.models.efficientnet import EfficientNetLiteSpec

    spec = EfficientNetLiteSpec()
    with pytest.raises(ModelTooCostlyError) as local:
        check_budget(spec, DEFAULT_BUDGET)
    assert "multiply-adds" not in str(local.value)  # 385 M is within the local 500 M; 21.1 GB at 256 is not
    with pytest.raises(ModelTooCostlyError, match="385 M multiply-adds per image"):
        check_budget(spec, HOSTED.budget(), batch=1)
