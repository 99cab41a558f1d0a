"""The neuron protocol: what a neuron kind provides, and how a method asks for a capability.

A neuron kind is one module of ``bsnn.neurons`` holding one ``Neuron`` instance. It gives

* ``constants(dt_ms, core, extra)``: its per-layer constants (a ``NamedTuple`` of scalars or
  ``[N]`` arrays in ms / mV) from the current-based core every kind shares (``alpha``,
  ``beta``, ``v_th``, ``v_reset``, ``v_rest``, ``spiking``, ``soft_reset``, ``detach_reset``,
  ``integrator``) and its own parameters (``parameters``: name -> (unit kind, default)). A
  kind turns its own time constants into per-step decays with ``decay(dt, tau,
  core["integrator"])``, so the integrator option (``INTEGRATORS``) reaches every leak;
* ``zero_state(batch, n, dtype)`` and ``step(state, drive, c, spike_fn)``: its state (a
  ``NamedTuple`` with at least ``v``, the membrane, and ``s``, this step's spikes) and one
  pure step, the only place its math lives;
* ``spike_argument(state, c)``: ``x`` with spikes ``H(x)``;
* ``brainpy_twin(n, **kw)``: the ``brainpy.state`` neuron the stateful path steps;
* ``capabilities``: which optional pieces exist (``CAPABILITIES``). A method or kernel that
  needs one calls ``require``, which names the neuron, the method and what is missing.

The ``eprop`` capability is the three ``eligibility_*`` methods below. e-prop
(``bsnn.methods.eligibility``) carries, for every kind, the current-based core's
presynaptic traces ``eps_I``, ``eps_V`` (the synaptic and membrane filters, shared by all
neurons of a layer) and the pseudo-derivative ``psi = dS/dV``; a kind whose spike depends on
more of its own state than the membrane (the adaptation of ALIF) adds its part of the
eligibility vector there. The defaults are those of a kind with nothing more (LIF).
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, Tuple

import numpy as np

__all__ = ["Neuron", "CAPABILITIES", "NeuronCapabilityError", "require", "compact", "INTEGRATORS", "decay",
           "rate"]

#: how a leak ``tau dx/dt = -x + input`` becomes one step ``x[t] = d x[t-1] + (1 - d) input[t]``
INTEGRATORS = {
    "exp": "exponential Euler, d = exp(-dt/tau): exact for an input constant over the step (brainpy.state)",
    "euler": "forward Euler, d = 1 - dt/tau: how snnTorch, Norse and NIR's reference simulators step",
}

CAPABILITIES = {
    "layer-adjoint": "a hand-written linear reverse pass of one feed-forward layer "
                     "(bsnn._layer_vjp, bsnn._fused, the compiled CPU kernel)",
    "native-kernel": "a compiled CPU kernel of the fused hidden layer (bsnn._native)",
    "eventprop": "an exact adjoint between spikes (EventProp)",
    "eprop": "eligibility traces for e-prop and random feedback",
    "nir": "a NIR node that other tools run",
}


class NeuronCapabilityError(ValueError):
    """A method or kernel needs a capability the layer's neuron does not have."""


class Neuron:
    """One neuron kind (see the module docstring). Subclasses set the class attributes."""

    name: str = "neuron"
    capabilities: FrozenSet[str] = frozenset()
    parameters: Dict[str, Tuple[str, object]] = {}     # extra parameters: name -> (unit kind, default)

    def constants(self, dt_ms: float, core: dict, extra: dict):
        raise NotImplementedError

    def zero_state(self, batch: int, n: int, dtype):
        raise NotImplementedError

    def step(self, state, drive, c, spike_fn: Callable):
        raise NotImplementedError

    def spike_argument(self, state, c):
        raise NotImplementedError

    def brainpy_twin(self, n: int, **kwargs):
        raise NotImplementedError

    # ---- e-prop: the eligibility vector beyond the membrane trace (capability "eprop") ----

    def eligibility_init(self, c, batch: int, n_in, n_out: int, dtype):
        """The extra eligibility state of a layer's synapses at rest, or None (nothing beyond
        ``eps_V``). ``n_in`` is None for a synapse group whose input factor is a scalar (a
        bias, or a constant input): then the state is ``[B, N_out]``, else ``[B, N_in, N_out]``."""
        return None

    def eligibility_step(self, extra, c, eps_v_prev, psi_prev):
        """Advance ``extra`` (not None) to this step from the previous step's membrane trace
        ``eps_v_prev`` (``[B, N_in]``, or a scalar for a scalar input factor) and
        pseudo-derivative ``psi_prev [B, N_out]``."""
        return extra

    def eligibility_grad(self, extra, c, post):
        """This step's gradient beyond ``eps_V^T post`` (``extra`` not None), with ``post = L * psi [B, N_out]``
        (the learning signal times the pseudo-derivative): ``[N_in, N_out]``, or ``[B, N_out]``
        for a scalar input factor; None for nothing."""
        return None

    def __repr__(self):
        return f"<bsnn neuron {self.name!r}>"


def require(neuron: Neuron, capability: str, needed_by: str, layer: int | None = None) -> None:
    """Raise ``NeuronCapabilityError`` unless ``neuron`` has ``capability``."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {sorted(CAPABILITIES)}")
    if capability not in neuron.capabilities:
        where = f"layer {layer} uses" if layer is not None else "the network uses"
        has = ", ".join(sorted(neuron.capabilities)) or "none"
        raise NeuronCapabilityError(
            f"{needed_by} needs {capability} ({CAPABILITIES[capability]}), but {where} the {neuron.name!r} "
            f"neuron, which does not provide it (its capabilities: {has})")


def decay(dt_ms: float, tau_ms, integrator: str = "exp", name: str = "tau") -> np.ndarray:
    """The per-step decay ``d`` of a leak with time constant ``tau_ms`` (scalar or ``[N]``, ms)
    under ``integrator`` (``INTEGRATORS``); 0 where ``tau = 0`` (no leak state: the input as it is).

    Raises ``ValueError`` for an unknown integrator, or a forward-Euler step longer than ``tau``
    (``1 - dt/tau < 0`` oscillates), naming ``name``."""
    tau = np.asarray(tau_ms, np.float64)
    safe = np.maximum(tau, 1e-30)
    if integrator == "exp":
        with np.errstate(over="ignore"):
            return np.where(tau > 0, np.exp(-dt_ms / safe), 0.0)
    if integrator == "euler":
        short = (tau > 0) & (tau < dt_ms)
        if np.any(short):
            raise ValueError(f"the euler integrator needs dt <= {name} (1 - dt/{name} would be negative), got "
                             f"dt = {dt_ms:g} ms and {name} = {float(np.min(tau[short])):g} ms; use a shorter dt "
                             f"or integrator='exp'")
        return np.where(tau > 0, 1.0 - dt_ms / safe, 0.0)
    raise ValueError(f"integrator must be one of {', '.join(map(repr, INTEGRATORS))}, got {integrator!r}")


def rate(d, dt_ms: float, integrator: str = "exp") -> np.ndarray:
    """``1/tau`` (1/ms) from a per-step decay ``d`` (concrete values): the inverse of ``decay``."""
    d = np.asarray(d, np.float64)
    return (1.0 - d) / dt_ms if integrator == "euler" else -np.log(d) / dt_ms


def compact(a):
    """A scalar constant stays a Python float (folded into the compiled loop); an array gets the
    run's float dtype."""
    import brainstate
    import jax.numpy as jnp
    a = np.asarray(a)
    return float(a) if a.ndim == 0 else jnp.asarray(a, brainstate.environ.dftype())
