"""NIR interchange: write a bsnn network as a NIR graph, build a bsnn network from one.

    import bsnn.nir
    bsnn.nir.export(model, "net.nir")                    # model: a SpikingClassifier
    same = bsnn.nir.load("net.nir")                      # identical spike trains
    bsnn.nir.export(model, "net.nir", target="norse")    # for norse.torch.from_nir (or "snntorch")
    other = bsnn.nir.load("norse.nir", dt=1 * u.ms, producer="norse")   # a graph Norse wrote

The Neuromorphic Intermediate Representation (NIR, Pedersen et al. 2024, package ``nir``,
an optional dependency) describes a network as a graph of continuous-time nodes. Its
current-based LIF node is::

    tau_syn dI/dt = -I + w_in S          tau_mem dV/dt = (v_leak - V) + r I
    spike when V > v_threshold, then V = v_reset

A bsnn layer becomes a weight node and a neuron node (a recurrent layer adds a third)::

    Affine(W^T, b) or Linear(W^T) -> CubaLIF   spiking, tau_syn > 0
                                  -> LIF       spiking, tau_syn = 0 (no synapse: I = input)
                                  -> CubaLI    leaky read-out, tau_syn > 0
                                  -> LI        leaky read-out, tau_syn = 0
    neuron -> Linear(W_rec^T) -> the same neuron          (recurrent layer)

Conventions of the graphs written here:

* times in seconds (``tau_syn``, ``tau_mem``, ``tau``); the step is ``metadata["dt"]`` (s);
* voltages (``v_threshold``, ``v_reset``, ``v_leak`` = V_rest) in mV as plain numbers (NIR
  fixes no voltage unit; ``metadata["voltage_unit"]`` says mV); ``r = 1`` (bsnn's R = 1 ohm);
* weights in NIR's ``[out, in]`` layout (bsnn stores ``[in, out]``);
* ``S`` is what the previous node emits during one step of length ``dt`` (0/1 for a spike),
  so one step of input raises ``I`` by ``(dt / tau_syn) w_in S``. bsnn adds its drive
  ``W x + b`` to ``I`` as it is, hence ``w_in = tau_syn / dt`` (snnTorch's convention; NIR's
  reference simulator and Norse's importer integrate the equations this way);
* NIR resets to ``v_reset`` ("hard"). A soft-reset layer (``V -= V_th - V_reset``) is written
  with node metadata ``reset = "soft"``: bsnn reads it back exactly, other consumers apply
  NIR's hard reset, so ``export`` warns (``NIRConventionWarning``).

bsnn integrates the equations with exponential Euler (``bsnn.neurons.lif``: ``alpha =
exp(-dt/tau_syn)``, ``beta = exp(-dt/tau_mem)``) or, with ``integrator="euler"``, forward
Euler as NIR's reference simulators, snnTorch and Norse do (``metadata["integrator"]``), and
spikes at ``V >= V_th``. ``target="snntorch"`` / ``"norse"`` writes the conventions those
importers need to step the graph exactly as bsnn does (``bsnn._nir_targets``; docs: "Moving
models between libraries"). Loading maps
NIR's per-step input gain onto bsnn's drive: the weights into a neuron are multiplied by
``r * w_in * dt / tau_syn`` (CubaLIF, CubaLI) or ``r`` (LIF, LI). For a graph bsnn wrote
that factor is 1 and nothing is rescaled, so ``load`` after ``export`` rebuilds the same
weights and constants and gives identical spike trains. A graph from another library is
stepped with forward Euler; what its exporter leaves out is asked for (``dt``) or assumed
and reported (the reset: NIR's reset to ``v_reset``), and Norse 1.1's time constants
(written as ``dt * tau``) are read with ``producer="norse"``.

Loading accepts Input, Output, Affine, Linear, CubaLIF, LIF, CubaLI, LI, a Flatten right
after the Input, and nested NIRGraph nodes (flattened, e.g. snnTorch's recurrent
subgraphs), arranged as a chain of layers from the Input to the Output; only the last
layer may be a leaky integrator, only hidden layers may be recurrent. Anything else
(Conv2d, IF, Delay, Scale, branches, ...) raises ``ValueError`` naming the node and its type.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict

import brainunit as u
import jax.numpy as jnp
import numpy as np

from bsnn import _nir_targets as _targets
from bsnn import units
from bsnn._nir_targets import TARGETS
from bsnn.surrogates import SURROGATES

__all__ = ["export", "load", "to_nir", "from_nir", "NIRConventionWarning",
           "SUPPORTED_NODES", "TARGETS"]

_WEIGHTS = ("Affine", "Linear")
_NEURONS = ("CubaLIF", "LIF", "CubaLI", "LI")
#: node types ``from_nir`` understands (Flatten only right after the Input)
SUPPORTED_NODES = ("Input", "Output", "Flatten", "NIRGraph") + _WEIGHTS + _NEURONS
_EXACT = 1e-9   # an input gain within this of 1 is bsnn's own convention: weights load unscaled


class NIRConventionWarning(UserWarning):
    """The exported graph carries a bsnn setting that NIR's equations cannot express."""


