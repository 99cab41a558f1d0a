"""The bsnn command line: train -> eval -> plot end to end, flags with units, clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bsnn.cli import main

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _last_line(text):
    return [l for l in text.splitlines() if l.strip()][-1]


def test_train_eval_plot_end_to_end(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--dataset", "digits", "--epochs", "3", "--out", out, "--quiet"]) == 0
    trained = _last_line(capsys.readouterr().out)
    acc = float(trained.split()[2])
    assert acc >= 0.95, trained
    assert main(["eval", out]) == 0
    evaluated = _last_line(capsys.readouterr().out)
    assert evaluated.startswith(f"test accuracy {acc:.4f}"), (trained, evaluated)
    last = json.loads(Path(out, "metrics.jsonl").read_text().splitlines()[-1])
    assert f"{last['test_acc']:.4f}" == f"{acc:.4f}"
    assert main(["plot", out]) == 0
    for name in ("learning_curves.png", "raster.png", "membrane.png"):
        png = Path(out, name)
        assert png.exists() and png.stat().st_size > 5000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_units_on_the_command_line(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "--epochs", "1", "--train-subset", "200", "--out", out, "--quiet", "--tau-mem", "0.02s",
            "--tau-syn", "2ms", "--threshold", "1mV,2mV", "--reset", "hard", "--surrogate", "sigmoid,atan",
            "--readout", "spiking", "--loss", "count-ce", "--schedule", "constant",
            "--rate-lower", "1", "--rate-lower-strength", "0.1"]
    assert main(args) == 0
    cfg = json.loads(Path(out, "config.json").read_text())["config"]
    assert cfg["tau_mem"] == "0.02s" and cfg["threshold"] == "1mV,2mV"
    assert cfg["rate_lower"] == 1.0 and cfg["rate_lower_strength"] == 0.1


@pytest.mark.parametrize("args, message", [
    (["--tau-mem", "20mV"], "argument --tau-mem: --tau-mem must be a time (e.g. 20ms), got '20mV', which is a voltage"),
    (["--threshold", "1ms"], "--threshold must be a voltage"),
    (["--dt", "1"], "--dt must be a time with a unit"),
    (["--method", "hebbian"], "argument --method: invalid choice: 'hebbian' (choose from"),
    (["--hidden", "-1"], "--hidden must be a positive integer (or 0 for no hidden layer), got '-1'"),
    (["--lr", "-1"], "--lr must be a positive number, got '-1'"),
    (["--epochs", "two"], "--epochs must be a positive integer, got 'two'"),
    (["--surrogate", "magic"], "--surrogate must be one of"),
    (["--dataset", "cifar"], "argument --dataset: --dataset must be one of digits, mnist, fashion-mnist, synthetic, "
                             "randman, yin-yang, cue-accumulation, shd, ssc or tonic:<NAME> (e.g. tonic:NMNIST), "
                             "got 'cifar'"),
    (["--threshold", "1mV,2mV,3mV"], "--threshold takes one value or one per layer (2)"),
])
def test_bad_flags_are_named(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--out", str(tmp_path / "x"), "--quiet", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "bsnn train" in err


def test_method_choices_list_what_is_implemented(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--method", "nope"])
    assert "'bptt'" in capsys.readouterr().err


def test_existing_run_needs_resume_or_overwrite(tmp_path, capsys):
    out = str(tmp_path / "run")
    base = ["train", "--epochs", "1", "--train-subset", "200", "--out", out, "--quiet", "--schedule", "constant"]
    assert main(base) == 0
    with pytest.raises(SystemExit):
        main(base)
    assert f"use --resume {out} to continue it or --overwrite" in capsys.readouterr().err
    assert main(["train", "--resume", out, "--epochs", "2", "--quiet"]) == 0
    assert len(Path(out, "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["train", "--resume", out, "--lr", "0.5", "--quiet"]) == 2
    assert "lr: checkpoint has 0.01, now 0.5" in capsys.readouterr().err
    assert main(base + ["--overwrite"]) == 0


def test_config_file_with_flag_override(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text('epochs = 1\ntrain_subset = 200\nhidden = [32, 16]\ntau_mem = "15ms"\nlr = 0.005\n')
    out = str(tmp_path / "run")
    assert main(["train", "--config", str(toml), "--lr", "0.002", "--out", out, "--quiet"]) == 0
    cfg = json.loads(Path(out, "config.json").read_text())["config"]
    assert cfg["hidden"] == [32, 16] and cfg["tau_mem"] == "15ms" and cfg["lr"] == 0.002
    toml.write_text("epochz = 1\n")
    with pytest.raises(SystemExit):
        main(["train", "--config", str(toml), "--out", str(tmp_path / "y")])
    assert "unknown config settings ['epochz']" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "bsnn", "train", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--tau-mem" in result.stdout


@pytest.mark.skipif(not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"MNIST IDX files not found in {MNIST_DIR}")
def test_mnist_subset_learns(tmp_path, capsys):
    out = str(tmp_path / "mnist")
    assert main(["train", "--dataset", "mnist", "--data-dir", str(MNIST_DIR), "--train-subset", "4000",
                 "--test-subset", "1000", "--epochs", "1", "--batch-size", "32", "--out", out, "--quiet"]) == 0
    acc = float(_last_line(capsys.readouterr().out).split()[2])
    assert acc > 0.80, acc
