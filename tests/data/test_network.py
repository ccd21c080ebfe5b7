"""cnnviz.data.network: the probe of the hub answers at once offline and tries one short connection online."""

import cnnviz.data.network as network_module
from cnnviz.data.network import network_available


def test_network_available_is_false_at_once_offline(monkeypatch):
    def no_socket(*args, **kwargs):
        raise AssertionError("network_available opened a socket although HF_HUB_OFFLINE is set")
    monkeypatch.setattr(network_module.socket, "create_connection", no_socket)
    assert network_available() is False
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert network_available() is False  # HF_DATASETS_OFFLINE=1 alone is enough


class _FakeConnection:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_network_available_probes_the_hub_when_online(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "")
    calls = []

    def refused(address, timeout):
        calls.append((address, timeout))
        raise OSError("connection refused")
    monkeypatch.setattr(network_module.socket, "create_connection", refused)
    assert network_available(timeout=0.5) is False
    assert calls == [(("huggingface.co", 443), 0.5)]
    monkeypatch.setattr(network_module.socket, "create_connection", lambda address, timeout: _FakeConnection())
    assert network_available() is True
