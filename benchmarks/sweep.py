"""Scaling table: training samples/s and memory against the number of steps T and the hidden size.

    python benchmarks/sweep.py [--quick] [--max-gb 10] [--max-cell-s 120]

The tutorial-5 network with its hidden width and step count varied (784-H-10 LIF,
constant-current input, ATan surrogate, membrane CE summed over steps, Adam, batch 128;
``peers/bsnn_runners.py``), for T in {25, 100, 500, 2000} and H in {128, 1000, 4096},
trained by three methods: BPTT (hoisted, the default schedule), BPTT with
``remat=True``, and e-prop. Each cell runs in its own process: it compiles the train
step, reads XLA's memory analysis (arguments + outputs + temporaries of the step), and
skips the cell without running it if that exceeds ``--max-gb``; otherwise it times the
first call (compilation), one warm-up step and up to 5 timed steps (median). A cell whose
step time, extrapolated linearly in T from the same method and width at the previous T,
would make the cell take over ``--max-cell-s`` is skipped and says so. Pixels are uniform
noise (the dense work does not depend on them). Writes ``results/sweep.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import peak_rss_mb, write_sections  # noqa: E402

METHODS = ("bptt", "bptt-checkpoint", "eprop")
LABELS = {"bptt": "BPTT (hoisted)", "bptt-checkpoint": "BPTT remat", "eprop": "e-prop"}
BATCH = 128
MB = 2.0 ** 20


def cell(spec: dict) -> dict:
    import numpy as np

    import bsnn  # noqa: F401  (the runtime, before the base RSS is read)
    from peers.bsnn_runners import Runner
    rss_base = peak_rss_mb()
    runner = Runner({"kind": "tutorial5", "hidden": spec["hidden"], "steps": spec["steps"],
                     "method": spec["method"], "batch": BATCH, "seed": 0})
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 784), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int32)
    t0 = time.perf_counter()
    compiled = runner.lowered(x, y)
    compile_s = time.perf_counter() - t0
    m = compiled.memory_analysis()
    xla_mb = (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes) / MB
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    result = {"spec": spec, "compile_s": compile_s, "xla_mb": xla_mb, "xla_temp_mb": m.temp_size_in_bytes / MB,
              "xla_flops": float(cost.get("flops", float("nan"))), "rss_base_mb": rss_base}
    del compiled
    if xla_mb > spec["max_gb"] * 1024:
        return {**result, "skipped": f"XLA needs {xla_mb / 1024:.1f} GB > {spec['max_gb']} GB"}
    t0 = time.perf_counter()
    runner.sync(runner.step(x, y))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    runner.sync(runner.step(x, y))
    warm = time.perf_counter() - t0
    budget = max(spec["max_cell_s"] - compile_s - first - warm, 0.0) / 2
    n = int(min(5, max(1, budget // max(warm, 1e-6))))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        runner.sync(runner.step(x, y))
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    return {**result, "first_call_s": first, "warmup_s": warm, "step_s": step_s, "timed_steps": n,
            "samples_per_s": BATCH / step_s, "peak_rss_mb": peak_rss_mb()}


def run_cell(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--cell", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"spec": spec, "skipped": f"stopped after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
        return {"spec": spec, "skipped": f"failed: {tail[:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(r: dict, key: str, fmt: str) -> str:
    if "skipped" in r and key not in r:
        return "skipped"
    value = r.get(key)
    return "-" if value is None else format(value, fmt)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T in {25, 100}, H in {128, 1000}")
    parser.add_argument("--max-gb", type=float, default=10.0, help="skip cells whose step needs more (default 10)")
    parser.add_argument("--max-cell-s", type=float, default=120.0,
                        help="skip cells predicted to take longer (default 120)")
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        print(json.dumps(cell(json.loads(args.cell))))
        return
    import jax
    steps = (25, 100) if args.quick else (25, 100, 500, 2000)
    hidden = (128, 1000) if args.quick else (128, 1000, 4096)
    rows = []
    for method in METHODS:
        for h in hidden:
            last = None
            for t in steps:
                spec = {"method": method, "hidden": h, "steps": t, "max_gb": args.max_gb,
                        "max_cell_s": args.max_cell_s}
                if last is not None and "step_s" in last:
                    predicted = last["step_s"] * t / last["spec"]["steps"]
                    if 3 * predicted > args.max_cell_s:
                        rows.append({"spec": spec, "skipped": f"predicted {predicted:.0f} s per step "
                                                              f"(from T={last['spec']['steps']})"})
                        print(f"{method} H={h} T={t}: {rows[-1]['skipped']}", file=sys.stderr, flush=True)
                        continue
                print(f"{method} H={h} T={t} ...", file=sys.stderr, flush=True)
                r = run_cell(spec, timeout=max(3 * args.max_cell_s, 300))
                rows.append(r)
                print(f"  {r.get('samples_per_s', 0):.0f} samples/s, XLA {r.get('xla_mb', 0):.0f} MiB"
                      + (f", {r['skipped']}" if "skipped" in r else ""), file=sys.stderr, flush=True)
                last = r
    by = {(r["spec"]["method"], r["spec"]["hidden"], r["spec"]["steps"]): r for r in rows}
    cols = ["method", "hidden"] + [f"T={t}" for t in steps]

    def pivot(key, fmt):
        return [[LABELS[m], h] + [_fmt(by[(m, h, t)], key, fmt) for t in steps] for m in METHODS for h in hidden]

    skipped = [f"{LABELS[r['spec']['method']]} H={r['spec']['hidden']} T={r['spec']['steps']}: {r['skipped']}"
               for r in rows if "skipped" in r]
    sections = [
        ("Training samples/s", "Median of the timed steps (batch 128) after compilation and a warm-up step.",
         cols, pivot("samples_per_s", ".0f")),
        ("Memory of the train step (XLA, MiB)",
         "XLA's memory analysis of the compiled step: arguments + outputs + temporaries - aliased "
         "(weights, Adam state, batch and working memory); computed without running, also for skipped cells.",
         cols, pivot("xla_mb", ".0f")),
        ("Peak RSS of the cell's process (MiB)",
         "The whole process: Python, JAX runtime and compiler (about " +
         f"{statistics.median([r['rss_base_mb'] for r in rows if 'rss_base_mb' in r] or [0]):.0f}"
         " MiB after imports) plus the step.", cols, pivot("peak_rss_mb", ".0f")),
        ("Compile time of the train step (s)", "lower + compile, measured before the first call.",
         cols, pivot("compile_s", ".1f")),
    ]
    notes = ("784-H-10 tutorial-5 network (LIF beta 0.95, ATan, membrane CE summed over steps, Adam), "
             "constant-current input, batch 128, float32. " +
             ("Skipped cells: " + "; ".join(skipped) + ". " if skipped else "No cell skipped. ") +
             f"Command: `python benchmarks/sweep.py{' --quick' if args.quick else ''}`. "
             "Timings on a machine shared with other jobs are noisy.")
    name = "sweep" + ("" if jax.default_backend() == "cpu" else f"_{jax.default_backend()}") + \
        ("_quick" if args.quick else "")
    paths = write_sections(name, {"quick": args.quick, "batch": BATCH, "max_gb": args.max_gb,
                                  "max_cell_s": args.max_cell_s, "rows": rows},
                           "Scaling: samples/s and memory against T and hidden size", sections, notes)
    print(open(paths[1]).read())


if __name__ == "__main__":
    main()
