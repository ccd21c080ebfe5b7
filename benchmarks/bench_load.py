"""Many users at once: concurrent real browser sessions against one server (not part of the tests).

    python -m benchmarks.bench_load [--sessions 10] [--hosted] [--reload] [--cold] [--nice-browser]
                                    [--timeout 180]

Starts `streamlit run app.py` once (with CNNVIZ_HOSTED=1 when --hosted) and one
chromium with one browser context per session, so each is its own Streamlit session.
All sessions start together and, in three phases:

1. Tour: open Home by URL, then every other page in menu order through the sidebar
   menu (the URL path changes, the Streamlit session stays: a `page.goto` would start
   a new session, and drop the session's model), and on each page make one cheap
   change (a slider, radio, selectbox or button; Home has none that reaches the
   server). Timed: from the navigation or the change to the rendered page (its heading
   visible, the script no longer running, the status widget hidden); and the server's
   part, from the browser's request for the run to the server's report that it has
   finished (both read from the websocket), which leaves out the browser's clicking,
   loading and drawing: browser and server share this machine. With --reload
   every page is opened by `page.goto` instead: a new Streamlit session per visit, as
   for a user who types URLs or reloads.
2. Isolation, set: odd sessions switch to the zoo's TinyVGG (Train / load, Model zoo,
   Use this model), even ones keep LeNet-5; then on Feature maps each session sets the
   test image index 10 + 2 * session.
3. Isolation, check, once every session has set its own: each session steps its index
   up by one (a rerun with the others' values already on the server) and checks that the
   page's prediction, its URL and the sidebar show its own index, data set and model,
   then opens Home and checks the model there.

An error is a wait that timed out, an `stException` on a page, a page that never
finishes running, or an isolation check that failed. The server's memory (RSS of the
streamlit process and its children, from /proc) is sampled before the sessions start,
every second during the run and at the end; its CPU time is read from /proc as well.
By default one throw-away session first makes the tour alone, so that the baseline
includes what all sessions share (torch, the data sets, the zoo models, the caches);
--cold skips it, and the sessions then meet a fresh server. Exit status 1 if there were errors.

The browsers run on the same machine as the server and, with many sessions, take most
of its CPU: --nice-browser runs them at nice 19, so the server's times come closer to
what it would do with the browsers elsewhere. Needs playwright (pip) and Debian's
chromium; Linux (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.serve import CHROMIUM, CHROMIUM_ARGS, served_app

LENET, TINYVGG = "LeNet-5 on digits", "TinyVGG on shapes"
MODELS = {LENET: ("lenet5-digits", "digits"), TINYVGG: ("tinyvgg-shapes", "shapes")}
TINYVGG_OPTION = "TinyVGG (CNN Explainer) on shapes"  # its label in the Model zoo tab's selectbox
SCRIPT_STATE = "document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"


# --- the pages and one cheap change on each --------------------------------------------------------------

async def choose(page: Page, label: str, option: str | int) -> None:
    """Pick `option` (its label, or its position) in the selectbox labelled `label`."""
    await page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    options = page.get_by_role("option")
    await (options.nth(option) if isinstance(option, int) else options.filter(has_text=option)).first.click()


async def nudge(page: Page, label: str) -> None:
    """Move the slider labelled `label` one step to the right."""
    thumb = page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
    await thumb.focus()
    await thumb.press("ArrowRight")


async def pick(page: Page, label: str, option: str) -> None:
    """Pick `option` in the radio labelled `label`."""
    await page.get_by_test_id("stRadio").filter(has_text=label).get_by_text(option, exact=True).click()


async def train_change(page: Page) -> None:
    await page.get_by_role("tab", name="Model zoo").click()
    await choose(page, "Zoo model", TINYVGG_OPTION)  # chosen, not used: the model stays


@dataclass(frozen=True)
class PageSpec:
    path: str            # url path ("" is Home)
    menu: str            # its entry in the sidebar menu
    heading: str         # its title, shown when it has rendered
    change: str | None   # what the cheap change does (for the report)
    act: object = None   # async (page) -> None, the change
    url_after: str | None = None  # a regex the URL matches once the change has reached the server (the
    # page writes its settings into the URL at the end of each run; the URL must also have changed)


PAGES = [
    PageSpec("", "Home", "cnnviz: see how convolutional networks work", None),
    PageSpec("train", "Train / load", "Train / load a model", "Model zoo tab: choose TinyVGG (not used)",
             train_change),
    PageSpec("feature_maps", "Feature maps", "Feature maps", "Layer: the second one",
             lambda p: choose(p, "Layer", 1), r"features_layer="),
    PageSpec("receptive_fields", "Receptive fields", "Receptive fields", "Kernel size k: 3 -> 4",
             lambda p: nudge(p, "Kernel size k"), r"sparse_k=4"),
    PageSpec("parameter_sharing", "Parameter sharing", "Parameter sharing: convolution is equivariant",
             "Shift right: one more pixel", lambda p: nudge(p, "Shift right (pixels)"), r"eq_dx=1(&|$)"),
    PageSpec("pooling", "Pooling", "Pooling: downsampling that buys invariance", "Window (kernel): 2 -> 3",
             lambda p: nudge(p, "Window (kernel)"), r"pool_kernel=3"),
    PageSpec("text_cnn", "TextCNN", "TextCNN: convolution over words", "Method: Occlusion",
             lambda p: pick(p, "Method", "Occlusion"), r"text_method=occlusion"),
    PageSpec("resnet", "ResNet vs plain", "ResNet: why shortcuts let deep networks train",
             "Depth at initialisation: one step deeper", lambda p: nudge(p, "Depth (layers with weights"),
             r"resnet_depth="),
    PageSpec("lesson", "Guided lesson", "A guided lesson: five ideas behind CNNs", "Next step",
             lambda p: p.get_by_role("button", name="Next step").click(), r"lesson_step="),
]
BY_PATH = {spec.path: spec for spec in PAGES}


def label(path: str) -> str:
    return path or "home"


# --- one browser session ----------------------------------------------------------------------------------

@dataclass
class Record:
    session: int
    page: str
    kind: str            # "open" (navigation), "change" (a widget), "check" (isolation)
    seconds: float
    error: str | None = None
    server: float | None = None  # from the browser's request for the run to the server's report that it finished


@dataclass
class Session:
    number: int
    page: Page
    url: str
    timeout_ms: float
    records: list[Record] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    healthy: bool = True  # False after an error: the next page is opened by URL, in a new Streamlit session
    finished: int = 0     # script runs (whole page or fragment) the server has reported finished
    running: bool = False  # the server has started a run that has not finished yet
    finished_at: float = 0.0  # when the last finished run was reported
    requested_at: float = 0.0  # when the browser last asked for a run

    def __post_init__(self) -> None:
        # The server's own word on each run, read from the websocket: the DOM's script state can
        # skip a quick running -> notRunning when the browser is busy.
        self.page.on("websocket", self.on_websocket)

    def on_websocket(self, ws) -> None:
        ws.on("framereceived", self.on_frame)
        ws.on("framesent", self.on_sent)

    def on_sent(self, payload: bytes | str) -> None:
        try:
            if not isinstance(payload, str) and BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
                self.requested_at = time.perf_counter()
        except Exception:  # noqa: BLE001 - not a message of ours
            pass

    def server_seconds(self, start: float) -> float:
        """From the browser's request for the run (or `start`) to the server's report that it finished."""
        return self.finished_at - max(start, self.requested_at if self.requested_at <= self.finished_at else start)

    def on_frame(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            return
        try:
            kind = (msg := ForwardMsg.FromString(payload)).WhichOneof("type")
        except Exception:  # noqa: BLE001 - not a message of ours
            return
        if kind == "new_session":
            self.running = True
        elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            self.finished += 1
            self.running = False
            self.finished_at = time.perf_counter()

    @property
    def model(self) -> str:
        return TINYVGG if self.number % 2 else LENET

    def error(self, page: str, kind: str, seconds: float, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        self.records.append(Record(self.number, page, kind, seconds, text[:600]))
        self.healthy = False

    async def runs(self) -> int:
        return self.finished

    async def settled(self, after_runs: int | None = None) -> None:
        """Wait until the server has finished a run (after `after_runs` finished runs) and started no other,
        and the page shows it: script state notRunning, status widget hidden."""
        deadline = time.perf_counter() + self.timeout_ms / 1000
        while self.running or (after_runs is not None and self.finished <= after_runs):
            if time.perf_counter() > deadline:
                state = await self.page.evaluate(SCRIPT_STATE)
                raise PageError(f"did not finish within {self.timeout_ms / 1000:.0f} s: "
                                f"{'a run still going' if self.running else 'no run finished'} "
                                f"({self.finished} runs finished, {after_runs} before), page script state {state}, "
                                f"at {self.page.url}")
            await asyncio.sleep(0.05)
        await self.page.wait_for_function(f"() => ({SCRIPT_STATE}) === 'notRunning'", timeout=self.timeout_ms)
        await expect(self.page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=self.timeout_ms)
        exceptions = self.page.get_by_test_id("stException")
        if await exceptions.count():
            text = " ".join((await exceptions.first.inner_text()).split())
            raise PageError(f"stException on the page: {text[:600]}")

    async def open(self, path: str, *, by_url: bool = False) -> None:
        """Open a page (by URL, or through the sidebar menu) and time it until it has rendered."""
        spec = BY_PATH[path]
        start = time.perf_counter()
        try:
            if by_url or not self.healthy:
                self.healthy = True
                before = self.finished
                await self.page.goto(f"{self.url}/{path}", timeout=self.timeout_ms)
            else:
                before = await self.runs()
                await self.page.get_by_test_id("stSidebarNavLink").filter(has_text=spec.menu).click(
                    timeout=self.timeout_ms)
            await expect(self.page.get_by_role("heading", name=spec.heading, exact=True)).to_be_visible(
                timeout=self.timeout_ms)
            await self.settled(before)
        except Exception as exc:  # noqa: BLE001 - every failure is a result here
            self.error(label(path), "open", time.perf_counter() - start, exc)
            return
        self.records.append(Record(self.number, label(path), "open", time.perf_counter() - start,
                                   server=self.server_seconds(start)))

    async def change(self, path: str) -> None:
        """Make the page's cheap change and time it until the page has rendered again."""
        spec = BY_PATH[path]
        if spec.act is None or not self.healthy:
            return
        start = time.perf_counter()
        try:
            before, url = await self.runs(), self.page.url
            await spec.act(self.page)
            await self.settled(before)
            if spec.url_after:
                await expect(self.page).to_have_url(re.compile(spec.url_after), timeout=self.timeout_ms)
                await expect(self.page).not_to_have_url(url, timeout=self.timeout_ms)
                await self.settled()
        except Exception as exc:  # noqa: BLE001
            self.error(label(path), "change", time.perf_counter() - start, exc)
            return
        self.records.append(Record(self.number, label(path), "change", time.perf_counter() - start,
                                   server=self.server_seconds(start)))

    async def tour(self, *, reload: bool) -> None:
        for spec in PAGES:
            await self.open(spec.path, by_url=reload or spec.path == "")
            await self.change(spec.path)

    # isolation: each session its own model and its own test image index
    @property
    def index(self) -> int:
        return 10 + 2 * self.number

    async def set_own(self) -> None:
        await self.open("train")
        if not self.healthy:
            return
        start = time.perf_counter()
        try:
            if self.model == TINYVGG:
                await self.page.get_by_role("tab", name="Model zoo").click(timeout=self.timeout_ms)
                if TINYVGG_OPTION not in await self.page.get_by_test_id("stSelectbox").filter(
                        has_text="Zoo model").inner_text():
                    before = await self.runs()
                    await choose(self.page, "Zoo model", TINYVGG_OPTION)
                    await self.settled(before)
                before = await self.runs()
                await self.page.get_by_role("button", name="Use this model").click(timeout=self.timeout_ms)
                await self.settled(before)
                await expect(self.page.get_by_text(f"{TINYVGG} is now the current model.")).to_be_visible(
                    timeout=self.timeout_ms)
            await self.check_sidebar()
            await self.open("feature_maps")
            if not self.healthy:
                return
            before = await self.runs()
            box = self.page.get_by_label(re.compile(r"^Test image \(0 to \d+\)$"))
            await box.fill(str(self.index), timeout=self.timeout_ms)
            await box.press("Enter")
            await self.settled(before)
            await self.check_own(self.index)
        except Exception as exc:  # noqa: BLE001
            self.error("feature_maps", "check", time.perf_counter() - start, exc)
            return
        self.records.append(Record(self.number, "feature_maps", "check", time.perf_counter() - start))

    async def check_own(self, index: int) -> None:
        """The page's prediction, its URL and the sidebar show this session's index, data set and model."""
        key, data = MODELS[self.model]
        await expect(self.page.get_by_text(re.compile(rf"Prediction for test image {index} of {data}:"))
                     ).to_be_visible(timeout=self.timeout_ms)
        await expect(self.page).to_have_url(re.compile(rf"[?&]model={key}(&|$)"), timeout=self.timeout_ms)
        await expect(self.page).to_have_url(re.compile(rf"[?&]features_index={index}(&|$)"),
                                            timeout=self.timeout_ms)
        await self.check_sidebar()

    async def check_sidebar(self) -> None:
        sidebar = self.page.get_by_test_id("stSidebar")
        other = TINYVGG if self.model == LENET else LENET
        await expect(sidebar.get_by_text(self.model, exact=True)).to_be_visible(timeout=self.timeout_ms)
        await expect(sidebar.get_by_text(other, exact=True)).to_have_count(0)

    async def check_after_others(self) -> None:
        start = time.perf_counter()
        try:
            if not self.healthy:
                raise PageError("not checked: setting its own model and index failed")
            before = await self.runs()
            await self.page.get_by_test_id("stNumberInput").filter(has_text="Test image").get_by_test_id(
                "stNumberInputStepUp").click(timeout=self.timeout_ms)
            await self.settled(before)
            await self.check_own(self.index + 1)
            await self.open("")
            if not self.healthy:
                raise PageError("Home did not render")
            await expect(self.page.get_by_role("heading", name=f"The current model: {self.model}")).to_be_visible(
                timeout=self.timeout_ms)
            await self.check_sidebar()
        except Exception as exc:  # noqa: BLE001
            self.error("isolation", "check", time.perf_counter() - start, exc)
            return
        self.records.append(Record(self.number, "isolation", "check", time.perf_counter() - start))


