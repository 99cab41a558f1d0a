"""Augmentation and delay lines for binned spike trains ``[N, T, C]`` (SHD and other temporal data).

After Nowotny, Turner & Knight ("Loss shaping enhances exact gradient learning with EventProp
in spiking neural networks", 2022-24; mlGeNN's ``examples/event_prop/shd_delay_shift_blend.py``),
which reach 93.5% on SHD with them:

* ``channel_shift``: each sample's spikes move by one random number of channels in
  ``[-max_shift, max_shift)`` (spikes pushed past the edges are dropped): speakers differ in
  pitch, so the same word sits on neighbouring cochlea channels;
* ``time_shift``: the same along time, in bins (bsnn's addition; 0 in their setting);
* ``blend``: new samples, each from two samples of one class: both are moved toward each
  other by half the difference of their centres of mass (in channel and time), each spike of
  either is kept with probability ``p``, and the two are merged;
* ``delay_lines``: ``n`` copies of the input, copy ``k`` delayed by ``k * delay`` bins (spikes
  pushed past the end are dropped), side by side as ``n * C`` channels: the network sees the
  recent past of every channel at once.

All are NumPy, seeded by the ``numpy.random.Generator`` passed in, and keep spike trains in
[0, 1] (a merged bin holding two spikes counts one).
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_shift", "time_shift", "blend", "delay_lines"]


def _check_trains(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{name} must be binned spike trains [N, T, C], got shape {x.shape}")
    return x


def _non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _shift(x: np.ndarray, offsets: np.ndarray, axis: int) -> np.ndarray:
    """Move sample ``i`` of ``x [N, T, C]`` by ``offsets[i]`` along ``axis`` (1 or 2), zero-filled."""
    out = np.zeros_like(x)
    size = x.shape[axis]
    for i, d in enumerate(offsets):
        d = int(d)
        if abs(d) >= size:
            continue
        src = slice(max(0, -d), size - max(0, d))
        dst = slice(max(0, d), size - max(0, -d))
        if axis == 1:
            out[i, dst] = x[i, src]
        else:
            out[i, :, dst] = x[i, :, src]
    return out


def channel_shift(x, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each sample moved by a random number of channels in ``[-max_shift, max_shift)``."""
    x, max_shift = _check_trains(x), _non_negative_int(max_shift, "max_shift")
    if max_shift == 0:
        return x.copy()
    return _shift(x, rng.integers(-max_shift, max_shift, len(x)), axis=2)


def time_shift(x, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each sample moved by a random number of bins in ``[-max_shift, max_shift)``."""
    x, max_shift = _check_trains(x), _non_negative_int(max_shift, "max_shift")
    if max_shift == 0:
        return x.copy()
    return _shift(x, rng.integers(-max_shift, max_shift, len(x)), axis=1)


def _centre(sample: np.ndarray) -> tuple:
    t, c = np.nonzero(sample)
    w = sample[t, c]
    if w.sum() == 0:
        return 0.0, 0.0
    return float(np.average(t, weights=w)), float(np.average(c, weights=w))


def blend(x, y, n: int, rng: np.random.Generator, *, p: float = 0.5):
    """``n`` new samples ``(x_new [n, T, C], y_new [n])``, each a blend of two samples of one class."""
    x, y = _check_trains(x), np.asarray(y)
    n = _non_negative_int(n, "n")
    if not (isinstance(p, (int, float)) and 0 < p <= 1):
        raise ValueError(f"p (the probability to keep a spike) must be in (0, 1], got {p!r}")
    if y.shape != (len(x),):
        raise ValueError(f"y must hold one label per sample of x ({len(x)}), got shape {y.shape}")
    by_class = {int(k): np.flatnonzero(y == k) for k in np.unique(y)}
    out, labels = np.zeros((n,) + x.shape[1:], x.dtype), np.empty(n, y.dtype)
    for j in range(n):
        a = int(rng.integers(len(x)))
        b = int(rng.choice(by_class[int(y[a])]))
        (ta, ca), (tb, cb) = _centre(x[a]), _centre(x[b])
        xa = _shift(_shift(x[a:a + 1], [int((tb - ta) / 2)], 1), [int((cb - ca) / 2)], 2)[0]
        xb = _shift(_shift(x[b:b + 1], [int((ta - tb) / 2)], 1), [int((ca - cb) / 2)], 2)[0]
        keep_a = (rng.random(xa.shape) < p) & (xa > 0)
        keep_b = (rng.random(xb.shape) < p) & (xb > 0)
        out[j] = np.maximum(np.where(keep_a, xa, 0), np.where(keep_b, xb, 0))
        labels[j] = y[a]
    return out, labels


def delay_lines(x, n: int, delay: int) -> np.ndarray:
    """``[N, T, n * C]``: the input and ``n - 1`` copies delayed by ``delay``, ``2 delay``, ... bins."""
    x = _check_trains(x)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (the number of delay lines) must be a positive integer, got {n!r}")
    delay = _non_negative_int(delay, "delay")
    copies = [_shift(x, np.full(len(x), k * delay), axis=1) if k else x for k in range(int(n))]
    return np.concatenate(copies, axis=2)
