"""A hidden LIF layer fused with the next layer's input projection (layerwise schedule).

``lif_layer_projected(spec, drive, w_next, ...)`` runs one feed-forward spiking hidden
layer (one that ``bsnn.execution.plan`` sends down the ``fused`` or ``native`` path) and returns,
instead of its ``[T, B, N]`` spike train, what the rest of the network reads from it:

    y[t]   = S[t] @ W_next                 [T, B, M]  the next layer's drive (bias added by the caller)
    counts = sum_t S[t]                    [B, N]     the layer's spike counts

Both are formed inside the time loop, one step at a time, so the float spike train is
never written to memory. The loop keeps the membrane ``V[t]`` for the reverse pass (one
``[T, B, N]`` array, as ``bsnn._layer_vjp`` keeps ``psi``), from which the reverse loop
recomputes the spikes ``S[t] = H(x[t])`` (bit for bit those of the forward pass) and the
surrogate slope ``psi[t]``. It is the adjoint of ``bsnn._layer_vjp`` with the spike
cotangent formed per step from the small ``g_y[t]``:

    g_s[t]       = g_y[t] @ W_next^T (+ g_counts, when the loss reads the counts)
    gV[t], gI[t] = adjoint_step(gV[t+1], gI[t+1], psi[t] * g_s[t])
    g_W_next     = sum_t S[t]^T @ g_y[t]

Against the unfused schedule this saves, per hidden layer and batch, the float spike
train's write and three reads (projection, ``W_next`` gradient, counts), the write and
read of ``g_s``, and one of the two stored ``[T, B, N]`` arrays: the loop is memory-bound.
Both loops advance ``UNROLL`` steps per iteration (when that divides ``T``), so one step's
small matmuls run beside the next step's elementwise work on another core. Gradients
equal those of the unfused path up to the order of float summation
(``tests/test_bptt.py::test_fused_readout_matches_unfused``).

On the CPU backend, when ``bsnn._native.supports`` the layer (the ``native`` path of the plan) (scalar constants, a named
surrogate, a next layer of at most ``bsnn._native.MAX_NEXT`` units), the same operation runs
as a compiled C++ kernel instead of these loops: the same spikes bit for bit, gradients
equal up to summation order (``tests/test_native.py``), and no ``[T, B, N]`` array at all
(the reverse pass recomputes each batch row's membrane in cache).
"""

from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from bsnn import _native as native
from bsnn._layer_vjp import adjoint_step, surrogate_slope
from bsnn.neurons.lif import lif_step, spike_argument, zero_state

__all__ = ["lif_layer_projected"]

UNROLL = 5    # at most this many steps per loop iteration (the largest divisor of T up to it)
NARROW = 16   # up to this many next-layer units, g_y[t] @ W^T is written out as a sum of outer products


def _unroll(steps: int) -> int:
    """Steps per loop iteration: a divisor of ``steps`` (a remainder would cost a copy of the outputs)."""
    return max(k for k in range(1, UNROLL + 1) if steps % k == 0)


def _narrow_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a [B, K] @ b [K, N]``; for a small ``K`` as ``sum_k a[:, k] b[k]``, which XLA fuses with
    the elementwise adjoint around it (a GEMM call per step is several times slower on CPU)."""
    if a.shape[1] > NARROW:
        return jnp.matmul(a, b)
    return sum(a[:, k, None] * b[k] for k in range(a.shape[1]))


def _batch_contract(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a^T @ b`` for ``a [B, M]``, ``b [B, N]``: ``[M, N]``, contracting the batch (the fast operand
    order on CPU: the small matrix transposed, not the large one)."""
    return jax.lax.dot_general(a, b, (((0,), (0,)), ((), ())))


