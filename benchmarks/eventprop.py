"""EventProp against BPTT on the same network: epoch time, samples/s and peak memory.

    python benchmarks/eventprop.py [--quick]

The digits network of the EventProp learning test, 64-256-10 (tau_mem 20 ms, tau_syn 5 ms),
binary two-time latency input (ink at 10 ms, background at 20 ms) over a 40 ms window
simulated in T = 40, 200 and 1000 steps (dt = 40 ms / T), batch 64, Adam. Two losses:
CE of the peak read-out membrane (leaky read-out) and first-spike-time CE (spiking
read-out). Methods: surrogate BPTT, BPTT with ``remat=True``, EventProp, on identical
weights. An epoch is the 1437 training digits (22 steps of 64).

Each (loss, T) runs in its own process; there the three methods' train steps are compiled
and then timed in interleaved windows (BPTT, checkpointed BPTT, EventProp, BPTT, ...), so
a machine shared with other work slows them alike. Peak memory is XLA's temporary-buffer
size of each compiled train step (the process RSS, mostly the JAX runtime, is listed per
process). Writes ``results/eventprop.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import peak_rss_mb, run_isolated, time_windows, write_report  # noqa: E402

N_TRAIN = 1437          # digits training split
WINDOW_MS = 40.0


METHODS = ("bptt", "bptt-checkpoint", "eventprop")


def worker(spec: dict) -> dict:
    import statistics
    import time

    import brainstate
    import brainunit as u
    import jax
    import numpy as np
    from sklearn.datasets import load_digits

    import bsnn
    from bsnn import encode
    from bsnn.methods.eventprop import EventProp

    steps, batch = spec["steps"], spec["batch"]
    dt = WINDOW_MS / steps
    readout = "spiking" if spec["loss"] == "first-spike-ce" else "leaky"
    enc = lambda x, k: encode.binary_latency(x, steps, dt * u.ms, t_black=20 * u.ms,  # noqa: E731
                                             t_white=10 * u.ms)
    d = load_digits()
    x, y = (d.data[:batch] / 16).astype(np.float32), d.target[:batch].astype(np.int32)
    key = jax.random.PRNGKey(0)
    train, result = {}, {"spec": spec, "dt_ms": dt, "methods": {}}
    for name in METHODS:
        brainstate.random.seed(0)                       # identical initial weights for every method
        model = bsnn.SpikingClassifier([64, spec["hidden"], 10], dt=dt * u.ms, readout=readout, bias=False,
                                       w_scale=2.0, surrogate="atan")
        method = (EventProp(spec["loss"]) if name == "eventprop"
                  else bsnn.BPTT(spec["loss"], remat=name == "bptt-checkpoint"))
        step = bsnn.TrainStep(model, method, bsnn.make_optimizer("adam", 1e-3), enc)
        stats = step._compiled.lower(x, y, key).compile().memory_analysis()
        t0 = time.perf_counter()
        step(x, y, key).loss.block_until_ready()
        result["methods"][name] = {"xla_temp_mb": stats.temp_size_in_bytes / 2 ** 20,
                                   "first_call_s": time.perf_counter() - t0, "windows_s": []}
        train[name] = step
    for _ in range(spec["windows"]):                    # interleaved timing windows
        for name, step in train.items():
            t0 = time.perf_counter()
            for _ in range(spec["calls"]):
                metrics = step(x, y, key)
            metrics.loss.block_until_ready()
            result["methods"][name]["windows_s"].append((time.perf_counter() - t0) / spec["calls"])
    for r in result["methods"].values():
        r["median_s"] = statistics.median(r["windows_s"])
        r["samples_per_s"] = batch / r["median_s"]
        r["epoch_s"] = math.ceil(N_TRAIN / batch) * r["median_s"]
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T in {40, 200}, one loss, fewer timing windows")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    steps = (40, 200) if args.quick else (40, 200, 1000)
    losses = ("max-membrane-ce",) if args.quick else ("max-membrane-ce", "first-spike-ce")
    results = []
    for loss in losses:
        for t in steps:
            spec = dict(loss=loss, steps=t, batch=64, hidden=256, windows=3 if args.quick else 7,
                        calls=2 if t < 1000 else 1)
            print(f"running {loss} T={t} ...", file=sys.stderr, flush=True)
            results.append(run_isolated(__file__, ["--worker", json.dumps(spec)]))
    rows = []
    for r in results:
        base = r["methods"]["bptt"]["median_s"]
        for name, m in r["methods"].items():
            rows.append([r["spec"]["loss"], r["spec"]["steps"], f"{r['dt_ms']:g}", name, f"{m['epoch_s']:.2f}",
                         f"{m['samples_per_s']:.0f}", f"{base / m['median_s']:.2f}x", f"{m['xla_temp_mb']:.1f}",
                         f"{r['peak_rss_mb']:.0f}"])
    notes = ("64-256-10, batch 64, binary latency digits over 40 ms. Epoch = 22 train steps (1437 digits). "
             "'vs BPTT' = BPTT step time / this step time (median of interleaved windows). Peak memory = XLA "
             "temporary buffers of the compiled train step. Process RSS: one process per (loss, T) holding all "
             "three methods." + (" Quick run (--quick)." if args.quick else ""))
    paths = write_report("eventprop", {"results": results, "quick": args.quick},
                         ["loss", "T", "dt (ms)", "method", "epoch (s)", "samples/s", "vs BPTT",
                          "peak XLA temp (MiB)", "process RSS (MiB)"], rows, notes)
    print(open(paths[1]).read())


if __name__ == "__main__":
    main()
