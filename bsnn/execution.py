"""Which execution path each layer takes, and why: the one place that chooses.

    plan = bsnn.execution.plan(model.specs, hoist=True)     # or model.plan(), method.plan(model)
    print(plan)             # one line per layer: its path and the reasons
    model.run(x, plan=bsnn.execution.plan(model.specs, avoid={"native"}))   # force another path

Paths, fastest first (``PATHS``):

* ``native``: a spiking hidden layer fused with the next layer's projection, as the compiled
  CPU kernel (``bsnn._native``);
* ``fused``: the same fusion as XLA loops with the hand-written reverse pass (``bsnn._fused``);
* ``adjoint``: one layer as an XLA loop with the hand-written reverse pass (``bsnn._layer_vjp``);
* ``scan``: one layer as an XLA loop that JAX differentiates (any neuron, recurrence, an
  attached reset);
* ``stepwise``: every layer in one loop over time (``hoist=False``; JAX differentiates it);
* ``remat``: the same loop, recomputed in the backward pass (``remat=True``).

EventProp and the online rules run loops of their own: their ``Method.plan`` names them
(``eventprop``, ``online``) for every layer.

``plan`` takes the first path of the schedule whose conditions hold for the layer; its
reasons say what held and, for each faster path passed over, what did not. ``avoid``
removes paths from the choice (the way tests force one). ``bsnn.network.simulate`` follows
the plan it is given, or ``plan(...)`` of its arguments.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import jax.numpy as jnp

__all__ = ["PATHS", "LayerPlan", "Plan", "plan", "check"]

PATHS = {
    "native": "fused with the next projection, compiled CPU kernel (bsnn._native)",
    "fused": "fused with the next projection, XLA loops, hand-written reverse pass (bsnn._fused)",
    "adjoint": "XLA loop, hand-written reverse pass (bsnn._layer_vjp)",
    "scan": "XLA loop differentiated by JAX",
    "stepwise": "all layers in one loop over time, differentiated by JAX (hoist=False)",
    "remat": "all layers in one loop, recomputed in the backward pass (remat=True)",
    # the methods with their own loops (Method.plan): not paths of bsnn.network.simulate
    "eventprop": "EventProp's forward loop and its exact adjoint (bsnn.methods.eventprop)",
    "online": "one forward loop with eligibility traces, no backward pass (bsnn.methods.eligibility)",
}
_LAYERWISE = ("native", "fused", "adjoint", "scan")


class LayerPlan(NamedTuple):
    """One layer's path and the reasons for it."""

    layer: int
    path: str
    reasons: tuple


class Plan(tuple):
    """A ``LayerPlan`` per layer, input layer first; ``str()`` is a readable table."""

    @property
    def paths(self) -> tuple:
        return tuple(p.path for p in self)

    @property
    def schedule(self) -> str:
        return self[0].path if self and self[0].path in ("stepwise", "remat") else "layerwise"

    def __str__(self):
        lines = []
        for p in self:
            lines.append(f"layer {p.layer}: {p.path} - {PATHS[p.path]}")
            lines += [f"    {r}" for r in p.reasons]
        return "\n".join(lines)

    def __repr__(self):
        return f"Plan({', '.join(self.paths)})"


def _obstacles(path: str, specs, k: int, dtype, record: bool) -> list:
    """Why ``path`` cannot run layer ``k`` (empty: it can)."""
    from bsnn import _layer_vjp as layer_vjp, _native as native
    from bsnn.projections import is_dense
    spec, last = specs[k], k == len(specs) - 1
    if path == "scan":
        return []
    out = list(layer_vjp.obstacles(spec))
    if path == "adjoint":
        return out
    if last:
        out.append("it is the output layer (nothing to fuse with)")
    elif not is_dense(specs[k + 1].projection):
        out.append(f"the next layer's projection is a {specs[k + 1].projection.kind} (the fusion folds a dense one)")
    if not spec.constants.spiking:
        out.append("it does not spike")
    if record:
        out.append("traces are recorded (record=True)")
    if path == "fused" or out:
        return out
    from bsnn import neurons
    if "native-kernel" not in neurons.get(spec.neuron).capabilities:
        return [f"the {spec.neuron!r} neuron has no compiled kernel"]
    return native.obstacles(spec, dtype, specs[k + 1].n_out)


def plan(specs: Sequence, *, hoist: bool = True, remat: bool = False, record: bool = False,
         dtype=jnp.float32, avoid: Iterable[str] = ()) -> Plan:
    """The path of each layer of ``specs`` (``LayerSpec``, input first) under these settings.

    Args:
      hoist: the layer-by-layer schedule (``False``: the ``stepwise`` one), as ``bsnn.network.simulate``.
      remat: the ``remat`` schedule.
      record: every layer's traces are returned (then no layer is fused).
      dtype: the run's float dtype (the kernel runs float32 and float64).
      avoid: paths not to take (``PATHS`` names). The generic ``scan`` is always possible.

    Raises:
      ValueError: an unknown path in ``avoid``, or a schedule path avoided.
    """
    avoid = set(avoid)
    unknown = sorted(avoid - set(PATHS))
    if unknown:
        raise ValueError(f"avoid takes path names from {list(PATHS)}, got {unknown}")
    if remat or not hoist:
        path = "remat" if remat else "stepwise"
        if path in avoid:
            raise ValueError(f"the {path} schedule is asked for (remat={remat}, hoist={hoist}) but "
                             f"avoided; use hoist=True, remat=False for a layer-by-layer plan")
        why = "remat=True" if remat else "hoist=False"
        return Plan(LayerPlan(k, path, (f"{why}: every layer steps in one loop",)) for k in range(len(specs)))
    if "scan" in avoid:
        raise ValueError("the generic 'scan' path cannot be avoided: it is what every layer can take")
    layers = []
    for k in range(len(specs)):
        reasons = []
        for path in _LAYERWISE:
            if path in avoid:
                reasons.append(f"not {path}: avoided")
                continue
            blocked = _obstacles(path, specs, k, dtype, record)
            if not blocked:
                reasons.append(f"{path}: its conditions hold" if path != "scan" else "scan: the generic path")
                layers.append(LayerPlan(k, path, tuple(reasons)))
                break
            reasons.append(f"not {path}: " + "; ".join(blocked))
    return Plan(layers)


def check(given: Plan, specs: Sequence, *, record: bool = False, dtype=jnp.float32) -> Plan:
    """``given`` if it can run ``specs``; else ``ValueError`` naming the layer and what fails."""
    if not isinstance(given, Plan):
        raise TypeError(f"plan must be a bsnn.execution.Plan (from bsnn.execution.plan), got {type(given).__name__}")
    if len(given) != len(specs):
        raise ValueError(f"the plan has {len(given)} layers but the network has {len(specs)}")
    schedules = {p.path in ("stepwise", "remat") for p in given}
    if len(schedules) != 1 or (True in schedules and len({p.path for p in given}) != 1):
        raise ValueError(f"a plan is either layer by layer or one schedule for all layers, got {given.paths}")
    own = [p.path for p in given if p.path in ("eventprop", "online")]
    if own:
        raise ValueError(f"a {own[0]!r} plan is that method's own loop, not one bsnn.network.simulate runs")
    if given.schedule == "layerwise":
        for p in given:
            blocked = _obstacles(p.path, specs, p.layer, dtype, record)
            if blocked:
                raise ValueError(f"layer {p.layer} cannot take the {p.path!r} path: " + "; ".join(blocked))
    return given
