"""Settings read once at start-up from environment variables (CNNVIZ_*).

`CNNVIZ_HOSTED=1` (or true/yes/on) switches to the limits of a hosted demo, where
one small machine serves a class or the public: fewer epochs and steps, smaller
uploads and data sets, at most two trainings at once, and a tight cost budget for every
model (multiply-adds per image, activation memory: see `cnnviz.budget`). Each limit can
still be set on its own (CNNVIZ_MAX_EPOCHS=20, ...). Bad values fall back to the
defaults, so a typo in a deployment never stops the app.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from cnnviz.budget import LOCAL_MAX_ACTIVATION_MB, LOCAL_MAX_MULTIPLY_ADDS, MAX_PARAMETERS, Budget


@dataclass(frozen=True)
class Settings:
    """Limits and resources of one app process."""

    hosted: bool = False         # the hosted-demo limits are in force (CNNVIZ_HOSTED)
    # torch intra-op threads (CNNVIZ_THREADS). One: the cores are shared with the browser and other
    # sessions, and a second thread that waits for a busy core made training 1.2-2.5x slower
    # (benchmarks/bench_threads.py, docs/benchmarks.md); alone, two gain at most ~30%.
    threads: int = 1
    max_epochs: int = 50         # most epochs a user may ask for (CNNVIZ_MAX_EPOCHS)
    max_upload_mb: int = 10      # largest uploaded file (CNNVIZ_MAX_UPLOAD_MB)
    max_steps: int = 1000        # most training steps of the ResNet experiment (CNNVIZ_MAX_STEPS)
    max_depth: int = 110         # deepest ResNet or plain net (CNNVIZ_MAX_DEPTH)
    max_attribution_steps: int = 200  # most Integrated Gradients steps (CNNVIZ_MAX_ATTRIBUTION_STEPS)
    max_samples: int = 12000     # most examples of an online data set or a CSV upload (CNNVIZ_MAX_SAMPLES)
    max_trainings: int = 4       # trainings that run at once in the process; the others wait (CNNVIZ_MAX_TRAININGS)
    # The cost budget of a model (cnnviz.budget), checked from its spec before it is built or run:
    # multiply-adds of one forward pass per image or text (CNNVIZ_MAX_MULTIPLY_ADDS)
    max_multiply_adds: int = LOCAL_MAX_MULTIPLY_ADDS
    # MB of activations of one forward pass at the app's batch (CNNVIZ_MAX_ACTIVATION_MB)
    max_activation_mb: int = LOCAL_MAX_ACTIVATION_MB

    def budget(self) -> Budget:
        """The cost budget these settings allow a model (see `cnnviz.budget.check_budget`)."""
        return Budget(max_multiply_adds=self.max_multiply_adds, max_activation_bytes=self.max_activation_mb * 2**20,
                      max_parameters=MAX_PARAMETERS)


HOSTED = Settings(hosted=True, threads=1, max_epochs=10, max_upload_mb=5, max_steps=300, max_depth=56,
                  max_attribution_steps=50, max_samples=5000, max_trainings=2,
                  max_multiply_adds=50_000_000, max_activation_mb=200)
_TRUE = ("1", "true", "yes", "on")


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from CNNVIZ_<NAME> variables, starting from `HOSTED` when CNNVIZ_HOSTED is set;
    missing, non-numeric or non-positive values keep the default."""
    environ = os.environ if environ is None else environ
    hosted = environ.get("CNNVIZ_HOSTED", "").strip().lower() in _TRUE
    base = HOSTED if hosted else Settings()
    values = {}
    for f in fields(Settings):
        if f.name == "hosted":
            continue
        raw = environ.get(f"CNNVIZ_{f.name.upper()}", "").strip()
        if raw.isascii() and raw.isdigit() and int(raw) > 0:
            values[f.name] = int(raw)
    return replace(base, **values)
