"""Fuzz tests: every loader of user input gets bad input of every kind; it answers with a clear
`CnnvizError` (a message for the user) or a valid result, and never crashes, hangs or runs code.

What is fuzzed, beyond the hypothesis tests in data/test_images.py, models/test_files.py and data/test_tokenizer.py:

- images (`decode_image`, then `to_model_input`): valid odd images of random size and content in
  every mode each upload format has (1, L, LA, P with and without transparency, RGB, RGBA, 16-bit
  grey I;16, CMYK JPEG, animated GIF and WEBP), which must decode to [0, 1] inputs of the model's
  shape; every truncation of valid PNG/JPEG/GIF/BMP/WEBP files; headers claiming up to 2**31 pixels
  a side (decompression bombs, refused at once); random bytes, alone and behind each format's magic
  number; zero bytes; formats that are not uploads (ICO, TIFF, PPM, ...); arrays of any dtype, NaN,
  inf and odd shapes given to `to_model_input`.
- model files (`load_model_bytes`, `saved_view`): pickles carrying code (os.system, exec, a function
  of this module, subprocess, eval) as raw pickles, torch.save zip and legacy files and hidden in a
  state_dict, which are refused with the payload never run; random bytes behind each file kind's
  magic; safetensors headers with bad lengths, damaged or deeply nested JSON, absurd shapes, dtypes
  and offsets, random JSON entries; random edits of valid .pt zip and legacy files; zip archives with
  odd content; TorchScript with its code entries stripped; the cnnviz metadata of a CNN, a TextCNN
  and a fastText file replaced by random JSON or changed at a random place (what loads must predict).
- CSV uploads (`csv_columns`, `texts_from_csv`, `text_dataset_from_rows`): wrong encodings (UTF-16
  with and without BOM, UTF-32, Latin-1 and Windows-1252 bytes, BOMs), missing columns, empty and
  header-only files, a million rows (refused by the row cap in well under a second), binary garbage,
  random text as a CSV file, random tables written by the csv module (read back exactly), random rows.
- typed sentences (`tokenize`, `TextPreprocessing.encode_batch`, `TrainedModel.predict_proba` of the zoo
  TextCNN, `ngram_activations` as the TextCNN page calls them): empty, white space, 100,000 characters,
  control characters, NUL, emoji, CJK, lone surrogates and random Unicode: never an exception, ids in
  the vocabulary, probabilities that sum to 1.

Hypothesis runs derandomized (the same cases every run, reproducible in CI), without deadline and
without its example database: 7,350 generated cases in 16 properties (150 to 800 each), plus 226
example-based tests, among them every cut of 15 image files (8,760 decodes). About 30 s of CPU on one
core (torch is held to one thread here), 45 s wall on a busy 2-core machine.
"""

from __future__ import annotations

import builtins
import codecs
import csv
import functools
import io
import json
import os
import pickle
import resource
import shlex
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from safetensors.torch import save as st_save

from cnnviz import (
    CNNSpec,
    CnnvizError,
    ConvSpec,
    DatasetUnavailableError,
    ImageLoadError,
    ModelInfo,
    ModelLoadError,
    Preprocessing,
    TextPreprocessing,
    TrainedModel,
    Vocabulary,
    build_from_spec,
    build_model,
    csv_columns,
    decode_image,
    load_model_bytes,
    load_zoo_model,
    model_to_bytes,
    ngram_activations,
    saved_view,
    text_dataset_from_rows,
    texts_from_csv,
    to_model_input,
    tokenize,
)
from cnnviz.models.text import FastTextSpec, TextCNNSpec


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The models here are tiny: a second intra-op thread only adds hand-offs, which cost 10x the work on a
    busy 2-core machine. Restored after the module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fuzz(n: int):
    """Hypothesis settings for n examples: reproducible (derandomized, no database), no deadline."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def assert_user_message(exc: BaseException) -> str:
    """A message written for a person: a sentence of a few words, not empty, not a bare repr."""
    message = str(exc)
    assert isinstance(exc, CnnvizError), f"{type(exc).__name__}: {message}"
    assert message.strip(), f"{type(exc).__name__} without a message"
    assert message[0].isupper() and len(message.split()) >= 4, message
    assert message != repr(exc) and " object at 0x" not in message, message
    return message


def refused(error: type[CnnvizError], call, *args, **kwargs) -> str:
    """Call, expecting `error`; returns its message after checking it is one for the user."""
    with pytest.raises(error) as info:
        call(*args, **kwargs)
    return assert_user_message(info.value)


def result_or_error(error: type[CnnvizError], call, *args, **kwargs):
    """The result of the call, or None when it raised `error` with a message for the user.

    Any other exception propagates and fails the test.
    """
    try:
        return call(*args, **kwargs)
    except error as exc:
        assert_user_message(exc)
        return None


def cpu_seconds() -> float:
    """CPU time of this process: a load on the machine from other processes does not count."""
    return time.process_time()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


# === images ========================================================================================

def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk: length, type, body, CRC-32."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG (8-bit RGB) whose header claims width x height pixels."""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def gif_claiming(width: int, height: int) -> bytes:
    """A tiny GIF whose screen and first frame claim width x height pixels (at most 65535 a side)."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
            + b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00;")


def bmp_claiming(width: int, height: int) -> bytes:
    """A tiny 24-bit BMP whose header claims width x height pixels (signed: negative height is top-down)."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + b"\0" * 16


def webp_claiming(width: int, height: int) -> bytes:
    """A tiny extended WEBP (VP8X chunk) whose canvas claims width x height pixels (at most 2**24 a side)."""
    vp8x = (b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (width - 1).to_bytes(3, "little")
            + (height - 1).to_bytes(3, "little"))
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def _pixels(rng: np.random.Generator, mode: str, size: tuple[int, int]) -> Image.Image:
    w, h = size
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 2**16, (h, w), dtype=np.uint16))
    if mode == "CMYK":
        return Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA").convert("RGB").convert("CMYK")
    rgba = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    if mode == "P":
        return rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=int(rng.integers(2, 256)))
    if mode == "P+transparency":
        img = rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        img.info["transparency"] = 0
        return img
    return rgba.convert(mode)


# (format, mode, save options) for every mode each upload format can hold.
IMAGE_KINDS = [
    ("PNG", "1", {}), ("PNG", "L", {}), ("PNG", "LA", {}), ("PNG", "P", {}), ("PNG", "P+transparency", {}),
    ("PNG", "RGB", {}), ("PNG", "RGBA", {}), ("PNG", "I;16", {}),
    ("JPEG", "L", {}), ("JPEG", "RGB", {"quality": 50}), ("JPEG", "CMYK", {}),
    ("GIF", "P", {}), ("GIF", "L", {}), ("GIF", "animated", {}),
    ("BMP", "1", {}), ("BMP", "L", {}), ("BMP", "P", {}), ("BMP", "RGB", {}), ("BMP", "RGBA", {}),
    ("WEBP", "RGB", {"quality": 60}), ("WEBP", "RGBA", {"lossless": True}), ("WEBP", "animated", {}),
]
GREY_MODES = ("1", "L", "LA", "I;16")


