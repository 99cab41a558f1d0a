"""Losses, read-outs and accuracies on a ``NetworkOutput``.

Every loss is a callable ``loss(out, labels) -> scalar`` (mean over the batch) with a
matching ``loss.predict(out) -> [B]`` class read-out, so a trainer reports the accuracy
of the same read-out the loss trains. ``out.spikes`` and ``out.v`` are ``[T, B, C]``.

| name | loss | read-out (``predict``) |
| --- | --- | --- |
| ``count-ce`` | CE of spike counts as logits | most spikes |
| ``membrane-sum-ce`` | sum over steps of CE of ``v[t]`` (snnTorch tutorial 5) | largest summed membrane |
| ``max-membrane-ce`` | CE of ``max_t v`` | largest peak membrane |
| ``mean-membrane-ce`` | CE of ``mean_t v`` | largest mean membrane |
| ``count-mse`` | MSE of counts against ``on`` (true class) / ``off`` targets | most spikes |
| ``first-spike-ce`` | CE of ``-t_first / tau0`` plus ``alpha (exp(t_label / tau1) - 1)`` | earliest spike |

The three membrane losses take ``last=K``: only the last ``K`` steps count, in the loss and in
its read-out (a recall window, or ``last=1``: the final step), for every method (e-prop and
random feedback send errors only in that window).

Activity regularizers (``RateRegularizer``) add penalties on per-neuron spike counts of
the hidden layers (Zenke & Vogels 2021): ``lower_strength * mean(relu(lower - c)^2)``
pushes silent neurons up and ``upper_strength * mean(relu(c - upper)^2)`` caps busy ones,
with ``c`` each neuron's spike count per sample, averaged over the batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bsnn.models import check_labels
from bsnn.network import NetworkOutput
from bsnn.registry import Registry

__all__ = [
    "Loss", "CountCE", "MembraneSumCE", "MembraneMaxCE", "MembraneMeanCE", "CountMSE",
    "FirstSpikeCE", "RateRegularizer", "Regularized", "LOSSES", "get_loss",
    "first_spike_times", "accuracy", "accuracy_by_count", "accuracy_by_first_spike",
    "accuracy_by_membrane",
]


def _ce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Cross-entropy of ``logits [..., B, C]`` against ``labels [B]``, averaged over the batch."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logp.dtype)
    return -(logp * onehot).sum(-1).mean(-1)


def _check(out: NetworkOutput, labels) -> None:
    """Output shape and labels (shapes are static, so this also runs under jit; values outside jit)."""
    steps, batch, classes = out.v.shape
    if steps < 1 or batch < 1:
        raise ValueError(f"a loss needs at least one step and one sample, got outputs of shape [T, B, C] = "
                         f"{tuple(out.v.shape)}")
    check_labels(labels, batch, classes)


def first_spike_times(out: NetworkOutput) -> jax.Array:
    """``[B, C]`` time (ms) of each output neuron's first spike, ``T * dt`` if it never spikes.

    If the method computed exact (interpolated) times, ``out.first_spike_time``, those
    are used. Otherwise a spike at step ``k`` is at time ``(k + 1) dt`` (the end of the
    step): ``dt * (1 + sum_{t < T-1} prod_{t' <= t} (1 - s[t']))``, differentiable through
    the surrogate derivative of the spikes.
    """
    if out.first_spike_time is not None:
        return out.first_spike_time
    silent_so_far = jnp.cumprod(1.0 - out.spikes, axis=0)
    return out.dt * (1.0 + silent_so_far[:-1].sum(0))


class Loss:
    """Base class: ``__call__(out, labels) -> scalar`` and ``predict(out) -> [B]``."""

    name = "loss"

    def __call__(self, out: NetworkOutput, labels: jax.Array) -> jax.Array:
        raise NotImplementedError

    def predict(self, out: NetworkOutput) -> jax.Array:
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class CountCE(Loss):
    name = "count-ce"

    def __call__(self, out, labels):
        _check(out, labels)
        return _ce(out.spikes.sum(0), labels)

    def predict(self, out):
        return jnp.argmax(out.spikes.sum(0), axis=-1)


class _MembraneLoss(Loss):
    """A loss on the read-out membrane, optionally over the last ``last`` steps only.

    ``last = K`` reads ``v[T - K:]`` (the recall window of a memory task, Bellec et al. 2020;
    ``last = 1``: the final step); ``None`` reads every step. Under jit ``T`` is static, so a
    window longer than the run is refused when the loss is first traced.
    """

    def __init__(self, last: int | None = None):
        if last is not None and (isinstance(last, bool) or not isinstance(last, (int, np.integer)) or last < 1):
            raise ValueError(f"{self.name}: last must be a positive number of steps (the window at the end of the "
                             f"run) or None for all steps, got {last!r}")
        self.last = None if last is None else int(last)

    def window(self, v: jax.Array) -> jax.Array:
        """``v [T, B, C]`` restricted to the loss's window."""
        if self.last is None:
            return v
        if self.last > v.shape[0]:
            raise ValueError(f"{self.name}: last={self.last} steps exceeds the run's {v.shape[0]} steps")
        return v[v.shape[0] - self.last:]

    def whole(self) -> "_MembraneLoss":
        """The same loss over every step (what an online rule evaluates at one step)."""
        return type(self)()

    def __repr__(self):
        return f"{type(self).__name__}(last={self.last})"


