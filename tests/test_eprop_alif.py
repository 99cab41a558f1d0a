"""e-prop for the adaptive LIF neuron: the adaptation eligibility trace of Bellec et al. 2020.

Three checks (the rule and its derivation: ``bsnn.neurons.alif``):

* exactness: one ALIF layer with a loss on its own spikes (and an ALIF hidden layer under a
  memoryless read-out) gets the exact gradient of the fixed online error, adaptation path
  included; leaving the adaptation trace out breaks the identity;
* an independent NumPy reference of the rule, per synapse and unfactorized, on a recurrent
  ALIF network with per-neuron adaptation time constants;
* nothing with a time axis is kept.
"""

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from reference import layer_grads
from bsnn import encode
from bsnn.losses import CountCE
from bsnn.methods.eprop import EProp, RandomFeedback
from bsnn.network import NetworkOutput, simulate
from bsnn.neurons import alif

LABELS = jnp.array([0, 1, 2, 3])


def _float64(model, bias=0.8):
    """All parameters in float64, every layer's bias at ``bias`` mV (so that all layers spike)."""
    for layer in model.layers:
        weight = layer.linear.weight
        weight.value = {**weight.value, "bias": jnp.full(layer.n_out, bias)}
    for state in model.states(brainstate.ParamState).values():
        state.value = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), state.value)
    return model


def _input(kind, steps=25, batch=4, n_in=12):
    if kind == "poisson":
        return encode.poisson(jnp.full((batch, n_in), 0.3), steps, jax.random.PRNGKey(0)).astype(jnp.float64)
    x = encode.constant(jax.random.uniform(jax.random.PRNGKey(1), (batch, n_in)), steps)
    return encode.Repeated(x.value.astype(jnp.float64), x.steps)


def _fixed_error_gradient(model, x):
    """The gradient of ``sum_t e[t] . S_out[t]``, ``e[t]`` the count-CE error at the running count estimate."""
    steps, specs, weights = x.shape[0], model.specs, model.weights()
    spikes = simulate(specs, weights, x, dt=model.dt_ms).spikes
    estimate = jnp.cumsum(spikes, 0) * (steps / jnp.arange(1.0, steps + 1))[:, None, None]
    count_loss = lambda c: CountCE()(NetworkOutput(c[None], c[None], (), 1.0), LABELS)
    errors = jax.vmap(jax.grad(count_loss))(estimate)
    objective = lambda ws: jnp.sum(errors * simulate(specs, ws, x, dt=model.dt_ms).spikes)
    return [(np.asarray(g.w), np.asarray(g.b), None) for g in jax.grad(objective)(weights)]


def _exact_case(hidden):
    brainstate.random.seed(7)
    adapt = dict(tau_adapt=30 * u.ms, beta_adapt=0.5 * u.mV)
    if hidden:   # ALIF hidden layer -> memoryless LIF read-out (tau_syn = 0, beta ~ 0)
        return bsnn.SpikingClassifier([12, 16, 4], tau_mem=[10 * u.ms, 1e-6 * u.ms], tau_syn=[4 * u.ms, 0 * u.ms],
                                      surrogate="superspike", readout="spiking", w_scale=[6.0, 4.0],
                                      neuron=["alif", "lif"], **adapt)
    return bsnn.SpikingClassifier([12, 4], tau_mem=10 * u.ms, surrogate="superspike", readout="spiking",
                                  w_scale=4.0, neuron="alif", **adapt)


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize("kind", ["poisson", "constant"])
def test_eprop_is_exact_through_the_adaptation(hidden, kind, monkeypatch):
    with jax.enable_x64(True):
        model = _float64(_exact_case(hidden))
        x = _input(kind)
        g_ref = _fixed_error_gradient(model, x)
        _, grads, out = EProp("count-ce", surrogate=None).loss_and_grads(model, x, LABELS)
        g = layer_grads(model, grads)
        assert float(out.counts[0].sum()) > 50 and float(out.counts[-1].sum()) > 20, [float(c.sum()) for c in out.counts]
        for k, (layer, ref) in enumerate(zip(g, g_ref)):
            scale = float(np.abs(ref[0]).max())
            assert scale > 1e-3
            np.testing.assert_allclose(layer[0], ref[0], atol=1e-12 * scale + 1e-15)
            np.testing.assert_allclose(layer[1], ref[1], atol=1e-12 * scale + 1e-15)
        # the adaptation trace is what makes it exact: without it the first ALIF layer is off
        monkeypatch.setattr(type(alif.NEURON), "eligibility_init", lambda self, *args: None)
        g_lif = layer_grads(model, EProp("count-ce", surrogate=None).loss_and_grads(model, x, LABELS)[1])
        assert float(np.abs(g_lif[0][0] - g_ref[0][0]).max()) > 1e-2 * float(np.abs(g_ref[0][0]).max())


# ---- an independent NumPy reference of the rule -------------------------------------------------

