"""Server CPU of one rerun of every page, by function (not part of the tests).

    python -m benchmarks.profile_reruns [--repeats 5] [--top 8] [--out docs/rerun-profile.md]

Every page is opened in hosted mode (CNNVIZ_HOSTED=1) with Streamlit's AppTest, the
way tests/conftest.py runs the app. After a warm-up (the page opened, rerun, and the
widget below set to its other value and back, so the caches hold both values, as in a
class where everyone looks at the shared zoo model), it measures

* a plain rerun: `at.run()` with nothing changed;
* a changed rerun: one typical widget of the page flipped between two values;
* the first change (from the warm-up): the same change while its value was not cached yet.

CPU is `time.process_time()` around `at.run()` (the whole process: the script thread and
AppTest's polling and parsing in the main thread) and `time.thread_time()` inside the
script thread (what a server's script thread would spend). Timed runs are unprofiled;
the by-function breakdown comes from separate runs under cProfile, enabled inside the
script thread (AppTest runs the script in a thread of its own). Messages are also
serialised to protobuf afterwards, outside the timed region, to estimate what the
websocket would add (AppTest has no websocket and no browser).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ["CNNVIZ_HOSTED"] = "1"        # before anything imports the app's settings
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 120


@dataclass(frozen=True)
class Page:
    name: str
    path: str | None          # None: the home page (the first run of app.py)
    kind: str | None = None   # the AppTest accessor of the widget that is changed
    key: str | None = None
    what: str = ""
    candidates: tuple = ()    # values to change to, when the options shown are not the values (format_func)


PAGES = (
    Page("Home", None, what="(no widget: plain rerun only)"),
    Page("Train / load", "pages/1_train.py", "number_input", "train_epochs", "epochs"),
    Page("Feature maps", "pages/2_feature_maps.py", "number_input", "features_index", "test image index"),
    Page("Receptive fields", "pages/3_receptive_fields.py", "selectbox", "rf_layer", "layer"),
    Page("Parameter sharing", "pages/4_parameter_sharing.py", "slider", "eq_dx", "shift right"),
    Page("Pooling", "pages/5_pooling.py", "slider", "pool_kernel", "kernel"),
    Page("TextCNN", "pages/6_text_cnn.py", "radio", "text_method", "attribution method",
         ("occlusion", "integrated_gradients")),
    Page("ResNet", "pages/7_resnet.py", "select_slider", "resnet_depth", "depth", (32, 20, 44)),
    Page("Lesson", "pages/8_lesson.py", "segmented_control", "lesson_step", "step"),
)

# --- the script thread: CPU time and an optional profiler ----------------------------------------------------

_probe: dict = {"profiler": None, "thread_cpu": 0.0, "msgs": None}


def _install_probes() -> None:
    """Wrap AppTest's script thread (profiler, thread CPU) and keep each run's forward messages."""
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    original_thread = LocalScriptRunner._run_script_thread
    original_msgs = LocalScriptRunner.forward_msgs

    def run_script_thread(self):
        profiler = _probe["profiler"]
        start = time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            return original_thread(self)
        finally:
            if profiler is not None:
                profiler.disable()
            _probe["thread_cpu"] = time.thread_time() - start

    def forward_msgs(self):
        msgs = original_msgs(self)
        _probe["msgs"] = list(msgs)
        return msgs

    LocalScriptRunner._run_script_thread = run_script_thread
    LocalScriptRunner.forward_msgs = forward_msgs


@dataclass
class Sample:
    process_ms: float
    thread_ms: float
    wall_ms: float
    proto_ms: float
    proto_kb: float


def timed_run(at, action=None) -> Sample:
    """One rerun (after `action`, which sets a widget), unprofiled."""
    if action is not None:
        action()
    c0, w0 = time.process_time(), time.perf_counter()
    at.run()
    c1, w1 = time.process_time(), time.perf_counter()
    _check(at)
    msgs = _probe["msgs"] or []
    p0 = time.process_time()
    size = sum(len(m.SerializeToString()) for m in msgs)
    p1 = time.process_time()
    return Sample((c1 - c0) * 1e3, _probe["thread_cpu"] * 1e3, (w1 - w0) * 1e3, (p1 - p0) * 1e3, size / 1024)


def profiled_run(at, profiler, action=None) -> None:
    if action is not None:
        action()
    _probe["profiler"] = profiler
    try:
        at.run()
    finally:
        _probe["profiler"] = None
    _check(at)


def _check(at) -> None:
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception}")


# --- widgets ----------------------------------------------------------------------------------------------------

def _widget(at, page: Page):
    return getattr(at, page.kind)(key=page.key)


def _other_value(widget, page: Page):
    """A valid value of `widget` other than its current one."""
    value = widget.value
    if page.candidates:
        return next(c for c in page.candidates if c != value)
    if page.kind in ("number_input", "slider"):
        step = widget.step or 1
        step = int(step) if isinstance(value, int) else step
        up = value + step
        return up if widget.max is None or up <= widget.max else value - step
    options = list(widget.options)  # shown labels: the values themselves for these pages' selectboxes
    index = options.index(str(value)) if str(value) in options else 0
    return options[(index + 1) % len(options)]


class Flipper:
    """Sets the page's widget to one of two values, the other one each call."""

    def __init__(self, at, page: Page):
        self.at, self.page = at, page
        widget = _widget(at, page)
        self.values = [widget.value, None]
        self.values[1] = _other_value(widget, page)
        self.index = 0

    def __call__(self) -> None:
        self.index = 1 - self.index
        _widget(self.at, self.page).set_value(self.values[self.index])