class MembraneSumCE(_MembraneLoss):
    """Sum over steps of the cross-entropy of the output membrane at each step."""

    name = "membrane-sum-ce"

    def __call__(self, out, labels):
        _check(out, labels)
        return _ce(self.window(out.v), labels).sum()

    def predict(self, out):
        return jnp.argmax(self.window(out.v).sum(0), axis=-1)


class MembraneMaxCE(_MembraneLoss):
    name = "max-membrane-ce"

    def __call__(self, out, labels):
        _check(out, labels)
        return _ce(self.window(out.v).max(0), labels)

    def predict(self, out):
        return jnp.argmax(self.window(out.v).max(0), axis=-1)


class MembraneMeanCE(_MembraneLoss):
    name = "mean-membrane-ce"

    def __call__(self, out, labels):
        _check(out, labels)
        return _ce(self.window(out.v).mean(0), labels)

    def predict(self, out):
        return jnp.argmax(self.window(out.v).mean(0), axis=-1)


class CountMSE(Loss):
    """Mean squared error of spike counts against ``on`` (true class) and ``off`` targets."""

    name = "count-mse"

    def __init__(self, on: float = 100.0, off: float = 10.0):
        self.on, self.off = float(on), float(off)

    def __call__(self, out, labels):
        _check(out, labels)
        counts = out.spikes.sum(0)
        target = jnp.where(jax.nn.one_hot(labels, counts.shape[-1]) > 0, self.on, self.off)
        return jnp.mean((counts - target) ** 2)

    def predict(self, out):
        return jnp.argmax(out.spikes.sum(0), axis=-1)


class FirstSpikeCE(Loss):
    """Cross-entropy of ``softmax(-t_first / tau0)`` plus ``alpha (exp(t_label / tau1) - 1)``.

    The regularizer (Wunderlich & Pehle 2021) rewards an early spike of the true class;
    the defaults are those of the PyTorch EventProp reimplementation (``tau0 = 2 ms``,
    ``tau1 = 10 ms``, ``alpha = 0.01``). A silent neuron counts as spiking at the end of the
    window ``T * dt``: it loses to any neuron that spikes; under BPTT its gradient comes only
    through the surrogate, under EventProp through ``EventProp.silent_scale``.
    Times and ``tau0``/``tau1`` are in ms.
    """

    name = "first-spike-ce"

    def __init__(self, tau0: float = 2.0, tau1: float = 10.0, alpha: float = 1e-2):
        self.tau0, self.tau1, self.alpha = float(tau0), float(tau1), float(alpha)

    def from_times(self, t_first: jax.Array, labels: jax.Array) -> jax.Array:
        """The loss from first-spike times ``[B, C]`` (ms)."""
        if t_first.shape[0] < 1:
            raise ValueError(f"a loss needs at least one sample, got first-spike times of shape {tuple(t_first.shape)}")
        check_labels(labels, t_first.shape[0], t_first.shape[1])
        ce = _ce(-t_first / self.tau0, labels)
        t_label = jnp.take_along_axis(t_first, labels[:, None], axis=-1)[:, 0]
        return ce + self.alpha * jnp.mean(jnp.exp(t_label / self.tau1) - 1.0)

    def __call__(self, out, labels):
        _check(out, labels)
        return self.from_times(first_spike_times(out), labels)

    def predict(self, out):
        return jnp.argmin(first_spike_times(out), axis=-1)


