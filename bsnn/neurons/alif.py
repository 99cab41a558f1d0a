"""The adaptive LIF neuron (``"alif"``; LSNN, Bellec et al. 2020): a threshold that rises with each spike.

Discretization (exactly that of ``brainstate.nn.Linear -> brainpy.state.Expon ->
brainpy.state.ALIF`` with ``R = 1 ohm``, exponential Euler, step ``dt``)::

    I[t] = alpha * I[t-1] + drive[t]                        alpha = exp(-dt / tau_syn)
    U    = V[t-1] - r * S[t-1]                              reset from the last step's spike
    a[t] = rho * (a[t-1] + S[t-1])                          rho   = exp(-dt / tau_adapt)
    V[t] = beta * U + (1 - beta) * (V_rest + I[t])          beta  = exp(-dt / tau_mem)
    S[t] = H((V[t] - V_th - beta_a * a[t]) / (V_th - V_reset))

(``integrator="euler"``: every decay is ``1 - dt/tau``, as in ``bsnn.neurons.lif``.)

``a`` counts recent spikes (it jumps by one on each, then decays with ``tau_adapt``) and
raises the threshold by ``beta_a`` (mV) per unit: the neuron fires less after a burst and
remembers its recent activity for about ``tau_adapt``, far longer than ``tau_mem``. The
reset ``r`` is as in ``bsnn.neurons.lif`` (soft: ``V_th - V_reset``, not the adapted
threshold, as ``brainpy.state.ALIF``). With ``detach_reset`` the reset carries no gradient;
the adaptation jump always does: that path is how an ALIF network assigns credit over long
delays (Bellec et al. 2020). ``beta_a = 0`` is the LIF neuron.

Parameters beyond the LIF core: ``tau_adapt`` (a time, default 200 ms) and ``beta_adapt``
(a voltage, default 0.2 mV), each one value or one per neuron.

**e-prop** (capability ``eprop``; Bellec et al. 2020, Methods, "e-prop for LSNNs"). With the
reset detached, ``V`` does not depend on ``a``, so the membrane part of the eligibility vector
is LIF's presynaptic ``eps_V_i`` (``bsnn.methods.eprop``). The adaptation part is per synapse:
``a_j[t]`` depends on ``W_ji`` through the neuron's own past spikes,
``da_j[t]/dW_ji = rho (da_j[t-1]/dW_ji + dS_j[t-1]/dW_ji)``, and
``dS_j[t]/dW_ji = psi_j[t] (eps_V_i[t] - beta_a da_j[t]/dW_ji)``, so with
``eps_a_ji = da_j/dW_ji``::

    eps_a[t] = rho * (eps_a[t-1] * (1 - beta_a psi[t-1]) + psi[t-1] * eps_V[t-1])
    e[t]     = psi[t] * (eps_V[t] - beta_a * eps_a[t])            (the eligibility trace)

``psi = pseudo'(x) / (V_th - V_reset)`` at the adapted spike argument ``x``. The gradient
``sum_t L[t] e[t]`` is LIF's ``eps_V^T (L psi)`` minus ``beta_a sum_b eps_a (L psi)``.
Unlike ``eps_V``, ``eps_a`` depends on the postsynaptic neuron: it is ``[B, N_in, N_out]``
per layer (flat in ``T``, but the size of the weights times the batch), or ``[B, N_out]``
for a bias and a constant input, whose ``eps_a`` is the input times one trace per neuron.
Only the reset is left out; the adaptation path is exact, so a single ALIF layer with a loss
on its own spikes gets the exact gradient of the fixed online error (tested).
EventProp and the compiled kernel refuse this neuron with an error naming what is missing.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bsnn.neurons.base import Neuron, compact, decay
from bsnn.neurons.lif import is_zero

__all__ = ["ALIFConstants", "ALIFState", "alif_step", "NEURON"]


class ALIFConstants(NamedTuple):
    """Per-layer constants, scalars or ``[N]`` arrays, in internal units (ms, mV)."""

    alpha: float
    beta: float
    v_th: float
    v_reset: float
    v_rest: float
    rho: float        # adaptation decay per step, exp(-dt/tau_adapt)
    beta_a: float     # threshold rise per unit of adaptation (mV)
    spiking: bool = True
    soft_reset: bool = True
    detach_reset: bool = True
    integrator: str = "exp"


class ALIFState(NamedTuple):
    """State of one layer after a step: each ``[B, N]``."""

    i: jax.Array  # synaptic current (mV)
    v: jax.Array  # membrane potential (mV)
    a: jax.Array  # adaptation (spikes, decaying)
    s: jax.Array  # spikes emitted in this step (0/1)


def spike_argument(v, a, c: ALIFConstants):
    """``x = (V - V_th - beta_a a) / (V_th - V_reset)``."""
    return (v - c.v_th - c.beta_a * a) / (c.v_th - c.v_reset)


def alif_step(state: ALIFState, drive: jax.Array, c: ALIFConstants,
              spike_fn: Callable[[jax.Array], jax.Array]) -> ALIFState:
    """Advance one layer by one step (see the module docstring)."""
    i = drive if is_zero(c.alpha) else c.alpha * state.i + drive
    s_prev = jax.lax.stop_gradient(state.s) if c.detach_reset else state.s
    jump = (c.v_th - c.v_reset) if c.soft_reset else (jax.lax.stop_gradient(state.v) - c.v_reset)
    v = state.v - jump * s_prev
    a = c.rho * (state.a + state.s)
    v = c.beta * v + (1.0 - c.beta) * (c.v_rest + i)
    s = spike_fn(spike_argument(v, a, c)) if c.spiking else jnp.zeros_like(v)
    return ALIFState(i, v, a, s)


class _ALIF(Neuron):
    name = "alif"
    capabilities = frozenset({"eprop"})
    parameters = {"tau_adapt": ("TIME", 200.0), "beta_adapt": ("VOLTAGE", 0.2)}

    def constants(self, dt_ms: float, core: dict, extra: dict) -> ALIFConstants:
        tau_a = np.asarray(extra["tau_adapt"], np.float64)
        beta_a = np.asarray(extra["beta_adapt"], np.float64)
        if np.any(tau_a <= 0):
            raise ValueError(f"tau_adapt must be positive, got {extra['tau_adapt']} ms")
        if np.any(beta_a < 0):
            raise ValueError(f"beta_adapt must be >= 0 (0 is the LIF neuron), got {extra['beta_adapt']} mV")
        return ALIFConstants(**core, rho=compact(decay(dt_ms, tau_a, core["integrator"], "tau_adapt")), beta_a=compact(beta_a))

    def zero_state(self, batch: int, n: int, dtype=jnp.float32) -> ALIFState:
        z = jnp.zeros((batch, n), dtype)
        return ALIFState(z, z, z, z)

    def step(self, state: ALIFState, drive, c: ALIFConstants, spike_fn) -> ALIFState:
        return alif_step(state, drive, c, spike_fn)

    def spike_argument(self, state: ALIFState, c: ALIFConstants):
        return spike_argument(state.v, state.a, c)

    def brainpy_twin(self, n: int, *, tau_mem, V_th, V_reset, V_rest, spk_fun, spk_reset,
                     tau_adapt, beta_adapt):
        import brainpy
        import braintools
        import brainunit as u
        return brainpy.state.ALIF(n, R=1.0 * u.ohm, tau=tau_mem, tau_a=tau_adapt, V_th=V_th, V_reset=V_reset,
                                  V_rest=V_rest, beta=beta_adapt, spk_fun=spk_fun, spk_reset=spk_reset,
                                  V_initializer=braintools.init.Constant(0.0 * u.mV),
                                  a_initializer=braintools.init.Constant(0.0))


    def eligibility_init(self, c: ALIFConstants, batch, n_in, n_out, dtype):
        if not c.spiking:
            return None
        return jnp.zeros((batch, n_out) if n_in is None else (batch, n_in, n_out), dtype)

    def eligibility_step(self, extra, c: ALIFConstants, eps_v_prev, psi_prev):
        if extra.ndim == 3:                               # per synapse: [B, N_in, N_out]
            psi_prev, eps_v_prev = psi_prev[:, None, :], eps_v_prev[:, :, None]
        return c.rho * (extra * (1.0 - c.beta_a * psi_prev) + psi_prev * eps_v_prev)

    def eligibility_grad(self, extra, c: ALIFConstants, post):
        if extra.ndim == 3:
            return -jnp.einsum("bij,bj->ij", extra, c.beta_a * post)
        return -c.beta_a * extra * post


NEURON = _ALIF()
