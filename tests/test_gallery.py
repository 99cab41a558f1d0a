"""Every gallery script runs top to bottom in --quick mode and writes results.json and plots.

Each script runs as ``__main__`` in the test's own process (``runpy``, with its ``sys.argv``
and working directory), so the quick runs share one interpreter start-up and one JAX
runtime; a script that starts workers of its own (``long_rollout.py``) still does.
"""

import json
import os
import runpy
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


@pytest.mark.parametrize("script", SCRIPTS)
def test_gallery_script_quick(script, tmp_path, monkeypatch, capsys):
    reason = _needs(script)
    if reason:
        pytest.skip(reason)
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(GALLERY / script), "--quick", "--out", str(out)])
    monkeypatch.syspath_prepend(str(GALLERY))
    try:
        runpy.run_path(str(GALLERY / script), run_name="__main__")
    except SystemExit as stop:
        assert stop.code in (None, 0), f"{script} exited with {stop.code}: {capsys.readouterr().err[-3000:]}"
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] is True
    pngs = list(out.glob("*.png"))
    assert len(pngs) >= 2 and all(p.stat().st_size > 3000 for p in pngs), pngs
    accuracy = results.get("test_acc", next(iter(results.get("runs", {}).values()), {}).get("test_acc"))
    assert accuracy is not None and 0.0 <= accuracy <= 1.0
