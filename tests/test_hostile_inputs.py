"""Hostile model files and images: each is refused with a clear message, quickly, without a memory spike.

Every case is a small, *valid* file (built with the public API or, where the spec
itself now refuses the values, with its metadata edited) that once cost gigabytes,
minutes of CPU or a crashed page (issue 13). Each is loaded as the app loads an
upload, with the local and with the hosted limits, while a thread samples the
process's resident memory: the refusal must come within 2 s and 300 MB.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

import cnnviz
from cnnviz import HOSTED, ModelLoadError, Settings, load_zoo_model, model_to_bytes
from cnnviz.models.cnn import CNNSpec, ConvSpec

SECONDS, MEGABYTES = 2.0, 300
_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def measured(call: Callable[[], object]) -> tuple[object, float, float]:
    """Run `call`; return its result (or the exception it raised), the seconds it took and the
    largest rise of resident memory seen during it, in MB (sampled every 2 ms)."""
    before, peak, done = resident_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        outcome: object = call()
    except Exception as exc:  # noqa: BLE001 - the outcome is what the test looks at
        outcome = exc
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return outcome, seconds, (max(peak[0], resident_bytes()) - before) / 2**20


# --- files ---------------------------------------------------------------------------------------

def with_spec(spec: CNNSpec, *, seed: int = 0) -> bytes:
    """A cnnviz file of a real model built from `spec` (weights and all)."""
    zoo = load_zoo_model("lenet5-digits")
    model = cnnviz.build_model(spec, seed=seed)
    prep = dataclasses.replace(zoo.info.preprocessing, size=spec.input_size)
    if spec.in_channels != 1:
        prep = dataclasses.replace(prep, channels=spec.in_channels, mean=(0.5,) * spec.in_channels,
                                   std=(0.25,) * spec.in_channels)
    info = dataclasses.replace(zoo.info, spec=spec, preprocessing=prep, name="hostile", test_accuracy=None)
    return model_to_bytes(cnnviz.TrainedModel(model, info))


def with_edited_spec(edit: Callable[[dict], None], tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    """The zoo LeNet-5's file with its spec in the metadata edited to values a spec would refuse."""
    from safetensors.torch import save

    zoo = load_zoo_model("lenet5-digits")
    info = zoo.info.to_dict()
    edit(info["spec"])
    weights = tensors if tensors is not None else {k: v.contiguous() for k, v in zoo.model.state_dict().items()}
    return save(weights, metadata={"cnnviz": json.dumps(info)})


def pt_state_dict(transform: Callable[[torch.Tensor], torch.Tensor]) -> bytes:
    """The zoo LeNet-5's weights as a .pt state dict, one tensor changed by `transform`."""
    weights = dict(load_zoo_model("lenet5-digits").model.state_dict())
    weights["conv1.weight"] = transform(weights["conv1.weight"])
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    return buffer.getvalue()


def hidden_layers(count: int) -> Callable[[dict], None]:
    def edit(spec: dict) -> None:
        spec["hidden"] = [8] * count
    return edit