def _numpy_eprop(x, w, b, w_rec, w_out, b_out, labels, *, alpha, beta, rho, beta_a, alpha_o, beta_o):
    """Recurrent ALIF layer (soft reset, V_th = 1, V_reset = V_rest = 0) -> leaky read-out,
    loss ``sum_t CE(V_out[t])``; e-prop gradients with per-synapse traces, nothing factorized."""
    steps, batch, n_in = x.shape
    n, c = w.shape[1], w_out.shape[1]
    pseudo = lambda z: 1.0 / (25.0 * np.abs(z) + 1.0) ** 2                 # SuperSpike, V_th - V_reset = 1
    onehot = np.eye(c)[labels]
    i = v = a = s = np.zeros((batch, n))
    i_o = v_o = np.zeros((batch, c))
    sources = {"w": n_in, "rec": n, "b": 1}
    eps_i = {k: np.zeros((batch, m)) for k, m in sources.items()}
    eps_v = {k: np.zeros((batch, m)) for k, m in sources.items()}
    eps_a = {k: np.zeros((batch, m, n)) for k, m in sources.items()}
    grad = {k: np.zeros((m, n)) for k, m in sources.items()}
    eo_i, eo_v = np.zeros((batch, n)), np.zeros((batch, n))
    eb_i, eb_v = 0.0, 0.0
    g_out, g_bout = np.zeros_like(w_out), np.zeros_like(b_out)
    psi_prev = np.zeros((batch, n))
    loss, spikes = 0.0, []
    for t in range(steps):
        inputs = {"w": x[t], "rec": s, "b": np.ones((batch, 1))}
        # forward: synapse, reset, adaptation, membrane, spike
        i = alpha * i + x[t] @ w + b + s @ w_rec
        a = rho * (a + s)
        v = beta * (v - s) + (1 - beta) * i
        arg = v - 1.0 - beta_a * a
        s_new = (arg >= 0).astype(float)
        psi = pseudo(arg)
        # read-out
        i_o = alpha_o * i_o + s_new @ w_out + b_out
        v_o = beta_o * v_o + (1 - beta_o) * i_o
        p = np.exp(v_o - v_o.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        loss += -np.mean(np.log(p[np.arange(batch), labels]))
        delta = (p - onehot) / batch                                        # dL/dV_out[t]
        learning = (delta @ w_out.T) / (1 - alpha_o)                        # L[t], the documented gain
        for k, pre in inputs.items():
            # eps_a from the previous step's eps_V and psi, then eps_I, eps_V of this step
            eps_a[k] = rho * (eps_a[k] * (1 - beta_a * psi_prev[:, None, :])
                              + psi_prev[:, None, :] * eps_v[k][:, :, None])
            eps_i[k] = alpha * eps_i[k] + pre
            eps_v[k] = beta * eps_v[k] + (1 - beta) * eps_i[k]
            e = psi[:, None, :] * (eps_v[k][:, :, None] - beta_a * eps_a[k])     # [B, N_in, N]
            grad[k] += np.einsum("bj,bij->ij", learning, e)
        eo_i = alpha_o * eo_i + s_new
        eo_v = beta_o * eo_v + (1 - beta_o) * eo_i
        eb_i = alpha_o * eb_i + 1.0
        eb_v = beta_o * eb_v + (1 - beta_o) * eb_i
        g_out += eo_v.T @ delta
        g_bout += eb_v * delta.sum(0)
        s, psi_prev = s_new, psi
        spikes.append(s)
    return loss, np.stack(spikes), [(grad["w"], grad["b"][0], grad["rec"]), (g_out, g_bout, None)]


def test_recurrent_alif_eprop_matches_a_numpy_reference():
    rng = np.random.default_rng(3)
    n_in, n, c, steps, batch = 10, 12, 4, 40, 3
    tau_adapt = rng.uniform(20.0, 200.0, n)                          # per-neuron adaptation
    brainstate.random.seed(3)
    with jax.enable_x64(True):
        model = bsnn.SpikingClassifier([n_in, n, c], tau_mem=10 * u.ms, tau_syn=4 * u.ms, surrogate="superspike",
                                       readout="leaky", recurrent=True, neuron="alif", w_scale=[6.0, 1.0],
                                       tau_adapt=[tau_adapt * u.ms, 100 * u.ms], beta_adapt=0.4 * u.mV)
        _float64(model, bias=0.3)
        x = encode.poisson(jnp.full((batch, n_in), 0.3), steps, jax.random.PRNGKey(4)).astype(jnp.float64)
        labels = jnp.array([0, 2, 3])
        loss, grads, out = EProp(record_output=True).loss_and_grads(model, x, labels)
        hidden, read = model.weights()
        c0, c1 = model.specs[0].constants, model.specs[1].constants
        ref_loss, ref_spikes, ref = _numpy_eprop(
            np.asarray(x), *(np.asarray(a) for a in (hidden.w, hidden.b, hidden.w_rec, read.w, read.b)),
            np.asarray(labels), alpha=c0.alpha, beta=c0.beta, rho=np.asarray(c0.rho), beta_a=c0.beta_a,
            alpha_o=c1.alpha, beta_o=c1.beta)
        assert ref_spikes.sum() > 100
        np.testing.assert_array_equal(np.asarray(out.counts[0]), ref_spikes.sum(0))
        np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-12)
        for mine, theirs in zip(layer_grads(model, grads), ref):
            for a, r in zip(mine, theirs):
                if r is not None:
                    assert float(np.abs(r).max()) > 1e-4
                    np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-13)


def test_alif_eprop_keeps_nothing_with_a_time_axis():
    """The per-synapse adaptation trace is ``[B, N_in, N_out]``, not ``[T, ...]``."""
    steps = 37
    brainstate.random.seed(0)
    model = bsnn.SpikingClassifier([6, 8, 3], readout="leaky", recurrent=True, neuron="alif")
    x = encode.poisson(jnp.full((2, 6), 0.3), steps, jax.random.PRNGKey(0))
    for method in (EProp(), RandomFeedback()):
        jaxpr = jax.make_jaxpr(lambda x: method.loss_and_grads(model, x, jnp.array([0, 1]))[0])(x)
        shapes = {tuple(v.aval.shape) for eqn in jaxpr.jaxpr.eqns for v in eqn.outvars
                  if hasattr(v.aval, "shape")}
        assert not any(steps in shape for shape in shapes if shape != (steps, 2, 6))
