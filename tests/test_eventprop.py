"""EventProp: same spikes as BPTT, gradients against finite differences, degenerate cases, learning.

Gradient references:

* the discrete model itself (central differences of the loss on interpolated spike times,
  float64): exact for the read-out layer's weights, since the adjoint is the transpose of
  the discrete step plus the derivative of the interpolated crossing;
* for hidden layers, the continuous-time model that the discretization converges to
  (``event_network``: an exact event-driven simulation, NumPy + ``brentq``). In the
  discrete model a hidden spike reaches the next layer on the grid, so the loss is a
  staircase in hidden weights (steps of ``dt``); finite differences of it measure the
  staircase, not the gradient: at ``dt = 0.01 ms`` they miss the continuous-time gradient
  by 1-140%. EventProp at ``dt = 0.01 ms`` is within a few percent of it for most weights
  (up to ~20% where a hidden spike and a crossing it drives fall a few steps apart); at
  ``dt = 0.002 ms``, the step used below, within 1%.
"""

import time

import brainstate
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import brentq

import bsnn
from bsnn import encode
from bsnn.losses import FirstSpikeCE, MembraneMaxCE, MembraneMeanCE
from bsnn.methods import get_method
from bsnn.methods.eventprop import EventProp, crossings, eventprop_run

TAU_MEM, TAU_SYN, V_TH = 20.0, 5.0, 1.0
TAU0, TAU1, ALPHA = 1.0, 10.0, 3e-3                       # first-spike CE with its regularizer
FIRST_SPIKE = FirstSpikeCE(tau0=TAU0, tau1=TAU1, alpha=ALPHA)


# ---- continuous-time reference ---------------------------------------------------------------
def event_layer(ev_t, ev_w, t_end, w_rec=None, grid=256):
    """Exact event-driven LIF layer (``V_rest = V_reset = 0``). ``ev_t [E]`` sorted input times,
    ``ev_w [E, N]`` the current jump of each input on each neuron. Returns spike-time lists."""
    a = TAU_SYN / (TAU_SYN - TAU_MEM)
    v, i, t, e = np.zeros(ev_w.shape[1]), np.zeros(ev_w.shape[1]), 0.0, 0
    spikes = [[] for _ in range(ev_w.shape[1])]

    def v_at(s, v0, i0):
        return v0 * np.exp(-s / TAU_MEM) + i0 * a * (np.exp(-s / TAU_SYN) - np.exp(-s / TAU_MEM))

    while True:
        while e < len(ev_t) and ev_t[e] <= t:
            i, e = i + ev_w[e], e + 1
        t_next = ev_t[e] if e < len(ev_t) else t_end
        s_grid = np.linspace(0.0, t_next - t, grid)
        above = v_at(s_grid[None], v[:, None], i[:, None]) >= V_TH
        first = np.where(above.any(1), above.argmax(1), grid)
        if first.min() < grid:                        # earliest crossing; solve each tied neuron
            g, cand = int(first.min()), np.nonzero(first == first.min())[0]
            ts = [0.0 if g == 0 else brentq(lambda s: v_at(s, v[c], i[c]) - V_TH, s_grid[g - 1],
                                            s_grid[g], xtol=1e-14) for c in cand]
            k, s = int(cand[int(np.argmin(ts))]), min(ts)
            v, i, t = v_at(s, v, i), i * np.exp(-s / TAU_SYN), t + s
            v[k] = 0.0
            spikes[k].append(t)
            if w_rec is not None:
                i = i + w_rec[k]
            continue
        if t_next >= t_end:
            return spikes
        v, i, t = v_at(t_next - t, v, i), i * np.exp(-(t_next - t) / TAU_SYN), t_next


def event_network(in_times, weights, t_end, w_rec=None):
    """Per input neuron a list of times -> per layer, per neuron spike times (``w_rec``: first layer)."""
    times, layers = in_times, []
    for k, w in enumerate(weights):
        ev = sorted((t, j) for j, ts in enumerate(times) for t in ts)
        ev_w = np.array([w[j] for _, j in ev]).reshape(len(ev), w.shape[1])
        times = event_layer(np.array([t for t, _ in ev]), ev_w, t_end, w_rec if k == 0 else None)
        layers.append(times)
    return layers


