"""Roofline: floating-point work per training sample against this machine's matmul rate.

    python benchmarks/roofline.py [--quick] [--peers results/compare_peers.json]

For each network of ``compare_peers.py`` it counts the floating-point operations of one
training sample three ways:

* analytically (``network_flops``): matmuls exactly (forward projections, weight gradients,
  gradients to the layer below), plus ``EW_FWD + EW_BWD`` operations per neuron and step
  for the LIF update, surrogate and reverse pass, the per-step cross-entropy and Adam's
  ``ADAM_FLOPS`` per weight and batch. The network's work is that of its cheapest exact
  schedule (a constant input projected once: "hoisted"); the per-step schedule of the
  peers projects the input at every step and does ``T`` times the first layer's matmuls;
* from the jaxpr of the compiled train step (``jaxpr_flops``: 2 M N K per ``dot_general``,
  one per output element of arithmetic, each ``scan`` body times its length) for the JAX
  contestants, and with ``torch.utils.flop_counter`` (matmuls only) for the PyTorch ones;
* XLA's ``cost_analysis()['flops']``, reported as is: XLA counts a while-loop body once,
  not once per step, so it undercounts every looped program.

The physical limit of a network is ``matmul rate / network FLOPs per sample`` samples/s,
with the rate of a float32 ``[1024, 1024] @ [1024, 1024]`` in JAX on this machine (the
fastest of several timed windows). Each contestant's achieved samples/s (from
``results/compare_peers.json``) is reported as a fraction of that limit, with the compile
time of its train step (``lower().compile()``). A STREAM-like triad bandwidth is measured
too: the elementwise part of these networks is bound by memory traffic, not by the matmul
rate. Writes ``results/roofline.{json,md}`` (``roofline_gpu`` on a GPU backend, with a
``[8192, 8192]`` matmul).

Because the machine's speed drifts (other jobs, a shared host), the limit and the achieved
rate are also measured **side by side** for each bsnn contestant (``side_by_side``): in one
process, windows of the matmul and windows of training steps (on MNIST batches) alternate,
and each pair gives a fraction of the limit measured under the same conditions; the table
reports their median and range.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import write_sections  # noqa: E402

BATCH = 128
EW_FWD = 16      # per neuron and step: current, reset, leak, threshold test, surrogate derivative
EW_BWD = 8       # per neuron and step: the linear adjoint (gV, gI, running sum)
CE_FLOPS = 10    # per class and step: log-softmax forward and backward
ADAM_FLOPS = 12  # per weight and batch


def n_params(sizes, bias=True) -> int:
    return sum(a * b + (b if bias else 0) for a, b in zip(sizes[:-1], sizes[1:]))


def network_flops(sizes, steps: int, *, constant_input: bool, schedule: str, bias: bool = True) -> dict:
    """Analytic FLOPs per training sample of a feed-forward LIF stack trained with BPTT-like
    gradients. ``schedule``: ``hoisted`` (a constant input projected once, forward and weight
    gradient), ``per-step`` (every projection and weight gradient at every step: PyTorch's
    autograd), or ``per-step-jax`` (the input projected at every step, but JAX's scan
    transpose takes the loop-invariant weight gradient of a constant input out of the loop)."""
    if schedule not in ("hoisted", "per-step", "per-step-jax"):
        raise ValueError(f"schedule must be hoisted, per-step or per-step-jax, got {schedule!r}")
    fwd = wgrad = igrad = 0
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        once = layer == 0 and constant_input
        fwd += 2 * n_in * n_out * (1 if once and schedule == "hoisted" else steps)
        wgrad += 2 * n_in * n_out * (1 if once and schedule != "per-step" else steps)
        if layer > 0:
            igrad += 2 * n_in * n_out * steps
    neurons = sum(sizes[1:])
    elementwise = steps * neurons * (EW_FWD + EW_BWD) + steps * sizes[-1] * CE_FLOPS
    optimizer = ADAM_FLOPS * n_params(sizes, bias) / BATCH
    matmul = fwd + wgrad + igrad
    return {"matmul": matmul, "elementwise": elementwise, "optimizer": optimizer,
            "total": matmul + elementwise + optimizer}


# ---- counting the jaxpr ------------------------------------------------------------------------
_ARITH = {"add", "sub", "mul", "div", "neg", "max", "min", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt",
          "pow", "integer_pow", "tanh", "logistic", "abs", "sign", "select_n", "add_any", "atan", "atan2",
          "erf", "square", "exp2", "eq", "ne", "lt", "le", "gt", "ge", "heaviside_surrogate_gradient",
          "clamp", "floor", "ceil", "round", "rem", "cumsum", "cumprod"}
_REDUCE = {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "argmax", "argmin"}


def _size(aval) -> int:
    return int(math.prod(getattr(aval, "shape", ()) or (1,)))


def _fused_kernel_flops(eqn) -> dict:
    """The work of a ``bsnn._native`` kernel call, which the jaxpr shows as one opaque ``ffi_call``:
    forward ``EW_FWD`` per neuron and step plus ``S @ W`` (2 N M per row and step, as a dense
    product); backward the recomputed forward, ``EW_BWD`` per neuron and step, ``g_y @ W^T`` and
    ``S^T g_y`` (2 N M each)."""
    n, m = eqn.invars[1].aval.shape                   # the next layer's weights [N, M]
    backward = "backward" in eqn.params["target_name"]
    rows_steps = _size((eqn.invars[2] if backward else eqn.outvars[0]).aval) // m   # T * B, from g_y or y
    if backward:
        return {"matmul": rows_steps * 6.0 * n * m, "elementwise": rows_steps * (EW_FWD + EW_BWD) * n,
                "while_loops": 0}
    return {"matmul": rows_steps * 2.0 * n * m, "elementwise": rows_steps * EW_FWD * n, "while_loops": 0}


def jaxpr_flops(jaxpr) -> dict:
    """``{"matmul", "elementwise", "while_loops"}`` operation counts of a (closed) jaxpr."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = {"matmul": 0.0, "elementwise": 0.0, "while_loops": 0}

    def add(sub, times=1):
        for k in ("matmul", "elementwise"):
            total[k] += times * sub[k]
        total["while_loops"] += sub["while_loops"]

    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            k = math.prod(eqn.invars[0].aval.shape[d] for d in lhs_contract)
            total["matmul"] += 2.0 * _size(eqn.outvars[0].aval) * k
        elif name == "scan":
            add(jaxpr_flops(eqn.params["jaxpr"]), eqn.params["length"])
        elif name == "while":
            total["while_loops"] += 1
            add(jaxpr_flops(eqn.params["body_jaxpr"]))
        elif name == "cond":
            branches = [jaxpr_flops(b) for b in eqn.params["branches"]]
            add(max(branches, key=lambda b: b["matmul"] + b["elementwise"]))
        elif name == "ffi_call" and str(eqn.params.get("target_name", "")).startswith("bsnn_fused_"):
            add(_fused_kernel_flops(eqn))
        elif name in _ARITH:
            total["elementwise"] += _size(eqn.outvars[0].aval)
        elif name in _REDUCE:
            total["elementwise"] += _size(eqn.invars[0].aval)
        else:
            for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
                sub = eqn.params.get(key)
                if sub is not None and hasattr(getattr(sub, "jaxpr", sub), "eqns"):
                    add(jaxpr_flops(sub))
                    break
    return total


