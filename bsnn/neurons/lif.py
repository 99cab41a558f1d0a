"""The current-based LIF neuron (``"lif"``): the one place its math lives.

Discretization (exactly that of ``brainstate.nn.Linear -> brainpy.state.Expon ->
brainpy.state.LIF`` with ``R = 1 ohm``, exponential Euler, step ``dt``)::

    I[t] = alpha * I[t-1] + drive[t]                       alpha = exp(-dt / tau_syn)
    U    = V[t-1] - r * S[t-1]                             reset from the last step's spike
    V[t] = beta * U + (1 - beta) * (V_rest + I[t])         beta  = exp(-dt / tau_mem)
    S[t] = H((V[t] - V_th) / (V_th - V_reset))             H(x) = 1 if x >= 0

With ``integrator="euler"`` the same step is forward Euler of ``tau_syn dI/dt = -I`` (plus the
drive) and ``tau_mem dV/dt = V_rest - V + I``: ``alpha = 1 - dt/tau_syn``, ``beta = 1 -
dt/tau_mem`` (``bsnn.neurons.base.decay``), the step snnTorch, Norse and NIR's reference
simulators take; nothing else changes.

with ``r = V_th - V_reset`` for the soft (subtractive) reset and
``r = stop_gradient(V[t-1]) - V_reset`` for the hard reset (``V`` jumps to ``V_reset``).
``drive[t] = W x[t] + b (+ W_rec S[t-1])`` is the projected input, in mV (the
membrane value a constant current would hold the neuron at). ``tau_syn = 0`` gives
``alpha = 0``: an instantaneous synapse, ``I[t] = drive[t]`` (computed as such, no
carried current). A non-spiking neuron (the leaky read-out) skips the reset and never
spikes.

Everything here is a plain array in the internal units (ms, mV); see ``bsnn.units``.
``NEURON`` is this kind for the protocol of ``bsnn.neurons.base``: it has every capability
(the hand-written layer adjoint, the compiled CPU kernel, EventProp, e-prop, NIR).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from bsnn.neurons.base import CAPABILITIES, Neuron

__all__ = ["LIFConstants", "LIFState", "lif_step", "spike_argument", "is_zero", "zero_state", "NEURON"]


class LIFConstants(NamedTuple):
    """Per-layer constants, scalars or ``[N]`` arrays, in internal units."""

    alpha: float      # synaptic decay per step, exp(-dt/tau_syn) (euler: 1 - dt/tau_syn)
    beta: float       # membrane decay per step, exp(-dt/tau_mem) (euler: 1 - dt/tau_mem)
    v_th: float       # threshold (mV)
    v_reset: float    # reset value (mV)
    v_rest: float     # resting value (mV)
    spiking: bool = True        # False: leaky integrator read-out (no spikes, no reset)
    soft_reset: bool = True     # subtract the threshold (True) or jump to V_reset (False)
    detach_reset: bool = True   # no gradient through the reset term (as snnTorch)
    integrator: str = "exp"     # how alpha and beta came from the time constants (bsnn.neurons.base.INTEGRATORS)


class LIFState(NamedTuple):
    """State of one layer after a step: each ``[B, N]``."""

    i: jax.Array  # synaptic current (mV)
    v: jax.Array  # membrane potential (mV)
    s: jax.Array  # spikes emitted in this step (0/1)


def zero_state(batch: int, n: int, dtype=jnp.float32) -> LIFState:
    """The resting state: no current, membrane at 0 mV, no spike."""
    z = jnp.zeros((batch, n), dtype)
    return LIFState(z, z, z)


def spike_argument(v: jax.Array, c: LIFConstants) -> jax.Array:
    """``x = (V - V_th) / (V_th - V_reset)``: a spike is ``H(x)``, its surrogate slope ``H'(x)``."""
    return (v - c.v_th) / (c.v_th - c.v_reset)


def is_zero(x) -> bool:
    """``x`` is a Python/NumPy scalar 0 (then its term is skipped: same numbers, no traced op)."""
    return isinstance(x, (int, float)) and x == 0


def lif_step(state: LIFState, drive: jax.Array, c: LIFConstants,
             spike_fn: Callable[[jax.Array], jax.Array]) -> LIFState:
    """Advance one layer by one step ``dt``.

    Args:
      state: the layer's state after the previous step.
      drive: ``[B, N]`` projected input of this step (mV).
      c: the layer's constants.
      spike_fn: Heaviside with a surrogate derivative (a ``braintools.surrogate``).

    Returns:
      The new ``LIFState``; its ``s`` are this step's spikes.
    """
    i = drive if is_zero(c.alpha) else c.alpha * state.i + drive
    v = state.v
    if c.spiking:
        s_prev = jax.lax.stop_gradient(state.s) if c.detach_reset else state.s
        jump = (c.v_th - c.v_reset) if c.soft_reset else (jax.lax.stop_gradient(v) - c.v_reset)
        v = v - jump * s_prev
    v = c.beta * v + (1.0 - c.beta) * (c.v_rest + i)
    if c.spiking:
        s = spike_fn(spike_argument(v, c))
    else:
        s = jnp.zeros_like(v)
    return LIFState(i, v, s)


class _LIF(Neuron):
    """The protocol object of this module (``bsnn.neurons.get("lif")``)."""

    name = "lif"
    capabilities = frozenset(CAPABILITIES)
    parameters = {}

    def constants(self, dt_ms: float, core: dict, extra: dict) -> LIFConstants:
        return LIFConstants(**core)

    def zero_state(self, batch: int, n: int, dtype=jnp.float32) -> LIFState:
        return zero_state(batch, n, dtype)

    def step(self, state: LIFState, drive, c: LIFConstants, spike_fn) -> LIFState:
        return lif_step(state, drive, c, spike_fn)

    def spike_argument(self, state: LIFState, c: LIFConstants):
        return spike_argument(state.v, c)

    def brainpy_twin(self, n: int, *, tau_mem, V_th, V_reset, V_rest, spk_fun, spk_reset, **extra):
        import brainpy
        import braintools
        import brainunit as u
        return brainpy.state.LIF(n, R=1.0 * u.ohm, tau=tau_mem, V_th=V_th, V_reset=V_reset, V_rest=V_rest,
                                 V_initializer=braintools.init.Constant(0.0 * u.mV),
                                 spk_fun=spk_fun, spk_reset=spk_reset)


NEURON = _LIF()