def _log_softmax(z):
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def reference_loss(case, in_times, ws, w_rec, labels, t_end, t_grid):
    """The continuous-time loss (first-spike CE with regularizer, or CE of max / mean read-out membrane)."""
    total, a = 0.0, TAU_SYN / (TAU_SYN - TAU_MEM)
    for b, lab in enumerate(labels):
        if case.readout == "spiking":
            out = event_network(in_times[b], ws, t_end, w_rec)[-1]
            t = np.array([ts[0] if ts else t_end for ts in out])
            total += -_log_softmax(-t / TAU0)[lab] + ALPHA * (np.exp(t[lab] / TAU1) - 1.0)
        else:
            hidden = event_network(in_times[b], ws[:-1], t_end, w_rec)[-1]
            v = np.zeros((len(t_grid), ws[-1].shape[1]))
            for j, ts in enumerate(hidden):
                for th in ts:
                    s = np.maximum(t_grid - th, 0.0)
                    v += ((t_grid >= th) * a * (np.exp(-s / TAU_SYN) - np.exp(-s / TAU_MEM)))[:, None] * ws[-1][j]
            v = v[len(t_grid) - case.last:] if case.last else v
            z = v.max(0) if case.loss == "max-membrane-ce" else v.mean(0)
            total += -_log_softmax(z)[lab]
    return total / len(labels)


# ---- helpers ---------------------------------------------------------------------------------
def _model(sizes, dt, readout="spiking", recurrent=False, **kw):
    kw = {"tau_mem": TAU_MEM * u.ms, "tau_syn": TAU_SYN * u.ms, "V_th": V_TH * u.mV, "w_scale": 1.0, **kw}
    return bsnn.SpikingClassifier(sizes, dt=dt * u.ms, readout=readout, recurrent=recurrent, **kw)


def _input(rng, batch, n_in, dt, steps, window=10.0):
    """One input spike per neuron at a random time in ``[0, window)`` ms on the 0.01 ms grid."""
    k = np.round(rng.uniform(0, window, size=(batch, n_in)) / 0.01).astype(int) * int(round(0.01 / dt))
    x = np.zeros((steps, batch, n_in))
    for b in range(batch):
        x[k[b], b, np.arange(n_in)] = 1.0
    return x, [[[kk * dt] for kk in row] for row in k]


def _weights(ws, w_rec=None):
    rec = [None] * len(ws) if w_rec is None else [jnp.asarray(w_rec)] + [None] * (len(ws) - 1)
    return [bsnn.LayerWeights(jnp.asarray(w), jnp.zeros(w.shape[1]), r) for w, r in zip(ws, rec)]


def _loss_fn(specs, dt, x, labels, loss, **kw):
    run = eventprop_run(specs, dt, **kw)

    def f(weights):
        r = run(weights, x)
        out = bsnn.NetworkOutput(r.spikes[-1], r.v, tuple(s.sum(0) for s in r.spikes), dt,
                                 first_spike_time=r.first_spike_time)
        return loss(out, labels), out.counts
    return jax.jit(f)


def _central(f, ws, layer, idx, eps):
    plus, minus = [w.copy() for w in ws], [w.copy() for w in ws]
    plus[layer][idx] += eps
    minus[layer][idx] -= eps
    return f(plus), f(minus)


