"""Every gallery script runs top to bottom in --quick mode and writes results.json and plots."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GALLERY = Path(__file__).resolve().parents[1] / "gallery"
SCRIPTS = sorted(p.name for p in GALLERY.glob("*.py") if not p.name.startswith("_") and p.name != "summarize.py")
MNIST = GALLERY.parents[1] / "shared" / "data" / "mnist" / "train-images-idx3-ubyte.gz"
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def _needs(script: str):
    if "fashion" in script and not FASHION.exists() and not os.environ.get("BSNN_DATA"):
        return f"Fashion-MNIST not installed ({FASHION}; apt-get install dataset-fashion-mnist)"
    if "mnist" in script and "fashion" not in script and not MNIST.exists():
        return f"MNIST IDX files not found at {MNIST.parent}"
    return None


def test_gallery_is_not_empty():
    assert {"surrogate_mnist.py", "latency_mnist.py", "synthetic_tutorial.py", "random_feedback_mnist.py",
            "eprop_mnist.py", "fashion_mnist.py", "long_rollout.py"} <= set(SCRIPTS)


VARIANTS = [[script] for script in SCRIPTS] + [["eventprop_mnist.py", "--hidden", "350"]]


@pytest.mark.parametrize("command", VARIANTS, ids=" ".join)
def test_gallery_script_quick(command, tmp_path):
    script = command[0]
    reason = _needs(script)
    if reason:
        pytest.skip(reason)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(GALLERY / script), *command[1:], "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] is True
    pngs = list(out.glob("*.png"))
    assert len(pngs) >= 2 and all(p.stat().st_size > 3000 for p in pngs), pngs
    accuracy = results.get("test_acc", next(iter(results.get("runs", {}).values()), {}).get("test_acc"))
    assert accuracy is not None and 0.0 <= accuracy <= 1.0
