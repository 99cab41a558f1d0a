"""bsnn against its peers on the same MNIST batches: training samples/s, compile time, peak RSS, accuracy.

    python benchmarks/compare_peers.py [--quick] [--only tutorial5,tutorial6,eventprop,eprop]

Four comparisons, each one epoch of MNIST (``--quick``: a stratified subset) in the same
seeded batch order for every contestant (``peers/data.py``):

* ``tutorial5``: snnTorch tutorial 5 (784-1000-10 LIF, 25 steps, batch 128, constant-current
  input, ATan surrogate, membrane CE summed over steps, Adam 5e-4) trained by (a) bsnn
  (``gallery/surrogate_mnist.py``'s configuration), (b) snnTorch on CPU PyTorch
  (``peers/snntorch_tutorial5.py``) under the PyTorch setting measured fastest for it
  (``peer_settings.py``), (c) the same network in straightforward per-step ``brainpy.state``
  (``peers/brainpy_tutorial5.py``). ``tutorial5-alone``: bsnn, then snnTorch as its users run
  it (the tutorial's code, PyTorch's defaults), each alone.
* ``tutorial6``: snnTorch tutorial 6, the convolutional network (12C5-MP2-64C5-MP2-10, beta 0.5,
  fast-sigmoid surrogate, 50 steps, batch 128, constant-current input, MSE of output spike
  counts against 80% / 20% of the steps, Adam 1e-2) trained by (a) bsnn (hoisted BPTT,
  ``gallery/conv_mnist.py``'s configuration), (b) snnTorch on CPU PyTorch
  (``peers/snntorch_tutorial6.py``, the tutorial's code) under PyTorch's defaults (no
  setting is measured for it by ``peer_settings.py``). Accuracy: the argmax of output spike counts.
* ``eventprop``: the PyTorch EventProp reimplementation's setting (784-10, binary latency
  input at 10/20 ms, T = 40, dt = 1 ms, first-spike-time loss, Adam 1e-3, batch 128):
  ``bsnn.methods.eventprop`` against EventProp written in PyTorch (``peers/torch_eventprop.py``,
  under its fastest measured setting).
* ``eprop``: ``bsnn.get_method("eprop")`` against ``bsnn.BPTT`` on 784-256-10, constant
  input, T = 20 and T = 500, batch 128.

Every contestant runs in its own process (its peak RSS is its own). Each compiles / takes
its first step alone (reported as "first call"), takes a few warm-up steps, then the
contestants train in turns, one timed window of a few batches each (ABC, BCA, CAB, ...), so
a busy neighbour slows all of them alike, while the others are stopped (SIGSTOP: their
idle threads take nothing from the one timed); throughput is the median window. The rest of
the epoch is trained untimed, then each evaluates on the test set (the full 10,000 images
in the full run). Writes ``results/compare_peers.{json,md}`` (``compare_peers_quick`` with
``--quick``, ``_gpu`` on a GPU backend); ``--only`` replaces those comparisons and keeps the
others of the previous run. ``tutorial5`` and ``eventprop`` need ``results/peer_settings.json``
(run ``peer_settings.py`` first).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import interleaved, parse_only, serve_windows, write_sections  # noqa: E402

MNIST_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "mnist"))
BATCH = 128
GROUPS = ("tutorial5", "tutorial6", "eventprop", "eprop")
TORCH_RUNNERS = ("snntorch", "snntorch-tutorial6", "torch-eventprop")     # the PyTorch peers


def build_runner(spec: dict):
    kind = spec["runner"]
    if kind == "bsnn":
        from peers.bsnn_runners import Runner
    elif kind == "snntorch":
        from peers.snntorch_tutorial5 import Runner
    elif kind == "snntorch-tutorial6":
        from peers.snntorch_tutorial6 import Runner
    elif kind == "brainpy":
        from peers.brainpy_tutorial5 import Runner
    elif kind == "torch-eventprop":
        from peers.bsnn_runners import initial_eventprop_weights
        from peers.torch_eventprop import Runner
        spec = {**spec, "initial_weight": initial_eventprop_weights(spec)}
    else:
        raise ValueError(f"spec['runner'] must be bsnn, snntorch, snntorch-tutorial6, brainpy or torch-eventprop, "
                         f"got {kind!r}")
    return Runner(spec)


def worker(spec: dict):
    if spec["runner"] in TORCH_RUNNERS:
        from peers import torch_settings     # the OpenMP wait policy must be set before torch loads
        torch_settings.before_import(spec.get("torch", {}))
    from peers.data import MnistBatches
    batches = MnistBatches(spec["data"], BATCH)
    runner = build_runner(spec)
    serve_windows(runner, batches, warmup=spec["warmup"])


def tuned(group: str) -> dict:
    """The PyTorch peer's setting chosen by ``peer_settings.py`` for ``group``."""
    from peer_settings import load
    chosen = load()
    if group not in chosen:
        raise SystemExit(f"no measured PyTorch settings for {group!r} in benchmarks/results/peer_settings.json: "
                         f"run `python benchmarks/peer_settings.py --only {group}` first")
    return chosen[group]


