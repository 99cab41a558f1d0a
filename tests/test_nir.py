"""NIR interchange: exact round trips, NIR's own reader and equations, graphs from other libraries."""

import importlib.util
import sys
import warnings

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn.cli
import bsnn.nir as bnir
from bsnn.encode import Repeated
from bsnn.models import SpikingClassifier

needs_nir = pytest.mark.skipif(importlib.util.find_spec("nir") is None,
                               reason="the optional 'nir' package is not installed (pip install nir)")
if importlib.util.find_spec("nir") is not None:
    import nir
else:                                     # pragma: no cover
    nir = None


# ---- helpers ------------------------------------------------------------------------------
def _boost(model, scale: float, bias: float, seed: int = 0):
    """Mostly excitatory weights ``scale * N(0.4, 1)`` and random biases: every layer is active."""
    key = jax.random.PRNGKey(seed)
    for layer in model.layers:
        key, sub, sub_w = jax.random.split(key, 3)
        p = dict(layer.linear.weight.value)
        p["weight"] = scale * (0.4 + jax.random.normal(sub_w, p["weight"].shape))
        if "bias" in p:
            p["bias"] = bias * (1.0 + 0.5 * jax.random.normal(sub, p["bias"].shape))
        layer.linear.weight.value = p
    return model


def _export_quietly(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bnir.NIRConventionWarning)
        return bnir.export(model, path)


def _spike_input(steps, batch, n, rate, seed=0):
    return (jax.random.uniform(jax.random.PRNGKey(seed), (steps, batch, n)) < rate).astype(jnp.float32)


def nir_euler(layers, x, dt):
    """NIR's equations integrated with forward Euler, one value S per step (NIR's reference
    simulator, Norse's importer): independent of bsnn's code. ``layers``: dicts of NIR
    parameters (``W [out, in]``, ``b``, ``W_rec``, ``tau_syn``, ``tau_mem``, ``w_in``, ``r``,
    ``v_leak``, ``v_threshold``, ``v_reset``; no ``tau_syn``: a LIF/LI node). Returns per-layer
    spikes and membranes ``[T, B, N]``."""
    inp, spikes, volts = np.asarray(x, np.float64), [], []
    for L in layers:
        steps, batch, n = inp.shape[0], inp.shape[1], L["W"].shape[0]
        i, v, z = np.zeros((batch, n)), np.zeros((batch, n)), np.zeros((batch, n))
        z_rec, v_rec = [], []
        for t in range(steps):
            s = inp[t] @ L["W"].T + (0.0 if L.get("b") is None else L["b"])
            if L.get("W_rec") is not None:
                s = s + z @ L["W_rec"].T
            i = i + dt / L["tau_syn"] * (-i + L["w_in"] * s) if "tau_syn" in L else s
            v = v + dt / L["tau_mem"] * (L["v_leak"] - v + L["r"] * i)
            v_rec.append(v.copy())
            if "v_threshold" in L:
                z = (v > L["v_threshold"]).astype(np.float64)
                v = np.where(z > 0, L["v_reset"], v)
            z_rec.append(z.copy())
        spikes.append(np.stack(z_rec))
        volts.append(np.stack(v_rec))
        inp = spikes[-1]
    return spikes, volts


def _layers_from_graph(graph):
    """The parameters of an exported chain, read from the nir graph by node name."""
    layers, k = [], 0
    while f"fc{k}" in graph.nodes:
        fc = graph.nodes[f"fc{k}"]
        neuron = next(v for name, v in graph.nodes.items()
                      if name in (f"cubalif{k}", f"lif{k}", f"cubali{k}", f"li{k}"))
        L = {"W": np.asarray(fc.weight, np.float64), "b": getattr(fc, "bias", None),
             "W_rec": graph.nodes[f"rec{k}"].weight if f"rec{k}" in graph.nodes else None}
        for field in ("tau_syn", "tau_mem", "w_in", "r", "v_leak", "v_threshold", "v_reset"):
            if hasattr(neuron, field):
                L[field] = np.asarray(getattr(neuron, field), np.float64)
        if hasattr(neuron, "tau"):
            L["tau_mem"] = np.asarray(neuron.tau, np.float64)
        layers.append(L)
        k += 1
    return layers


