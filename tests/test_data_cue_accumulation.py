"""Cue accumulation (Bellec et al. 2020): every population fires only in its windows, at its rate, and
the label is the majority of the cue sides."""

import numpy as np
import pytest

from bsnn import data
from bsnn.data.cue_accumulation import cue_accumulation_trials


def test_populations_fire_in_their_windows_at_their_rates():
    n, dt = 400, 5.0
    spikes, cues, labels = cue_accumulation_trials(n, dt_ms=dt, seed=3)
    cue, spacing, delay, recall = 20, 30, 210, 30                    # the defaults in 5 ms bins
    T = 6 * spacing + cue + delay + recall
    assert spikes.shape == (n, T, 40) and set(np.unique(spikes)) <= {0.0, 1.0}
    np.testing.assert_array_equal(labels, (cues.sum(1) >= 4).astype(np.int32))
    left, right, recall_pop, noise = (spikes[:, :, 10 * g:10 * (g + 1)] for g in range(4))
    expected = np.zeros((n, T, 2))                                    # where each side's cue is on
    for k in range(7):
        for side in (0, 1):
            expected[cues[:, k] == side, k * spacing:k * spacing + cue, side] = 1
    for side, pop in ((0, left), (1, right)):
        on = expected[:, :, side] == 1
        assert pop[~on].sum() == 0                                    # silent outside its cues
        rate = pop[on].mean() / (dt / 1000)
        assert abs(rate - 40) < 2, rate                               # 40 Hz during its cues
    assert recall_pop[:, :T - recall].sum() == 0
    assert abs(recall_pop[:, T - recall:].mean() / (dt / 1000) - 40) < 2
    assert abs(noise.mean() / (dt / 1000) - 10) < 0.5                 # 10 Hz throughout


def test_dataset_is_seeded_and_balanced():
    ds = data.load("cue-accumulation", dt_ms=10, n_train=512, n_test=128)
    assert ds.summary() == "cue-accumulation: 512 train / 128 test samples, T=220, D=40, 2 classes"
    again = data.load("cue-accumulation", dt_ms=10, n_train=512, n_test=128)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    assert 0.4 < ds.y_train.mean() < 0.6
    other = data.load("cue-accumulation", dt_ms=10, n_train=512, n_test=128, seed=1)
    assert not np.array_equal(ds.x_train, other.x_train)


@pytest.mark.parametrize("options, message", [
    (dict(n_cues=6), "n_cues must be a positive odd integer"),
    (dict(cue_ms=200), "cue_ms \\(200\\) must not exceed spacing_ms \\(150.0\\)"),
    (dict(cue_rate=400, dt_ms=5), "cue_rate 400 Hz at dt_ms 5 is more than one spike per bin"),
    (dict(delay_ms=-1), "delay_ms must be a number >= 0"),
    (dict(cues=3), "dataset cue-accumulation has no option 'cues'; its options are n_train, n_test, seed, n_cues"),
])
def test_bad_settings_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        data.load("cue-accumulation", n_train=4, n_test=2, **options)