def _nir():
    try:
        import nir
    except ImportError:
        raise ImportError("bsnn.nir needs the 'nir' package (Neuromorphic Intermediate Representation): "
                          "pip install nir") from None
    return nir


# ---- export -----------------------------------------------------------------------------
def _per_neuron(value, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float64), (n,)).copy()


def _mantissa(layer, attr: str, kind, n: int) -> np.ndarray:
    learned = layer.learned() if getattr(layer, "learn", ()) else {}
    if attr in learned:                        # a trained constant: its current value
        return _per_neuron(learned[attr], n)
    return _per_neuron(units.to_mantissa(getattr(layer, attr), attr, kind, allow_array=True), n)


def _surrogate_name(fn) -> str:
    for name, make in SURROGATES.items():
        if repr(make()) == repr(fn):
            return name
    return repr(fn)


def _layer(k: int, layer) -> _targets.Layer:
    n = layer.n_out
    c = layer.constants
    tau_syn_ms = _mantissa(layer, "tau_syn", units.TIME, n)
    synapse = tau_syn_ms > 0
    if synapse.any() and not synapse.all():
        raise ValueError(f"layer {k} mixes tau_syn = 0 and tau_syn > 0 neurons; NIR's CubaLIF cannot "
                         f"express an instantaneous synapse for some neurons only")
    return _targets.Layer(
        k=k, n=n, spiking=layer.spiking, recurrent=layer.is_recurrent, reset=layer.reset,
        alpha=_per_neuron(c.alpha, n), beta=_per_neuron(c.beta, n),
        tau_mem=_mantissa(layer, "tau_mem", units.TIME, n), tau_syn=tau_syn_ms,
        v_th=_mantissa(layer, "V_th", units.VOLTAGE, n), v_reset=_mantissa(layer, "V_reset", units.VOLTAGE, n),
        v_rest=_mantissa(layer, "V_rest", units.VOLTAGE, n), meta={"surrogate": _surrogate_name(layer.surrogate)})


def _array(value, what: str) -> np.ndarray:
    a = np.array(value, np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} must be finite, got NaN or inf (a diverged model?); refusing to export it")
    return a


