"""The multi-process set-up of deploy/: nginx in front of 2 replicas, sticky sessions, uploads, and the files.

The proxy test starts `deploy.run_local.running` (2 replicas + nginx on loopback) and drives Debian's
chromium through it. It is skipped without nginx or chromium, except in CI (CI=true), where .ci/run
installs both and a skip would hide a failure. The config-file checks need only PyYAML.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import tomllib
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

from deploy import run_local
from tests.serve import CHROMIUM, CHROMIUM_ARGS, ROOT

DEPLOY = ROOT / "deploy"
IN_CI = os.environ.get("CI") == "true"
NGINX = run_local.find_nginx()
needs_nginx = pytest.mark.skipif(NGINX is None and not IN_CI,
                                 reason="nginx is not installed (apt-get install -y nginx; .ci/run does)")
needs_browser = pytest.mark.skipif(not Path(CHROMIUM).exists() and not IN_CI,
                                   reason="Debian's chromium is not installed (apt-get install -y chromium)")
COMPOSE_SERVERS = ["replica-1:8501", "replica-2:8501"]


def compose_config() -> str:
    """What deploy/nginx.compose.conf must be: the template, for the compose file's two replicas."""
    return run_local.render_config(COMPOSE_SERVERS, listen="80", runtime="/tmp",
                                   access_log="/dev/stdout", error_log="/dev/stderr")


# --- The files -----------------------------------------------------------------------------------------------

def test_the_nginx_config_is_sticky_passes_websockets_and_allows_the_app_uploads():
    text = run_local.render_config(["127.0.0.1:1", "127.0.0.1:2"], listen="127.0.0.1:3", runtime="/tmp/x")
    assert "hash $cnnviz_replica consistent;" in text
    assert "add_header Set-Cookie $cnnviz_set_cookie always;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text and "location /_stcore/stream" in text
    assert "proxy_set_header Host $http_host;" in text      # Streamlit refuses a WebSocket whose Origin is not its Host
    assert re.search(r"proxy_read_timeout 3600s;", text)
    body_mb = int(re.search(r"client_max_body_size (\d+)m;", text)[1])
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert body_mb >= config["server"]["maxUploadSize"]
    assert "@" not in "".join(line.split("#")[0] for line in text.splitlines())


def test_the_compose_nginx_config_is_the_template_rendered_for_the_compose_replicas():
    assert (DEPLOY / "nginx.compose.conf").read_text() == compose_config(), (
        "regenerate it: python -m deploy.run_local --print-config --port 80 --servers "
        + ",".join(COMPOSE_SERVERS) + " --compose > deploy/nginx.compose.conf")


