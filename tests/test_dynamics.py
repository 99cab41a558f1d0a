"""Learnable dynamics (bsnn.dynamics): range-keeping parametrization, gradients against finite
differences, training, saving, NIR export, and refusals."""

import os
import subprocess
import sys

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from bsnn import dynamics, encode


def _spikes(seed, T=30, B=3, N=10, p=0.3, dtype=jnp.float32):
    return encode.poisson(jnp.full((B, N), p, dtype), T, jax.random.PRNGKey(seed))


def test_parametrization_starts_at_the_constants_and_keeps_them_in_range():
    taus = np.linspace(5, 40, 16)
    layer = bsnn.CubaLIF(10, 16, tau_mem=taus * u.ms, tau_syn=3 * u.ms, V_th=1.5 * u.mV, V_reset=0.2 * u.mV,
                         learn=("tau_mem", "tau_syn", "V_th"))
    got = layer.learned()
    np.testing.assert_allclose(got["tau_mem"], taus, rtol=1e-4)          # heterogeneous start
    np.testing.assert_allclose(got["tau_syn"], 3.0, rtol=1e-4)
    np.testing.assert_allclose(got["V_th"], 1.5, rtol=1e-5)
    layer.dynamics.value = {k: v + 50.0 * jnp.sign(jnp.arange(16) - 7.5) for k, v in layer.dynamics.value.items()}
    c = layer.constants                                                   # any raw value maps into range
    assert np.all((np.asarray(c.beta) > 0) & (np.asarray(c.beta) <= 1))
    assert np.all((np.asarray(c.alpha) > 0) & (np.asarray(c.alpha) <= 1))
    assert np.all(np.asarray(c.v_th) >= 0.2 + dynamics.MIN_GAP * 0.99)
    assert "learn=['tau_mem', 'tau_syn', 'V_th']" in repr(layer)


def test_readout_time_constant_gradients_match_finite_differences():
    """The leaky read-out is smooth in its constants: BPTT's gradient for its learned tau_mem and
    tau_syn equals central finite differences (float64)."""
    with jax.enable_x64(True):
        bsnn.methods.base.brainstate.environ.set(precision=64)
        try:
            model = bsnn.SpikingClassifier([10, 12, 3], learn=("tau_mem", "tau_syn"), w_scale=[6.0, 3.0],
                                           tau_mem=[20 * u.ms, np.linspace(8, 30, 3) * u.ms])
            x = _spikes(0, T=20, p=0.4, dtype=jnp.float64)
            y = jnp.array([0, 1, 2])
            loss, grads, out = bsnn.BPTT("mean-membrane-ce").loss_and_grads(model, x, y)
            assert float(out.counts[0].sum()) > 10
            readout = model.layers[1]
            key = next(k for k, s in model.states(bsnn.methods.base.brainstate.ParamState).items()
                       if s is readout.dynamics)
            base = {k: np.asarray(v) for k, v in readout.dynamics.value.items()}
            for name in ("tau_mem", "tau_syn"):
                for j in (0, 2):
                    values = []
                    for eps in (1e-5, -1e-5):
                        raw = {k: v.copy() for k, v in base.items()}
                        raw[name][j] += eps
                        readout.dynamics.value = {k: jnp.asarray(v) for k, v in raw.items()}
                        values.append(float(bsnn.get_loss("mean-membrane-ce")(model.run(x), y)))
                    readout.dynamics.value = {k: jnp.asarray(v) for k, v in base.items()}
                    fd = (values[0] - values[1]) / 2e-5
                    np.testing.assert_allclose(float(grads[key][name][j]), fd, rtol=1e-5, atol=1e-9)
        finally:
            bsnn.methods.base.brainstate.environ.set(precision=32)