def _assert_close_to_euler(model, layers, x, dt_s, *, count_tol=0.05, v_tol=0.05):
    out = model.run(x, record=True)
    ref_s, ref_v = nir_euler(layers, x, dt_s)
    for k, (s, r) in enumerate(zip(out.layer_spikes, ref_s)):
        if "v_threshold" not in layers[k]:
            continue
        got, want = np.asarray(s).sum((0, 1)), r.sum((0, 1))
        assert want.sum() > 20, f"layer {k}: the reference barely spikes ({want.sum()}); test is too weak"
        assert abs(got.sum() - want.sum()) <= count_tol * want.sum(), (k, got, want)
        assert np.all(np.abs(got - want) <= np.maximum(2, count_tol * want)), (k, got, want)
    if "v_threshold" not in layers[-1]:       # a leaky read-out: its membrane is the output
        v, want_v = np.asarray(out.v), ref_v[-1]
        assert np.abs(v - want_v).max() <= v_tol * np.abs(want_v).max(), np.abs(v - want_v).max()


# ---- round trip ---------------------------------------------------------------------------
CONFIGS = {
    "cuba-soft-leaky": dict(sizes=[8, 6, 3], tau_syn=5 * u.ms, reset="soft", readout="leaky"),
    "cuba-hard-spiking": dict(sizes=[8, 6, 4], tau_mem=10 * u.ms, tau_syn=3 * u.ms, reset="hard",
                              readout="spiking", V_th=[1 * u.mV, 0.5 * u.mV], V_reset=[0 * u.mV, -0.2 * u.mV]),
    "recurrent-mixed": dict(sizes=[8, 6, 5, 3], recurrent=[True, False], readout="leaky",
                            tau_mem=[np.linspace(10, 30, 6) * u.ms, 15 * u.ms, 25 * u.ms],
                            tau_syn=[4 * u.ms, 0 * u.ms, 0 * u.ms], reset=["soft", "hard", "soft"],
                            V_rest=0.1 * u.mV, surrogate=["sigmoid", "relu", "atan"], dt=0.5 * u.ms),
    "no-bias": dict(sizes=[8, 6, 3], bias=False, readout="spiking", tau_syn=2 * u.ms, detach_reset=False),
}


@needs_nir
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_round_trip_gives_identical_spike_trains(name, tmp_path):
    kwargs = dict(CONFIGS[name])
    model = _boost(SpikingClassifier(kwargs.pop("sizes"), **kwargs), scale=1.5, bias=0.4)
    path = tmp_path / "net.nir"
    _export_quietly(model, path)
    loaded = bnir.load(path)
    assert loaded.sizes == model.sizes and loaded.readout == model.readout
    for a, b in zip(model.layers, loaded.layers):
        assert (a.reset, a.spiking, a.is_recurrent, repr(a.surrogate)) == \
               (b.reset, b.spiking, b.is_recurrent, repr(b.surrogate))
        for field in ("alpha", "beta", "v_rest", "detach_reset", "soft_reset") + (("v_th", "v_reset") if a.spiking else ()):
            x, y = getattr(a.constants, field), getattr(b.constants, field)
            np.testing.assert_array_equal(np.asarray(x, np.float32), np.asarray(y, np.float32), err_msg=field)
        for x, y in zip(a.weights(), b.weights()):
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    n_in = model.n_in
    inputs = {"spikes": _spike_input(60, 5, n_in, 0.3, seed=1),
              "current": Repeated(jax.random.uniform(jax.random.PRNGKey(2), (5, n_in)), 60)}
    for kind, x in inputs.items():
        a, b = model.run(x, record=True), loaded.run(x, record=True)
        for k, (sa, sb) in enumerate(zip(a.layer_spikes, b.layer_spikes)):
            np.testing.assert_array_equal(np.asarray(sa), np.asarray(sb), err_msg=f"{kind} layer {k} spikes")
        for k, (va, vb) in enumerate(zip(a.layer_v, b.layer_v)):
            np.testing.assert_array_equal(np.asarray(va), np.asarray(vb), err_msg=f"{kind} layer {k} membrane")
        for layer, s in zip(model.layers, a.layer_spikes):
            if layer.spiking:     # the comparison is meaningful only if the layers spike, but not always
                assert 0 < float(np.asarray(s).mean()) < 0.9, (kind, float(np.asarray(s).mean()))


