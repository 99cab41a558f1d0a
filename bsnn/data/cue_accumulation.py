"""Evidence (cue) accumulation: the memory task of Bellec et al. 2020 for recurrent adaptive networks.

Construction (Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass 2020, "A solution
to the learning dilemma for recurrent networks of spiking neurons", Nat. Commun. 11: 3625,
Fig. 3; after Morcos & Harvey 2016). The input has four populations of ``n_per_group``
neurons: left cues, right cues, the recall cue, and background noise. A trial presents
``n_cues`` cues, each ``cue_ms`` long and ``spacing_ms`` apart (onset to onset), on a side
drawn left or right with probability 1/2 each; during a cue its side's population fires at
``cue_rate``. After the last cue's window, a ``delay_ms`` delay; then the recall population
fires at ``cue_rate`` for ``recall_ms``. The noise population fires at ``noise_rate`` for the
whole trial. The label is the side that got more cues (0 left, 1 right; ``n_cues`` odd, so
there are no ties): the network has to count the cues and hold the count over the delay.

The trial is binned at ``dt_ms`` (1 ms in the paper); a neuron spikes in a bin with
probability ``rate * dt`` (at most one spike per bin). Everything is drawn from
``numpy.random.default_rng(seed)``. ``cue_accumulation_trials`` also returns each trial's cue
sides, from which the labels are computed.
"""

from __future__ import annotations

import numpy as np

from bsnn.data.base import Dataset, check_dataset

__all__ = ["cue_accumulation", "cue_accumulation_trials", "GROUPS", "SETTINGS"]

#: the settings of ``cue_accumulation_trials`` that ``cue_accumulation`` passes on
SETTINGS = ("n_cues", "n_per_group", "cue_ms", "spacing_ms", "delay_ms", "recall_ms", "cue_rate", "noise_rate",
            "dt_ms")

#: the four input populations, in order of their neuron indices
GROUPS = ("left", "right", "recall", "noise")


def _positive(value, name: str, integer: bool = False):
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or not value > 0:
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}, got {value!r}")
    return value


def cue_accumulation_trials(n_trials: int, *, n_cues: int = 7, n_per_group: int = 10, cue_ms: float = 100.0,
                            spacing_ms: float = 150.0, delay_ms: float = 1050.0, recall_ms: float = 150.0,
                            cue_rate: float = 40.0, noise_rate: float = 10.0, dt_ms: float = 1.0, seed: int = 0):
    """``(spikes [n, T, 4 * n_per_group] float32, cues [n, n_cues] int32 (0 left, 1 right), labels [n])``.

    Rates in Hz, times in ms. See the module docstring.
    """
    _positive(n_trials, "n_trials", True)
    _positive(n_per_group, "n_per_group", True)
    if isinstance(n_cues, bool) or not isinstance(n_cues, (int, np.integer)) or n_cues < 1 or n_cues % 2 == 0:
        raise ValueError(f"n_cues must be a positive odd integer (the majority side is the label), got {n_cues!r}")
    for name, value in (("cue_ms", cue_ms), ("spacing_ms", spacing_ms), ("recall_ms", recall_ms), ("dt_ms", dt_ms),
                        ("cue_rate", cue_rate)):
        _positive(value, name)
    for name, value in (("delay_ms", delay_ms), ("noise_rate", noise_rate)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value < 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if cue_ms > spacing_ms:
        raise ValueError(f"cue_ms ({cue_ms}) must not exceed spacing_ms ({spacing_ms}): cues would overlap")
    for name, rate in (("cue_rate", cue_rate), ("noise_rate", noise_rate)):
        if rate * dt_ms / 1000.0 > 1:
            raise ValueError(f"{name} {rate} Hz at dt_ms {dt_ms} is more than one spike per bin; use a smaller dt_ms")
    bins = lambda ms: int(round(ms / dt_ms))   # noqa: E731
    cue_len, spacing, recall_len = bins(cue_ms), bins(spacing_ms), bins(recall_ms)
    recall_start = (n_cues - 1) * spacing + cue_len + bins(delay_ms)
    T = recall_start + recall_len
    rng = np.random.default_rng(seed)
    cues = rng.integers(0, 2, (n_trials, n_cues)).astype(np.int32)
    rate = np.zeros((n_trials, T, len(GROUPS)))
    rate[:, :, 3] = noise_rate
    for k in range(n_cues):
        window = slice(k * spacing, k * spacing + cue_len)
        for side in (0, 1):
            rate[cues[:, k] == side, window, side] = cue_rate
    rate[:, recall_start:, 2] = cue_rate
    p = np.repeat(rate, n_per_group, axis=2) * (dt_ms / 1000.0)
    spikes = (rng.random(p.shape) < p).astype(np.float32)
    labels = (cues.sum(1) * 2 > n_cues).astype(np.int32)
    return spikes, cues, labels


def cue_accumulation(n_train: int = 2048, n_test: int = 512, *, seed: int = 0, **settings) -> Dataset:
    """The cue-accumulation task as temporal samples ``[N, T, 4 * n_per_group]`` (two classes).

    ``settings`` are ``cue_accumulation_trials``' (``n_cues``, ``delay_ms``, ``dt_ms``, ...). With
    the paper's defaults (dt 1 ms) a trial is 2250 steps; ``dt_ms=10`` gives 225.
    """
    _positive(n_train, "n_train", True)
    _positive(n_test, "n_test", True)
    spikes, _, labels = cue_accumulation_trials(n_train + n_test, seed=seed, **settings)
    return check_dataset(Dataset("cue-accumulation", spikes[:n_train], labels[:n_train], spikes[n_train:],
                                 labels[n_train:], 2, None, True))