# ---- forward: identical spikes ---------------------------------------------------------------
@pytest.fixture(scope="module")
def forward_setup():
    brainstate.random.seed(0)
    model = _model([12, 16, 4], 1.0, recurrent=True, w_scale=[6.0, 4.0])
    method = EventProp("first-spike-ce")
    ep = jax.jit(lambda w, x: method.run(model, w, x))
    return model, ep


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rate=st.floats(0.05, 0.6))
def test_forward_spikes_identical_to_bptt_and_brainpy(forward_setup, seed, rate):
    model, ep = forward_setup
    rng = np.random.default_rng(seed)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    weights = [bsnn.LayerWeights(f32(rng.normal(0.3, 1.5, w.w.shape) * 4 / np.sqrt(w.w.shape[0])),
                                 f32(rng.normal(0, 0.05, w.b.shape)),
                                 None if w.w_rec is None else f32(rng.normal(0, 0.3, w.w_rec.shape)))
               for w in model.weights()]
    for layer, w in zip(model.layers, weights):
        layer.linear.weight.value = {"weight": w.w, "bias": w.b}
        if w.w_rec is not None:
            layer.recurrent.weight.value = {"weight": w.w_rec}
    x = jnp.asarray(rng.random((30, 3, 12)) < rate, jnp.float32)
    out = ep(model.weights(), x)
    ref = model.run(x)
    assert float(out.counts[0].sum()) > 0, "the hidden layer must spike for a meaningful comparison"
    model.init_state(3)                                   # the brainpy.state composition, stepped
    composed = brainstate.transform.for_loop(lambda xt: model.update(xt).spikes, x)
    np.testing.assert_array_equal(np.asarray(out.spikes), np.asarray(ref.spikes))
    np.testing.assert_array_equal(np.asarray(out.spikes), np.asarray(composed))
    np.testing.assert_array_equal(np.asarray(out.v), np.asarray(ref.v))
    for c, c_ref in zip(out.counts, ref.counts):
        np.testing.assert_array_equal(np.asarray(c), np.asarray(c_ref))


# ---- gradients against the discrete model ----------------------------------------------------
def test_single_layer_matches_discrete_finite_differences():
    """20 -> 3, dt = 0.01 ms: every weight (and bias) against central differences of the loss on
    interpolated first-spike times; the adjoint is the exact derivative of the discrete model."""
    dt, steps = 0.01, 2500
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        model = _model([20, 3], dt)
        x, _ = _input(rng, 4, 20, dt, steps)
        ws = [rng.normal(0.45, 0.25, (20, 3))]
        labels = jnp.array([0, 1, 2, 1])
        f = _loss_fn(model.specs, dt, jnp.asarray(x), labels, FIRST_SPIKE)
        grads = jax.grad(lambda w: f(w)[0])(_weights(ws))
        counts = f(_weights(ws))[1]
        assert np.all(np.asarray(counts[-1]) > 0), "every output neuron must spike for this check"
        errors = []
        for idx in np.ndindex(20, 3):
            lp, lm = _central(lambda w: f(_weights(w)), ws, 0, idx, 1e-6)
            if any(not np.array_equal(a, c) for a, c in zip(lp[1] + lm[1], counts + counts)):
                continue                                      # the perturbation moved a spike count
            fd = (float(lp[0]) - float(lm[0])) / 2e-6
            errors.append(abs(float(grads[0].w[idx]) - fd) / abs(fd))
        assert len(errors) >= 50
        print(f"single layer: {len(errors)} weights, max relative error {max(errors):.2e}")
        assert max(errors) < 1e-4                             # the spec asks for 5%: this is exact
        bias = lambda b: float(f([bsnn.LayerWeights(jnp.asarray(ws[0]), jnp.asarray(b))])[0])
        for j in range(3):
            db = np.eye(3)[j] * 1e-8
            np.testing.assert_allclose(float(grads[0].b[j]), (bias(db) - bias(-db)) / 2e-8, rtol=1e-4)


def test_output_layer_of_two_layers_matches_discrete_finite_differences():
    """As above for the output layer of two, under forward Euler (``integrator="euler"``): the
    adjoint is the exact derivative of the discrete model of either integrator."""
    dt, steps = 0.01, 3000
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        model = _model([20, 10, 3], dt, integrator="euler")
        x, _ = _input(rng, 4, 20, dt, steps)
        ws = [rng.normal(0.6, 0.5, (20, 10)), rng.normal(1.2, 0.8, (10, 3))]
        labels = jnp.array([0, 1, 2, 1])
        f = _loss_fn(model.specs, dt, jnp.asarray(x), labels, FIRST_SPIKE)
        grads = jax.grad(lambda w: f(w)[0])(_weights(ws))
        errors = []
        for idx in np.ndindex(10, 3):
            lp, lm = _central(lambda w: f(_weights(w)), ws, 1, idx, 1e-6)
            fd = (float(lp[0]) - float(lm[0])) / 2e-6
            if abs(fd) > 1e-4:
                errors.append(abs(float(grads[1].w[idx]) - fd) / abs(fd))
        print(f"two layers, output weights: {len(errors)} weights, max relative error {max(errors):.2e}")
        assert len(errors) >= 20 and max(errors) < 1e-4


