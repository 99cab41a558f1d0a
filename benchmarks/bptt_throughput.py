"""BPTT throughput and memory: hoisted vs per-step projections, checkpointing for long rollouts.

    python benchmarks/bptt_throughput.py [--quick]

Part 1, the snnTorch tutorial-5 network (784-1000-10, 25 steps, batch 128, constant-current
MNIST input, ATan surrogate, per-step membrane CE, Adam 5e-4): training samples/s and peak
RSS of the hoisted schedule (input projected once, layer by layer, hand-written reverse
pass), of the per-step formulation (the ``[T, B, 784]`` input fed step by step, every
layer projected at every step, generic autodiff: ``hoist=False``) and of the one-loop
schedule (``hoist=False`` with the constant input projected once: all layers in one loop).
Part 2, a long rollout (784-256-10, T = 1000, batch 32, Poisson input): peak RSS and XLA's
temporary-buffer size of one training step with plain BPTT and with ``remat=True``.
Part 3, on the CPU: the hoisted tutorial-5 step with the fused hidden layer as bsnn's
compiled kernel (``bsnn._native``) against the same step traced with ``BSNN_NATIVE=0`` (XLA
loops), both compiled in one process and timed in interleaved windows; the speed-up is the
median of the per-round ratios. Each configuration runs in its own process. Writes
``results/bptt_throughput.{json,md}`` (``bptt_throughput_gpu`` on a GPU backend).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import peak_rss_mb, run_isolated, time_windows, write_report  # noqa: E402

MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "mnist")


def _pixels(n, seed=0):
    import numpy as np
    try:
        from bsnn import data
        ds = data.load("mnist", MNIST_DIR, download=False)
        return ds.x_train[:n], ds.y_train[:n], "mnist"
    except Exception:  # noqa: BLE001 - benchmark data only; random pixels keep the shapes
        rng = np.random.default_rng(seed)
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32), "random"


def _train_step(spec: dict):
    """The tutorial-5-style ``TrainStep`` of a configuration (traced on first call)."""
    import brainstate
    import brainunit as u
    import numpy as np

    import bsnn
    from bsnn import encode

    brainstate.random.seed(0)
    steps = spec["steps"]
    model = bsnn.SpikingClassifier(spec["sizes"], tau_mem=-1 * u.ms / np.log(0.95), tau_syn=0 * u.ms,
                                   surrogate="atan", readout="spiking", w_scale=3.0)
    method = bsnn.BPTT("membrane-sum-ce", hoist=spec["hoist"], remat=spec["remat"])
    opt = bsnn.make_optimizer("adam", 5e-4)
    if spec["encoder"] == "current" and not spec.get("dense"):
        enc = lambda x, k: encode.constant(x, steps)  # noqa: E731
    elif spec["encoder"] == "current":   # the per-step formulation: a [T, B, N] input, projected every step
        enc = lambda x, k: encode.constant(x, steps).dense()  # noqa: E731
    else:
        enc = lambda x, k: encode.poisson(x, steps, k)  # noqa: E731
    return bsnn.TrainStep(model, method, opt, enc)


def worker(spec: dict) -> dict:
    import jax

    batch = spec["batch"]
    step = _train_step(spec)
    x, y, source = _pixels(batch)
    key = jax.random.PRNGKey(0)
    result = {"spec": spec, "data": source}
    if spec.get("memory_analysis"):
        lowered = step._compiled.lower(x, y, key) if hasattr(step._compiled, "lower") else None
        if lowered is not None:
            stats = lowered.compile().memory_analysis()
            result["xla_temp_mb"] = stats.temp_size_in_bytes / 2 ** 20
    timing = time_windows(lambda: step(x, y, key), lambda m: m.loss.block_until_ready(),
                          windows=spec["windows"], calls_per_window=spec["calls"])
    result.update(timing)
    result["samples_per_s"] = batch / timing["median_s"]
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def native_ab(spec: dict) -> dict:
    """The tutorial-5 step with and without the compiled kernel, interleaved windows in this process."""
    import statistics
    import time

    import jax

    from bsnn import _native as native

    x, y, source = _pixels(spec["batch"])
    key = jax.random.PRNGKey(0)
    steps, variants = {}, {"compiled kernel": "1", "XLA loops": "0"}
    for name, flag in variants.items():
        os.environ["BSNN_NATIVE"] = flag
        native.available.cache_clear()
        step = _train_step(spec)
        for _ in range(3):                     # compiles here, with this setting of BSNN_NATIVE
            step(x, y, key).loss.block_until_ready()
        steps[name] = step
    os.environ["BSNN_NATIVE"] = "1"
    native.available.cache_clear()
    times = {name: [] for name in steps}
    for _ in range(spec["windows"]):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(spec["calls"]):
                out = step(x, y, key)
            out.loss.block_until_ready()
            times[name].append((time.perf_counter() - t0) / spec["calls"])
    ratios = [b / a for a, b in zip(times["compiled kernel"], times["XLA loops"])]
    return {"spec": spec, "data": source, "speedup_median": statistics.median(ratios),
            "speedup_min": min(ratios), "speedup_max": max(ratios),
            "median_s": {name: statistics.median(t) for name, t in times.items()}, "windows_s": times}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing windows and a shorter rollout")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(native_ab(spec) if spec.get("native_ab") else worker(spec)))
        return
    windows, calls = (2, 2) if args.quick else (5, 5)
    tut = dict(sizes=[784, 1000, 10], steps=25, batch=128, encoder="current", remat=False,
               windows=windows, calls=calls)
    long_t = 200 if args.quick else 1000
    long = dict(sizes=[784, 256, 10], steps=long_t, batch=32, encoder="poisson", hoist=True,
                windows=1, calls=1 if args.quick else 2, memory_analysis=True)
    runs = {
        "tutorial5 hoisted": {**tut, "hoist": True},
        "tutorial5 per-step": {**tut, "hoist": False, "dense": True},
        "tutorial5 one loop": {**tut, "hoist": False},
        f"T={long_t} plain BPTT": {**long, "remat": False},
        f"T={long_t} remat": {**long, "remat": True},
    }
    results = {}
    for name, spec in runs.items():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_isolated(__file__, ["--worker", json.dumps(spec)])
    hoisted, per_step = results["tutorial5 hoisted"], results["tutorial5 per-step"]
    speedup = hoisted["samples_per_s"] / per_step["samples_per_s"]
    import jax
    ab = None
    if jax.default_backend() == "cpu":
        print("running compiled kernel vs XLA loops ...", file=sys.stderr, flush=True)
        ab = run_isolated(__file__, ["--worker", json.dumps({**tut, "hoist": True, "native_ab": True, "windows": 4 if args.quick
                                                             else 15, "calls": 5 if args.quick else 10})])
    rows = [[name, r["spec"]["steps"], r["spec"]["batch"], f"{r['samples_per_s']:.0f}", f"{r['first_call_s']:.1f}",
             f"{r['peak_rss_mb']:.0f}", f"{r['xla_temp_mb']:.0f}" if "xla_temp_mb" in r else "-"]
            for name, r in results.items()]
    notes = (f"Hoisted / per-step training throughput on the tutorial-5 network: **{speedup:.1f}x**. "
             "First call includes compilation. XLA temp = temporary buffers of the compiled train step.")
    if ab is not None:
        ms = ab["median_s"]
        notes += (f" Compiled kernel (bsnn._native) against XLA loops for the fused hidden layer, the hoisted "
                  f"tutorial-5 step, interleaved in one process: **{ab['speedup_median']:.2f}x** (median of "
                  f"{len(ab['windows_s']['XLA loops'])} per-round ratios, range {ab['speedup_min']:.2f}-"
                  f"{ab['speedup_max']:.2f}; {1e3 * ms['compiled kernel']:.1f} vs {1e3 * ms['XLA loops']:.1f} ms "
                  "per step, medians).")
    name = "bptt_throughput" + ("" if jax.default_backend() == "cpu" else f"_{jax.default_backend()}")
    paths = write_report(name, {"results": results, "hoist_speedup": speedup, "native_vs_xla": ab,
                                "quick": args.quick},
                         ["configuration", "T", "batch", "samples/s", "first call (s)", "peak RSS (MiB)",
                          "XLA temp (MiB)"], rows, notes)
    print(open(paths[1]).read())


if __name__ == "__main__":
    main()
