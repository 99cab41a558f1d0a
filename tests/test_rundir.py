"""The run directory is a record nobody can lose: overwrite only after every check, one writer,
read-only readers, numeric checkpoint order, extension past the horizon, signals, portable and
standard config.json, one-line errors for every output-path problem, values out of range."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import bsnn
from bsnn import checkpoint
from bsnn.cli import main
from bsnn.config import TrainConfig
from bsnn.runfiles import RunLock
from bsnn.train import Trainer

SMALL = ["--train-subset", "64", "--test-subset", "32", "--hidden", "8", "--steps", "5", "--quiet"]
REPO = Path(__file__).resolve().parents[1]


def _train(out, *extra, epochs=1):
    return main(["train", "--epochs", str(epochs), *SMALL, "--out", str(out), *extra])


def _snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-epoch run with its figures."""
    out = tmp_path_factory.mktemp("runs") / "done"
    assert _train(out, epochs=2) == 0
    assert main(["plot", str(out)]) == 0
    return out


def _copy(run: Path, dest: Path) -> Path:
    import shutil
    shutil.copytree(run, dest)
    return dest


def _exit_code(capsys, argv):
    """``(exit status, captured)``; the CPU kernel's one-time build notice is left out of ``err``."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    cap = capsys.readouterr()
    err = "".join(l for l in cap.err.splitlines(keepends=True) if not l.startswith("building bsnn's CPU kernel"))
    return code, cap._replace(err=err)


# ---- overwrite --------------------------------------------------------------------------------
def test_a_failed_overwrite_leaves_the_old_run_intact(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    before = _snapshot(run)
    bad_mnist = tmp_path / "mnist"
    bad_mnist.mkdir()
    (bad_mnist / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    for flags in (["--method", "eprop", "--loss", "mean-membrane-ce"],          # a clash of settings
                  ["--dataset", "mnist", "--data-dir", str(bad_mnist)],        # data not usable
                  ["--loss-option", "nope=1"],                                  # a typo in an option
                  ["--steps", "10000000"]):                                     # cannot fit in memory
        code, cap = _exit_code(capsys, ["train", *SMALL, "--out", str(run), "--overwrite", *flags])
        assert code == 2, (flags, cap.err)
        assert "Traceback" not in cap.err
        assert _snapshot(run) == before, flags


def test_a_successful_overwrite_leaves_nothing_of_the_old_run(finished, tmp_path):
    run = _copy(finished, tmp_path / "run")
    (run / "notes.txt").write_text("mine")                  # not a bsnn file: kept
    assert (run / "raster.png").exists()
    assert _train(run, "--overwrite", "--seed", "3") == 0
    assert not any((run / name).exists() for name in ("raster.png", "membrane.png", "learning_curves.png"))
    assert [json.loads(l)["epoch"] for l in (run / "metrics.jsonl").read_text().splitlines()] == [1]
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["epoch-0001.ckpt"]
    assert json.loads((run / "config.json").read_text())["config"]["seed"] == 3
    assert (run / "notes.txt").read_text() == "mine"


# ---- one writer per run -------------------------------------------------------------------------
def test_a_second_writer_is_refused_naming_the_holder_and_a_stale_lock_is_taken_over(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from bsnn.runfiles import RunLock; "
                               "RunLock.acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(run)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, cap = _exit_code(capsys, ["train", *SMALL, "--out", str(run)])
        assert code == 2
        assert f"{run} is in use: process {holder.pid}" in cap.err and "one writer at a time" in cap.err
        assert not (run / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder died: its lock file is still there, with its pid, but no longer held
    assert str(holder.pid) in (run / ".lock").read_text()
    assert _train(run) == 0


def test_the_same_process_may_take_its_own_lock_again(tmp_path):
    a = RunLock.acquire(str(tmp_path))
    b = RunLock.acquire(str(tmp_path))
    assert a is b
    b.release()
    a.release()


# ---- readers write nothing ------------------------------------------------------------------------
def test_eval_export_and_plot_only_read(finished, tmp_path, capsys):
    pytest.importorskip("nir")
    before = _snapshot(finished)
    assert main(["eval", str(finished)]) == 0
    assert main(["export", str(finished), "--nir", str(tmp_path / "model.nir")]) == 0
    assert main(["plot", str(finished), "--to", str(tmp_path / "figures")]) == 0
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        ["learning_curves.png", "raster.png", "membrane.png"])
    assert _snapshot(finished) == before


def _mount(kind: str, target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    args = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)] if kind == "tmpfs" else \
        ["mount", "--bind", *options.split(), str(target)]
    return subprocess.run(args, capture_output=True).returncode == 0


@pytest.fixture
def read_only_run(finished, tmp_path):
    """A copy of the finished run on a read-only file system (a tmpfs remounted read-only)."""
    mnt = tmp_path / "ro"
    if os.geteuid() != 0 or not _mount("tmpfs", mnt, "size=16m"):
        pytest.skip("needs root and mount (a read-only tmpfs)")
    try:
        _copy(finished, mnt / "run")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield mnt / "run"
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_run_on_a_read_only_file_system(read_only_run, tmp_path, capsys):
    assert main(["eval", str(read_only_run)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["plot", str(read_only_run), "--to", str(tmp_path / "figs")]) == 0
    capsys.readouterr()
    code, cap = _exit_code(capsys, ["plot", str(read_only_run)])                 # figures into the run
    assert code == 2 and "read-only" in cap.err and "Traceback" not in cap.err
    code, cap = _exit_code(capsys, ["train", "--resume", str(read_only_run), "--epochs", "3"])
    assert code == 2 and cap.err.count("\n") == 1, cap.err
    assert f"--out {read_only_run}: cannot write there: the file system is read-only" in cap.err


# ---- checkpoint order ----------------------------------------------------------------------------
def test_checkpoints_order_by_epoch_number_past_9999(tmp_path):
    d = tmp_path / "checkpoints"
    for epoch in (9998, 9999, 10000, 10001):
        checkpoint.save(str(d), epoch, {"params/w": np.full(2, epoch, np.float32)},
                        {"epoch": epoch, "history": [{"epoch": e} for e in range(1, epoch + 1)], "config": {}})
    assert sorted(p.name for p in d.iterdir()) == ["epoch-10000.ckpt", "epoch-10001.ckpt"]
    newest = checkpoint.latest(str(d))
    assert newest.meta["epoch"] == 10001 and len(newest.meta["history"]) == 10001


# ---- extending a finished run ------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "exponential"])
def test_a_finished_run_extends_for_every_schedule(schedule, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--schedule", schedule, epochs=2) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    finished_line = capsys.readouterr().out
    assert "is finished: test accuracy" in finished_line and "after 2 epochs, all 2 done" in finished_line
    assert main(["train", "--resume", str(run), "--epochs", "4", "--quiet"]) == 0
    cap = capsys.readouterr()
    assert f"resuming {run} at epoch 3 of 4 (from checkpoints/epoch-0002.ckpt)" in cap.err
    assert "after 4 epochs" in cap.out
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2, 3, 4]
    assert json.loads((run / "config.json").read_text())["config"]["epochs"] == 4
    trainer = Trainer.from_run(str(run))
    lr = float(np.asarray(trainer.optimizer.lr_scheduler.current_lrs.value[0]))
    expected = {"constant": 1e-2, "step": 1e-2, "exponential": 1e-2 * 0.5 ** 4,
                "cosine": 0.0}[schedule]            # cosine: stretched to end at 0 after epoch 4
    assert lr == pytest.approx(expected, abs=1e-9), (schedule, lr)


def test_cosine_extension_follows_the_new_horizon(tmp_path):
    """Past its old end the cosine runs over the new horizon: epoch e of N has lr0 (1 + cos(pi e / N)) / 2."""
    run = tmp_path / "run"
    Trainer(TrainConfig(epochs=2, out=str(run), quiet=True, train_subset=64, test_subset=32, hidden=[8],
                        steps=5)).fit()
    trainer = Trainer(TrainConfig(epochs=5, out=str(run), quiet=True, train_subset=64, test_subset=32, hidden=[8],
                                  steps=5), resume=True)
    lr = float(np.asarray(trainer.optimizer.lr_scheduler.current_lrs.value[0]))
    assert lr == pytest.approx(1e-2 * (1 + np.cos(np.pi * 2 / 5)) / 2, rel=1e-6)


# ---- signals --------------------------------------------------------------------------------------
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_stop_with_one_line_and_keep_the_last_checkpoint(signum, code, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "bsnn", "train", "--epochs", "500", "--train-subset", "256",
                             "--test-subset", "32", "--hidden", "8", "--steps", "5", "--quiet", "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not list((run / "checkpoints").glob("epoch-*.ckpt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("building bsnn's CPU kernel")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("interrupted at epoch ") and lines[0].endswith(f"; resume with: bsnn train --resume {run}")
    newest = checkpoint.latest(str(run / "checkpoints"))
    epoch = int(lines[0].split()[3].rstrip(","))
    assert newest.meta["epoch"] in (epoch - 1, epoch)
    assert not list((run / "checkpoints").glob(".epoch-*"))


def test_an_interrupt_is_not_swallowed_by_except_exception():
    """The handler raises wherever the main thread is; code that catches Exception must not stop it."""
    from bsnn.train import Interrupted
    with pytest.raises(Interrupted):
        try:
            raise Interrupted(signal.SIGINT, 1, 2)
        except Exception:          # what brainstate's per-call state check does
            pass


# ---- config.json ----------------------------------------------------------------------------------
def test_config_json_is_standard_and_eval_works_from_any_directory(tmp_path, monkeypatch, capsys):
    data = tmp_path / "work" / "data"
    data.mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    assert main(["train", "--epochs", "1", *SMALL, "--data-dir", "data", "--out", "run"]) == 0
    raw = (tmp_path / "work" / "run" / "config.json").read_text()
    record = json.loads(raw, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert record["config"]["data_dir"] == str(data) and record["config"]["rate_upper"] is None
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "work/run"]) == 0
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ("[]", "must hold a JSON object with a 'config' table, got list"),
    ("{}", "has no 'config' key"),
    ('{"config": {}}', "'config' has no 'dataset', 'method' setting"),
    ('{"config": []}', "'config' must be a table of settings, got list"),
    ("{not json", "is not valid JSON"),
])
def test_a_config_json_of_the_wrong_shape_names_the_file_and_the_problem(content, message, finished, tmp_path,
                                                                          capsys):
    run = _copy(finished, tmp_path / "run")
    (run / "config.json").write_text(content)
    for argv in (["eval", str(run)], ["plot", str(run)], ["train", "--resume", str(run)]):
        code, cap = _exit_code(capsys, argv)
        assert code == 2, argv
        assert str(run / "config.json") in cap.err and message in cap.err, (argv, cap.err)
        assert "Traceback" not in cap.err


# ---- output paths -------------------------------------------------------------------------------
def test_output_path_problems_are_one_line_with_exit_status_2(tmp_path, capsys, finished):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [(a_file, f"--out {a_file}: it is a file, not a directory"),
             (a_file / "run", f"--out {a_file / 'run'}: cannot create the directory: a part of the path is a file")]
    for out, message in cases:
        code, cap = _exit_code(capsys, ["train", *SMALL, "--out", str(out)])
        assert code == 2 and message in cap.err and cap.err.count("\n") == 1, cap.err
    (tmp_path / "nirdir").mkdir()
    code, cap = _exit_code(capsys, ["export", str(finished), "--nir", str(tmp_path / "nirdir")])
    assert code == 2 and "it is a directory; give a file name" in cap.err and "Traceback" not in cap.err


def test_permission_denied_is_one_line(tmp_path, capsys, monkeypatch):
    """As root no permission is ever denied, so the refusal the kernel would give is planted."""
    real = os.makedirs

    def denied(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "locked")):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", denied)
    code, cap = _exit_code(capsys, ["train", *SMALL, "--out", str(tmp_path / "locked" / "run")])
    assert code == 2 and "cannot create the directory: permission denied" in cap.err, cap.err


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys):
    mnt = tmp_path / "full"
    if os.geteuid() != 0 or not _mount("tmpfs", mnt, "size=64k"):
        pytest.skip("needs root and mount (a small tmpfs)")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)      # fill it up
        try:
            while os.write(fd, b"\0" * 512):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        code, cap = _exit_code(capsys, ["train", *SMALL, "--out", str(mnt / "run")])
        assert code == 2 and "no space left on the device" in cap.err and cap.err.count("\n") == 1, cap.err
        assert sorted(p.name for p in mnt.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# ---- values out of range, memory, version, help --------------------------------------------------
@pytest.mark.parametrize("flag", ["--rate-upper=-5", "--rate-lower=-1", "--rate-upper-strength=-0.1"])
def test_negative_spike_count_bounds_are_refused(flag, tmp_path, capsys):
    code, cap = _exit_code(capsys, ["train", flag, "--out", str(tmp_path / "run")])
    assert code == 2 and "must be a number >= 0" in cap.err
    assert not (tmp_path / "run").exists()


def test_pixels_outside_0_1_from_python_warn():
    ds = bsnn.data.digits()
    loud = bsnn.data.subset(ds, 64, 32, seed=0)._replace(x_train=ds.x_train[:64] * 16)
    with pytest.warns(UserWarning, match=r"holds values in \[0, 16\]; the encoders expect pixels in \[0, 1\]"):
        Trainer(TrainConfig(epochs=1, hidden=[8], steps=5, quiet=True), dataset=loud)


def test_a_run_that_cannot_fit_in_memory_is_refused_before_compiling(tmp_path, capsys):
    start = time.perf_counter()
    code, cap = _exit_code(capsys, ["train", "--steps", "10000000", "--out", str(tmp_path / "run")])
    assert code == 2 and "needs about" in cap.err and "GB" in cap.err and "--remat" in cap.err, cap.err
    assert time.perf_counter() - start < 30
    assert not (tmp_path / "run").exists()


def test_version_and_a_fast_help():
    r = subprocess.run([sys.executable, "-m", "bsnn", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"bsnn {bsnn.__version__}"
    code = ("import sys, time; t = time.perf_counter(); sys.argv = ['bsnn', 'train', '--help']\n"
            "from bsnn.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('jax' in sys.modules, time.perf_counter() - t, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded, seconds = r.stderr.split()[-2:]
    assert loaded == "False", "printing the help imported JAX"
    assert float(seconds) < 1.0
    assert "defaults (a given flag always wins" in r.stdout


# (``import bsnn`` leaving matplotlib's backend alone: tests/test_neurons.py::test_import_changes_no_global_state)


# ---- saving a model from Python ------------------------------------------------------------------
def test_save_and_load_a_model_in_one_call_each(tmp_path, finished):
    import brainunit as u
    import jax
    model = bsnn.SpikingClassifier([8, 6, 3], tau_mem=[10 * u.ms, np.linspace(5, 9, 3) * u.ms], reset="hard",
                                   surrogate="sigmoid", recurrent=True)
    path = bsnn.save_model(model, tmp_path / "model.bsnn")
    again = bsnn.load_model(path)
    x = jax.random.uniform(jax.random.PRNGKey(0), (12, 2, 8))
    a, b = model.run(x), again.run(x)
    np.testing.assert_array_equal(np.asarray(a.v), np.asarray(b.v))
    assert again.arguments["reset"] == "hard" and again.readout == model.readout
    from_run = bsnn.load_model(finished)
    assert from_run.sizes == [64, 8, 10]
    with pytest.raises(ValueError, match="is a directory"):
        bsnn.save_model(model, tmp_path)


def test_a_disk_that_fills_up_mid_run_keeps_the_last_complete_checkpoint(tmp_path, capsys):
    """A 300 kB tmpfs: config.json and two checkpoints (~110 kB each with Adam's state) fit, a third does not."""
    mnt = tmp_path / "small"
    if os.geteuid() != 0 or not _mount("tmpfs", mnt, "size=300k"):
        pytest.skip("needs root and mount (a small tmpfs)")
    try:
        run = mnt / "run"
        code, cap = _exit_code(capsys, ["train", "--epochs", "3", "--train-subset", "64", "--test-subset", "32",
                                        "--steps", "5", "--schedule", "constant", "--quiet", "--out", str(run)])
        assert code == 2, cap.err
        assert cap.err.count("\n") == 1 and "no space left on the device" in cap.err, cap.err
        files = sorted(p.name for p in (run / "checkpoints").iterdir())
        assert files and not [f for f in files if f.startswith(".")], files       # no temporary file left
        newest = checkpoint.latest(str(run / "checkpoints")).meta["epoch"]
        assert newest < 3 and f"cannot write the epoch-{newest + 1} checkpoint" in cap.err, cap.err
        assert f"the last complete checkpoint (epoch {newest}) is kept" in cap.err, cap.err
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