# ---- gradients of hidden layers against the continuous-time model ----------------------------
class Case:
    def __init__(self, name, sizes, readout="spiking", loss="first-spike-ce", recurrent=False, reset="soft",
                 seed=3, last=None):
        self.name, self.sizes, self.readout, self.loss, self.last = name, sizes, readout, loss, last
        self.recurrent, self.reset, self.seed = recurrent, reset, seed

    def __repr__(self):
        return self.name


CASES = [Case("two-spiking-layers", [20, 10, 3]),
         Case("two-spiking-layers-hard-reset", [20, 10, 3], reset="hard", seed=4),
         Case("three-spiking-layers", [20, 10, 10, 3]),
         Case("recurrent-hidden", [20, 10, 3], recurrent=True),
         Case("leaky-readout-max", [20, 10, 3], readout="leaky", loss="max-membrane-ce"),
         Case("leaky-readout-mean", [20, 10, 3], readout="leaky", loss="mean-membrane-ce"),
         Case("leaky-readout-mean-last-10ms", [20, 10, 3], readout="leaky", loss="mean-membrane-ce", last=5000)]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_hidden_layers_match_continuous_time_finite_differences(case):
    """EventProp at dt = 0.002 ms against central differences (eps 1e-6) of the exact
    continuous-time loss: 5% on every weight whose gradient is at least a tenth of its layer's
    largest, and within 5% of that largest for the others."""
    dt, t_end = 0.002, 30.0
    steps = int(round(t_end / dt))
    rng = np.random.default_rng(case.seed)
    labels = np.array([0, 1, 2])
    with jax.enable_x64(True):
        model = _model(case.sizes, dt, readout=case.readout, recurrent=case.recurrent, reset=case.reset)
        x, in_times = _input(rng, 3, 20, dt, steps)
        ws = [rng.normal(0.6, 0.5, (20, 10))] + [rng.normal(0.5, 0.4, (10, 10)) for _ in case.sizes[2:-1]]
        ws += [rng.normal(1.2, 0.8, (10, 3))]
        w_rec = None
        if case.recurrent:
            w_rec = rng.normal(0.0, 0.3, (10, 10))
            np.fill_diagonal(w_rec, 0.0)
        loss = {"first-spike-ce": FIRST_SPIKE, "max-membrane-ce": MembraneMaxCE(last=case.last),
                "mean-membrane-ce": MembraneMeanCE(last=case.last)}[case.loss]
        f = _loss_fn(model.specs, dt, jnp.asarray(x), jnp.asarray(labels), loss)
        grads = jax.grad(lambda w: f(w)[0])(_weights(ws, w_rec))
        value, counts = f(_weights(ws, w_rec))
        assert all(float(c.sum()) > 5 for c in counts[:-1]), "hidden layers must spike"
    t_grid = (np.arange(steps) + 1) * dt
    ref = lambda w, r: reference_loss(case, in_times, w, r, labels, t_end, t_grid)
    np.testing.assert_allclose(float(value), ref(ws, w_rec), rtol=2e-3)   # same loss up to O(dt)
    checks = [(k, g.w, ws[k]) for k, g in enumerate(grads)]
    report = []
    for k, g, w in checks:
        idx = [(i, j) for i in range(0, w.shape[0], 3) for j in range(0, w.shape[1], 2)]
        fd = np.array([(ref(*_perturb(ws, w_rec, k, ij, 1e-6)) - ref(*_perturb(ws, w_rec, k, ij, -1e-6))) / 2e-6
                       for ij in idx])
        ep = np.array([float(g[ij]) for ij in idx])
        _assert_close(ep, fd, f"{case} layer {k}", report)
    if w_rec is not None:
        idx = [(0, 1), (1, 2), (2, 5), (5, 8), (8, 3), (3, 7), (7, 0)]
        fd = np.array([(ref(ws, _bump(w_rec, ij, 1e-6)) - ref(ws, _bump(w_rec, ij, -1e-6))) / 2e-6 for ij in idx])
        _assert_close(np.array([float(grads[0].w_rec[ij]) for ij in idx]), fd, f"{case} recurrent", report)
    print("\n".join(report))


