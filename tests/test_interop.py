"""NIR between libraries: bsnn's exports run spike for spike in snnTorch and Norse, and theirs in bsnn.

Each test runs one input through bsnn and through the other library's own importer or
exporter (the ``interop`` extra: torch, snntorch, norse, nirtorch, nir) and compares every
layer's spikes (0 mismatches) and membranes. A 20-16-4 current-based LIF network, T = 100,
float32, as the NIR issue states it.
"""

import importlib.util
import warnings

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn.nir as bnir
from bsnn.models import SpikingClassifier

_PEERS = ("torch", "snntorch", "norse", "nirtorch", "nir")
pytestmark = pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in _PEERS),
                                reason="the interop extra is not installed (pip install -e '.[interop]')")
# the peers are imported by the first test that runs here, not at collection: every xdist
# worker collects this module, and torch takes seconds to import
torch = snn = norse_torch = nir = norse_reset = norse_to_nir = export_to_nir = import_from_nir = None


@pytest.fixture(autouse=True, scope="module")
def _peers():
    global torch, snn, norse_torch, nir, norse_reset, norse_to_nir, export_to_nir, import_from_nir
    import nir
    import norse.torch as norse_torch
    import snntorch as snn
    import snntorch.utils  # noqa: F401
    import torch
    from norse.torch.functional import reset as norse_reset
    from norse.torch.utils.export_nir import to_nir as norse_to_nir
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir
    torch.set_grad_enabled(False)


T, B = 100, 3
#: float32 membranes of two libraries computing the same step in a different order of operations
MEMBRANE_ATOL = 1e-5


def _input(seed=1):
    return (jax.random.uniform(jax.random.PRNGKey(seed), (T, B, 20)) < 0.3).astype(jnp.float32)


def _model(readout, reset, integrator="euler", recurrent=False, scale=0.6):
    model = SpikingClassifier([20, 16, 4], readout=readout, reset=reset, integrator=integrator,
                              recurrent=recurrent)
    key = jax.random.PRNGKey(0)
    for layer in model.layers:
        key, k_w, k_b = jax.random.split(key, 3)
        p = dict(layer.linear.weight.value)
        p["weight"] = scale * (0.4 + jax.random.normal(k_w, p["weight"].shape))
        p["bias"] = 0.2 * (1.0 + 0.5 * jax.random.normal(k_b, p["bias"].shape))
        layer.linear.weight.value = p
    return model


def _written(model, target, tmp_path):
    """The graph as the peer reads it: exported for ``target``, written, read back by ``nir``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bnir.NIRConventionWarning)
        bnir.export(model, tmp_path / f"{target}.nir", target=target)
    return nir.read(str(tmp_path / f"{target}.nir"))


def _record(modules, hook_output):
    """Per module: lists of spikes and membranes, filled by forward hooks (``hook_output`` reads one step)."""
    spikes, volts = [[] for _ in modules], [[] for _ in modules]
    for k, mod in enumerate(modules):
        def hook(mod, args, out, k=k):
            s, v = hook_output(mod, out)
            spikes[k].append(s.clone())
            volts[k].append(v.clone())
        mod.register_forward_hook(hook)
    return spikes, volts


def _compare(out, spikes, volts, readout):
    """Every layer's spikes equal; membranes within ``MEMBRANE_ATOL`` (where the peer did not just reset)."""
    report = []
    for k, (s_peer, v_peer) in enumerate(zip(spikes, volts)):
        s_peer, v_peer = torch.stack(s_peer).numpy(), torch.stack(v_peer).numpy()
        s_ours, v_ours = np.asarray(out.layer_spikes[k]), np.asarray(out.layer_v[k])
        spiking = readout == "spiking" or k < len(spikes) - 1
        assert not spiking or s_ours.sum() > 50, f"layer {k} must spike for a meaningful check"
        assert int((s_peer != s_ours).sum()) == 0, f"layer {k}: {int((s_peer != s_ours).sum())} spike mismatches"
        quiet = s_ours == 0          # bsnn records V before its reset, the peers after it
        diff = float(np.abs(v_peer - v_ours)[quiet].max())
        report.append((k, int(s_ours.sum()), diff, float(np.abs(v_ours).max())))
        assert diff < MEMBRANE_ATOL, f"layer {k}: membrane differs by {diff:.3g} mV"
    print(report)


