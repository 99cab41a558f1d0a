"""The neuron protocol: ALIF against a NumPy reference and brainpy.state, its gradients,
capability refusals, the execution plan, and an import that changes no global state."""

import os
import subprocess
import sys

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from bsnn import encode, neurons
from bsnn.neurons.alif import alif_step
from reference import assert_pure_path_matches_brainpy

HERE = os.path.dirname(os.path.abspath(__file__))


def numpy_alif_layer(drive, alpha, beta, rho, beta_a, v_th, v_reset=0.0, v_rest=0.0, reset="soft", w_rec=None):
    """Written from bsnn/neurons/alif.py's docstring: drive [T, B, N] -> spikes, v, a."""
    T, B, N = drive.shape
    i, v, a, s = (np.zeros((B, N)) for _ in range(4))
    out = np.zeros((3, T, B, N))
    for t in range(T):
        d = drive[t] + (s @ w_rec if w_rec is not None else 0.0)
        i = alpha * i + d
        v = v - (v_th - v_reset) * s if reset == "soft" else np.where(s > 0, v_reset, v)
        a = rho * (a + s)
        v = beta * v + (1 - beta) * (v_rest + i)
        s = (v - v_th - beta_a * a >= 0).astype(np.float64)
        out[:, t] = s, v, a
    return out


def _alif_model(sizes, recurrent=False, reset="soft", **kw):
    return bsnn.SpikingClassifier(sizes, neuron="alif", tau_mem=10 * u.ms, tau_syn=4 * u.ms, V_th=1 * u.mV,
                                  tau_adapt=kw.pop("tau_adapt", 50 * u.ms), beta_adapt=kw.pop("beta_adapt", 0.4 * u.mV),
                                  reset=reset, recurrent=recurrent, w_scale=[6.0] * (len(sizes) - 1), **kw)


def _spikes(seed, T=40, B=3, N=12, p=0.25):
    return encode.poisson(jnp.full((B, N), p), T, jax.random.PRNGKey(seed))


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_alif_layer_matches_numpy(reset, recurrent):
    model = _alif_model([12, 9, 4], recurrent=recurrent, reset=reset)
    x = _spikes(1, p=0.4)
    for layer in model.layers:            # a positive mean drive: every neuron spikes and adapts
        layer.linear.weight.value = {**layer.linear.weight.value, "bias": jnp.full(layer.n_out, 0.8)}
    out = model.run(x, record=True)
    layer = model.layers[0]
    c, w = layer.constants, layer.weights()
    drive = np.asarray(x, np.float64) @ np.asarray(w.w, np.float64) + np.asarray(w.b, np.float64)
    s, v, a = numpy_alif_layer(drive, c.alpha, c.beta, c.rho, c.beta_a, c.v_th, reset=reset,
                               w_rec=None if w.w_rec is None else np.asarray(w.w_rec, np.float64))
    assert s.sum() > 20 and a.max() > 0.5, "the layer must spike and adapt"
    np.testing.assert_array_equal(np.asarray(out.layer_spikes[0]), s)
    np.testing.assert_allclose(np.asarray(out.layer_v[0]), v, atol=1e-4)