def contestants(group: str) -> dict:
    """``{row name: spec}`` of one comparison (the bsnn entry first)."""
    from peers.torch_settings import label
    if group == "tutorial5":
        setting = tuned("tutorial5")
        return {"bsnn (hoisted BPTT)": {"runner": "bsnn", "kind": "tutorial5"},
                "bsnn (one-loop BPTT)": {"runner": "bsnn", "kind": "tutorial5", "method": "bptt-one-loop"},
                f"snnTorch, fastest setting ({label(setting)})": {"runner": "snntorch", "torch": setting},
                "brainpy.state per-step": {"runner": "brainpy"}}
    if group == "tutorial5-alone":
        return {"bsnn (hoisted BPTT), alone": {"runner": "bsnn", "kind": "tutorial5"},
                "snnTorch as its users run it (PyTorch defaults), alone": {"runner": "snntorch", "torch": {}}}
    if group == "tutorial6":        # no measured setting: PyTorch's defaults, as the tutorial runs
        return {"bsnn (hoisted BPTT)": {"runner": "bsnn", "kind": "tutorial6"},
                "snnTorch (PyTorch defaults)": {"runner": "snntorch-tutorial6", "torch": {}}}
    if group == "eventprop":
        setting = tuned("eventprop")
        return {"bsnn EventProp": {"runner": "bsnn", "kind": "eventprop"},
                f"PyTorch EventProp, fastest setting ({label(setting)})": {"runner": "torch-eventprop",
                                                                           "torch": setting}}
    if group.startswith("eprop-T"):
        steps = int(group.split("T")[1])
        return {f"bsnn eprop T={steps}": {"runner": "bsnn", "kind": "online", "method": "eprop", "steps": steps},
                f"bsnn BPTT T={steps}": {"runner": "bsnn", "kind": "online", "method": "bptt", "steps": steps}}
    raise ValueError(group)