def _bump(w, ij, eps):
    w = w.copy()
    w[ij] += eps
    return w


def _perturb(ws, w_rec, k, ij, eps):
    return [(_bump(w, ij, eps) if n == k else w) for n, w in enumerate(ws)], w_rec


def _assert_close(ep, fd, what, report):
    top = np.abs(fd).max()
    assert top > 0, f"{what}: no gradient to check"
    big = np.abs(fd) >= 0.1 * top
    rel = np.abs(ep - fd)[big] / np.abs(fd[big])
    small = np.abs(ep - fd)[~big] / top
    report.append(f"{what}: {big.sum()} weights max rel err {rel.max():.3f}; "
                  f"{(~big).sum()} small ones max err/top {small.max() if small.size else 0:.3f}")
    assert big.sum() >= 3
    assert rel.max() < 0.05, report[-1]
    assert small.size == 0 or small.max() < 0.05, report[-1]


# ---- degenerate cases ------------------------------------------------------------------------
def _single_input(w_out, steps, dt=1.0, bias=None):
    """One input spike at t = 0 onto ``len(w_out)`` output neurons (float64, for exact checks)."""
    x = np.zeros((steps, 1, 1))
    x[0, 0, 0] = 1.0
    b = np.zeros(len(w_out)) if bias is None else np.asarray(bias, np.float64)
    return jnp.asarray(x), [bsnn.LayerWeights(jnp.asarray(np.asarray(w_out, np.float64)[None]), jnp.asarray(b))]


def _finite(tree):
    return all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(tree))


def test_silent_output_neuron():
    """A silent neuron's time is ``T dt`` (exact EventProp: no gradient), or with ``silent_scale``
    extends past the window through its peak membrane, with the matching gradient."""
    with jax.enable_x64(True):
        model = _model([1, 3], 1.0)
        x, w = _single_input([9.0, 8.0, 2.0], 30)                 # neuron 2 peaks near 0.35 mV: silent
        labels = jnp.array([2])
        for scale in (0.0, 20.0):
            f = _loss_fn(model.specs, 1.0, x, labels, FIRST_SPIKE, silent_scale=scale)
            run = eventprop_run(model.specs, 1.0, silent_scale=scale)
            t = run(w, x).first_spike_time
            counts = np.asarray(run(w, x).spikes[-1][:, 0].sum(0))
            assert counts[0] > 0 and counts[1] > 0 and counts[2] == 0
            g = jax.grad(lambda w: f(w)[0])(w)
            assert _finite(g) and np.isfinite(float(f(w)[0]))
            if scale == 0.0:
                assert float(t[0, 2]) == 30.0 and float(g[0].w[0, 2]) == 0.0 and float(g[0].b[2]) == 0.0
            else:
                vmax = float(run(w, x).v[:, 0, 2].max())
                np.testing.assert_allclose(float(t[0, 2]), 30.0 + scale * (1.0 - vmax), rtol=1e-12)
                fd = _fd_weight(f, w, 0, 2)
                assert fd < 0                                     # the label neuron is pulled up
                np.testing.assert_allclose(float(g[0].w[0, 2]), fd, rtol=1e-5)


def _fd_weight(f, w, i, j, eps=1e-7):
    bump = lambda e: float(f([bsnn.LayerWeights(w[0].w.at[i, j].add(e), w[0].b)] + list(w[1:]))[0])
    return (bump(eps) - bump(-eps)) / (2 * eps)


def test_two_neurons_spiking_in_the_same_step():
    """Twin neurons cross in the same step at the same interpolated time; each time stays a
    smooth function of its own weights, and the gradients match finite differences."""
    with jax.enable_x64(True):
        model = _model([1, 3], 1.0)
        x, w = _single_input([8.0, 8.0, 7.0], 30)
        f = _loss_fn(model.specs, 1.0, x, jnp.array([0]), FIRST_SPIKE)
        out = eventprop_run(model.specs, 1.0)(w, x)
        k = np.argmax(np.asarray(out.spikes[-1][:, 0, :2]), axis=0)
        assert k[0] == k[1]
        assert float(out.first_spike_time[0, 0]) == float(out.first_spike_time[0, 1])
        g = jax.grad(lambda w: f(w)[0])(w)
        assert _finite(g)
        assert float(g[0].w[0, 0]) < 0 < float(g[0].w[0, 1])        # label earlier, twin later
        for j in range(3):
            np.testing.assert_allclose(float(g[0].w[0, j]), _fd_weight(f, w, 0, j), rtol=1e-5)