def test_adaptation_lowers_the_rate_and_beta_zero_is_lif():
    x = encode.constant(jnp.full((2, 12), 0.6), 80)
    kw = dict(tau_mem=10 * u.ms, tau_syn=4 * u.ms, w_scale=[4.0, 3.0])
    lif = bsnn.SpikingClassifier([12, 9, 4], **kw)
    alif0 = bsnn.SpikingClassifier([12, 9, 4], neuron="alif", beta_adapt=0 * u.mV, **kw)
    alif = bsnn.SpikingClassifier([12, 9, 4], neuron="alif", beta_adapt=0.5 * u.mV, **kw)
    for m in (alif0, alif):
        for src, dst in zip(lif.layers, m.layers):
            dst.linear.weight.value = src.linear.weight.value
    c_lif, c0, c = (m.run(x).counts[0] for m in (lif, alif0, alif))
    np.testing.assert_array_equal(np.asarray(c_lif), np.asarray(c0))
    assert float(c.sum()) < 0.8 * float(c_lif.sum()), "adaptation must lower the firing"
    y = jnp.array([0, 1])
    g_lif = bsnn.BPTT().loss_and_grads(lif, x, y)[1]
    g0 = bsnn.BPTT().loss_and_grads(alif0, x, y)[1]
    for k in g_lif:
        for name in g_lif[k]:
            np.testing.assert_allclose(np.asarray(g0[k][name]), np.asarray(g_lif[k][name]), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_alif_identical_to_brainpy_state_composition(reset):
    """The pure path and stepping Linear -> Expon -> brainpy.state.ALIF agree."""
    model = _alif_model([12, 9, 4], recurrent=True, reset=reset, readout="spiking")
    assert_pure_path_matches_brainpy(model, _spikes(5, T=20, p=0.4))


def _reference_loss(params, x, labels, c, spike_fn, detach_reset=True):
    """An independent JAX loop of the ALIF hidden layer -> LIF leaky read-out, mean-membrane CE."""
    (w1, b1, wr), (w2, b2) = params
    T, B, _ = x.shape
    n, m = w1.shape[1], w2.shape[1]
    i1 = v1 = a1 = s1 = jnp.zeros((B, n))
    i2 = v2 = jnp.zeros((B, m))
    alpha_o, beta_o = np.exp(-1 / 4.0), np.exp(-1 / 10.0)
    total = jnp.zeros((B, m))
    for t in range(T):
        i1 = c.alpha * i1 + x[t] @ w1 + b1 + s1 @ wr
        reset = jax.lax.stop_gradient(s1) if detach_reset else s1
        v1 = v1 - (c.v_th - c.v_reset) * reset
        a1 = c.rho * (a1 + s1)
        v1 = c.beta * v1 + (1 - c.beta) * i1
        s1 = spike_fn((v1 - c.v_th - c.beta_a * a1) / (c.v_th - c.v_reset))
        i2 = alpha_o * i2 + s1 @ w2 + b2
        v2 = beta_o * v2 + (1 - beta_o) * i2
        total = total + v2
    logits = total / T
    return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(B), labels])


@pytest.mark.parametrize("schedule", [dict(), dict(hoist=False), dict(remat=True)])
def test_alif_bptt_matches_an_independent_reference(schedule):
    model = _alif_model([12, 9, 4], recurrent=True)
    x = _spikes(2, T=20, B=4, p=0.35)
    y = jnp.array([0, 1, 2, 3])
    loss, grads, _ = bsnn.BPTT("mean-membrane-ce", **schedule).loss_and_grads(model, x, y)
    l0, l1 = model.layers
    w = l0.weights()
    params = ((w.w, w.b, w.w_rec), (l1.weights().w, l1.weights().b))
    ref_loss, ref = jax.value_and_grad(_reference_loss)(params, jnp.asarray(x), y, l0.constants, l0.surrogate)
    np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-5)
    keys = {id(s): k for k, s in model.states(bsnn.methods.base.brainstate.ParamState).items()}
    got = grads[keys[id(l0.linear.weight)]]
    np.testing.assert_allclose(np.asarray(got["weight"]), np.asarray(ref[0][0]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grads[keys[id(l0.recurrent.weight)]]["weight"]),
                               np.asarray(ref[0][2]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grads[keys[id(l1.linear.weight)]]["weight"]),
                               np.asarray(ref[1][0]), rtol=1e-4, atol=1e-6)
    assert float(jnp.abs(ref[0][0]).sum()) > 0


