"""Random manifolds: the construction against a loop transcription of its formula, the event structure, seeding, errors."""

import numpy as np
import pytest

from bsnn import data
from bsnn.data import random_manifolds as rm


def _loop_reference(params, x, alpha):
    """The randman formula term by term: per unit, the product over dimensions of 1-d Fourier series."""
    n_units, dim, _, terms = params.shape
    out = np.ones((len(x), n_units))
    for u in range(n_units):
        for j in range(dim):
            series = np.zeros(len(x))
            for i in range(terms):
                a, b, c = params[u, j, :, i]
                series += a * (1.0 / (i + 1) ** alpha) * np.sin(2 * np.pi * (i * x[:, j] * b + c))
            out[:, u] *= series
    return out


def test_manifold_matches_the_formula_term_by_term():
    rng = np.random.default_rng(0)
    params = rm._manifold(rng, n_units=5, dim=2, alpha=2.0, prec=1e-2)
    assert params.shape == (5, 2, 3, 10) and np.all(params[:, :, 0, 0] == 0)     # F = ceil(0.01^-1/2) = 10
    x = rng.uniform(0, 1, (7, 2))
    np.testing.assert_allclose(rm._evaluate(params, x, 2.0), _loop_reference(params, x, 2.0), rtol=1e-12, atol=1e-14)


def test_every_unit_fires_once_per_round_and_classes_are_balanced():
    times, units, labels = data.randman_events(n_classes=4, n_units=6, n_samples=50, n_spikes=2, n_steps=40,
                                               step_frac=0.5, seed=3)
    assert times.shape == units.shape == (200, 12) and labels.shape == (200,)
    assert np.all(np.bincount(labels) == 50)
    assert np.all(units == np.tile(np.arange(6), 2))
    assert times.min() >= 0 and times.max() <= 20 + 1e-9
    for k in range(4):          # per class, each coordinate is min-max scaled over the class's samples
        t = times[labels == k]
        np.testing.assert_allclose(t.min(0), 0.0, atol=1e-9)
        np.testing.assert_allclose(t.max(0), 20.0, rtol=1e-4)     # (max - min) / (max - min + 1e-7)

    ds = data.randman(n_classes=4, n_units=6, n_samples=50, n_steps=40, seed=3)
    assert ds.temporal and ds.x_train.shape[1:] == (40, 6) and len(ds.y_train) + len(ds.y_test) == 200
    assert np.all(ds.x_train.sum(1) == 1.0)                       # one spike per unit: counts say nothing
    assert set(np.unique(ds.x_train)) <= {0.0, 1.0}


def test_seeded_and_classes_differ():
    a, b = data.randman(seed=1, n_samples=20), data.randman(seed=1, n_samples=20)
    c = data.randman(seed=2, n_samples=20)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    # the classes' mean spike times differ: the label is in the timing
    times, _, labels = data.randman_events(n_classes=3, n_units=8, n_samples=200, seed=0)
    means = np.stack([times[labels == k].mean(0) for k in range(3)])
    assert np.abs(means[0] - means[1]).max() > 1.0


def test_by_name_and_errors():
    assert data.load("randman", n_samples=10).name == "randman"
    for kwargs, message in [(dict(n_units=0), "n_units must be a positive integer"),
                            (dict(alpha=-1), "alpha"), (dict(step_frac=1.5), "step_frac must be in"),
                            (dict(test_fraction=1.0), "test_fraction must be in")]:
        with pytest.raises(ValueError, match=message):
            data.randman(**kwargs)