class PageError(Exception):
    """The page rendered something wrong."""


# --- the server's processes -------------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def tree(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """`root` and all its descendants."""
    children = _children() if children is None else children
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(root: int, exclude: frozenset[int] = frozenset()) -> float:
    """User + system time of `root` and its live descendants (but `exclude`), with the children they reaped."""
    total = 0
    for pid in tree(root):
        fields = _stat(pid) if pid not in exclude else None
        if fields is not None:
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICKS


def client_cpu_seconds(server: int) -> float:
    """CPU time of this script, playwright's driver and the browser (every descendant but the server)."""
    return cpu_seconds(os.getpid(), frozenset(tree(server)))


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def server_pid(port: int) -> int:
    """The `streamlit run` process this script started (serve.py does not hand out its pid)."""
    for pid in tree(os.getpid())[1:]:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "streamlit" in args and str(port) in args:
            return pid
    raise RuntimeError(f"no streamlit process on port {port} among this script's children")


class Sampler(threading.Thread):
    """RSS of the server's processes (and of this script's browser) once a second."""

    def __init__(self, server: int, *, nice_client: bool = False) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.nice_client = nice_client
        self.samples: list[tuple[float, float, float]] = []  # (time, server MB, client MB)
        self._halt = threading.Event()

    def sample(self) -> tuple[float, float]:
        children = _children()
        server = tree(self.server, children)
        client = [pid for pid in tree(os.getpid(), children)[1:] if pid not in server]
        result = rss_mb(server), rss_mb(client)
        if self.nice_client:  # nice is per thread, and chromium sets its threads' own: again every second
            for pid in client:
                try:
                    if b"chromium" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        continue  # playwright's driver stays at normal priority: it reports the events
                except OSError:
                    continue
                try:
                    for tid in os.listdir(f"/proc/{pid}/task"):
                        os.setpriority(os.PRIO_PROCESS, int(tid), 19)
                except OSError:
                    pass
        self.samples.append((time.perf_counter(), *result))
        return result

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()


