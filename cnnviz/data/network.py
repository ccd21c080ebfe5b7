"""Whether the Hugging Face hub can be reached, probed with a short time-out.

Offline, `datasets.load_dataset` retries for about 25 s before it fails: the online
data sets (images and text) probe the network first.
"""

from __future__ import annotations

import os
import socket

_HF_HOST = ("huggingface.co", 443)


def network_available(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub can be reached; False at once when HF_HUB_OFFLINE is set."""
    if any(os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")
           for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return False
    try:
        with socket.create_connection(_HF_HOST, timeout=timeout):
            return True
    except OSError:
        return False
