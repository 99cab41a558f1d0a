"""Collect the gallery's results.json files into the table of gallery/README.md.

    python gallery/summarize.py [--runs runs/gallery] [--figures docs/img/gallery]

Reads ``RUNS/<script>/results.json`` of full-mode runs, rewrites the table between the
``<!-- results -->`` markers of ``gallery/README.md`` and copies each run's PNGs to
``FIGURES/<script>/`` for the documentation. Quick-mode results are refused: the table
holds full runs only.
"""

import argparse
import glob
import json
import os
import re
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN, END = "<!-- results -->", "<!-- /results -->"


def _reference(r: dict) -> str:
    ref = r.get("reference", {})
    acc = ref.get("test_acc")
    if isinstance(acc, list):
        return f"{acc[0] * 100:.1f}-{acc[1] * 100:.1f}% ({ref['source']})"
    if acc is not None:
        return f"{acc * 100:.2f}% ({ref['source']})"
    if "final_loss" in ref:
        return f"loss {ref['first_loss']} -> {ref['final_loss']} ({ref['source']})"
    return ref.get("source", "")


def _script(name: str) -> str:
    """``latency_mnist_best`` -> ``latency_mnist.py --best``; ``eventprop_mnist_hidden350`` -> ``... --hidden 350``."""
    if os.path.exists(os.path.join(HERE, f"{name}.py")):      # a script of its own (mnist_learn.py)
        return f"{name}.py"
    match = re.fullmatch(r"(.*)_hidden(\d+)", name)
    if match:
        return f"{match.group(1)}.py --hidden {match.group(2)}"
    if name.endswith("_best"):
        return f"{name[:-5]}.py --best"
    if name.endswith("_learn"):
        return f"{name[:-6]}.py --learn"
    return f"{name}.py"


def _row(r: dict) -> str:
    if r["name"] == "long_rollout":
        runs = r["runs"]
        result = "; ".join(f"{k}: {v['test_acc'] * 100:.1f}%, +{v['training_rss_mb']:.0f} MiB for training "
                           f"(peak {v['peak_rss_mb']:.0f})" for k, v in runs.items())
        wall = sum(v["wall_time_s"] for v in runs.values())
        return f"| `long_rollout.py` | T = {r['steps']}, {r['epochs']} epochs | {result} | bounded memory | {wall:.0f} s |"
    if r["name"] == "randman":
        result = "; ".join(f"{k}: **{v['test_acc'] * 100:.1f}%**" for k, v in r["runs"].items())
        return (f"| `randman.py` | {r['task']}, 20-128-10, bptt / eventprop (max-membrane CE), eprop "
                f"(membrane-sum CE), {r['epochs']} epochs, {r['train_samples']} train / {r['test_samples']} test | "
                f"{result} | - | {r['wall_time_s']:.0f} s |")
    if r["name"] == "alif_memory":
        result = "; ".join(f"{k}: **{v['test_acc'] * 100:.1f}%**" for k, v in r["runs"].items())
        met = {True: "yes", False: "**no**", None: "-"}[r.get("target_met")]
        return (f"| `alif_memory.py` | {r['task']}, recurrent 20-64-2, bptt and eprop, {r['epochs']} epochs, "
                f"{r['train_samples']} train / {r['test_samples']} test | {result} | {r['target']}; met: {met} | "
                f"{r['wall_time_s']:.0f} s |")
    if r.get("target_loss") is not None:
        result = f"loss {r['first_train_loss']:.3f} -> {r['final_train_loss']:.3f}"
    else:
        result = f"**{r['test_acc'] * 100:.2f}%** test"
    met = {True: "yes", False: "**no**", None: "-"}[r.get("target_met")]
    setting = f"{r['method']}, {r['epochs']} epochs, {r['train_samples']} train / {r['test_samples']} test"
    return (f"| `{_script(r['name'])}` | {setting} | {result} | {_reference(r)}; met: {met} | "
            f"{r['wall_time_s']:.0f} s |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/gallery")
    parser.add_argument("--figures", default=os.path.join(HERE, "..", "docs", "img", "gallery"))
    args = parser.parse_args()
    rows, machines = [], set()
    for path in sorted(glob.glob(os.path.join(args.runs, "*", "results.json"))):
        r = json.load(open(path))
        if r.get("quick"):
            raise SystemExit(f"{path} is a --quick run; the table holds full runs only")
        rows.append(_row(r))
        m = r["machine"]
        machines.add(f"{m['cpu']}, {m['cores']} cores, JAX on {m['backend']}")
        dest = os.path.join(args.figures, r["name"])
        os.makedirs(dest, exist_ok=True)
        for png in glob.glob(os.path.join(os.path.dirname(path), "*.png")):
            shutil.copy(png, dest)
    table = "\n".join([f"Measured on {'; '.join(sorted(machines))}.", "",
                       "| script | setting | result | reference | wall time |", "|---|---|---|---|---|", *rows])
    readme = os.path.join(HERE, "README.md")
    text = open(readme).read()
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    with open(readme, "w") as f:
        f.write(text[:start] + "\n" + table + "\n" + text[stop:])
    print(table)


if __name__ == "__main__":
    main()
