"""Data parallelism: 4 forced host devices match 1 device; two processes on loopback agree.

The 1-vs-4-device comparison runs in float64 (``brainstate.environ.set(precision=64)``): the
sharded gradient is reduced in a different order, and in float32 that rounding (~1e-7) is
amplified over an epoch by Adam in coordinates whose gradients are near zero (it divides by
``sqrt(v) + 1e-8``) and by occasional spike flips, so runs drift apart by 1e-4..1e-2 whatever
the sharding. In float64 the same code agrees to ~1e-10, which isolates what this test checks:
that sharding computes the same training step.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from bsnn.methods import METHODS
from bsnn.parallel import check_divisible

# Settings per method for the equivalence run (each method with a loss/encoder it supports).
METHOD_SETTINGS = {
    "bptt": {},
    "eventprop": {"encoder": "binary-latency", "steps": 40, "loss": "first-spike-ce", "readout": "spiking",
                  "hidden": [64], "w_scale": [4.0, 2.0]},
    "eprop": {"loss": "membrane-sum-ce", "surrogate": "superspike"},
    "feedback": {"loss": "membrane-sum-ce", "surrogate": "superspike"},
}

SCRIPT = textwrap.dedent("""
    import json, sys
    import brainstate
    brainstate.environ.set(precision=64)
    import numpy as np
    from bsnn import checkpoint
    from bsnn.config import TrainConfig
    from bsnn.train import Trainer
    results = {}
    for method, settings in json.loads(sys.argv[1]).items():
        runs = {}
        for devices in (1, 4):
            cfg = TrainConfig(method=method, epochs=1, batch_size=32, devices=devices, quiet=True,
                              train_subset=320, test_subset=64, **settings)
            trainer = Trainer(cfg)
            history = trainer.fit()
            params = checkpoint.state_arrays(trainer.model)
            runs[devices] = (history[-1]["train_loss"], params)
        (l1, p1), (l4, p4) = runs[1], runs[4]
        results[method] = {"loss_1": l1, "loss_4": l4,
                           "max_param_diff": max(float(np.abs(p1[k] - p4[k]).max()) for k in p1)}
    print(json.dumps(results))
""")


def test_every_method_is_covered():
    assert set(METHODS) <= set(METHOD_SETTINGS), f"add settings for {set(METHODS) - set(METHOD_SETTINGS)}"


def test_four_devices_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    # random feedback is e-prop's online loop with other feedback matrices: e-prop stands for both here
    settings = {m: METHOD_SETTINGS[m] for m in sorted(METHODS) if m != "feedback"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(settings)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for method, r in results.items():
        assert abs(r["loss_1"] - r["loss_4"]) <= 1e-5 * max(1.0, abs(r["loss_1"])), (method, r)
        assert r["max_param_diff"] <= 1e-5, (method, r)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_on_loopback_agree(tmp_path):
    port = _free_port()
    out = str(tmp_path / "run")
    procs = [subprocess.Popen([sys.executable, "-m", "bsnn", "train", "--distributed", "--coordinator",
                               f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(pid),
                               "--out", out, "--epochs", "1", "--train-subset", "256", "--test-subset", "64",
                               "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for pid in (0, 1)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (stdout, stderr) in zip(procs, outputs):
        assert p.returncode == 0, stderr[-3000:]
    digests = [next(l.split()[-1] for l in stdout.splitlines() if "params-sha256" in l) for stdout, _ in outputs]
    assert digests[0] == digests[1]
    assert "test accuracy" in outputs[0][0] and "test accuracy" not in outputs[1][0]   # process 0 reports
    assert len(open(os.path.join(out, "metrics.jsonl")).read().splitlines()) == 1      # written once


def test_batch_must_divide_over_devices():
    check_divisible(32, 4)
    with pytest.raises(ValueError, match="--batch-size 30 does not split evenly over 4 devices; use 28 or 32"):
        check_divisible(30, 4)
    with pytest.raises(ValueError, match="use 8$"):
        check_divisible(5, 8)
