"""Yin-Yang (Kriener et al. 2021): the class geometry against the published formula, the rejection
sampling draw for draw against a loop transcription of the reference, and the dataset's properties."""

import numpy as np
import pytest

from bsnn import data
from bsnn.data.yin_yang import yin_yang_class, yin_yang_points


def _reference_class(x, y, r_small=0.1, r_big=0.5):
    """The reference's ``which_class``, scalar, as published (yin 1, yang 0, dot 2)."""
    d_right = np.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    d_left = np.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    criterion1 = d_right <= r_small
    criterion2 = d_left > r_small and d_left <= 0.5 * r_big
    criterion3 = y > r_big and d_right > 0.5 * r_big
    is_yin = criterion1 or criterion2 or criterion3
    is_circles = d_right < r_small or d_left < r_small
    if is_circles:
        return 2
    return int(is_yin)


def _reference_dataset(size, seed, r_small=0.1, r_big=0.5):
    """The reference's ``YinYangDataset.__init__`` / ``get_sample`` loop."""
    rng = np.random.RandomState(seed)
    vals, cs = [], []
    for _ in range(size):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2. * r_big
            if np.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
                continue
            c = _reference_class(x, y, r_small, r_big)
            if c == goal:
                break
        vals.append([x, y, 1. - x, 1. - y])
        cs.append(c)
    return np.array(vals), np.array(cs)


@pytest.mark.parametrize("r_small, r_big", [(0.1, 0.5), (0.15, 0.5)])
def test_class_geometry_matches_the_published_formula(r_small, r_big):
    grid = np.linspace(0, 2 * r_big, 81)
    xs, ys = np.meshgrid(grid, grid)
    rng = np.random.default_rng(0)
    xs = np.concatenate([xs.ravel(), rng.uniform(0, 2 * r_big, 2000)])
    ys = np.concatenate([ys.ravel(), rng.uniform(0, 2 * r_big, 2000)])
    expected = [_reference_class(x, y, r_small, r_big) for x, y in zip(xs, ys)]
    np.testing.assert_array_equal(yin_yang_class(xs, ys, r_small, r_big), expected)
    # landmarks: the two eyes are dots, the top middle is yin, the bottom middle is yang
    assert list(yin_yang_class([0.25, 0.75, 0.5, 0.5], [0.5, 0.5, 0.9, 0.1])) == [2, 2, 1, 0]


def test_samples_are_the_reference_draws():
    vals, cs = _reference_dataset(400, seed=42)
    points, labels = yin_yang_points(400, seed=42)
    np.testing.assert_array_equal(points, vals[:, :2])
    np.testing.assert_array_equal(labels, cs)
    ds = data.yin_yang(n_train=400, n_test=50)
    np.testing.assert_allclose(ds.x_train, vals.astype(np.float32), rtol=0, atol=0)
    np.testing.assert_array_equal(ds.y_train, cs)
    np.testing.assert_array_equal(ds.x_test, _reference_dataset(50, seed=40)[0].astype(np.float32))


def test_dataset_properties():
    ds = data.load("yin-yang")
    assert ds.summary() == "yin-yang: 5000 train / 1000 test samples, D=4, 3 classes"
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32 and not ds.temporal
    for x in (ds.x_train, ds.x_test):
        assert 0 <= x.min() and x.max() <= 1
        np.testing.assert_allclose(x[:, 0] + x[:, 2], 1, atol=1e-6)           # mirrored coordinates
        np.testing.assert_allclose(x[:, 1] + x[:, 3], 1, atol=1e-6)
        assert np.all(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) <= 0.5 + 1e-6)  # inside the figure
    counts = np.bincount(ds.y_train, minlength=3) / len(ds.y_train)
    assert np.all(np.abs(counts - 1 / 3) < 0.03), counts                    # balanced by rejection
    assert not np.array_equal(ds.x_train[:1000], ds.x_test)
    again = data.load("yinyang", bias=True, n_train=100, n_test=10)
    assert again.x_train.shape == (100, 5) and np.all(again.x_train[:, 4] == 1)
    np.testing.assert_array_equal(again.x_train[:, :4], ds.x_train[:100])   # seeded


@pytest.mark.parametrize("options, message", [
    (dict(train_seed=1, test_seed=1), "train_seed and test_seed must differ"),
    (dict(n_train=0), "n_samples must be a positive integer, got 0"),
    (dict(r_small=0.3), "r_small must be below r_big / 2"),
    (dict(bias="yes"), "bias must be true or false"),
    (dict(size=10), "dataset yin-yang has no option 'size'; its options are n_train, n_test, train_seed"),
])
def test_bad_settings_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        data.load("yin-yang", **options)