def test_alif_adaptation_gradient_by_finite_differences():
    """d loss / d beta_a-free weights through the adaptation path: with a smooth spike function
    (a sigmoid, no Heaviside) the whole loop is differentiable and JAX's gradient through
    alif_step equals central finite differences in float64."""
    with jax.enable_x64(True):
        c = neurons.alif.ALIFConstants(alpha=0.8, beta=0.9, v_th=1.0, v_reset=0.0, v_rest=0.0, rho=0.97,
                                       beta_a=0.5, detach_reset=False)
        drive = jax.random.uniform(jax.random.PRNGKey(0), (25, 2, 3), jnp.float64) * 1.5
        smooth = lambda x: jax.nn.sigmoid(4.0 * x)  # noqa: E731

        def loss(scale):
            state = neurons.get("alif").zero_state(2, 3, jnp.float64)
            total = 0.0
            for t in range(drive.shape[0]):
                state = alif_step(state, scale * drive[t], c, smooth)
                total = total + jnp.sum(state.s * (t + 1)) + 0.1 * jnp.sum(state.a)
            return total

        g = jax.grad(loss)(1.0)
        eps = 1e-6
        fd = (loss(1.0 + eps) - loss(1.0 - eps)) / (2 * eps)
        np.testing.assert_allclose(float(g), float(fd), rtol=1e-6)


def test_eventprop_refuses_alif_naming_what_is_missing():
    model = _alif_model([12, 9, 4], readout="spiking")
    m = bsnn.get_method("eventprop", loss="first-spike-ce")
    with pytest.raises(neurons.NeuronCapabilityError) as err:
        m.loss_and_grads(model, _spikes(0), jnp.zeros(3, jnp.int32))
    text = str(err.value)
    assert "'alif'" in text and "layer 0" in text and "eventprop" in text and "its capabilities: eprop" in text


def test_nir_export_refuses_alif():
    pytest.importorskip("nir")
    with pytest.raises(neurons.NeuronCapabilityError, match="NIR export needs nir"):
        bsnn.nir.to_nir(_alif_model([12, 9, 4]))


def test_unknown_neuron_and_parameters_are_refused():
    with pytest.raises(ValueError, match="neuron must be one of"):
        bsnn.SpikingClassifier([4, 3], neuron="izhikevich")
    with pytest.raises(TypeError, match="tau_adapt"):
        bsnn.SpikingClassifier([4, 5, 3], tau_adapt=100 * u.ms)          # LIF layers take no tau_adapt
    with pytest.raises(ValueError, match="tau_adapt must be positive"):
        bsnn.SpikingClassifier([4, 5, 3], neuron="alif", tau_adapt=-1 * u.ms)
    with pytest.raises(ValueError, match="tau_adapt"):
        bsnn.SpikingClassifier([4, 5, 3], neuron="alif", tau_adapt=1 * u.mV)   # a voltage is not a time


def test_alif_model_saves_and_loads(tmp_path):
    model = _alif_model([12, 9, 4], recurrent=True, tau_adapt=[80 * u.ms, 200 * u.ms])
    x = _spikes(3)
    path = bsnn.save_model(model, tmp_path / "alif.bsnn")
    back = bsnn.load_model(path)
    assert back.layers[0].kind.name == "alif" and back.layers[1].kind.name == "lif"
    np.testing.assert_array_equal(np.asarray(back.run(x).v), np.asarray(model.run(x).v))


# ---- the execution plan ---------------------------------------------------------------------
def test_plan_names_each_path_and_why():
    lif = bsnn.SpikingClassifier([12, 9, 4])
    plan = lif.plan()
    assert plan.paths[1] == "adjoint" and plan.paths[0] in ("native", "fused")
    text = str(plan)
    assert "layer 1: adjoint" in text and "it is the output layer" in text
    rec = bsnn.SpikingClassifier([12, 9, 4], recurrent=True).plan()
    assert rec.paths[0] == "scan" and "the layer is recurrent" in str(rec)
    assert _alif_model([12, 9, 4]).plan().paths == ("scan", "adjoint")
    assert "has no hand-written layer adjoint" in str(_alif_model([12, 9, 4]).plan())
    assert lif.plan(record=True).paths[0] == "adjoint"
    assert lif.plan(hoist=False).paths == ("stepwise", "stepwise")
    assert lif.plan(remat=True).schedule == "remat"
    assert bsnn.get_method("eprop").plan(lif).paths == ("online", "online")