# --- the run ----------------------------------------------------------------------------------------------

def quantiles(values: list[float]) -> str:
    """Median, 95th percentile and maximum."""
    if not values:
        return "     -       -       -"
    p95 = statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]
    return f"{statistics.median(values):6.2f}  {p95:6.2f}  {max(values):6.2f}"


def row(name: str, records: list[Record], note: str = "") -> str:
    rendered = quantiles([r.seconds for r in records])
    server = quantiles([r.server for r in records if r.server is not None])
    return f"  {name:18} {rendered}   {server}  {len(records):4}{note}"


async def barrier(sync: asyncio.Barrier, session: Session, what: str, timeout: float) -> None:
    try:
        await asyncio.wait_for(sync.wait(), timeout)
    except (TimeoutError, asyncio.BrokenBarrierError) as exc:
        session.error("isolation", "check", 0.0, f"waiting for the others to {what}: {type(exc).__name__}")


async def run_session(session: Session, sync: asyncio.Barrier, phases: dict, *, reload: bool,
                      timeout: float) -> None:
    await session.tour(reload=reload)
    await barrier(sync, session, "finish the tour", timeout * 10)
    phases.setdefault("tour", time.perf_counter())
    if not session.healthy:
        await session.open("")
    await session.set_own()
    await barrier(sync, session, "set their own model and index", timeout * 5)
    phases.setdefault("set", time.perf_counter())
    await session.check_after_others()