def test_threshold_gradient_matches_an_independent_reference():
    """A hidden layer's learned V_th: BPTT against jax.grad of a plain loop of the same equations."""
    model = bsnn.SpikingClassifier([10, 12, 3], learn=("V_th",), w_scale=[6.0, 3.0])
    x, y = _spikes(1, T=20, p=0.4), jnp.array([0, 1, 2])
    _, grads, _ = bsnn.BPTT("mean-membrane-ce").loss_and_grads(model, x, y)
    hidden, readout = model.layers
    key = next(k for k, s in model.states(bsnn.methods.base.brainstate.ParamState).items() if s is hidden.dynamics)
    c0, c1 = hidden._constants, readout.constants
    w0, w1 = hidden.weights(), readout.weights()

    def loss(raw):
        v_th = c0.v_reset + dynamics.MIN_GAP + jax.nn.softplus(raw)
        i = v = s = jnp.zeros((3, 12))
        i2 = v2 = jnp.zeros((3, 3))
        total = 0.0
        for t in range(x.shape[0]):
            i = c0.alpha * i + x[t] @ w0.w + w0.b
            v = c0.beta * (v - (v_th - c0.v_reset) * jax.lax.stop_gradient(s)) + (1 - c0.beta) * i
            s = hidden.surrogate((v - v_th) / (v_th - c0.v_reset))
            i2 = c1.alpha * i2 + s @ w1.w + w1.b
            v2 = c1.beta * v2 + (1 - c1.beta) * i2
            total = total + v2
        return -jnp.mean(jax.nn.log_softmax(total / x.shape[0])[jnp.arange(3), y])

    ref = jax.grad(loss)(w0.dynamics["V_th"])
    assert float(jnp.abs(ref).sum()) > 0
    np.testing.assert_allclose(np.asarray(grads[key]["V_th"]), np.asarray(ref), rtol=1e-4, atol=1e-7)


def test_training_moves_the_constants_and_a_checkpoint_carries_them(tmp_path):
    cfg = bsnn.TrainConfig(dataset="digits", learn=["tau_mem", "V_th"], epochs=2, train_subset=160, test_subset=64,
                           lr=5e-2, quiet=True, out=str(tmp_path / "run"))
    trainer = bsnn.Trainer(cfg)
    before = trainer.model.layers[0].learned()
    assert trainer.method.plan(trainer.model).paths[0] == "scan"
    history = trainer.fit()
    after = trainer.model.layers[0].learned()
    assert history[-1]["test_acc"] > 0.5
    assert np.abs(after["tau_mem"] - before["tau_mem"]).max() > 0.1, "tau_mem must be trained"
    assert np.abs(after["V_th"] - before["V_th"]).max() > 1e-3
    back = bsnn.Trainer.from_run(str(tmp_path / "run")).model.layers[0].learned()
    for k in after:
        np.testing.assert_array_equal(back[k], after[k])
    path = bsnn.save_model(trainer.model, tmp_path / "m.bsnn")
    loaded = bsnn.load_model(path).layers[0]
    assert loaded.learn == ("tau_mem", "V_th")
    np.testing.assert_array_equal(loaded.learned()["tau_mem"], after["tau_mem"])


def test_nir_export_carries_learned_constants(tmp_path):
    pytest.importorskip("nir")
    model = bsnn.SpikingClassifier([10, 12, 3], learn=("tau_mem", "V_th"), readout="spiking")
    layer = model.layers[0]
    layer.dynamics.value = {k: v + jnp.linspace(-1, 1, 12) for k, v in layer.dynamics.value.items()}
    graph = bsnn.nir.to_nir(model)
    node = graph.nodes["cubalif0"]
    np.testing.assert_allclose(np.asarray(node.tau_mem) * 1000.0, layer.learned()["tau_mem"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(node.v_threshold), layer.learned()["V_th"], rtol=1e-6)


def test_what_cannot_learn_is_refused():
    with pytest.raises(ValueError, match="learn takes names from"):
        bsnn.CubaLIF(4, 3, learn=("tau_adapt",))
    with pytest.raises(ValueError, match="needs tau_syn > 0"):
        bsnn.CubaLIF(4, 3, tau_syn=0 * u.ms, learn=("tau_syn",))
    model = bsnn.SpikingClassifier([10, 12, 3], learn=("tau_mem",))
    for method in ("eprop", "feedback"):
        with pytest.raises(ValueError, match="cannot train learnable dynamics, but layer 0 learns tau_mem"):
            bsnn.get_method(method).loss_and_grads(model, _spikes(0), jnp.zeros(3, jnp.int32))
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    p = subprocess.run([sys.executable, "-m", "bsnn", "train", "--learn", "tau_mem,beta"], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 2 and "--learn takes comma-separated names" in p.stderr and "Traceback" not in p.stderr
