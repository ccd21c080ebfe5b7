"""The Dockerfile and server config agree with the repository: same torch pin, every runtime file copied."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_image_installs_the_same_torch_as_requirements():
    pin = re.search(r"^torch==([\w.]+)$", (ROOT / "requirements.txt").read_text(), re.M)[1]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"torch=={pin}" in dockerfile
    assert "download.pytorch.org/whl/cpu" in dockerfile           # the CPU build, not PyPI's CUDA one
    assert "pip install -r requirements.txt" in dockerfile


def test_the_image_copies_everything_the_app_runs_and_turns_hosted_mode_on():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    assert {"app.py", ".streamlit", "cnnviz", "pages", "requirements.txt"} <= copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not any(part in ignored for part in ("cnnviz", "pages", ".streamlit", "app.py"))
    assert list((ROOT / "cnnviz" / "checkpoints").glob("*.safetensors"))  # the zoo ships inside cnnviz/
    assert "CNNVIZ_HOSTED=1" in dockerfile


def test_the_server_config_caps_uploads_at_least_as_tightly_as_the_app_allows():
    from cnnviz import Settings

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["headless"] is True
    assert config["server"]["maxUploadSize"] <= Settings().max_upload_mb   # MB: no upload beyond the app's cap
    assert config["browser"]["gatherUsageStats"] is False
