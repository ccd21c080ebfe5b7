"""Settings read once at start-up from environment variables (CNNVIZ_*).

Bad values fall back to the defaults, so a typo in a deployment never stops the app.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Settings:
    """Limits and resources of one app process."""

    threads: int = 2          # torch intra-op threads (CNNVIZ_THREADS)
    max_epochs: int = 50      # most epochs a user may ask for (CNNVIZ_MAX_EPOCHS)
    max_upload_mb: int = 10   # largest uploaded file (CNNVIZ_MAX_UPLOAD_MB)


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from CNNVIZ_<NAME> variables; missing, non-numeric or non-positive values keep the default."""
    environ = os.environ if environ is None else environ
    values = {}
    for f in fields(Settings):
        raw = environ.get(f"CNNVIZ_{f.name.upper()}", "").strip()
        if raw.isascii() and raw.isdigit() and int(raw) > 0:
            values[f.name] = int(raw)
    return Settings(**values)