def test_burst_spikes_from_above_threshold_stay_finite():
    """A drive so strong that the membrane is still above threshold after the reset: the neuron
    spikes every step (in continuous time, several times per step). Those spikes have no
    crossing to interpolate; gradients stay finite and the first spike is still exact."""
    with jax.enable_x64(True):
        model = _model([1, 2], 1.0)
        x, w = _single_input([60.0, 2.0], 20)
        out = eventprop_run(model.specs, 1.0)(w, x)
        s, v = out.spikes[-1], out.v
        cr = crossings(s, v, model.specs[-1].constants, 1.0, 1e-3)
        assert float(s[:, 0, 0].sum()) >= 5 and float(cr.regular[:, 0, 0].sum()) < float(s[:, 0, 0].sum())
        f = _loss_fn(model.specs, 1.0, x, jnp.array([1]), FIRST_SPIKE)
        g = jax.grad(lambda w: f(w)[0])(w)
        assert _finite(g)
        np.testing.assert_allclose(float(g[0].w[0, 0]), _fd_weight(f, w, 0, 0), rtol=1e-5)
        # and through a hidden layer into a leaky read-out
        deep = _model([1, 2, 2], 1.0, readout="leaky")
        ws = w + [bsnn.LayerWeights(jnp.asarray([[1.0, -1.0], [0.5, 0.5]]), jnp.zeros(2))]
        fd = _loss_fn(deep.specs, 1.0, x, jnp.array([0]), MembraneMaxCE())
        assert _finite(jax.grad(lambda w: fd(w)[0])(ws))


def test_spike_in_the_last_step():
    dt, steps = 1.0, 6
    with jax.enable_x64(True):
        model = _model([1, 2], dt)
        x, unit = _single_input([1.0, 1.0], steps)                  # below threshold: V is linear in w
        v1 = np.asarray(eventprop_run(model.specs, dt)(unit, x).v[:, 0, 0])
        w_last = 1.001 / v1[-1]                                       # crosses in step T-1 only
        assert v1[-2] * w_last < 1.0
        x, w = _single_input([w_last, 0.1], steps)
        out = eventprop_run(model.specs, dt)(w, x)
        assert float(out.spikes[-1][-1, 0, 0]) == 1.0 and float(out.spikes[-1][:-1, 0, 0].sum()) == 0
        assert (steps - 1) * dt < float(out.first_spike_time[0, 0]) <= steps * dt
        f = _loss_fn(model.specs, dt, x, jnp.array([0]), FIRST_SPIKE)
        g = jax.grad(lambda w: f(w)[0])(w)
        np.testing.assert_allclose(float(g[0].w[0, 0]), _fd_weight(f, w, 0, 0, 1e-9), rtol=1e-5)


def test_near_zero_slope_crossing_is_guarded():
    """A bias holding the membrane at threshold (1 + 1e-6): the crossing is almost tangent.
    The guard bounds the slope below; without it the gradient grows by orders of magnitude."""
    dt, steps = 1.0, 400
    model = _model([1, 1], dt)
    c = model.specs[-1].constants
    bias = np.array([1.0 * (1 + 1e-6) * (1 - c.alpha)], np.float32)
    x = jnp.zeros((steps, 1, 1), jnp.float32)
    w = [bsnn.LayerWeights(jnp.zeros((1, 1), jnp.float32), jnp.asarray(bias))]
    out = eventprop_run(model.specs, dt)(w, x)
    assert float(out.spikes[-1].sum()) >= 1
    cr = crossings(out.spikes[-1], out.v, c, dt, 1e-3)
    k = int(np.argmax(np.asarray(out.spikes[-1][:, 0, 0])))
    rise = float(out.v[k, 0, 0] - out.v[k - 1, 0, 0])
    floor = 1e-3 * 1.0 / TAU_MEM
    assert rise / dt < floor and float(cr.slope[k, 0, 0]) == pytest.approx(floor, rel=1e-3)
    dtdb = {}
    for min_slope in (1e-3, 1e-12):
        g = jax.grad(lambda b: eventprop_run(model.specs, dt, min_slope)(
            [bsnn.LayerWeights(w[0].w, b)], x).first_spike_time.sum())(w[0].b)
        assert _finite(g)
        dtdb[min_slope] = abs(float(g[0]))
    assert dtdb[1e-3] < 1e6 < dtdb[1e-12]
    # synthetic crossings: rise exactly 0 and negative slopes give finite, clipped fractions
    s = jnp.array([[[0.0]], [[1.0]], [[1.0]]])
    v = jnp.array([[[1.0]], [[1.0]], [[0.5]]])
    cr = crossings(s, v, c._replace(v_th=1.0), dt, 1e-3)
    assert _finite(cr) and 0.0 <= float(cr.frac.min()) and float(cr.frac.max()) <= 1.0


