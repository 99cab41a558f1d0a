"""BPTT gradients: against jax.grad of an independent reference, and across schedules."""

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from bsnn import encode
from reference import jax_reference_loss


def _flat(grads):
    return {k: np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(grads)}


def _setup(surrogate="sigmoid", reset="soft", recurrent=False):
    model = bsnn.SpikingClassifier([10, 8, 3], tau_mem=10 * u.ms, tau_syn=4 * u.ms, V_th=1 * u.mV,
                                   surrogate=surrogate, reset=reset, readout="leaky",
                                   recurrent=recurrent, w_scale=[6.0, 3.0])
    x = encode.poisson(jnp.full((4, 10), 0.25), 30, jax.random.PRNGKey(0))
    labels = jnp.array([0, 1, 2, 1])
    return model, x, labels


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_grads_match_independent_reference(reset):
    model, x, labels = _setup(reset=reset)
    loss, grads, out = bsnn.BPTT("membrane-sum-ce").loss_and_grads(model, x, labels)
    assert float(out.counts[0].sum()) > 10, "the hidden layer must spike for a meaningful check"
    ws = [l.weights().w for l in model.layers]
    bs = [l.weights().b for l in model.layers]
    c = model.layers[0].constants
    ref_loss, (g_w, g_b) = jax.value_and_grad(jax_reference_loss, argnums=(0, 1))(
        ws, bs, x, labels, c.alpha, c.beta, c.v_th, reset)
    np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-6)
    keys = model.states(brainstate.ParamState)
    for k, layer in enumerate(model.layers):
        key = next(p for p, s in keys.items() if s is layer.linear.weight)
        scale = float(jnp.abs(g_w[k]).max())
        assert scale > 1e-4
        np.testing.assert_allclose(np.asarray(grads[key]["weight"]), np.asarray(g_w[k]), atol=1e-5 * max(1, scale))
        np.testing.assert_allclose(np.asarray(grads[key]["bias"]), np.asarray(g_b[k]), atol=1e-5 * max(1, scale))


@pytest.mark.parametrize("recurrent", [False, True])
def test_checkpoint_and_per_step_give_the_same_grads(recurrent):
    model, x, labels = _setup(surrogate="atan", recurrent=recurrent)
    loss, grads, _ = bsnn.BPTT("count-ce").loss_and_grads(model, x, labels)
    for method in (bsnn.BPTT("count-ce", remat=True), bsnn.BPTT("count-ce", hoist=False)):
        loss2, grads2, _ = method.loss_and_grads(model, x, labels)
        np.testing.assert_allclose(float(loss2), float(loss), rtol=1e-6)
        g1, g2 = _flat(grads), _flat(grads2)
        assert g1.keys() == g2.keys()
        for k in g1:
            np.testing.assert_allclose(g2[k], g1[k], atol=1e-5, rtol=1e-5)


def test_constant_input_hoisting_gives_the_same_grads():
    model, _, labels = _setup(surrogate="atan")
    x = encode.constant(jax.random.uniform(jax.random.PRNGKey(2), (4, 10)), 25, gain=2.0)
    loss, grads, out = bsnn.BPTT("max-membrane-ce").loss_and_grads(model, x, labels)
    assert float(out.counts[0].sum()) > 0
    dense = x.dense()
    loss2, grads2, _ = bsnn.BPTT("max-membrane-ce", hoist=False).loss_and_grads(model, dense, labels)
    np.testing.assert_allclose(float(loss2), float(loss), rtol=1e-6)
    g1, g2 = _flat(grads), _flat(grads2)
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(bsnn.SURROGATES))
def test_every_surrogate_gives_finite_nonzero_grads(name):
    model, x, labels = _setup(surrogate=name)
    _, grads, _ = bsnn.BPTT("membrane-sum-ce").loss_and_grads(model, x, labels)
    leaves = [np.asarray(g) for g in jax.tree.leaves(grads)]
    assert all(np.all(np.isfinite(g)) for g in leaves)
    params = model.states(brainstate.ParamState)
    hidden = next(p for p, s in params.items() if s is model.layers[0].linear.weight)
    assert np.abs(np.asarray(grads[hidden]["weight"])).max() > 0, "no gradient reached the hidden layer"


