"""What a NIR graph must look like for each consumer to run it step for step as bsnn does.

``bsnn.nir.to_nir(model, target=...)`` writes every layer through ``layer_nodes`` below. A
layer arrives as ``Layer``: bsnn's per-step decays ``alpha``, ``beta`` (of either
integrator), its thresholds and reset, and its weights. bsnn's step (``bsnn.neurons.lif``) is

    I[t] = alpha I[t-1] + drive[t]        V[t] = beta U + (1 - beta) (V_rest + I[t])

and each target writes the node parameters whose stepping by that consumer is this step:

``generic``
  NIR's equations with bsnn's own time constants and ``r = 1``, ``w_in = tau_syn / dt``
  (NIR's reference simulators and Norse step them with forward Euler, so a model built with
  ``integrator="euler"`` runs there unchanged); the soft reset and the leaky read-out keep
  their own tags and nodes (``metadata["reset"]``, ``CubaLI`` / ``LI``), which bsnn reads back.

``snntorch`` (``snntorch.import_from_nir``, snnTorch 1.0)
  The importer fixes ``dt = 0.1 ms`` whatever the graph says, steps
  ``syn = alpha syn + x``, ``mem = beta mem + syn`` with ``alpha = 1 - dt/tau_syn``,
  ``beta = 1 - dt/tau_mem``, asserts ``r = tau_mem / dt`` and ``v_leak = 0``, resets to zero,
  takes one threshold per layer and has no leaky integrator node. So the graph's time
  constants are ``0.1 ms / (1 - decay)`` (the time axis is rescaled: one graph step of
  0.1 ms is one bsnn step), ``r = tau_mem / 0.1 ms``, the membrane gain ``1 - beta`` is
  folded into the weights into each neuron, and a leaky read-out is a ``CubaLIF`` (``LIF``)
  whose threshold ``NEVER`` no membrane reaches. Refused: ``V_rest != 0``, a soft reset or
  ``V_reset != 0`` in a spiking layer, per-neuron thresholds, recurrent layers (snnTorch 1.0's
  importer fails on recurrent subgraphs with nirtorch 2.6, its own exports included).

``norse`` (``norse.torch.from_nir``, Norse 1.1)
  The importer steps a ``CubaLIF`` as a synapse ``I += dt/tau_syn (v_leak - I + w_in x)``
  and a membrane ``V += dt/tau_mem (v_leak - V + r I)`` (forward Euler, with the ``dt`` passed
  to ``from_nir``, not the graph's), resets every layer with one ``reset_method`` argument,
  spikes at ``V > v_threshold`` and imports no leaky integrator node. So the time constants
  are ``dt / (1 - decay)``, ``r = 1``, ``w_in = tau_syn / dt``, and a leaky read-out is a
  ``CubaLIF`` (``LIF``) with threshold ``NEVER``. Refused: ``V_rest != 0`` where a synapse
  decays towards it, mixed resets, a soft reset with ``V_reset != 0`` (``reset_subtract``
  subtracts ``v_threshold``).

With ``integrator="euler"`` every ``dt / (1 - decay)`` above is the layer's own time
constant; with ``"exp"`` it is the forward-Euler equivalent (e.g. 20.5 ms for 20 ms at
``dt = 1 ms``), and ``to_nir`` says so (``NIRConventionWarning``): the spikes are bsnn's
either way.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

TARGETS = ("generic", "snntorch", "norse")
_NAMES = {"generic": "NIR", "snntorch": "snnTorch", "norse": "Norse"}
#: the threshold (mV) a leaky read-out is written with for a consumer without a leaky node
NEVER = 1e9
#: snnTorch's importer and exporter take every graph to step by 0.1 ms
SNNTORCH_DT = 1e-4


class Layer(NamedTuple):
    """One bsnn layer as ``to_nir`` hands it over (per-neuron arrays ``[N]``; times in ms)."""

    k: int
    n: int
    spiking: bool
    recurrent: bool
    reset: str                 # "soft" | "hard"
    alpha: np.ndarray          # synaptic decay per step (0: no synapse)
    beta: np.ndarray           # membrane decay per step
    tau_mem: np.ndarray        # the layer's own time constants (ms)
    tau_syn: np.ndarray
    v_th: np.ndarray
    v_reset: np.ndarray
    v_rest: np.ndarray
    meta: dict                 # node metadata (surrogate)


class Nodes(NamedTuple):
    """The neuron node of a layer and the factor (``[N]`` or None) for the weights into it."""

    name: str
    node: object
    weight_scale: Optional[np.ndarray]


def problems(target: str, layers: list) -> list:
    """What ``target``'s importer cannot run as bsnn does, one sentence each (empty: all fine)."""
    if target not in TARGETS:
        return [f"target must be one of {', '.join(TARGETS)}, got {target!r}"]
    out = []
    if target == "snntorch":
        for L in layers:
            if np.any(L.v_rest != 0):
                out.append(f"layer {L.k} has V_rest != 0, but snnTorch's importer asserts v_leak = 0")
            if L.spiking and (L.reset == "soft" or np.any(L.v_reset != 0)):
                out.append(f"layer {L.k} uses the {L.reset} reset (V_reset = {_one(L.v_reset)} mV), but snnTorch's "
                           f"importer resets the membrane to zero (reset_mechanism='zero'): train with "
                           f"reset='hard', V_reset=0 mV")
            if L.spiking and np.unique(L.v_th).size > 1:
                out.append(f"layer {L.k} has per-neuron thresholds, but snnTorch's importer takes one per layer")
            if L.recurrent:
                out.append(f"layer {L.k} is recurrent, but snnTorch 1.0's importer cannot run a recurrent subgraph "
                           f"(with nirtorch 2.6 it fails even on those snnTorch's own exporter writes); export it "
                           f"for norse or generic")
    if target == "norse":
        resets = {L.reset for L in layers if L.spiking}
        if len(resets) > 1:
            out.append("the spiking layers mix soft and hard resets, but Norse's importer applies one reset_method "
                       "to every layer")
        for L in layers:
            if np.any(L.v_rest != 0) and np.any(L.alpha > 0):
                out.append(f"layer {L.k} has V_rest != 0, but Norse's importer also decays the synaptic current "
                           f"towards v_leak")
            if L.spiking and L.reset == "soft" and np.any(L.v_reset != 0):
                out.append(f"layer {L.k} resets softly with V_reset != 0, but Norse's reset_subtract subtracts "
                           f"v_threshold (not V_th - V_reset)")
    return out