def image_file(fmt: str, mode: str, options: dict, size: tuple[int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if mode == "animated":
        frames = [_pixels(rng, "RGB", size) for _ in range(4)]
        if fmt == "GIF":
            frames = [f.convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
        return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, loop=0)
    return encode(_pixels(rng, mode, size), fmt, **options)


PREPS = {1: Preprocessing(1, 12, (0.5,), (0.25,)), 3: Preprocessing(3, 9, (0.5,) * 3, (0.25,) * 3)}


def assert_model_input(x: np.ndarray, prep: Preprocessing) -> None:
    assert x.shape == prep.input_shape and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


@fuzz(600)
@given(kind=st.sampled_from(IMAGE_KINDS), width=st.integers(1, 40), height=st.integers(1, 40),
       seed=st.integers(0, 2**32 - 1))
def test_valid_odd_images_decode_to_model_inputs(kind, width, height, seed):
    """Any valid upload decodes to uint8 (H, W) or (H, W, 3) of its size, and then to [0, 1] inputs of the
    model's shape, grey or colour; animated files give their first frame."""
    fmt, mode, options = kind
    data = image_file(fmt, mode, options, (width, height), seed)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == fmt and (mode != "animated" or img.n_frames == 4)
    out = decode_image(data)
    assert out.dtype == np.uint8 and out.shape[:2] == (height, width)
    if fmt == "GIF":  # Pillow reads a grey GIF as a palette image: colour
        assert out.ndim == 2 or out.shape[2] == 3
    elif mode in GREY_MODES:
        assert out.ndim == 2
    else:
        assert out.shape[2:] == (3,)
    if mode == "I;16" and out.max() != out.min():
        assert out.min() == 0 and out.max() == 255  # stretched to the full 8-bit range
    for prep in PREPS.values():
        assert_model_input(to_model_input(out, prep), prep)


def _truncation_samples() -> dict[str, bytes]:
    kinds = [("PNG", "RGB"), ("PNG", "I;16"), ("PNG", "P"), ("PNG", "LA"), ("JPEG", "RGB"), ("JPEG", "CMYK"),
             ("GIF", "P"), ("GIF", "animated"), ("BMP", "RGB"), ("BMP", "1"), ("WEBP", "RGB"),
             ("WEBP", "RGBA"), ("WEBP", "animated")]
    options = {(fmt, mode): opts for fmt, mode, opts in IMAGE_KINDS}
    samples = {f"{fmt}-{mode}": image_file(fmt, mode, options[fmt, mode], (13, 7), seed=1) for fmt, mode in kinds}
    samples["JPEG-progressive"] = encode(_pixels(np.random.default_rng(2), "RGB", (17, 9)), "JPEG", progressive=True)
    samples["PNG-interlaced"] = encode(_pixels(np.random.default_rng(3), "RGB", (17, 9)), "PNG", interlace=1)
    return samples


TRUNCATION_SAMPLES = _truncation_samples()


@pytest.mark.parametrize("name", list(TRUNCATION_SAMPLES))
def test_every_truncation_of_an_image_is_refused_or_decodes(name):
    """Cut a valid file at every byte (these are 100 to 900 bytes long): an ImageLoadError with a message,
    or (a cut after the pixel data) the full image."""
    data = TRUNCATION_SAMPLES[name]
    with Image.open(io.BytesIO(data)) as img:
        size = img.size[::-1]
    decoded = 0
    for cut in range(len(data)):
        out = result_or_error(ImageLoadError, decode_image, data[:cut])
        if out is not None:
            decoded += 1
            assert out.dtype == np.uint8 and out.shape[:2] == size
            assert_model_input(to_model_input(out, PREPS[3]), PREPS[3])
    # Most cuts are refused: the test does cut into the pixel data (of an animated file: its first frame).
    assert decoded < len(data) / (1 if "animated" in name else 2)


DIMENSIONS = st.integers(1, 2**31 - 1)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own warning, 89M to 179M
@fuzz(300)
@given(kind=st.sampled_from(["PNG", "GIF", "BMP", "WEBP"]), width=DIMENSIONS, height=DIMENSIONS)
@example(kind="PNG", width=100_000, height=100_000)
@example(kind="GIF", width=65535, height=65535)
@example(kind="BMP", width=100_000, height=100_000)
@example(kind="WEBP", width=16384, height=16384)
def test_headers_claiming_too_many_pixels_are_refused_at_once(kind, width, height):
    """A few bytes claiming a huge picture (a decompression bomb) are refused before any pixel is allocated."""
    limits = {"GIF": 2**16 - 1, "WEBP": 2**24, "BMP": 2**31 - 1, "PNG": 2**31 - 1}
    width, height = min(width, limits[kind]), min(height, limits[kind])
    max_pixels = 25_000_000
    if width * height <= max_pixels:
        height = max_pixels // width + 1
        if height > limits[kind]:
            return
    data = {"PNG": png_claiming, "GIF": gif_claiming, "BMP": bmp_claiming, "WEBP": webp_claiming}[kind](width, height)
    before, start = peak_rss_mb(), cpu_seconds()
    message = refused(ImageLoadError, decode_image, data, max_pixels=max_pixels)
    assert cpu_seconds() - start < 0.5
    assert peak_rss_mb() - before < 50
    if kind != "WEBP":  # libwebp refuses some canvases itself, before Pillow knows their size
        assert "pixels" in message


@pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fmt", ["ICO", "TIFF", "PPM", "PCX", "TGA", "SGI", "IM", "DDS"])
def test_formats_that_are_not_uploads_are_refused(fmt):
    data = encode(Image.new("RGB", (8, 8), (200, 10, 10)), fmt)
    message = refused(ImageLoadError, decode_image, data)
    assert "not an image that can be read" in message and "PNG, JPEG" in message


def test_an_ico_holding_a_huge_png_is_refused_without_decoding_it():
    """Regression: Pillow's ICO reader decodes the whole image while the file is opened, before
    decode_image could check its size: a 260 KB file claiming 16x16 pixels held 9000x9000 (900 MB
    decoded). ICO is not an upload format: it is refused before Pillow reads it (here a 3000x3000 PNG inside,
    which decode_image used to return)."""
    inner = encode(Image.new("RGB", (3000, 3000)), "PNG")
    ico = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(inner), 22) + inner
    before, start = peak_rss_mb(), cpu_seconds()
    assert "not an image that can be read" in refused(ImageLoadError, decode_image, ico)
    assert cpu_seconds() - start < 0.5 and peak_rss_mb() - before < 20


def test_eps_is_never_handed_to_ghostscript(monkeypatch):
    """Regression: PostScript is a program, and Pillow runs Ghostscript to decode an EPS file (when it is
    installed). decode_image refuses EPS unread."""
    from PIL import EpsImagePlugin

    calls = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *args, **kwargs: calls.append(args))
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto showpage\n%%EOF\n"
    with Image.open(io.BytesIO(eps)) as img:
        assert img.format == "EPS"  # Pillow itself would open it
    assert "not an image that can be read" in refused(ImageLoadError, decode_image, eps)
    assert calls == []