@needs_nir
def test_exported_file_in_nirs_terms(tmp_path):
    """nir's own reader validates the file; parameters are in NIR's conventions and units."""
    model = SpikingClassifier([4, 3, 2], tau_mem=20 * u.ms, tau_syn=5 * u.ms, V_th=2 * u.mV,
                              V_reset=-1 * u.mV, V_rest=0.5 * u.mV, reset="hard", readout="leaky",
                              recurrent=True, dt=0.5 * u.ms, w_scale=1.0)
    bnir.export(model, tmp_path / "net.nir")
    g = nir.read(str(tmp_path / "net.nir"))            # type-checks the graph
    assert sorted(g.nodes) == ["cubali1", "cubalif0", "fc0", "fc1", "input", "output", "rec0"]
    assert sorted(g.edges) == sorted([("input", "fc0"), ("fc0", "cubalif0"), ("cubalif0", "rec0"),
                                      ("rec0", "cubalif0"), ("cubalif0", "fc1"), ("fc1", "cubali1"),
                                      ("cubali1", "output")])
    lif, li = g.nodes["cubalif0"], g.nodes["cubali1"]
    assert isinstance(lif, nir.CubaLIF) and isinstance(li, nir.CubaLI)
    assert isinstance(g.nodes["fc0"], nir.Affine) and isinstance(g.nodes["rec0"], nir.Linear)
    np.testing.assert_allclose(lif.tau_mem, [0.02] * 3, rtol=1e-12)        # seconds
    np.testing.assert_allclose(lif.tau_syn, [0.005] * 3, rtol=1e-12)
    np.testing.assert_allclose(lif.w_in, [10.0] * 3, rtol=1e-12)           # tau_syn / dt
    np.testing.assert_array_equal(lif.r, [1.0] * 3)
    np.testing.assert_array_equal(lif.v_threshold, [2.0] * 3)              # mV
    np.testing.assert_array_equal(lif.v_reset, [-1.0] * 3)
    np.testing.assert_array_equal(lif.v_leak, [0.5] * 3)
    assert lif.metadata["reset"] == "hard"
    w = model.layers[0].weights()
    np.testing.assert_array_equal(g.nodes["fc0"].weight, np.asarray(w.w).T)   # [out, in]
    np.testing.assert_array_equal(g.nodes["fc0"].bias, np.asarray(w.b))
    np.testing.assert_array_equal(g.nodes["rec0"].weight, np.asarray(w.w_rec).T)
    assert g.metadata["dt"] == pytest.approx(0.0005) and g.metadata["producer"] == "bsnn"
    assert g.metadata["voltage_unit"] == "mV" and g.metadata["time_unit"] == "s"


@needs_nir
def test_exported_graph_follows_nirs_equations(tmp_path):
    """A forward-Euler simulation of NIR's ODEs, fed only the exported parameters, tracks bsnn
    at a small dt: spike counts within 5 %, read-out membrane within 5 % of its range. A wrong
    w_in, r, time unit, weight layout or reset would be off by far more."""
    dt = 0.05
    model = _boost(SpikingClassifier([10, 8, 3], tau_mem=5 * u.ms, tau_syn=2 * u.ms, reset="hard",
                                     readout="leaky", recurrent=True, V_rest=0.2 * u.mV, dt=dt * u.ms,
                                     w_scale=2.0), scale=1.0, bias=0.3)
    bnir.export(model, tmp_path / "net.nir")
    graph = nir.read(str(tmp_path / "net.nir"))
    x = _spike_input(600, 4, 10, 0.02)
    _assert_close_to_euler(model, _layers_from_graph(graph), x, float(graph.metadata["dt"]))


