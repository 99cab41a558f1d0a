"""Pure forward pass of a stack of current-based LIF layers over time.

``simulate(specs, weights, x)`` runs the network on ``x: [T, B, N_in]`` and returns a
``NetworkOutput``. It is a pure function of its arrays (``jax.grad``, ``jax.jit``,
``jax.vmap`` and sharding apply), built on ``brainstate.transform.for_loop`` with the
per-step math of ``bsnn.neurons.lif.lif_step``. Three schedules give the same numbers:

* ``hoist=True`` (default): layer by layer. A layer's input is projected for all
  steps with one batched matmul before its loop (a ``Repeated`` constant input only
  once), so the loop body is elementwise (plus the recurrent matmul, if any). Layers
  with a detached reset and no recurrence use the hand-written reverse pass of
  ``bsnn._layer_vjp`` (same gradients, much cheaper). Such a hidden layer, unless
  traces are recorded, is fused with the next layer's projection
  (``bsnn._fused``): its loop emits the next layer's drive and its spike counts
  directly, and the float ``[T, B, N]`` spike train is never materialized.
* ``hoist=False``: all layers advance together in one loop, every step projecting every
  layer's input (a ``Repeated`` constant input is still projected once), differentiated
  by JAX's generic scan transpose. Fewer, fatter loop iterations: on a GPU, where each
  iteration costs kernel launches, this can beat the layer-by-layer schedule.
* ``remat=True``: all layers advance together inside
  ``brainstate.transform.checkpointed_for_loop``, which recomputes the forward pass in
  the backward pass instead of storing every step's state; only the output layer's
  ``[T, B, C]`` trace and the per-layer spike counts are kept. Memory for long
  rollouts stays bounded.

Which loop runs each layer (compiled kernel, fused, hand-written adjoint, generic) is
chosen in one place, ``bsnn.execution.plan``; ``simulate(..., plan=...)`` follows a given
plan. A layer's neuron is ``LayerSpec.neuron`` (a ``bsnn.neurons`` kind): the generic
loops step it through its own ``step``; the faster paths exist for the neurons with the
capabilities they need.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence

import brainstate
import jax
import jax.numpy as jnp

from bsnn import dynamics, execution, neurons
from bsnn.encode import Repeated
from bsnn._fused import lif_layer_projected
from bsnn._layer_vjp import lif_layer
from bsnn.projections import is_dense

__all__ = ["LayerSpec", "LayerWeights", "NetworkOutput", "simulate", "project", "step_layer", "step_network"]


class LayerSpec(NamedTuple):
    """What a layer is, apart from its trainable weights (static under jit)."""

    n_in: int
    n_out: int
    constants: NamedTuple          # the neuron kind's constants (bsnn.neurons.lif.LIFConstants, ...)
    spike_fn: Callable[[jax.Array], jax.Array]
    recurrent: bool = False
    neuron: str = "lif"            # a bsnn.neurons kind
    learn: tuple = ()              # constants trained as parameters (bsnn.dynamics), in LayerWeights.dynamics
    projection: Any = None         # a bsnn.projections kind (None: dense, ``x @ w + b``)


class LayerWeights(NamedTuple):
    """A layer's trainable arrays: ``w [N_in, N_out]`` (a convolution's kernel for a ``Conv2d`` projection),
    ``b [N_out]`` (per channel for a convolution) or None, ``w_rec [N_out, N_out]`` or None,
    ``dynamics``: the unconstrained learned constants (``bsnn.dynamics``), ``{name: [N_out]}``, or None."""

    w: jax.Array
    b: Optional[jax.Array] = None
    w_rec: Optional[jax.Array] = None
    dynamics: Optional[dict] = None


class NetworkOutput(NamedTuple):
    """What a run returns.

    spikes: ``[T, B, C]`` output-layer spikes (zeros for a leaky read-out).
    v: ``[T, B, C]`` output-layer membrane potential (mV).
    counts: per layer, ``[B, N_l]`` spike counts over the run (output layer last).
    dt: the step in ms.
    layer_spikes, layer_v: per layer ``[T, B, N_l]`` traces, only with ``record=True``.
    first_spike_time: ``[B, C]`` output first-spike times (ms) interpolated inside the
      step, set by methods that compute exact spike times (EventProp); else None.
    """

    spikes: jax.Array
    v: jax.Array
    counts: tuple
    dt: float
    layer_spikes: Optional[tuple] = None
    layer_v: Optional[tuple] = None
    first_spike_time: Optional[jax.Array] = None


def project(x, w: LayerWeights, projection=None):
    """The layer's drive from its input ``x`` of any leading shape (``[B, N]`` or ``[T, B, N]``):
    ``x @ w + b`` for a dense layer (``projection`` None), else ``projection.apply``."""
    if not is_dense(projection):
        return projection.apply(x, w.w, w.b)
    y = jnp.matmul(x, w.w)
    return y if w.b is None else y + w.b


def step_layer(spec: LayerSpec, neuron, w: LayerWeights, last, drive):
    """One layer, one step: add the recurrent term ``S[t-1] @ W_rec`` to the projected ``drive``
    and advance the layer's neuron (a ``bsnn.neurons`` kind) from its state ``last``."""
    if spec.recurrent:
        drive = drive + jnp.matmul(last.s, w.w_rec)
    return neuron.step(last, drive, spec.constants, spec.spike_fn)


