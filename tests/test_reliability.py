"""Faults: SIGKILL during epochs and checkpoint writes, resume, damaged checkpoints, divergence
and bad data files, through the ``bsnn`` command line.

The kills run ``tests/helpers/killable_train.py`` (``bsnn.cli.main`` with a SIGKILL planted at
a chosen point) in subprocesses that share a JAX compilation cache, so each costs about the
interpreter start-up; the runs that plant no kill run in this process. One run directory goes through every kill in turn; after each, the
newest checkpoint must be complete and ``--resume`` must start from it; at the end the
parameters and optimizer state must equal, bit for bit, those of an uninterrupted run.
"""

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bsnn import checkpoint
from bsnn.cli import main

HELPER = Path(__file__).resolve().parent / "helpers" / "killable_train.py"
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
BATCH = 16
RUN = ["train", "--dataset", "digits", "--train-subset", "300", "--test-subset", "100", "--epochs", "4",
       "--schedule", "constant", "--hidden", "16", "--steps", "10", "--batch-size", str(BATCH), "--quiet"]
SEED = 20240611          # the random kill points; fixed so that a failure can be replayed


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Subprocess environment: a compilation cache shared by the runs of this module and this process
    (the test session's, which the in-process runs fill, when conftest.py set one)."""
    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(tmp_path_factory.mktemp("jax-cache"))
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache,
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def _command(kill_at, args, mark=None):
    return [sys.executable, str(HELPER), "--kill-at", kill_at] + (["--mark", str(mark)] if mark else []) \
        + ["--"] + list(args)


def _run(env, cwd, kill_at, args, expect_killed=True):
    start = time.perf_counter()
    r = subprocess.run(_command(kill_at, args), capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    print(f"{kill_at:12s} rc={r.returncode:4d} {time.perf_counter() - start:5.1f} s  {' '.join(args[:2])}")
    if expect_killed:
        assert r.returncode == -signal.SIGKILL, f"{kill_at}: the kill did not happen (rc {r.returncode}):\n{r.stderr}"
    return r


def _in_process(monkeypatch, args):
    """``bsnn`` run in this process (no kill planned: saves an interpreter start-up).

    Returns ``(exit code, stdout, stderr, the epoch the Trainer started from or None)``.
    """
    import contextlib
    import io

    from bsnn import train
    started = []
    init = train.Trainer.__init__

    def trainer_init(self, *a, **k):
        init(self, *a, **k)
        started.append(self.epoch)

    monkeypatch.setattr(train.Trainer, "__init__", trainer_init)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as stop:
            code = stop.code
    monkeypatch.undo()
    print(f"{'in process':12s} rc={code}  {' '.join(args[:2])}")
    return code, out.getvalue(), err.getvalue(), (started[-1] if started else None)


def _start_epoch(stderr: str) -> int:
    lines = [l for l in stderr.splitlines() if l.startswith("killable_train: start epoch")]
    assert lines, stderr
    return int(lines[-1].split()[-1])


def _newest_complete(run: Path) -> int:
    """Every file under a final checkpoint name is complete; returns the newest epoch (0: none)."""
    files = sorted(glob.glob(str(run / "checkpoints" / "epoch-*.ckpt")))
    for f in files:
        checkpoint.load(f)                       # raises CheckpointError for a partial file
    if not files:
        return 0
    ckpt = checkpoint.latest(str(run / "checkpoints"))
    assert ckpt.path == files[-1]
    return int(ckpt.meta["epoch"])


def _state(run: Path):
    ckpt = checkpoint.latest(str(run / "checkpoints"))
    return ckpt.arrays, [(h["epoch"], h["train_loss"], h["test_acc"]) for h in ckpt.meta["history"]]


def _assert_same_state(a, b):
    arrays_a, history_a = a
    arrays_b, history_b = b
    assert arrays_a.keys() == arrays_b.keys()
    for k in arrays_a:
        np.testing.assert_array_equal(arrays_a[k], arrays_b[k], err_msg=k)
    assert history_a == history_b


def test_sigkill_at_any_point_then_resume_gives_the_uninterrupted_result(env, tmp_path, monkeypatch):
    rng = random.Random(SEED)
    ref, run = tmp_path / "reference", tmp_path / "run"
    assert _in_process(monkeypatch, RUN + ["--out", str(ref)])[0] == 0
    reference = _state(ref)
    steps = json.loads((ref / "metrics.jsonl").read_text().splitlines()[0])["train_samples"] // BATCH
    assert steps >= 10, steps
    fresh, resume = RUN + ["--out", str(run)], ["train", "--resume", str(run), "--quiet"]

    # 1. mid-epoch 1, before any checkpoint exists: --resume has nothing to start from and says so;
    #    a fresh start in the same directory is allowed
    _run(env, tmp_path, f"step:{rng.randint(2, steps - 1)}", fresh)
    assert _newest_complete(run) == 0
    code, _, err, _ = _in_process(monkeypatch, resume)
    assert code == 2 and "nothing to resume: no checkpoint in" in err, err
    # 2. mid-epoch 2 (random step)
    k = steps + rng.randint(2, steps - 1)
    _run(env, tmp_path, f"step:{k}", fresh)
    assert _newest_complete(run) == 1
    # 3. while the epoch-2 checkpoint is half written: the temporary file is never taken for a checkpoint
    r = _run(env, tmp_path, "write:1", resume)
    assert _start_epoch(r.stderr) == 1 and _newest_complete(run) == 1
    assert glob.glob(str(run / "checkpoints" / ".epoch-0002.ckpt.tmp-*"))
    # 4. just after the epoch-2 checkpoint is renamed into place, before metrics.jsonl is appended
    r = _run(env, tmp_path, "replace:1", resume)
    assert _start_epoch(r.stderr) == 1 and _newest_complete(run) == 2
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    # 5. the epoch-3 checkpoint is complete in its temporary file but not fsynced nor renamed
    r = _run(env, tmp_path, "fsync:1", resume)
    assert _start_epoch(r.stderr) == 2 and _newest_complete(run) == 2
    # 6. mid-epoch 4 (random step; epoch 3 is trained and saved by this process first)
    k = steps + rng.randint(2, steps - 1)
    r = _run(env, tmp_path, f"step:{k}", resume)
    assert _start_epoch(r.stderr) == 2 and _newest_complete(run) == 3
    # 7. a kill at a random moment once training is under way (wherever it lands)
    mark = tmp_path / "started"
    proc = subprocess.Popen(_command("none", resume, mark), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    deadline = time.time() + 240
    while not mark.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert mark.exists(), "training never started"
    delay = rng.uniform(0.0, 1.5)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    print(f"timed kill after {delay:.2f} s: rc={proc.returncode}, newest checkpoint {_newest_complete(run)}")
    assert _start_epoch(err) == 3 and _newest_complete(run) >= 3
    # 8. resume to the end
    expected_start = _newest_complete(run)
    code, out, err, start = _in_process(monkeypatch, resume)
    assert code == 0, err
    assert start == expected_start
    assert "after 4 epochs" in out
    _assert_same_state(_state(run), reference)
    assert [json.loads(l)["epoch"] for l in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]

    # 9. a truncated newest checkpoint is reported by name and skipped; the run redoes epoch 4, same result
    newest = run / "checkpoints" / "epoch-0004.ckpt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    code, _, err, start = _in_process(monkeypatch, resume)
    assert code == 0, err
    assert f"warning: checkpoint {newest} is truncated or not a bsnn checkpoint" in err
    assert start == 3
    _assert_same_state(_state(run), reference)


def test_every_checkpoint_damaged_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--train-subset", "64", "--test-subset", "32", "--epochs", "2",
                 "--hidden", "8", "--steps", "5", "--schedule", "constant", "--quiet", "--out", str(out)]) == 0
    first, second = sorted((out / "checkpoints").glob("epoch-*.ckpt"))
    data = bytearray(first.read_bytes())
    data[len(data) // 3] ^= 0x01                          # one flipped bit
    first.write_bytes(bytes(data))
    second.write_bytes(b"")                               # an empty file
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"no valid checkpoint in {out / 'checkpoints'}" in err
    assert f"checkpoint {first} is corrupted (SHA-256 checksum mismatch)" in err
    assert f"checkpoint {second} is truncated or not a bsnn checkpoint" in err


def test_learning_rate_high_enough_to_diverge_stops_with_epoch_and_step(tmp_path, capsys):
    """A genuinely too-high learning rate (no forcing): the run stops at the first non-finite loss.

    tests/test_train.py forces divergence after a completed epoch and checks that the last
    good checkpoint is kept byte for byte."""
    out = tmp_path / "run"
    code = main(["train", "--dataset", "digits", "--train-subset", "64", "--test-subset", "32", "--epochs", "2",
                 "--hidden", "8", "--steps", "5", "--schedule", "constant", "--lr", "1e36", "--quiet",
                 "--out", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "bsnn train: training diverged: the loss became" in err
    assert "at epoch 1, step " in err and "(lr=1e+36); no checkpoint was written. Lower --lr and retry." in err
    assert not list(out.glob("checkpoints/*.ckpt"))


@pytest.mark.skipif(not (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason=f"MNIST IDX files not found in {MNIST_DIR}")
def test_mixed_valid_and_invalid_dataset_files_are_reported_file_by_file(tmp_path, capsys, monkeypatch):
    """Through the command line: each invalid file named with its problem, the valid ones not."""
    import gzip
    monkeypatch.delenv("BSNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = tmp_path / "mnist"
    data.mkdir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):     # valid (real) files
        shutil.copy(MNIST_DIR / name, data / name)
    (data / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(bytes([0, 0, 8, 3]) + np.array([60000, 28, 28], ">u4").tobytes() + bytes(100)))
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--dataset", "mnist", "--data-dir", str(data), "--out", str(tmp_path / "run"), "--quiet"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "mnist: 2 invalid file(s):" in err
    assert f"{data / 'train-images-idx3-ubyte.gz'}: truncated" in err
    assert f"{data / 't10k-images-idx3-ubyte.gz'}: corrupt gzip data" in err
    assert "labels" not in err


def test_temporary_files_of_killed_writers_are_cleaned_up(tmp_path):
    d = tmp_path / "checkpoints"
    d.mkdir()
    stale = d / ".epoch-0002.ckpt.tmp-99999"
    stale.write_bytes(b"half a checkpoint")
    checkpoint.save(str(d), 2, {"params/w": np.zeros(3, np.float32)}, {"epoch": 2, "history": [], "config": {}})
    assert checkpoint.load(str(d / "epoch-0002.ckpt")).meta["epoch"] == 2
    assert not stale.exists()