@needs_nir
def test_forward_euler_model_is_nirs_equations_exactly(tmp_path):
    """With ``integrator="euler"`` bsnn's step is NIR's equations under forward Euler: at dt = 1 ms
    (where exponential and forward Euler differ by 2.5 % per step) every spike of the independent
    float64 simulation above, and the read-out membrane to float32 rounding."""
    model = _boost(SpikingClassifier([10, 8, 3], tau_mem=10 * u.ms, tau_syn=4 * u.ms, reset="hard",
                                     readout="leaky", recurrent=True, V_rest=0.2 * u.mV, integrator="euler",
                                     w_scale=2.0), scale=1.0, bias=0.3)
    bnir.export(model, tmp_path / "net.nir")
    graph = nir.read(str(tmp_path / "net.nir"))
    assert graph.metadata["integrator"] == "euler"
    x = _spike_input(200, 4, 10, 0.1)
    out = model.run(x, record=True)
    ref_s, ref_v = nir_euler(_layers_from_graph(graph), x, float(graph.metadata["dt"]))
    assert ref_s[0].sum() > 100
    np.testing.assert_array_equal(np.asarray(out.layer_spikes[0]), ref_s[0])
    np.testing.assert_allclose(np.asarray(out.v), ref_v[-1], atol=1e-5)
    back = bnir.load(tmp_path / "net.nir")
    assert back.integrator == "euler"
    np.testing.assert_array_equal(np.asarray(back.run(x).spikes), np.asarray(out.spikes))


@needs_nir
@pytest.mark.parametrize("target", ["snntorch", "norse"])
def test_peer_targets_write_what_their_importers_need(target, tmp_path):
    """The graph for a peer: forward-Euler constants for its fixed step, the leaky read-out as a node
    it imports; bsnn reads it back to the same spikes. (The peers run it in tests/test_interop.py.)"""
    model = _boost(SpikingClassifier([6, 5, 3], reset="hard", readout="leaky", integrator="euler"), 1.0, 0.3)
    with pytest.warns(bnir.NIRConventionWarning, match="no leaky integrator node"):
        bnir.export(model, tmp_path / "g.nir", target=target)
    graph = nir.read(str(tmp_path / "g.nir"))
    hidden, readout = graph.nodes["cubalif0"], graph.nodes["cubalif1"]
    assert graph.metadata["target"] == target
    if target == "snntorch":          # snnTorch steps 0.1 ms and asserts r = tau_mem / dt
        assert graph.metadata["dt"] == 1e-4
        np.testing.assert_allclose(hidden.tau_mem, 1e-4 / 0.05, rtol=1e-6)     # 1 - beta = dt / tau_mem
        np.testing.assert_allclose(hidden.r, hidden.tau_mem / 1e-4, rtol=1e-6)
        np.testing.assert_allclose(graph.nodes["fc0"].weight, np.asarray(model.layers[0].weights().w).T * 0.05,
                                   rtol=1e-5)
    else:                              # Norse: its own time constants at the model's dt, r = 1
        np.testing.assert_allclose(hidden.tau_mem, 0.02, rtol=1e-6)
        np.testing.assert_allclose(hidden.r, 1.0)
    assert np.all(readout.v_threshold >= 1e9) and readout.metadata["bsnn_readout"] == "leaky"
    back = bnir.load(tmp_path / "g.nir")
    assert back.readout == "leaky"
    x = _spike_input(60, 3, 6, 0.3)
    np.testing.assert_allclose(np.asarray(back.run(x).v), np.asarray(model.run(x).v), rtol=1e-5, atol=1e-5)


@needs_nir
def test_peer_targets_refuse_what_their_importers_cannot_run():
    soft = SpikingClassifier([4, 3, 2], reset="soft", V_rest=0.1 * u.mV, recurrent=True)
    with pytest.raises(ValueError, match=r"cannot export for snntorch: layer 0 has V_rest != 0.*"
                                         r"resets the membrane to zero.*layer 0 is recurrent"):
        bnir.to_nir(soft, target="snntorch")
    mixed = SpikingClassifier([4, 3, 2], reset=["soft", "hard"], readout="spiking")
    with pytest.raises(ValueError, match=r"cannot export for norse: the spiking layers mix soft and hard"):
        bnir.to_nir(mixed, target="norse")
    with pytest.raises(ValueError, match=r"target must be one of generic, snntorch, norse, got 'lava'"):
        bnir.to_nir(mixed, target="lava")


