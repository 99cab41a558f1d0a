"""EventProp: exact gradients of spike times and read-out membranes (Wunderlich & Pehle 2021).

Wunderlich, T. C. & Pehle, C. (2021). Event-based backpropagation can compute exact
gradients for spiking neural networks. Scientific Reports 11, 12829.

**Continuous model** (each neuron; ``1/tau`` written ``k_m = 1/tau_mem``, ``k_s = 1/tau_syn``)::

    tau_syn dI/dt = -I + tau_syn sum_i w_i sum_{t_i} delta(t - t_i)     (input spike: I += w)
    tau_mem dV/dt = -(V - V_rest) + I
    V(t_k) = V_th, dV/dt > 0  =>  spike at t_k, then V -> V_reset         (soft = hard here)

**Adjoint.** With costates ``p_V = dL/dV(t)``, ``p_I = dL/dI(t)`` (``p = 0`` after the run),
integrated backward in time between events::

    -dp_V/dt = -k_m p_V + dl_V/dV          -dp_I/dt = k_m p_V - k_s p_I

and at each spike ``t_k`` of neuron ``n`` (``-``/``+``: just before/after; ``Vdot^+ =
Vdot^- + k_m (V_th - V_reset)``; ``m`` runs over the postsynaptic neurons)::

    g_t   = dl/dt_k - Vdot^+ p_V,n^+ + sum_m w_nm (k_s p_I,m^+ - k_m p_V,m^+)   (dL/dt_k)
    p_V,n^- = -g_t / Vdot^-                  (the jump: division by the slope at threshold)
    dL/dw_nm += p_I,m^+(t_k)                 (weight gradient at each presynaptic spike)

``dt_k/dV = -1/Vdot^-`` is the implicit-function derivative of the crossing, ``-Vdot^+
p_V^+`` the moved reset, and the sum the moved postsynaptic current jump.

**Discretization.** The forward pass is ``bsnn.network.simulate`` (the same
``bsnn.neurons.lif.lif_step`` as BPTT: identical spikes). Step ``k`` covers ``[k dt, (k+1) dt]``;
it starts from ``U_k = V_{k-1} - r S_{k-1}`` and ends at ``V_k``. A spike in step ``k`` is
placed by linear interpolation, ``t* = (k + f) dt`` with ``f = (V_th - U_k) / (V_k - U_k)``,
so spike times (and losses on them) are smooth in the weights. Backward, step by step,
with costates ``gU_k`` of ``U_k`` and ``gd_k`` of the drive of step ``k`` (= ``p_I`` just
after the input of step ``k``)::

    no spike:    gV_k = gU_{k+1} + dl/dV_k
    spike:       gV_k = g_t dt*/dV_k,   extra = g_t dt*/dU_k,   dt*/dV_k = -dt f / (V_k - U_k)
    both:        gd_k = alpha gd_{k+1} + (1 - beta) gV_k,      gU_k = beta gV_k + extra

which is the exact transpose of the linear step between spikes, and the jump above with
``Vdot^-`` the secant ``(V_k - U_k) / dt``: for a single layer and a first-spike loss it is
the exact gradient of the discrete model. A hidden spike in step ``k`` reaches the next
layer in step ``k`` (recurrently: ``k + 1``), so ``g_t`` reads that layer's ``gU``, ``gd``
there; ``k_m = -ln(beta)/dt``, ``k_s = -ln(alpha)/dt`` (forward Euler: ``(1 - beta)/dt``,
``(1 - alpha)/dt``, the rates of the ODE that integrator steps). Weight gradients: ``dL/dW =
sum_k x_k^T gd_k``, ``dL/db = sum_k gd_k``, ``dL/dW_rec = sum_k S_k^T gd_{k+1}``.

**Losses.** ``first-spike-ce`` on the interpolated output first-spike times (spiking
read-out; its ``alpha (exp(t_label / tau1) - 1)`` term is the regularizer of W&P and the
PyTorch reimplementation) enters as ``dl/dt_k`` at each output neuron's first spike;
``max-membrane-ce``, ``mean-membrane-ce``, ``membrane-sum-ce`` on a leaky read-out enter
as ``dl/dV_k``. Hidden-layer gradients are those of the continuous model on the simulated
trajectory: accurate for ``dt`` well below ``tau_syn`` (tested at 0.002 ms against an exact
event-driven simulation); at ``dt = 1 ms`` they are rough (train hidden layers at <= 0.5 ms).

**Degenerate cases.** A neuron that never spikes contributes no event. A silent output
neuron's time is ``T dt + silent_scale (V_th - max_k V_k) / (V_th - V_reset)``: with
``silent_scale = 0`` the constant ``T dt`` of exact EventProp (no gradient, so silent
neurons never learn to fire, and first-spike CE tends to silence the whole read-out); the
``EventProp`` default, 20 ms, extends the time past the window so that a silent neuron is
pulled toward threshold through its peak membrane (the exact gradient of that extension).
Two neurons crossing in the same step each keep their own interpolated time. A crossing
with slope below ``min_slope (V_th - V_reset) / tau_mem`` uses that slope (no inf/NaN).
A spike that starts above threshold (``U_k >= V_th``: in continuous time the neuron fires
again at once, several spikes in one step) sits at ``k dt`` with a fixed time; its membrane
gradient passes through the reset as in the discrete model. Inputs get no gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bsnn.encode import Repeated
from bsnn.losses import FirstSpikeCE, MembraneMaxCE, MembraneMeanCE, MembraneSumCE
from bsnn.methods.base import Method, grads_from_layers, register_method
from bsnn.network import LayerWeights, NetworkOutput, simulate
from bsnn.neurons.base import rate

__all__ = ["EventProp", "EventOutput", "eventprop_run", "crossings"]

_TIME_LOSSES = (FirstSpikeCE,)
_MEMBRANE_LOSSES = (MembraneMaxCE, MembraneMeanCE, MembraneSumCE)


class EventOutput(NamedTuple):
    """What ``eventprop_run`` returns; gradients flow through ``first_spike_time`` and ``v``.

    first_spike_time: ``[B, C]`` interpolated output first-spike times (ms), ``T dt`` if silent.
    v: ``[T, B, C]`` output membrane (mV); differentiable for a non-spiking read-out.
    spikes: per layer ``[T, B, N_l]`` spikes (no gradient).
    """

    first_spike_time: jax.Array
    v: jax.Array
    spikes: tuple


class Crossings(NamedTuple):
    """Threshold crossings of a spiking layer (shapes of ``s``)."""

    regular: jax.Array   # 1 where a spike crosses from below inside the step
    frac: jax.Array      # f in [0, 1]: the spike is at (k + f) dt (0 for a spike from above)
    slope: jax.Array     # guarded secant slope (V_k - U_k) / dt at regular crossings (mV/ms)


def _rates(c, dt):
    """``(1/tau_mem, 1/tau_syn)`` in 1/ms from the per-step decays (of either integrator)."""
    return rate(c.beta, dt, c.integrator), rate(c.alpha, dt, c.integrator)


def _after_reset(v_prev, s_prev, c):
    """``U_k = V_{k-1} - r S_{k-1}``: the membrane a step starts from, as in ``lif_step``."""
    jump = (c.v_th - c.v_reset) if c.soft_reset else (v_prev - c.v_reset)
    return v_prev - jump * s_prev


def _crossing(s, v, u, c, dt: float, min_slope: float) -> Crossings:
    """Crossings from spikes ``s``, end ``v`` and start ``u`` of each step (any matching shapes)."""
    regular = (s > 0) & (u < c.v_th)
    floor = min_slope * (c.v_th - c.v_reset) * _rates(c, dt)[0]
    slope = jnp.maximum((v - u) / dt, floor)
    frac = jnp.where(regular, jnp.clip((c.v_th - u) / (slope * dt), 0.0, 1.0), 0.0)
    return Crossings(regular.astype(v.dtype), frac, jnp.where(regular, slope, 0.0))


def crossings(s, v, c, dt: float, min_slope: float = 1e-3) -> Crossings:
    """Interpolated crossings of a layer from its spikes ``s`` and pre-reset membrane ``v`` ``[T, B, N]``."""
    v_prev = jnp.concatenate([jnp.zeros_like(v[:1]), v[:-1]])
    s_prev = jnp.concatenate([jnp.zeros_like(s[:1]), s[:-1]])
    return _crossing(s, v, _after_reset(v_prev, s_prev, c), c, dt, min_slope)


def _first(s):
    """``[T, B, N]`` indicator of each neuron's first spike."""
    return s * (jnp.cumsum(s, axis=0) == 1)