def step_network(specs: Sequence[LayerSpec], kinds: Sequence, weights: Sequence[LayerWeights], states, inp,
                 first_drive=None) -> list:
    """All layers, one step, input layer first: each layer's drive is the projection of the
    layer below's new spikes (layer 0's: of ``inp``, or ``first_drive`` when given, a
    constant input projected once). The body of the stepwise schedules and of the online
    rules (``bsnn.methods.eligibility``). Returns the new state of every layer."""
    new_states = []
    for k, (spec, w, last) in enumerate(zip(specs, weights, states)):
        d = first_drive if (k == 0 and first_drive is not None) else project(inp, w, spec.projection)
        new = step_layer(spec, kinds[k], w, last, d)
        new_states.append(new)
        inp = new.s
    return new_states


def _layer_loop(spec: LayerSpec, w: LayerWeights, drive, steps: int, batch: int, constant: bool):
    """Run one layer over time given its projected drive; returns ``(spikes, v)`` each ``[T, B, N]``."""
    neuron = neurons.get(spec.neuron)
    state = brainstate.ShortTermState(neuron.zero_state(batch, spec.n_out, drive.dtype))

    def body(d):
        new = step_layer(spec, neuron, w, state.value, d)
        state.value = new
        return new.s, new.v

    if constant:
        return brainstate.transform.for_loop(lambda *_: body(drive), length=steps)
    return brainstate.transform.for_loop(body, drive)


def _simulate_layerwise(specs, weights, x, record, paths):
    steps, batch = x.shape[0], x.shape[1]
    last = len(specs) - 1
    inp, drive, spikes, volts, counts = x, None, [], [], []
    for k, (spec, w) in enumerate(zip(specs, weights)):
        constant = isinstance(inp, Repeated)
        if drive is None:                  # not already produced by the layer below (fused)
            drive = project(inp.value if constant else inp, w, spec.projection)
        if paths[k] in ("native", "fused"):
            nxt = weights[k + 1]
            y, c = lif_layer_projected(spec, drive, nxt.w, steps, batch, constant,
                                       kernel=paths[k] == "native")
            drive = y if nxt.b is None else y + nxt.b
            counts.append(c)
            inp = None                     # the next layer's drive is [T, B, M]: not constant
            continue
        if paths[k] == "adjoint":
            s, v = lif_layer(spec, drive, steps, batch, constant, with_v=record or k == last)
        else:
            s, v = _layer_loop(spec, w, drive, steps, batch, constant)
        spikes.append(s)
        volts.append(v)
        counts.append(s.sum(0))
        inp, drive = s, None
    rec = (tuple(spikes), tuple(volts)) if record else (None, None)
    return spikes[-1], volts[-1], tuple(counts), rec


def _simulate_stepwise(specs, weights, x, record, remat):
    steps, batch = x.shape[0], x.shape[1]
    constant = isinstance(x, Repeated)
    # A constant input is projected once, outside the loop (it costs no memory in T).
    first_drive = project(x.value, weights[0], specs[0].projection) if constant else None
    dtype = x.dtype
    kinds = [neurons.get(s.neuron) for s in specs]
    states = brainstate.ShortTermState(tuple(n.zero_state(batch, s.n_out, dtype) for n, s in zip(kinds, specs)))
    counts = brainstate.ShortTermState(tuple(jnp.zeros((batch, s.n_out), dtype) for s in specs))

    def body(*x_t):
        new_states = step_network(specs, kinds, weights, states.value, None if constant else x_t[0], first_drive)
        states.value = tuple(new_states)
        counts.value = tuple(c + st.s for c, st in zip(counts.value, new_states))
        out = (new_states[-1].s, new_states[-1].v)
        if record:
            out += (tuple(st.s for st in new_states), tuple(st.v for st in new_states))
        return out

    xs = () if constant else (x,)
    loop = brainstate.transform.checkpointed_for_loop if remat else brainstate.transform.for_loop
    ys = loop(body, *xs, length=steps)
    rec = (ys[2], ys[3]) if record else (None, None)
    return ys[0], ys[1], counts.value, rec


def simulate(specs: Sequence[LayerSpec], weights: Sequence[LayerWeights], x, *, dt: float,
             hoist: bool = True, remat: bool = False, record: bool = False,
             plan: Optional[execution.Plan] = None) -> NetworkOutput:
    """Run the network from rest over all steps of ``x``.

    Args:
      specs: one ``LayerSpec`` per layer, input layer first.
      weights: one ``LayerWeights`` per layer, in the same order.
      x: ``[T, B, N_in]`` array or a ``Repeated`` constant input.
      dt: the step in ms (carried into the output for time-based losses).
      hoist: layer-by-layer schedule with hoisted projections (see the module docstring).
      remat: all layers per step in a remat loop; same numbers either way.
      record: also return every layer's spike and membrane traces.
      plan: the ``bsnn.execution.plan`` to follow (default: that of these arguments); a
        given plan's schedule wins over ``hoist`` and ``remat``.
    """
    if plan is None:
        plan = execution.plan(specs, hoist=hoist, remat=remat, record=record, dtype=x.dtype)
    else:
        plan = execution.check(plan, specs, record=record, dtype=x.dtype)
    specs = [s._replace(constants=dynamics.apply(s.constants, w.dynamics)) if w.dynamics else s
             for s, w in zip(specs, weights)]          # learned constants: traced values from the weights
    if plan.schedule != "layerwise":
        out_s, out_v, counts, rec = _simulate_stepwise(specs, weights, x, record, plan.schedule == "remat")
    else:
        out_s, out_v, counts, rec = _simulate_layerwise(specs, weights, x, record, plan.paths)
    return NetworkOutput(out_s, out_v, tuple(counts), dt, rec[0], rec[1])
