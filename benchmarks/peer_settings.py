"""Find each PyTorch peer's fastest settings on this machine, alone and in turns with bsnn.

    python benchmarks/peer_settings.py [--quick] [--only tutorial5,eventprop]

For each PyTorch peer of ``compare_peers.py`` (snnTorch tutorial 5; the PyTorch EventProp)
every candidate setting (``peers/torch_settings.py``) is measured twice on the same MNIST
batches:

* **alone**: the candidate trains in its own process with nothing of ours beside it;
* **in turns**: all candidates and bsnn's contestant of that comparison take turns, one
  timed window each (the rotation of ``compare_peers.py``), as the comparison runs them.

The candidates: PyTorch's defaults (as a user who writes nothing runs it: here 2 threads
and GNU OpenMP's default wait), the OpenMP wait policy PASSIVE or ACTIVE, one thread, and
each of these under ``torch.compile``. The chosen setting is the fastest median in turns,
the condition ``compare_peers.py`` measures under; the table gives both. Writes
``results/peer_settings.{json,md}``, which ``compare_peers.py`` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import interleaved, parse_only, write_sections  # noqa: E402

MNIST_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "mnist"))
BATCH = 128
PEERS = {"tutorial5": ("snntorch", {"runner": "bsnn", "kind": "tutorial5"}, "snnTorch tutorial 5"),
         "eventprop": ("torch-eventprop", {"runner": "bsnn", "kind": "eventprop"}, "PyTorch EventProp")}
BASES = ({}, {"omp_wait_policy": "PASSIVE"}, {"omp_wait_policy": "ACTIVE"}, {"threads": 1})
CANDIDATES = tuple(BASES) + tuple({**b, "compile": True} for b in BASES)


def worker_argv(spec: dict) -> list:
    return [os.path.join(HERE, "compare_peers.py"), "--worker", json.dumps(spec)]


def measure(group: str, data: str, windows: int, per_window: int, warmup: int) -> dict:
    from peers.torch_settings import label
    runner, bsnn_spec, _ = PEERS[group]
    base = {"data": data, "warmup": warmup, "seed": 0}
    alone = {}
    for setting in CANDIDATES:
        name = label(setting)
        print(f"{group}: {name}, alone", file=sys.stderr, flush=True)
        argv = worker_argv({**base, "runner": runner, "torch": setting})
        try:
            alone[name] = interleaved({name: argv}, windows=windows, batches_per_window=per_window,
                                      batch=BATCH)[name]
        except RuntimeError as err:          # e.g. torch.compile failing on the peer's code
            alone[name] = {"failed": str(err)}
        alone[name]["setting"] = setting
    working = [label(s) for s in CANDIDATES if "failed" not in alone[label(s)]]
    print(f"{group}: the candidates that ran and bsnn, in turns", file=sys.stderr, flush=True)
    workers = {"bsnn": worker_argv({**base, **bsnn_spec})}
    workers.update({n: worker_argv({**base, "runner": runner, "torch": alone[n]["setting"]}) for n in working})
    turns = interleaved(workers, windows=windows, batches_per_window=per_window, batch=BATCH)
    for n in working:
        turns[n]["setting"] = alone[n]["setting"]
    best = max(working, key=lambda n: turns[n]["samples_per_s"])
    best_alone = max(working, key=lambda n: alone[n]["samples_per_s"])
    return {"alone": alone, "turns": turns, "chosen": turns[best]["setting"], "chosen_label": best,
            "fastest_alone": best_alone}


def load(path: str | None = None) -> dict:
    """``{group: setting}`` chosen by the last run (``{}`` where there is none)."""
    path = path or os.path.join(HERE, "results", "peer_settings.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {g: r["chosen"] for g, r in json.load(f)["results"].items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter windows")
    parser.add_argument("--only", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument("--data-dir", default=MNIST_DIR)
    args = parser.parse_args()
    from peers.data import prepare
    only = parse_only(args.only, PEERS)
    windows, per_window, warmup = (3, 4, 3) if args.quick else (7, 8, 5)
    results = {}
    old = os.path.join(HERE, "results", "peer_settings.json")
    if os.path.exists(old):
        with open(old) as f:
            results = json.load(f).get("results", {})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mnist.npz")
        # enough batches for warm-up, every window and a short untimed rest; a small test set
        n_train = BATCH * (1 + warmup + windows * per_window + 2)
        data_info = prepare(path, args.data_dir, n_train=n_train, n_test=1000, seed=0)
        for group in only:
            results[group] = measure(group, path, windows, per_window, warmup)
    columns = ["setting", "alone: samples/s (median)", "alone: range", "in turns: samples/s (median)",
               "in turns: range", "first call (s)", "test acc. (%)"]
    sections = []
    for group, res in results.items():
        rows = []
        for name, a in res["alone"].items():
            if "failed" in a:
                rows.append([name, "failed: " + a["failed"].splitlines()[0][:80], "-", "-", "-", "-", "-"])
                continue
            t = res["turns"][name]
            mark = " (chosen)" if name == res["chosen_label"] else ""
            rows.append([name + mark, f"{a['samples_per_s']:.0f}", f"{a['samples_per_s_min']:.0f}-{a['samples_per_s_max']:.0f}",
                         f"{t['samples_per_s']:.0f}", f"{t['samples_per_s_min']:.0f}-{t['samples_per_s_max']:.0f}",
                         f"{a['ready']['first_call_s']:.2f}", f"{100 * a['done']['acc']:.2f}"])
        b = res["turns"]["bsnn"]
        text = (f"bsnn's contestant in the same turns: {b['samples_per_s']:.0f} samples/s "
                f"({b['samples_per_s_min']:.0f}-{b['samples_per_s_max']:.0f}). Fastest alone: {res['fastest_alone']}.")
        sections.append((PEERS[group][2], text, columns, rows))
    notes = (f"Each candidate on the same {data_info['train']} MNIST training images: {warmup} warm-up steps, "
             f"then {windows} timed windows of {per_window} batches of {BATCH}, alone (its own process, nothing "
             "of ours beside it) and in turns with all other candidates and bsnn; median and range over the "
             "windows. First call: the first step, compilation included. Test accuracy on 1000 test images after "
             "the short run (a check that every candidate trains, not a result). The chosen setting (fastest in "
             "turns) is what `compare_peers.py` runs. Command: `python benchmarks/peer_settings.py"
             f"{' --quick' if args.quick else ''}`.")
    payload = {"quick": args.quick, "data": data_info, "batch": BATCH, "results": results}
    paths = write_sections("peer_settings", payload, "PyTorch peers: settings measured", sections, notes)
    print(open(paths[1]).read())


if __name__ == "__main__":
    main()