# ---- the method interface and its errors -----------------------------------------------------
def test_method_interface_keys_and_train_step():
    brainstate.random.seed(1)
    model = _model([12, 16, 4], 1.0, recurrent=True, w_scale=[6.0, 4.0])
    x = encode.poisson(jax.random.uniform(jax.random.PRNGKey(0), (5, 12)), 30, jax.random.PRNGKey(1))
    labels = jnp.array([0, 1, 2, 3, 0])
    method = get_method("eventprop", loss="first-spike-ce")
    assert isinstance(method, EventProp)
    loss, grads, out = jax.jit(lambda x, y: method.loss_and_grads(model, x, y))(x, labels)
    params = model.states(brainstate.ParamState)
    assert set(grads) == set(params)
    for key, state in params.items():
        assert jax.tree.structure(grads[key]) == jax.tree.structure(state.value)
        for g, p in zip(jax.tree.leaves(grads[key]), jax.tree.leaves(state.value)):
            assert g.shape == p.shape and bool(jnp.all(jnp.isfinite(g)))
    assert out.first_spike_time.shape == (5, 4) and out.spikes.shape == (30, 5, 4)
    np.testing.assert_allclose(float(loss), float(method.loss(out, labels)), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(out.spikes), np.asarray(model.run(x).spikes))
    assert float(jnp.abs(grads[next(k for k, s in params.items() if s is model.layers[0].recurrent.weight)]
                         ["weight"]).sum()) > 0
    # a train step compiles and changes the weights
    before = np.asarray(model.layers[-1].linear.weight.value["weight"])
    step = bsnn.TrainStep(model, method, bsnn.make_optimizer("adam", 1e-2),
                          lambda p, k: encode.poisson(p, 30, k))
    metrics = step(np.asarray(jax.random.uniform(jax.random.PRNGKey(0), (5, 12))), np.asarray(labels),
                   jax.random.PRNGKey(1))
    assert np.isfinite(float(metrics.loss))
    assert not np.array_equal(before, np.asarray(model.layers[-1].linear.weight.value["weight"]))


def test_constant_current_input():
    brainstate.random.seed(2)
    model = _model([6, 8, 3], 1.0, readout="leaky", w_scale=[3.0, 2.0])
    x = encode.constant(jax.random.uniform(jax.random.PRNGKey(0), (4, 6)), 25, gain=2.0)
    labels = jnp.array([0, 1, 2, 0])
    method = EventProp("max-membrane-ce")
    f = jax.jit(lambda x, y: method.loss_and_grads(model, x, y))
    loss, grads, out = f(x, labels)
    loss2, grads2, _ = f(x.dense(), labels)
    np.testing.assert_allclose(float(loss), float(loss2), rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(grads2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="count-ce"):
        EventProp("count-ce")
    with pytest.raises(ValueError, match="min_slope"):
        EventProp(min_slope=0)
    with pytest.raises(ValueError, match="silent_scale"):
        EventProp(silent_scale=-1.0)
    x = jnp.zeros((10, 2, 4))
    labels = jnp.array([0, 1])
    leaky = _model([4, 3], 1.0, readout="leaky")
    spiking = _model([4, 3], 1.0)
    with pytest.raises(ValueError, match="spiking read-out"):
        EventProp("first-spike-ce").loss_and_grads(leaky, x, labels)
    with pytest.raises(ValueError, match="non-spiking read-out"):
        EventProp("max-membrane-ce").loss_and_grads(spiking, x, labels)
    with pytest.raises(ValueError, match="tau_syn"):
        EventProp("first-spike-ce").loss_and_grads(_model([4, 3], 1.0, tau_syn=0 * u.ms), x, labels)
    with pytest.raises(ValueError, match="labels"):
        EventProp("first-spike-ce").loss_and_grads(spiking, x, jnp.array([0, 1, 2]))


# ---- learning --------------------------------------------------------------------------------
def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int32)
    return train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)


