"""Losses and read-outs against NumPy computations on hand-made outputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bsnn import losses
from bsnn.network import NetworkOutput


def _out(spikes, v, hidden_counts=None, dt=1.0):
    spikes, v = jnp.asarray(spikes, jnp.float32), jnp.asarray(v, jnp.float32)
    counts = tuple(hidden_counts or ()) + (spikes.sum(0),)
    return NetworkOutput(spikes, v, counts, dt)


def _np_ce(logits, y):
    logits = logits - logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


RNG = np.random.default_rng(0)
SPIKES = (RNG.random((6, 4, 3)) < 0.3).astype(np.float32)
V = RNG.normal(size=(6, 4, 3)).astype(np.float32)
Y = np.array([0, 2, 1, 2])


def test_count_ce_and_predict():
    out = _out(SPIKES, V)
    np.testing.assert_allclose(float(losses.CountCE()(out, Y)), _np_ce(SPIKES.sum(0), Y), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(losses.CountCE().predict(out)), SPIKES.sum(0).argmax(-1))


def test_membrane_losses():
    out = _out(SPIKES, V)
    per_step = sum(_np_ce(V[t], Y) for t in range(V.shape[0]))
    np.testing.assert_allclose(float(losses.MembraneSumCE()(out, Y)), per_step, rtol=1e-5)
    np.testing.assert_allclose(float(losses.MembraneMaxCE()(out, Y)), _np_ce(V.max(0), Y), rtol=1e-5)
    np.testing.assert_allclose(float(losses.MembraneMeanCE()(out, Y)), _np_ce(V.mean(0), Y), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(losses.MembraneMaxCE().predict(out)), V.max(0).argmax(-1))
    np.testing.assert_array_equal(np.asarray(losses.MembraneSumCE().predict(out)), V.sum(0).argmax(-1))


def test_count_mse_targets():
    out = _out(SPIKES, V)
    target = np.where(np.eye(3)[Y] > 0, 5.0, 1.0)
    expected = ((SPIKES.sum(0) - target) ** 2).mean()
    np.testing.assert_allclose(float(losses.CountMSE(on=5, off=1)(out, Y)), expected, rtol=1e-5)


def test_first_spike_times_and_loss():
    s = np.zeros((5, 2, 3), np.float32)
    s[1, 0, 0] = 1; s[3, 0, 0] = 1; s[0, 0, 2] = 1; s[4, 1, 1] = 1   # neuron (0,1) and (1,0),(1,2) silent
    out = _out(s, np.zeros_like(s), dt=0.5)
    t = np.asarray(losses.first_spike_times(out))
    np.testing.assert_allclose(t, [[1.0, 2.5, 0.5], [2.5, 2.5, 2.5]])
    loss = losses.FirstSpikeCE(tau0=1.0, tau1=10.0, alpha=0.01)
    y = np.array([2, 1])
    expected = _np_ce(-t / 1.0, y) + 0.01 * np.mean(np.exp(t[np.arange(2), y] / 10.0) - 1)
    np.testing.assert_allclose(float(loss(out, y)), expected, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(loss.predict(out)), [2, 0])
    exact = out._replace(first_spike_time=jnp.array([[0.3, 0.2, 0.9], [1.0, 1.0, 1.0]]))
    np.testing.assert_array_equal(np.asarray(loss.predict(exact)), [1, 0])


def test_first_spike_time_is_differentiable_through_spikes():
    s = jnp.zeros((4, 1, 2)).at[2, 0, 0].set(1.0)
    g = jax.grad(lambda sp: losses.first_spike_times(NetworkOutput(sp, sp, (sp.sum(0),), 1.0)).sum())(s)
    assert float(g[0, 0, 0]) < 0  # an earlier spike shortens the time


def test_rate_regularizer_bounds():
    hidden = jnp.array([[0.0, 2.0, 10.0], [0.0, 4.0, 14.0]])   # per-sample counts, 3 neurons
    out = _out(SPIKES, V, hidden_counts=[hidden])
    reg = losses.RateRegularizer(lower=1.0, lower_strength=2.0, upper=8.0, upper_strength=0.5)
    mean = np.array([0.0, 3.0, 12.0])
    expected = 2.0 * np.mean(np.maximum(1 - mean, 0) ** 2) + 0.5 * np.mean(np.maximum(mean - 8, 0) ** 2)
    np.testing.assert_allclose(float(reg(out)), expected, rtol=1e-6)
    total = losses.Regularized(losses.CountCE(), reg)
    np.testing.assert_allclose(float(total(out, Y)), float(losses.CountCE()(out, Y)) + expected, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(total.predict(out)), np.asarray(losses.CountCE().predict(out)))


def test_accuracy_functions():
    out = _out(SPIKES, V)
    assert float(losses.accuracy(jnp.array([0, 1, 1, 2]), Y)) == 0.75
    np.testing.assert_allclose(float(losses.accuracy_by_count(out, Y)), np.mean(SPIKES.sum(0).argmax(-1) == Y))
    np.testing.assert_allclose(float(losses.accuracy_by_membrane(out, Y, "mean")), np.mean(V.mean(0).argmax(-1) == Y))
    with pytest.raises(ValueError, match="reduce must be one of"):
        losses.accuracy_by_membrane(out, Y, "median")


def test_get_loss():
    assert isinstance(losses.get_loss("count-mse", on=50, off=5), losses.CountMSE)
    with pytest.raises(ValueError, match="loss must be one of"):
        losses.get_loss("hinge")


@pytest.mark.parametrize("cls", [losses.MembraneSumCE, losses.MembraneMaxCE, losses.MembraneMeanCE])
def test_membrane_losses_over_the_last_steps(cls):
    """``last=K`` is the loss and the read-out of ``v[T-K:]``; the window must fit the run."""
    out, k = _out(SPIKES, V), 3
    windowed = _out(SPIKES[-k:], V[-k:])
    assert float(cls(last=k)(out, Y)) == pytest.approx(float(cls()(windowed, Y)), rel=1e-6)
    np.testing.assert_array_equal(np.asarray(cls(last=k).predict(out)), np.asarray(cls().predict(windowed)))
    assert float(cls(last=V.shape[0])(out, Y)) == pytest.approx(float(cls()(out, Y)), rel=1e-6)
    assert float(cls(last=1)(out, Y)) == pytest.approx(_np_ce(V[-1], Y), rel=1e-5)
    with pytest.raises(ValueError, match=f"{cls.name}: last=7 steps exceeds the run's 6 steps"):
        cls(last=7)(out, Y)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="last must be a positive number of steps"):
            cls(last=bad)