# ---- measuring the machine -----------------------------------------------------------------------
def matmul_rate(n: int = 1024, windows: int = 7, calls: int = 10) -> dict:
    """GFLOP/s of a jitted float32 ``[n, n] @ [n, n]`` (best and median window)."""
    import jax
    import jax.numpy as jnp
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    f(a, b).block_until_ready()
    rates = []
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(calls):
            out = f(a, b)
        out.block_until_ready()
        rates.append(2.0 * n ** 3 * calls / (time.perf_counter() - t0) / 1e9)
    return {"n": n, "best_gflops": max(rates), "median_gflops": statistics.median(rates), "windows": rates}


def triad_bandwidth(n: int = 1 << 24, windows: int = 7) -> dict:
    """GB/s of a jitted ``a * x + y`` on float32 vectors of ``n`` elements (3 arrays moved)."""
    import jax
    import jax.numpy as jnp
    x = jnp.ones((n,), jnp.float32)
    y = jnp.ones((n,), jnp.float32)
    f = jax.jit(lambda x, y: 1.5 * x + y)
    f(x, y).block_until_ready()
    rates = []
    for _ in range(windows):
        t0 = time.perf_counter()
        f(x, y).block_until_ready()
        rates.append(3 * 4 * n / (time.perf_counter() - t0) / 1e9)
    return {"n": n, "best_gbs": max(rates), "median_gbs": statistics.median(rates)}


def _mnist_batches(count: int):
    """``count`` MNIST training batches of ``BATCH`` (random pixels if MNIST is not at hand)."""
    import numpy as np
    try:
        from bsnn import data
        ds = data.load("mnist", os.path.join(HERE, "..", "..", "shared", "data", "mnist"), download=False)
        x, y = ds.x_train[:count * BATCH], ds.y_train[:count * BATCH]
    except Exception:  # noqa: BLE001 - benchmark data only; random pixels keep the shapes
        rng = np.random.default_rng(0)
        x, y = rng.random((count * BATCH, 784), dtype=np.float32), rng.integers(0, 10, count * BATCH).astype(np.int32)
    return x.reshape(count, BATCH, -1), y.reshape(count, BATCH)


