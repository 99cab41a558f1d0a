"""One feed-forward LIF layer over time with a hand-written BPTT reverse pass.

The forward pass is ``bsnn.neurons.lif.lif_step`` in a ``brainstate.transform.for_loop``. The
reverse pass is the exact surrogate-gradient BPTT of that loop when the reset is detached
(``detach_reset=True``) and the layer has no recurrent weights: then the adjoint is linear,

    gV[t] = g_v[t] + psi[t] * g_s[t] + beta * gV[t+1]        psi[t] = H'(x[t]) / (V_th - V_reset)
    gI[t] = (1 - beta) * gV[t] + alpha * gI[t+1]
    g_drive[t] = gI[t]            (a constant drive gets sum_t gI[t])

with ``H'`` the surrogate's pseudo-derivative at ``x[t] = (V[t] - V_th) / (V_th - V_reset)``.
Only ``psi`` (one ``[T, B, N]`` array, none for a non-spiking read-out) is kept for the
backward pass, the membrane trace is produced only when it is used (``with_v``), and the
reverse loop is two multiply-adds per element and step: several times cheaper than
differentiating the loop generically. ``tests/test_bptt.py`` checks it against ``jax.grad``
of an independent implementation and against the generic per-step path.

``surrogate_slope`` and ``adjoint_step`` (one reverse step) are shared with ``bsnn._fused``,
which runs a hidden layer of this kind fused with the next layer's projection.
"""

from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp

from bsnn.neurons.lif import is_zero, lif_step, spike_argument, zero_state

__all__ = ["obstacles", "lif_layer", "surrogate_slope", "adjoint_step"]


def obstacles(spec) -> list:
    """Why the hand-written reverse pass does not apply (empty: it does). It needs a neuron
    with the ``layer-adjoint`` capability, a detached reset, no recurrence and a
    ``braintools`` surrogate."""
    from bsnn import neurons
    out = []
    neuron = neurons.get(spec.neuron)
    if "layer-adjoint" not in neuron.capabilities:
        out.append(f"the {neuron.name!r} neuron has no hand-written layer adjoint")
    if not spec.constants.detach_reset:
        out.append("the reset is not detached (detach_reset=False)")
    if spec.recurrent:
        out.append("the layer is recurrent")
    if getattr(spec, "learn", ()):
        out.append(f"it learns {', '.join(spec.learn)} (the hand-written reverse pass has no gradient for them)")
    if spec.constants.spiking and not hasattr(spec.spike_fn, "surrogate_grad"):
        out.append(f"the spike function {type(spec.spike_fn).__name__} has no surrogate_grad")
    return out



def surrogate_slope(spec, v: jax.Array) -> jax.Array:
    """``psi = H'(x) / (V_th - V_reset)`` at ``x = (v - V_th) / (V_th - V_reset)``: ``dS/dV`` of a step."""
    c = spec.constants
    return (spec.spike_fn.surrogate_grad(spike_argument(v, c)) / (c.v_th - c.v_reset)).astype(v.dtype)


def adjoint_step(c, g_volt, g_cur, *sources):
    """One reverse step: ``gV = beta gV' + sum(sources)``, ``gI = (1 - beta) gV + alpha gI'``.

    ``sources`` are this step's direct ``dL/dV[t]`` terms (``psi * g_s``, ``g_v``), added in order;
    an ``alpha`` of exactly 0 (instantaneous synapse) drops its term.
    """
    g_volt = c.beta * g_volt
    for source in sources:
        g_volt = g_volt + source
    if is_zero(c.alpha):
        return g_volt, (1.0 - c.beta) * g_volt
    return g_volt, (1.0 - c.beta) * g_volt + c.alpha * g_cur


def lif_layer(spec, drive: jax.Array, steps: int, batch: int, constant: bool, with_v: bool = True):
    """``(spikes, v)``, each ``[T, B, N]``, of one layer driven by ``drive`` (``[T, B, N]``, or
    ``[B, N]`` repeated every step when ``constant``). ``v`` is None unless ``with_v`` (or the
    layer does not spike); the spikes of a non-spiking layer are zeros."""
    c = spec.constants
    spiking = c.spiking
    with_v = with_v or not spiking

    def forward(d_all):
        state = brainstate.ShortTermState(zero_state(batch, spec.n_out, d_all.dtype))

        def body(d):
            new = lif_step(state.value, d, c, spec.spike_fn)
            state.value = new
            out = ()
            if spiking:
                out += (new.s, surrogate_slope(spec, new.v))
            if with_v:
                out += (new.v,)
            return out

        if constant:
            ys = brainstate.transform.for_loop(lambda *_: body(d_all), length=steps)
        else:
            ys = brainstate.transform.for_loop(body, d_all)
        s, psi = (ys[0], ys[1]) if spiking else (None, None)
        return s, (ys[-1] if with_v else None), psi

    def outputs(s, v):
        return tuple(a for a in (s, v) if a is not None)

    @jax.custom_vjp
    def run(d_all):
        s, v, _ = forward(d_all)
        return outputs(s, v)

    def run_fwd(d_all):
        s, v, psi = forward(d_all)
        return outputs(s, v), psi

    def run_bwd(psi, cotangents):
        cots = list(cotangents)
        g_s = cots.pop(0) if spiking else None
        g_v = cots.pop(0) if with_v else None
        streams = tuple(a for a in (g_s, psi, g_v) if a is not None)
        zeros = jnp.zeros(streams[0].shape[1:], streams[0].dtype)
        adj = brainstate.ShortTermState((zeros, zeros, zeros))   # gV, gI, sum_t gI

        def body(*xs):
            xs = list(xs)
            g_volt, g_cur, total = adj.value
            sources = []
            if spiking:
                gs, p = xs.pop(0), xs.pop(0)
                sources.append(p * gs)
            if with_v:
                sources.append(xs.pop(0))
            g_volt, g_cur = adjoint_step(c, g_volt, g_cur, *sources)
            adj.value = (g_volt, g_cur, total + g_cur)
            return None if constant else g_cur

        g_drive = brainstate.transform.for_loop(body, *streams, reverse=True)
        return (adj.value[2],) if constant else (g_drive,)

    run.defvjp(run_fwd, run_bwd)
    result = run(drive)
    s = result[0] if spiking else jnp.zeros((steps, batch, spec.n_out), drive.dtype)
    v = result[-1] if with_v else None
    return s, v