def to_nir(model, *, target: str = "generic", _stacklevel: int = 2):
    """The ``nir.NIRGraph`` of ``model`` (a ``SpikingClassifier`` or a sequence of ``CubaLIF`` layers).

    ``target`` (``TARGETS``): ``"generic"`` (NIR's equations with the model's own constants),
    ``"snntorch"`` or ``"norse"`` (the conventions that library's importer needs to run the
    graph step for step as bsnn does; see ``bsnn._nir_targets``). What a target cannot carry
    raises ``ValueError`` listing every problem; what its user must know is a
    ``NIRConventionWarning``."""
    import bsnn
    nir = _nir()
    layers = list(getattr(model, "layers", model))
    if not layers:
        raise ValueError("model has no layers to export")
    from bsnn import neurons
    for k, layer in enumerate(layers):
        neurons.require(layer.kind, "nir", "NIR export", layer=k)
        if getattr(layer, "projection", None) is not None:
            raise ValueError(f"NIR export writes dense (Affine) projections; layer {k} is a {layer.projection.kind} "
                             f"({layer.projection.describe()}), whose Conv2d / pooling nodes bsnn does not write yet")
    dt_ms = float(layers[0].dt_ms)
    if any(float(layer.dt_ms) != dt_ms for layer in layers):
        raise ValueError(f"all layers must share one dt, got {[layer.dt_ms for layer in layers]} ms")
    integrators = sorted({layer.integrator for layer in layers})
    if len(integrators) > 1:
        raise ValueError(f"all layers must share one integrator, got {integrators}")
    described = [_layer(k, layer) for k, layer in enumerate(layers)]
    bad = _targets.problems(target, described)
    if bad:
        raise ValueError(f"cannot export for {target}: " + "; ".join(bad))
    nodes = {"input": nir.Input(input_type={"input": np.array([layers[0].n_in])})}
    edges, prev = [], "input"
    for k, (layer, L) in enumerate(zip(layers, described)):
        name, nodes[name], scale = _targets.layer_nodes(nir, target, L, dt_ms)
        w = layer.weights()
        scale = 1.0 if scale is None else np.asarray(scale, np.float64)
        weight = (_array(w.w, f"layer {k} weights") * scale).astype(np.float32).T.copy()
        nodes[f"fc{k}"] = (nir.Linear(weight=weight) if w.b is None else
                           nir.Affine(weight=weight, bias=(_array(w.b, f"layer {k} bias") * scale).astype(np.float32)))
        edges += [(prev, f"fc{k}"), (f"fc{k}", name)]
        if w.w_rec is not None:
            w_rec = (_array(w.w_rec, f"layer {k} recurrent weights") * scale).astype(np.float32)
            nodes[f"rec{k}"] = nir.Linear(weight=w_rec.T.copy())
            edges += [(name, f"rec{k}"), (f"rec{k}", name)]
        prev = name
    nodes["output"] = nir.Output(output_type={"output": np.array([layers[-1].n_out])})
    edges.append((prev, "output"))
    for note in _targets.notes(target, described, integrators[0], dt_ms):
        warnings.warn(note, NIRConventionWarning, stacklevel=_stacklevel)
    meta = {"producer": "bsnn", "bsnn_version": bsnn.__version__, "dt": _targets.graph_dt(target, dt_ms),
            "time_unit": "s", "voltage_unit": "mV", "input_per_step": True, "target": target,
            "integrator": "euler" if target != "generic" else integrators[0],
            "detach_reset": bool(layers[0].constants.detach_reset)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export(model, path, *, target: str = "generic") -> "nir.NIRGraph":
    """Write ``model`` to ``path`` as a NIR file (HDF5) for ``target`` (as ``to_nir``), atomically;
    returns the ``nir.NIRGraph``."""
    nir = _nir()
    graph = to_nir(model, target=target, _stacklevel=3)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return graph


# ---- import -----------------------------------------------------------------------------
def _flatten(nir, nodes: dict, edges, prefix: str = ""):
    """Inline nested ``NIRGraph`` nodes: ``(nodes, edges)`` of one flat graph."""
    flat, flat_edges, entries, exits = {}, [], {}, {}
    for name, node in nodes.items():
        if not isinstance(node, nir.NIRGraph):
            flat[prefix + name] = node
            continue
        inner, inner_edges = _flatten(nir, node.nodes, node.edges, f"{prefix}{name}.")
        ins = [k for k, v in inner.items() if isinstance(v, nir.Input)]
        outs = [k for k, v in inner.items() if isinstance(v, nir.Output)]
        if len(ins) != 1 or len(outs) != 1:
            raise ValueError(f"nested NIR graph {prefix + name!r} must have one Input and one Output node, "
                             f"got {len(ins)} and {len(outs)}")
        entries[name] = [b for a, b in inner_edges if a == ins[0]]
        exits[name] = [a for a, b in inner_edges if b == outs[0]]
        flat.update({k: v for k, v in inner.items() if k not in (ins[0], outs[0])})
        flat_edges += [(a, b) for a, b in inner_edges if a != ins[0] and b != outs[0]]
    for a, b in edges:
        flat_edges += [(s, d) for s in exits.get(a, [prefix + a]) for d in entries.get(b, [prefix + b])]
    return flat, list(dict.fromkeys(flat_edges))


def _chain(nir, nodes: dict, edges) -> tuple:
    """Check the graph is a chain of layers; returns ``(n_in, [(weight, neuron, recurrent), ...])``."""
    kind = {name: type(node).__name__ for name, node in nodes.items()}
    for name, t in kind.items():
        if t not in SUPPORTED_NODES:
            raise ValueError(f"NIR node {name!r} is a {t}, which bsnn cannot represent; supported node types: "
                             f"{', '.join(SUPPORTED_NODES)}")
    succ, pred = defaultdict(list), defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    ins = [k for k, t in kind.items() if t == "Input"]
    outs = [k for k, t in kind.items() if t == "Output"]
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(f"bsnn needs a NIR graph with one Input and one Output node, got {len(ins)} and {len(outs)}")
    start = ins[0]
    n_in = int(np.prod(nodes[start].input_type["input"]))
    for name in [k for k, t in kind.items() if t == "Flatten"]:
        if pred[name] != [start]:
            raise ValueError(f"NIR node {name!r} is a Flatten that does not follow the Input; bsnn only "
                             f"accepts a Flatten of the input")
        succ[start] = [s for s in succ[start] if s != name] + succ[name]
        for s in succ[name]:
            pred[s] = [start if p == name else p for p in pred[s]]
    layers, cur, used = [], start, {start, outs[0]} | {k for k, t in kind.items() if t == "Flatten"}
    while True:
        forward = [s for s in succ[cur] if not (kind[s] in _WEIGHTS and succ[s] == [cur])]
        if forward == [outs[0]] and cur != start:
            break
        if len(forward) != 1:
            raise ValueError(f"NIR node {cur!r} feeds {forward or 'nothing'}; bsnn builds a chain of layers, "
                             f"each node feeding exactly one next layer")
        w = forward[0]
        if kind[w] not in _WEIGHTS:
            raise ValueError(f"NIR node {w!r} ({kind[w]}) follows {cur!r}; bsnn expects a weight node "
                             f"(Affine or Linear) there")
        if pred[w] != [cur] or len(succ[w]) != 1 or kind[succ[w][0]] not in _NEURONS:
            raise ValueError(f"NIR weight node {w!r} must connect {cur!r} to one neuron node "
                             f"({', '.join(_NEURONS)}), got inputs {pred[w]} and outputs {succ[w]}")
        neuron = succ[w][0]
        if neuron in used:
            raise ValueError(f"NIR node {neuron!r} is reached twice; bsnn builds a chain of layers")
        rec = [p for p in pred[neuron] if p != w]
        if len(rec) > 1 or (rec and not (kind[rec[0]] in _WEIGHTS and pred[rec[0]] == [neuron]
                                         and succ[rec[0]] == [neuron])):
            raise ValueError(f"NIR node {neuron!r} has inputs {pred[neuron]}; bsnn accepts one weight node from "
                             f"the previous layer and at most one recurrent weight node from itself")
        layers.append((w, neuron, rec[0] if rec else None))
        used |= {w, neuron, *rec}
        cur = neuron
    stray = sorted(set(nodes) - used)
    if stray:
        raise ValueError(f"NIR nodes {stray} are not on the chain from the Input to the Output")
    return n_in, layers


def _field(name: str, node, field: str, n: int, positive: bool = False) -> np.ndarray:
    a = np.asarray(getattr(node, field), np.float64).reshape(-1)
    if a.size not in (1, n):
        raise ValueError(f"NIR node {name!r}: {field} has {a.size} values for {n} neurons")
    a = np.broadcast_to(a, (n,))
    if not np.all(np.isfinite(a)) or (positive and np.any(a <= 0)):
        raise ValueError(f"NIR node {name!r} ({type(node).__name__}): {field} must be finite"
                         f"{' and positive' if positive else ''}, got {a}")
    return a


def _quantity(values: np.ndarray, unit):
    """One number when every neuron shares it (as bsnn stores it), else a per-neuron array."""
    return float(values[0]) * unit if np.all(values == values[0]) else np.asarray(values) * unit


def _neuron_params(name: str, node, n: int, dt_ms: float, last: bool, producer, reset) -> tuple:
    """``(CubaLIF keyword arguments, spiking, input gain [n] or None, assumed reset or None)`` of a neuron node."""
    t = type(node).__name__
    meta = dict(getattr(node, "metadata", None) or {})
    fix = (1000.0 / dt_ms) if producer == "norse" else 1.0       # Norse writes dt * tau (s^2) for tau
    if t in ("CubaLIF", "CubaLI"):
        tau_mem = _field(name, node, "tau_mem", n, positive=True) * fix
        tau_syn = _field(name, node, "tau_syn", n, positive=True) * fix
        gain = _field(name, node, "r", n) * _field(name, node, "w_in", n) * (dt_ms / 1000.0) / tau_syn
    else:
        tau_mem = _field(name, node, "tau", n, positive=True) * fix
        tau_syn = np.zeros(n)
        gain = _field(name, node, "r", n)
    spiking = t in ("CubaLIF", "LIF") and meta.get("bsnn_readout") != "leaky"
    if not spiking and not last:
        raise ValueError(f"NIR node {name!r} is a non-spiking {t} but not the last layer; bsnn only has a "
                         f"leaky read-out as the output layer")
    surrogate = str(meta.get("surrogate", "atan"))
    kw = dict(tau_mem=_quantity(tau_mem * 1000.0, u.ms), tau_syn=_quantity(tau_syn * 1000.0, u.ms),
              V_rest=_quantity(_field(name, node, "v_leak", n), u.mV),
              surrogate=surrogate if surrogate in SURROGATES else "atan", reset="soft",
              V_th=1.0 * u.mV, V_reset=0.0 * u.mV)
    assumed = None
    if spiking:
        recorded = meta.get("reset")
        if recorded is None and reset is None:
            assumed = recorded = "hard"
        chosen = str(reset if reset is not None else recorded)
        if chosen not in ("soft", "hard", "subtract", "zero"):
            raise ValueError(f"NIR node {name!r}: reset must be 'soft' or 'hard', got {chosen!r}")
        v_th, v_reset = _field(name, node, "v_threshold", n), _field(name, node, "v_reset", n)
        if np.any(v_th <= v_reset):
            raise ValueError(f"NIR node {name!r}: v_threshold must be above v_reset, got {v_th} and {v_reset}")
        kw.update(reset="soft" if chosen in ("soft", "subtract") else "hard",
                  V_th=_quantity(v_th, u.mV), V_reset=_quantity(v_reset, u.mV))
    return kw, spiking, (None if np.all(np.abs(gain - 1.0) <= _EXACT) else gain), assumed


def _dt_hint(nodes: dict) -> str:
    """A guess at the step of a graph without one: snnTorch's exporter writes ``r = tau_mem / dt``."""
    for node in nodes.values():
        if type(node).__name__ in ("CubaLIF", "LIF"):
            tau = np.asarray(getattr(node, "tau_mem", getattr(node, "tau", 0.0)), np.float64).reshape(-1)
            r = np.asarray(node.r, np.float64).reshape(-1)
            if r.size and np.all(r > 1.0) and tau.size:
                guess = float(np.median(tau / r)) * 1000.0
                return (f" (its r = tau_mem / dt suggests dt = {guess:.4g} ms: snnTorch's exporter writes every graph "
                        f"for dt = 0.1 ms)")
    return ""


def _weights(name: str, node, n_out: int, n_in: int):
    w = np.asarray(node.weight, np.float64)
    if w.shape != (n_out, n_in):
        raise ValueError(f"NIR node {name!r}: weight has shape {w.shape}, expected [out, in] = ({n_out}, {n_in})")
    b = np.asarray(node.bias, np.float64).reshape(-1) if type(node).__name__ == "Affine" else None
    if b is not None and b.size != n_out:
        raise ValueError(f"NIR node {name!r}: bias has {b.size} values for {n_out} neurons")
    if not np.all(np.isfinite(w)) or (b is not None and not np.all(np.isfinite(b))):
        raise ValueError(f"NIR node {name!r}: weights must be finite")
    return w.T, b


def from_nir(graph, *, dt=None, integrator=None, reset=None, producer=None, _stacklevel: int = 2):
    """Build a ``SpikingClassifier`` from a ``nir.NIRGraph``.

    Args:
      graph: the graph (see the module docstring for what is supported).
      dt: the simulation step, a time (e.g. ``1*u.ms``). Default: the graph's ``metadata["dt"]``
        (seconds), which bsnn writes; graphs from snnTorch and Norse need it given (snnTorch's
        exporter assumes 0.1 ms, Norse's the ``dt`` given to ``norse.torch.to_nir``, 1 ms by default).
      integrator: ``"exp"`` or ``"euler"``. Default: the graph's ``metadata["integrator"]``; a
        graph bsnn wrote before that tag was ``"exp"``; any other graph ``"euler"``, the forward
        Euler step of NIR's reference simulators, snnTorch and Norse.
      reset: ``"soft"`` or ``"hard"`` for every spiking layer, overriding the graph. Default:
        each node's ``metadata["reset"]`` (bsnn writes it); a node without one resets to
        ``v_reset`` as NIR defines (``"hard"``), and ``from_nir`` warns that it assumed so
        (Norse's ``reset_subtract`` is ``"soft"`` with ``v_reset = 0``; snnTorch's default
        ``reset_mechanism="subtract"`` subtracts after the decay, which bsnn cannot express).
      producer: ``"norse"`` for a graph from Norse's exporter (Norse 1.1 writes ``dt /
        tau_mem_inv``, i.e. ``dt * tau``, where NIR has ``tau``): the time constants are divided
        by ``dt``.

    Raises:
      ValueError: an unsupported node (named, with its type) or structure, a bad parameter, no dt.
    """
    from bsnn.models import SpikingClassifier
    nir = _nir()
    meta = dict(getattr(graph, "metadata", None) or {})
    if producer not in (None, "norse"):
        raise ValueError(f"producer must be 'norse' (a graph from Norse's exporter) or None, got {producer!r}")
    if reset not in (None, "soft", "hard"):
        raise ValueError(f"reset must be 'soft', 'hard' or None (as the graph says), got {reset!r}")
    if dt is not None:
        dt_ms = units.to_mantissa(dt, "dt", units.TIME)
    elif "dt" in meta:
        dt_ms = float(meta["dt"]) * 1000.0
    else:
        raise ValueError("the NIR graph does not record its time step (metadata 'dt'); pass dt, e.g. "
                         f"bsnn.nir.load(path, dt=1*u.ms){_dt_hint(_flatten(nir, graph.nodes, graph.edges)[0])}")
    if not (np.isfinite(dt_ms) and dt_ms > 0):
        raise ValueError(f"dt must be a positive time, got {dt_ms} ms")
    if integrator is None:
        integrator = meta.get("integrator", "exp" if meta.get("producer") == "bsnn" else "euler")
    nodes, edges = _flatten(nir, graph.nodes, graph.edges)
    n_in, chain = _chain(nir, nodes, edges)
    first = np.shape(nodes[chain[0][0]].weight)
    if len(first) == 2 and first[1] != n_in and n_in % first[1] == 0:
        n_in = int(first[1])                # an Input typed with a batch axis of 1, e.g. [1, n]
    sizes, kws, arrays, spiking, assumed = [n_in], [], [], [], []
    for k, (w_name, n_name, r_name) in enumerate(chain):
        n = int(np.shape(nodes[w_name].weight)[0])
        kw, spikes, gain, guess = _neuron_params(n_name, nodes[n_name], n, dt_ms, k == len(chain) - 1,
                                                 producer, reset)
        w, b = _weights(w_name, nodes[w_name], n, sizes[-1])
        w_rec, b_rec = _weights(r_name, nodes[r_name], n, n) if r_name else (None, None)
        if b_rec is not None:
            b = b_rec if b is None else b + b_rec
        if gain is not None:
            w, b, w_rec = w * gain, (None if b is None else b * gain), (None if w_rec is None else w_rec * gain)
        sizes.append(n)
        kws.append(kw)
        spiking.append(spikes)
        arrays.append((w, b, w_rec))
        if guess:
            assumed.append(n_name)
    if arrays[-1][2] is not None:
        raise ValueError(f"NIR node {chain[-1][1]!r}: the output layer is recurrent; bsnn's read-out layer "
                         f"cannot be")
    cuba = [n_name for _, n_name, _ in chain if type(nodes[n_name]).__name__ == "CubaLIF"]
    if producer == "norse" and cuba:
        warnings.warn(f"NIR nodes {cuba} are CubaLIF nodes from Norse, which writes its LIFCell so; a LIFCell "
                      f"updates its membrane from the previous step's current, one step behind NIR's CubaLIF as "
                      f"bsnn steps it, so its spikes will differ (a LIFBoxCell, NIR's LIF, runs identically)",
                      NIRConventionWarning, stacklevel=_stacklevel)
    if assumed:
        warnings.warn(f"NIR nodes {assumed} do not record how they reset: assuming NIR's reset to v_reset "
                      f"(reset='hard'); pass reset='soft' for a subtractive reset (Norse's reset_subtract)",
                      NIRConventionWarning, stacklevel=_stacklevel)
    per_layer = {key: [kw[key] for kw in kws] for key in kws[0]}
    try:
        model = SpikingClassifier(sizes, readout="spiking" if spiking[-1] else "leaky",
                                  recurrent=[a[2] is not None for a in arrays[:-1]] or False,
                                  dt=dt_ms * u.ms, bias=any(a[1] is not None for a in arrays),
                                  detach_reset=bool(meta.get("detach_reset", True)), integrator=integrator,
                                  **per_layer)
    except ValueError as err:
        if "euler integrator needs dt" in str(err) and producer != "norse":
            raise ValueError(f"{err}. A graph from Norse's exporter (Norse 1.1 writes dt * tau for tau) "
                             f"needs producer='norse'") from None
        raise
    for layer, (w, b, w_rec) in zip(model.layers, arrays):
        value = {"weight": jnp.asarray(w, jnp.float32)}
        if "bias" in layer.linear.weight.value:
            value["bias"] = jnp.asarray(np.zeros(layer.n_out) if b is None else b, jnp.float32)
        layer.linear.weight.value = value
        if w_rec is not None:
            layer.recurrent.weight.value = {"weight": jnp.asarray(w_rec, jnp.float32)}
    return model


def load(path, *, dt=None, integrator=None, reset=None, producer=None):
    """Read the NIR file ``path`` (validated by ``nir.read``) and build its ``SpikingClassifier``.

    The keywords as in ``from_nir``. Raises ``FileNotFoundError`` or ``ValueError`` naming the file.
    """
    nir = _nir()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"NIR file {path} does not exist")
    try:
        graph = nir.read(path)
    except Exception as err:     # h5py, KeyError, AssertionError: nir's reader has no error class
        raise ValueError(f"{path} is not a readable NIR graph: {type(err).__name__}: {err}") from None
    try:
        return from_nir(graph, dt=dt, integrator=integrator, reset=reset, producer=producer, _stacklevel=3)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