def lif_layer_projected(spec, drive: jax.Array, w_next: jax.Array, steps: int, batch: int, constant: bool,
                        kernel: bool | None = None):
    """``(y, counts)``: ``y [T, B, M] = S[t] @ w_next`` per step and ``counts [B, N] = sum_t S[t]``.

    Args:
      spec: the hidden layer's ``LayerSpec`` (a spiking LIF layer the plan fuses).
      drive: its projected input, ``[T, B, N]``, or ``[B, N]`` repeated every step when ``constant``.
      w_next: ``[N, M]`` the next layer's input weights.
      kernel: run the compiled CPU kernel (``bsnn.execution.plan`` decides; ``None``: when
        ``bsnn._native.supports`` the layer).
    """
    if kernel is None:
        kernel = native.supports(spec, drive.dtype, w_next.shape[1])
    if kernel:
        return _native_layer(spec, drive, w_next, steps, constant)
    c = spec.constants
    unroll = _unroll(steps)

    def spikes(v):
        return spec.spike_fn(spike_argument(v, c))

    def forward(d_all, w):
        state = brainstate.ShortTermState(zero_state(batch, spec.n_out, d_all.dtype))
        counts = brainstate.ShortTermState(jnp.zeros((batch, spec.n_out), d_all.dtype))

        def body(d):
            new = lif_step(state.value, d, c, spec.spike_fn)
            state.value = new
            counts.value = counts.value + new.s
            return jnp.matmul(new.s, w), new.v

        if constant:
            y, v = brainstate.transform.for_loop(lambda *_: body(d_all), length=steps, unroll=unroll)
        else:
            y, v = brainstate.transform.for_loop(body, d_all, unroll=unroll)
        return (y, counts.value), (v, w)

    @jax.custom_vjp
    def run(d_all, w):
        return forward(d_all, w)[0]

    def run_fwd(d_all, w):     # with symbolic zeros, primals come wrapped (value, perturbed)
        return forward(d_all.value, w.value)

    def run_bwd(res, cotangents):
        v, w = res
        g_y, g_counts = cotangents
        if isinstance(g_y, SymbolicZero):
            g_y = jnp.zeros(g_y.shape, g_y.dtype)
        if isinstance(g_counts, SymbolicZero):   # the loss does not read the counts: nothing to add
            g_counts = None
        zeros = jnp.zeros(v.shape[1:], v.dtype)
        w_t = w.T
        adj = brainstate.ShortTermState((zeros, zeros, zeros, jnp.zeros_like(w_t)))   # gV, gI, sum_t gI, g_w^T

        def body(v_t, g_t):
            g_volt, g_cur, total, g_wt = adj.value
            g_s = _narrow_matmul(g_t, w_t)
            if g_counts is not None:
                g_s = g_s + g_counts
            g_volt, g_cur = adjoint_step(c, g_volt, g_cur, surrogate_slope(spec, v_t) * g_s)
            g_wt = g_wt + _batch_contract(g_t, spikes(v_t))
            adj.value = (g_volt, g_cur, total + g_cur, g_wt)
            return None if constant else g_cur

        g_drive = brainstate.transform.for_loop(body, v, g_y, reverse=True, unroll=unroll)
        _, _, total, g_wt = adj.value
        return (total if constant else g_drive), g_wt.T

    run.defvjp(run_fwd, run_bwd, symbolic_zeros=True)
    return run(drive, w_next)


def _native_layer(spec, drive: jax.Array, w_next: jax.Array, steps: int, constant: bool):
    """``lif_layer_projected`` by the compiled CPU kernels of ``bsnn._native`` (same outputs)."""

    @jax.custom_vjp
    def run(d_all, w):
        return native.fused_forward(spec, d_all, w, steps, constant)

    def run_fwd(d_all, w):
        return run(d_all.value, w.value), (d_all.value, w.value)

    def run_bwd(res, cotangents):
        d_all, w = res
        g_y, g_counts = cotangents
        if isinstance(g_y, SymbolicZero):
            g_y = jnp.zeros(g_y.shape, g_y.dtype)
        if isinstance(g_counts, SymbolicZero):
            g_counts = None
        return native.fused_backward(spec, d_all, w, g_y, g_counts, constant)

    run.defvjp(run_fwd, run_bwd, symbolic_zeros=True)
    return run(drive, w_next)