def _snntorch_run(graph, x):
    net = import_from_nir(graph)
    lifs = [m for _, m in sorted(net.named_children()) if isinstance(m, (snn.Synaptic, snn.Leaky))]
    spikes, volts = _record(lifs, lambda mod, out: (out[0] if isinstance(out, tuple) else out, mod.mem))
    snn.utils.reset(net)
    for xt in torch.from_numpy(np.array(x)):
        net(xt)
    return spikes, volts


def _norse_run(graph, x, **kw):
    net = norse_torch.from_nir(graph, dt=float(graph.metadata["dt"]), **kw)
    cells = [m for name, m in sorted(net.named_modules()) if "." not in name and type(m).__name__ in ("CubaLIF", "LIFBoxCell")]
    spikes, volts = _record(cells, lambda mod, out: (out[0], out[1].v if hasattr(out[1], "v") else out[1][1].v))
    state = None
    for xt in torch.from_numpy(np.array(x)):
        _, state = net(xt, state)
    return spikes, volts


# ---- bsnn -> NIR -> peer ---------------------------------------------------------------------------
@pytest.mark.parametrize("readout", ["spiking", "leaky"])
def test_bsnn_to_snntorch_spike_for_spike(readout, tmp_path):
    model, x = _model(readout, "hard"), _input()
    spikes, volts = _snntorch_run(_written(model, "snntorch", tmp_path), x)
    _compare(model.run(x, record=True), spikes, volts, readout)


@pytest.mark.parametrize("readout,reset,recurrent", [("spiking", "soft", False), ("leaky", "hard", True)])
def test_bsnn_to_norse_spike_for_spike(readout, reset, recurrent, tmp_path):
    model, x = _model(readout, reset, recurrent=recurrent), _input()
    method = norse_reset.reset_subtract if reset == "soft" else norse_reset.reset_value
    spikes, volts = _norse_run(_written(model, "norse", tmp_path), x, reset_method=method)
    _compare(model.run(x, record=True), spikes, volts, readout)


def test_an_exp_integrated_model_still_runs_exactly_elsewhere(tmp_path):
    """A model trained with exponential Euler is written with the forward-Euler equivalent time
    constants: the peers' steps are bsnn's, and the export says what it wrote."""
    model, x = _model("leaky", "hard", integrator="exp"), _input()
    with pytest.warns(bnir.NIRConventionWarning, match=r"tau_mem 20 ms is written as 20\.5\d* ms"):
        bnir.to_nir(model, target="norse")
    spikes, volts = _norse_run(_written(model, "norse", tmp_path), x)
    _compare(model.run(x, record=True), spikes, volts, "leaky")


# ---- peer -> NIR -> bsnn ---------------------------------------------------------------------------
def _peer_weights(seed, scale, out_scale):
    gen = torch.Generator().manual_seed(seed)
    l1, l2 = torch.nn.Linear(20, 16), torch.nn.Linear(16, 4)
    l1.weight.data = scale * (0.4 + torch.randn(16, 20, generator=gen))
    l2.weight.data = out_scale * (0.4 + torch.randn(4, 16, generator=gen))
    l1.bias.data, l2.bias.data = 0.01 * torch.randn(16, generator=gen), 0.01 * torch.randn(4, generator=gen)
    return l1, l2