class RateRegularizer:
    """Per-neuron lower/upper bounds on hidden-layer spike counts (Zenke & Vogels 2021)."""

    def __init__(self, lower: float = 0.0, lower_strength: float = 0.0,
                 upper: float = np.inf, upper_strength: float = 0.0):
        self.lower, self.lower_strength = float(lower), float(lower_strength)
        self.upper, self.upper_strength = float(upper), float(upper_strength)

    def __call__(self, out: NetworkOutput) -> jax.Array:
        total = jnp.zeros(())
        for counts in out.counts[:-1]:                      # hidden layers
            c = counts.mean(0)                              # [N] per-neuron count per sample
            if self.lower_strength:
                total = total + self.lower_strength * jnp.mean(jax.nn.relu(self.lower - c) ** 2)
            if self.upper_strength and np.isfinite(self.upper):
                total = total + self.upper_strength * jnp.mean(jax.nn.relu(c - self.upper) ** 2)
        return total

    def __repr__(self):
        return (f"RateRegularizer(lower={self.lower}, lower_strength={self.lower_strength}, "
                f"upper={self.upper}, upper_strength={self.upper_strength})")


class Regularized(Loss):
    """``base(out, labels) + regularizer(out)``; predicts like ``base``."""

    def __init__(self, base: Loss, regularizer: RateRegularizer):
        self.base, self.regularizer = base, regularizer
        self.name = base.name

    def __call__(self, out, labels):
        return self.base(out, labels) + self.regularizer(out)

    def predict(self, out):
        return self.base.predict(out)


#: name -> ``Loss`` class (``@LOSSES.register`` on a subclass with a ``name`` adds one)
LOSSES = Registry("loss", {cls.name: cls for cls in (CountCE, MembraneSumCE, MembraneMaxCE, MembraneMeanCE,
                                                     CountMSE, FirstSpikeCE)})


def get_loss(loss, **options) -> Loss:
    """A loss by name (see ``LOSSES``) with its options, or a ``Loss`` instance passed through."""
    if isinstance(loss, Loss):
        if options:
            raise TypeError(f"options {sorted(options)} cannot be applied to the loss instance {loss!r}")
        return loss
    return LOSSES.lookup(loss)(**options)


def accuracy(pred: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of ``pred == labels``."""
    return jnp.mean(pred == labels)


def accuracy_by_count(out: NetworkOutput, labels) -> jax.Array:
    return accuracy(CountCE().predict(out), labels)


def accuracy_by_first_spike(out: NetworkOutput, labels) -> jax.Array:
    return accuracy(FirstSpikeCE().predict(out), labels)


def accuracy_by_membrane(out: NetworkOutput, labels, reduce: str = "max") -> jax.Array:
    """Accuracy of ``argmax`` of the output membrane reduced over time (``max``, ``mean`` or ``sum``)."""
    reducers = {"max": MembraneMaxCE, "mean": MembraneMeanCE, "sum": MembraneSumCE}
    if reduce not in reducers:
        raise ValueError(f"reduce must be one of {sorted(reducers)}, got {reduce!r}")
    return accuracy(reducers[reduce]().predict(out), labels)