CASES = {
    # memory: one 1x1 convolution with 512 channels on a 1024x1024 input (pooled to one value per channel)
    "512 channels of 1024x1024": lambda: with_spec(CNNSpec(
        "wide", 1, 1024, (ConvSpec(512, kernel_size=1, pool="max", pool_size=1024),))),
    # memory and CPU: digits-shaped models with 2,048 and 4,096 channels, evaluated on the test set on load
    "2,048 channels on digits": lambda: with_spec(CNNSpec(
        "fat", 1, 28, (ConvSpec(2048, kernel_size=5, pool="max", pool_size=24),))),
    "4,096 channels on digits": lambda: with_spec(CNNSpec(
        "fat", 1, 28, (ConvSpec(4096, kernel_size=5, pool="max", pool_size=24),))),
    # CPU: one convolution with a huge kernel and padding on a 1024x1024 input (about 1 MB of weights)
    "a 512x512 kernel on 1024x1024": lambda: with_spec(CNNSpec(
        "slow", 1, 1024, (ConvSpec(1, kernel_size=512, padding=256, pool="max", pool_size=1024),))),
    # graph size: hidden layers that once took 25 s (1,000) to beyond 15 minutes (30,000) to load
    "1,000 hidden layers": lambda: with_edited_spec(hidden_layers(1_000)),
    "30,000 hidden layers": lambda: with_edited_spec(hidden_layers(30_000)),
    # files that loaded but crashed the pages
    "2 input channels": lambda: with_spec(CNNSpec("two", 2, 28, (ConvSpec(6, kernel_size=5, pool="max"),))),
    "4 input channels": lambda: with_spec(CNNSpec("four", 4, 28, (ConvSpec(6, kernel_size=5, pool="max"),))),
    "reflect padding beyond the input": lambda: with_edited_spec(
        lambda spec: spec.update(padding_mode="reflect", convs=[{**spec["convs"][0], "padding": 40},
                                                                 *spec["convs"][1:]])),
    "a sparse tensor in a .pt": lambda: pt_state_dict(lambda t: t.to_sparse()),
    "a quantised tensor in a .pt": lambda: pt_state_dict(
        lambda t: torch.quantize_per_tensor(t, scale=0.01, zero_point=0, dtype=torch.qint8)),
}
# What the message must say (a clear reason, not a stack trace).
REASONS = {
    "512 channels of 1024x1024": "activation",
    "2,048 channels on digits": "activation",
    "4,096 channels on digits": "multiply-adds|activation",
    "a 512x512 kernel on 1024x1024": "multiply-adds",
    "1,000 hidden layers": "does not build.*at most 16 hidden",
    "30,000 hidden layers": "does not build.*at most 16 hidden",
    "2 input channels": "channels",
    "4 input channels": "channels",
    "reflect padding beyond the input": "does not build.*reflect padding, which must be less than 28\\.$",
    "a sparse tensor in a .pt": "sparse",
    "a quantised tensor in a .pt": "quantised",
}
FILES: dict[str, bytes] = {}


def case_file(name: str) -> bytes:
    if name not in FILES:
        FILES[name] = CASES[name]()
    return FILES[name]


@pytest.mark.parametrize("mode", ["local", "hosted"])
@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_model_file_is_refused_quickly_and_cheaply(name, mode):
    import re

    data = case_file(name)
    settings = HOSTED if mode == "hosted" else Settings()
    assert len(data) < settings.max_upload_mb * 2**20                 # an upload the app accepts in size
    picked = load_zoo_model("lenet5-digits").info                     # what a .pt state dict is said to be
    outcome, seconds, megabytes = measured(lambda: cnnviz.load_model_bytes(
        data, filename="upload.pt" if ".pt" in name else "upload.safetensors", info=picked,
        max_bytes=settings.max_upload_mb * 2**20, budget=settings.budget()))
    assert isinstance(outcome, ModelLoadError), f"{name}: {outcome!r}"
    assert re.search(REASONS[name], str(outcome), re.IGNORECASE), str(outcome)
    assert seconds < SECONDS and megabytes < MEGABYTES, (name, f"{seconds:.2f} s", f"{megabytes:.0f} MB")


def test_the_costly_files_are_refused_with_their_numbers_and_the_limit():
    message = str(measured(lambda: cnnviz.load_model_bytes(case_file("a 512x512 kernel on 1024x1024"),
                                                           budget=HOSTED.budget()))[0])
    # 1025 x 1025 outputs x 512 x 512 weights = 275 G multiply-adds; the hosted limit is 50 M
    assert "275" in message and "50" in message, message


def test_the_notebook_opt_out_loads_a_costly_model():
    model = cnnviz.load_model_bytes(case_file("4,096 channels on digits"), budget=None)
    assert model.model.conv1.out_channels == 4096


def test_a_huge_image_becomes_a_model_input_quickly_and_cheaply():
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.tile(np.arange(5000, dtype=np.uint8)[None, :], (5000, 1))).save(buffer, "PNG")
    data = buffer.getvalue()
    prep = load_zoo_model("lenet5-digits").info.preprocessing
    outcome, seconds, megabytes = measured(
        lambda: cnnviz.to_model_input(cnnviz.decode_image(data), prep))
    assert isinstance(outcome, np.ndarray) and outcome.shape == (1, 28, 28), outcome
    assert seconds < SECONDS and megabytes < MEGABYTES, (f"{seconds:.2f} s", f"{megabytes:.0f} MB")