def _project_t(x, g):
    """``sum_k x_k^T g_k`` for ``x [T, B, N_in]`` (or a ``Repeated`` ``[B, N_in]``) and ``g [T, B, N]``."""
    if isinstance(x, Repeated):
        return jnp.einsum("bi,bn->in", x.value, g.sum(0))
    return jnp.einsum("tbi,tbn->in", x, g)


def _adjoint_layer(spec, w, s, v, dt, min_slope, ext, ct_v):
    """Backward sweep of one layer (see the module docstring).

    ``ext [T, B, N]``: dL/dt* of each step's spike from outside (loss, next layer);
    ``ct_v``: dL/dV_k from the loss, or None. Returns ``gd`` (costate of each step's
    drive) and ``gu`` (of each step's starting membrane), each ``[T, B, N]``.
    """
    c = spec.constants
    k_m, k_s = _rates(c, dt)
    r = c.v_th - c.v_reset
    w_rec_t = w.w_rec.T if spec.recurrent else None

    def step(carry, inp):
        gu_next, gi_next, gd_next = carry
        k, s_k, v_k, e, ctv = inp
        gv = gu_next if ctv is None else gu_next + ctv
        extra = 0.0
        if c.spiking:                                   # step k - 1 read in place (no [T, B, N] copy)
            prev = jnp.maximum(k - 1, 0)
            v_p, s_p = (jnp.where(k > 0, jax.lax.dynamic_index_in_dim(a, prev, keepdims=False), 0.0) for a in (v, s))
            cr = _crossing(s_k, v_k, _after_reset(v_p, s_p, c), c, dt, min_slope)
            inv = cr.regular / jnp.where(cr.regular > 0, cr.slope, 1.0)
            g_t = e - cr.regular * (cr.slope + k_m * r) * gu_next      # dL/dt* of this step's spike
            if w_rec_t is not None:
                g_t = g_t + (k_s * gd_next - k_m * gu_next) @ w_rec_t
            keep = 1.0 - cr.regular if c.soft_reset else 1.0 - s_k    # a fixed-time spike: as discrete
            gv = keep * gv - cr.frac * inv * g_t                        # dt*/dV_k = -f dt/(V_k - U_k)
            extra = -(1.0 - cr.frac) * inv * g_t                        # dt*/dU_k
        gd = gi_next + (1.0 - c.beta) * gv
        gu = c.beta * gv + extra
        return (gu, c.alpha * gd, gd), (gd, gu)

    zero = jnp.zeros_like(v[0])
    _, (gd, gu) = jax.lax.scan(step, (zero, zero, zero), (jnp.arange(v.shape[0]), s, v, ext, ct_v),
                               reverse=True)
    return gd, gu


