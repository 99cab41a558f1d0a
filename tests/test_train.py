"""Trainer: learning on digits, metrics and checkpoints on disk, exact resume, divergence."""

import json
import os

import brainstate
import numpy as np
import pytest

from bsnn import checkpoint
from bsnn.config import TrainConfig
from bsnn.train import ConfigMismatch, Trainer, TrainingDiverged


def _params(trainer):
    return {k: np.asarray(v) for k, v in checkpoint.state_arrays(trainer.model, trainer.optimizer).items()}


def test_digits_learns_and_writes_metrics(tmp_path):
    cfg = TrainConfig(epochs=3, out=str(tmp_path), quiet=True)
    history = Trainer(cfg).fit()
    assert history[-1]["test_acc"] >= 0.95
    lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2, 3]
    for key in ("epoch", "train_loss", "train_acc", "test_acc", "epoch_time_s", "samples_per_s", "rate_hz"):
        assert key in lines[-1]
    assert len(lines[-1]["rate_hz"]) == 2 and lines[-1]["rate_hz"][0] > 0
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["config"]["epochs"] == 3 and record["versions"]["jax"]
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch-0002.ckpt", "epoch-0003.ckpt"]


def test_resume_gives_bitwise_identical_parameters(tmp_path):
    full = Trainer(TrainConfig(epochs=3, out=str(tmp_path / "full"), quiet=True, encoder="poisson"))
    full.fit()
    stopped = Trainer(TrainConfig(epochs=3, out=str(tmp_path / "split"), quiet=True, encoder="poisson"))
    stopped.fit(stop_after=1)
    del stopped
    brainstate.random.seed(123)   # resuming must not depend on the global RNG state
    resumed = Trainer(TrainConfig(epochs=3, out=str(tmp_path / "split"), quiet=True, encoder="poisson"),
                      resume=True)
    assert resumed.epoch == 1
    resumed.fit()
    a, b = _params(full), _params(resumed)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert [h["test_acc"] for h in full.history] == [h["test_acc"] for h in resumed.history]
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(l)["epoch"] for l in lines] == [1, 2, 3]


def test_resume_refuses_a_different_config(tmp_path):
    Trainer(TrainConfig(epochs=1, out=str(tmp_path), quiet=True, train_subset=200)).fit()
    with pytest.raises(ConfigMismatch) as err:
        Trainer(TrainConfig(epochs=1, out=str(tmp_path), quiet=True, train_subset=200, lr=0.5), resume=True)
    assert "lr: checkpoint has 0.01, now 0.5" in str(err.value)
    # more epochs extend the run, with the cosine schedule too (tests/test_rundir.py checks the rates)
    extended = Trainer(TrainConfig(epochs=2, out=str(tmp_path), quiet=True, train_subset=200), resume=True)
    assert extended.epoch == 1 and not extended.finished
    resumed = Trainer(TrainConfig(epochs=1, out=str(tmp_path), quiet=True, train_subset=200), resume=True)
    assert resumed.epoch == 1 and resumed.finished


def test_corrupt_checkpoint_is_reported_and_skipped(tmp_path, capsys):
    Trainer(TrainConfig(epochs=2, out=str(tmp_path), quiet=True, train_subset=200)).fit()
    newest = tmp_path / "checkpoints" / "epoch-0002.ckpt"
    data = bytearray(newest.read_bytes())
    data[100] ^= 0xFF
    newest.write_bytes(bytes(data))
    resumed = Trainer(TrainConfig(epochs=2, out=str(tmp_path), quiet=True, train_subset=200), resume=True)
    assert resumed.epoch == 1
    assert "epoch-0002.ckpt is corrupted (SHA-256 checksum mismatch)" in capsys.readouterr().err
    (tmp_path / "checkpoints" / "epoch-0001.ckpt").write_bytes(b"short")
    with pytest.raises(checkpoint.CheckpointError, match="epoch-0001.ckpt is truncated"):
        Trainer(TrainConfig(epochs=2, out=str(tmp_path), quiet=True, train_subset=200), resume=True)


def test_divergence_stops_with_epoch_and_step_and_keeps_checkpoint(tmp_path):
    cfg = TrainConfig(epochs=3, out=str(tmp_path), quiet=True, train_subset=300)
    Trainer(cfg).fit(stop_after=1)
    before = (tmp_path / "checkpoints" / "epoch-0001.ckpt").read_bytes()
    cfg2 = TrainConfig(epochs=3, out=str(tmp_path), quiet=True, train_subset=300)
    trainer = Trainer(cfg2, resume=True)
    trainer.optimizer.lr_scheduler.current_lrs.value = [1e38]  # force divergence on the resumed run
    with pytest.raises(TrainingDiverged) as err:
        trainer.fit()
    assert "epoch 2, step" in str(err.value) and "last good checkpoint (epoch 1)" in str(err.value)
    assert (tmp_path / "checkpoints" / "epoch-0001.ckpt").read_bytes() == before
    assert not (tmp_path / "checkpoints" / "epoch-0002.ckpt").exists()


def test_runs_and_models_saved_before_the_rename_to_remat_still_load():
    """``checkpoint`` (gradient recomputation) became ``remat``; old config.json files and saved models load."""
    from bsnn.config import TrainConfig
    from bsnn.saving import _from_arguments
    assert TrainConfig.from_dict({"checkpoint": True, "epochs": 2}).remat is True
    assert _from_arguments({"sizes": [4, 3], "checkpoint": True}).remat is True
