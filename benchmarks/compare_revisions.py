"""bsnn against an earlier revision of itself, side by side: the tutorial-5 training step.

    python benchmarks/compare_revisions.py [--baseline REV] [--quick] [--only hoisted,one-loop,alif]

Checks out ``REV`` (default ``HEAD``: the last commit, against the working tree) into a
temporary git worktree and trains the same networks on the same MNIST batches from both
trees, each contestant in its own process, in interleaved timed windows (``compare_peers.py``'s
protocol: the waiting contestants are stopped, the first of each round rotates), so that a
drift of the machine's speed hits both alike. The workloads (``peers/bsnn_runners.py``):
``hoisted`` and ``one-loop`` are the tutorial-5 network (784-1000-10, T = 25, batch 128)
under the default and the one-loop BPTT schedule. Reports samples/s (median and range of the
windows), the ratio new / baseline per workload and the test accuracy after the epoch (the
same in both trees when the numbers are unchanged). Writes ``results/compare_revisions.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from common import interleaved, parse_only, write_sections  # noqa: E402

MNIST_DIR = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "mnist"))
BATCH = 128
WORKLOADS = {"hoisted": {"runner": "bsnn", "kind": "tutorial5"},
             "one-loop": {"runner": "bsnn", "kind": "tutorial5", "method": "bptt-one-loop"}}


def _rev(rev: str) -> str:
    return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", rev], capture_output=True, text=True,
                          check=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare against (default HEAD)")
    parser.add_argument("--quick", action="store_true", help="a 6,400-image subset, fewer windows")
    parser.add_argument("--only", default=",".join(WORKLOADS), help=f"subset of {','.join(WORKLOADS)}")
    parser.add_argument("--data-dir", default=MNIST_DIR)
    args = parser.parse_args()
    from peers.data import prepare
    only = parse_only(args.only, WORKLOADS)
    base_rev = _rev(args.baseline)
    dirty = bool(subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True).stdout.strip())
    new_label = f"working tree (on {_rev('HEAD')}{', modified' if dirty else ''})"
    results, sections = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "baseline")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, base_rev], check=True,
                       capture_output=True)
        try:
            path = os.path.join(tmp, "mnist.npz")
            sizes = (6400, 2000) if args.quick else (None, None)
            data_info = prepare(path, args.data_dir, n_train=sizes[0], n_test=sizes[1], seed=0)
            n_batches = data_info["train"] // BATCH
            warmup, per_window = 2, (4 if args.quick else 24)
            windows = max(1, min((n_batches - 1 - warmup) // per_window, 10 if args.quick else 15))
            for name in only:
                spec = {**WORKLOADS[name], "data": path, "warmup": warmup, "seed": 0}
                argv = lambda root: [os.path.join(root, "benchmarks", "compare_peers.py"), "--worker",  # noqa: E731
                                     json.dumps(spec)]
                workers = {f"baseline {base_rev}": (argv(tree), {"PYTHONPATH": tree}),
                           new_label: (argv(ROOT), {"PYTHONPATH": ROOT})}
                print(f"{name}: {windows} windows of {per_window} batches", file=sys.stderr, flush=True)
                results[name] = interleaved(workers, windows=windows, batches_per_window=per_window, batch=BATCH)
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree], capture_output=True)
    columns = ["tree", "samples/s (median)", "range over windows", "new / baseline", "first call (s)",
               "test acc. (%)"]
    for name, res in results.items():
        base, new = res[f"baseline {base_rev}"], res[new_label]
        rows = []
        for label, r in ((f"baseline {base_rev}", base), (new_label, new)):
            ratio = f"{new['samples_per_s'] / base['samples_per_s']:.3f}" if r is new else "-"
            rows.append([label, f"{r['samples_per_s']:.0f}", f"{r['samples_per_s_min']:.0f}-{r['samples_per_s_max']:.0f}",
                         ratio, f"{r['ready']['first_call_s']:.2f}", f"{100 * r['done']['acc']:.2f}"])
        per_round = sorted(b / a for a, b in zip(base["windows_s"], new["windows_s"]))
        text = (f"Per-round ratio of window times (baseline / new; > 1: the new tree is faster): median "
                f"{per_round[len(per_round) // 2]:.3f}, range {per_round[0]:.3f}-{per_round[-1]:.3f}.")
        sections.append((f"tutorial 5, {name} BPTT", text, columns, rows))
    epoch = "a stratified 6,400-image subset" if args.quick else "all 60,000 training images"
    notes = (f"One epoch of {epoch}, the same batches for both trees, interleaved windows (the one waiting is "
             f"stopped). Command: `python benchmarks/compare_revisions.py --baseline {args.baseline}"
             f"{' --quick' if args.quick else ''}`.")
    payload = {"quick": args.quick, "baseline": base_rev, "new": new_label, "data": data_info, "results": results}
    paths = write_sections("compare_revisions" + ("_quick" if args.quick else ""), payload,
                           "bsnn against an earlier revision", sections, notes)
    print(open(paths[1]).read())


if __name__ == "__main__":
    main()
