"""Online learning (e-prop, random feedback) against BPTT: speed and peak memory over T.

    python benchmarks/online.py                # 784-256-10, batch 64, T in 100/500/2000
    python benchmarks/online.py --quick        # T in 100/2000, 3 timed steps; about a minute

The workload is the random-feedback notebook's network: 784-256-10 current-based LIF
with a leaky read-out, constant-current input for ``T`` steps, per-step membrane
cross-entropy, SuperSpike surrogate, Adam. The pixels are uniform noise with a fixed
seed (speed and memory do not depend on the data). Methods: ``eprop``, ``feedback``,
``bptt`` and ``bptt-ckpt`` (BPTT with ``checkpointed_for_loop``).

Each (method, T) runs in a fresh subprocess, which reports:

* ``samples_per_s``: batch size / median wall time of the jitted train step (encode,
  forward, gradients, Adam update) over the timed steps, after compilation and a warm-up;
* ``xla_temp_mb`` / ``xla_total_mb``: XLA's compiled memory analysis of that step,
  the working memory (temp) and arguments + outputs + temp - aliased;
* ``rss_peak_mb``: the child's peak resident set size (``VmHWM``), which also holds
  the Python and JAX runtime and the compiler (``rss_base_mb``, after imports).

The criterion of issue 5 is checked on both memories: the online methods' peak at
``T = 2000`` must be within 20% of ``T = 100``. Writes ``online.json`` and ``online.md``
to ``--out`` (default ``benchmarks/results``). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

METHODS = ("eprop", "feedback", "bptt", "bptt-ckpt")
ONLINE = ("eprop", "feedback")
SIZES = (784, 256, 10)


def _rss_mb() -> float:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import peak_rss_mb
    return peak_rss_mb()


def child(method_name: str, steps: int, batch: int, timed: int, seed: int) -> dict:
    """Measure one configuration in this process; returns the row."""
    base = _rss_mb()
    import brainstate
    import jax
    import jax.numpy as jnp
    import numpy as np

    import bsnn
    from bsnn import encode
    from bsnn.methods.eprop import EProp, RandomFeedback

    base = max(base, _rss_mb())
    brainstate.random.seed(seed)
    model = bsnn.SpikingClassifier(list(SIZES), surrogate="superspike", readout="leaky", w_scale=[3.0, 1.0])
    method = {"eprop": lambda: EProp(), "feedback": lambda: RandomFeedback(),
              "bptt": lambda: bsnn.BPTT(), "bptt-ckpt": lambda: bsnn.BPTT(remat=True)}[method_name]()
    optimizer = bsnn.make_optimizer("adam", lr=5e-3)
    optimizer.register_trainable_weights(model.states(brainstate.ParamState))

    def train_step(pixels, labels):
        loss, grads, _ = method.loss_and_grads(model, encode.constant(pixels, steps), labels)
        optimizer.update(grads)
        return loss

    step = brainstate.transform.jit(train_step)
    rng = np.random.default_rng(seed)
    pixels = jnp.asarray(rng.random((batch, SIZES[0]), dtype=np.float32))
    labels = jnp.asarray(rng.integers(0, SIZES[-1], batch).astype(np.int32))

    stats = step.lower(pixels, labels).compile().memory_analysis()
    start = time.perf_counter()
    jax.block_until_ready(step(pixels, labels))          # compilation and the first step
    compile_s = time.perf_counter() - start
    jax.block_until_ready(step(pixels, labels))          # a warm-up step
    times = []
    for _ in range(timed):
        start = time.perf_counter()
        loss = jax.block_until_ready(step(pixels, labels))
        times.append(time.perf_counter() - start)
    step_s = float(np.median(times))                     # the median resists a busy neighbour

    mb = 1024.0 ** 2
    total = (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
             - stats.alias_size_in_bytes)
    return dict(method=method_name, steps=steps, batch=batch, timed_steps=timed,
                samples_per_s=batch / step_s, step_ms=1000.0 * step_s, step_ms_min=1000.0 * min(times),
                compile_s=compile_s, xla_temp_mb=stats.temp_size_in_bytes / mb, xla_total_mb=total / mb,
                rss_base_mb=base, rss_peak_mb=_rss_mb(), loss=float(loss))


def run_child(method: str, steps: int, args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, str(steps),
           "--batch", str(args.batch), "--timed", str(args.timed), "--seed", str(args.seed)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{method} T={steps} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_check(rows) -> list:
    """Per method and memory measure, the ratio peak(T_max) / peak(T_min)."""
    checks = []
    steps = sorted({r["steps"] for r in rows})
    for method in dict.fromkeys(r["method"] for r in rows):
        by_t = {r["steps"]: r for r in rows if r["method"] == method}
        for key in ("xla_total_mb", "rss_peak_mb"):
            ratio = by_t[steps[-1]][key] / by_t[steps[0]][key]
            checks.append(dict(method=method, measure=key, t_small=steps[0], t_large=steps[-1], ratio=ratio,
                               within_20_percent=bool(ratio <= 1.2)))
    return checks


def markdown(result) -> str:
    cfg = result["config"]
    lines = [
        "# Online learning vs BPTT: speed and memory",
        "",
        f"{'-'.join(map(str, cfg['sizes']))} LIF network, leaky read-out, constant-current input, batch "
        f"{cfg['batch']}, membrane-sum CE, Adam; one train step (encode, forward, gradients, update), "
        f"median of {cfg['timed']} timed steps after compilation and a warm-up step. {cfg['machine']}, "
        f"shared with other jobs (timings are noisy). Command: `{cfg['command']}`.",
        "",
        "| method | T | samples/s | step (ms) | XLA temp (MB) | XLA total (MB) | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['method']} | {r['steps']} | {r['samples_per_s']:.0f} | {r['step_ms']:.1f} | "
                     f"{r['xla_temp_mb']:.2f} | {r['xla_total_mb']:.2f} | {r['rss_peak_mb']:.0f} |")
    lines += ["", "Peak memory at the largest T over the smallest (issue 5: online methods within 20%):", "",
              "| method | measure | ratio | within 20% |", "| --- | --- | ---: | --- |"]
    for c in result["memory_check"]:
        lines.append(f"| {c['method']} | {c['measure']} (T={c['t_large']} / T={c['t_small']}) | "
                     f"{c['ratio']:.3f} | {'yes' if c['within_20_percent'] else 'no'} |")
    lines += ["", f"RSS includes the Python/JAX runtime and the compiler (about "
              f"{min(r['rss_base_mb'] for r in result['rows']):.0f} MB after imports); XLA total counts "
              "the step's arguments (weights, optimizer state, batch), outputs and working memory.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="T in 100/2000 and 3 timed steps (about a minute)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--steps", type=int, nargs="+", default=None, help="default 100 500 2000")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--timed", type=int, default=None, help="timed steps per configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.timed = args.timed or 3
        print(json.dumps(child(args.child[0], int(args.child[1]), args.batch, args.timed, args.seed)))
        return
    args.timed = args.timed or (3 if args.quick else 10)
    args.steps = args.steps or ([100, 2000] if args.quick else [100, 500, 2000])
    rows = []
    for steps in args.steps:
        for method in args.methods:
            row = run_child(method, steps, args)
            rows.append(row)
            print(f"{method:>9} T={steps:<5} {row['samples_per_s']:9.0f} samples/s  "
                  f"XLA temp {row['xla_temp_mb']:8.2f} MB  total {row['xla_total_mb']:8.2f} MB  "
                  f"RSS {row['rss_peak_mb']:6.0f} MB", flush=True)
    command = "python benchmarks/online.py" + (" --quick" if args.quick else "")
    result = dict(config=dict(sizes=list(SIZES), batch=args.batch, timed=args.timed, steps=args.steps,
                              quick=args.quick, command=command,
                              machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"),
                  rows=rows, memory_check=memory_check(rows))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "online.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(args.out, "online.md"), "w") as f:
        f.write(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
