"""Forward dynamics against a NumPy reference of the same discretization, and schedule equivalence."""

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from bsnn import encode
from reference import assert_pure_path_matches_brainpy, numpy_network


def _model(sizes, reset="soft", readout="spiking", recurrent=False, w_scale=None, **kw):
    return bsnn.SpikingClassifier(sizes, tau_mem=10 * u.ms, tau_syn=4 * u.ms, V_th=1 * u.mV,
                                  reset=reset, readout=readout, recurrent=recurrent,
                                  w_scale=w_scale or [6.0] * (len(sizes) - 1), **kw)


def _numpy_layers(model):
    layers = []
    for layer in model.layers:
        w = layer.weights()
        c = layer.constants
        layers.append(dict(w=np.asarray(w.w, np.float64), b=np.asarray(w.b, np.float64),
                           alpha=c.alpha, beta=c.beta, v_th=c.v_th, spiking=c.spiking,
                           reset="soft" if c.soft_reset else "hard",
                           w_rec=None if w.w_rec is None else np.asarray(w.w_rec, np.float64)))
    return layers


def _spike_input(seed, T=40, B=3, N=12, p=0.2):
    key = jax.random.PRNGKey(seed)
    return encode.poisson(jnp.full((B, N), p), T, key)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_one_layer_matches_numpy(reset):
    model = _model([12, 7], reset=reset)
    x = _spike_input(1)
    out = model.run(x)
    (s_ref, v_ref), = numpy_network(np.asarray(x), _numpy_layers(model))
    assert s_ref.sum() > 5, "the test needs spikes"
    np.testing.assert_array_equal(np.asarray(out.spikes), s_ref)
    np.testing.assert_allclose(np.asarray(out.v), v_ref, atol=1e-5)


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("readout", ["spiking", "leaky"])
def test_two_layer_matches_numpy(reset, readout):
    model = _model([12, 9, 4], reset=reset, readout=readout)
    x = _spike_input(2)
    out = model.run(x, record=True)
    ref = numpy_network(np.asarray(x), _numpy_layers(model))
    assert ref[0][0].sum() > 5 and (readout == "leaky" or ref[1][0].sum() > 0)
    for (s_ref, v_ref), s, v in zip(ref, out.layer_spikes, out.layer_v):
        np.testing.assert_array_equal(np.asarray(s), s_ref)
        np.testing.assert_allclose(np.asarray(v), v_ref, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out.v), ref[-1][1], atol=1e-5)
    for c, (s_ref, _) in zip(out.counts, ref):
        np.testing.assert_array_equal(np.asarray(c), s_ref.sum(0))


def test_recurrent_layer_matches_numpy():
    model = _model([12, 9, 4], recurrent=True)
    x = _spike_input(3)
    out = model.run(x, record=True)
    ref = numpy_network(np.asarray(x), _numpy_layers(model))
    for (s_ref, v_ref), s, v in zip(ref, out.layer_spikes, out.layer_v):
        np.testing.assert_array_equal(np.asarray(s), s_ref)
        np.testing.assert_allclose(np.asarray(v), v_ref, atol=1e-5)


def test_instantaneous_synapse_and_constant_input_match_numpy():
    model = bsnn.SpikingClassifier([5, 6, 3], tau_mem=20 * u.ms, tau_syn=0 * u.ms, w_scale=3.0, readout="spiking")
    assert model.layers[0].constants.alpha == 0.0
    pixels = jax.random.uniform(jax.random.PRNGKey(0), (4, 5))
    x = encode.constant(pixels, 30)
    out = model.run(x, record=True)
    ref = numpy_network(np.asarray(x.dense()), _numpy_layers(model))
    assert ref[0][0].sum() > 0
    for (s_ref, v_ref), s, v in zip(ref, out.layer_spikes, out.layer_v):
        np.testing.assert_array_equal(np.asarray(s), s_ref)
        np.testing.assert_allclose(np.asarray(v), v_ref, atol=1e-5)


@pytest.mark.parametrize("recurrent,integrator", [(False, "exp"), (True, "euler")])
def test_schedules_give_identical_spikes(recurrent, integrator):
    model = _model([12, 10, 8, 4], recurrent=recurrent, integrator=integrator)
    for x in (_spike_input(4), encode.constant(jax.random.uniform(jax.random.PRNGKey(1), (3, 12)), 40)):
        hoisted = model.run(x, record=True)
        per_step = model.run(x, hoist=False, record=True)
        ckpt = model.run(x, remat=True, record=True)
        assert float(hoisted.spikes.sum()) > 0
        for other in (per_step, ckpt):
            for a, b in zip(hoisted.layer_spikes, other.layer_spikes):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            np.testing.assert_allclose(np.asarray(hoisted.v), np.asarray(other.v), atol=1e-5)
            for a, b in zip(hoisted.counts, other.counts):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_identical_to_brainpy_state_composition(reset):
    """The fast pure path and stepping the Linear -> Expon -> LIF brainpy.state modules agree."""
    assert_pure_path_matches_brainpy(_model([12, 9, 4], reset=reset, recurrent=True), _spike_input(5, T=30))