def eventprop_run(specs, dt: float, min_slope: float = 1e-3, silent_scale: float = 0.0):
    """A function ``(weights, x) -> EventOutput`` whose VJP is the EventProp adjoint.

    Args:
      specs: ``LayerSpec`` per layer (input first); every ``tau_syn`` must be > 0.
      dt: the step (ms).
      min_slope: crossing slopes are at least ``min_slope (V_th - V_reset) / tau_mem``.
      silent_scale: a silent output neuron's first-spike time is ``T dt + silent_scale (V_th -
        max_t V) / (V_th - V_reset)`` (ms); 0 gives the constant ``T dt`` of exact EventProp.
    """
    for k, spec in enumerate(specs):
        if np.any(np.asarray(spec.constants.alpha) <= 0):
            raise ValueError(f"EventProp needs tau_syn > 0 in every layer; layer {k} has tau_syn = 0 "
                             f"(an instantaneous synapse has no continuous-time limit here)")

    def forward(weights, x):
        out = simulate(specs, weights, x, dt=dt, record=True)
        s_out, v_out = out.layer_spikes[-1], out.layer_v[-1]
        t = jnp.full(s_out.shape[1:], s_out.shape[0] * dt, s_out.dtype)
        c = specs[-1].constants
        if c.spiking:
            cr = crossings(s_out, v_out, c, dt, min_slope)
            first = _first(s_out)
            steps = jnp.arange(s_out.shape[0], dtype=s_out.dtype)[:, None, None]
            late = t + silent_scale * (c.v_th - v_out.max(0)) / (c.v_th - c.v_reset)
            t = jnp.where(first.sum(0) > 0, dt * (first * (steps + cr.frac)).sum(0), late)
        return EventOutput(t, v_out, tuple(out.layer_spikes)), (out.layer_spikes, out.layer_v)

    @jax.custom_vjp
    def run(weights, x):
        return forward(weights, x)[0]

    def fwd(weights, x):
        result, (spikes, volts) = forward(weights, x)
        return result, (weights, x, spikes, volts)

    def bwd(res, ct):
        weights, x, spikes, volts = res
        grads, ext = [None] * len(specs), None
        for k in reversed(range(len(specs))):
            spec, w, s, v, c = specs[k], weights[k], spikes[k], volts[k], specs[k].constants
            ct_v = None
            if k == len(specs) - 1:
                ext, ct_v = jnp.zeros_like(v), (None if c.spiking else ct.v)
                if c.spiking:
                    ext = _first(s) * ct.first_spike_time
                    if silent_scale:                          # the late time of silent neurons
                        peak = jax.nn.one_hot(jnp.argmax(v, axis=0), v.shape[0], axis=0, dtype=v.dtype)
                        ct_v = peak * jnp.where(s.sum(0) == 0, -silent_scale / (c.v_th - c.v_reset), 0.0) \
                            * ct.first_spike_time
            gd, gu = _adjoint_layer(spec, w, s, v, dt, min_slope, ext, ct_v)
            pre = x if k == 0 else spikes[k - 1]
            if spec.projection is None:
                g_w, g_b = _project_t(pre, gd), None if w.b is None else gd.sum((0, 1))
            else:                  # the projection's own weight gradient (a convolution: its vjp)
                g_w, g_b = (spec.projection.weight_grad(pre.value, gd.sum(0), w.w, w.b)
                            if isinstance(pre, Repeated) else spec.projection.weight_grad(pre, gd, w.w, w.b))
            grads[k] = LayerWeights(g_w, g_b, None if w.w_rec is None else jnp.einsum("tbi,tbn->in", s[:-1], gd[1:]))
            k_m, k_s = _rates(c, dt)
            if k > 0:                                   # dL/dt* of the layer below
                g_in = k_s * gd - k_m * gu
                ext = g_in @ w.w.T if spec.projection is None else spec.projection.transpose(g_in, w.w)
        return tuple(grads), jax.tree.map(jnp.zeros_like, x)

    run.defvjp(fwd, bwd)
    return lambda weights, x: run(tuple(weights), x)


