"""Spiking Heidelberg Digits: a recurrent network trained by BPTT, EventProp and e-prop, one table.

    python gallery/shd.py [--quick] [--out DIR] [--data-dir DIR]

SHD (Cramer, Stradmann, Schemmel & Zenke 2020; ``bsnn.data.shd``): 8156 training and 2264 test
recordings of spoken digits (20 classes, English and German), 700 cochlea channels. The setting
follows the surrogate-gradient papers (Cramer et al. 2020: a recurrent LIF layer of 128, 83.2%
with BPTT; Zenke & Vogels 2021; Perez-Nieves et al. 2021: 82.7% with heterogeneous time
constants): spikes binned at 10 ms up to 1 s (T = 100), 700-128-20 with a recurrent hidden
layer (current-based LIF, tau_mem 20 ms, tau_syn 5 ms), a leaky read-out and the cross-entropy
of its maximum membrane over time, Adam 1e-3 with a cosine schedule, batch 64, 30 epochs. The
three rules train the same network: ``bptt`` and ``eventprop`` on ``max-membrane-ce``,
``eprop`` on ``membrane-sum-ce`` (its online error is defined for per-step losses only).

The real files are needed for the full run: they are searched, MD5-checked and downloaded as
``bsnn.data.shd`` describes (``--data-dir`` first). They could not be fetched on the machine
this was written on, so no SHD accuracy has been measured here. ``--quick`` without the real
files runs on a generated stand-in written in SHD's own HDF5 layout (20 classes, each a band of
channels sweeping in time, 160 training / 60 test samples): a smoke test of the whole path, its
accuracy says nothing about SHD (``--quick`` bins at 20 ms and trains one epoch; with the real files
it takes their first 512 / 256 samples). Writes ``results.json``, ``learning_curves.png`` and
``inputs.png`` (the spikes of one sample of three classes).
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
OPTIONS = {"bin_width": "10ms", "max_time": "1000ms"}
REFERENCE = "Cramer et al. 2020: recurrent LIF 128, BPTT, 83.2% (their setting differs in detail)"


def stand_in(directory: str, n_train: int = 160, n_test: int = 60, seed: int = 0) -> str:
    """Write ``shd_train.h5`` / ``shd_test.h5`` of a learnable toy task in SHD's layout; returns the directory."""
    from bsnn.data import write_spikes
    rng = np.random.default_rng(seed)
    start, slope = rng.uniform(50, 650, 20), rng.uniform(-400, 400, 20)     # per class: channel = start + slope t
    os.makedirs(directory, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 20, n)
        times, units = [], []
        for k in labels:
            t = np.sort(rng.uniform(0.05, 0.75, int(rng.integers(200, 400))))
            c = np.clip(np.round(start[k] + slope[k] * t + rng.normal(0, 15, t.size)), 0, 699)
            times.append(t)
            units.append(c.astype(np.uint16))
        write_spikes(os.path.join(directory, f"shd_{split}.h5"), times, units, labels)
    return directory


def main():
    args = parse_args(__doc__.splitlines()[0], "runs/gallery/shd")
    import bsnn
    from bsnn.config import TrainConfig
    from bsnn.data import DataNotFoundError, heidelberg_files
    from bsnn.train import Trainer
    os.makedirs(args.out, exist_ok=True)
    data_dir, source = args.data_dir, "SHD"
    try:
        heidelberg_files(bsnn.data.SHD, data_dir, download=not args.quick)
    except DataNotFoundError as err:
        if not args.quick:
            sys.exit(f"shd.py: {err}")
        data_dir, source = stand_in(os.path.join(args.out, "stand-in-data"), seed=args.seed), "generated stand-in"
    options = dict(OPTIONS, **({"bin_width": "20ms", "n_train": 512, "n_test": 256} if args.quick else {}))
    ds = bsnn.data.load("shd", data_dir, **options)
    epochs = 1 if args.quick else 30
    runs, start = {}, time.perf_counter()
    for method, rule in RULES.items():
        cfg = TrainConfig(dataset="shd", data_dir=data_dir, dataset_options=options, encoder="events",
                          hidden=[128], recurrent=True, method=method, readout="leaky", optimizer="adam", lr=1e-3,
                          schedule="cosine", batch_size=64, epochs=epochs, seed=args.seed, quiet=True,
                          out=os.path.join(args.out, method), **rule)
        t0 = time.perf_counter()
        history = Trainer(cfg, dataset=ds, overwrite=True).fit()
        runs[method] = {"test_acc": history[-1]["test_acc"], "history": history, "loss": cfg.loss,
                        "wall_time_s": time.perf_counter() - t0, "rate_hz": history[-1]["rate_hz"]}
        print(f"{method}: test accuracy {history[-1]['test_acc']:.4f} after {epochs} epochs "
              f"({runs[method]['wall_time_s']:.0f} s, {source})", flush=True)
    plots = [rule_curves(runs, os.path.join(args.out, "learning_curves.png"), f"{source}, 700-128r-20", 1 / 20),
             _inputs(ds, os.path.join(args.out, "inputs.png"))]
    results = {"name": "shd", "dataset": "shd", "data": source, "quick": bool(args.quick),
               "measured_on_shd": source == "SHD", "train_samples": len(ds.y_train), "test_samples": len(ds.y_test),
               "epochs": epochs, "accuracy": {k: r["test_acc"] for k, r in runs.items()}, "runs": runs,
               "reference": {"source": REFERENCE}, "dataset_options": options,
               "plots": [os.path.basename(p) for p in plots], "wall_time_s": time.perf_counter() - start,
               "machine": machine(), "command": "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    print(f"shd ({source}): " + ", ".join(f"{k} {r['test_acc']:.4f}" for k, r in runs.items())
          + f"; results in {args.out}/results.json")


def _inputs(ds, path):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 2.6))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, k in zip(axes, sorted(set(ds.y_train.tolist()))[:3]):
        t, c = np.nonzero(ds.x_train[int(np.flatnonzero(ds.y_train == k)[0])])
        ax.scatter(t, c, s=1, c=f"C{k % 10}")
        ax.set_title(f"class {k}", fontsize=9)
        ax.set_xlabel("time bin")
    axes[0].set_ylabel("channel")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
