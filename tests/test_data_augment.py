"""Augmentation and delay lines on binned spike trains, against loop references and invariants."""

import numpy as np
import pytest

from bsnn.data import augment


def _trains(n=6, T=20, C=12, seed=0):
    return (np.random.default_rng(seed).random((n, T, C)) < 0.2).astype(np.float32)


def _reference_shift(sample, d, axis):
    out = np.zeros_like(sample)
    for t, c in zip(*np.nonzero(sample)):
        t2, c2 = (t + d, c) if axis == 1 else (t, c + d)
        if 0 <= t2 < sample.shape[0] and 0 <= c2 < sample.shape[1]:
            out[t2, c2] = sample[t, c]
    return out


@pytest.mark.parametrize("fn, axis", [(augment.channel_shift, 2), (augment.time_shift, 1)])
def test_shifts_move_every_spike_by_one_offset_per_sample(fn, axis):
    x = _trains()
    shifted = fn(x, 5, np.random.default_rng(1))
    offsets = np.random.default_rng(1).integers(-5, 5, len(x))          # the draws fn makes
    for i, d in enumerate(offsets):
        np.testing.assert_array_equal(shifted[i], _reference_shift(x[i], int(d), axis))
    np.testing.assert_array_equal(fn(x, 0, np.random.default_rng(1)), x)
    assert shifted.dtype == x.dtype and shifted.shape == x.shape


def test_blend_merges_two_samples_of_one_class_moved_together():
    x, y = _trains(8, seed=2), np.array([0, 1, 0, 1, 2, 2, 0, 1])
    new, labels = augment.blend(x, y, 20, np.random.default_rng(3), p=1.0)
    assert new.shape == (20,) + x.shape[1:] and set(np.unique(new)) <= {0.0, 1.0}
    for j in range(20):          # with p = 1 a blend holds at most the spikes of two same-class samples
        same = x[y == labels[j]]
        assert new[j].sum() <= 2 * same.sum(axis=(1, 2)).max()
    # a sample blended with itself (the only one of its class) is itself, thinned by p
    solo_x, solo_y = x[:1], np.array([5])
    kept, _ = augment.blend(solo_x, solo_y, 1, np.random.default_rng(4), p=1.0)
    np.testing.assert_array_equal(kept[0], solo_x[0])
    half, _ = augment.blend(np.ones((1, 50, 50), np.float32), solo_y, 1, np.random.default_rng(5), p=0.5)
    assert 0.65 < half.mean() < 0.85                               # 1 - (1 - p)^2 = 0.75


def test_delay_lines_stack_delayed_copies():
    x = _trains(3, T=10, C=4)
    d = augment.delay_lines(x, 3, 2)
    assert d.shape == (3, 10, 12)
    np.testing.assert_array_equal(d[:, :, :4], x)
    np.testing.assert_array_equal(d[:, 2:, 4:8], x[:, :-2])
    np.testing.assert_array_equal(d[:, 4:, 8:], x[:, :-4])
    assert not d[:, :2, 4:8].any() and not d[:, :4, 8:].any()


@pytest.mark.parametrize("call, message", [
    (lambda: augment.channel_shift(np.zeros((2, 3)), 1, np.random.default_rng()), "binned spike trains"),
    (lambda: augment.time_shift(np.zeros((1, 2, 3)), -1, np.random.default_rng()), "max_shift must be an integer"),
    (lambda: augment.blend(np.zeros((2, 2, 2)), [0, 1], 1, np.random.default_rng(), p=0), "p \\(the probability"),
    (lambda: augment.blend(np.zeros((2, 2, 2)), [0], 1, np.random.default_rng()), "one label per sample"),
    (lambda: augment.delay_lines(np.zeros((1, 2, 3)), 0, 1), "n \\(the number of delay lines\\)"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- through the trainer and the command line ----------------------------------------------------
def test_trainer_augments_each_epoch_reproducibly_and_adds_delay_lines(tmp_path):
    from bsnn import data
    from bsnn.config import TrainConfig
    from bsnn.train import Trainer
    ds = data.randman(n_classes=3, n_samples=20, n_steps=20)
    cfg = TrainConfig(dataset="randman", encoder="events", hidden=[8], epochs=1, batch_size=8, quiet=True,
                      out=str(tmp_path / "run"), delay_lines=[2, 3],
                      augment={"channel_shift": 3, "time_shift": 2, "blend": 0.5, "blend_n": 10})
    trainer = Trainer(cfg, dataset=ds)
    assert trainer.dataset.x_train.shape == (48 + 10, 20, 40) and trainer.dataset.x_test.shape == (12, 20, 40)
    assert trainer.model.layers[0].n_in == 40
    np.testing.assert_array_equal(trainer.dataset.x_test[:, :, :20], ds.x_test)        # delays, no shifts
    e0, e0_again, e1 = trainer._epoch_inputs(0), trainer._epoch_inputs(0), trainer._epoch_inputs(1)
    np.testing.assert_array_equal(e0, e0_again)
    assert not np.array_equal(e0, e1) and not np.array_equal(e0, trainer.dataset.x_train)
    assert trainer.fit()[-1]["epoch"] == 1


@pytest.mark.parametrize("args, message", [
    (["--augment", "channel_shift=4"], "--augment needs temporal samples [N, T, C] (e.g. --dataset shd or "
                                       "randman), but the samples of --dataset digits are static"),
    (["--dataset", "randman", "--encoder", "events", "--augment", "shift=4"],
     "--augment has no option 'shift'; its options are channel_shift, time_shift, blend, blend_n"),
    (["--dataset", "randman", "--encoder", "events", "--augment", "blend=2"], "--augment blend (the probability"),
    (["--delay-lines", "3"], "--delay-lines takes N,BINS"),
])
def test_bad_augmentation_is_refused_before_anything_is_written(tmp_path, capsys, args, message):
    from bsnn.cli import main
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        main(["train", *args, "--out", str(out), "--quiet"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not out.exists()
