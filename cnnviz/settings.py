"""Settings read once at start-up from environment variables (CNNVIZ_*).

`CNNVIZ_HOSTED=1` (or true/yes/on) switches to the limits of a hosted demo, where
one small machine serves a class or the public: fewer epochs and steps, smaller
uploads and data sets, at most two trainings at once, and a tight cost budget for every
model (multiply-adds per image, activation memory: see `cnnviz.models.budget`). Each limit can
still be set on its own (CNNVIZ_MAX_EPOCHS=20, ...). Bad values fall back to the
defaults, so a typo in a deployment never stops the app.

Threads: CNNVIZ_THREADS sets torch's intra-op threads outright. Without it, CNNVIZ_REPLICAS (how
many app processes share this machine's cores; `deploy/run_local.py` and docker-compose set it)
gives each process its share, `threads_for(cores, replicas)`; with neither, one thread.
OMP_WAIT_POLICY=PASSIVE is not set here: libgomp reads it only when torch loads, so the
launchers put it in each replica's environment (docs/threads.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from cnnviz.models.budget import (
    LOCAL_MAX_ACTIVATION_MB,
    LOCAL_MAX_MULTIPLY_ADDS,
    MAX_PARAMETERS,
    Budget,
)


@dataclass(frozen=True)
class Settings:
    """Limits and resources of one app process."""

    hosted: bool = False         # the hosted-demo limits are in force (CNNVIZ_HOSTED)
    # torch intra-op threads (CNNVIZ_THREADS; without it, threads_for(cores, CNNVIZ_REPLICAS)). One: the
    # cores are shared with the browser and other sessions, and a second thread that waits for a busy core
    # made training 1.3-40x slower (benchmarks/bench_threads.py, docs/threads.md); on an idle machine
    # two took 0.5-0.7x as long.
    threads: int = 1
    replicas: int = 1            # app processes that share this machine's cores (CNNVIZ_REPLICAS)
    max_epochs: int = 50         # most epochs a user may ask for (CNNVIZ_MAX_EPOCHS)
    max_upload_mb: int = 10      # largest uploaded file (CNNVIZ_MAX_UPLOAD_MB)
    max_steps: int = 1000        # most training steps of the ResNet experiment (CNNVIZ_MAX_STEPS)
    max_depth: int = 110         # deepest ResNet or plain net (CNNVIZ_MAX_DEPTH)
    max_attribution_steps: int = 200  # most Integrated Gradients steps (CNNVIZ_MAX_ATTRIBUTION_STEPS)
    max_visualisation_steps: int = 1024  # most steps of a feature visualisation (CNNVIZ_MAX_VISUALISATION_STEPS)
    max_samples: int = 12000     # most examples of an online data set or a CSV upload (CNNVIZ_MAX_SAMPLES)
    max_trainings: int = 4       # trainings that run at once in the process; the others wait (CNNVIZ_MAX_TRAININGS)
    # The cost budget of a model (cnnviz.models.budget), checked from its spec before it is built or run:
    # multiply-adds of one forward pass per image or text (CNNVIZ_MAX_MULTIPLY_ADDS)
    max_multiply_adds: int = LOCAL_MAX_MULTIPLY_ADDS
    # MB of activations of one forward pass at the app's batch (CNNVIZ_MAX_ACTIVATION_MB)
    max_activation_mb: int = LOCAL_MAX_ACTIVATION_MB

    def budget(self) -> Budget:
        """The cost budget these settings allow a model (see `cnnviz.models.budget.check_budget`)."""
        return Budget(max_multiply_adds=self.max_multiply_adds, max_activation_bytes=self.max_activation_mb * 2**20,
                      max_parameters=MAX_PARAMETERS)


HOSTED = Settings(hosted=True, threads=1, max_epochs=10, max_upload_mb=5, max_steps=300, max_depth=56,
                  max_attribution_steps=50, max_visualisation_steps=256, max_samples=5000, max_trainings=2,
                  max_multiply_adds=50_000_000, max_activation_mb=200)
_TRUE = ("1", "true", "yes", "on")
MAX_THREADS = 4   # the most threads `threads_for` gives: only 1 and 2 are measured (2-core machines)


def threads_for(cores: int, replicas: int) -> int:
    """Torch threads for one of `replicas` app processes sharing `cores` cores: its share of the
    cores, at least 1 and at most MAX_THREADS (max(1, min(4, cores // replicas))).

    One per process as soon as the replicas fill the cores (the usual case, one replica per core):
    when other processes compute at once, a second thread waits for a busy core and a LeNet-5
    training took 1.3-1.6x as long with OMP_WAIT_POLICY=PASSIVE and 13-40x (default policy) as with
    one thread (benchmarks/bench_threads.py, docs/threads.md). On an idle machine two took 0.47x.
    So the extra threads of a replica with spare cores are run with PASSIVE (set by the launchers),
    which bounds that worst case. Non-positive inputs count as 1.
    """
    return max(1, min(MAX_THREADS, max(int(cores), 1) // max(int(replicas), 1)))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's cpuset), at least 1.
    A CPU quota (Kubernetes `limits.cpu`) is not seen: set CNNVIZ_THREADS there."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def settings_from_env(environ: Mapping[str, str] | None = None, *, cores: int | None = None) -> Settings:
    """Settings from CNNVIZ_<NAME> variables, starting from `HOSTED` when CNNVIZ_HOSTED is set;
    missing, non-numeric or non-positive values keep the default. Without a valid CNNVIZ_THREADS,
    a valid CNNVIZ_REPLICAS gives `threads_for(cores, replicas)` (`cores`: `available_cores()`)."""
    environ = os.environ if environ is None else environ
    hosted = environ.get("CNNVIZ_HOSTED", "").strip().lower() in _TRUE
    base = HOSTED if hosted else Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "hosted":
            continue
        raw = environ.get(f"CNNVIZ_{f.name.upper()}", "").strip()
        if raw.isascii() and raw.isdigit() and int(raw) > 0:
            values[f.name] = int(raw)
    if "threads" not in values and "replicas" in values:
        values["threads"] = threads_for(available_cores() if cores is None else cores, values["replicas"])
    return replace(base, **values)