def side_by_side(spec: dict, flops_per_sample: float, rounds: int = 15, calls: int = 12, n: int = 1024) -> dict:
    """Fractions of the roofline limit from alternating windows: ``calls`` training steps of the bsnn
    contestant ``spec`` (one batch of MNIST each), then ``calls // 2`` matmuls of ``[n, n]``; one
    fraction per pair of windows (achieved samples/s over ``matmul rate / flops_per_sample``)."""
    import jax
    import jax.numpy as jnp
    from compare_peers import build_runner
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    matmul = jax.jit(lambda a: a @ a)
    matmul(a).block_until_ready()
    x_all, y_all = _mnist_batches(32)
    runner = build_runner({**spec, "seed": 0})
    for _ in range(3):
        runner.sync(runner.step(x_all[0], y_all[0]))
    fractions, rates, speeds, index = [], [], [], 1
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            handle = runner.step(x_all[index % len(x_all)], y_all[index % len(y_all)])
            index += 1
        runner.sync(handle)
        speed = BATCH * calls / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(calls // 2):
            out = matmul(a)
        out.block_until_ready()
        rate = 2.0 * n ** 3 * (calls // 2) / (time.perf_counter() - t0)
        fractions.append(speed / (rate / flops_per_sample))
        rates.append(rate / 1e9)
        speeds.append(speed)
    return {"fraction_median": statistics.median(fractions), "fraction_min": min(fractions),
            "fraction_max": max(fractions), "fractions": fractions, "gflops": rates, "samples_per_s": speeds,
            "rounds": rounds, "calls": calls}


# ---- the contestants ------------------------------------------------------------------------------
NETWORKS = {
    "tutorial5": {"sizes": [784, 1000, 10], "steps": 25, "constant": True, "bias": True,
                  "title": "tutorial 5, 784-1000-10, T = 25"},
    "eventprop": {"sizes": [784, 10], "steps": 40, "constant": False, "bias": False,
                  "title": "EventProp setting, 784-10, T = 40 (dense input grid)"},
    "eprop-T20": {"sizes": [784, 256, 10], "steps": 20, "constant": True, "bias": True,
                  "title": "784-256-10, T = 20"},
    "eprop-T500": {"sizes": [784, 256, 10], "steps": 500, "constant": True, "bias": True,
                   "title": "784-256-10, T = 500"},
}


def contestants(group: str) -> list:
    """``(compare_peers row name, runner spec, schedule)`` of one network."""
    if group == "tutorial5":
        return [("bsnn (hoisted BPTT)", {"runner": "bsnn", "kind": "tutorial5"}, "hoisted"),
                ("bsnn (one-loop BPTT)", {"runner": "bsnn", "kind": "tutorial5", "method": "bptt-one-loop"},
                 "hoisted"),
                ("snnTorch (CPU PyTorch)", {"runner": "snntorch"}, "per-step"),
                ("brainpy.state per-step", {"runner": "brainpy"}, "per-step-jax")]
    if group == "eventprop":
        return [("bsnn EventProp", {"runner": "bsnn", "kind": "eventprop"}, "hoisted"),
                ("PyTorch EventProp", {"runner": "torch-eventprop"}, "hoisted")]
    steps = int(group.split("T")[1])
    return [(f"bsnn eprop T={steps}", {"runner": "bsnn", "kind": "online", "method": "eprop", "steps": steps},
             "hoisted"),
            (f"bsnn BPTT T={steps}", {"runner": "bsnn", "kind": "online", "method": "bptt", "steps": steps},
             "hoisted")]


def measure_program(spec: dict) -> dict:
    """Compile time, jaxpr count and XLA's count of a JAX contestant's train step; for a PyTorch
    contestant the matmul FLOPs of one step from ``torch.utils.flop_counter``."""
    import numpy as np
    from compare_peers import build_runner
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 784), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int32)
    runner = build_runner({**spec, "seed": 0})
    if spec["runner"] in ("snntorch", "torch-eventprop"):
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        with counter:
            runner.sync(runner.step(x, y))
        return {"counted_matmul": counter.get_total_flops() / BATCH, "counter": "torch.utils.flop_counter"}
    import brainstate
    import jax.numpy as jnp
    t0 = time.perf_counter()
    compiled = runner.lowered(x, y)
    compile_s = time.perf_counter() - t0
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    if spec["runner"] == "bsnn":
        fn, args = runner.train_step._step, (jnp.asarray(x), jnp.asarray(y), runner.key)
    else:
        fn, args = runner._train_step, (jnp.asarray(x), jnp.asarray(y))
    jaxpr = brainstate.transform.make_jaxpr(fn)(*args)[0]
    counted = jaxpr_flops(jaxpr)
    return {"compile_s": compile_s, "xla_flops": float(cost.get("flops", float("nan"))) / BATCH,
            "counted_matmul": counted["matmul"] / BATCH, "counted_elementwise": counted["elementwise"] / BATCH,
            "while_loops": counted["while_loops"], "counter": "jaxpr"}