# --- attribution of the profile -----------------------------------------------------------------------------------

CATEGORIES = (
    "figure serialisation (plotly to_json / to_plotly_json / json)",
    "figure building (plotly go.Figure, traces, layout, validators)",
    "torch (forward passes, tensor ops)",
    "cnnviz analysis (cnnviz/ except plots)",
    "cnnviz plots (cnnviz/plots: data to figure)",
    "page scripts (pages/)",
    "Streamlit caching (st.cache_data/resource: hashing arguments, copying results)",
    "Streamlit internals (elements, state, protobuf)",
    "AppTest harness (compiling the script and its magic AST pass every run, mock runtime)",
    "other (numpy, PIL, stdlib not called from the above)",
)
SER, BUILD, TORCH, ANALYSIS, PLOTS, PAGES_CAT, CACHING, STREAMLIT, HARNESS, OTHER = CATEGORIES
_SER_NAMES = {"to_json", "to_plotly_json", "to_dict", "to_json_plotly", "to_typed_array_spec", "_json_serializable",
              "encode", "iterencode", "default", "_iterencode", "to_json_plotly_c", "clean_to_json_compatible",
              "convert_to_base64", "is_homogeneous_array", "is_skipped_key"}


def category(func: tuple) -> str | None:
    """The category of a profiled function, or None for glue (numpy, builtins, stdlib): its caller's."""
    filename, _, name = func
    f = filename.replace("\\", "/")
    if filename == "~":                       # a builtin
        if "torch" in name:
            return TORCH
        if name in ("<built-in method builtins.compile>", "<built-in method builtins.exec>"):
            return None
        if "orjson" in name or "_json" in name:
            return SER
        return None
    if "/plotly/io/_json" in f or "/json/" in f or "orjson" in f:
        return SER
    if "/_plotly_utils/utils" in f and (name in _SER_NAMES or name.startswith("encode") or name == "coerce_to_strict"):
        return SER
    if ("/plotly/" in f or "/_plotly_utils/" in f) and name in _SER_NAMES:
        return SER
    if "/plotly/" in f or "/_plotly_utils/" in f:
        return BUILD
    if "/torch/" in f:
        return TORCH
    if "/cnnviz/plots/" in f:
        return PLOTS
    if "/cnnviz/" in f and "/site-packages/" not in f:
        return ANALYSIS
    if f.startswith(str(ROOT / "pages")) or f == APP:
        return PAGES_CAT
    if ("/streamlit/testing/" in f or "/unittest/mock" in f or "script_cache" in f or "scriptrunner/magic" in f
            or name == "get_page_script_byte_code"):
        return HARNESS
    if "/streamlit/runtime/caching/" in f:
        return CACHING
    if "/streamlit/" in f or "/google/protobuf/" in f:
        return STREAMLIT
    return None


