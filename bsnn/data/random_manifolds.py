"""Random manifolds ("randman", Zenke & Vogels 2021): a seeded task whose classes differ only in spike timing.

Construction (Zenke & Vogels 2021, "The remarkable robustness of surrogate gradient learning
for instilling complex function in spiking neural networks", Neural Computation 33; their
``randman`` package and its spiking-dataset notebook). Each class is a smooth random map from
the unit cube ``[0, 1]^d`` (``d = dim_manifold``) into ``n_units`` spike times per spike
round. Coordinate ``k`` of one map is a product over the intrinsic dimensions ``j`` of random
Fourier series whose power falls off as ``f^-alpha`` (``alpha``: the smoothness)::

    f_k(x) = prod_j  sum_{i=0}^{F-1}  a_kji (i+1)^-alpha  sin(2 pi (i x_j b_kji + c_kji))

with ``a, b, c ~ U(0, 1)``, ``a_kj0 = 0`` (no offset), and ``F = min(ceil(prec^(-1/alpha)), 1000)``
terms. A sample of a class draws ``x ~ U([0, 1]^d)`` and evaluates the class's map; each
coordinate is min-max scaled over the class's samples to ``[0, 1]`` and read as the time of
one spike of input unit ``k``, at ``t = value * n_steps * step_frac`` (binned to the step
``floor(t)``, the last step for ``t = n_steps``). With ``n_spikes > 1`` each unit fires once per
spike round, each round its own map. Every unit fires the same number of spikes in every
sample, so counts say nothing: the information is in the relative timing. The samples of all
classes are shuffled and split; ``seed`` fixes everything.
"""

from __future__ import annotations

import numpy as np

from bsnn.data.base import Dataset, check_dataset

__all__ = ["randman", "randman_events"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _manifold(rng, n_units: int, dim: int, alpha: float, prec: float):
    """The coefficients ``[n_units, dim, 3, F]`` of one random smooth map."""
    terms = int(min(np.ceil(prec ** (-1.0 / alpha)), 1000))
    params = rng.uniform(0.0, 1.0, (n_units, dim, 3, terms))
    params[:, :, 0, 0] = 0.0
    return params


def _evaluate(params, x, alpha: float):
    """``f(x)``: ``x [S, dim]`` -> ``[S, n_units]``."""
    terms = params.shape[-1]
    i = np.arange(terms, dtype=np.float64)
    weight = 1.0 / (i + 1.0) ** alpha                                       # [F]
    a, b, c = params[:, :, 0], params[:, :, 1], params[:, :, 2]            # [U, dim, F]
    # phase[s, u, j, i] = 2 pi (i x[s, j] b[u, j, i] + c[u, j, i])
    phase = 2 * np.pi * (i * x[:, None, :, None] * b[None] + c[None])
    series = np.sum(a[None] * weight * np.sin(phase), axis=-1)            # [S, U, dim]
    return np.prod(series, axis=-1)


def randman_events(n_classes: int = 10, n_units: int = 20, n_samples: int = 1000, *, dim_manifold: int = 2,
                   alpha: float = 2.0, n_spikes: int = 1, n_steps: int = 50, step_frac: float = 0.5,
                   prec: float = 1e-3, seed: int = 0):
    """The events of a randman task: ``(times [N, n_spikes * n_units], units [...], labels [N])``.

    ``times`` in steps (floats in ``[0, n_steps * step_frac]``), ``units`` the input unit of
    each event; ``n_samples`` per class, shuffled. See the module docstring.
    """
    n_classes, n_units = _positive_int(n_classes, "n_classes"), _positive_int(n_units, "n_units")
    n_samples, n_spikes = _positive_int(n_samples, "n_samples"), _positive_int(n_spikes, "n_spikes")
    dim_manifold, n_steps = _positive_int(dim_manifold, "dim_manifold"), _positive_int(n_steps, "n_steps")
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"alpha (the smoothness) must be a positive number, got {alpha!r}")
    if not (isinstance(step_frac, (int, float)) and 0 < step_frac <= 1):
        raise ValueError(f"step_frac must be in (0, 1], got {step_frac!r}")
    if not (isinstance(prec, (int, float)) and 0 < prec < 1):
        raise ValueError(f"prec must be in (0, 1), got {prec!r}")
    rng = np.random.default_rng(seed)
    times, labels = [], []
    for k in range(n_classes):
        x = rng.uniform(0.0, 1.0, (n_samples, dim_manifold))
        rounds = []
        for _ in range(n_spikes):
            y = _evaluate(_manifold(rng, n_units, dim_manifold, alpha, prec), x, alpha)
            lo, hi = y.min(0), y.max(0)
            rounds.append((y - lo) / (hi - lo + 1e-7))
        times.append(np.concatenate(rounds, axis=1) * n_steps * step_frac)
        labels.append(np.full(n_samples, k, np.int32))
    times, labels = np.concatenate(times), np.concatenate(labels)
    order = rng.permutation(len(labels))
    units = np.tile(np.arange(n_units), n_spikes)
    return times[order], np.broadcast_to(units, times.shape).copy(), labels[order]


def randman(n_classes: int = 10, n_units: int = 20, n_samples: int = 1000, *, dim_manifold: int = 2,
            alpha: float = 2.0, n_spikes: int = 1, n_steps: int = 50, step_frac: float = 0.5,
            test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A randman classification task binned to spike trains ``[N, n_steps, n_units]`` (0/1 float32).

    Args:
      n_classes: number of classes (manifolds), 10.
      n_units: input units (the embedding dimension), 20.
      n_samples: samples per class, 1000; ``test_fraction`` of them go to the test split.
      dim_manifold: intrinsic dimension ``d`` of each manifold, 2.
      alpha: smoothness, the power-spectrum fall-off (2; smaller is rougher, harder).
      n_spikes: spikes per unit and sample (1).
      n_steps: time steps of a sample (50); spikes fall in the first ``step_frac`` of them.
      seed: fixes the manifolds, the samples, the shuffle and the split.
    """
    if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    times, units, labels = randman_events(n_classes, n_units, n_samples, dim_manifold=dim_manifold, alpha=alpha,
                                          n_spikes=n_spikes, n_steps=n_steps, step_frac=step_frac, seed=seed)
    steps = np.minimum(np.floor(times).astype(np.int64), n_steps - 1)
    x = np.zeros((len(labels), n_steps, n_units), np.float32)
    rows = np.repeat(np.arange(len(labels)), times.shape[1])
    x[rows, steps.ravel(), units.ravel()] = 1.0            # two rounds in one bin are one spike
    n_test = max(1, int(round(test_fraction * len(labels))))
    return check_dataset(Dataset("randman", x[n_test:], labels[n_test:], x[:n_test], labels[:n_test],
                                 int(n_classes), None, True))