@pytest.mark.parametrize("avoid,integrator", [({"native"}, "euler"), ({"native", "fused"}, "exp"),
                                               ({"native", "fused", "adjoint"}, "euler")])
def test_every_forced_path_gives_the_same_numbers(avoid, integrator):
    """Every path reads the neuron's per-step decays, so forward Euler (``integrator="euler"``)
    takes each of them as exponential Euler does."""
    model = bsnn.SpikingClassifier([12, 9, 4], w_scale=[6.0, 3.0], integrator=integrator)
    x = _spikes(4)
    y = jnp.array([0, 1, 2])
    base = bsnn.BPTT()
    forced = bsnn.BPTT(avoid=avoid)
    assert not set(forced.plan(model).paths) & avoid
    l0, g0, o0 = base.loss_and_grads(model, x, y)
    l1, g1, o1 = forced.loss_and_grads(model, x, y)
    np.testing.assert_array_equal(np.asarray(o0.counts[0]), np.asarray(o1.counts[0]))
    np.testing.assert_allclose(float(l1), float(l0), rtol=1e-6)
    for k in g0:
        for name in g0[k]:
            np.testing.assert_allclose(np.asarray(g1[k][name]), np.asarray(g0[k][name]), rtol=1e-4, atol=1e-6)


def test_a_plan_that_cannot_run_is_refused():
    model = bsnn.SpikingClassifier([12, 9, 4], recurrent=True)
    lif = bsnn.SpikingClassifier([12, 9, 4])
    with pytest.raises(ValueError, match="layer 0 cannot take the 'fused' path: the layer is recurrent"):
        model.run(_spikes(0), plan=lif.plan(avoid={"native"}))
    with pytest.raises(ValueError, match="avoid takes path names"):
        lif.plan(avoid={"gpu"})
    with pytest.raises(ValueError, match="cannot be avoided"):
        lif.plan(avoid={"scan"})


def test_cli_explain_prints_the_plan_and_refuses_alif_with_eventprop(tmp_path, capsys):
    from bsnn.cli import main
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        main(["train", "--neuron", "alif", "--method", "eventprop", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    assert "'alif'" in err and "eventprop" in err and "Traceback" not in err
    assert not out.exists(), "nothing may be written for a refused combination"
    code = main(["train", "--neuron", "alif", "--neuron-option", "tau_adapt=100ms", "--epochs", "1",
                 "--train-subset", "32", "--test-subset", "16", "--steps", "5", "--hidden", "16", "--explain",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "layer 0: scan" in err and "'alif' neuron has no hand-written layer adjoint" in err
    import json
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["neuron"] == "alif" and config["neuron_options"] == {"tau_adapt": "100ms"}, config


def test_import_changes_no_global_state():
    """``import bsnn`` and its plotting module leave matplotlib's backend and JAX's config alone, and
    building a model imports no array library (brainunit would import PyTorch, 2.7 s, to ask whether
    a mantissa is a PyTorch tensor)."""
    code = ("import sys, matplotlib, jax, brainunit as u; before = (matplotlib.get_backend(), jax.config.jax_enable_x64);"
            "import bsnn, bsnn.plot, bsnn.nir, bsnn.cli; from bsnn import neurons;"
            "bsnn.SpikingClassifier([4, 3, 2], tau_mem=[20 * u.ms, 10 * u.ms], neuron='alif');"
            "after = (matplotlib.get_backend(), jax.config.jax_enable_x64);"
            "assert before == after, (before, after);"
            "libs = [m for m in ('torch', 'cupy', 'dask.array', 'ndonnx') if m in sys.modules];"
            "assert not libs, libs; print('same', after)")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["MPLBACKEND"] = "svg"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "same" in p.stdout
