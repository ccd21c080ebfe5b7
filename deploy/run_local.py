"""Run N replicas of the app behind nginx on this machine, with sticky sessions; Ctrl-C stops them all.

    python -m deploy.run_local --replicas 2 --port 8500      (then open http://127.0.0.1:8500)

Each replica is `streamlit run app.py --server.headless true` on its own loopback port with
CNNVIZ_REPLICAS=<replicas>, so the app gives each its share of the cores as torch threads
(cnnviz.settings.threads_for: one each with the default of one replica per core; `--threads N`
sets CNNVIZ_THREADS=N instead), and OMP_WAIT_POLICY=PASSIVE (unless already set), so a waiting
OpenMP thread sleeps instead of spinning on a core another replica needs (docs/threads.md). nginx (Debian's package,
`apt-get install nginx`) runs as the current user with its config, pid, temp files and logs in a
temporary directory (printed at start; the access log says which replica served which request).
Other CNNVIZ_* variables (e.g. CNNVIZ_HOSTED=1) pass through to every replica.

`--print-config` prints the nginx config it would use, for another set of upstream addresses too
(how deploy/nginx.compose.conf is made:
`python -m deploy.run_local --print-config --port 80 --servers replica-1:8501,replica-2:8501 --compose`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
COOKIE = "cnnviz_replica"     # the replica cookie nginx sets and hashes on


def max_body_mb() -> int:
    """nginx's client_max_body_size in MB: Streamlit's upload cap plus room for the multipart framing."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    return int(config["server"]["maxUploadSize"]) + 2


def render_config(servers: Sequence[str], *, listen: str, runtime: str, access_log: str | None = None,
                  error_log: str | None = None) -> str:
    """The nginx config for these upstream `host:port` addresses, listening on `listen`."""
    text = TEMPLATE.read_text()
    values = {
        # max_fails=0: one failed request must not move every session of a replica elsewhere for
        # fail_timeout (their sessions would start over); a request to a dead replica still goes on to the next.
        "@SERVERS@": "\n".join(f"        server {s} max_fails=0;" for s in servers),
        "@LISTEN@": listen,
        "@RUNTIME@": runtime,
        "@ACCESS_LOG@": access_log or f"{runtime}/access.log",
        "@ERROR_LOG@": error_log or f"{runtime}/error.log",
        "@MAX_BODY_MB@": str(max_body_mb()),
    }
    for key, value in values.items():
        text = text.replace(key, value)
    assert "@" not in "".join(line.split("#")[0] for line in text.splitlines()), "a placeholder was left"
    return text


def find_nginx() -> str | None:
    """nginx's path (Debian puts it in /usr/sbin, which a user's PATH may not hold), or None."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_healthy(url: str, procs: Sequence[subprocess.Popen], timeout: float) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            pass
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a process exited before {url} became healthy")
        if time.time() > deadline:
            raise RuntimeError(f"{url} did not become healthy within {timeout:.0f} s")
        time.sleep(0.2)


@dataclass
class Deployment:
    url: str                        # nginx, what browsers open
    replicas: list[str]             # each replica's own URL (127.0.0.1:<port>)
    runtime: Path                   # nginx.conf, pid, logs, replica-<i>.log
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def access_log(self) -> Path:
        return self.runtime / "access.log"


def _stop(procs: Sequence[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def replica_env(i: int, replicas: int, *, threads: int | None = None, secret: str,
                base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of replica `i` of `replicas`: `base` (os.environ) with CNNVIZ_REPLICAS, CNNVIZ_REPLICA,
    the shared cookie secret, OMP_WAIT_POLICY=PASSIVE unless `base` sets one, CNNVIZ_THREADS if `threads`
    is given, then `extra`. OMP_WAIT_POLICY must be there before torch loads: libgomp reads it only then."""
    env = dict(os.environ if base is None else base)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.update(CNNVIZ_REPLICAS=str(replicas), CNNVIZ_REPLICA=str(i), STREAMLIT_SERVER_COOKIE_SECRET=secret)
    if threads is not None:
        env["CNNVIZ_THREADS"] = str(threads)
    env.update(extra or {})
    return env


