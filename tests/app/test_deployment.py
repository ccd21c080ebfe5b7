"""The Dockerfile and server config agree with the repository: same torch pin, every runtime file copied."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


# --- threads and OpenMP in the replicas' environment (docs/threads.md) ---------------------------

def test_replica_env_passes_replicas_and_the_passive_wait_policy():
    from deploy.run_local import replica_env

    env = replica_env(1, 3, secret="s", base={"PATH": "/bin", "CNNVIZ_HOSTED": "1"})
    assert env == {"PATH": "/bin", "CNNVIZ_HOSTED": "1", "OMP_WAIT_POLICY": "PASSIVE", "CNNVIZ_REPLICAS": "3",
                   "CNNVIZ_REPLICA": "1", "STREAMLIT_SERVER_COOKIE_SECRET": "s"}
    # no CNNVIZ_THREADS: the app's rule decides (cnnviz.settings.threads_for)


def test_replica_env_keeps_a_wait_policy_the_user_set_and_explicit_threads():
    from deploy.run_local import replica_env

    env = replica_env(0, 2, threads=2, secret="s", base={"OMP_WAIT_POLICY": "active"}, extra={"X": "y"})
    got = (env["OMP_WAIT_POLICY"], env["CNNVIZ_THREADS"], env["CNNVIZ_REPLICAS"], env["X"])
    assert got == ("active", "2", "2", "y")


def test_run_local_starts_every_replica_with_that_environment(monkeypatch):
    """`running()` itself, with fake processes: what each `streamlit run` gets before torch loads."""
    import pytest

    from deploy import run_local

    started: list[dict] = []

    class FakeProcess:
        def __init__(self, args, **kwargs):
            started.append({"args": args, "env": kwargs["env"]})

        def poll(self):
            return None

        def terminate(self):
            pass

        def wait(self, timeout=None):
            return 0

    class Stop(Exception):
        pass

    def healthy(url, procs, timeout):
        raise Stop

    monkeypatch.setattr(run_local, "find_nginx", lambda: "/usr/sbin/nginx")
    monkeypatch.setattr(run_local.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(run_local, "wait_healthy", healthy)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("CNNVIZ_THREADS", raising=False)
    with pytest.raises(Stop):
        with run_local.running(3):
            pass
    assert len(started) == 3 and all("streamlit" in s["args"] for s in started)
    envs = [s["env"] for s in started]
    assert [e["CNNVIZ_REPLICA"] for e in envs] == ["0", "1", "2"]
    assert {e["CNNVIZ_REPLICAS"] for e in envs} == {"3"}
    assert {e["OMP_WAIT_POLICY"] for e in envs} == {"PASSIVE"}
    assert not any("CNNVIZ_THREADS" in e for e in envs)
    assert len({e["STREAMLIT_SERVER_COOKIE_SECRET"] for e in envs}) == 1     # one secret shared by all

    started.clear()
    with pytest.raises(Stop):
        with run_local.running(2, threads=2):
            pass
    assert [s["env"]["CNNVIZ_THREADS"] for s in started] == ["2", "2"]


def test_the_container_configs_set_replicas_or_threads_and_the_passive_wait_policy():
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text()
    replicas = len(re.findall(r"^  replica-\d+:$", compose, re.M))
    assert replicas == 2
    assert f'CNNVIZ_REPLICAS: "{replicas}"' in compose         # as many as the services that share the machine
    assert 'OMP_WAIT_POLICY: "PASSIVE"' in compose
    assert 'CNNVIZ_THREADS: "1"' in compose                      # one each: the replicas share the cores
    kube = (ROOT / "deploy" / "kubernetes.yaml").read_text()
    env = dict(re.findall(r'- name: (\w+)\n\s+value: "([^"]*)"', kube))
    # a pod sees the node's cores, not its CPU request, so threads are given outright: 1 per requested core
    assert env["CNNVIZ_THREADS"] == re.search(r'cpu: "(\d+)"', kube)[1] == "1"
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