@needs_nginx
def test_nginx_accepts_the_config(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(run_local.render_config(["127.0.0.1:1", "127.0.0.1:2"], listen="127.0.0.1:3",
                                            runtime=str(tmp_path)))
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_compose_and_kubernetes_files_have_the_sticky_websocket_set_up():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    replicas = [name for name in services if name.startswith("replica-")]
    assert sorted(replicas) == sorted(s.split(":")[0] for s in COMPOSE_SERVERS)
    for name in replicas:
        env = services[name]["environment"]
        assert str(env["CNNVIZ_THREADS"]) == "1" and str(env["CNNVIZ_HOSTED"]) == "1"
        assert "STREAMLIT_SERVER_COOKIE_SECRET" in env
        assert "ports" not in services[name]           # reached only through nginx
    proxy = services["nginx"]
    assert any(str(p).endswith(":80") for p in proxy["ports"])
    assert any("nginx.compose.conf:/etc/nginx/nginx.conf" in v for v in proxy["volumes"])
    assert set(replicas) <= set(proxy["depends_on"])

    docs = {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d}
    assert {"Deployment", "Service", "Ingress"} <= set(docs)
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["CNNVIZ_THREADS"]["value"] == "1" and "STREAMLIT_SERVER_COOKIE_SECRET" in env
    assert container["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    service = docs["Service"]["spec"]
    assert service["sessionAffinity"] == "ClientIP"
    assert service["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]
    notes = docs["Ingress"]["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/session-cookie-name"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-body-size"].rstrip("m")) >= run_local.max_body_mb() - 2
    backend = docs["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == docs["Service"]["metadata"]["name"]


# --- Through a real nginx --------------------------------------------------------------------------------------

LINE = re.compile(r"^\S+ (?P<status>\d+) (?P<method>\S+) (?P<uri>\S+) replica_cookie=(?P<cookie>\S+) "
                  r"upstream=(?P<upstream>\S+)")


def log_by_cookie(deployment) -> dict[str, list[dict[str, str]]]:
    """The access log's requests, by replica cookie."""
    lines = defaultdict(list)
    for line in deployment.access_log.read_text().splitlines():
        if m := LINE.match(line):
            lines[m["cookie"]].append(m.groupdict())
    return lines


def logged(deployment, cookie: str, done=lambda lines: bool(lines), timeout: float = 10) -> list[dict[str, str]]:
    """The log lines of one replica cookie, once `done` holds for them: nginx writes a request's line
    just after its response (a WebSocket's when it closes)."""
    deadline = time.time() + timeout
    while not done(lines := log_by_cookie(deployment)[cookie]) and time.time() < deadline:
        time.sleep(0.05)
    return lines


@pytest.fixture(scope="module")
def deployment():
    with run_local.running(2) as d:
        yield d


@needs_nginx
def test_new_visitors_spread_over_both_replicas_and_each_cookie_keeps_its_replica(deployment):
    cookies = []
    for _ in range(30):      # both replicas within 30 tries: all but certain (1 - 2**-29)
        with urllib.request.urlopen(f"{deployment.url}/_stcore/health", timeout=10) as r:
            set_cookies = r.headers.get_all("Set-Cookie") or []
            cookies.append(next(m[1] for h in set_cookies if (m := re.match(r"cnnviz_replica=(\w+);", h))))
        if len({logged(deployment, c)[0]["upstream"] for c in cookies}) == 2:
            break
    for c in cookies[-2:]:
        for _ in range(3):
            request = urllib.request.Request(f"{deployment.url}/_stcore/health",
                                             headers={"Cookie": f"cnnviz_replica={c}"})
            with urllib.request.urlopen(request, timeout=10) as r:
                # a known visitor is not given a new replica cookie
                assert not any(h.startswith("cnnviz_replica=") for h in r.headers.get_all("Set-Cookie") or [])
    assert {logged(deployment, c)[0]["upstream"] for c in cookies} == {
        u.removeprefix("http://") for u in deployment.replicas}
    for c in cookies[-2:]:
        lines = logged(deployment, c, lambda lines: len(lines) == 4)
        assert len(lines) == 4 and len({line["upstream"] for line in lines}) == 1, lines


@needs_nginx
@needs_browser
def test_a_session_sticks_to_its_replica_through_reruns_uploads_a_reconnect_and_a_reload(deployment, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    digit = tmp_path / "digit.png"
    pixels = Image.new("L", (28, 28))
    pixels.paste(255, (12, 4, 16, 24))
    pixels.save(digit)
    digit2 = tmp_path / "digit2.png"
    pixels.save(digit2)

    def settled(page):
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)
        expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(
            1, timeout=60_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)

    def replica_cookie(context) -> str:
        return next(c["value"] for c in context.cookies() if c["name"] == run_local.COOKIE)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        first = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = first.new_page()
        page.goto(f"{deployment.url}/feature_maps")
        expect(page.get_by_role("heading", name="Feature maps", exact=True)).to_be_visible(timeout=60_000)
        settled(page)
        cookie = replica_cookie(first)
        # Reruns (a radio, an upload) in the session; the upload is an HTTP PUT that must reach its replica.
        page.locator(".st-key-features_source").get_by_text("Upload", exact=True).click()
        expect(page.get_by_text("No image uploaded yet")).to_be_visible(timeout=30_000)
        page.locator(".st-key-features_upload input[type=file]").set_input_files(digit)
        expect(page.get_by_text("Prediction for upload 'digit.png':")).to_be_visible(timeout=30_000)
        settled(page)
        # nginx reloads its config: the socket drops, the browser reconnects to its session (same
        # replica, same session id) and a second upload there works.
        deployment.procs[0].send_signal(signal.SIGHUP)
        logged(deployment, cookie, lambda lines: any(line["uri"] == "/_stcore/stream" for line in lines), 20)
        settled(page)
        page.locator(".st-key-features_upload input[type=file]").set_input_files(digit2)
        expect(page.get_by_text("Prediction for upload 'digit2.png':")).to_be_visible(timeout=30_000)
        settled(page)
        # A reload is a new WebSocket with the same cookie.
        page.reload()
        expect(page.get_by_role("heading", name="Feature maps", exact=True)).to_be_visible(timeout=60_000)
        settled(page)
        assert replica_cookie(first) == cookie
        first.close()                                   # closes the socket: nginx logs it

        # Other browsers (other cookies) land on the other replica too, and the app renders there.
        replica = logged(deployment, cookie)[0]["upstream"]
        others = set()
        for _ in range(12):
            other = browser.new_context()
            page = other.new_page()
            page.goto(deployment.url)
            expect(page.get_by_role("heading", name="cnnviz: see how convolutional networks work")).to_be_visible(
                timeout=60_000)
            mine = logged(deployment, replica_cookie(other))[0]["upstream"]
            others.add(mine)
            if mine != replica:
                expect(page.get_by_test_id("stSidebar").get_by_text("LeNet-5 on mnist")).to_be_visible(
                    timeout=60_000)
                other.close()
                break
            other.close()
        browser.close()

    assert others - {replica}, "12 new browsers all landed on the first one's replica"
    # Three sockets (the first, its reconnect, the reload's), all closed by now.
    mine = logged(deployment, cookie, lambda lines: sum(line["uri"] == "/_stcore/stream" for line in lines) >= 3)
    assert {line["upstream"] for line in mine} == {replica}, mine
    streams = [line for line in mine if line["uri"] == "/_stcore/stream"]
    assert len(streams) >= 3 and all(line["status"] == "101" for line in streams), mine
    uploads = [line for line in mine if line["uri"].startswith("/_stcore/upload_file/") and line["method"] == "PUT"]
    assert len(uploads) >= 2 and all(line["status"] == "204" for line in uploads), mine
    # Both uploads (before and after the reconnect) went to one Streamlit session: the reconnect resumed it.
    assert len({line["uri"].split("/")[3] for line in uploads}) == 1, uploads
