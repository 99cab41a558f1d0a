"""Shared plumbing of the gallery scripts: arguments, the run, results.json and plots.

Every script builds a ``bsnn.TrainConfig`` for its classic setup (a smaller one with
``--quick``), trains it with ``bsnn.Trainer``, and writes into ``--out``:
``results.json`` (dataset, method, settings, epochs, test accuracy, wall time, samples/s,
machine, the reference number and whether it was matched) plus ``learning_curves.png``,
``raster.png`` and ``membrane.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax

from bsnn.config import TrainConfig
from bsnn.cli import plot_run
from bsnn.train import Trainer, library_versions

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "mnist"))


def parse_args(description: str, default_out: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small subset, under a minute on a 2-core CPU")
    parser.add_argument("--out", default=default_out, help=f"output directory (default {default_out})")
    parser.add_argument("--data-dir", default=None,
                        help=f"dataset directory (MNIST default: {MNIST_DIR} if present, then the usual search)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def mnist_dir(args) -> str | None:
    if args.data_dir:
        return args.data_dir
    return MNIST_DIR if os.path.isdir(MNIST_DIR) else None


def machine() -> dict:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "backend": jax.default_backend(), "platform": platform.platform()}


def run(name: str, cfg: TrainConfig, args, *, reference: dict, target: float | None = None,
        target_loss: float | None = None, dataset=None, notes: str = "") -> dict:
    """Train ``cfg``, write results.json and the plots into ``args.out``; returns the results.

    ``target``: the test accuracy to reach; ``target_loss``: the training loss to get below
    (checked in full mode only).
    """
    cfg.out = args.out
    cfg.seed = args.seed
    start = time.perf_counter()
    trainer = Trainer(cfg, dataset=dataset, overwrite=True)      # a rerun replaces the last one
    history = trainer.fit()
    wall = time.perf_counter() - start
    plots = [os.path.basename(p) for p in plot_run(args.out, trainer=trainer)]
    last = history[-1]
    steady = history[1:] or history          # the first epoch includes compilation
    results = {
        "name": name, "dataset": trainer.dataset.name, "method": trainer.config.method, "quick": bool(args.quick),
        "train_samples": len(trainer.dataset.y_train), "test_samples": len(trainer.dataset.y_test),
        "epochs": last["epoch"], "test_acc": last["test_acc"], "best_test_acc": max(h["test_acc"] for h in history),
        "train_acc": last["train_acc"], "final_train_loss": last["train_loss"],
        "first_train_loss": history[0]["train_loss"],
        "wall_time_s": wall, "samples_per_s": sum(h["samples_per_s"] for h in steady) / len(steady),
        "rate_hz": last["rate_hz"], "reference": reference, "target": target, "target_loss": target_loss,
        "target_met": None if args.quick or (target is None and target_loss is None) else bool(
            (target is None or last["test_acc"] >= target)
            and (target_loss is None or last["train_loss"] <= target_loss)),
        "settings": trainer.config.to_dict(), "machine": machine(), "versions": library_versions(),
        "history": history, "plots": plots, "notes": notes,
        "command": "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    flag = "" if results["target_met"] is None else (" (target met)" if results["target_met"] else " (TARGET MISSED)")
    print(f"{name}: test accuracy {last['test_acc']:.4f} after {last['epoch']} epochs, {wall:.0f} s{flag}; "
          f"results in {args.out}/results.json")
    return results


def rule_curves(runs: dict, path: str, title: str, chance: float) -> str:
    """Test accuracy per epoch of several runs (``{name: {"history": ..., "loss": ...}}``) in one plot."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    for name, r in runs.items():
        ax.plot([h["epoch"] for h in r["history"]], [h["test_acc"] for h in r["history"]], "o-", ms=3,
                label=f"{name} ({r['loss']})")
    ax.axhline(chance, color="gray", ls="--", lw=0.8, label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
