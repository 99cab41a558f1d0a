"""Memory of one training step against the number of steps T, on the SHD-shaped recurrent network.

    python benchmarks/memory_in_time.py            # T in 100/250/500/1000, batch 32
    python benchmarks/memory_in_time.py --quick    # T in 100/1000

The network is ``gallery/shd.py``'s at 1 ms bins: 700 inputs, a recurrent hidden layer of 128
current-based LIF neurons, a leaky read-out of 20; the input is random spikes (5% per step and
channel, a fixed seed), batch 32. For each method and T the loss-and-gradient function is
compiled (not run) and XLA's memory analysis read: ``temp`` is the working memory of the step
(what grows with stored trajectories), ``total`` adds arguments and outputs. Methods:

* ``bptt``: surrogate-gradient BPTT (``max-membrane-ce``), the trajectory stored;
* ``bptt-remat``: the same with the forward pass recomputed in the backward pass (``remat``);
* ``eventprop``: EventProp (``max-membrane-ce``), the forward trajectory stored for the adjoint;
* ``eprop``: e-prop (``membrane-sum-ce``), eligibility traces carried forward, nothing stored per step.

Compile-only and in one process: it measures what XLA allocates for the step, not the process's
resident memory (``online.py`` measures that, per process, for the feed-forward case). Writes
``results/memory_in_time.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_report  # noqa: E402

METHODS = {"bptt": ("bptt", {}, "max-membrane-ce"), "bptt-remat": ("bptt", {"remat": True}, "max-membrane-ce"),
           "eventprop": ("eventprop", {}, "max-membrane-ce"), "eprop": ("eprop", {}, "membrane-sum-ce")}
SIZES = (700, 128, 20)


def measure(name: str, steps: int, batch: int, seed: int = 0) -> dict:
    import brainstate
    import jax
    import jax.numpy as jnp
    import numpy as np

    import bsnn
    method_name, options, loss = METHODS[name]
    brainstate.random.seed(seed)
    model = bsnn.SpikingClassifier(list(SIZES), recurrent=True, readout="leaky", w_scale=[4.0, 3.0])
    method = bsnn.get_method(method_name, loss=loss, **options)
    x = jnp.asarray((np.random.default_rng(seed).random((steps, batch, SIZES[0])) < 0.05).astype(np.float32))
    labels = jnp.zeros(batch, jnp.int32)
    start = time.perf_counter()
    compiled = jax.jit(lambda x, y: method.loss_and_grads(model, x, y)[:2]).lower(x, labels).compile()
    mem = compiled.memory_analysis()
    total = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes - mem.alias_size_in_bytes
    return {"method": name, "steps": steps, "batch": batch, "temp_mb": mem.temp_size_in_bytes / 2 ** 20,
            "total_mb": total / 2 ** 20, "compile_s": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    steps_list = (100, 1000) if args.quick else (100, 250, 500, 1000)
    rows = []
    for name in METHODS:
        for steps in steps_list:
            r = measure(name, steps, args.batch)
            rows.append(r)
            print(f"{name:>10} T={steps:5d}: temp {r['temp_mb']:8.1f} MiB, total {r['total_mb']:8.1f} MiB "
                  f"(compiled in {r['compile_s']:.1f} s)", flush=True)
    growth = {}
    for name in METHODS:
        first, last = (next(r for r in rows if r["method"] == name and r["steps"] == s) for s in
                       (steps_list[0], steps_list[-1]))
        growth[name] = last["temp_mb"] / max(first["temp_mb"], 1e-9)
    table = [[r["method"], r["steps"], f"{r['temp_mb']:.1f}", f"{r['total_mb']:.1f}", f"{r['compile_s']:.1f}"]
             for r in rows]
    notes = ("700-128(recurrent)-20 current-based LIF, leaky read-out, batch {b}, random 5% input spikes; XLA's "
             "compiled memory of one loss-and-gradient step (not run). Growth of temp from T = {a} to T = {z}: "
             "{g}.").format(b=args.batch, a=steps_list[0], z=steps_list[-1],
                            g=", ".join(f"{k} {v:.1f}x" for k, v in growth.items()))
    paths = write_report("memory_in_time" + ("_quick" if args.quick else ""),
                         {"rows": rows, "growth": growth, "sizes": SIZES, "batch": args.batch},
                         ["method", "T", "XLA temp (MiB)", "XLA total (MiB)", "compile (s)"], table, notes)
    print(notes)
    print("wrote", ", ".join(paths))


if __name__ == "__main__":
    main()