def run_group(group: str, data_path: str, n_batches: int, quick: bool, torch_device: str = "cpu") -> dict:
    warmup = 2
    per_window = 4 if quick else 24
    if group == "eprop-T500":
        per_window = 2 if quick else 12
    windows = max(1, min((n_batches - 1 - warmup) // per_window, 10 if quick else 15))
    workers = {}
    for name, spec in contestants(group).items():
        spec = {**spec, "data": data_path, "warmup": warmup, "seed": 0}
        if spec["runner"] in TORCH_RUNNERS:
            spec["device"] = torch_device
            if torch_device != "cpu":
                name = name.replace("CPU PyTorch", f"PyTorch {torch_device}")
        workers[name] = [os.path.abspath(__file__), "--worker", json.dumps(spec)]
    print(f"{group}: {windows} windows of {per_window} batches per contestant", file=sys.stderr, flush=True)
    if group.endswith("-alone"):     # one after the other, each with the machine to itself
        return {name: interleaved({name: argv}, windows=windows, batches_per_window=per_window, batch=BATCH)[name]
                for name, argv in workers.items()}
    return interleaved(workers, windows=windows, batches_per_window=per_window, batch=BATCH)


def previous_results(name: str) -> dict:
    """The comparisons of an earlier run of the same kind (``--only`` reruns replace theirs)."""
    path = os.path.join(HERE, "results", f"{name}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f).get("results", {})


def _row(name, r, ref=None):
    ready, done = r["ready"], r["done"]
    ratio = f"{ref['samples_per_s'] / r['samples_per_s']:.2f}" if ref is not None and ref is not r else "-"
    acc_count = f"{100 * done['acc_count']:.2f}" if "acc_count" in done else "-"
    return [name, f"{r['samples_per_s']:.0f}", f"{r['samples_per_s_min']:.0f}-{r['samples_per_s_max']:.0f}",
            ratio, f"{ready['first_call_s']:.2f}", f"{ready['warmup_s'][0]:.3f}", f"{done['peak_rss_train_mb']:.0f}",
            f"{100 * done['acc']:.2f}", acc_count]


COLUMNS = ["contestant", "samples/s (median)", "range over windows", "bsnn / this", "first call (s)",
           "2nd step (s)", "peak RSS, training (MiB)", "test acc. (%)", "acc. by spike count (%)"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="6,400 training / 2,000 test images, fewer windows: about a minute per comparison")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated subset of {','.join(GROUPS)}")
    parser.add_argument("--data-dir", default=MNIST_DIR)
    parser.add_argument("--torch-device", default="cpu", help="device of the PyTorch peers (cpu, cuda)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    import jax

    from peers.data import prepare
    only = parse_only(args.only, GROUPS)
    groups = [g for g in only if g not in ("eprop", "tutorial5")] + (["tutorial5", "tutorial5-alone"] if "tutorial5" in only else []) \
        + (["eprop-T20", "eprop-T500"] if "eprop" in only else [])
    backend = jax.default_backend()
    name = "compare_peers" + ("" if backend == "cpu" else f"_{backend}") + ("_quick" if args.quick else "")
    results, sections = previous_results(name), []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mnist.npz")
        sizes = (6400, 2000) if args.quick else (None, None)
        data_info = prepare(path, args.data_dir, n_train=sizes[0], n_test=sizes[1], seed=0)
        n_batches = data_info["train"] // BATCH
        for group in groups:
            results[group] = run_group(group, path, n_batches, args.quick, args.torch_device)
    titles = {"tutorial5": "snnTorch tutorial 5 (784-1000-10, T = 25, batch 128)",
              "tutorial5-alone": "snnTorch tutorial 5, each alone: bsnn and snnTorch as their users run them",
              "tutorial6": "snnTorch tutorial 6 (12C5-MP2-64C5-MP2-10, T = 50, batch 128)",
              "eventprop": "EventProp, the PyTorch reimplementation's setting (784-10, T = 40, batch 128)",
              "eprop-T20": "e-prop vs BPTT, 784-256-10, T = 20, batch 128",
              "eprop-T500": "e-prop vs BPTT, 784-256-10, T = 500, batch 128"}
    for group in [g for g in titles if g in results]:
        res = results[group]
        names = list(res)
        ref = res[names[0]]
        rows = [_row(n, res[n], ref) for n in names]
        text = "; ".join(f"{n}: {res[n]['ready'].get('library', '')} on {res[n]['ready'].get('device', '?')}"
                         + (f", {res[n]['ready']['threads']} threads" if "threads" in res[n]["ready"] else "")
                         for n in names)
        sections.append((titles[group], text, COLUMNS, rows))
    epoch = "a stratified 6,400-image training subset, tested on 2,000 test images" if args.quick else \
        "all 60,000 training images (468 batches), tested on all 10,000 test images"
    notes = (f"One epoch: {epoch}; the same batches in the same order for every contestant. samples/s: "
             "median over interleaved timed windows (contestants take turns, so background load hits all "
             "alike); the range is the slowest and fastest window. First call includes compilation (JAX) "
             "or nothing to compile (PyTorch); 2nd step shows any recompilation. Peak RSS of each "
             "contestant's own process at the end of training (before evaluation), runtime included. "
             "Every contestant but the one timed is stopped (SIGSTOP) while it waits for its turn. "
             "Each PyTorch peer runs under the setting measured fastest for it on this machine "
             "(`benchmarks/peer_settings.py`, results/peer_settings.md: threads, OpenMP wait policy, "
             "torch.compile), except tutorial 6's snnTorch, which runs with PyTorch's defaults; the 'alone' "
             "table runs bsnn and snnTorch one after the other with their defaults. "
             "JAX (bsnn, brainpy.state) runs with its defaults (all cores) and no flags. "
             "Command: `python benchmarks/compare_peers.py"
             f"{' --quick' if args.quick else ''}`.")
    payload = {"quick": args.quick, "data": data_info, "batch": BATCH, "results": results}
    paths = write_sections(name, payload, "bsnn against its peers", sections, notes)
    print(open(paths[1]).read())


if __name__ == "__main__":
    main()