async def load_test(args: argparse.Namespace) -> int:
    # On SIGTERM, unwind (close the browser, stop the server): serve.py starts the server in a
    # session of its own, which a kill of this process alone would leave running.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    env = {"CNNVIZ_HOSTED": "1"} if args.hosted else {}
    timeout_ms = args.timeout * 1000
    wall_started = datetime.now().astimezone()
    print(f"cnnviz load test: {args.sessions} sessions{', CNNVIZ_HOSTED=1' if args.hosted else ''}"
          f"{', pages opened by URL (--reload)' if args.reload else ''}"
          f"{', cold server (--cold)' if args.cold else ''}"
          f"{', browser at nice 19' if args.nice_browser else ''}; started {wall_started:%Y-%m-%d %H:%M:%S %Z}"
          f", {os.cpu_count()} CPUs", flush=True)
    with served_app(env=env, timeout=120) as (url, started):
        print(f"server healthy after {time.perf_counter() - started:.1f} s at {url}", flush=True)
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        sampler = Sampler(pid, nice_client=args.nice_browser)
        cold_mb, _ = sampler.sample()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            sampler.sample()  # renices the browser with --nice-browser
            if not args.cold:  # what every session shares (torch, data sets, zoo models, caches) before the baseline
                warm = await browser.new_context(viewport={"width": 1400, "height": 1000})
                warm.set_default_timeout(timeout_ms)
                warming = Session(-1, await warm.new_page(), url, timeout_ms)
                start = time.perf_counter()
                await warming.tour(reload=False)
                await warm.close()
                problems = [f"{r.page}: {r.error}" for r in warming.records if r.error]
                print(f"warm-up: one session toured every page alone in {time.perf_counter() - start:.1f} s"
                      f"{f', {len(problems)} errors (not counted), e.g. {problems[0]}' if problems else ''}",
                      flush=True)
                await asyncio.sleep(2)
            sessions = []
            for number in range(args.sessions):
                context = await browser.new_context(viewport={"width": 1400, "height": 1000})
                context.set_default_timeout(timeout_ms)  # clicks too wait as long as the pages may take
                page = await context.new_page()
                session = Session(number, page, url, timeout_ms)
                page.on("pageerror", lambda exc, s=session: s.js_errors.append(str(exc)[:200]))
                sessions.append(session)
            base_mb, base_client_mb = sampler.sample()
            cpu_before, busy_before, client_before = cpu_seconds(pid), machine_busy(), client_cpu_seconds(pid)
            sampler.start()
            sync = asyncio.Barrier(args.sessions)
            phases: dict[str, float] = {}
            t0 = time.perf_counter()
            await asyncio.gather(*(run_session(s, sync, phases, reload=args.reload, timeout=args.timeout)
                                   for s in sessions))
            wall = time.perf_counter() - t0
            sampler.stop()
            end_mb, end_client_mb = sampler.sample()
            server_alive = _stat(pid) is not None and _stat(pid)[0] != "Z"
            cpu_after, busy_after, client_after = cpu_seconds(pid), machine_busy(), client_cpu_seconds(pid)
            await browser.close()
        await asyncio.sleep(3)
        closed_mb, _ = sampler.sample()
        cpu_total = cpu_seconds(pid)

    if not server_alive:
        print(f"\nthe server process ({pid}) was gone before the end of the run: it crashed or was killed")
    records = [r for s in sessions for r in s.records]
    errors = [r for r in records if r.error]
    during = [(mb, client) for t, mb, client in sampler.samples if t >= t0]
    peak_mb = max(mb for mb, _ in during)
    peak_client = max(client for _, client in during)
    busy = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)

    n = args.sessions
    print(f"\nwall time: {wall:.1f} s for {n} sessions (tour {phases.get('tour', t0) - t0:.1f} s, "
          f"set own model and index {phases.get('set', t0) - phases.get('tour', t0):.1f} s, "
          f"check {t0 + wall - phases.get('set', t0):.1f} s)")
    print(f"errors: {len(errors)} (of {len(records)} timed steps)")
    for r in errors[:5]:
        print(f"  session {r.session}, {r.page} ({r.kind}, after {r.seconds:.1f} s): {r.error}")
    if len(errors) > 5:
        print("  all errors by page and kind:")
        for (page, kind, start), count in Counter((r.page, r.kind, r.error[:70]) for r in errors).most_common():
            print(f"    {count:3} x {page} ({kind}): {start}")
    js = sum(len(s.js_errors) for s in sessions)
    if js:
        print(f"browser JS errors (not counted): {js}, e.g. {next(e for s in sessions for e in s.js_errors)}")
    for kind, title in (("open", "navigation -> rendered page"), ("change", "cheap change -> rendered again")):
        ok = [r for r in records if r.kind == kind and not r.error]
        print(f"\n{title}, seconds:\n  {'':18} {'until rendered':23}   {'request -> run finished':26}"
              f"\n  {'page':18} median     p95     max   median     p95     max     n")
        print(row("all pages", ok))
        for spec in PAGES:
            times = [r for r in ok if r.page == label(spec.path)]
            if times or kind == "open":
                print(row(label(spec.path), times, f"  {spec.change}" if kind == "change" else ""))
    checks = [r for r in records if r.kind == "check"]
    print(f"\nisolation: {sum(not r.error for r in checks)} of {len(checks)} checks passed "
          f"({n // 2} session(s) on {TINYVGG}, {n - n // 2} on {LENET}, each its own test image index)")
    print("\nserver memory (RSS of streamlit and its children):")
    print(f"  fresh server {cold_mb:7.0f} MB" + ("" if args.cold else "   (before the warm-up tour)"))
    print(f"  baseline     {base_mb:7.0f} MB   (before the sessions start)")
    print(f"  peak         {peak_mb:7.0f} MB")
    print(f"  end          {end_mb:7.0f} MB   (sessions still open); {closed_mb:.0f} MB 3 s after the browser "
          "closed (Streamlit keeps closed sessions 2 min for reconnects)")
    print(f"  per session  {(peak_mb - base_mb) / n:7.1f} MB   ((peak - baseline) / {n})")
    runs = sum(s.finished for s in sessions)
    print(f"server CPU time: {cpu_after - cpu_before:.1f} s during the run ({(cpu_after - cpu_before) / wall:.2f} "
          f"cores on average; {(cpu_after - cpu_before) / max(runs, 1):.2f} s per script run, {runs} runs), "
          f"{cpu_total:.1f} s since it started")
    print(f"browser CPU time (chromium, playwright and this script): {client_after - client_before:.1f} s "
          f"({(client_after - client_before) / wall:.2f} cores on average)")
    print(f"machine: {busy:.0%} of all CPUs busy during the run; this script's browser peaked at "
          f"{peak_client:.0f} MB RSS (summed over its processes; baseline {base_client_mb:.0f} MB, "
          f"end {end_client_mb:.0f} MB)")
    return 1 if errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="concurrent browser sessions (default 10)")
    parser.add_argument("--hosted", action="store_true", help="run the server with CNNVIZ_HOSTED=1")
    parser.add_argument("--reload", action="store_true",
                        help="open every page of the tour by URL (a new Streamlit session per visit)")
    parser.add_argument("--cold", action="store_true", help="no warm-up session before the baseline")
    parser.add_argument("--nice-browser", action="store_true",
                        help="run the browser at nice 19, so that the server gets the CPU first")
    parser.add_argument("--timeout", type=float, default=180, help="seconds any one wait may take (default 180)")
    args = parser.parse_args()
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    try:
        sys.exit(asyncio.run(load_test(args)))
    except asyncio.CancelledError:
        print("interrupted (SIGTERM): browser closed, server stopped", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)


if __name__ == "__main__":
    main()