def attribute(stats: pstats.Stats) -> dict[str, float]:
    """Self time (s) per category; glue's self time goes to its callers' categories, in proportion."""
    raw = stats.stats  # func -> (cc, nc, tt, ct, callers{caller: (cc, nc, tt, ct)})
    memo: dict = {}

    def shares(func, depth=0) -> dict[str, float]:
        """How `func`'s self time splits into categories (fractions)."""
        cat = category(func)
        if cat is not None:
            return {cat: 1.0}
        if func in memo:
            return memo[func]
        memo[func] = {OTHER: 1.0}  # a cycle: stop here
        callers = raw[func][4]
        total = sum(edge[3] for edge in callers.values()) or sum(edge[2] for edge in callers.values())
        if not callers or total <= 0 or depth > 40:
            return memo[func]
        out: dict[str, float] = {}
        for caller, edge in callers.items():
            weight = (edge[3] if total else edge[2]) / total
            if caller not in raw:
                out[OTHER] = out.get(OTHER, 0) + weight
                continue
            for cat2, frac in shares(caller, depth + 1).items():
                out[cat2] = out.get(cat2, 0) + weight * frac
        memo[func] = out
        return out

    result = {c: 0.0 for c in CATEGORIES}
    for func, (_, _, tt, _, _) in raw.items():
        if func[0] == "~" and "builtins.compile" in func[2]:
            result[HARNESS] += tt  # AppTest compiles the page every run (a fresh ScriptCache); a server does not
            continue
        for cat, frac in shares(func).items():
            result[cat] += tt * frac
    return result


_SKIP = ("exec_func_with_error_handling", "_run_script", "code_to_exec", "_run_script_thread", "run_script_thread",
         "<module>", "wrapped_func", "wrapper", "_call_impl", "run_app", "run",
         "_fragment", "wrap", "inner", "decorate_context", "main_script", "exec")


def top_functions(stats: pstats.Stats, total: float, n: int) -> list[tuple[str, str, float]]:
    """The functions with the most cumulative time that are entries into cnnviz, plotly, torch or a
    Streamlit element."""
    raw = stats.stats
    rows = []
    for func, (_, _, _, ct, callers) in raw.items():
        cat = category(func)
        filename, line, name = func
        if cat in (None, HARNESS, OTHER, PAGES_CAT) or ct < 0.02 * total:
            continue
        if name in _SKIP or name == "__call__" and cat != CACHING:
            continue
        if cat == STREAMLIT and "/streamlit/elements/" not in filename:
            continue
        if cat == CACHING and name not in ("__call__", "_get_or_create_cached_value", "_handle_cache_hit",
                                           "_make_value_key", "read_result", "get", "update_hash"):
            continue
        if cat == TORCH and not (name == "_wrapped_call_impl" or filename == "~"):
            continue
        # an entry: called from outside its own category (plots calling plots is not interesting)
        if callers and all(category(c) == cat for c in callers) and cat not in (ANALYSIS, PLOTS, STREAMLIT,
                                                                                CACHING, TORCH):
            continue
        label = _label(func)
        rows.append((label, cat, ct))
    rows.sort(key=lambda r: -r[2])
    seen, out = set(), []
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            out.append(row)
    return out[:n]


def _label(func: tuple) -> str:
    filename, line, name = func
    if filename == "~":
        return name.replace("<built-in method ", "").rstrip(">")
    f = filename.replace("\\", "/")
    for marker in ("/site-packages/", str(ROOT) + "/"):
        if marker in f:
            f = f.split(marker, 1)[1]
            break
    module = f.removesuffix(".py").replace("/", ".")
    return f"{module}.{name}"