FUSED_CASES = [  # sizes, read-out, bias, tau_syn (ms), constant input, rate regularizer, steps
    ([40, 30, 10], "spiking", True, 0.0, True, False, 20),
    ([40, 30, 10], "leaky", True, 4.0, False, False, 23),
    ([40, 30, 10], "spiking", False, 4.0, False, True, 24),
    ([40, 30, 10], "leaky", False, 0.0, True, True, 20),
    ([40, 30, 20, 10], "spiking", True, 4.0, True, True, 20),
    ([40, 30, 20, 10], "leaky", False, 0.0, False, False, 23),
]


@pytest.mark.parametrize("sizes,readout,bias,tau_syn,constant,regularized,steps", FUSED_CASES)
def test_fused_readout_matches_unfused(monkeypatch, sizes, readout, bias, tau_syn, constant, regularized, steps):
    """``bsnn._fused`` (a hidden layer fused with the next projection) against the unfused
    layerwise schedule and the per-step formulation: same loss, counts and gradients (the
    step counts cover loops unrolled by 5, by 4 and not at all)."""
    model = bsnn.SpikingClassifier(sizes, tau_mem=10 * u.ms, tau_syn=tau_syn * u.ms, V_th=1 * u.mV,
                                   surrogate="atan", readout=readout, bias=bias, w_scale=[8.0] + [4.0] * (len(sizes) - 2))
    pixels = jax.random.uniform(jax.random.PRNGKey(3), (6, sizes[0]))
    x = encode.constant(pixels, steps, gain=2.0) if constant else encode.poisson(pixels, steps, jax.random.PRNGKey(4))
    labels = jnp.arange(6) % sizes[-1]
    loss = bsnn.losses.MembraneSumCE()
    if regularized:
        loss = bsnn.losses.Regularized(loss, bsnn.losses.RateRegularizer(lower=4.0, lower_strength=1.0,
                                                                         upper=1.0, upper_strength=1.0))
    calls = []
    fused = bsnn.network.lif_layer_projected
    monkeypatch.setattr(bsnn.network, "lif_layer_projected", lambda *a, **k: calls.append(1) or fused(*a, **k))
    l1, g1, out = bsnn.BPTT(loss).loss_and_grads(model, x, labels)
    assert len(calls) == len(sizes) - 2, "every hidden layer must take the fused path"
    assert all(float(c.sum()) > 0 for c in out.counts[:-1]), "the hidden layers must spike"
    assert all(p in ("native", "fused") for p in bsnn.BPTT(loss).plan(model).paths[:-1])
    unfused = bsnn.BPTT(loss, avoid={"native", "fused"})
    assert "fused" not in unfused.plan(model).paths and "native" not in unfused.plan(model).paths
    l2, g2, out2 = unfused.loss_and_grads(model, x, labels)
    others = [(l2, g2)]
    if regularized:        # the per-step formulation too, in half the cases (test_network checks it everywhere)
        l3, g3, _ = bsnn.BPTT(loss, hoist=False).loss_and_grads(model, x.dense() if constant else x, labels)
        others.append((l3, g3))
    for c1, c2 in zip(out.counts, out2.counts):
        np.testing.assert_array_equal(np.asarray(c1), np.asarray(c2))
    g1 = _flat(g1)
    for loss_other, grads_other in others:
        np.testing.assert_allclose(float(loss_other), float(l1), rtol=1e-6)
        grads_other = _flat(grads_other)
        assert grads_other.keys() == g1.keys()
        for k in g1:
            scale = float(np.abs(grads_other[k]).max())
            assert scale > 0, f"no gradient for {k}"
            np.testing.assert_allclose(g1[k], grads_other[k], rtol=1e-5, atol=1e-5 * scale)
