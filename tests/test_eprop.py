"""e-prop and random feedback: exactness against BPTT, the online rate error, memory, learning."""

import time

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from reference import layer_grads
from bsnn import encode
from bsnn.losses import CountCE, MembraneSumCE
from bsnn.methods import get_method
from bsnn.methods.eprop import EProp, RandomFeedback
from bsnn.network import NetworkOutput, simulate


def _max_diff(g1, g2):
    return max(float(np.abs(a - b).max()) for l1, l2 in zip(g1, g2) for a, b in zip(l1, l2) if a is not None)


def _cos(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _excite(model, bias=0.8):
    """Set every layer's bias current (mV) so that all layers spike in short tests."""
    for layer in model.layers:
        weight = layer.linear.weight
        weight.value = {**weight.value, "bias": jnp.full(layer.n_out, bias)}
    return model


def _inputs(kind, steps=30, batch=4, n_in=12):
    if kind == "poisson":
        return encode.poisson(jnp.full((batch, n_in), 0.3), steps, jax.random.PRNGKey(0))
    return encode.constant(jax.random.uniform(jax.random.PRNGKey(1), (batch, n_in)), steps)


LABELS = jnp.array([0, 1, 2, 3])


# ---- exactness ------------------------------------------------------------------------------

def _single_layer_comparison(reset, kind, dtype):
    # the constant-input cases integrate with forward Euler: the traces read the same per-step decays
    model = bsnn.SpikingClassifier([12, 5], tau_mem=10 * u.ms, tau_syn=4 * u.ms, surrogate="superspike",
                                   readout="spiking", reset=reset, detach_reset=True, w_scale=8.0,
                                   integrator="euler" if kind == "constant" else "exp")
    for state in model.states(brainstate.ParamState).values():
        state.value = jax.tree.map(lambda a: jnp.asarray(a, dtype), state.value)
    x = _inputs(kind)
    x = encode.Repeated(x.value.astype(dtype), x.steps) if kind == "constant" else x.astype(dtype)
    loss_b, grads_b, out_b = bsnn.BPTT("membrane-sum-ce").loss_and_grads(model, x, LABELS)
    loss_e, grads_e, out_e = EProp("membrane-sum-ce", record_output=True).loss_and_grads(model, x, LABELS)
    assert float(out_b.counts[0].sum()) > 20, "the layer must spike for a meaningful check"
    np.testing.assert_array_equal(np.asarray(out_e.spikes), np.asarray(out_b.spikes))
    np.testing.assert_allclose(float(loss_e), float(loss_b), rtol=1e-6)
    g_b, g_e = layer_grads(model, grads_b), layer_grads(model, grads_e)
    assert all(a.dtype == dtype for layer in g_e for a in layer if a is not None)
    scale = max(float(np.abs(a).max()) for a in g_b[0] if a is not None)
    err = _max_diff(g_b, g_e)
    print(f"{np.dtype(dtype).name} reset={reset} input={kind}: max |g| = {scale:.3g}, "
          f"max |eprop - bptt| = {err:.2e}")
    return scale, err


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("kind", ["poisson", "constant"])
def test_single_layer_eprop_equals_bptt(reset, kind):
    """One spiking layer, loss on its own per-step membrane, detached reset: e-prop is BPTT.

    In float64 the two agree to rounding (the identity is exact); in float32 to 1e-5 of
    the gradient's scale (the loss sums 30 steps, so gradients are O(10)).
    """
    with jax.enable_x64(True):
        scale, err = _single_layer_comparison(reset, kind, jnp.float64)
    assert scale > 1 and err <= 1e-5 and err <= 1e-12 * scale
    if reset == "soft":                 # float32 once per input kind (the reset adds nothing to rounding)
        scale, err = _single_layer_comparison(reset, kind, jnp.float32)
        assert err <= 1e-5 * scale


def test_surrogate_option_overrides_the_rule_only():
    """The hidden layer's pseudo-derivative enters; by default the rule's is SuperSpike."""
    model = _memoryless_readout("leaky", surrogate="atan")
    x = _inputs("poisson")
    _, grads_b, out_b = bsnn.BPTT("membrane-sum-ce").loss_and_grads(model, x, LABELS)
    _, grads_own, _ = EProp(surrogate=None).loss_and_grads(model, x, LABELS)
    _, grads_ss, out_ss = EProp().loss_and_grads(model, x, LABELS)           # superspike by default
    g_b = layer_grads(model, grads_b)
    assert _max_diff(g_b, layer_grads(model, grads_own)) <= 1e-5
    assert _max_diff(g_b, layer_grads(model, grads_ss)) > 1e-2
    for c, c_b in zip(out_ss.counts, out_b.counts):                        # the spikes do not change
        np.testing.assert_array_equal(np.asarray(c), np.asarray(c_b))


def _memoryless_readout(readout, surrogate="superspike"):
    """Hidden LIF layer -> read-out with tau_syn = 0 and beta = 0: V_out[t] = W s[t] + b."""
    return bsnn.SpikingClassifier([12, 16, 4], tau_mem=[10 * u.ms, 1e-6 * u.ms], tau_syn=[4 * u.ms, 0 * u.ms],
                                  surrogate=surrogate, readout=readout,
                                  w_scale=[6.0, 1.0 if readout == "leaky" else 4.0])


def test_two_layers_exact_when_the_readout_is_memoryless():
    model = _memoryless_readout("leaky")
    x = _inputs("poisson")
    _, grads_b, _ = bsnn.BPTT("membrane-sum-ce").loss_and_grads(model, x, LABELS)
    _, grads_e, out = EProp().loss_and_grads(model, x, LABELS)
    assert float(out.counts[0].sum()) > 50
    g_b, g_e = layer_grads(model, grads_b), layer_grads(model, grads_e)
    assert float(np.abs(g_b[0][0]).max()) > 1e-2
    assert _max_diff(g_b, g_e) <= 1e-5


def test_deep_network_output_layer_exact_hidden_layers_aligned():
    model = bsnn.SpikingClassifier([12, 16, 4], tau_mem=10 * u.ms, tau_syn=4 * u.ms, surrogate="superspike",
                                   readout="leaky", w_scale=[6.0, 1.0], recurrent=True)
    x = _inputs("poisson")
    _, grads_b, _ = bsnn.BPTT("membrane-sum-ce").loss_and_grads(model, x, LABELS)
    g_b = layer_grads(model, grads_b)
    for method in (EProp(), RandomFeedback()):
        g = layer_grads(model, method.loss_and_grads(model, x, LABELS)[1])
        np.testing.assert_allclose(g[1][0], g_b[1][0], atol=1e-5)      # read-out weights: exact
        np.testing.assert_allclose(g[1][1], g_b[1][1], atol=1e-5)
        assert np.all(np.isfinite(g[0][0])) and np.all(np.isfinite(g[0][2]))
    g_e = layer_grads(model, EProp().loss_and_grads(model, x, LABELS)[1])
    print("eprop/bptt cosine, hidden W, W_rec:", _cos(g_e[0][0], g_b[0][0]), _cos(g_e[0][2], g_b[0][2]))
    assert _cos(g_e[0][0], g_b[0][0]) > 0.5


@pytest.mark.parametrize("two_layers", [False, True])
def test_rate_error_is_the_gradient_of_the_fixed_online_error(two_layers):
    """count-ce: the rule is the gradient of sum_t e[t] . S_out[t] with e[t] from the running counts."""
    model = (_memoryless_readout("spiking") if two_layers else
             bsnn.SpikingClassifier([12, 4], tau_mem=10 * u.ms, surrogate="superspike", readout="spiking",
                                    w_scale=4.0))
    _excite(model)                                                        # output neurons near threshold
    x = _inputs("poisson", steps=25)
    steps = x.shape[0]
    specs, weights = model.specs, model.weights()
    spikes = simulate(specs, weights, x, dt=model.dt_ms).spikes
    estimate = jnp.cumsum(spikes, 0) * (steps / jnp.arange(1.0, steps + 1))[:, None, None]
    count_loss = lambda c: CountCE()(NetworkOutput(c[None], c[None], (), 1.0), LABELS)
    errors = jax.vmap(jax.grad(count_loss))(estimate)
    objective = lambda ws: jnp.sum(errors * simulate(specs, ws, x, dt=model.dt_ms).spikes)
    g_ref = jax.grad(objective)(weights)
    loss, grads, out = EProp("count-ce").loss_and_grads(model, x, LABELS)
    g_e = layer_grads(model, grads)
    assert float(out.counts[-1].sum()) >= 20
    np.testing.assert_allclose(float(loss), float(count_loss(spikes.sum(0))), rtol=1e-6)
    for k, (w, b, _) in enumerate(g_e):
        assert float(np.abs(g_ref[k].w).max()) > 1e-3
        np.testing.assert_allclose(w, np.asarray(g_ref[k].w), atol=1e-5)
        np.testing.assert_allclose(b, np.asarray(g_ref[k].b), atol=1e-5)


def test_window_is_the_gradient_of_the_last_k_steps():
    model = bsnn.SpikingClassifier([12, 5], tau_mem=10 * u.ms, surrogate="superspike", readout="spiking",
                                   w_scale=4.0)
    x, k = _inputs("poisson"), 7
    specs, weights = model.specs, model.weights()
    ce = MembraneSumCE()

    def objective(ws):
        out = simulate(specs, ws, x, dt=model.dt_ms)
        return ce(out._replace(v=out.v[-k:]), LABELS)

    g_ref = jax.grad(objective)(weights)
    loss, grads, _ = EProp(window=k).loss_and_grads(model, x, LABELS)
    (w, b, _), = layer_grads(model, grads)
    np.testing.assert_allclose(w, np.asarray(g_ref[0].w), atol=1e-5)
    np.testing.assert_allclose(b, np.asarray(g_ref[0].b), atol=1e-5)
    full = EProp().loss_and_grads(model, x, LABELS)
    assert float(loss) == pytest.approx(float(full[0]))                  # the reported loss: all steps
    assert _max_diff(layer_grads(model, EProp(window=x.shape[0]).loss_and_grads(model, x, LABELS)[1]),
                     layer_grads(model, full[1])) == 0.0


# ---- random feedback ------------------------------------------------------------------------

def test_random_feedback_with_the_transposed_weights_is_eprop():
    class Transposed(RandomFeedback):
        def feedback(self, model):
            return [model.layers[1].weights().w.T]

    model = bsnn.SpikingClassifier([12, 16, 4], tau_mem=10 * u.ms, surrogate="superspike", readout="leaky",
                                   w_scale=[6.0, 1.0])
    x = _inputs("poisson")
    g_e = layer_grads(model, EProp().loss_and_grads(model, x, LABELS)[1])
    g_t = layer_grads(model, Transposed().loss_and_grads(model, x, LABELS)[1])
    g_r = layer_grads(model, RandomFeedback().loss_and_grads(model, x, LABELS)[1])
    assert _max_diff(g_e, g_t) <= 1e-6
    assert _max_diff([g_e[0]], [g_r[0]]) > 1e-3                          # random B: other hidden grads
    np.testing.assert_array_equal(g_e[1][0], g_r[1][0])                  # same read-out grads


def test_random_feedback_matrices_are_fixed_by_the_seed():
    model = bsnn.SpikingClassifier([12, 16, 4], surrogate="superspike", readout="leaky", w_scale=[6.0, 1.0])
    x = _inputs("constant")
    a = layer_grads(model, RandomFeedback(seed=3).loss_and_grads(model, x, LABELS)[1])
    b = layer_grads(model, RandomFeedback(seed=3).loss_and_grads(model, x, LABELS)[1])
    c = layer_grads(model, RandomFeedback(seed=4).loss_and_grads(model, x, LABELS)[1])
    assert _max_diff(a, b) == 0.0
    assert _max_diff(a, c) > 1e-4
    half = layer_grads(model, RandomFeedback(seed=3, feedback_scale=0.5).loss_and_grads(model, x, LABELS)[1])
    np.testing.assert_allclose(half[0][0], 0.5 * a[0][0], rtol=1e-5, atol=1e-8)


# ---- the forward pass and the returned output ----------------------------------------------

@pytest.mark.parametrize("name", ["eprop", "feedback"])
def test_spikes_identical_to_model_run(name):
    model = _excite(bsnn.SpikingClassifier([12, 16, 8, 4], surrogate="superspike", readout="spiking",
                                           recurrent=[True, False], w_scale=[6.0, 3.0, 3.0]))
    x = _inputs("poisson")
    ref = model.run(x, hoist=False)
    _, _, out = get_method(name, loss="count-ce", record_output=True).loss_and_grads(model, x, LABELS)
    np.testing.assert_array_equal(np.asarray(out.spikes), np.asarray(ref.spikes))
    np.testing.assert_allclose(np.asarray(out.v), np.asarray(ref.v), atol=1e-6)
    for c, c_ref in zip(out.counts, ref.counts):
        np.testing.assert_array_equal(np.asarray(c), np.asarray(c_ref))
    assert all(float(c.sum()) > 10 for c in ref.counts)
    np.testing.assert_array_equal(np.asarray(model.run(x).spikes), np.asarray(ref.spikes))


def test_reduced_output_predicts_like_the_full_trace():
    model = _excite(bsnn.SpikingClassifier([12, 16, 4], surrogate="superspike", readout="spiking",
                                           w_scale=[6.0, 3.0]))
    x = _inputs("poisson")
    full = model.run(x)
    assert float(full.counts[-1].sum()) > 10
    _, _, out = EProp().loss_and_grads(model, x, LABELS)
    assert out.spikes.shape == (1, 4, 4) and out.dt == pytest.approx(full.dt * x.shape[0])
    for loss in ("count-ce", "membrane-sum-ce", "mean-membrane-ce", "count-mse"):
        loss = bsnn.get_loss(loss)
        np.testing.assert_array_equal(np.asarray(loss.predict(out)), np.asarray(loss.predict(full)))
    duration = lambda o: o.v.shape[0] * o.dt
    for c, c_full in zip(out.counts, full.counts):
        np.testing.assert_array_equal(np.asarray(c), np.asarray(c_full))
    assert duration(out) == pytest.approx(duration(full))


# ---- memory: no time axis in the computation ----------------------------------------------

def _intermediate_shapes(jaxpr, acc):
    for eqn in jaxpr.eqns:
        acc.extend((eqn.primitive.name, tuple(v.aval.shape)) for v in eqn.outvars)
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else (param,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    _intermediate_shapes(sub.jaxpr, acc)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    _intermediate_shapes(sub, acc)
    return acc


@pytest.mark.parametrize("kind", ["poisson", "constant"])
def test_no_intermediate_array_has_a_time_axis(kind):
    steps = 37                                     # no other dimension is 37
    model = bsnn.SpikingClassifier([12, 16, 5], surrogate="superspike", readout="spiking", recurrent=True, w_scale=1.0)
    x = _inputs(kind, steps=steps)

    def shapes(method):
        fn = lambda x: method.loss_and_grads(model, x, LABELS)[:2]
        return _intermediate_shapes(jax.make_jaxpr(fn)(x).jaxpr, [])

    for method in (EProp(), RandomFeedback("count-ce")):
        found = shapes(method)
        assert len(found) > 50
        timed = [s for s in found if steps in s[1]]
        assert not timed, f"{method.name}: intermediates with a time axis: {timed[:5]}"
    # With the full output trace, only [T, B, C] arrays have a time axis.
    timed = [s for s in shapes(EProp(record_output=True)) if steps in s[1]]
    assert timed and all(s[1] == (steps, 4, 5) for s in timed)
    # The check can fail: BPTT keeps [T, B, N_hidden] arrays.
    assert any(s[1] == (steps, 4, 16) for s in shapes(bsnn.BPTT("membrane-sum-ce")))


# ---- validation ------------------------------------------------------------------------------

def test_errors_name_the_problem():
    x = _inputs("poisson")
    leaky = bsnn.SpikingClassifier([12, 4], readout="leaky")
    with pytest.raises(ValueError, match="spiking read-out"):
        EProp("count-ce").loss_and_grads(leaky, x, LABELS)
    per_neuron = bsnn.SpikingClassifier([12, 4], tau_mem=np.linspace(10, 20, 4) * u.ms, readout="spiking", w_scale=1.0)
    with pytest.raises(ValueError, match="tau_mem per layer"):
        EProp().loss_and_grads(per_neuron, x, LABELS)
    with pytest.raises(ValueError, match="window"):
        EProp(window=100).loss_and_grads(leaky, x, LABELS)
    with pytest.raises(ValueError, match="window"):
        EProp(window=0)
    with pytest.raises(ValueError, match="loss must be one of"):
        EProp("max-membrane-ce")
    with pytest.raises(ValueError, match="does not match"):
        RandomFeedback("membrane-sum-ce", error="rate")
    with pytest.raises(ValueError, match="feedback_scale"):
        RandomFeedback(feedback_scale=-1.0)
    with pytest.raises(ValueError, match="seed"):
        RandomFeedback(seed=1.5)
    with pytest.raises(ValueError, match="surrogate"):
        EProp(surrogate="nope")
    assert RandomFeedback(error="rate").loss.name == "count-ce"
    assert type(get_method("eprop")) is EProp and type(get_method("feedback")) is RandomFeedback


# ---- learning ----------------------------------------------------------------------------

def _digits():
    try:
        from bsnn.data import digits
        ds = digits()
        return ds.x_train, ds.y_train, ds.x_test, ds.y_test
    except ImportError:                           # the same split, without bsnn.data
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        d = load_digits()
        x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int32)
        return train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)