@pytest.mark.parametrize("data", [b"", b"\0", b"\0" * 1000, b" \n", b"\x89PNG", b"\x89PNG\r\n\x1a\n", b"GIF89a",
                                  b"\xff\xd8\xff", b"BM", b"RIFF\0\0\0\0WEBP"],
                         ids=["empty", "one-zero", "zeros", "space", "png-magic", "png-signature", "gif-magic",
                              "jpeg-magic", "bmp-magic", "webp-magic"])
def test_zero_and_almost_zero_bytes_are_refused(data):
    refused(ImageLoadError, decode_image, data)


MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\0\x10JFIF\0",
         b"GIF87a", b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBPVP8 ", b"RIFF\0\0\0\0WEBPVP8X", b"RIFF\0\0\0\0WEBPVP8L"]


@fuzz(800)
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=2000))
@example(magic=b"", body=b"")
def test_random_bytes_never_crash_decode_image(magic, body):
    """Random bytes, alone or behind a format's magic number, so that Pillow's parsers see them."""
    out = result_or_error(ImageLoadError, decode_image, magic + body)
    if out is not None:
        assert out.dtype == np.uint8 and out.ndim in (2, 3) and out.size > 0
        assert_model_input(to_model_input(out, PREPS[1]), PREPS[1])


ARRAY_DTYPES = st.sampled_from([np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64,
                                np.uint64, np.float16, np.float32, np.float64])


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # float64 beyond float32: 1
@fuzz(400)
@given(array=hnp.arrays(ARRAY_DTYPES, st.one_of(hnp.array_shapes(min_dims=2, max_dims=2, max_side=30),
                                                st.tuples(st.integers(1, 30), st.integers(1, 30), st.integers(1, 4)))),
       channels=st.sampled_from([1, 3]))
def test_to_model_input_takes_any_dtype_and_value(array, channels):
    """Any (H, W) or (H, W, 1..4) array, with NaN, inf, negative or huge values: [0, 1] inputs of the right shape."""
    assert_model_input(to_model_input(array, PREPS[channels]), PREPS[channels])


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0, 3), (4, 4, 0), (4, 4, 5), (7,), (), (2, 2, 2, 2)])
def test_to_model_input_refuses_what_is_not_an_image(shape):
    """Regression: empty arrays failed in scikit-image ("cannot convert float NaN to integer") and 5 channels
    gave a (5, size, size) input for a 3-channel model."""
    message = refused(ImageLoadError, to_model_input, np.zeros(shape, dtype=np.uint8), PREPS[3])
    assert str(shape) in message


def test_to_model_input_turns_nan_into_zero():
    """Regression: NaN pixels went through as NaN model inputs."""
    image = np.full((4, 4, 3), np.nan, dtype=np.float32)
    image[0, 0] = 1.0
    x = to_model_input(image, PREPS[3])
    assert_model_input(x, PREPS[3])


# === model files ===================================================================================

def _tiny() -> TrainedModel:
    spec = CNNSpec("tiny", 1, 8, (ConvSpec(2, 3, pool="max"),), num_classes=3)
    info = ModelInfo("tiny", spec, Preprocessing(1, 8, (0.5,), (0.25,)), ("a", "b", "c"), "toy", 0.5)
    return TrainedModel(build_model(spec, seed=0), info)


def _text_model(kind: str) -> TrainedModel:
    vocabulary = Vocabulary.build(["a good film", "a bad film", "not good", "dull but fine"])
    prep = TextPreprocessing(vocabulary, 16)
    spec = (TextCNNSpec(vocab_size=len(vocabulary), embedding_dim=4, widths=(2, 3), filters=3, num_classes=2)
            if kind == "text_cnn" else FastTextSpec(vocab_size=len(vocabulary), embedding_dim=4, bigram_buckets=5))
    info = ModelInfo(kind, spec, prep, ("neg", "pos"), "toy")
    return TrainedModel(build_from_spec(spec, seed=0), info)


TINY = _tiny()
BASES = {"cnn": TINY, "text_cnn": _text_model("text_cnn"), "fasttext": _text_model("fasttext")}
BASE_TENSORS = {key: {k: v.contiguous() for k, v in m.model.state_dict().items()} for key, m in BASES.items()}


PAYLOAD_RAN = {"ran": False}


def _payload_function() -> None:
    """What the pickles below would run: it sets a flag of this module."""
    PAYLOAD_RAN["ran"] = True


class Payload:
    """An object whose unpickling runs code; `how` picks the callable, `marker` is the file it creates."""

    def __init__(self, how: str, marker: Path):
        self.how, self.marker = how, marker

    def __reduce__(self):
        path = str(self.marker)
        if self.how == "os.system":
            return os.system, (f"touch {shlex.quote(path)}",)
        if self.how == "exec":
            return builtins.exec, (f"open({path!r}, 'w').write('ran')",)
        if self.how == "eval":
            return builtins.eval, (f"open({path!r}, 'w').write('ran')",)
        if self.how == "subprocess":
            return subprocess.call, (["touch", path],)
        if self.how == "module-function":
            return _payload_function, ()
        raise ValueError(self.how)


PAYLOADS = ["os.system", "exec", "eval", "subprocess", "module-function"]


def torch_bytes(obj, *, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


CONTAINERS = {
    "pickle-2": lambda p: pickle.dumps(p, protocol=2),
    "pickle-5": lambda p: pickle.dumps(p, protocol=5),
    "pickle-in-dict": lambda p: pickle.dumps({"conv1.weight": torch.zeros(2), "x": p}, protocol=4),
    "torch.save": lambda p: torch_bytes(p),
    "torch.save-legacy": lambda p: torch_bytes(p, legacy=True),
    "state-dict-value": lambda p: torch_bytes({"conv1.weight": p}),
    "state-dict-key": lambda p: torch_bytes({p: torch.zeros(1)}),
    "nested-in-checkpoint": lambda p: torch_bytes({"state_dict": {"w": torch.zeros(1)}, "extra": [[{"a": p}]]}),
    "legacy-nested": lambda p: torch_bytes({"model_state_dict": {"w": torch.zeros(1), "v": (p,)}}, legacy=True),
}


@pytest.mark.parametrize("how", PAYLOADS)
def test_the_payloads_do_run_when_unpickled(tmp_path, how):
    """Control: each payload really runs under pickle.loads, so the test below means something."""
    PAYLOAD_RAN["ran"] = False
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(Payload(how, marker)))
    assert marker.exists() or PAYLOAD_RAN["ran"]
    PAYLOAD_RAN["ran"] = False


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("container", list(CONTAINERS))
@pytest.mark.parametrize("how", PAYLOADS)
def test_pickles_carrying_code_are_refused_and_never_run(tmp_path, how, container):
    PAYLOAD_RAN["ran"] = False
    marker = tmp_path / "marker"
    data = CONTAINERS[container](Payload(how, marker))
    for filename in ("model.pt", "model.safetensors", "model.pkl"):
        message = refused(ModelLoadError, load_model_bytes, data, filename=filename, info=TINY.info)
        assert "pickled Python objects" in message or "not a model file" in message
    assert saved_view(data) is None
    assert not marker.exists() and not PAYLOAD_RAN["ran"]


