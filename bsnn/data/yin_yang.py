"""The Yin-Yang dataset (Kriener, Göltz & Petrovici 2021), generated from its published construction.

Construction (Kriener et al. 2021, "The Yin-Yang dataset", arXiv:2102.08211, and their
``yin_yang_data_set`` repository's ``YinYangDataset``). A point ``(x, y)`` is drawn uniformly
from the square ``[0, 2 r_big]^2`` and kept only inside the big circle of radius ``r_big``
around ``(r_big, r_big)``. Its class, with ``d_l`` and ``d_r`` its distances to the left and
right eye centres ``(r_big / 2, r_big)`` and ``(3 r_big / 2, r_big)``:

* **dot** (2) if ``d_l < r_small`` or ``d_r < r_small``;
* else **yin** (1) if ``d_r <= r_small``, or ``r_small < d_l <= r_big / 2``, or
  ``y > r_big`` and ``d_r > r_big / 2``;
* else **yang** (0).

Classes are balanced by rejection sampling: for each sample a goal class is drawn
(``randint(3)``) and points are drawn until one of that class comes up. Each sample is the
four values ``(x, y, 1 - x, 1 - y)``: the mirrored pair lets a network without intrinsic bias
tell a point from its reflection. The random stream is NumPy's ``RandomState(seed)`` called
exactly as the reference does, so ``seed`` 42 / 41 / 40 with 5000 / 1000 / 1000 samples are
the reference's train / validation / test sets (the defaults here: train and test).

For spiking networks the values are spike times (Wunderlich & Pehle 2021; Göltz et al. 2021):
``bsnn``'s ``latency`` encoder with ``threshold=0`` fires each input once, at step
``round((1 - v) (span - 1))``. ``bias=True`` adds a fifth input of value 1, which fires at the
first step: the reference bias spike of mlGeNN's ``generate_yin_yang_dataset``.
"""

from __future__ import annotations

import numpy as np

from bsnn.data.base import Dataset, check_dataset

__all__ = ["yin_yang", "yin_yang_class", "yin_yang_points", "CLASS_NAMES"]

#: class ids as the reference numbers them
CLASS_NAMES = ("yang", "yin", "dot")


def yin_yang_class(x, y, r_small: float = 0.1, r_big: float = 0.5) -> np.ndarray:
    """The class of each point ``(x, y)`` (arrays of one shape): 0 yang, 1 yin, 2 dot."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d_right = np.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    d_left = np.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    yin = (d_right <= r_small) | ((d_left > r_small) & (d_left <= 0.5 * r_big)) | ((y > r_big) & (d_right > 0.5 * r_big))
    dot = (d_right < r_small) | (d_left < r_small)
    return np.where(dot, 2, yin.astype(np.int64)).astype(np.int32)


def _check_radii(r_small, r_big) -> None:
    for name, value in (("r_small", r_small), ("r_big", r_big)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not r_small < 0.5 * r_big:
        raise ValueError(f"r_small must be below r_big / 2 (the eyes lie inside the halves), got "
                         f"r_small={r_small}, r_big={r_big}")


def yin_yang_points(n_samples: int, *, seed: int = 42, r_small: float = 0.1, r_big: float = 0.5):
    """``(points [n, 2] float64, labels [n] int32)``: the reference's rejection sampling, draw for draw."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    _check_radii(r_small, r_big)
    rng = np.random.RandomState(seed)
    points, labels = np.empty((n_samples, 2)), np.empty(n_samples, np.int32)
    for i in range(n_samples):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2.0 * r_big
            if np.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
                continue
            if int(yin_yang_class(x, y, r_small, r_big)) == goal:
                break
        points[i], labels[i] = (x, y), goal
    return points, labels


def _features(points, r_big: float, bias: bool) -> np.ndarray:
    x, y = points[:, 0] / (2 * r_big), points[:, 1] / (2 * r_big)       # [0, 1] for any r_big
    columns = [x, y, 1.0 - x, 1.0 - y] + ([np.ones_like(x)] if bias else [])
    return np.stack(columns, axis=1).astype(np.float32)


def yin_yang(n_train: int = 5000, n_test: int = 1000, *, train_seed: int = 42, test_seed: int = 40,
             bias: bool = False, r_small: float = 0.1, r_big: float = 0.5) -> Dataset:
    """The Yin-Yang classification task: static samples ``[N, 4]`` (``[N, 5]`` with ``bias``) in [0, 1].

    Args:
      n_train, n_test: samples per split (the reference's 5000 train / 1000 test).
      train_seed, test_seed: the ``RandomState`` seeds of the splits (reference: 42 train,
        41 validation, 40 test).
      bias: add a constant fifth input (1.0: the first spike under the ``latency`` code).
      r_small, r_big: the radii of the eyes and of the whole figure (0.1, 0.5).

    With the default radii the values are the reference's ``(x, y, 1 - x, 1 - y)`` exactly.
    """
    if train_seed == test_seed:
        raise ValueError(f"train_seed and test_seed must differ (the splits would be the same points), "
                         f"got {train_seed} for both")
    if not isinstance(bias, bool):
        raise ValueError(f"bias must be true or false, got {bias!r}")
    train, y_train = yin_yang_points(n_train, seed=train_seed, r_small=r_small, r_big=r_big)
    test, y_test = yin_yang_points(n_test, seed=test_seed, r_small=r_small, r_big=r_big)
    return check_dataset(Dataset("yin-yang", _features(train, r_big, bias), y_train, _features(test, r_big, bias),
                                 y_test, 3, None, False))