def _train_digits(method, epochs=12, batch=32, steps=20):
    """64-128-10, constant current for 20 steps, leaky read-out, Adam 5e-3 (the random-feedback setup)."""
    x_tr, y_tr, x_te, y_te = _digits()
    model = bsnn.SpikingClassifier([64, 128, 10], tau_mem=20 * u.ms, tau_syn=5 * u.ms, surrogate="superspike",
                                   readout="leaky", w_scale=[3.0, 1.0])
    encoder = lambda p, key: encode.constant(p, steps)
    step = bsnn.TrainStep(model, method, bsnn.make_optimizer("adam", lr=5e-3), encoder)
    evaluate = bsnn.EvalStep(model, method.loss, encoder)
    rng, key = np.random.default_rng(0), jax.random.PRNGKey(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(y_tr))
        for i in range(0, len(order) - batch + 1, batch):
            metrics = step(x_tr[order[i:i + batch]], y_tr[order[i:i + batch]], key)
    jax.block_until_ready(metrics.loss)
    accuracy = float(evaluate(x_te, y_te, key).correct) / len(y_te)
    seconds = time.perf_counter() - start
    print(f"{method!r}: {accuracy:.4f} test accuracy after {epochs} epochs, {seconds:.1f} s (incl. compile)")
    return accuracy


