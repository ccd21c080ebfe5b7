"""cnnviz.models.files: model files round-trip, and every unsafe or broken file is refused, never run.

The safety rules (DESIGN.md, "Safety"): weights load through safetensors or
torch.load(weights_only=True); pickled modules, TorchScript and anything else are
refused with a ModelLoadError whose message is meant for the user.
"""

import builtins
import dataclasses
import io
import json
import pickle
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import cnnviz.models.files as cio
from cnnviz import (
    CNNSpec,
    ConvSpec,
    ModelInfo,
    ModelLoadError,
    Preprocessing,
    TrainedModel,
    build_model,
    lenet5,
    load_model,
    load_model_bytes,
    model_to_bytes,
    save_model,
    tiny_vgg_spec,
)

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None)
X = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def torch_bytes(obj, *, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def safetensors_bytes(header: dict, payload: bytes) -> bytes:
    """A .safetensors file by hand: 8-byte little-endian header length, JSON header, tensor data."""
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + payload


def with_metadata(trained: TrainedModel, info_dict) -> bytes:
    """The trained model's tensors with replaced cnnviz metadata (a str: stored as it is)."""
    text = info_dict if isinstance(info_dict, str) else json.dumps(info_dict)
    return st_save(st_load(model_to_bytes(trained)), metadata={"cnnviz": text})


def same_outputs(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor = X) -> bool:
    a.eval(), b.eval()
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def refused(data: bytes, match: str, **kwargs) -> ModelLoadError:
    with pytest.raises(ModelLoadError, match=match) as info:
        load_model_bytes(data, **kwargs)
    return info.value


# --- round trips -------------------------------------------------------------------------------

def test_save_and_load_round_trip(tmp_path, lib_tiny_trained):
    path = tmp_path / "tiny.safetensors"
    save_model(lib_tiny_trained, path)
    loaded = load_model(path)
    assert loaded.info == lib_tiny_trained.info
    assert same_outputs(loaded.model, lib_tiny_trained.model)
    assert not loaded.model.training
    assert loaded.model.state_dict().keys() == lib_tiny_trained.model.state_dict().keys()
    loaded_str = load_model(str(path))
    assert loaded_str.info == lib_tiny_trained.info


def test_bytes_round_trip(lib_tiny_trained):
    data = model_to_bytes(lib_tiny_trained)
    loaded = load_model_bytes(data)
    assert loaded.info == lib_tiny_trained.info and same_outputs(loaded.model, lib_tiny_trained.model)
    assert model_to_bytes(loaded) == data  # a loaded model saves to the same bytes


def test_file_is_plain_safetensors_with_json_metadata(tmp_path, lib_tiny_trained):
    """Other tools can read a cnnviz file: tensors by name, metadata as JSON under 'cnnviz'."""
    from safetensors import safe_open

    path = tmp_path / "tiny.safetensors"
    save_model(lib_tiny_trained, path)
    with safe_open(str(path), framework="pt") as f:
        assert set(f.keys()) == {"conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias"}
        assert torch.equal(f.get_tensor("fc1.weight"), lib_tiny_trained.model.fc1.weight)
        meta = json.loads(f.metadata()["cnnviz"])
    assert meta["name"] == "tiny on toy" and meta["spec"]["kind"] == "cnn"
    assert meta["preprocessing"] == {"channels": 1, "size": 8, "mean": [0.5], "std": [0.25]}


def test_batch_norm_buffers_round_trip(lib_tiny_trained):
    """Running statistics and the int64 num_batches_tracked survive the file."""
    spec = CNNSpec("bn", 1, 8, (ConvSpec(3, 3, batch_norm=True, pool="avg"),), num_classes=3)
    model = build_model(spec, seed=0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(5, 1, 8, 8))
    trained = TrainedModel(model, dataclasses.replace(lib_tiny_trained.info, spec=spec))
    loaded = load_model_bytes(model_to_bytes(trained))
    assert loaded.model.bn1.num_batches_tracked.item() == 3
    assert loaded.model.bn1.num_batches_tracked.dtype == torch.int64
    assert torch.equal(loaded.model.bn1.running_var, model.bn1.running_var)
    assert same_outputs(loaded.model, model)


@pytest.mark.parametrize("filename", ["model.pt", "weights.png", "x.onnx", ""])
def test_kind_is_told_by_content_not_name(lib_tiny_trained, filename):
    assert load_model_bytes(model_to_bytes(lib_tiny_trained), filename=filename).info == lib_tiny_trained.info


# --- bare state dicts (need the architecture from the user) ------------------------------------

def test_bare_safetensors_state_dict_needs_info(lib_tiny_trained):
    data = st_save(dict(lib_tiny_trained.model.state_dict()))
    refused(data, "weights only, without cnnviz metadata: pick the architecture")
    loaded = load_model_bytes(data, info=lib_tiny_trained.info)
    assert loaded.info == lib_tiny_trained.info and same_outputs(loaded.model, lib_tiny_trained.model)


def test_bare_pt_state_dict_needs_info(lib_tiny_trained):
    data = torch_bytes(lib_tiny_trained.model.state_dict())
    refused(data, "pick the architecture")
    assert same_outputs(load_model_bytes(data, info=lib_tiny_trained.info).model, lib_tiny_trained.model)


def test_legacy_pt_state_dict_loads(lib_tiny_trained):
    data = torch_bytes(lib_tiny_trained.model.state_dict(), legacy=True)
    assert data[:1] == b"\x80"  # a plain pickle stream, not a zip archive
    assert same_outputs(load_model_bytes(data, info=lib_tiny_trained.info).model, lib_tiny_trained.model)


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict"])
def test_pt_checkpoint_dict_with_state_dict_key_loads(lib_tiny_trained, key):
    data = torch_bytes({key: lib_tiny_trained.model.state_dict(), "epoch": 3, "optimizer": {"lr": 0.1}})
    assert same_outputs(load_model_bytes(data, info=lib_tiny_trained.info).model, lib_tiny_trained.model)


def test_file_metadata_wins_over_the_users_choice(lib_tiny_trained):
    other = dataclasses.replace(lib_tiny_trained.info, name="what the user picked")
    assert load_model_bytes(model_to_bytes(lib_tiny_trained), info=other).info == lib_tiny_trained.info


def test_float64_weights_are_converted(lib_tiny_trained):
    data = st_save({k: v.double() for k, v in lib_tiny_trained.model.state_dict().items()})
    loaded = load_model_bytes(data, info=lib_tiny_trained.info)
    assert loaded.model.fc1.weight.dtype == torch.float32
    assert same_outputs(loaded.model, lib_tiny_trained.model)


# --- code is never run -------------------------------------------------------------------------

class WritesMarker:
    """Unpickling this runs code: it writes the marker file (a stand-in for os.system)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def test_the_payload_really_runs_when_unpickled(tmp_path):
    """Control: the payload used below does execute with a plain pickle.loads."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(WritesMarker(marker)))
    assert marker.read_text() == "pwned"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("make", [
    *[pytest.param(lambda p, proto=proto: pickle.dumps(WritesMarker(p), protocol=proto), id=f"pickle-{proto}")
      for proto in range(pickle.HIGHEST_PROTOCOL + 1)],
    pytest.param(lambda p: torch_bytes(WritesMarker(p)), id="torch.save"),
    pytest.param(lambda p: torch_bytes(WritesMarker(p), legacy=True), id="torch.save-legacy"),
    pytest.param(lambda p: torch_bytes({"state_dict": {"w": torch.zeros(1)}, "x": WritesMarker(p)}),
                 id="hidden-in-checkpoint"),
    pytest.param(lambda p: torch_bytes({"conv1.weight": WritesMarker(p)}), id="as-a-tensor-value"),
])
def test_pickles_carrying_code_are_refused_and_not_run(tmp_path, lib_tiny_trained, make):
    marker = tmp_path / "marker"
    data = make(marker)
    for filename in ("model.pt", "model.pkl", "model.safetensors"):
        with pytest.raises(ModelLoadError) as info:
            load_model_bytes(data, filename=filename, info=lib_tiny_trained.info)
        assert "pickled Python objects" in str(info.value) or "not a model file" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_whole_pickled_module_is_refused(lib_tiny_trained, legacy):
    err = refused(torch_bytes(lib_tiny_trained.model, legacy=legacy), "pickled Python objects",
                  info=lib_tiny_trained.info)
    assert "state_dict()" in str(err)  # tells the user what to save instead


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still worth refusing
@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_is_refused(tmp_path, lib_tiny_trained, how):
    model = lib_tiny_trained.model
    compiled = torch.jit.script(model) if how == "script" else torch.jit.trace(model, X)
    path = tmp_path / "model.pt"
    torch.jit.save(compiled, str(path))
    with pytest.raises(ModelLoadError, match="TorchScript model, which contains code"):
        load_model(path, info=lib_tiny_trained.info)


# --- broken and foreign files ------------------------------------------------------------------

def test_empty_bytes():
    refused(b"", "The file is empty")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_refused(seed):
    rng = np.random.default_rng(seed)
    body = rng.integers(0, 256, int(rng.integers(1, 4000)), dtype=np.uint8).tobytes()
    prefix = [b"", b"\x80", b"\x80\x02", b"PK\x03\x04"][seed % 4]  # also as a pickle / a zip
    with pytest.raises(ModelLoadError):
        load_model_bytes(prefix + body, filename="model.pt")


@pytest.mark.parametrize("fmt, kind", [("PNG", "PNG"), ("JPEG", "JPEG"), ("GIF", "GIF"), ("BMP", "BMP")])
def test_image_renamed_to_safetensors(tmp_path, fmt, kind):
    path = tmp_path / "model.safetensors"
    Image.new("RGB", (4, 4)).save(path, fmt)
    with pytest.raises(ModelLoadError, match=f"This is a {kind} image, not a model file"):
        load_model(path)


def test_truncated_safetensors(lib_tiny_trained):
    data = model_to_bytes(lib_tiny_trained)
    header_len = struct.unpack("<Q", data[:8])[0]
    for cut in (9, 20, 8 + header_len // 2, 8 + header_len - 1):
        refused(data[:cut], r"truncated \(its header is cut off\)")
    for cut in (8 + header_len + 1, len(data) - 4, len(data) - 1):
        refused(data[:cut], "truncated: its tensor data is cut off")
    refused(data[:8], "not a model file")
    refused(data + b"junk", "could not be read")


def test_truncated_pt_zip(lib_tiny_trained):
    data = torch_bytes(lib_tiny_trained.model.state_dict())
    for cut in (10, len(data) // 2, len(data) - 1):
        refused(data[:cut], "damaged", info=lib_tiny_trained.info)


def test_absurd_declared_shape_is_refused_before_reading():
    # 100000 x 100000 float32 = 40 GB declared in a file of a few bytes.
    header = {"w": {"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, 40_000_000_000]}}
    err = refused(safetensors_bytes(header, b"\0" * 16), r"'w' has shape \(100000, 100000\)")
    assert "25,000,000" in str(err)


def test_many_tensors_add_up_to_the_limit(monkeypatch):
    monkeypatch.setattr(cio, "MAX_TOTAL_ELEMENTS", 10)
    header = {"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]},
              "b": {"dtype": "F32", "shape": [6], "data_offsets": [24, 48]}}
    refused(safetensors_bytes(header, b"\0" * 48), "more than 10 values")
    refused(torch_bytes({"a": torch.zeros(6), "b": torch.zeros(6)}), "more than 10 values")


@pytest.mark.parametrize("entry, message", [
    ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "too many"),   # negative dimension
    ({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}, "does not match its shape"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 64]}, "tensor data is cut off"),
    ({"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}, "unsupported type"),
    ({"dtype": "F32", "shape": "big", "data_offsets": [0, 8]}, "damaged"),
    ({"shape": [2], "data_offsets": [0, 8]}, "damaged"),
    ("not an entry", "damaged"),
])
def test_damaged_safetensors_entries(entry, message):
    refused(safetensors_bytes({"w": entry}, b"\0" * 16), message)


@pytest.mark.parametrize("header, message", [
    (b"{not json", "header is damaged"),
    (b"{\xff\xfe}", "header is damaged"),          # not UTF-8
    (b"[1, 2]", "not a model file"),             # the 9th byte is not '{': not taken for safetensors
    (b"\xff\xfe{}", "not a model file"),
])
def test_damaged_safetensors_header(header, message):
    refused(struct.pack("<Q", len(header)) + header, message)


def test_wrong_architecture_names_the_first_mismatching_tensor(lib_tiny_trained):
    lenet_weights = st_save(dict(lenet5(seed=0).state_dict()))
    info = ModelInfo("TinyVGG", tiny_vgg_spec(in_channels=1, input_size=28), Preprocessing(1, 28, (0.5,), (0.25,)),
                     tuple("0123456789"), "digits")
    err = refused(lenet_weights, r"Tensor 'conv1.weight' has shape \(6, 1, 5, 5\)", info=info)
    assert "TinyVGG needs (10, 1, 3, 3)" in str(err) and "another architecture" in str(err)


def test_missing_and_extra_tensors_are_named(lib_tiny_trained):
    weights = dict(lib_tiny_trained.model.state_dict())
    refused(st_save({k: v for k, v in weights.items() if k != "fc1.bias"}),
            "no tensor 'fc1.bias', which tiny needs", info=lib_tiny_trained.info)
    refused(st_save({**weights, "fc2.weight": torch.zeros(2, 2)}),
            "has a tensor 'fc2.weight' that tiny does not have", info=lib_tiny_trained.info)


@pytest.mark.parametrize("obj", [torch.zeros(3), [torch.zeros(3)], {}, {"a": 1}, {1: torch.zeros(1)},
                                 {"state_dict": [torch.zeros(1)]}],
                         ids=["tensor", "list", "empty-dict", "non-tensor-value", "int-key", "state-dict-list"])
def test_pt_holding_no_state_dict_is_refused(lib_tiny_trained, obj):
    refused(torch_bytes(obj), "does not hold a state_dict", info=lib_tiny_trained.info)


@pytest.mark.parametrize("metadata", ["{not json", "[1, 2, 3]", "42", '"a string"', "{}",
                                      '{"name": "x", "spec": {"kind": "cnn"}}'])
def test_damaged_cnnviz_metadata_is_refused(lib_tiny_trained, metadata):
    refused(with_metadata(lib_tiny_trained, metadata), "cnnviz metadata is damaged")


def test_metadata_for_another_architecture_is_refused(lib_tiny_trained):
    info = lib_tiny_trained.info.to_dict()
    info["spec"] = tiny_vgg_spec(in_channels=1, input_size=28, num_classes=3).to_dict()
    info["preprocessing"]["size"] = 28
    refused(with_metadata(lib_tiny_trained, info), "'conv1.weight'.*another architecture")


def test_metadata_with_an_unbuildable_spec_is_refused(lib_tiny_trained):
    info = lib_tiny_trained.info.to_dict()
    info["spec"]["padding_mode"] = "mirror"
    refused(with_metadata(lib_tiny_trained, info),
            "describes a network cnnviz does not build: padding_mode must be one of")
    info["spec"]["padding_mode"] = "zeros"
    info["spec"]["input_size"] = 2  # too small for a 3x3 convolution and a 2x2 pool
    refused(with_metadata(lib_tiny_trained, info), "describes a network cnnviz does not build: .*too small")


def test_file_over_the_size_limit(lib_tiny_trained):
    # 100 MB + 1 byte of zeros: refused by its length before anything is parsed
    refused(b"\0" * (cio.MAX_FILE_BYTES + 1), "model files are limited to 100 MB")
    data = model_to_bytes(lib_tiny_trained)
    refused(data, "model files are limited to", max_bytes=len(data) - 1)
    assert load_model_bytes(data, max_bytes=len(data)).info == lib_tiny_trained.info


def test_onnx_gets_its_own_message():
    onnx_like = b"\x08\x07\x12\x07pytorch\x1a\x032.0"  # protobuf: ir_version 7, producer "pytorch"
    refused(onnx_like, "ONNX models are not supported", filename="model.onnx")
    refused(onnx_like, "not a model file", filename="model.bin")


# --- whatever a file claims, what loads must work ----------------------------------------------

def _tensors_for(spec: CNNSpec) -> dict:
    return dict(build_model(spec, seed=0).state_dict())


def _spec_dict(trained, **changes):
    info = trained.info.to_dict()
    for key, value in changes.items():
        if key in info["spec"]["convs"][0]:
            info["spec"]["convs"][0][key] = value
        else:
            info["spec"][key] = value
    return info


@pytest.mark.parametrize("case", [
    pytest.param("activation", id="unknown-activation"),
    pytest.param("stride", id="stride-0"),
    pytest.param("pool_size", id="pool-size-0"),
    pytest.param("pool", id="unknown-pool"),
    pytest.param("channels", id="preprocessing-channels"),
    pytest.param("classes", id="class-count"),
    pytest.param("fine", id="valid-control"),
])
def test_what_loads_can_predict(lib_tiny_trained, case):
    """A file that loads gives a model that predicts len(class_names) probabilities for an
    image of its preprocessing's shape; anything else must be a ModelLoadError at load time."""
    base = lib_tiny_trained
    if case in ("activation", "stride", "pool_size", "pool"):
        value = {"activation": "gelu", "stride": 0, "pool_size": 0, "pool": "median"}[case]
        data = with_metadata(base, _spec_dict(base, **{case: value}))
    else:
        # ModelInfo refuses these when built in Python, so edit its JSON form as a damaged file would.
        info = base.info.to_dict()
        if case == "channels":
            info["preprocessing"] = Preprocessing(3, 8, (0.5,) * 3, (0.25,) * 3).to_dict()
        elif case == "classes":
            info["class_names"] = ["a", "b"]
        data = st_save(_tensors_for(base.info.spec), metadata={"cnnviz": json.dumps(info)})
    try:
        loaded = load_model_bytes(data)
    except ModelLoadError:
        return
    images = np.zeros((1, *loaded.info.preprocessing.input_shape), dtype=np.float32)
    assert loaded.predict_proba(images).shape == (1, len(loaded.info.class_names))


def _fuzz_file() -> tuple[bytes, range]:
    """A small cnnviz file, and where in it the cnnviz metadata string lies."""
    spec = CNNSpec("tiny", 1, 8, (ConvSpec(2, 3, pool="max"),), num_classes=3)
    info = ModelInfo("tiny", spec, Preprocessing(1, 8, (0.5,), (0.25,)), ("a", "b", "c"), "toy")
    data = model_to_bytes(TrainedModel(build_model(spec, seed=0), info))
    span = re.search(rb'"cnnviz":"((?:[^"\\]|\\.)*)"', data).span(1)
    return data, range(*span)


FUZZ_FILE, METADATA_SPAN = _fuzz_file()


@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 0.999), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_damaged_model_files_load_or_raise_model_load_error(edits, cut):
    """Bytes changed anywhere but inside the cnnviz metadata text (see the next test for that):
    the safetensors layer either still reads the file or refuses it with a ModelLoadError."""
    data = bytearray(FUZZ_FILE)
    outside = [i for i in range(len(data)) if i not in METADATA_SPAN]
    for where, value in edits:
        data[outside[int(where * len(outside))]] = value
    if cut is not None:
        data = data[:max(1, int(cut * len(data)))]
    try:
        loaded = load_model_bytes(bytes(data))
    except ModelLoadError:
        return
    assert loaded.predict_proba(np.zeros((1, 1, 8, 8), dtype=np.float32)).shape == (1, 3)


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 40), st.floats(allow_nan=False, width=32),
                        st.sampled_from(["", "relu", "max", "avg", "zeros", "x"]), st.lists(st.integers(0, 3)))


@FUZZ
@given(field=st.sampled_from(["in_channels", "input_size", "num_classes", "activation", "padding_mode",
                              "hidden", "out_channels", "kernel_size", "stride", "padding", "dilation",
                              "batch_norm", "pool", "pool_size"]), value=JSON_VALUES)
@example(field="activation", value="x")
def test_any_spec_value_in_metadata_is_refused_or_loads_a_working_model(field, value):
    spec = CNNSpec("tiny", 1, 8, (ConvSpec(2, 3, pool="max"),), num_classes=3)
    info = ModelInfo("tiny", spec, Preprocessing(1, 8, (0.5,), (0.25,)), ("a", "b", "c"), "toy").to_dict()
    target = info["spec"]["convs"][0] if field in info["spec"]["convs"][0] else info["spec"]
    target[field] = value
    data = st_save(_tensors_for(spec), metadata={"cnnviz": json.dumps(info)})
    try:
        loaded = load_model_bytes(data)
    except ModelLoadError:
        return
    images = np.zeros((1, *loaded.info.preprocessing.input_shape), dtype=np.float32)
    assert loaded.predict_proba(images).shape == (1, len(loaded.info.class_names))


def test_a_pt_file_that_would_inflate_too_far_is_refused_before_loading(monkeypatch):
    import zipfile

    # A deflated entry of 2 MB of zeros is a few KB on disk; the check reads the sizes in the
    # archive's directory, so nothing is inflated.
    monkeypatch.setattr(cio, "MAX_TOTAL_ELEMENTS", 100)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/0", b"\0" * (2 * 2**20))
    assert len(buffer.getvalue()) < 20_000
    with pytest.raises(ModelLoadError, match="unpacks to more than"):
        load_model_bytes(buffer.getvalue(), filename="bomb.pt")


def test_a_file_from_a_newer_format_is_refused(lib_tiny_trained):
    info = lib_tiny_trained.info.to_dict()
    info["format"] = info["format"] + 1
    with pytest.raises(ModelLoadError, match="newer cnnviz"):
        load_model_bytes(with_metadata(lib_tiny_trained, info))


# --- a view saved with the model ----------------------------------------------------------------

def test_a_view_saved_with_a_model_comes_back_and_the_model_still_loads(lib_tiny_trained):
    from cnnviz import load_model_bytes, model_to_bytes, saved_view

    view = {"page": "pooling", "params": {"pool_kind": "avg", "pool_kernel": "3"}}
    data = model_to_bytes(lib_tiny_trained, view=view)
    assert saved_view(data) == view
    assert load_model_bytes(data).info == lib_tiny_trained.info
    assert saved_view(model_to_bytes(lib_tiny_trained)) is None       # a plain model file has none


@pytest.mark.parametrize("data", [b"", b"not a model", b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage"])
def test_saved_view_of_other_files_is_none(data):
    from cnnviz import saved_view

    assert saved_view(data) is None


def test_a_malformed_view_is_refused_when_saving(lib_tiny_trained):
    from cnnviz import model_to_bytes

    for view in ({"page": 3, "params": {}}, {"page": "x", "params": {"k": 1}}, {"params": {}}, "pooling"):
        with pytest.raises(ValueError):
            model_to_bytes(lib_tiny_trained, view=view)


# --- files that would load but crash the pages, or cost too much (issue 13) --------------------

def _pt_with(lib_tiny_trained, key: str, tensor: torch.Tensor) -> bytes:
    state = dict(lib_tiny_trained.model.state_dict())
    state[key] = tensor
    return torch_bytes(state)


@pytest.mark.parametrize("kind", ["sparse", "quantised", "complex", "sparse_csr"])
def test_pt_tensors_that_are_not_plain_dense_numbers_are_refused(lib_tiny_trained, kind):
    weight = lib_tiny_trained.model.state_dict()["conv1.weight"]
    tensor = {"sparse": lambda: weight.to_sparse(),
              "sparse_csr": lambda: weight.reshape(2, 9).to_sparse_csr(),
              "quantised": lambda: torch.quantize_per_tensor(weight, 0.1, 0, torch.qint8),
              "complex": lambda: weight.to(torch.complex64)}[kind]()
    data = _pt_with(lib_tiny_trained, "conv1.weight", tensor)
    error = refused(data, "cnnviz reads plain", info=lib_tiny_trained.info)
    assert "conv1.weight" in str(error)


def test_errors_of_load_state_dict_become_model_load_errors(lib_tiny_trained, monkeypatch):
    def broken(self, state, *args, **kwargs):
        raise RuntimeError("Error(s) in loading state_dict")
    monkeypatch.setattr(torch.nn.Module, "load_state_dict", broken)
    refused(model_to_bytes(lib_tiny_trained), "could not be loaded into tiny")


@pytest.mark.parametrize("channels", [2, 4])
def test_image_models_for_other_than_1_or_3_channels_are_refused_on_load(channels):
    spec = CNNSpec("odd", channels, 8, (ConvSpec(2, 3),), num_classes=2)
    info = ModelInfo("odd", spec, Preprocessing(channels, 8, (0.5,) * channels, (0.25,) * channels), ("a", "b"), "x")
    data = model_to_bytes(TrainedModel(build_model(spec, seed=0), info))
    refused(data, f"images with {channels} channels; cnnviz can only prepare greyscale")
    refused(data, "greyscale", budget=None)   # not a cost: the opt-out does not skip it


def test_reflect_padding_larger_than_the_map_is_refused_on_load(lib_tiny_trained):
    info = _spec_dict(lib_tiny_trained, padding=8, padding_mode="reflect")
    refused(with_metadata(lib_tiny_trained, info), "reflect padding, which must be less than 8")


def test_loading_is_linear_in_the_number_of_tensors(lib_tiny_trained, monkeypatch):
    calls = []
    original = torch.nn.Module.state_dict

    def counting(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(torch.nn.Module, "state_dict", counting)
    spec = CNNSpec("deep", 1, 8, (ConvSpec(2, 1),) * 6, hidden=(4,) * 16, num_classes=3)
    info = dataclasses.replace(lib_tiny_trained.info, spec=spec, name="deep")
    data = st_save({k: v.clone() for k, v in build_model(spec, seed=0).state_dict().items()},
                   metadata={"cnnviz": json.dumps(info.to_dict())})
    calls.clear()
    load_model_bytes(data)
    top_level = [m for m in calls if m.__class__.__name__ == "CNN"]
    assert len(top_level) == 2   # the meta build's and the real model's, not one per tensor (46 here)


def test_the_budget_is_checked_on_load_with_an_opt_out(tmp_path, lib_tiny_trained):
    from cnnviz import Budget, ModelTooCostlyError

    tight = Budget(max_multiply_adds=10, max_activation_bytes=10**9)
    with pytest.raises(ModelTooCostlyError, match=r"multiply-adds per image \(this server allows 10\)"):
        load_model_bytes(model_to_bytes(lib_tiny_trained), budget=tight)
    path = tmp_path / "tiny.safetensors"
    save_model(lib_tiny_trained, path)
    with pytest.raises(ModelTooCostlyError):
        load_model(path, budget=tight)
    assert load_model(path, budget=None).info == lib_tiny_trained.info


def test_a_text_model_is_checked_at_its_longest_text():
    from cnnviz import HOSTED, ModelTooCostlyError, TextCNNSpec, TextPreprocessing, Vocabulary, build_from_spec

    vocabulary = Vocabulary.build(["a b c d"])
    spec = TextCNNSpec(vocab_size=len(vocabulary), embedding_dim=64, widths=(3, 4, 5), filters=64)
    for max_length, refused_here in [(64, False), (100_000, True)]:
        info = ModelInfo("long", spec, TextPreprocessing(vocabulary, max_length), ("a", "b"), "x")
        data = model_to_bytes(TrainedModel(build_from_spec(spec, seed=0), info))
        if refused_here:  # per token 64*64*(3 + 4 + 5) = 49,152 multiply-adds: 3.1 M for 64 tokens, 4.9 G for 100,000
            with pytest.raises(ModelTooCostlyError, match="multiply-adds per text"):
                load_model_bytes(data, budget=HOSTED.budget())
        else:
            load_model_bytes(data, budget=HOSTED.budget())


# --- float16 storage (weights_dtype) ---------------------------------------------------------------

def _bn_model(lib_tiny_trained) -> TrainedModel:
    spec = CNNSpec("bn", 1, 8, (ConvSpec(3, 3, batch_norm=True, pool="avg"),), num_classes=3)
    model = build_model(spec, seed=0)
    with torch.no_grad():
        model.bn1.running_var.fill_(1 / 3)  # not a float16 value: rounding it must show
    return TrainedModel(model.eval(), dataclasses.replace(lib_tiny_trained.info, spec=spec))


def test_float16_storage_halves_the_floats_and_loads_into_float32(tmp_path, lib_tiny_trained):
    trained = _bn_model(lib_tiny_trained)
    state = trained.model.state_dict()
    half = model_to_bytes(trained, weights_dtype=torch.float16)
    header = json.loads(half[8:8 + int.from_bytes(half[:8], "little")])
    assert {name: header[name]["dtype"] for name in state} == {
        name: "I64" if name.endswith("num_batches_tracked") else "F16" for name in state}
    floats = sum(t.numel() for t in state.values() if t.is_floating_point())
    def payload(data: bytes) -> int:  # the bytes after the JSON header
        return len(data) - 8 - int.from_bytes(data[:8], "little")

    assert payload(model_to_bytes(trained)) - payload(half) == 2 * floats  # 2 bytes a value, not 4
    save_model(trained, tmp_path / "half.safetensors", weights_dtype=torch.float16)
    assert (tmp_path / "half.safetensors").read_bytes() == half
    loaded = load_model_bytes(half)
    for name, tensor in loaded.model.state_dict().items():
        assert tensor.dtype == state[name].dtype  # float32 again (int64 for the counter)
        expected = state[name].half().float() if tensor.is_floating_point() else state[name]
        assert torch.equal(tensor, expected), name
    assert loaded.model.bn1.running_var[0].item() == np.float32(np.float16(1 / 3))
    assert model_to_bytes(loaded, weights_dtype=torch.float16) == half  # float16 values survive the round trip


def test_without_weights_dtype_the_file_keeps_float32(lib_tiny_trained):
    assert model_to_bytes(lib_tiny_trained) == model_to_bytes(lib_tiny_trained, weights_dtype=None)
    assert {t.dtype for t in st_load(model_to_bytes(lib_tiny_trained)).values()} == {torch.float32}


@pytest.mark.parametrize("entry, message", [
    ({"dtype": "F16", "shape": [3], "data_offsets": [0, 12]}, "does not match its shape"),  # float32 sizes
    ({"dtype": "F16", "shape": [8], "data_offsets": [0, 16]}, "tensor data is cut off"),
])
def test_damaged_float16_entries_are_refused(entry, message):
    refused(safetensors_bytes({"w": entry}, b"\0" * 12), message)


def test_a_float16_file_of_another_shape_is_refused(lib_tiny_trained):
    tensors = {k: v.half() for k, v in lib_tiny_trained.model.state_dict().items()}
    tensors["fc1.weight"] = torch.zeros(3, 19, dtype=torch.float16)
    data = st_save(tensors, metadata={"cnnviz": json.dumps(lib_tiny_trained.info.to_dict())})
    refused(data, "fc1.weight")


def test_lossless_weights_dtype_is_float16_only_where_float16_loses_nothing(lib_tiny_trained):
    from cnnviz import lossless_weights_dtype

    assert lossless_weights_dtype(lib_tiny_trained) is None            # seeded float32 weights
    half = load_model_bytes(model_to_bytes(lib_tiny_trained, weights_dtype=torch.float16))
    assert lossless_weights_dtype(half) == torch.float16                # every weight is a float16 value now
    again = load_model_bytes(model_to_bytes(half, weights_dtype=lossless_weights_dtype(half)))
    assert all(torch.equal(again.model.state_dict()[k], v) for k, v in half.model.state_dict().items())
    with torch.no_grad():
        half.model.conv1.weight[0, 0, 0, 0] += 1e-4                    # one weight between float16 values
    assert lossless_weights_dtype(half) is None
