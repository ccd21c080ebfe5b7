"""Safe model files: one .safetensors file holds the weights and everything needed to rebuild the model.

A cnnviz model file stores, in its safetensors metadata under the key "cnnviz",
the architecture spec, the preprocessing, the class names, the data set and the
test accuracy. Uploads may also be a bare state_dict (.safetensors, or a .pt file
read with `torch.load(weights_only=True)`) for an architecture chosen by the user.

Nothing is ever unpickled beyond tensors or executed: pickled modules,
TorchScript, ONNX and anything unrecognised are refused with a `ModelLoadError`
whose message is meant for the user. A valid file can still describe a network
that is ruinous to run: its cost is computed from the spec and checked against a
`Budget` before anything is built (`cnnviz.models.budget`), and models the app cannot
feed (image channels other than 1 or 3) are refused on load too.

A file may also carry a training replay (`cnnviz.analysis.replay`): tensors whose names start with
`REPLAY_PREFIX`, described by JSON under the metadata key "cnnviz_replay". They are never weights:
`load_model_bytes` sets them aside (a file with a replay loads the same model as one without), and
`saved_replay` reads them back, under the same checks as the weights.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from cnnviz.errors import ModelLoadError
from cnnviz.models.budget import (
    APP_BATCH_SIZE,
    DEFAULT_BUDGET,
    MAX_PARAMETERS,
    Budget,
    check_budget,
)
from cnnviz.models.specs import AnySpec, build_from_spec, is_text_spec
from cnnviz.models.trained import ModelInfo, TrainedModel

MAX_FILE_BYTES = 100 * 2**20
MAX_TOTAL_ELEMENTS = MAX_PARAMETERS  # 25,000,000: 100 MB of float32, far above any model cnnviz builds
_IMAGE_CHANNELS = (1, 3)  # what cnnviz.data.images.to_model_input prepares: greyscale or RGB
_METADATA_KEY = "cnnviz"
_VIEW_KEY = "cnnviz_view"  # optional: a page of the app and its link settings, saved with the model
REPLAY_PREFIX = "cnnviz_replay."  # tensors of a training replay saved with the model; no cnnviz layer has this name
_REPLAY_KEY = "cnnviz_replay"  # the replay's JSON description in the metadata
_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)  # besides floats
_SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                       "I8": 1, "U8": 1, "BOOL": 1}


@dataclass(frozen=True, eq=False)
class FileSection:
    """Tensors and their JSON description saved in a model file beside the weights (a training replay)."""

    tensors: dict[str, torch.Tensor]  # names without the section's prefix
    metadata: dict[str, Any]


class SavesToFile(Protocol):
    """What `model_to_bytes(replay=...)` takes: anything that gives a `FileSection` (`cnnviz.TrainingReplay`)."""

    def to_section(self) -> FileSection:
        """The tensors and JSON description to save."""
        ...


def model_to_bytes(trained: TrainedModel, *, view: dict[str, Any] | None = None,
                   weights_dtype: torch.dtype | None = None, replay: SavesToFile | None = None) -> bytes:
    """The .safetensors file content for `trained`, weights plus metadata.

    `view` ({"page": url path, "params": {name: value}}) saves a view of the app
    with the model, so one file hands a class both the model and what to look at.
    `weights_dtype` (e.g. torch.float16: half the file) stores every floating tensor in that
    type; loading casts them back to the model's own (float32). `replay` (a `cnnviz.TrainingReplay`)
    is saved beside the weights, its tensors in their own types (`saved_replay` reads it back).
    """
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in trained.model.state_dict().items()}
    if weights_dtype is not None:
        tensors = {k: v.to(weights_dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    metadata = {_METADATA_KEY: json.dumps(trained.info.to_dict())}
    if view is not None:
        metadata[_VIEW_KEY] = json.dumps(_checked_view(view))
    if replay is not None:
        section = replay.to_section()
        tensors.update({REPLAY_PREFIX + k: v.detach().cpu().contiguous() for k, v in section.tensors.items()})
        metadata[_REPLAY_KEY] = json.dumps(section.metadata)
    return save(tensors, metadata=metadata)


def saved_replay(data: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> FileSection | None:
    """The training replay saved in a model file by `model_to_bytes(..., replay=...)` as it is stored
    (`cnnviz.load_replay` checks and rebuilds it), or None for a file without one (or not safetensors).

    The file passes the checks of `load_model_bytes` first (size, header, declared shapes against
    the data); a damaged one raises `ModelLoadError`.
    """
    if not data or data[:4] == b"PK\x03\x04" or not _looks_like_safetensors(data):
        return None
    if len(data) > max_bytes:
        raise ModelLoadError(f"The file is {len(data) / 2**20:.1f} MB; model files are limited to "
                             f"{max_bytes / 2**20:.0f} MB.")
    header = _safetensors_header(data)
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or _REPLAY_KEY not in metadata:
        return None
    tensors = _read_safetensors(data, header)
    try:
        description = json.loads(metadata[_REPLAY_KEY])
    except (TypeError, ValueError, RecursionError) as exc:
        raise ModelLoadError("The file's training replay is damaged: its description is not JSON.") from exc
    if not isinstance(description, dict):
        raise ModelLoadError("The file's training replay is damaged: its description is not a JSON object.")
    return FileSection({k.removeprefix(REPLAY_PREFIX): v for k, v in tensors.items() if k.startswith(REPLAY_PREFIX)},
                       description)


def _checked_view(view: object) -> dict[str, Any]:
    if (not isinstance(view, dict) or not isinstance(view.get("page"), str)
            or not isinstance(view.get("params"), dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in view["params"].items())):
        raise ValueError('a view is {"page": str, "params": {str: str}}')
    return {"page": view["page"], "params": dict(view["params"])}


def lossless_weights_dtype(trained: TrainedModel) -> torch.dtype | None:
    """torch.float16 if every floating weight of the model is a float16 value, else None.

    A model loaded from a float16 file (the zoo's MR text models and EfficientNet-Lite0) is such a
    model: `model_to_bytes(trained, weights_dtype=lossless_weights_dtype(trained))` then writes a file
    half the size that loads into exactly the same weights (EfficientNet-Lite0: 9.4 MB, not 18.8 MB).
    """
    for tensor in trained.model.state_dict().values():
        if tensor.is_floating_point() and not torch.equal(tensor.half().to(tensor.dtype), tensor):
            return None
    return torch.float16


def saved_view(data: bytes) -> dict[str, Any] | None:
    """The view saved in a model file by `model_to_bytes(..., view=...)`, or None (also for any other file)."""
    if not _looks_like_safetensors(data):
        return None
    header_len = int.from_bytes(data[:8], "little")
    try:
        metadata = json.loads(data[8:8 + header_len]).get("__metadata__") or {}
        return _checked_view(json.loads(metadata[_VIEW_KEY]))
    # no view, or a damaged one (RecursionError: JSON nested too deeply): no view
    except (KeyError, AttributeError, TypeError, ValueError, RecursionError):
        return None


def save_model(trained: TrainedModel, path: str | Path, *, weights_dtype: torch.dtype | None = None,
               replay: SavesToFile | None = None) -> None:
    """Write `trained` to one .safetensors file that `load_model` rebuilds it from (`weights_dtype` and
    `replay`: as in `model_to_bytes`)."""
    Path(path).write_bytes(model_to_bytes(trained, weights_dtype=weights_dtype, replay=replay))


def load_model(path: str | Path, *, info: ModelInfo | None = None,
               budget: Budget | None = DEFAULT_BUDGET) -> TrainedModel:
    """Rebuild a model from a file written by `save_model` (or a bare state_dict plus `info`).

    `budget` as in `load_model_bytes`; None loads a model whatever it costs.
    """
    path = Path(path)
    return load_model_bytes(path.read_bytes(), filename=path.name, info=info, budget=budget)


def load_model_bytes(data: bytes, *, filename: str = "", info: ModelInfo | None = None,
                     max_bytes: int = MAX_FILE_BYTES, budget: Budget | None = DEFAULT_BUDGET) -> TrainedModel:
    """Rebuild a model from a file's bytes, refusing anything that is not plain weights.

    A cnnviz file brings its own `ModelInfo`; a bare state_dict needs `info` (the
    architecture and data set picked by the user). The file's kind is told from
    its content, not its name. Files over `max_bytes` are refused unread.
    The model's cost (`cnnviz.models.budget.model_cost`, at `APP_BATCH_SIZE` examples and the
    preprocessing's longest text) is checked against `budget` before anything is built;
    the default is the generous budget of a local app, `budget=None` skips the check (a
    notebook that means to run a big model). Image models must take 1 or 3 channels.
    Raises `ModelLoadError` (`ModelTooCostlyError` for the budget) with a message for the user.
    """
    if not data:
        raise ModelLoadError("The file is empty.")
    if len(data) > max_bytes:
        raise ModelLoadError(f"The file is {len(data) / 2**20:.1f} MB; model files are limited to "
                             f"{max_bytes / 2**20:.0f} MB.")
    image_kind = _image_kind(data)
    if image_kind:
        raise ModelLoadError(f"This is a {image_kind} image, not a model file.")
    # safetensors first: its 8-byte header length may start with 0x80 (a length of 128 + 256k), which is also
    # how a pickle starts; a legacy .pt never has "{" at byte 8 (its pickle starts with a fixed magic number).
    if data[:4] != b"PK\x03\x04" and _looks_like_safetensors(data):
        tensors, file_info = _load_safetensors(data)
        # A training replay saved beside the weights is not part of the model (saved_replay reads it).
        tensors = {k: v for k, v in tensors.items() if not k.startswith(REPLAY_PREFIX)}
    elif data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":
        tensors, file_info = _load_torch_file(data), None
    elif filename.lower().endswith(".onnx"):
        raise ModelLoadError("ONNX models are not supported; upload a .safetensors file or a .pt state_dict.")
    else:
        raise ModelLoadError("This is not a model file cnnviz can read: upload a .safetensors file "
                             "(saved by cnnviz, or a state_dict) or a .pt file holding a state_dict.")
    chosen = file_info or info
    if chosen is None:
        raise ModelLoadError("This file holds weights only, without cnnviz metadata: pick the "
                             "architecture and data set it was trained for, then load it again.")
    _check_runnable(chosen, budget)
    return TrainedModel(_build_with_weights(chosen.spec, tensors), chosen)


def _check_runnable(info: ModelInfo, budget: Budget | None) -> None:
    """Refuse, before building it, a model the pages could not feed or that is over `budget`."""
    spec = info.spec
    if not is_text_spec(spec) and getattr(spec, "in_channels", None) not in _IMAGE_CHANNELS:
        raise ModelLoadError(f"This model takes images with {spec.in_channels} channels; cnnviz can only "
                             "prepare greyscale (1 channel) or colour (3 channels) images.")
    if budget is not None:
        length = getattr(info.preprocessing, "max_length", None)
        check_budget(spec, budget, batch=APP_BATCH_SIZE, text_length=length)


def _image_kind(data: bytes) -> str | None:
    signatures = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"BM": "BMP"}
    return next((kind for magic, kind in signatures.items() if data.startswith(magic)), None)


def _looks_like_safetensors(data: bytes) -> bool:
    return len(data) >= 9 and data[8:9] == b"{"


def _safetensors_header(data: bytes) -> dict[str, Any]:
    """The JSON header of a .safetensors file, refusing truncated or damaged files."""
    header_len = int.from_bytes(data[:8], "little")
    if header_len > len(data) - 8:
        raise ModelLoadError("The .safetensors file is truncated (its header is cut off).")
    try:
        header = json.loads(data[8:8 + header_len])
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, a 5,000-digit number, nested too deeply
        raise ModelLoadError("The .safetensors file's header is damaged.") from exc
    if not isinstance(header, dict):
        raise ModelLoadError("The .safetensors file's header is damaged.")
    return header


def _read_safetensors(data: bytes, header: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Every tensor of the file, once its declared shapes and sizes passed the checks."""
    from safetensors.torch import load

    _check_safetensors_sizes(header, payload=len(data) - 8 - int.from_bytes(data[:8], "little"))
    try:
        return load(data)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise ModelLoadError(f"The .safetensors file could not be read: {exc}") from exc


def _load_safetensors(data: bytes) -> tuple[dict[str, torch.Tensor], ModelInfo | None]:
    header = _safetensors_header(data)
    tensors = _read_safetensors(data, header)
    metadata = header.get("__metadata__") or {}
    if _METADATA_KEY not in metadata:
        return tensors, None
    try:
        info_dict = json.loads(metadata[_METADATA_KEY])
    except (TypeError, ValueError, RecursionError) as exc:
        raise ModelLoadError("The model file's cnnviz metadata is damaged.") from exc
    if not isinstance(info_dict, dict):
        raise ModelLoadError("The model file's cnnviz metadata is damaged.")
    try:
        return tensors, ModelInfo.from_dict(info_dict)
    except OverflowError as exc:  # float() of a huge whole number, e.g. a test accuracy of 10**400
        raise ModelLoadError(f"The model file's cnnviz metadata is damaged: {exc}.") from exc


def _check_safetensors_sizes(header: dict[str, Any], *, payload: int) -> None:
    """Refuse truncated files and absurd tensor shapes before any tensor is read."""
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            shape = [int(s) for s in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
            itemsize = _SAFETENSORS_DTYPES[entry["dtype"]]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(Infinity)
            raise ModelLoadError(f"The .safetensors entry for {name!r} is damaged or of an "
                                 "unsupported type.") from exc
        elements = math.prod(shape)
        total += elements
        if total > MAX_TOTAL_ELEMENTS or any(s < 0 for s in shape):
            raise ModelLoadError(f"Tensor {name!r} has shape {tuple(shape)}: the file declares more than "
                                 f"{MAX_TOTAL_ELEMENTS:,} values, too many for cnnviz.")
        if end > payload:
            raise ModelLoadError("The .safetensors file is truncated: its tensor data is cut off.")
        if end - begin != elements * itemsize:
            raise ModelLoadError(f"The .safetensors entry for {name!r} is damaged: its size does "
                                 "not match its shape.")


def _load_torch_file(data: bytes) -> dict[str, torch.Tensor]:
    if data[:4] == b"PK\x03\x04":
        try:
            entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
        # BadZipFile, but also UnicodeDecodeError (a name flagged UTF-8 that is not) and NotImplementedError
        except (zipfile.BadZipFile, ValueError, NotImplementedError, OSError, EOFError) as exc:
            raise ModelLoadError("The .pt file is damaged (not a complete archive).") from exc
        names = [entry.filename for entry in entries]
        # torch.load inflates every entry before we could count elements: check the sizes first.
        if sum(entry.file_size for entry in entries) > 4 * MAX_TOTAL_ELEMENTS + 2**20:
            raise ModelLoadError(f"The .pt file unpacks to more than {4 * MAX_TOTAL_ELEMENTS / 2**20:.0f} MB, "
                                 "too much for cnnviz.")
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            raise ModelLoadError("This is a TorchScript model, which contains code; cnnviz does not run "
                                 "it. Upload a state_dict (.pt) or a .safetensors file instead.")
    try:
        # weights_only=True: the unpickler accepts tensors and plain containers, never arbitrary objects.
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelLoadError(
            "This file holds pickled Python objects beyond weights (for example a whole model saved "
            "with torch.save(model)); cnnviz never unpickles those. Save model.state_dict() instead.") from exc
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types for damaged files
        raise ModelLoadError(f"The .pt file could not be read as a state_dict: {exc}") from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise ModelLoadError("The .pt file does not hold a state_dict (a mapping of names to tensors).")
    for name, tensor in obj.items():
        if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_complex() or tensor.is_meta \
                or not (tensor.is_floating_point() or tensor.dtype in _INTEGER_DTYPES):
            kind = ("sparse" if tensor.layout != torch.strided else "quantised" if tensor.is_quantized
                    else "empty (meta)" if tensor.is_meta else str(tensor.dtype).removeprefix("torch."))
            raise ModelLoadError(f"Tensor {name!r} in the .pt file is {kind}; cnnviz reads plain (dense) "
                                 "float or integer tensors only.")
    if sum(v.numel() for v in obj.values()) > MAX_TOTAL_ELEMENTS:
        raise ModelLoadError(f"The file holds more than {MAX_TOTAL_ELEMENTS:,} values, too many for cnnviz.")
    return obj



def _build_with_weights(spec: AnySpec, tensors: dict[str, torch.Tensor]) -> nn.Module:
    try:
        with torch.device("meta"):  # shapes only: an absurd spec costs no memory
            expected = {k: tuple(v.shape) for k, v in build_from_spec(spec).state_dict().items()}
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelLoadError(f"The architecture in the file cannot be built: {exc}") from exc
    for key, shape in expected.items():
        if key not in tensors:
            raise ModelLoadError(f"The file has no tensor {key!r}, which {spec.name} needs: "
                                 "it is for another architecture.")
        if tuple(tensors[key].shape) != shape:
            raise ModelLoadError(f"Tensor {key!r} has shape {tuple(tensors[key].shape)} in the file, "
                                 f"but {spec.name} needs {shape}: the file is for another architecture.")
    extra = [k for k in tensors if k not in expected]
    if extra:
        raise ModelLoadError(f"The file has a tensor {extra[0]!r} that {spec.name} does not have: "
                             "it is for another architecture.")
    model = build_from_spec(spec)
    state = model.state_dict()  # once: a call per tensor made loading quadratic in the number of tensors
    try:
        model.load_state_dict({k: v.to(state[k].dtype) for k, v in tensors.items()})
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"The weights in the file could not be loaded into {spec.name}: {exc}") from exc
    model.eval()
    return model