@pytest.mark.parametrize("kind", ["Synaptic", "Leaky"])
def test_snntorch_to_bsnn_spike_for_spike(kind):
    """snnTorch's exporter writes no dt (it assumes 0.1 ms) and no reset; bsnn asks for the one and
    says which reset it assumed. A reset-to-zero snnTorch network runs identically."""
    def lif(n, output=False):
        kw = dict(beta=torch.full((n,), 0.95), threshold=torch.ones(n), init_hidden=True, output=output,
                  reset_mechanism="zero", reset_delay=False)
        return snn.Synaptic(alpha=torch.full((n,), 0.8), **kw) if kind == "Synaptic" else snn.Leaky(**kw)
    l1, l2 = _peer_weights(0, *((0.04, 0.04) if kind == "Synaptic" else (0.15, 0.15)))
    net = torch.nn.Sequential(l1, lif(16), l2, lif(4, output=True))
    graph = export_to_nir(net, torch.zeros(20))
    x = _input(2)
    spikes, volts = _record([net[1], net[3]], lambda mod, out: (out[0] if isinstance(out, tuple) else out, mod.mem))
    snn.utils.reset(net)
    for t in range(T):
        net(torch.from_numpy(np.array(x[t])))
    with pytest.raises(ValueError, match=r"does not record its time step .* suggests dt = 0\.1 ms"):
        bnir.from_nir(graph)
    with pytest.warns(bnir.NIRConventionWarning, match=r"assuming NIR's reset to v_reset"):
        model = bnir.from_nir(graph, dt=0.1 * u.ms)
    assert model.layers[0].integrator == "euler" and model.layers[0].reset == "hard"
    _compare(model.run(x, record=True), spikes, volts, "spiking")


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_norse_to_bsnn_spike_for_spike(reset):
    """Norse's exporter writes dt * tau for tau (1.1: ``dt / tau_mem_inv``) and no reset: bsnn refuses
    the time constants as they stand, and reads them with ``producer="norse"``."""
    method = norse_reset.reset_subtract if reset == "soft" else norse_reset.reset_value

    def cell(n):
        p = norse_torch.LIFBoxParameters(tau_mem_inv=torch.full((n,), 1 / 0.02), v_th=torch.ones(n),
                                         v_leak=torch.zeros(n), v_reset=torch.zeros(n), reset_method=method)
        return norse_torch.LIFBoxCell(p, dt=0.001)
    l1, l2 = _peer_weights(1, 1.2, 3.0)
    net = norse_torch.SequentialState(l1, cell(16), l2, cell(4))
    graph = norse_to_nir(net, torch.zeros(20), dt=0.001)
    x = _input(3)
    spikes, volts = _record([net[1], net[3]], lambda mod, out: (out[0], out[1].v))
    xt, state = torch.from_numpy(np.array(x)), None
    for t in range(T):
        _, state = net(xt[t], state)
    with pytest.raises(ValueError, match=r"needs producer='norse'"):
        bnir.from_nir(graph, dt=1 * u.ms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bnir.NIRConventionWarning)
        model = bnir.from_nir(graph, dt=1 * u.ms, producer="norse", reset=reset if reset == "soft" else None)
    np.testing.assert_allclose(float(np.asarray(model.layers[0].tau_mem.to_decimal(u.ms))), 20.0, rtol=1e-6)
    _compare(model.run(x, record=True), spikes, volts, "spiking")


def test_a_run_trained_with_euler_exports_for_norse_from_the_command_line(tmp_path, capsys):
    from bsnn.cli import main
    from bsnn.config import TrainConfig
    from bsnn.train import Trainer
    run = tmp_path / "run"
    Trainer(TrainConfig(dataset="digits", train_subset=48, test_subset=16, epochs=1, hidden=[16], steps=20,
                        integrator="euler", recurrent=True, schedule="constant", out=str(run), quiet=True)).fit()
    path = tmp_path / "run.nir"
    assert main(["export", str(run), "--nir", str(path), "--for", "norse"]) == 0
    assert "norse.torch.from_nir(graph, dt=0.001, reset_method=" in capsys.readouterr().err
    trainer = Trainer.from_run(str(run), quiet=True)
    assert trainer.model.integrator == "euler"
    x = np.asarray(trainer.encoder(jnp.asarray(trainer.dataset.x_test[:4]), jax.random.PRNGKey(0)).dense())
    spikes, volts = _norse_run(nir.read(str(path)), x, reset_method=norse_reset.reset_subtract)
    _compare(trainer.model.run(jnp.asarray(x), record=True), spikes, volts, "leaky")