@pytest.mark.parametrize("numel", [3_000_000_000, 10**11, 2**62])
def test_a_legacy_file_declaring_a_huge_storage_is_refused_at_once(numel):
    """A legacy .pt names a storage's size in its pickle, and torch allocates it before reading it:
    the memory is never touched, and the file is refused in milliseconds."""
    n = 0x12345
    data = torch_bytes({"w": torch.zeros(n, dtype=torch.float64)}, legacy=True)
    binint = b"J" + struct.pack("<i", n)
    assert binint in data
    data = data.replace(binint, b"\x8a\x08" + numel.to_bytes(8, "little", signed=True), 1)  # LONG1
    before, start = peak_rss_mb(), cpu_seconds()
    refused(ModelLoadError, load_model_bytes, data)
    assert cpu_seconds() - start < 1 and peak_rss_mb() - before < 100


def sf_bytes(header: dict | bytes, payload: bytes = b"", *, length: int | None = None) -> bytes:
    """A .safetensors file by hand: 8-byte little-endian header length, JSON header, tensor data."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(head) if length is None else length) + head + payload


FILE_MAGIC = [b"", b"\x80", b"\x80\x02", b"\x80\x05", b"PK\x03\x04", b"PK\x05\x06",
              struct.pack("<Q", 2) + b"{}", struct.pack("<Q", 64) + b"{", b"\x08\x07\x12\x07pytorch"]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@fuzz(700)
@given(magic=st.sampled_from(FILE_MAGIC), body=st.binary(max_size=3000),
       filename=st.sampled_from(["model.pt", "model.safetensors", "x.onnx", ""]))
def test_random_bytes_never_crash_the_model_loader(magic, body, filename):
    """Random bytes behind the magic of each kind of file the loader tells apart (pickle, zip, safetensors)."""
    data = magic + body
    refused(ModelLoadError, load_model_bytes, data, filename=filename, info=TINY.info)
    view = saved_view(data)
    assert view is None or set(view) == {"page", "params"}


@pytest.mark.parametrize("data, message", [
    (sf_bytes({}, length=2**64 - 1), "truncated"),
    (sf_bytes({"a": 1}, length=2**63), "truncated"),
    (sf_bytes(b"{" + b" " * 20, length=1), "header is damaged"),             # only "{"
    (sf_bytes(b"{}", length=0)[:8] + b"{", "header is damaged"),             # a header of length 0
    (sf_bytes(b'{"a": 1}', b"rest", length=4), "header is damaged"),        # the length cuts the JSON
    (sf_bytes(b'{"a": 1} trailing'), "header is damaged"),
    (sf_bytes(b"{not json at all}"), "header is damaged"),
    (sf_bytes(b'{"w": "\xff\xfe"}'), "header is damaged"),                  # not UTF-8
    (sf_bytes(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "header is damaged"),  # regression: RecursionError
    (sf_bytes(b'{"a":' + b"7" * 5000 + b"}"), "header is damaged"),         # regression: int() digit limit
    (sf_bytes(b"[1, 2]"), "not a model file"),                              # JSON, but not an object
    (sf_bytes(b'"{string}"'), "not a model file"),
    (sf_bytes({"__metadata__": {"cnnviz": 3}}), "could not be read"),       # metadata values must be strings
    (sf_bytes({"__metadata__": ["a"]}), "could not be read"),
], ids=lambda v: None if isinstance(v, bytes) else v)
def test_safetensors_headers_that_are_wrong(data, message):
    assert message in refused(ModelLoadError, load_model_bytes, data)
    assert saved_view(data) is None


ABSURD_ENTRIES = [
    {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 4 * 10**18]},
    {"dtype": "F32", "shape": [2**63], "data_offsets": [0, 2**65]},
    {"dtype": "F64", "shape": [10**30, 0], "data_offsets": [0, 0]},
    {"dtype": "F32", "shape": [0, 10**30], "data_offsets": [0, 0]},
    {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]},
    {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]},
    {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]},
    {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]},
    {"dtype": "F32", "shape": [2], "data_offsets": [-4, 4]},
    {"dtype": "F32", "shape": [2], "data_offsets": [10**20, 10**20 + 8]},
    {"dtype": "F32", "shape": [2], "data_offsets": [0, 2**64 + 8]},
    {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 16]},
    {"dtype": "F32", "shape": [2], "data_offsets": [8]},
    {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]},
    {"dtype": "F32", "shape": [float("inf")], "data_offsets": [0, 4]},     # regression: OverflowError
    {"dtype": "F32", "shape": [1], "data_offsets": [0, float("inf")]},     # regression: OverflowError
    {"dtype": "F32", "shape": [float("nan")], "data_offsets": [0, 4]},
    {"dtype": "F32", "shape": ["2"], "data_offsets": ["0", "8"]},
    {"dtype": "F32", "shape": None, "data_offsets": [0, 8]},
    {"dtype": "F32", "shape": {"a": 2}, "data_offsets": [0, 8]},
    {"dtype": "F128", "shape": [2], "data_offsets": [0, 32]},
    {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]},
    {"dtype": "", "shape": [2], "data_offsets": [0, 8]},
    {"dtype": None, "shape": [2], "data_offsets": [0, 8]},
    {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]},
    {"dtype": "f32", "shape": [2], "data_offsets": [0, 8]},
    {"shape": [2], "data_offsets": [0, 8]},
    {"dtype": "F32", "data_offsets": [0, 8]},
    {"dtype": "F32", "shape": [2]},
    {},
    [],
    "F32",
    None,
    12,
]


@pytest.mark.parametrize("entry", ABSURD_ENTRIES, ids=[json.dumps(e)[:60] for e in ABSURD_ENTRIES])
def test_absurd_tensor_entries_are_refused_before_reading(entry):
    start = cpu_seconds()
    refused(ModelLoadError, load_model_bytes, sf_bytes({"w": entry}, b"\0" * 16), info=TINY.info)
    assert cpu_seconds() - start < 0.5


@pytest.mark.parametrize("order", ["huge-first", "huge-last"])
def test_duplicate_tensor_names_in_a_header(order):
    """JSON allows a name twice; the size check and safetensors must agree on which entry counts."""
    huge = '"w":{"dtype":"F32","shape":[100000,100000],"data_offsets":[0,40000000000]}'
    small = '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
    entries = [huge, small] if order == "huge-first" else [small, huge]
    data = sf_bytes(("{" + ",".join(entries) + "}").encode(), b"\0" * 8)
    message = refused(ModelLoadError, load_model_bytes, data)
    assert ("without cnnviz metadata" if order == "huge-first" else "too many for cnnviz") in message


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([0, 1, -1, 2**31, 2**63, -(2**63), 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["F32", "F64", "I64", "U8", "BOOL", "cnn", "text_cnn", "fasttext", "relu", "max", "text"]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
SHAPES = st.lists(st.one_of(st.integers(-3, 6), st.sampled_from([10**9, 2**63, 10**30])), max_size=4)
OFFSETS = st.lists(st.one_of(st.integers(-16, 200), st.sampled_from([2**64, 10**20, -(2**63)])), min_size=0, max_size=3)
ENTRIES = st.one_of(
    st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8",
                                                     "BOOL", "F8_E4M3", "C64", "x"]),
                           "shape": SHAPES, "data_offsets": OFFSETS}),
    JSON_VALUES)


@fuzz(500)
@given(entries=st.dictionaries(st.text(max_size=10), ENTRIES, max_size=4),
       metadata=st.one_of(st.none(), st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=20), JSON_VALUES),
                                                     max_size=3)),
       payload=st.binary(max_size=200))
def test_random_safetensors_headers_are_refused(entries, metadata, payload):
    """Headers of random entries (random dtypes, shapes, offsets, or any JSON) and random metadata: a
    ModelLoadError, never an exception of json, int(), math or safetensors."""
    header = dict(entries)
    if metadata is not None:
        header["__metadata__"] = metadata
    data = sf_bytes(json.dumps(header).encode(), payload)
    refused(ModelLoadError, load_model_bytes, data, info=TINY.info)
    view = saved_view(data)
    assert view is None or set(view) == {"page", "params"}


def _paths(value, prefix=()):
    """Every place in a JSON tree (list items: the first three)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from _paths(item, (*prefix, index))


