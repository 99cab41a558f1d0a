"""Jitted train and evaluation steps: encode on the fly, forward, gradients, update.

    step = bsnn.TrainStep(model, bsnn.methods.BPTT("count-ce"), optimizer, encoder)
    metrics = step(pixels, labels, key)     # pixels [B, N] -> StepMetrics

The encoder (``(pixels, key) -> [T, B, N]``) runs inside the compiled step, so only one
batch is ever expanded over time. Each step compiles once per batch shape. ``put`` moves a
host batch to the devices (``bsnn.parallel.DataParallel.put`` shards it over a mesh).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from bsnn.models import check_labels

__all__ = ["StepMetrics", "EvalMetrics", "TrainStep", "EvalStep", "check_batch"]


class StepMetrics(NamedTuple):
    """Per-batch results. ``rates``: per layer, mean firing rate (Hz) over neurons and samples."""

    loss: jax.Array
    correct: jax.Array
    rates: tuple


def _rates(out) -> tuple:
    duration_s = out.v.shape[0] * out.dt / 1000.0
    return tuple(c.mean() / duration_s for c in out.counts)


def check_batch(pixels, labels, n_classes: int):
    """Validate a batch before it enters a compiled step (messages name the problem)."""
    shape = tuple(getattr(pixels, "shape", ()))
    if len(shape) < 2 or shape[0] < 1:
        raise ValueError(f"a batch must have shape [B, ...] with B >= 1, got shape {shape}")
    arr = np.asarray(pixels)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"inputs must be floats, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("inputs contain NaN or inf")
    check_labels(labels, shape[0], n_classes)


def _to_device(*arrays):
    return tuple(jnp.asarray(a) for a in arrays)


def _strongly_typed(model, optimizer):
    """Give every weight and optimizer state a fixed dtype (no weak types, no Python scalars).

    Otherwise the first update changes their abstract types and the step compiles twice.
    """
    states = list(model.states(brainstate.ParamState).values()) + list(brainstate.graph.states(optimizer).values())
    for state in states:
        state.value = jax.tree.map(lambda a: jnp.asarray(a, dtype=jnp.asarray(a).dtype), state.value)


class TrainStep:
    """One optimisation step of ``method`` on ``model`` with ``optimizer``.

    The optimizer is registered on the model's ``ParamState`` weights here if it
    is not yet. Calling returns ``StepMetrics`` (device arrays; nothing is synced).
    """

    def __init__(self, model, method, optimizer, encoder: Callable, put: Callable | None = None):
        self.model, self.method, self.optimizer, self.encoder = model, method, optimizer, encoder
        self.put = put or _to_device
        if not optimizer.param_states:
            optimizer.register_trainable_weights(model.states(brainstate.ParamState))
        _strongly_typed(model, optimizer)
        self._compiled = brainstate.transform.jit(self._step)

    def _step(self, pixels, labels, key):
        x = self.encoder(pixels, key)
        loss, grads, out = self.method.loss_and_grads(self.model, x, labels)
        self.optimizer.update(grads)
        correct = jnp.sum(self.method.predict(out) == labels)
        return StepMetrics(loss, correct, _rates(out))

    def __call__(self, pixels, labels, key) -> StepMetrics:
        check_batch(pixels, labels, self.model.n_classes)
        return self._compiled(*self.put(pixels, labels), key)


class EvalMetrics(NamedTuple):
    """Per-batch evaluation: ``correct`` predictions and, per layer, the summed per-sample rate (Hz)."""

    correct: jax.Array
    rate_sums: tuple


class EvalStep:
    """Number correct and firing rates of ``model`` on a batch (no update).

    A batch smaller than ``batch_size`` is padded (and the padding masked out), so
    evaluation compiles once for the whole test set. ``forward(model, weights, x)``
    replaces ``model.run`` when a method reads its output differently (EventProp's
    interpolated spike times).
    """

    def __init__(self, model, loss, encoder: Callable, batch_size: int | None = None,
                 put: Callable | None = None, forward: Callable | None = None):
        self.model, self.loss, self.encoder, self.batch_size = model, loss, encoder, batch_size
        self.put = put or _to_device
        self.forward = forward
        self._compiled = brainstate.transform.jit(self._step)

    def _step(self, pixels, labels, mask, key):
        x = self.encoder(pixels, key)
        out = self.forward(self.model, self.model.weights(), x) if self.forward else self.model.run(x)
        correct = jnp.sum((self.loss.predict(out) == labels) * mask)
        duration_s = out.v.shape[0] * out.dt / 1000.0
        rate_sums = tuple(jnp.sum(c.mean(-1) * mask) / duration_s for c in out.counts)
        return EvalMetrics(correct, rate_sums)

    def __call__(self, pixels, labels, key) -> EvalMetrics:
        check_batch(pixels, labels, self.model.n_classes)
        pixels, labels = np.asarray(pixels), np.asarray(labels)
        n = len(labels)
        mask = np.ones(n, pixels.dtype)
        pad = (self.batch_size or n) - n
        if pad > 0:
            pixels = np.concatenate([pixels, np.zeros((pad,) + pixels.shape[1:], pixels.dtype)])
            labels = np.concatenate([labels, np.zeros(pad, labels.dtype)])
            mask = np.concatenate([mask, np.zeros(pad, mask.dtype)])
        return self._compiled(*self.put(pixels, labels, mask), key)
