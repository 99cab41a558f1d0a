"""Random manifolds: BPTT, EventProp and e-prop on the same spike-timing task, one table.

    python gallery/randman.py [--quick] [--out DIR]

The task is Zenke & Vogels 2021's random manifolds (``bsnn.data.randman``): 10 classes, 20
input units, each firing exactly once per sample in the first 25 of 50 steps (1 ms), the class
given only by the timing (a 2-d smooth random manifold per class, smoothness ``alpha = 2``),
1000 samples per class, 20% held out. The same 20-128-10 network (current-based LIF, tau_mem
20 ms, tau_syn 5 ms, leaky read-out, first-layer weight scale 10 so that the hidden layer
fires from the first step; EventProp has no gradient through silent neurons), Adam 3e-3 with
a cosine schedule, batch 16, 20 epochs, is trained by three rules:

* ``bptt``: surrogate-gradient BPTT (ATan), loss: cross-entropy of the read-out's maximum
  membrane over time (``max-membrane-ce``, the read-out of Zenke & Vogels);
* ``eventprop``: exact EventProp gradients, the same loss;
* ``eprop``: online e-prop (no backward pass through time), loss ``membrane-sum-ce`` (its
  online error is defined for per-step losses only).

What was tried first (10 epochs, seed 0): the ``bsnn train`` defaults (weight scale 3, lr
1e-2, ``mean-membrane-ce``) give BPTT 95.4%, e-prop 83.2% and EventProp chance (10%: the
hidden layer fires about 2 spikes per sample, so the exact gradient of the input weights is
almost always zero); EventProp at lr 1e-3 with weight scale 10: 26.4% with ``mean-membrane-ce``,
66.4% with ``max-membrane-ce``. Writes ``results.json``, ``learning_curves.png`` (test accuracy
per epoch of the three) and ``inputs.png`` (one input sample of three classes).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from _common import machine, parse_args, rule_curves

RULES = {"bptt": {"loss": "max-membrane-ce"}, "eventprop": {"loss": "max-membrane-ce"},
         "eprop": {"loss": "membrane-sum-ce"}}


def main():
    args = parse_args(__doc__.splitlines()[0], "runs/gallery/randman")
    import bsnn
    from bsnn.config import TrainConfig
    from bsnn.train import Trainer
    n_samples, epochs = (100, 1) if args.quick else (1000, 20)
    ds = bsnn.data.randman(n_samples=n_samples, seed=args.seed)
    os.makedirs(args.out, exist_ok=True)
    runs, start = {}, time.perf_counter()
    for method, options in RULES.items():
        cfg = TrainConfig(dataset="randman", encoder="events", hidden=[128], method=method, readout="leaky",
                          optimizer="adam", lr=3e-3, schedule="cosine", batch_size=16, epochs=epochs,
                          w_scale=[10.0, 3.0], seed=args.seed, quiet=True, out=os.path.join(args.out, method),
                          **options)
        t0 = time.perf_counter()
        trainer = Trainer(cfg, dataset=ds, overwrite=True)
        history = trainer.fit()
        runs[method] = {"test_acc": history[-1]["test_acc"], "best_test_acc": max(h["test_acc"] for h in history),
                        "history": history, "wall_time_s": time.perf_counter() - t0, "loss": cfg.loss,
                        "rate_hz": history[-1]["rate_hz"], "settings": trainer.config.to_dict()}
        print(f"{method}: test accuracy {history[-1]['test_acc']:.4f} after {epochs} epochs "
              f"({runs[method]['wall_time_s']:.0f} s)", flush=True)
    plots = [rule_curves(runs, os.path.join(args.out, "learning_curves.png"), "random manifolds, 20-128-10", 0.1),
             _inputs(ds, os.path.join(args.out, "inputs.png"))]
    results = {"name": "randman", "dataset": "randman", "quick": bool(args.quick),
               "task": "random manifolds, 10 classes, 20 units, dim 2, alpha 2, 50 steps",
               "train_samples": len(ds.y_train), "test_samples": len(ds.y_test), "epochs": epochs,
               "accuracy": {k: r["test_acc"] for k, r in runs.items()}, "runs": runs,
               "reference": {"source": "Zenke & Vogels 2021 (random manifolds; their settings differ)"},
               "plots": [os.path.basename(p) for p in plots], "wall_time_s": time.perf_counter() - start,
               "machine": machine(), "command": "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    print("randman: " + ", ".join(f"{k} {r['test_acc']:.4f}" for k, r in runs.items())
          + f"; results in {args.out}/results.json")


def _inputs(ds, path):
    """One training sample of each of three classes: the spike of every input unit."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 2.6))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, k in zip(axes, range(3)):
        sample = ds.x_train[int(np.flatnonzero(ds.y_train == k)[0])]
        t, n = np.nonzero(sample)
        ax.scatter(t, n, s=12, c=f"C{k}", marker="|")
        ax.set_title(f"class {k}", fontsize=9)
        ax.set_xlabel("step (ms)")
        ax.set_xlim(-1, sample.shape[0])
    axes[0].set_ylabel("input unit")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