def _train(model, method, optimizer, encoder, x_tr, y_tr, epochs, batch=32, schedule=False):
    step = bsnn.TrainStep(model, method, optimizer, encoder)
    for epoch in range(epochs):
        order = np.random.default_rng(1000 + epoch).permutation(len(y_tr))
        for i in range(0, len(order) - batch + 1, batch):
            step(x_tr[order[i:i + batch]], y_tr[order[i:i + batch]], jax.random.PRNGKey(0))
        if schedule:
            optimizer.lr_scheduler.step()


def test_learns_digits_with_first_spike_times():
    """64 -> 10, binary latency (ink at 10 ms, background at 20 ms, dt 1 ms, T 40), first-spike
    CE with the PyTorch reimplementation's constants (tau0 = 0.4 tau_syn, tau1 = 2 tau_syn,
    alpha = 0.01): >= 90% test accuracy (about 92%), read out from interpolated spike times."""
    x_tr, x_te, y_tr, y_te = _digits()
    brainstate.random.seed(0)
    model = _model([64, 10], 1.0, bias=False)
    rng = np.random.default_rng(0)
    model.layers[0].linear.weight.value = {"weight": jnp.asarray(rng.normal(0.2, 0.1, (64, 10)), jnp.float32)}
    encoder = lambda p, k: encode.binary_latency(  # noqa: E731
        p, 40, 1 * u.ms, t_black=20 * u.ms, t_white=10 * u.ms)
    method = EventProp("first-spike-ce", tau0=2.0, tau1=10.0, alpha=1e-2, silent_scale=20.0)
    opt = bsnn.make_optimizer("adam", 5e-3, schedule="cosine", epochs=30)
    t0 = time.perf_counter()
    _train(model, method, opt, encoder, x_tr, y_tr, epochs=30, schedule=True)
    out = jax.jit(lambda w, p: method.run(model, w, encoder(p, None)))(model.weights(), jnp.asarray(x_te))
    acc = float(jnp.mean(method.loss.predict(out) == y_te))
    print(f"EventProp first-spike digits: test accuracy {acc:.3f} after 30 epochs in "
          f"{time.perf_counter() - t0:.1f} s")
    assert acc >= 0.90


def test_learns_digits_through_a_hidden_layer():
    """64 -> 256 -> leaky 10, binary latency over 40 ms at dt 0.5 ms, CE of the peak read-out
    membrane: >= 90% test accuracy (about 92%); the hidden layer learns through EventProp's jumps."""
    x_tr, x_te, y_tr, y_te = _digits()
    brainstate.random.seed(0)
    model = _model([64, 256, 10], 0.5, readout="leaky", bias=False, w_scale=[2.0, 2.0])
    w = model.layers[0].linear.weight.value["weight"]
    model.layers[0].linear.weight.value = {"weight": w + 0.15}          # most hidden neurons spike
    encoder = lambda p, k: encode.binary_latency(  # noqa: E731
        p, 80, 0.5 * u.ms, t_black=20 * u.ms, t_white=10 * u.ms)
    method = EventProp("max-membrane-ce")
    t0 = time.perf_counter()
    _train(model, method, bsnn.make_optimizer("adam", 5e-3), encoder, x_tr, y_tr, epochs=15)
    out = jax.jit(lambda w, p: method.run(model, w, encoder(p, None)))(model.weights(), jnp.asarray(x_te))
    acc = float(jnp.mean(method.loss.predict(out) == y_te))
    print(f"EventProp hidden-layer digits: test accuracy {acc:.3f} after 15 epochs in "
          f"{time.perf_counter() - t0:.1f} s")
    assert acc >= 0.90
