"""Many sessions at once without browsers: Streamlit's agent API (not part of the tests).

    python -m benchmarks.bench_agents [--sessions 30] [--hosted] [--steps open:feature_maps,change:image,...]
                                      [--extra-every 3] [--train-epochs 1] [--cold] [--timeout 300]
                                      [--wait-timeout 30] [--replicas K [--replica-threads 1]] [--json out.json]

Starts two servers in the same run, each with `--server.enableAgentApi true` on its
command line only (the API stays off in every shipped configuration: it lets any client
that reaches the server drive any session's widgets): the real app (`streamlit run
app.py`, with CNNVIZ_HOSTED=1 when --hosted) and the floor, `benchmarks/bare_app.py`,
a bare Streamlit app with one plotly chart per page and the same pages and widget
keys. Against each in turn (the floor first, then the app; the other server idles),
N sessions start together and each makes a tour through POST `/_stcore/agent/interact`:

    open:home (the creating call) -> open:feature_maps -> change:image -> change:layer
    -> open:pooling -> change:kernel -> open:receptive_fields
    and for every --extra-every'th session (0, 3, 6, ... by default) also
    -> open:text_cnn -> change:attribution (another example: a new Integrated Gradients
       attribution) -> open:train -> train (1 epoch, default settings, seed 1000 + n)

Session n sets values of its own: test image (10 + 2n) % 360, a layer and an example that
depend on n, pooling window KERNELS[n % 4], training seed 1000 + n. After every step the
isolation checks (benchmarks/agent_isolation.py) compare the snapshot with what this session
set: its session id, the widgets and the link of the page, what the page draws from them, and
the sidebar's model (the zoo model until this session trains, then its own run's accuracy).
Each violation is an error named "isolation" ("isolation: X checks, Y violations").

--replicas K (K >= 2) runs the app as K replicas behind nginx, started by
deploy/run_local.py's `running()` (CNNVIZ_THREADS=--replica-threads each, 1 by default): it
has no hook for extra command-line arguments, so the agent API is switched on there through
the same options' environment variables (STREAMLIT_SERVER_ENABLE_AGENT_API=true, ...), given
to the replica processes only. Each session keeps its own cookie jar, so the `cnnviz_replica`
cookie nginx sets on its first answer takes all its requests to one replica; "stickiness"
counts a check per step (the cookie is there and never changes) and one per session from
nginx's access log (its agent requests reached exactly one replica), each violation an error
named "sticky". The warm-up tour goes to each replica directly; server CPU and RSS are summed
over the replicas (nginx is reported apart). The floor stays one process.

One step is one request and the snapshot it returns: the time is from sending the
request to the finished run's snapshot. A run that outlasts `server.agentWaitTimeout`
answers `wait_timed_out` (HTTP 202); the session then polls with its `session_id`
until the run's snapshot arrives, and the step's time includes the polling. An error
is a refused request, a snapshot with `status: "error"` or any `exception` element, a
widget that does not hold the value sent, or a step past --timeout. A step whose
widget or page the snapshot does not offer is skipped and reported as such.

Server CPU (utime + stime of the server process and its children, from /proc) and
RSS are read before and after the N sessions; RSS is also sampled every 0.5 s for the
peak. By default one throw-away session first makes the whole tour alone, so that the
baseline includes what all sessions share (torch, data sets, zoo, caches); --cold skips
it. Memory per session is (RSS after - RSS before) / N, with the sessions still alive.
Exit status 1 if there were errors. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.agent_isolation import Checker, Own
from deploy.run_local import COOKIE, running, wait_healthy
from tests.serve import ROOT, free_port

INTERACT = "/_stcore/agent/interact"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TRAIN_EPOCHS = 1  # --train-epochs
KERNELS = [1, 3, 4, 5]  # the pooling window of session n: KERNELS[n % 4] (the app's default, 2, is none of them)
SEED_BASE = 1000  # session n trains with seed SEED_BASE + n (where the form has a seed: not the bare app)


# --- the tour ---------------------------------------------------------------------------------------------

def find_node(tree: dict, key: str) -> dict | None:
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("key") == key:
            return node
        stack.extend(node.get("children") or [])
    return None


def nodes(tree: dict) -> Iterator[dict]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("children") or [])


def other_option(snapshot: dict, key: str, session: int) -> str | None:
    """An option of selectbox `key` other than the first, different from session to session."""
    node = find_node(snapshot["tree"], key)
    options = (node or {}).get("props", {}).get("options") or []
    return options[1 + session % (len(options) - 1)] if len(options) > 1 else None


@dataclass(frozen=True)
class Step:
    name: str
    page: str | None = None  # a navigation to this url_path
    state: Callable[[dict, int], dict | None] | None = None  # (last snapshot, session) -> widget_state
    trigger_label: str | None = None  # fire the trigger action with this label
    extra: bool = False  # only for every --extra-every'th session
    expect: str | None = None  # text some element of the snapshot must show


STEPS = [
    Step("open:home"),  # the creating call: always first, cannot be left out
    Step("open:feature_maps", page="feature_maps"),
    Step("change:image", state=lambda s, n: {"features_index": (10 + 2 * n) % 360}),
    Step("change:layer", state=lambda s, n: {"features_layer": other_option(s, "features_layer", n)}),
    Step("open:pooling", page="pooling"),
    Step("change:kernel", state=lambda s, n: {"pool_kernel": KERNELS[n % len(KERNELS)]}),
    Step("open:receptive_fields", page="receptive_fields"),
    Step("open:text_cnn", page="text_cnn", extra=True),
    Step("change:attribution", state=lambda s, n: {"text_example": other_option(s, "text_example", n)}, extra=True),
    Step("open:train", page="train", extra=True),
    Step("train", state=lambda s, n: {"train_epochs": TRAIN_EPOCHS,
                                      **({"train_seed": SEED_BASE + n} if find_node(s["tree"], "train_seed") else {})},
         trigger_label="Train", extra=True, expect="Trained for"),
]
BY_NAME = {step.name: step for step in STEPS}


@dataclass
class Record:
    target: str
    session: int
    step: str
    seconds: float | None  # None: skipped
    error: str | None = None
    polls: int = 0
    checks: int = 0  # isolation checks made on this step's snapshot
    violations: list[str] = field(default_factory=list)  # "isolation: ..." and "sticky: ..." (also in `error`)


class Client:
    """One agent session: a session id, the last snapshot and its own cookies.

    Behind nginx (--replicas) the cookie jar keeps the `cnnviz_replica` cookie nginx sets on the
    first answer, so every later request of the session reaches the replica that holds it."""

    def __init__(self, url: str, timeout: float, session: int = 0, checker: Checker | None = None,
                 sticky: bool = False) -> None:
        self.url, self.timeout = url + INTERACT, timeout
        self.session_id: str | None = None
        self.snapshot: dict | None = None
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.own = Own(session)
        self.checker = checker or Checker()
        self.sticky = sticky  # expect the replica cookie (behind nginx)
        self.first_cookie: str | None = None

    def replica_cookie(self) -> str | None:
        return next((c.value for c in self.jar if c.name == COOKIE), None)

    def post(self, body: dict, deadline: float) -> tuple[int, dict]:
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=max(1.0, deadline - time.monotonic())) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {"error": {"code": f"http_{exc.code}", "message": ""}}

    def interact(self, body: dict) -> tuple[dict | None, str | None, int]:
        """Send `body`, poll through `wait_timed_out`; return (snapshot, error, polls)."""
        deadline = time.monotonic() + self.timeout
        polls = 0
        while True:
            try:
                status, reply = self.post(body, deadline)
            except (OSError, ValueError) as exc:
                return None, f"request failed: {exc!r}", polls
            error = reply.get("error")
            if error and error.get("code") in ("wait_timed_out", "session_busy"):
                # The run goes on: collect it with only the session id.
                self.session_id = reply.get("session_id") or self.session_id
                if time.monotonic() > deadline:
                    return None, f"no snapshot within {self.timeout:.0f} s", polls
                if error["code"] == "session_busy":
                    time.sleep(0.2)
                body, polls = {"session_id": self.session_id}, polls + 1
                continue
            if error:
                self.session_id = reply.get("session_id") or self.session_id
                return None, f"{error.get('code')} (HTTP {status}): {error.get('message', '')[:200]}", polls
            self.session_id, self.snapshot = reply["session_id"], reply
            return reply, None, polls


def sticky_check(client: Client) -> list[str]:
    """Behind nginx: the session has the replica cookie from its first answer on, and it never changes."""
    cookie = client.replica_cookie()
    if client.first_cookie is None:
        client.first_cookie = cookie
        return [] if cookie else [f"sticky: no {COOKIE} cookie after the first answer"]
    return [] if cookie == client.first_cookie else \
        [f"sticky: {COOKIE} cookie changed from {client.first_cookie!r} to {cookie!r}"]


def run_step(client: Client, step: Step, session: int, target: str) -> Record:
    body: dict = {}
    if client.session_id:
        body["session_id"] = client.session_id
    sent: dict = {}
    if step.page is not None:
        offered = {page["url_path"] for page in (client.snapshot or {}).get("pages", [])}
        if step.page not in offered:
            return Record(target, session, step.name, None, f"skipped: no page {step.page!r}")
        body["page"] = step.page
    if step.state is not None or step.trigger_label:
        actions = (client.snapshot or {}).get("actions", [])
        keys = {action["key"] for action in actions}
        if step.state is not None:
            sent = step.state(client.snapshot, session) or {}
            missing = [key for key, value in sent.items() if key not in keys or value is None]
            if missing:
                return Record(target, session, step.name, None, f"skipped: no widget {', '.join(missing)}")
            body["widget_state"] = sent
        if step.trigger_label:
            triggers = [a["key"] for a in actions if a["kind"] == "trigger" and a.get("label") == step.trigger_label]
            if not triggers:
                return Record(target, session, step.name, None, f"skipped: no trigger {step.trigger_label!r}")
            body["trigger"] = {"key": triggers[0]}
    started = time.perf_counter()
    snapshot, error, polls = client.interact(body)
    seconds = time.perf_counter() - started
    checks, violations = 0, []
    if client.sticky:
        checks, violations = 1, sticky_check(client)
    if snapshot is not None:
        client.checker.record_sent(client.own, snapshot["page"]["url_path"], sent)
        made, isolation = client.checker.check(snapshot, client.own, trained_now=bool(step.trigger_label),
                                               seed=sent.get("train_seed"))
        checks += made
        violations += [f"isolation: {v}" for v in isolation]
        problems = []
        if snapshot.get("status") != "ready":
            problems.append(f"status {snapshot.get('status')!r}")
        exceptions = [node for node in nodes(snapshot["tree"]) if node.get("type") == "exception"]
        for node in exceptions[:2]:
            props = node.get("props", {})
            problems.append(f"exception {props.get('type', '')}: {str(props.get('message', ''))[:160]}")
        if step.expect and not any(step.expect in str(node.get("props", {}).get("body", ""))
                                   for node in nodes(snapshot["tree"])):
            problems.append(f"no element shows {step.expect!r}")
        if step.page is not None and snapshot["page"]["url_path"] != step.page:
            problems.append(f"on page {snapshot['page']['url_path']!r}, not {step.page!r}")
        for key, value in sent.items():
            node = find_node(snapshot["tree"], key)
            if node is not None and node.get("form_id"):
                continue  # a form's field: its page may move on (a training result)
            if node is None or node.get("value") != value:
                problems.append(f"{key} holds {None if node is None else node.get('value')!r}, sent {value!r}")
        error = "; ".join(problems) or None
    if violations:
        error = "; ".join(([error] if error else []) + violations)
    return Record(target, session, step.name, seconds, error, polls, checks, violations)


def tour(url: str, session: int, steps: list[Step], extra_every: int, timeout: float, target: str,
         start: threading.Barrier | None = None, checker: Checker | None = None, sticky: bool = False,
         clients: dict[int, Client] | None = None) -> list[Record]:
    client = Client(url, timeout, session, checker, sticky)
    if clients is not None:
        clients[session] = client
    if start is not None:
        start.wait()
    records = []
    for step in steps:
        if step.extra and (extra_every <= 0 or session % extra_every):
            continue
        record = run_step(client, step, session, target)
        records.append(record)
        if client.session_id is None:  # the creating call failed: nothing else can run
            break
    return records


# --- the servers ------------------------------------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (its exited children included) and its live children."""
    total = 0
    for index, p in enumerate(descendants(pid)):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if index == 0 else 0)
    return total / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_SIZE
        except OSError:
            pass
    return total