BASE_INFOS = {key: m.info.to_dict() for key, m in BASES.items()}
BASE_PATHS = {key: [p for p in _paths(info) if p] for key, info in BASE_INFOS.items()}


def _edited(info: dict, path: tuple, action: str, value) -> dict:
    info = json.loads(json.dumps(info))
    *parents, last = path
    target = info
    for key in parents:
        target = target[key]
    if action == "delete":
        del target[last]
    elif action == "replace":
        target[last] = value
    elif isinstance(target, dict):
        target[f"{last}_extra"] = value
    else:
        target.append(value)
    return info


def assert_working(loaded: TrainedModel) -> None:
    """A model that loaded predicts len(class_names) probabilities summing to 1 for its own kind of input."""
    if loaded.reads_text:
        inputs = ["a good film", "", "x" * 50]
    else:
        inputs = np.zeros((2, *loaded.info.preprocessing.input_shape), dtype=np.float32)
    probabilities = loaded.predict_proba(inputs)
    assert probabilities.shape == (len(inputs), len(loaded.info.class_names))
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)


@fuzz(400)
@given(data=st.data(), kind=st.sampled_from(list(BASES)), action=st.sampled_from(["replace", "delete", "add"]),
       value=JSON_VALUES)
def test_metadata_changed_at_a_random_place_is_refused_or_loads_a_working_model(data, kind, action, value):
    """Any field of a CNN's, TextCNN's or fastText's metadata (spec, preprocessing, vocabulary, class names,
    accuracy, format...) replaced by random JSON, deleted, or joined by another: a ModelLoadError, or a model
    that works."""
    path = data.draw(st.sampled_from(BASE_PATHS[kind]), label="path")
    info = _edited(BASE_INFOS[kind], path, action, value)
    blob = st_save(BASE_TENSORS[kind], metadata={"cnnviz": json.dumps(info)})
    loaded = result_or_error(ModelLoadError, load_model_bytes, blob)
    if loaded is not None:
        assert_working(loaded)


@fuzz(400)
@given(metadata=st.one_of(JSON_VALUES, st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
       kind=st.sampled_from(list(BASES)))
@example(metadata="[" * 100_000 + "]" * 100_000, kind="cnn")   # regression: RecursionError
@example(metadata="9" * 5000, kind="cnn")                       # regression: ValueError of the int() digit limit
@example(metadata={"format": 1, "test_accuracy": 10**400}, kind="cnn")  # regression: OverflowError of float()
def test_random_cnnviz_metadata_is_refused(metadata, kind):
    """The cnnviz metadata replaced by random JSON (or by any text): never a valid ModelInfo, always refused."""
    text = metadata if isinstance(metadata, str) else json.dumps(metadata)
    refused(ModelLoadError, load_model_bytes, st_save(BASE_TENSORS[kind], metadata={"cnnviz": text}))


def test_a_safetensors_header_length_that_starts_like_a_pickle():
    """Regression: a cnnviz file whose header is 1152 bytes long starts with 0x80 0x04 (its little-endian length),
    and was taken for a pickle and refused as "pickled Python objects"; one file in 32 (headers are padded to
    8 bytes) was hit, depending on the names and the view saved in it."""
    for pad in range(300):
        view = {"page": "pooling", "params": {"k": "x" * pad}}
        blob = model_to_bytes(TINY, view=view)
        if blob[0] == 0x80:
            break
    else:
        raise AssertionError("no padding gave a header length starting with 0x80")
    assert load_model_bytes(blob).info == TINY.info
    assert saved_view(blob) == view


@pytest.mark.parametrize("field, value", [("test_accuracy", 10**400), ("preprocessing.mean", [10**400]),
                                          ("preprocessing.std", [-(10**400)])])
def test_huge_numbers_in_metadata_are_refused(field, value):
    """Regression: float() of a whole number over 1e308 raised OverflowError out of load_model_bytes."""
    info = json.loads(json.dumps(BASE_INFOS["cnn"]))
    *parents, last = field.split(".")
    target = info
    for key in parents:
        target = target[key]
    target[last] = value
    message = refused(ModelLoadError, load_model_bytes,
                      st_save(BASE_TENSORS["cnn"], metadata={"cnnviz": json.dumps(info)}))
    assert "metadata is damaged" in message


@fuzz(300)
@given(extra=st.dictionaries(st.text(max_size=12), st.one_of(st.text(max_size=30), JSON_VALUES.map(json.dumps)),
                             max_size=4),
       view=st.one_of(st.none(), JSON_VALUES.map(json.dumps), st.text(max_size=30),
                      st.fixed_dictionaries({"page": st.text(max_size=10), "params": st.dictionaries(
                          st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers()), max_size=3)})
                      .map(json.dumps)))