# --- the run --------------------------------------------------------------------------------------------------------

@dataclass
class Result:
    page: Page
    plain: list[Sample] = field(default_factory=list)
    changed: list[Sample] = field(default_factory=list)
    first_change: Sample | None = None
    change: str = ""
    profiles: dict[str, tuple[dict[str, float], list, float]] = field(default_factory=dict)


def open_page(page: Page):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    _check(at)
    if page.path is not None:
        at.switch_page(page.path).run()
        _check(at)
    return at


def measure(page: Page, repeats: int, top: int) -> Result:
    result = Result(page)
    at = open_page(page)
    at.run()                                   # warm-up: the caches of this page's defaults
    _check(at)
    flip = None
    if page.kind is not None:
        flip = Flipper(at, page)
        result.change = f"{page.what}: {flip.values[0]!r} ↔ {flip.values[1]!r}"
        result.first_change = timed_run(at, flip)      # the other value, not cached yet
        timed_run(at, flip)                            # and back: both values cached now
    for _ in range(repeats):
        result.plain.append(timed_run(at))
    if flip is not None:
        for _ in range(repeats):
            result.changed.append(timed_run(at, flip))
    for kind in ("plain", "changed") if flip is not None else ("plain",):
        profiler = cProfile.Profile()
        for _ in range(repeats):
            profiled_run(at, profiler, flip if kind == "changed" else None)
        profiler.create_stats()
        stats = pstats.Stats(profiler)
        by_cat = {c: t / repeats for c, t in attribute(stats).items()}
        total = sum(by_cat.values())
        result.profiles[kind] = (by_cat, top_functions(stats, total * repeats, top), total)
    return result


def median(samples: list[Sample], attr: str) -> float:
    return statistics.median(getattr(s, attr) for s in samples) if samples else float("nan")


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import plotly
    import streamlit
    import torch

    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(),
        "versions": f"streamlit {streamlit.__version__}, plotly {plotly.__version__}, torch {torch.__version__}",
        "torch_threads": str(torch.get_num_threads()),
        "commit": subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                 cwd=Path(__file__).resolve().parents[1]).stdout.strip() or "?",
    }