def test_eprop_learns_digits():
    assert _train_digits(EProp()) >= 0.93


@pytest.mark.parametrize("window", [None, 10])
def test_random_feedback_learns_digits(window):
    """The notebook's rule, with and without its learning window (errors of the last 10 of 20 steps)."""
    assert _train_digits(RandomFeedback(window=window)) >= 0.90


def test_a_loss_over_the_last_steps_is_the_error_window():
    """``membrane-sum-ce`` with ``last=K`` trains and reports exactly the last K steps: e-prop's window
    is the loss's, the reported loss is the windowed loss of the model's own run."""
    model = bsnn.SpikingClassifier([12, 5], tau_mem=10 * u.ms, surrogate="superspike", readout="leaky",
                                   w_scale=4.0)
    x, k = _inputs("poisson"), 7
    rule = EProp(MembraneSumCE(last=k))
    loss, grads, summary = rule.loss_and_grads(model, x, LABELS)
    ref_loss, ref_grads, _ = EProp(window=k).loss_and_grads(model, x, LABELS)
    # the one-step summary is read over the window, as the loss reads the full run (TrainStep's accuracy)
    np.testing.assert_array_equal(np.asarray(rule.predict(summary)),
                                  np.asarray(MembraneSumCE(last=k).predict(model.run(x))))
    assert _max_diff(layer_grads(model, grads), layer_grads(model, ref_grads)) == 0.0
    assert float(loss) == pytest.approx(float(MembraneSumCE(last=k)(model.run(x), LABELS)), rel=1e-5)
    assert float(loss) < float(ref_loss)                              # the rule's window reports all steps
    assert EProp(MembraneSumCE(last=k), window=k).window == k
    with pytest.raises(ValueError, match="window=5 disagrees with the loss's last=7"):
        EProp(MembraneSumCE(last=k), window=5)