def test_other_metadata_and_any_saved_view_never_break_loading(extra, view):
    """Other tools' metadata keys are ignored, and saved_view gives a well-formed view or None, whatever the
    "cnnviz_view" entry holds."""
    metadata = {k: v for k, v in extra.items() if k not in ("cnnviz", "cnnviz_view")}
    metadata["cnnviz"] = json.dumps(BASE_INFOS["cnn"])
    if view is not None:
        metadata["cnnviz_view"] = view
    blob = st_save(BASE_TENSORS["cnn"], metadata=metadata)
    assert load_model_bytes(blob).info == TINY.info
    got = saved_view(blob)
    if got is not None:
        assert isinstance(got["page"], str) and all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in got["params"].items())
        assert got == json.loads(view)


def test_a_deeply_nested_saved_view_is_no_view():
    """Regression: saved_view raised RecursionError for a view nested 100,000 deep."""
    blob = st_save(BASE_TENSORS["cnn"], metadata={"cnnviz": json.dumps(BASE_INFOS["cnn"]),
                                                  "cnnviz_view": "[" * 100_000 + "]" * 100_000})
    assert saved_view(blob) is None
    assert load_model_bytes(blob).info == TINY.info


PT_ZIP = torch_bytes(BASE_TENSORS["cnn"])
PT_LEGACY = torch_bytes(BASE_TENSORS["cnn"], legacy=True)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@fuzz(500)
@given(legacy=st.booleans(), edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                            min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_damaged_pt_files_are_refused_or_load_a_working_model(legacy, edits, cut):
    """Random bytes changed in a valid .pt (zip and legacy): torch, zipfile and the unpickler raise many types
    (found here: UnicodeDecodeError, NotImplementedError of zipfile); all must become ModelLoadError."""
    data = bytearray(PT_LEGACY if legacy else PT_ZIP)
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[:max(1, int(cut * len(data)))]
    loaded = result_or_error(ModelLoadError, load_model_bytes, bytes(data), info=TINY.info)
    if loaded is not None:
        assert_working(loaded)


def _zip(entries: dict[str, bytes], *, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buf.getvalue()


def _retagged(data: bytes, *, flag_bits: int = 0, method: int | None = None, name_byte: int | None = None) -> bytes:
    """A zip with its first central-directory entry changed: general-purpose flags, compression method, or the
    first byte of its name."""
    raw = bytearray(data)
    at = raw.find(b"PK\x01\x02")
    raw[at + 8:at + 10] = struct.pack("<H", struct.unpack("<H", raw[at + 8:at + 10])[0] | flag_bits)
    if method is not None:
        raw[at + 10:at + 12] = struct.pack("<H", method)
    if name_byte is not None:
        raw[at + 46] = name_byte
    return bytes(raw)


def _entries(archive: bytes) -> dict[str, bytes]:
    source = zipfile.ZipFile(io.BytesIO(archive))
    return {e.filename: source.read(e.filename) for e in source.infolist()}


def _lying_sizes() -> bytes:
    """The .pt of the small CNN with its first tensor record replaced by 40 MB of deflated zeros (40 KB) whose
    headers declare the original size: the check of the sizes in the directory believes them."""
    entries = _entries(PT_ZIP)
    name = next(n for n in entries if n.endswith("/data/0"))
    declared = len(entries[name])
    raw = bytearray(_zip({**entries, name: b"\0" * (40 * 2**20)}, compression=zipfile.ZIP_DEFLATED))
    for magic, size_at, name_at, length_at in ((b"PK\x03\x04", 22, 30, 26), (b"PK\x01\x02", 24, 46, 28)):
        at = raw.find(magic)
        while at >= 0:
            length = struct.unpack("<H", raw[at + length_at:at + length_at + 2])[0]
            if raw[at + name_at:at + name_at + length] == name.encode():
                raw[at + size_at:at + size_at + 4] = struct.pack("<I", declared)
            at = raw.find(magic, at + 4)
    return bytes(raw)


def _scripted_without_code(tmp_path: Path) -> bytes:
    """A TorchScript archive with the entries that reveal it (code/, constants.pkl) taken out."""
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(TINY.model), str(path))
    source = zipfile.ZipFile(path)
    return _zip({e.filename: source.read(e.filename) for e in source.infolist()
                 if "/code/" not in e.filename and not e.filename.endswith("constants.pkl")})


ZIP_CASES = {
    "empty-archive": lambda tmp: _zip({}),
    "one-text-file": lambda tmp: _zip({"readme.txt": b"hello"}),
    "data-pkl-only": lambda tmp: _zip({"archive/data.pkl": pickle.dumps({"w": 1})}),
    "json-as-data-pkl": lambda tmp: _zip({"archive/data.pkl": b'{"w": [1, 2]}', "archive/version": b"3\n"}),
    "path-traversal": lambda tmp: _zip({"../../../tmp/cnnviz-evil": b"x", "archive/data.pkl": b"\x80\x02}q\x00."}),
    "zip-in-zip": lambda tmp: _zip({"inner.pt": PT_ZIP}),
    "ten-thousand-entries": lambda tmp: _zip({f"archive/data/{i}": b"" for i in range(10_000)}),
    "sizes-that-lie": lambda tmp: _lying_sizes(),
    "encrypted-flag": lambda tmp: _retagged(PT_ZIP, flag_bits=0x1),
    "unknown-compression": lambda tmp: _retagged(PT_ZIP, method=99),
    "name-flagged-utf8-is-not": lambda tmp: _retagged(PT_ZIP, flag_bits=0x800, name_byte=0xFF),  # regression
    "torchscript-without-code-entries": _scripted_without_code,
    "state-dict-and-payload-records": lambda tmp: _zip({**_entries(PT_ZIP),
                                                         "archive/x.pkl": pickle.dumps(Payload("exec", tmp / "m"))}),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit
@pytest.mark.filterwarnings("ignore::UserWarning")  # zipfile: duplicate names
@pytest.mark.parametrize("case", list(ZIP_CASES))
def test_zip_archives_with_odd_content(tmp_path, case):
    data = ZIP_CASES[case](tmp_path)
    start = cpu_seconds()
    loaded = result_or_error(ModelLoadError, load_model_bytes, data, filename="model.pt", info=TINY.info)
    assert cpu_seconds() - start < 2
    if loaded is not None:  # a valid archive with an unused extra record; the lie read as its declared size
        assert case in ("state-dict-and-payload-records", "sizes-that-lie")
        assert_working(loaded)
    assert not (tmp_path / "m").exists() and not Path("/tmp/cnnviz-evil").exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still worth refusing
@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_under_any_name_is_refused(tmp_path, how):
    model = TINY.model
    compiled = torch.jit.script(model) if how == "script" else torch.jit.trace(model, torch.zeros(1, 1, 8, 8))
    path = tmp_path / "model.pt"
    torch.jit.save(compiled, str(path))
    for filename in ("model.pt", "model.safetensors", "model.onnx", ""):
        message = refused(ModelLoadError, load_model_bytes, path.read_bytes(), filename=filename, info=TINY.info)
        assert "TorchScript" in message


# === CSV uploads ===================================================================================

def texts(data: bytes, **kwargs):
    return texts_from_csv(data, text_column="text", label_column="label", **kwargs)


CSV_TEXT = "text,label\ncaf\u00e9 \u732b \U0001f600,pos\n\"a, b\",neg\n"


@pytest.mark.parametrize("data", [
    CSV_TEXT.encode("utf-16"), CSV_TEXT.encode("utf-16-le"), CSV_TEXT.encode("utf-16-be"),
    codecs.BOM_UTF16_BE + CSV_TEXT.encode("utf-16-be"), codecs.BOM_UTF16_LE + CSV_TEXT.encode("utf-16-le"),
    CSV_TEXT.encode("utf-32"), codecs.BOM_UTF8 + CSV_TEXT.encode(), codecs.BOM_UTF8 * 2 + CSV_TEXT.encode(),
    CSV_TEXT.encode()[:-3] + b"\xff\xfe\n", "text,label\n\u201cquoted\u201d \u2013 dash,pos\n".encode("cp1252"),
    "text;label\nna\u00efve \u00bd,1\n".encode("latin-1"), codecs.BOM_UTF16_LE + b"t\0e\0x",
    codecs.BOM_UTF16_LE, codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n\n", b"\xef\xbb", CSV_TEXT.encode("utf-7"),
], ids=["utf-16", "utf-16-le-no-bom", "utf-16-be-no-bom", "utf-16-be", "utf-16-le", "utf-32", "utf-8-bom",
        "two-boms", "utf-8-then-invalid", "cp1252", "latin-1", "utf-16-odd-length", "utf-16-bom-only",
        "utf-8-bom-only", "utf-8-bom-blank", "half-a-bom", "utf-7"])
def test_csv_in_any_encoding_is_read_or_refused(data):
    """Any encoding: the table, read as UTF-8/UTF-16/Latin-1, or a DatasetUnavailableError with a message."""
    columns = result_or_error(DatasetUnavailableError, csv_columns, data)
    assert columns is None or all(isinstance(c, str) for c in columns)
    rows = result_or_error(DatasetUnavailableError, texts, data)
    if rows is not None:
        assert len(rows[0]) == len(rows[1]) >= 1 and all(label.strip() == label and label for label in rows[1])


def test_csv_encodings_that_must_read_exactly():
    expected = (["caf\u00e9 \u732b \U0001f600", "a, b"], ["pos", "neg"])
    for data in (CSV_TEXT.encode("utf-16"), codecs.BOM_UTF16_BE + CSV_TEXT.encode("utf-16-be"),
                 codecs.BOM_UTF8 + CSV_TEXT.encode()):
        assert texts(data) == expected
    assert texts("text,label\n\u00e9t\u00e9 \u00bd,1\n".encode("latin-1")) == (["\u00e9t\u00e9 \u00bd"], ["1"])


@pytest.mark.parametrize("data, kwargs, message", [
    (b"", {}, "empty"),
    (b"\n\r\n  \t\n", {}, "empty"),
    (b"text,label", {}, "no rows with a label"),
    (b"text,label\r\n", {}, "no rows with a label"),
    (b"text,label\n,\n , \n", {}, "no rows with a label"),
    (b"text,label\na,\nb,  \n", {}, "no rows with a label"),
    (b"review,sentiment\nok,1\n", {}, "no column 'text', 'label'; its columns are: 'review', 'sentiment'"),
    (b"text\nok\n", {}, "no column 'label'"),
    (b"TEXT,LABEL\nok,1\n", {}, "no column"),
    (b'text,label\n"' + b"a" * 200_000 + b'",1\n', {}, "cannot be read as CSV"),
    (b"text,label\n" + b"a,1\n" * 11, {"max_rows": 10}, "more than 10 rows"),
], ids=["empty", "blank-lines", "header-only", "header-only-crlf", "empty-cells", "blank-labels", "missing-both",
        "missing-label", "case-differs", "field-too-large", "row-cap"])
def test_csv_files_that_are_refused(data, kwargs, message):
    assert message in refused(DatasetUnavailableError, texts, data, **kwargs)


@pytest.mark.parametrize("line, delimiter", [(b"a,1\n", b","), (b"a;1\r\n", b";"), (b"\"a\tb\"\t1\n", b"\t"),
                                             (b"a,\n", b","), (b"a,b,c,d,e,1\n", b",")],
                         ids=["comma", "semicolon-crlf", "tab-quoted", "empty-labels", "wide-rows"])
def test_a_million_rows_are_refused_by_the_row_cap_fast(line, delimiter):
    """Built as bytes in milliseconds; rows without a label count towards the cap too."""
    data = b"text" + delimiter + b"label\n" + line * 1_000_000
    start = cpu_seconds()
    message = refused(DatasetUnavailableError, texts, data)
    assert cpu_seconds() - start < 2
    assert "more than 50,000 rows" in message


def test_the_row_cap_counts_rows_not_lines():
    """A text spanning many lines (quoted) is one row; 50,000 rows are fine, 50,001 are refused."""
    row = b'"one\nrow\nof\nfive",1\n'
    assert len(texts(b"text,label\n" + row * 50_000)[0]) == 50_000
    assert "more than 50,000 rows" in refused(DatasetUnavailableError, texts, b"text,label\n" + row * 50_001)


def _check_csv_result(data: bytes) -> None:
    columns = result_or_error(DatasetUnavailableError, csv_columns, data)
    if columns is None:
        return
    assert columns and all(isinstance(c, str) and c == c.strip() for c in columns)
    text_column, label_column = columns[0], columns[-1]
    rows = result_or_error(DatasetUnavailableError, texts_from_csv, data, text_column=text_column,
                           label_column=label_column)
    if rows is None:
        return
    found_texts, labels = rows
    assert len(found_texts) == len(labels) >= 1
    assert all(isinstance(t, str) for t in found_texts) and all(label and label == label.strip() for label in labels)
    dataset = result_or_error(DatasetUnavailableError, text_dataset_from_rows, "upload", found_texts, labels)
    if dataset is not None:
        assert len(dataset.train_texts) + len(dataset.test_texts) == len(labels)


@fuzz(500)
@given(body=st.binary(max_size=2000))
@example(body=bytes(range(256)) * 4)
def test_binary_garbage_as_csv(body):
    _check_csv_result(body)


@fuzz(500)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=400) | st.text(
    alphabet=st.sampled_from(list(",;\t|\"\n\r ab1\u00e9\x00")), max_size=200),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
def test_random_text_as_a_csv_file(text, encoding):
    """Random text (also made of CSV's special characters) as a file: columns, rows and a data set, or a
    DatasetUnavailableError."""
    _check_csv_result(text.encode(encoding, errors="replace"))


CELLS = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@fuzz(400)
@given(rows=st.lists(st.tuples(CELLS, CELLS), max_size=30), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
       dialect=st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\r\n", csv.QUOTE_ALL), ("\n", csv.QUOTE_ALL)]))
def test_any_table_written_by_the_csv_module_reads_back_exactly(rows, delimiter, encoding, dialect):
    """Whatever the cells hold (quotes, delimiters, line breaks, NUL, emoji), written by Python's csv module:
    the rows with a label come back exactly (labels stripped), or "no rows with a label".

    (With QUOTE_MINIMAL and a "\n" line end the csv module leaves a lone "\r" unquoted, which no CSV reader
    can tell from a line end: not a file to expect back exactly.)"""
    lineterminator, quoting = dialect
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=lineterminator, quoting=quoting)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    data = buf.getvalue().encode(encoding)
    assert csv_columns(data) == ["text", "label"]
    expected = [(t, label.strip()) for t, label in rows if label.strip()]
    if not expected:
        assert "no rows with a label" in refused(DatasetUnavailableError, texts, data)
        return
    assert texts(data) == ([t for t, _ in expected], [label for _, label in expected])


@fuzz(300)
@given(rows=st.lists(st.tuples(st.text(max_size=40), st.one_of(st.text(max_size=6),
                                                                st.sampled_from(["0", "1", "2", "10", "-3", "+1"]))),
                     max_size=60),
       max_length=st.integers(1, 200), seed=st.integers(0, 3))
def test_text_dataset_from_any_rows(rows, max_length, seed):
    """Any rows: a TextDataset with all of them split, class names the distinct labels, or a clear refusal."""
    found_texts, labels = [t for t, _ in rows], [label for _, label in rows]
    dataset = result_or_error(DatasetUnavailableError, text_dataset_from_rows, "upload", found_texts, labels,
                              seed=seed, max_length=max_length)
    if dataset is None:
        assert len(rows) < 10 or not 2 <= len(set(labels)) <= 100
        return
    assert sorted(dataset.class_names) == sorted(set(labels))
    assert sorted(dataset.train_texts + dataset.test_texts) == sorted(found_texts)
    x, y = dataset.train_tensors()
    assert x.dtype == torch.long and len(x) == len(y) == len(dataset.train_texts)
    assert 1 <= x.shape[1] <= max_length and int(x.max()) < len(dataset.preprocessing.vocabulary)


# === typed sentences ===============================================================================

@functools.cache
def zoo_textcnn() -> TrainedModel:
    return load_zoo_model("textcnn-sentiment")


def check_sentence(sentence: str, *, activations: bool = True) -> None:
    """What the TextCNN page does with a typed sentence: encode, predict, and n-gram activations."""
    trained = zoo_textcnn()
    prep = trained.info.preprocessing
    tokens = tokenize(sentence)
    assert all(isinstance(t, str) and t for t in tokens)
    ids = prep.encode_batch([sentence])
    assert ids.dtype == torch.long and ids.shape == (1, min(max(len(tokens), 1), prep.max_length))
    assert int(ids.min()) >= 0 and int(ids.max()) < len(prep.vocabulary)
    assert (ids[0, :len(tokens)] != 0).all()  # a real token is never padding (unknown words are 1)
    probabilities = trained.predict_proba([sentence])
    assert probabilities.shape == (1, len(trained.info.class_names)) and np.isfinite(probabilities).all()
    assert probabilities.min() >= 0
    np.testing.assert_allclose(probabilities.sum(), 1, atol=1e-5)
    if activations:
        found = ngram_activations(trained.model, ids[0], prep.vocabulary)
        assert len(found.widths) == len(trained.model.spec.widths) and len(found.tokens) >= ids.shape[1]


NAMED_SENTENCES = {
    "empty": "", "space": " ", "white-space": " \t\n\r\x0b\x0c\u00a0\u2003\u3000", "long-100k": "a" * 100_000,
    "long-words": "not good " * 12_500, "controls": "".join(chr(c) for c in range(32)) + "\x7f\x85",
    "nul": "\x00", "nuls-in-words": "go\x00od fi\x00lm", "emoji": "\U0001f600\U0001f44d\U0001f3fd \u2764\ufe0f",
    "zwj-family": "\U0001f468\u200d\U0001f469\u200d\U0001f467", "flags": "\U0001f1eb\U0001f1f7\U0001f1ef\U0001f1f5",
    "cjk": "\u8fd9\u90e8\u7535\u5f71\u5f88\u597d\u770b\u3002\u7d20\u6674\u3089\u3057\u3044\u6620\u753b",
    "hangul-arabic-hebrew": "\uc815\ub9d0 \uc88b\uc544\uc694 \u0645\u0645\u062a\u0627\u0632 \u05d8\u05d5\u05d1",
    "combining-only": "\u0301\u0302\u0303" * 100, "zalgo": "g\u0301\u0302\u0303o\u0304\u0305od",
    "lone-surrogates": "\ud800 good \udfff", "private-use": "\ue000\U000f0000 good", "bidi": "\u202egood\u202c",
    "fullwidth": "\uff27\uff2f\uff2f\uff24", "long-one-token": "x" * 100_000, "punctuation": "!?.,;:" * 1000,
    "unk-only": "qqqq zzzz", "ligatures": "\ufb01ne \ufb02at", "bom": "\ufeffgood",
}


@pytest.mark.parametrize("name", list(NAMED_SENTENCES))
def test_named_odd_sentences(name):
    check_sentence(NAMED_SENTENCES[name])


@fuzz(600)
@given(sentence=st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
       | st.text(max_size=50).map(lambda s: s * 40))
def test_any_sentence_encodes_and_predicts(sentence):
    """Any str, lone surrogates and all: never an exception, ids inside the vocabulary, probabilities summing to 1
    (and for one sentence in five, the n-gram activations of the page)."""
    check_sentence(sentence, activations=len(sentence) % 5 == 0)


@fuzz(150)
@given(sentences=st.lists(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80),
                          min_size=1, max_size=20))
def test_any_batch_of_sentences_predicts(sentences):
    trained = zoo_textcnn()
    probabilities = trained.predict_proba(sentences)
    assert probabilities.shape == (len(sentences), len(trained.info.class_names))
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