def fmt(x: float) -> str:
    return "–" if x != x else f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def report(results: list[Result], repeats: int, top: int, info_before: dict, info_after: dict, seconds: float) -> str:
    lines = [
        "# Server CPU per rerun, by page and by function",
        "",
        f"Measured {dt.date.today().isoformat()} with `python -m benchmarks.profile_reruns --repeats {repeats}` "
        f"at commit {info_before.get('commit', '?')}. Hosted mode (`CNNVIZ_HOSTED=1`), one process, the zoo models.",
        "",
        f"- Machine: {info_before['nproc']} cores (nproc), {info_before['cpu']}; Python {info_before['python']}; "
        f"{info_before['versions']}; `torch.get_num_threads()` after the run: {info_after['torch_threads']}.",
        f"- Load before: `{info_before['uptime']}`",
        f"- Load after: `{info_after['uptime']}` (the whole run took {seconds:.0f} s)",
        "",
        "**How it is measured.** Streamlit's `AppTest` runs the app in-process, without a browser and without a "
        "websocket: the numbers are the CPU of the *script* (the rerun a server would do for one click), not "
        "the server's websocket work (protobuf serialisation, compression, sending), which comes on top; the "
        "`proto` columns estimate its serialisation part by serialising the run's messages afterwards. Each page "
        "is opened, rerun once, and its widget set to the other value and back (warm-up: caches filled with "
        "both values, as in a class sharing the zoo model). Then "
        f"{repeats} plain reruns (`at.run()`, nothing changed) and {repeats} changed reruns (the widget flipped "
        "between its two values), unprofiled; the medians are shown. *Process CPU* is `time.process_time()` "
        "around `at.run()`: it includes AppTest's own work in the main thread (polling every millisecond, "
        "parsing the element tree) and its recompiling the page script on every run (a fresh `ScriptCache` "
        "per run; a real server compiles once). *Script thread* is `time.thread_time()` inside the thread "
        "that runs the script: the nearest to what a server spends. *First change* is the same change "
        "before its value was cached (from the warm-up).",
        "",
        "## CPU per rerun (ms, median)",
        "",
        "| page | changed widget | plain: process CPU | plain: script thread | changed: process CPU | "
        "changed: script thread | first change: process CPU | proto per rerun (ms / KB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        first = r.first_change.process_ms if r.first_change else float("nan")
        proto = f"{fmt(median(r.changed or r.plain, 'proto_ms'))} / {fmt(median(r.changed or r.plain, 'proto_kb'))}"
        lines.append(f"| {r.page.name} | {r.change or r.page.what} | {fmt(median(r.plain, 'process_ms'))} | "
                     f"{fmt(median(r.plain, 'thread_ms'))} | {fmt(median(r.changed, 'process_ms'))} | "
                     f"{fmt(median(r.changed, 'thread_ms'))} | {fmt(first)} | {proto} |")
    lines += [
        "",
        "## Where the script thread's time goes (cProfile, ms per rerun, mean of the profiled reruns)",
        "",
        "Self time per category; the self time of glue (numpy, builtins, the standard library) is charged to "
        "the category of its callers, in proportion to the calls' time, so each row sums to the profiled total. "
        "cProfile slows pure-Python code (plotly's validators, Streamlit) more than C code (torch kernels), so "
        "the profiled totals are larger than the unprofiled ones above and the Python-heavy shares are "
        "somewhat inflated.",
        "",
    ]
    short = ["serialise", "build fig", "torch", "analysis", "cnnviz plots", "pages", "st caching", "Streamlit",
             "AppTest",
             "other"]
    lines.append("| page | rerun | total | " + " | ".join(short) + " |")
    lines.append("| --- | --- | ---: | " + " | ".join("---:" for _ in short) + " |")
    for r in results:
        for kind, (by_cat, _, total) in r.profiles.items():
            cells = [f"{fmt(by_cat[c] * 1e3)} ({by_cat[c] / total:.0%})" if total else "–" for c in CATEGORIES]
            lines.append(f"| {r.page.name} | {kind} | {fmt(total * 1e3)} | " + " | ".join(cells) + " |")
    lines += ["", "Categories: " + "; ".join(f"*{s}* = {c}" for s, c in zip(short, CATEGORIES, strict=True)) + ".",
              "", f"## Top functions by cumulative time (ms per rerun, profiled; entries into each package, top {top})",
              "", "Cumulative times overlap (a Streamlit `plotly_chart` includes the figure's `to_json`).", ""]
    for r in results:
        lines.append(f"### {r.page.name}")
        lines.append("")
        lines.append("| rerun | function | what | cumulative ms |")
        lines.append("| --- | --- | --- | ---: |")
        for kind, (_, rows, _) in r.profiles.items():
            for label, cat, ct in rows:
                lines.append(f"| {kind} | `{label}` | {cat.split(' (')[0]} | {fmt(ct / repeats * 1e3)} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--pages", nargs="*", help="page names to run (default: all)")
    parser.add_argument("--out", default=None, help="write the markdown here (default: print only)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    info_before = machine()
    _install_probes()
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    started = time.perf_counter()
    results = []
    for page in PAGES:
        if args.pages and page.name not in args.pages:
            continue
        t0 = time.perf_counter()
        result = measure(page, args.repeats, args.top)
        results.append(result)
        print(f"{page.name}: plain {fmt(median(result.plain, 'process_ms'))} ms, changed "
              f"{fmt(median(result.changed, 'process_ms'))} ms CPU ({time.perf_counter() - t0:.0f} s)", flush=True)
    text = report(results, args.repeats, args.top, info_before, machine(), time.perf_counter() - started)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
