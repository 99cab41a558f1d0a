"""Long rollouts: T = 2000 steps trained with rematerialized BPTT (remat) and with e-prop, memory bounded.

    python gallery/long_rollout.py [--quick] [--out DIR]

The task: 40 Poisson inputs over 2 s (2000 steps of 1 ms) whose rates depend on the class
(``bsnn.data.synthetic(task="rates")``), a 40-256-2 network, batch 32. Each method trains in
its own process so that its memory is its own: plain BPTT (stores every step), BPTT with
``remat=True`` (``checkpointed_for_loop`` recomputes instead), and e-prop (online,
nothing stored over time). Each reports its peak resident memory and how much of it training
added on top of the process after set-up (runtime, data, model). Writes ``results.json``,
``memory.png`` and one ``learning_curves_<method>.png`` per method.
"""

import json
import os
import resource
import subprocess
import sys
import time

from _common import machine, parse_args

RUNS = {   # remat=True: the model's forward pass (training and evaluation) keeps no [T, B, N] trace
    "bptt": {"method": "bptt"},
    "bptt-remat": {"method": "bptt", "remat": True},
    "eprop": {"method": "eprop", "loss": "membrane-sum-ce", "surrogate": "superspike", "remat": True},
}


def worker(name: str, steps: int, epochs: int, out: str):
    import bsnn
    from bsnn.config import TrainConfig
    from bsnn.train import Trainer
    ds = bsnn.data.synthetic(n_samples=160, steps=steps, n_inputs=40, task="rates", contrast=0.8, rate_hz=20.0,
                             seed=0, n_test=80)
    settings = dict(hidden=[256], tau_mem="50ms", tau_syn="10ms", readout="leaky", loss="mean-membrane-ce",
                    lr=5e-3, schedule="constant", batch_size=32, epochs=epochs, w_scale=[2.0, 2.0], quiet=True,
                    out=os.path.join(out, name))
    settings.update(RUNS[name])
    start = time.perf_counter()
    trainer = Trainer(TrainConfig(dataset="synthetic", **settings), dataset=ds, overwrite=True)
    base = _peak_rss_mb()
    history = trainer.fit()
    peak = _peak_rss_mb()
    print(json.dumps({"name": name, "steps": steps, "history": history, "test_acc": history[-1]["test_acc"],
                      "wall_time_s": time.perf_counter() - start, "setup_rss_mb": base,
                      "peak_rss_mb": peak, "training_rss_mb": peak - base}))


def _peak_rss_mb() -> float:
    """This process's own peak resident memory (``VmHWM``; ``ru_maxrss`` would include the parent's)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024.0
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    args = parse_args(__doc__.splitlines()[0], "runs/gallery/long_rollout")
    steps, epochs = (200, 1) if args.quick else (2000, 4)     # --quick: a smoke run, it says nothing about memory
    names = ["bptt-remat", "eprop"] if args.quick else list(RUNS)
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for name in names:
        proc = subprocess.run([sys.executable, __file__, "--worker", name, str(steps), str(epochs), args.out],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{name} failed:\n{proc.stderr[-3000:]}")
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"{name}: T={steps}, test accuracy {r['test_acc']:.3f}, peak RSS {r['peak_rss_mb']:.0f} MiB "
              f"({r['training_rss_mb']:.0f} MiB added by training), {r['wall_time_s']:.0f} s")

    from matplotlib.figure import Figure

    from bsnn.plot import learning_curves
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    names = list(results)
    ax.bar(names, [r["setup_rss_mb"] for r in results.values()], color="0.8", label="after set-up")
    ax.bar(names, [r["training_rss_mb"] for r in results.values()], bottom=[r["setup_rss_mb"] for r in results.values()],
           color=["C0", "C1", "C2"][:len(results)], label="added by training")
    ax.set_ylabel("peak RSS (MiB)")
    ax.legend(fontsize=8)
    ax.set_title(f"T = {steps} steps, 40-256-2, batch 32")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "memory.png"), dpi=110)
    for name, r in results.items():
        learning_curves(r["history"], os.path.join(args.out, f"learning_curves_{name}.png"), title=name)
    summary = {"name": "long_rollout", "dataset": "synthetic (rates task)", "steps": steps, "epochs": epochs,
               "quick": args.quick, "runs": results, "machine": machine(),
               "command": "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=2, default=str)
    print(f"results in {args.out}/results.json")


if __name__ == "__main__":
    main()