@register_method
class EventProp(Method):
    """Exact gradients with the EventProp adjoint (see the module docstring).

    Args:
      loss: ``first-spike-ce`` (spiking read-out; options ``tau0``, ``tau1``, ``alpha`` in ms),
        or ``max-membrane-ce`` / ``mean-membrane-ce`` (the default, ``bsnn.defaults``) /
        ``membrane-sum-ce`` (``readout="leaky"``).
      min_slope: guard on threshold-crossing slopes, in ``(V_th - V_reset) / tau_mem``.
      silent_scale: ms past the window per ``V_th - V_reset`` that a silent output neuron's
        peak stays below threshold; 0 for exact EventProp's constant ``T dt``.

    ``run(model, weights, x)`` is the differentiable forward pass (a ``NetworkOutput`` whose
    ``first_spike_time`` holds the interpolated times); use it to evaluate, so predictions
    read the same times the loss trains.
    """

    name = "eventprop"
    title = "EventProp"
    needs = ("eventprop",)
    own_path = "eventprop"

    def __init__(self, loss=None, *, min_slope: float = 1e-3, silent_scale: float = 20.0,
                 **loss_options):
        super().__init__(loss, **loss_options)
        if not isinstance(self.loss, _TIME_LOSSES + _MEMBRANE_LOSSES):
            names = [cls.name for cls in _TIME_LOSSES + _MEMBRANE_LOSSES]
            raise ValueError(f"EventProp computes exact gradients only for losses on first-spike times "
                             f"or the read-out membrane: one of {names}, got {self.loss.name!r}")
        if not (isinstance(min_slope, (int, float)) and min_slope > 0):
            raise ValueError(f"min_slope must be a positive number, got {min_slope!r}")
        if not (isinstance(silent_scale, (int, float)) and silent_scale >= 0):
            raise ValueError(f"silent_scale must be a number >= 0 (ms), got {silent_scale!r}")
        self.min_slope, self.silent_scale = float(min_slope), float(silent_scale)

    def check_projections(self, model):
        super().check_projections(model)
        for k, spec in enumerate(model.specs):
            if spec.projection is not None and not spec.projection.linear:
                raise ValueError(f"EventProp's adjoint carries each spike through a linear map, but layer {k} "
                                 f"({spec.projection.describe()}) pools by max, which is not linear; use average "
                                 f"or sum pooling (ap / sp in an architecture string), or bptt")

    def check(self, model, x, labels):
        super().check(model, x, labels)
        spiking = model.layers[-1].spiking
        if isinstance(self.loss, _TIME_LOSSES) and not spiking:
            raise ValueError(f"loss {self.loss.name!r} needs a spiking read-out (readout='spiking'), "
                             f"got a non-spiking read-out")
        if isinstance(self.loss, _MEMBRANE_LOSSES) and spiking:
            raise ValueError(f"loss {self.loss.name!r} needs a non-spiking read-out (readout='leaky'), "
                             f"got a spiking read-out")

    def run(self, model, weights, x) -> NetworkOutput:
        """The forward pass as a ``NetworkOutput`` with interpolated first-spike times (differentiable)."""
        res = eventprop_run(model.specs, model.dt_ms, self.min_slope, self.silent_scale)(weights, x)
        spikes = tuple(jax.lax.stop_gradient(s) for s in res.spikes)
        return NetworkOutput(spikes[-1], res.v, tuple(s.sum(0) for s in spikes), model.dt_ms,
                             first_spike_time=res.first_spike_time)

    def loss_and_grads(self, model, x, labels):
        x = model.flat_input(x) if hasattr(model, "flat_input") else x
        self.check(model, x, labels)

        def objective(weights):
            out = self.run(model, weights, x)
            return self.loss(out, labels), out

        (loss, out), layer_grads = jax.value_and_grad(objective, has_aux=True)(model.weights())
        return loss, grads_from_layers(model, layer_grads), out