@dataclass
class Server:
    name: str
    url: str  # what the sessions call: the server, or nginx in front of the replicas
    pids: list[int]  # the server processes (each replica's), summed for CPU and RSS
    log: Path
    warm_urls: list[str] = field(default_factory=list)  # each replica's own URL: the warm-up tours go there
    proxy_pid: int | None = None  # nginx (its workers are its children): measured apart from the servers
    access_log: Path | None = None  # nginx's: which replica served which replica cookie
    replicas: list[str] = field(default_factory=list)  # "127.0.0.1:<port>" of each replica

    @property
    def sticky(self) -> bool:
        return self.proxy_pid is not None


@contextmanager
def serve(name: str, script: str, *, env: dict[str, str], max_sessions: int, wait_timeout: int | None = None,
          timeout: float = 120) -> Iterator[Server]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=f"bench_agents_{name}_", suffix=".log")[1])
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false",
             # Only here, on this command line: never in a shipped configuration.
             "--server.enableAgentApi", "true", "--server.agentMaxSessions", str(max_sessions),
             *(["--server.agentWaitTimeout", str(wait_timeout)] if wait_timeout else [])],
            cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **env),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, f"http://127.0.0.1:{port}", [proc.pid], log, warm_urls=[f"http://127.0.0.1:{port}"])
    try:
        try:
            wait_healthy(server.url, [proc], timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{name} did not start ({exc}); see {log}:\n{log.read_text()[-2000:]}") from None
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def serve_replicas(name: str, replicas: int, *, env: dict[str, str], max_sessions: int,
                   wait_timeout: int | None = None, threads: int = 1, timeout: float = 180) -> Iterator[Server]:
    """The app as `replicas` processes behind nginx, started by deploy.run_local.running (sticky by cookie).

    running() has no hook for extra command-line arguments, so the agent API is switched on through
    the same options' environment variables, given to these replica processes only (running() passes
    `env` to the replicas, not to nginx; this process's own environment is untouched)."""
    agent_env = {
        # Only here, for these processes: never in a shipped configuration.
        "STREAMLIT_SERVER_ENABLE_AGENT_API": "true",
        "STREAMLIT_SERVER_AGENT_MAX_SESSIONS": str(max_sessions),
        **({"STREAMLIT_SERVER_AGENT_WAIT_TIMEOUT": str(wait_timeout)} if wait_timeout else {}),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **env}
    with running(replicas, threads=threads, env=agent_env, timeout=timeout) as deployment:
        nginx, *procs = deployment.procs  # running() puts nginx first
        yield Server(name, deployment.url, [p.pid for p in procs], deployment.runtime / "replica-0.log",
                     warm_urls=list(deployment.replicas), proxy_pid=nginx.pid, access_log=deployment.access_log,
                     replicas=[u.removeprefix("http://") for u in deployment.replicas])


def stickiness(server: Server, clients: dict[int, Client]) -> tuple[dict[str, int], list[str]]:
    """From nginx's access log: sessions per replica, and the sessions whose agent requests reached more
    than one replica (or none)."""
    served: dict[str, set[str]] = {}
    for line in server.access_log.read_text(errors="replace").splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[3] == INTERACT and fields[4].startswith("replica_cookie="):
            served.setdefault(fields[4].split("=", 1)[1], set()).add(fields[5].split("=", 1)[1])
    per_replica = {replica: 0 for replica in server.replicas}
    problems = []
    for n, client in sorted(clients.items()):
        upstreams = served.get(client.first_cookie or "", set())
        if len(upstreams) == 1:
            upstream = next(iter(upstreams))
            per_replica[upstream] = per_replica.get(upstream, 0) + 1
        else:
            problems.append(f"sticky: session {n} (cookie {client.first_cookie}) reached "
                            f"{', '.join(sorted(upstreams)) or 'no replica'} per nginx's access log")
    return per_replica, problems


# --- one measured phase -----------------------------------------------------------------------------------

@dataclass
class Phase:
    target: str
    records: list[Record] = field(default_factory=list)
    warmup_errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    rss_before: int = 0
    rss_after: int = 0
    rss_peak: int = 0
    replicas: int = 1
    proxy_cpu: float | None = None  # nginx (--replicas), not in `cpu`
    proxy_rss: int | None = None
    per_replica: dict[str, int] = field(default_factory=dict)  # sessions each replica served
    sticky_problems: list[str] = field(default_factory=list)  # from nginx's access log
    isolation_checks: int = 0
    isolation_violations: int = 0
    sticky_checks: int = 0
    sticky_violations: int = 0


def measure(server: Server, sessions: int, steps: list[Step], extra_every: int, timeout: float,
            cold: bool) -> Phase:
    phase = Phase(server.name, replicas=len(server.pids))
    checker = Checker()

    def rss() -> int:
        return sum(rss_bytes(pid) for pid in server.pids)

    def cpu() -> float:
        return sum(cpu_seconds(pid) for pid in server.pids)

    if not cold:  # one session alone on each replica (straight to it), so the baseline holds what sessions share
        warm_checker = Checker()
        warm: list[list[Record]] = [[] for _ in server.warm_urls]

        def warm_up(i: int) -> None:
            warm[i] = tour(server.warm_urls[i], 0, steps, 1, timeout, server.name, checker=warm_checker)

        threads = [threading.Thread(target=warm_up, args=(i,), daemon=True) for i in range(len(server.warm_urls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        phase.warmup_errors = [f"{'' if len(warm) == 1 else f'replica {i} '}{r.step}: {r.error}"
                               for i, records in enumerate(warm) for r in records if r.error]
        checker.zoo = dict(warm_checker.zoo)  # the zoo model as an untrained session saw it
    time.sleep(1.0)
    phase.rss_before = phase.rss_peak = rss()
    cpu_before = cpu()
    proxy_cpu_before = cpu_seconds(server.proxy_pid) if server.proxy_pid else None
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            phase.rss_peak = max(phase.rss_peak, rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = threading.Barrier(sessions + 1)
    results: list[list[Record]] = [[] for _ in range(sessions)]
    clients: dict[int, Client] = {}

    def worker(n: int) -> None:
        try:
            results[n] = tour(server.url, n, steps, extra_every, timeout, server.name, start, checker,
                              server.sticky, clients)
        except Exception as exc:  # noqa: BLE001 - a broken session is an error, not a crash
            results[n] = [Record(server.name, n, "tour", None, f"crashed: {exc!r}")]

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(sessions)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.wall = time.perf_counter() - began
    phase.cpu = cpu() - cpu_before
    if server.proxy_pid:
        phase.proxy_cpu = cpu_seconds(server.proxy_pid) - proxy_cpu_before
        phase.proxy_rss = rss_bytes(server.proxy_pid)
    done.set()
    sampler.join()
    phase.rss_after = rss()
    phase.rss_peak = max(phase.rss_peak, phase.rss_after)
    phase.records = [record for session in results for record in session]
    phase.isolation_checks, phase.isolation_violations = checker.checks, checker.violations
    if server.sticky:
        phase.sticky_checks = sum(1 for r in phase.records if r.seconds is not None) + len(clients)
        phase.sticky_violations = sum(1 for r in phase.records for v in r.violations if v.startswith("sticky"))
        phase.per_replica, phase.sticky_problems = stickiness(server, clients)
        phase.sticky_violations += len(phase.sticky_problems)
    return phase


# --- the report -------------------------------------------------------------------------------------------

def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def timed(records: list[Record], step: str | None = None) -> list[float]:
    return [r.seconds for r in records if r.seconds is not None and (step is None or r.step == step)]


def is_error(record: Record) -> bool:
    return record.error is not None and not record.error.startswith("skipped")


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor() or "?")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return f"nproc {os.cpu_count()}, {model}; uptime: {load}"


def report(app: Phase, bare: Phase, sessions: int, args: argparse.Namespace, before: str) -> dict:
    names = [step for step in dict.fromkeys(r.step for r in app.records + bare.records)]
    where = (f"app as {args.replicas} replicas behind nginx (CNNVIZ_THREADS={args.replica_threads} each)"
             if args.replicas else "app as one process")
    lines = [f"# bench_agents: {sessions} sessions, {'hosted' if args.hosted else 'not hosted'}, {where}, "
             f"bare floor as one process, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
             f"# before the run: {before}", f"# after the run:  {machine()}", "",
             "| step | n | app median | app p95 | bare median | bare p95 | p95 app/bare |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    summary: dict = {"sessions": sessions, "hosted": args.hosted, "replicas": args.replicas or 1,
                     "replica_threads": args.replica_threads if args.replicas else None,
                     "steps": {}, "machine_before": before,
                     "machine_after": machine(),
                     "date": datetime.now(UTC).isoformat(timespec="seconds")}
    for name in names + [None]:
        a, b = timed(app.records, name), timed(bare.records, name)
        row = {"n": len(a), "app_median": statistics.median(a) if a else None, "app_p95": p95(a) if a else None,
               "bare_median": statistics.median(b) if b else None, "bare_p95": p95(b) if b else None}
        row["ratio"] = row["app_p95"] / row["bare_p95"] if a and b and row["bare_p95"] > 0 else None
        summary["steps"][name or "all"] = row
        label = "**all steps**" if name is None else name
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.1f}x"
        lines.append(f"| {label} | {row['n']} | {fmt(row['app_median'])} s | {fmt(row['app_p95'])} s | "
                     f"{fmt(row['bare_median'])} s | {fmt(row['bare_p95'])} s | "
                     f"{ratio} |")
    lines.append("")
    for phase in (app, bare):
        errors = [r for r in phase.records if is_error(r)]
        skipped = [r for r in phase.records if r.error and not is_error(r)]
        steps_timed = len(timed(phase.records))
        per_session = (phase.rss_after - phase.rss_before) / sessions / 2**20
        polls = sum(r.polls for r in phase.records)
        summary[phase.target] = {
            "errors": len(errors), "skipped": len(skipped), "steps": steps_timed, "wall_s": phase.wall,
            "cpu_s": phase.cpu, "cpu_per_step_s": phase.cpu / steps_timed if steps_timed else None,
            "rss_before_mb": phase.rss_before / 2**20, "rss_after_mb": phase.rss_after / 2**20,
            "rss_peak_mb": phase.rss_peak / 2**20, "mb_per_session": per_session, "polls": polls,
            "error_samples": [f"s{r.session} {r.step}: {r.error}" for r in errors[:10]],
            "skipped_samples": sorted({f"{r.step}: {r.error}" for r in skipped}),
            "warmup_errors": phase.warmup_errors, "replicas": phase.replicas,
            "isolation_checks": phase.isolation_checks, "isolation_violations": phase.isolation_violations,
            "isolation_errors": sum(1 for r in errors if any(v.startswith("isolation") for v in r.violations))}
        if phase.proxy_cpu is not None:
            summary[phase.target].update(
                proxy_cpu_s=phase.proxy_cpu, proxy_rss_mb=phase.proxy_rss / 2**20,
                sessions_per_replica=phase.per_replica,
                sticky_checks=phase.sticky_checks, sticky_violations=phase.sticky_violations,
                sticky_log_problems=phase.sticky_problems)
            summary[phase.target]["errors"] += len(phase.sticky_problems)
        label = phase.target + (f" ({phase.replicas} replicas, CPU and RSS summed over them)"
                                if phase.replicas > 1 else "")
        lines += [f"{label}: errors {len(errors)} of {len(phase.records)} steps"
                  f"{f', {len(skipped)} skipped' if skipped else ''}; wall {phase.wall:.1f} s; "
                  f"server CPU {phase.cpu:.1f} s ({phase.cpu / phase.wall if phase.wall else 0:.2f} cores, "
                  f"{fmt(phase.cpu / steps_timed if steps_timed else None)} s per step); "
                  f"RSS {phase.rss_before / 2**20:.0f} -> {phase.rss_after / 2**20:.0f} MB "
                  f"(peak {phase.rss_peak / 2**20:.0f}), {per_session:.1f} MB per session; "
                  f"wait_timed_out polls {polls}"]
        lines.append(f"  isolation: {phase.isolation_checks} checks, {phase.isolation_violations} violations")
        if phase.proxy_cpu is not None:
            lines.append(f"  stickiness: {phase.sticky_checks} checks, {phase.sticky_violations} violations; "
                         f"sessions per replica {phase.per_replica}; nginx CPU {phase.proxy_cpu:.1f} s, "
                         f"RSS {phase.proxy_rss / 2**20:.0f} MB (not in the server figures)")
            lines += [f"  error: {problem}" for problem in phase.sticky_problems[:10]]
        lines += [f"  error: {sample}" for sample in summary[phase.target]["error_samples"]]
        lines += [f"  skipped: {sample}" for sample in summary[phase.target]["skipped_samples"]]
        lines += [f"  warm-up error: {sample}" for sample in phase.warmup_errors]
    print("\n".join(lines), flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--hosted", action="store_true", help="run the app with CNNVIZ_HOSTED=1")
    parser.add_argument("--steps", default=",".join(step.name for step in STEPS),
                        help="comma-separated steps, in tour order (open:home always runs first); "
                             f"default all: {','.join(step.name for step in STEPS)}")
    parser.add_argument("--extra-every", type=int, default=3,
                        help="sessions 0, k, 2k, ... also do the extra steps (TextCNN, training); 0: none")
    parser.add_argument("--train-epochs", type=int, default=1, help="epochs of the training step")
    parser.add_argument("--cold", action="store_true", help="no warm-up tour before the measured one")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a step may take, polling included")
    parser.add_argument("--wait-timeout", type=int,
                        help="server.agentWaitTimeout in seconds (Streamlit's default: 30); a run that outlasts "
                             "it answers wait_timed_out and is collected by polling")
    parser.add_argument("--replicas", type=int, default=0, metavar="K",
                        help="run the app as K >= 2 replicas behind nginx (deploy.run_local, sticky by the "
                             f"{COOKIE} cookie); the bare floor stays one process")
    parser.add_argument("--replica-threads", type=int, default=1,
                        help="with --replicas: CNNVIZ_THREADS of each replica (default 1, as deploy.run_local)")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    if args.replicas == 1 or args.replicas < 0:
        parser.error("--replicas must be at least 2 (leave it out for one process)")
    global TRAIN_EPOCHS
    TRAIN_EPOCHS = args.train_epochs
    unknown = [name for name in args.steps.split(",") if name and name not in BY_NAME]
    if unknown:
        parser.error(f"unknown steps {unknown}; known: {list(BY_NAME)}")
    chosen = set(args.steps.split(",")) | {"open:home"}
    steps = [step for step in STEPS if step.name in chosen]
    max_sessions = max(100, 2 * args.sessions + 10)
    app_env = {"CNNVIZ_HOSTED": "1"} if args.hosted else {}
    before = machine()
    if args.replicas:
        app_serving = serve_replicas("app", args.replicas, env=app_env, max_sessions=max_sessions,
                                     wait_timeout=args.wait_timeout, threads=args.replica_threads)
    else:
        app_serving = serve("app", "app.py", env=app_env, max_sessions=max_sessions, wait_timeout=args.wait_timeout)
    with serve("bare", "benchmarks/bare_app.py", env={}, max_sessions=max_sessions,
               wait_timeout=args.wait_timeout) as bare_server, app_serving as app_server:
        bare = measure(bare_server, args.sessions, steps, args.extra_every, args.timeout, args.cold)
        app = measure(app_server, args.sessions, steps, args.extra_every, args.timeout, args.cold)
    summary = report(app, bare, args.sessions, args, before)
    summary["command"] = "python -m benchmarks.bench_agents " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 1 if summary["app"]["errors"] or summary["bare"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