@contextmanager
def running(replicas: int = 2, port: int = 0, *, host: str = "127.0.0.1", threads: int | None = None,
            env: dict[str, str] | None = None, timeout: float = 90, keep: bool = False) -> Iterator[Deployment]:
    """Start `replicas` Streamlit processes and nginx in front of them; stop them all on exit."""
    nginx = find_nginx()
    if nginx is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
    runtime = Path(tempfile.mkdtemp(prefix="cnnviz-nginx-"))
    if os.geteuid() == 0:     # nginx's workers then run as `nobody` and write their temp files in here
        runtime.chmod(0o755)
    ports = [free_port() for _ in range(replicas)]
    port = port or free_port(host)
    # The same cookie secret in every replica: cookies Streamlit signs (its session middleware, st.login)
    # stay valid if a visitor moves to another replica. (The XSRF cookie is not signed: a double submit.)
    secret = os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
    procs: list[subprocess.Popen] = []
    try:
        for i, p in enumerate(ports):
            log = open(runtime / f"replica-{i}.log", "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(p),
                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=replica_env(i, replicas, threads=threads, secret=secret, extra=env)))
            log.close()
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for u in urls:
            wait_healthy(u, procs, timeout)
        listen = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        conf = runtime / "nginx.conf"
        conf.write_text(render_config([f"127.0.0.1:{p}" for p in ports], listen=listen, runtime=str(runtime)))
        nginx_log = open(runtime / "nginx.out", "wb")
        nginx_proc = subprocess.Popen(
            [nginx, "-p", str(runtime), "-c", str(conf), "-e", str(runtime / "error.log"), "-g", "daemon off;"],
            stdout=nginx_log, stderr=subprocess.STDOUT, start_new_session=True)
        nginx_log.close()
        procs.insert(0, nginx_proc)   # stopped first: no new requests reach a replica that is stopping
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        try:
            wait_healthy(url, [nginx_proc], 15)
        except RuntimeError:
            raise RuntimeError("nginx did not start: " + (runtime / "nginx.out").read_text(errors="replace")
                               + (runtime / "error.log").read_text(errors="replace")) from None
        yield Deployment(url=url, replicas=urls, runtime=runtime, procs=procs)
    finally:
        _stop(procs)
        if not keep:
            shutil.rmtree(runtime, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.run_local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=max(1, os.cpu_count() or 1),
                        help="Streamlit processes (default: one per core)")
    parser.add_argument("--port", type=int, default=8500, help="nginx's port (default 8500)")
    parser.add_argument("--host", default="127.0.0.1", help="nginx's address (0.0.0.0 for a class network)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CNNVIZ_THREADS of each replica (default: the app's share of the cores, "
                             "cores // replicas, at least 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) on exit")
    parser.add_argument("--print-config", action="store_true", help="print the nginx config and exit")
    parser.add_argument("--servers", help="with --print-config: upstream host:port list, comma-separated")
    parser.add_argument("--compose", action="store_true",
                        help="with --print-config: log to the container's stdout/stderr (deploy/nginx.compose.conf)")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.print_config:
        servers = args.servers.split(",") if args.servers else [f"127.0.0.1:{8501 + i}" for i in range(args.replicas)]
        logs = dict(access_log="/dev/stdout", error_log="/dev/stderr") if args.compose else {}
        print(render_config(servers, listen=str(args.port), runtime="/tmp", **logs), end="")
        return 0

    # SIGTERM (a service manager, `kill`) stops everything the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print(f"starting {args.replicas} replicas and nginx...", flush=True)
        with running(args.replicas, args.port, host=args.host, threads=args.threads, keep=args.keep) as d:
            threads = args.threads or f"{os.cpu_count() or 1} cores // {args.replicas} replicas, at least 1"
            print(f"cnnviz: {d.url}  ({args.replicas} replicas: {', '.join(d.replicas)}; logs in {d.runtime})\n"
                  f"torch threads per replica: {threads}; "
                  f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')}\n"
                  "Ctrl-C stops them all.", flush=True)
            while all(p.poll() is None for p in d.procs):
                time.sleep(0.5)
            dead = [i for i, p in enumerate(d.procs) if p.poll() is not None]
            print(f"a process exited ({'nginx' if 0 in dead else f'replica {dead[0] - 1}'}); stopping the others",
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nstopped", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