@needs_nir
def test_soft_reset_is_kept_for_bsnn_and_flagged_for_others(tmp_path):
    soft = SpikingClassifier([4, 3, 2], reset="soft", readout="leaky", w_scale=1.0)
    with pytest.warns(bnir.NIRConventionWarning, match=r"layers \[0\] use the soft"):
        bnir.export(soft, tmp_path / "soft.nir")
    assert nir.read(str(tmp_path / "soft.nir")).nodes["cubalif0"].metadata["reset"] == "soft"
    assert bnir.load(tmp_path / "soft.nir").layers[0].reset == "soft"
    hard = SpikingClassifier([4, 3, 2], reset="hard", readout="leaky", w_scale=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bnir.export(hard, tmp_path / "hard.nir")


# ---- graphs written by other libraries --------------------------------------------------------
def _norse_style(rng, dt_meta=None):
    """As Norse's exporter writes a LIFCell network: r = 1, w_in = 1, times in s, no dt."""
    def cuba(n, tau_syn, tau_mem):
        return nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem), r=np.ones(n),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.ones(n))
    w0, b0, w1 = rng.normal(0, 2.5, (8, 10)), rng.normal(0.6, 0.2, 8), rng.normal(0, 1.5, (3, 8))
    nodes = {"input": nir.Input(input_type={"input": np.array([10])}),
             "0": nir.Affine(weight=w0, bias=b0), "1": cuba(8, 0.002, 0.005),
             "2": nir.Linear(weight=w1),
             "3": nir.CubaLI(tau_syn=np.full(3, 0.002), tau_mem=np.full(3, 0.01), r=np.ones(3),
                             v_leak=np.zeros(3), w_in=np.ones(3)),
             "output": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "output")]
    layers = [dict(W=w0, b=b0, tau_syn=0.002, tau_mem=0.005, w_in=1.0, r=1.0, v_leak=0.0, v_threshold=1.0,
                   v_reset=0.0),
              dict(W=w1, tau_syn=0.002, tau_mem=0.01, w_in=1.0, r=1.0, v_leak=0.0)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={} if dt_meta is None else {"dt": dt_meta}), layers


def _snntorch_style(rng, dt):
    """As snnTorch's exporter writes Flatten -> Linear -> RSynaptic -> Linear -> Synaptic: r = tau_mem/dt,
    w_in = tau_syn/dt, the recurrent layer as a nested graph."""
    def cuba(n, tau_syn, tau_mem):
        return nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem), r=np.full(n, tau_mem / dt),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                           w_in=np.full(n, tau_syn / dt))
    w0, b0 = rng.normal(0, 0.4, (8, 10)), rng.normal(0.05, 0.02, 8)
    w_rec, w1, b1 = rng.normal(0, 0.2, (8, 8)), rng.normal(0, 0.3, (3, 8)), np.full(3, 0.02)
    rnn = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([8])}),
                              "lif": cuba(8, 0.002, 0.004), "w_rec": nir.Linear(weight=w_rec),
                              "output": nir.Output(output_type={"output": np.array([8])})},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    nodes = {"input": nir.Input(input_type={"input": np.array([1, 2, 5])}),
             "flatten": nir.Flatten(input_type={"input": np.array([1, 2, 5])}, start_dim=0, end_dim=-1),
             "fc1": nir.Affine(weight=w0, bias=b0), "rlif1": rnn,
             "fc2": nir.Affine(weight=w1, bias=b1), "lif2": cuba(3, 0.002, 0.005),
             "output": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "flatten"), ("flatten", "fc1"), ("fc1", "rlif1"), ("rlif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output")]
    common = dict(v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    layers = [dict(W=w0, b=b0, W_rec=w_rec, tau_syn=0.002, tau_mem=0.004, w_in=0.002 / dt, r=0.004 / dt, **common),
              dict(W=w1, b=b1, tau_syn=0.002, tau_mem=0.005, w_in=0.002 / dt, r=0.005 / dt, **common)]
    return nir.NIRGraph(nodes=nodes, edges=edges), layers


@needs_nir
def test_norse_style_graph_needs_dt_and_follows_nirs_equations(tmp_path):
    graph, layers = _norse_style(np.random.default_rng(0))
    nir.write(str(tmp_path / "norse.nir"), graph)
    with pytest.raises(ValueError, match=r"norse.nir: the NIR graph does not record its time step .* pass dt"):
        bnir.load(tmp_path / "norse.nir")
    model = bnir.load(tmp_path / "norse.nir", dt=0.05 * u.ms)
    assert model.sizes == [10, 8, 3] and model.readout == "leaky"
    assert model.layers[0].reset == "hard" and not model.layers[0].is_recurrent
    assert model.layers[1].weights().b is not None        # Affine and Linear mixed: bias 0 for the Linear
    np.testing.assert_array_equal(np.asarray(model.layers[1].weights().b), 0.0)
    _assert_close_to_euler(model, layers, _spike_input(600, 4, 10, 0.3), 0.05e-3)
    with pytest.warns(bnir.NIRConventionWarning, match=r"\['1'\] are CubaLIF nodes from Norse.*one step behind"):
        bnir.load(tmp_path / "norse.nir", dt=0.05 * u.ms, producer="norse")


@needs_nir
def test_snntorch_style_graph_with_flatten_and_recurrent_subgraph(tmp_path):
    dt = 1e-4
    graph, layers = _snntorch_style(np.random.default_rng(1), dt)
    nir.write(str(tmp_path / "snntorch.nir"), graph)
    model = bnir.load(tmp_path / "snntorch.nir", dt=dt * u.second)
    assert model.sizes == [10, 8, 3] and model.readout == "spiking"
    assert model.layers[0].is_recurrent and model.layers[0].reset == "hard"
    _assert_close_to_euler(model, layers, _spike_input(400, 4, 10, 0.2, seed=3), dt)


def _graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _cuba(n):
    return nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, 5.0))


