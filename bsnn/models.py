"""``SpikingClassifier``: a feed-forward (optionally recurrent) stack of ``CubaLIF`` layers.

    import brainunit as u, bsnn
    model = bsnn.SpikingClassifier([784, 256, 10], tau_mem=20 * u.ms, tau_syn=5 * u.ms,
                                   V_th=1 * u.mV, surrogate="atan", readout="leaky")
    out = model.run(x)          # x: [T, B, 784] -> NetworkOutput (spikes, v: [T, B, 10])

Every neuron parameter may be one value for all layers or a list with one value per
layer (hidden layers first, read-out last).

A convolutional network is given by an architecture string and the input's image shape
(``bsnn.projections.arch``)::

    model = bsnn.SpikingClassifier("12c5-mp2-64c5-mp2-10", input_shape=(28, 28, 1))
    out = model.run(x)          # x: [T, B, 784] (flat, channels last) or [T, B, 28, 28, 1]
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import brainstate
import brainunit as u
import jax
import numpy as np

from bsnn import defaults, execution, neurons
from bsnn.encode import Repeated
from bsnn.layers import CubaLIF
from bsnn.network import NetworkOutput, simulate

__all__ = ["SpikingClassifier", "StepOutput", "check_input", "check_labels"]

_PER_LAYER = ("tau_mem", "tau_syn", "V_th", "V_reset", "V_rest", "reset", "surrogate", "w_scale", "w_mean")


class StepOutput(NamedTuple):
    """One step of the stateful path: output spikes and membrane (mV), each ``[B, C]``."""

    spikes: jax.Array
    v: jax.Array


def _per_layer(name: str, value, n_layers: int) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n_layers:
            raise ValueError(f"{name} has {len(value)} values but the network has {n_layers} layers; "
                             f"give one value or one per layer")
        return list(value)
    return [value] * n_layers


class SpikingClassifier(brainstate.nn.Module):
    """A classifier of current-based LIF layers ``sizes[0] -> ... -> sizes[-1]``.

    Args:
      sizes: layer widths, input first, classes last (at least two entries); or an architecture
        string (``"12c5-mp2-64c5-mp2-10"``, ``bsnn.projections.arch``) with ``input_shape``.
      input_shape: ``(H, W, C)`` (or ``(H, W)``) of one input sample, for an architecture string.
      tau_mem: membrane time constant (a time); one value or one per layer, as every
        neuron parameter below.
      tau_syn: synaptic time constant (a time; 0 ms: instantaneous synapse).
      V_th: threshold (a voltage).
      V_reset: reset potential (a voltage).
      V_rest: resting potential (a voltage).
      reset: ``"soft"`` or ``"hard"``.
      surrogate: surrogate name or ``braintools.surrogate`` instance.
      w_scale: input weights drawn ``N(w_mean, w_scale^2 / n_in)`` (default 3).
      w_mean: mean of the input weights (default 0).
      readout: ``"leaky"`` (the default: a non-spiking leaky integrator whose membrane is
        read out) or ``"spiking"`` (the last layer spikes).

    The defaults are those of ``bsnn train`` (``bsnn.defaults``).
      recurrent: lateral weights in hidden layers: a bool, or one bool per hidden layer.
      dt: simulation step (a time).
      hoist: project each layer's input for all steps before its loop (see ``bsnn.network``).
      remat: recompute the forward pass in the backward pass (bounded memory).
      detach_reset: no gradient through the reset term (as in ``CubaLIF``).
      bias: learn a bias current (as in ``CubaLIF``).
      learn: constants trained as per-neuron parameters (``bsnn.dynamics``: ``"tau_mem"``,
        ``"tau_syn"``, ``"V_th"``) in every layer (a read-out learns no threshold); a list of
        such tuples gives them per layer.
      neuron: the neuron kind (``bsnn.neurons.KINDS``): one name for the hidden layers (and a
        spiking read-out; a leaky read-out is always the LIF integrator), or one per layer.
      integrator: ``"exp"`` (exponential Euler, the default) or ``"euler"`` (forward Euler, as
        snnTorch, Norse and NIR's simulators step) for every layer (``CubaLIF``).
      **neuron_params: parameters of the kinds (e.g. ``tau_adapt``, ``beta_adapt`` for
        ``"alif"``), one value or one per layer; each layer takes those its kind has.
    """

    def __init__(self, sizes: Sequence[int], *, tau_mem=20 * u.ms, tau_syn=5 * u.ms,
                 V_th=1 * u.mV, V_reset=0 * u.mV, V_rest=0 * u.mV, reset="soft",
                 surrogate="atan", readout: str = "leaky", recurrent=False, dt=1 * u.ms,
                 w_scale=3.0, w_mean=0.0, hoist: bool = True, remat: bool = False,
                 detach_reset: bool = True, bias: bool = True, neuron="lif", learn=(), integrator: str = "exp",
                 input_shape=None, **neuron_params):
        super().__init__()
        from bsnn.projections import arch as _arch
        projections = None
        if _arch.is_arch(sizes):
            projections = _arch.parse(sizes, input_shape)
            self.arch = sizes
            self.input_shape = tuple(projections[0].in_shape)
            sizes = _arch.sizes(projections)
        elif input_shape is not None:
            raise ValueError("input_shape is the image shape for an architecture string (sizes='12c5-mp2-10'); "
                             "a list of layer sizes takes none")
        else:
            self.arch, self.input_shape = None, None
        self.arguments = dict(sizes=self.arch if self.arch else list(sizes), tau_mem=tau_mem, tau_syn=tau_syn, V_th=V_th, V_reset=V_reset,
                              V_rest=V_rest, reset=reset, surrogate=surrogate, readout=readout,
                              recurrent=recurrent, dt=dt, w_scale=w_scale, w_mean=w_mean, hoist=hoist,
                              remat=remat, detach_reset=detach_reset, bias=bias)
        if neuron != "lif" or neuron_params:
            self.arguments.update(neuron=neuron, **neuron_params)
        if learn:
            self.arguments["learn"] = learn
        if integrator != "exp":
            self.arguments["integrator"] = integrator
        if self.arch:
            self.arguments["input_shape"] = list(self.input_shape)
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output size, got {sizes}")
        if readout not in ("spiking", "leaky"):
            raise ValueError(f"readout must be 'spiking' or 'leaky', got {readout!r}")
        n_layers = len(sizes) - 1
        given = dict(tau_mem=tau_mem, tau_syn=tau_syn, V_th=V_th, V_reset=V_reset, V_rest=V_rest,
                     reset=reset, surrogate=surrogate, w_scale=w_scale, w_mean=w_mean)
        per_layer = {k: _per_layer(k, given[k], n_layers) for k in _PER_LAYER}
        rec = _per_layer("recurrent", recurrent, n_layers - 1) if n_layers > 1 else []
        projections = projections or [None] * n_layers
        for name in (neuron if isinstance(neuron, (list, tuple)) else [neuron]):
            neurons.get(name)                 # an unknown kind is refused, read-out or not
        if isinstance(neuron, (list, tuple)):
            kinds = _per_layer("neuron", neuron, n_layers)
        else:
            kinds = [neuron] * (n_layers - 1) + [neuron if readout == "spiking" else "lif"]
        kinds = [neurons.get(k) for k in kinds]
        taken = set().union(*(k.parameters for k in kinds))
        unused = sorted(set(neuron_params) - taken)
        if unused:
            raise TypeError(f"SpikingClassifier got {unused}, which none of its layers' neurons "
                            f"({sorted({k.name for k in kinds})}) takes")
        extra = {name: _per_layer(name, value, n_layers) for name, value in neuron_params.items()}
        if isinstance(learn, str):
            learn = defaults.learn_names(learn)
        if learn and all(isinstance(item, (list, tuple)) for item in learn):
            learned = _per_layer("learn", list(learn), n_layers)
        else:                                   # one set for all: a leaky read-out has no threshold
            learned = [tuple(learn)] * (n_layers - 1) + [tuple(p for p in learn if p != "V_th" or readout == "spiking")]
        self.sizes, self.readout, self.dt = sizes, readout, dt
        self.hoist, self.remat = bool(hoist), bool(remat)
        layers = []
        for k in range(n_layers):
            last = k == n_layers - 1
            layers.append(CubaLIF(
                sizes[k], sizes[k + 1], dt=dt, detach_reset=detach_reset, bias=bias,
                spiking=not (last and readout == "leaky"), recurrent=(not last) and bool(rec[k]),
                neuron=kinds[k].name, learn=learned[k], integrator=integrator, projection=projections[k],
                **{name: per_layer[name][k] for name in _PER_LAYER},
                **{name: extra[name][k] for name in extra if name in kinds[k].parameters}))
        self.layers = layers
        self.dt_ms = layers[0].dt_ms
        self.integrator = integrator

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    @property
    def specs(self):
        return [layer.spec for layer in self.layers]

    def weights(self):
        return [layer.weights() for layer in self.layers]

    def plan(self, *, record: bool = False, hoist: bool | None = None, remat: bool | None = None,
             avoid=(), dtype=None) -> execution.Plan:
        """Which path each layer's loop takes, and why (``bsnn.execution.plan``); ``print`` it."""
        return execution.plan(self.specs, hoist=self.hoist if hoist is None else hoist,
                              remat=self.remat if remat is None else remat,
                              record=record, avoid=avoid, dtype=dtype or brainstate.environ.dftype())

    def run(self, x, *, record: bool = False, hoist: bool | None = None,
            remat: bool | None = None, plan: execution.Plan | None = None) -> NetworkOutput:
        """Simulate from rest. ``x: [T, B, N_in]`` (array or ``Repeated``) -> ``NetworkOutput``.

        ``plan`` (from ``plan()``) fixes each layer's path; otherwise it follows from
        ``hoist``, ``remat`` and ``record``."""
        x = self.flat_input(x)
        check_input(x, self.n_in)
        if plan is None:
            plan = self.plan(record=record, hoist=hoist, remat=remat, dtype=x.dtype)
        return simulate(self.specs, self.weights(), x, dt=self.dt_ms, record=record, plan=plan)

    def flat_input(self, x):
        """``x`` as ``[T, B, N_in]``: image inputs ``[T, B, H, W, C]`` of a convolutional model are
        flattened (channels last, as the layers read them); anything else passes unchanged."""
        if self.input_shape is None:
            return x
        image = tuple(x.shape[2:]) if getattr(x, "ndim", 0) >= 3 else None
        shape = self.input_shape
        if image is not None and image != (self.n_in,) and image in (shape, shape[:2] if shape[2] == 1 else None):
            if isinstance(x, Repeated):
                return Repeated(x.value.reshape(x.value.shape[0], -1), x.steps)
            return x.reshape(x.shape[:2] + (-1,))
        return x

    # ---- stateful stepping through the brainpy.state composition -----------------------
    def init_state(self, batch_size: int | None = None, **kwargs):
        for layer in self.layers:
            layer.init_state(batch_size)

    def update(self, x) -> StepOutput:
        """One step of the brainpy.state composition: ``x [B, N_in]`` -> ``StepOutput``."""
        for layer in self.layers:
            x = layer.update(x)
        return StepOutput(x, self.layers[-1].membrane())

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"SpikingClassifier(\n  {inner}\n)"


def check_input(x, n_in: int):
    """Raise ``ValueError`` unless ``x`` is ``[T, B, n_in]`` (and finite, when its values are known)."""
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 3:
        raise ValueError(f"input must be time-major [T, B, N] with N = {n_in}, got shape {shape}")
    if shape[-1] != n_in:
        raise ValueError(f"input has {shape[-1]} features but the network expects {n_in} "
                         f"(shape [T, B, N] = {shape})")
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"input must have at least one step and one sample, got shape {shape}")
    value = x.value if isinstance(x, Repeated) else x
    if not isinstance(value, jax.core.Tracer):
        arr = np.asarray(value)
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"input must be a float array, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("input contains NaN or inf")


def check_labels(y, batch: int, n_classes: int):
    """Raise ``ValueError`` unless ``y`` is ``[batch]`` integer class ids in ``[0, n_classes)``."""
    shape = tuple(getattr(y, "shape", ()))
    if shape != (batch,):
        raise ValueError(f"labels must be integer class ids of shape [B] = ({batch},), got shape {shape}")
    if not np.issubdtype(np.dtype(y.dtype), np.integer):
        raise ValueError(f"labels must be integer class ids, got dtype {y.dtype}")
    if not isinstance(y, jax.core.Tracer):
        arr = np.asarray(y)
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise ValueError(f"labels must lie in [0, {n_classes}), got values in [{arr.min()}, {arr.max()}]")