def _one(a) -> str:
    """One value for a layer whose neurons share it, else the range."""
    a = np.unique(np.asarray(a, np.float64))
    return f"{a[0]:.4g}" if a.size == 1 else f"{a.min():.4g}..{a.max():.4g}"


def _euler_tau(decay: np.ndarray, dt_s: float) -> np.ndarray:
    """The time constant (s) whose forward-Euler step of ``dt_s`` is ``decay``."""
    return dt_s / (1.0 - decay)


def layer_nodes(nir, target: str, L: Layer, dt_ms: float) -> Nodes:
    """The neuron node of layer ``L`` for ``target`` (checked by ``problems`` first)."""
    ones, synapse = np.ones(L.n), bool(np.all(L.alpha > 0))
    meta = dict(L.meta)
    if target == "generic":
        tau_mem = L.tau_mem / 1000.0
        syn = dict(tau_syn=L.tau_syn / 1000.0, tau_mem=tau_mem, w_in=L.tau_syn / dt_ms)
        if not L.spiking:
            if synapse:
                return Nodes(f"cubali{L.k}", nir.CubaLI(r=ones, v_leak=L.v_rest, metadata=meta, **syn), None)
            return Nodes(f"li{L.k}", nir.LI(tau=tau_mem, r=ones, v_leak=L.v_rest, metadata=meta), None)
        meta["reset"] = L.reset
        fire = dict(v_threshold=L.v_th, v_reset=L.v_reset)
        if synapse:
            return Nodes(f"cubalif{L.k}", nir.CubaLIF(r=ones, v_leak=L.v_rest, metadata=meta, **syn, **fire), None)
        return Nodes(f"lif{L.k}", nir.LIF(tau=tau_mem, r=ones, v_leak=L.v_rest, metadata=meta, **fire), None)

    step = graph_dt(target, dt_ms)
    tau_mem = _euler_tau(L.beta, step)
    # snnTorch: r = tau_mem / dt (membrane gain 1), the gain 1 - beta moved into the weights
    r, scale = (tau_mem / step, 1.0 - L.beta) if target == "snntorch" else (ones, None)
    if L.spiking:
        meta["reset"] = L.reset
        fire = dict(v_threshold=L.v_th, v_reset=L.v_reset)
    else:
        meta["bsnn_readout"] = "leaky"      # bsnn reads it back as the leaky read-out it was
        fire = dict(v_threshold=np.full(L.n, NEVER), v_reset=np.zeros(L.n))
    if synapse:
        tau_syn = _euler_tau(L.alpha, step)
        node = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=L.v_rest, w_in=tau_syn / step,
                           metadata=meta, **fire)
        return Nodes(f"cubalif{L.k}", node, scale)
    return Nodes(f"lif{L.k}", nir.LIF(tau=tau_mem, r=r, v_leak=L.v_rest, metadata=meta, **fire), scale)


def graph_dt(target: str, dt_ms: float) -> float:
    """The step (s) the graph's metadata records for ``target``."""
    return SNNTORCH_DT if target == "snntorch" else dt_ms / 1000.0


def notes(target: str, layers: list, integrator: str, dt_ms: float) -> list:
    """What a user of ``target`` must know to run the graph as bsnn does (warnings to show)."""
    out = []
    soft = [L.k for L in layers if L.spiking and L.reset == "soft"]
    if target == "generic" and soft:
        out.append(f"layers {soft} use the soft (subtractive) reset, which NIR's CubaLIF/LIF do not "
                   f"define: the graph marks them with node metadata reset='soft' (bsnn restores it); "
                   f"other NIR consumers will reset the membrane to v_reset")
    if target != "generic" and integrator == "exp":
        L = layers[0]
        out.append(f"the model integrates with exponential Euler, so the graph's time constants are the forward-Euler "
                   f"equivalents dt / (1 - decay) that {_NAMES[target]} steps (layer 0: tau_mem {_one(L.tau_mem)} ms is "
                   f"written as {_one(_euler_tau(L.beta, dt_ms))} ms): the spikes are bsnn's; build the model "
                   f"with integrator='euler' to keep its own time constants")
    if target == "snntorch":
        out.append(f"snnTorch's importer steps every graph by 0.1 ms: the time constants are rescaled by "
                   f"0.1 ms / dt = {0.1 / dt_ms:g}, so one snnTorch step is one bsnn step of {dt_ms:g} ms")
    if target == "norse":
        how = ", reset_method=norse.torch.functional.reset.reset_subtract" if soft else ""
        out.append(f"Norse's importer does not read the graph's dt or reset: run it with "
                   f"norse.torch.from_nir(graph, dt={dt_ms / 1000.0:g}{how})")
    if target != "generic" and any(not L.spiking for L in layers):
        out.append(f"{_NAMES[target]} imports no leaky integrator node: the read-out is written as a spiking node whose "
                   f"threshold ({NEVER:g} mV) it never reaches; read its membrane from the node's state")
    return out