def _bad_graphs():
    inp = lambda n=4: nir.Input(input_type={"input": np.array([n])})      # noqa: E731
    out = lambda n=3: nir.Output(output_type={"output": np.array([n])})   # noqa: E731
    fc = lambda o=3, i=4: nir.Linear(weight=np.ones((o, i)))               # noqa: E731
    li = nir.LI(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3))
    return {
        "conv": (_graph({"input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
                         "conv1": nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 2, 2)), stride=1, padding=0,
                                             dilation=1, groups=1, bias=np.zeros(1)),
                         "output": out()}, [("input", "conv1"), ("conv1", "output")]),
                 r"'conv1' is a Conv2d, which bsnn cannot represent"),
        "if": (_graph({"input": inp(), "fc": fc(), "if1": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
                       "output": out()}, [("input", "fc"), ("fc", "if1"), ("if1", "output")]),
               r"'if1' is a IF, which bsnn cannot represent"),
        "branch": (_graph({"input": inp(), "a": fc(), "b": fc(), "la": _cuba(3), "lb": _cuba(3), "output": out()},
                          [("input", "a"), ("input", "b"), ("a", "la"), ("b", "lb"), ("la", "output"),
                           ("lb", "output")]),
                   r"node 'input' feeds \['a', 'b'\]; bsnn builds a chain"),
        "no-weight": (_graph({"input": inp(3), "lif": _cuba(3), "output": out()},
                             [("input", "lif"), ("lif", "output")]),
                      r"'lif' \(CubaLIF\) follows 'input'; bsnn expects a weight node"),
        "hidden-li": (_graph({"input": inp(), "fc": fc(), "li": li, "fc2": fc(3, 3), "lif": _cuba(3),
                              "output": out()},
                             [("input", "fc"), ("fc", "li"), ("li", "fc2"), ("fc2", "lif"), ("lif", "output")]),
                      r"'li' is a non-spiking LI but not the last layer"),
        "recurrent-output": (_graph({"input": inp(), "fc": fc(), "lif": _cuba(3), "rec": fc(3, 3), "output": out()},
                                    [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"),
                                     ("lif", "output")]),
                             r"'lif': the output layer is recurrent"),
        "shape": (_graph({"input": inp(5), "fc": fc(), "lif": _cuba(3), "output": out()},
                         [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
                  r"'fc': weight has shape \(3, 4\), expected \[out, in\] = \(3, 5\)"),
        "stray": (_graph({"input": inp(), "fc": fc(), "lif": _cuba(3), "extra": _cuba(3), "output": out()},
                         [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
                  r"nodes \['extra'\] are not on the chain"),
        "tau": (_graph({"input": inp(), "fc": fc(),
                        "lif": nir.LIF(tau=np.array([0.02, 0.0, 0.02]), r=np.ones(3), v_leak=np.zeros(3),
                                       v_threshold=np.ones(3)), "output": out()},
                       [("input", "fc"), ("fc", "lif"), ("lif", "output")]),
                r"'lif' \(LIF\): tau must be finite and positive"),
    }


@needs_nir
@pytest.mark.parametrize("case", sorted(["conv", "if", "branch", "no-weight", "hidden-li", "recurrent-output",
                                         "shape", "stray", "tau"]))
def test_unsupported_graphs_are_rejected_naming_the_node(case):
    graph, message = _bad_graphs()[case]
    with pytest.raises(ValueError, match=message):
        bnir.from_nir(graph, dt=1 * u.ms)


@needs_nir
def test_bad_files_and_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.nir does not exist"):
        bnir.load(tmp_path / "missing.nir")
    (tmp_path / "junk.nir").write_bytes(b"not an HDF5 file")
    with pytest.raises(ValueError, match=r"junk.nir is not a readable NIR graph"):
        bnir.load(tmp_path / "junk.nir")
    model = SpikingClassifier([4, 3, 2], reset="hard", readout="spiking", w_scale=1.0)
    p = dict(model.layers[1].linear.weight.value)
    p["weight"] = p["weight"].at[0, 0].set(jnp.nan)
    model.layers[1].linear.weight.value = p
    with pytest.raises(ValueError, match=r"layer 1 weights must be finite, got NaN or inf .* refusing to export"):
        bnir.export(model, tmp_path / "nan.nir")
    assert not (tmp_path / "nan.nir").exists()
    with pytest.raises(ValueError, match="dt must be a time"):
        bnir.from_nir(bnir.to_nir(SpikingClassifier([4, 2], reset="hard")), dt=1.0)


def test_missing_nir_package_gives_an_install_hint(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "nir", None)          # `import nir` now raises ImportError
    with pytest.raises(ImportError, match=r"needs the 'nir' package .* pip install nir"):
        bnir.export(SpikingClassifier([4, 2]), tmp_path / "x.nir")
    assert bsnn.cli.export_run(str(tmp_path), str(tmp_path / "x.nir")) == 2
    assert "pip install nir" in capsys.readouterr().err


# ---- command line ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from bsnn.config import TrainConfig
    from bsnn.train import Trainer
    out = tmp_path_factory.mktemp("run")
    Trainer(TrainConfig(dataset="digits", train_subset=96, test_subset=48, epochs=1, hidden=[12], steps=8,
                        reset="hard", schedule="constant", out=str(out), quiet=True)).fit()
    return str(out)


@needs_nir
def test_export_command_writes_the_trained_network(trained_run, tmp_path, capsys):
    from bsnn.train import Trainer
    path = str(tmp_path / "digits.nir")
    assert bsnn.cli.export_run(trained_run, path) == 0
    assert f"wrote {path}: NIR graph of the 64-12-10 network" in capsys.readouterr().out
    trainer = Trainer.from_run(trained_run, quiet=True)
    loaded = bnir.load(path)
    x = trainer.encoder(jnp.asarray(trainer.dataset.x_test[:16]), jax.random.PRNGKey(0))
    a, b = trainer.model.run(x, record=True), loaded.run(x, record=True)
    np.testing.assert_array_equal(np.asarray(a.layer_spikes[0]), np.asarray(b.layer_spikes[0]))
    np.testing.assert_array_equal(np.asarray(a.v), np.asarray(b.v))
    assert float(np.asarray(a.layer_spikes[0]).sum()) > 0
    assert bsnn.cli.export_run(str(tmp_path / "nowhere"), path) == 2
    assert "is not a bsnn run directory" in capsys.readouterr().err


@needs_nir
def test_cli_export_subcommand(trained_run, tmp_path, capsys):
    from bsnn.cli import main
    path = str(tmp_path / "cli.nir")
    assert main(["export", trained_run, "--nir", path]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    assert bnir.load(path).sizes == [64, 12, 10]
    assert main(["export", trained_run, "--nir", path, "--for", "snntorch"]) == 0
    out, err = capsys.readouterr()
    assert "for snntorch)" in out and "note: snnTorch's importer steps every graph by 0.1 ms" in err
    assert nir.read(path).metadata["target"] == "snntorch"
