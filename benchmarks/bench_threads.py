"""How many torch threads the app should use: 1 against 2, on a quiet and on a busy machine.

    python -m benchmarks.bench_threads [--repeats 3] [--epochs 3]

The app shares its 2 cores with the browser and with other sessions, so the
thread count that is fastest alone may be slow in use. For each load (quiet; busy:
one spinning process per core, as a browser redrawing and another session would
keep them) it times the app's two heaviest routine jobs with 1 and with 2 torch
threads, alternating the thread counts so both see the same load:

- training LeNet-5 on digits for `--epochs` epochs (the Train page's default model),
- 20 Integrated Gradients explanations of a TextCNN sentence (the TextCNN page).

It prints the median of each and the ratio 2 threads / 1 thread (below 1: two are faster).

Then (skip it with `--no-policies`) it compares torch threads and OpenMP wait policies the way
replicas and sessions meet in a deployment: every configuration runs in fresh processes, with
OMP_WAIT_POLICY in their environment before torch is imported (libgomp reads it only when it
loads), and times one unit of work (`--unit-epochs` epochs of LeNet-5 on digits, then a forward
pass over the test set):

- (a) 1 thread, (b) 2 threads with OMP_WAIT_POLICY unset (libgomp spins a while, then sleeps),
  (c) 2 threads with OMP_WAIT_POLICY=PASSIVE (waiting threads sleep at once),
  (d) 2 threads with OMP_WAIT_POLICY=ACTIVE (waiting threads spin), (e) 1 thread with PASSIVE,
- each alone and with K other processes of the same configuration doing the same work at once
  (`--others 1 3`: K+1 replicas or sessions computing together).

It prints a Markdown table: the median wall time of a unit, its CPU time (a thread that spins
burns CPU the others need), and the ratio to (a) alone and to (a) under the same load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from cnnviz import TrainConfig, attribute_tokens, load_image_dataset, load_zoo_model, train, untrained_model


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def jobs(epochs: int) -> dict[str, Callable[[], None]]:
    """The timed jobs, each a function that does one unit of work."""
    digits = load_image_dataset("digits")
    x, y = digits.train_tensors()
    config = TrainConfig(epochs=epochs)
    text = load_zoo_model("textcnn-sentiment")
    prep = text.info.preprocessing
    tokens = prep.encode_batch(["dull at first but wonderful in the end"])[0]

    def training() -> None:
        train(untrained_model("lenet5", digits).model, (x, y), config)

    def attributions() -> None:
        for _ in range(20):
            attribute_tokens(text.model, tokens, 1, vocabulary=prep.vocabulary, method="integrated_gradients",
                             n_steps=50)

    return {f"train LeNet-5, {epochs} epochs": training, "20 x Integrated Gradients (TextCNN)": attributions}


def measure(work: dict[str, Callable[[], None]], repeats: int) -> dict[tuple[str, int], float]:
    """Median seconds of each job at 1 and 2 threads, the thread counts alternating."""
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeats):
        for name, fn in work.items():
            for threads in (1, 2):
                torch.set_num_threads(threads)
                start = time.perf_counter()
                fn()
                times.setdefault((name, threads), []).append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


# --- torch threads and OpenMP wait policies in fresh processes ----------------------------------

# (label, torch threads, OMP_WAIT_POLICY or None for unset)
CONFIGS = [("a", 1, None), ("b", 2, None), ("c", 2, "PASSIVE"), ("d", 2, "ACTIVE"), ("e", 1, "PASSIVE")]


def unit_of_work(epochs: int) -> Callable[[], None]:
    """Train a fresh LeNet-5 on digits for `epochs` epochs, then one forward pass over the test set."""
    digits = load_image_dataset("digits")
    x, y = digits.train_tensors()
    x_test, _ = digits.test_tensors()
    config = TrainConfig(epochs=epochs)

    def unit() -> None:
        model = untrained_model("lenet5", digits).model
        train(model, (x, y), config)
        model.eval()
        with torch.no_grad():
            for batch in x_test.split(64):
                model(batch)

    return unit


def worker(threads: int, epochs: int, repeats: int) -> None:
    """One process of the comparison: warm up, say `ready`, wait for `go` on stdin, then time
    `repeats` units and print them as JSON (repeats 0: loop until terminated, as load)."""
    torch.set_num_threads(threads)       # this thread runs every unit (the count is per thread)
    unit = unit_of_work(epochs)
    unit()
    print("ready", flush=True)
    sys.stdin.readline()
    if repeats == 0:
        while True:
            unit()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        unit()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(json.dumps({"wall": wall, "cpu": cpu, "threads": torch.get_num_threads(),
                      "policy": os.environ.get("OMP_WAIT_POLICY")}), flush=True)


def _start(threads: int, policy: str | None, epochs: int, repeats: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    return subprocess.Popen([sys.executable, "-m", "benchmarks.bench_threads", "--worker", "--threads", str(threads),
                             "--unit-epochs", str(epochs), "--repeats", str(repeats)],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def run_config(threads: int, policy: str | None, others: int, epochs: int, repeats: int) -> dict:
    """Times of one measured process while `others` processes of the same configuration loop the same work."""
    load = [_start(threads, policy, epochs, 0) for _ in range(others)]
    measured = _start(threads, policy, epochs, repeats)
    procs = [measured, *load]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker failed before it was ready")
        for p in load + [measured]:          # the load first, so the measured units all see it
            p.stdin.write("go\n")
            p.stdin.flush()
        result = json.loads(measured.stdout.readline())
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            p.wait()
    assert result["threads"] == threads and result["policy"] == policy, result
    return result


def compare_policies(others: list[int], epochs: int, repeats: int) -> None:
    loads = [0, *others]
    rows = {}
    for k in loads:
        for label, threads, policy in CONFIGS:
            r = run_config(threads, policy, k, epochs, repeats)
            rows[(k, label)] = (statistics.median(r["wall"]), statistics.median(r["cpu"]))
            print(f"  K={k} ({label}) {threads} thread(s), OMP_WAIT_POLICY={policy or 'unset'}: "
                  f"{rows[(k, label)][0]:.2f} s wall, {rows[(k, label)][1]:.2f} s CPU per unit", flush=True)
    base = rows[(0, "a")][0]
    print(f"\nOne unit: train LeNet-5 on digits {epochs} epochs + forward over the test set; "
          f"medians of {repeats} units.\n")
    print("| others computing (K) | config | threads | OMP_WAIT_POLICY | wall s | CPU s | / (a) alone | / (a) same K |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for k in loads:
        for label, threads, policy in CONFIGS:
            wall, cpu = rows[(k, label)]
            print(f"| {k} | ({label}) | {threads} | {policy or 'unset'} | {wall:.2f} | {cpu:.2f} | "
                  f"{wall / base:.2f} | {wall / rows[(k, 'a')][0]:.2f} |")


def in_process(repeats: int, epochs: int) -> None:
    """1 against 2 threads in this process, quiet and with one spinning process per core."""
    work = jobs(epochs)
    for fn in work.values():  # warm-up: lazy initialisation inside torch
        torch.set_num_threads(1)
        fn()
    for load in ("quiet", "busy"):
        spinners = []
        if load == "busy":
            spinners = [multiprocessing.Process(target=_spin, args=(3600,), daemon=True)
                        for _ in range(os.cpu_count() or 2)]
            for spinner in spinners:
                spinner.start()
        try:
            medians = measure(work, repeats)
        finally:
            for spinner in spinners:
                spinner.terminate()
                spinner.join()
        for name in work:
            one, two = medians[(name, 1)], medians[(name, 2)]
            print(f"{load:5}  {name:38}  1 thread {one:7.2f} s   2 threads {two:7.2f} s   2/1 = {two / one:.2f}",
                  flush=True)


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--no-policies", action="store_true", help="skip the thread / wait-policy comparison")
    parser.add_argument("--policy-repeats", type=int, default=5, help="units timed per configuration")
    parser.add_argument("--unit-epochs", type=int, default=2, help="training epochs in one unit of work")
    parser.add_argument("--others", type=int, nargs="*", default=[1, 3], help="loads: other processes computing")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.threads, args.unit_epochs, args.repeats)
        return
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}; "
          f"load average before {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    in_process(args.repeats, args.epochs)
    if not args.no_policies:
        print("\nthreads and OMP_WAIT_POLICY, fresh processes:", flush=True)
        compare_policies(args.others, args.unit_epochs, args.policy_repeats)
    print(f"\nload average after {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