def _find(rows: dict, name: str) -> dict:
    """The row ``name`` of a comparison, or the one of the same contestant on another device."""
    if name in rows:
        return rows[name]
    import re
    same = lambda n: re.sub(r"\(CPU PyTorch\)|\(PyTorch \w+\)", "(PyTorch)", n)  # noqa: E731
    found = next((r for n, r in rows.items() if same(n) == same(name)), None)
    if found is None:     # a PyTorch peer's row names its measured setting: "snnTorch, fastest setting (...)"
        base = name.split(" (")[0]
        found = next((r for n, r in rows.items() if n.startswith(base + ", fastest setting")), {})
    return found


def load_peers(path: str | None, suffix: str) -> tuple:
    for candidate in ([path] if path else [os.path.join(HERE, "results", f"compare_peers{suffix}.json"),
                                           os.path.join(HERE, "results", f"compare_peers{suffix}_quick.json")]):
        if candidate and os.path.exists(candidate):
            with open(candidate) as f:
                return json.load(f)["results"], os.path.relpath(candidate, HERE)
    return {}, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing windows for the machine rates")
    parser.add_argument("--peers", default=None, help="compare_peers results (default: results/compare_peers.json, "
                                                      "else compare_peers_quick.json)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import jax
    backend = jax.default_backend()
    suffix = "" if backend == "cpu" else f"_{backend}"
    rate = matmul_rate(n=1024 if backend == "cpu" else 8192, windows=3 if args.quick else 7)
    bandwidth = triad_bandwidth(n=1 << 24 if backend == "cpu" else 1 << 28, windows=3 if args.quick else 7)
    peers, peers_file = load_peers(args.peers, suffix)
    torch_device = "cpu"
    if backend == "gpu":
        try:
            import torch
            torch_device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            pass
    gflops = rate["best_gflops"]
    rows, results, paired = [], {}, []
    for group, net in NETWORKS.items():
        minimal = network_flops(net["sizes"], net["steps"], constant_input=net["constant"], schedule="hoisted",
                                bias=net["bias"])
        limit = gflops * 1e9 / minimal["total"]
        results[group] = {"network": net, "network_flops": minimal, "limit_samples_per_s": limit, "contestants": {}}
        for name, spec, schedule in contestants(group):
            own = network_flops(net["sizes"], net["steps"], constant_input=net["constant"], schedule=schedule,
                                bias=net["bias"])
            print(f"{group}: {name} ...", file=sys.stderr, flush=True)
            if spec["runner"] in ("snntorch", "torch-eventprop"):
                spec = {**spec, "device": torch_device}
            program = measure_program(spec)
            row = _find(peers.get(group, {}), name)
            achieved, fastest = row.get("samples_per_s"), row.get("samples_per_s_max")
            entry = {"own_flops": own, "program": program, "samples_per_s": achieved,
                     "samples_per_s_fastest_window": fastest,
                     "fraction_of_limit": None if achieved is None else achieved / limit,
                     "fraction_of_limit_fastest_window": None if fastest is None else fastest / limit,
                     "achieved_gflops": None if achieved is None else achieved * own["total"] / 1e9}
            if spec["runner"] == "bsnn":
                print(f"{group}: {name}, side by side with the matmul ...", file=sys.stderr, flush=True)
                entry["side_by_side"] = side_by_side(spec, minimal["total"], rounds=5 if args.quick else 15)
                sbs = entry["side_by_side"]
                paired.append([net["title"], name, f"{100 * sbs['fraction_median']:.1f}%",
                               f"{100 * sbs['fraction_min']:.1f}-{100 * sbs['fraction_max']:.1f}%",
                               f"{statistics.median(sbs['samples_per_s']):.0f}",
                               f"{statistics.median(sbs['gflops']):.1f}"])
            results[group]["contestants"][name] = entry
            counted = program["counted_matmul"] + program.get("counted_elementwise", 0.0)
            rows.append([net["title"], name, f"{own['total'] / 1e6:.2f}",
                         f"{counted / 1e6:.2f}" + ("" if "counted_elementwise" in program else " (matmuls)"),
                         f"{program['xla_flops'] / 1e6:.2f}" if "xla_flops" in program else "-",
                         f"{minimal['total'] / 1e6:.2f}", f"{limit:.0f}",
                         "-" if achieved is None else f"{achieved:.0f}",
                         "-" if achieved is None else f"{100 * achieved / limit:.1f}%",
                         "-" if fastest is None else f"{100 * fastest / limit:.1f}%",
                         "-" if achieved is None else f"{entry['achieved_gflops']:.1f}",
                         f"{program['compile_s']:.1f}" if "compile_s" in program else "-"])
    cols = ["network", "contestant", "own MFLOP/sample (analytic)", "own MFLOP/sample (counted)",
            "XLA cost_analysis MFLOP/sample", "network MFLOP/sample", "limit samples/s", "achieved samples/s",
            "% of limit", "% of limit, fastest window", "achieved GFLOP/s (own work)", "compile (s)"]
    n = rate["n"]
    text = (f"Matmul rate: {gflops:.1f} GFLOP/s (best of {len(rate['windows'])} windows of float32 "
            f"[{n},{n}]@[{n},{n}]; median {rate['median_gflops']:.1f}). Triad bandwidth "
            f"{bandwidth['best_gbs']:.1f} GB/s (median {bandwidth['median_gbs']:.1f}). Limit = matmul rate / "
            "network FLOPs per sample (the cheapest exact schedule: a constant input projected once). "
            "'own': the contestant's own schedule (the per-step peers project the input at every step; "
            "snnTorch's autograd also takes the first layer's weight gradient at every step, JAX's scan "
            "transpose takes it once). "
            "'counted': the train step's jaxpr (scan bodies times their length; a call of bsnn's compiled "
            "CPU kernel, opaque in the jaxpr, by its analytic work) or, for PyTorch, "
            "torch.utils.flop_counter (matmuls only). XLA's cost_analysis counts each loop body once "
            "and sees nothing inside a kernel call, "
            "so it undercounts looped programs. Achieved samples/s (the median window; also the fastest "
            "window, the least disturbed by other jobs, against the fastest matmul window) from "
            f"{peers_file or '(no compare_peers results: run compare_peers.py first)'}.")
    breakdown = [[NETWORKS[g]["title"], f"{r['network_flops']['matmul'] / 1e6:.3f}",
                  f"{r['network_flops']['elementwise'] / 1e6:.3f}", f"{r['network_flops']['optimizer'] / 1e6:.3f}",
                  f"{r['network_flops']['total'] / 1e6:.3f}"] for g, r in results.items()]
    paired_text = ("In one process, windows of training steps (MNIST batches of 128) alternate with windows "
                   f"of the [{n},{n}] matmul ({5 if args.quick else 15} rounds); each round gives achieved "
                   "samples/s / (that round's matmul rate / network FLOPs per sample). Both sides of each "
                   "fraction see the same machine load, so this is the robust figure.")
    sections = [("Fraction of the roofline, measured side by side", paired_text,
                 ["network", "contestant", "% of limit (median)", "range over rounds", "samples/s (median)",
                  "matmul GFLOP/s (median)"], paired),
                ("Fraction of the matmul roofline", text, cols, rows),
                ("Network FLOPs per training sample (analytic, MFLOP)",
                 f"Matmuls exactly; {EW_FWD} + {EW_BWD} operations per neuron and step for the LIF update, "
                 f"surrogate and reverse pass; {CE_FLOPS} per class and step for the cross-entropy; "
                 f"{ADAM_FLOPS} per weight and batch of {BATCH} for Adam.",
                 ["network", "matmul", "elementwise", "optimizer", "total"], breakdown)]
    notes = ("Command: `python benchmarks/roofline.py" + (" --quick" if args.quick else "") + "`. The machine "
             "is shared with other jobs: the rates and the achieved samples/s are both depressed by the load.")
    paths = write_sections("roofline" + suffix, {"matmul": rate, "triad": bandwidth, "peers_file": peers_file,
                                        "results": results, "constants": {"EW_FWD": EW_FWD, "EW_BWD": EW_BWD,
                                                                          "CE_FLOPS": CE_FLOPS,
                                                                          "ADAM_FLOPS": ADAM_FLOPS}},
                           "Roofline: FLOPs per training sample against the matmul rate", sections, notes)
    print(open(paths[1]).read())


if __name__ == "__main__":
    main()
