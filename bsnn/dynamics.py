"""Learnable neuron dynamics: per-neuron ``tau_mem``, ``tau_syn`` and ``V_th`` as trained parameters.

PLIF (Fang et al. 2021) learns the membrane decay; here any of the three can be opted in
per layer (``CubaLIF(..., learn=("tau_mem", "V_th"))``, ``bsnn train --learn tau_mem,V_th``).
Each is stored unconstrained and mapped into its range, so no optimizer step can leave it:

    beta  = sigmoid(w_beta)                 tau_mem = -dt / ln(beta)  > 0   (euler: dt / (1 - beta))
    alpha = sigmoid(w_alpha)                tau_syn = -dt / ln(alpha) > 0   (euler: dt / (1 - alpha))
    V_th  = V_reset + g + softplus(w_th)    V_th > V_reset + g,  g = MIN_GAP = 1e-3 mV

The stored values start at the layer's constants (one per neuron, so heterogeneous initial
time constants, Perez-Nieves et al. 2021, are given as arrays, e.g. ``tau_mem=taus * u.ms``).
Learned layers run through the generic loops (``bsnn.execution``: the hand-written reverse
passes give no gradient for the constants), and BPTT trains them; methods with their own
adjoint or traces (EventProp, e-prop) refuse them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["LEARNABLE", "MIN_GAP", "check", "initial", "apply", "values"]

#: the least threshold-to-reset gap (mV) a learned threshold keeps (softplus alone underflows in float32)
MIN_GAP = 1e-3

from bsnn.defaults import LEARNABLE, learn_names  # noqa: E402  (the names, listed with the CLI's defaults)
from bsnn.neurons.base import rate  # noqa: E402

_FIELDS = {"tau_mem": "beta", "tau_syn": "alpha", "V_th": "v_th"}


def check(learn, *, spiking: bool, tau_syn_zero: bool) -> tuple:
    """``learn`` as a tuple of names from ``LEARNABLE``; a clear error for what cannot be learned."""
    learn = learn_names(learn)
    if "tau_syn" in learn and tau_syn_zero:
        raise ValueError("learn tau_syn needs tau_syn > 0 (an instantaneous synapse has no time constant to learn)")
    if "V_th" in learn and not spiking:
        raise ValueError("learn V_th needs a spiking layer (a leaky read-out has no threshold)")
    return tuple(p for p in LEARNABLE if p in learn)


def _logit(p):
    return np.log(p) - np.log1p(-p)


def initial(constants, learn: tuple, n: int) -> dict:
    """The unconstrained starting values, ``[n]`` each, from the layer's constants."""
    raw = {}
    for name in learn:
        value = np.broadcast_to(np.asarray(getattr(constants, _FIELDS[name]), np.float64), (n,))
        if name == "V_th":
            gap = value - np.broadcast_to(np.asarray(constants.v_reset, np.float64), (n,)) - MIN_GAP
            if np.any(gap <= 0):
                raise ValueError(f"learn V_th needs V_th - V_reset > {MIN_GAP} mV at the start")
            raw[name] = gap + np.log(-np.expm1(-gap))            # softplus^-1
        else:
            raw[name] = _logit(np.clip(value, 1e-7, 1 - 1e-7))
    return raw


def apply(constants, raw: dict):
    """``constants`` with the learned fields replaced by their (traced) values."""
    out = {}
    for name, w in raw.items():
        if name == "V_th":
            out["v_th"] = constants.v_reset + MIN_GAP + jax.nn.softplus(w)
        else:
            out[_FIELDS[name]] = jax.nn.sigmoid(w)
    return constants._replace(**out)


def values(raw: dict, constants, dt_ms: float) -> dict:
    """The learned parameters in physical terms (NumPy, ms / mV): ``{"tau_mem": [n], ...}``."""
    c = apply(constants, {k: jnp.asarray(v) for k, v in raw.items()})
    out = {}
    for name in raw:
        value = np.asarray(getattr(c, _FIELDS[name]), np.float64)
        out[name] = value if name == "V_th" else 1.0 / rate(value, dt_ms, constants.integrator)
    return out
