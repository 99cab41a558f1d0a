"""The online loop of e-prop and random feedback: one forward pass, traces, gradient accumulators.

``online_gradients`` advances every layer by the network's own step
(``bsnn.network.step_network``, the body of the stepwise schedules) in one ``jax.lax.scan``
over time and, in the same step, updates the factorized eligibility traces and adds this
step's contribution to each weight gradient with one matmul. A neuron kind whose spike
depends on more than its membrane (ALIF's adaptation) adds its part of the eligibility
vector through the protocol's ``eligibility_*`` methods (``bsnn.neurons.base``).
Nothing with a time axis is kept (except, on request, the output layer's
``[T, B, C]`` trace). The math and the choices are in ``bsnn.methods.eprop``.

Shapes: ``B`` batch, ``N_in``/``N_out`` a layer's inputs/neurons, ``C`` classes.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from bsnn import neurons as _neurons
from bsnn.encode import Repeated
from bsnn.network import LayerSpec, LayerWeights, NetworkOutput, project, step_network

__all__ = ["Trace", "OnlineResult", "layer_decays", "pseudo_derivative", "online_gradients"]


class Trace(NamedTuple):
    """A presynaptic eligibility vector: the input filtered by the synapse (``i``), then the membrane (``v``).

    ``i, v``: ``[B, N_in]`` for an input stream, or scalars for a constant input (a bias
    or a ``Repeated`` input, whose trace is the input times this scalar).
    """

    i: jax.Array
    v: jax.Array

    def advance(self, x, alpha: float, beta: float) -> "Trace":
        """``eps_I <- alpha eps_I + x``; ``eps_V <- beta eps_V + (1 - beta) eps_I`` (the ``lif_step`` filters)."""
        i = alpha * self.i + x
        return Trace(i, beta * self.v + (1.0 - beta) * i)


class _Carry(NamedTuple):
    t: jax.Array          # step index (int32)
    neurons: tuple        # the neuron kind's state, per layer
    pre: tuple            # Trace of the layer's input, per layer
    rec: tuple            # Trace of the layer's own last spikes (recurrent layers), else None
    bias: tuple           # scalar Trace of a constant 1, per layer
    psi: tuple            # [B, N_out] pseudo-derivative of the last step, for layers with extra eligibility; else None
    extra: tuple          # per layer (input, recurrent, bias) extra eligibility of the kind, or None
    g_w: tuple            # [N_in, N_out] accumulators ([B, N_out] for a constant input, see below)
    g_b: tuple            # [N_out]
    g_rec: tuple          # [N_out, N_out] or None
    counts: tuple         # [B, N_l] spike counts
    loss: jax.Array       # running per-step loss (membrane error)
    v_sum: jax.Array      # [B, C] summed output membrane


class OnlineResult(NamedTuple):
    """What ``online_gradients`` returns: the loss, per-layer gradients, and the ``NetworkOutput``."""

    loss: jax.Array
    grads: list
    out: NetworkOutput


def layer_decays(specs: Sequence[LayerSpec]) -> list:
    """Per-layer ``(alpha, beta)`` as floats; the factorized trace needs one value per layer."""
    decays = []
    for k, spec in enumerate(specs):
        pair = []
        for name, tau in (("alpha", "tau_syn"), ("beta", "tau_mem")):
            value = np.asarray(getattr(spec.constants, name), np.float64)
            if value.ndim and not np.all(value == value.flat[0]):
                raise ValueError(
                    f"e-prop needs one {tau} per layer (its presynaptic trace is shared by all neurons "
                    f"of a layer), but layer {k} has per-neuron {name} of shape {value.shape}")
            pair.append(float(value.flat[0]))
        decays.append(tuple(pair))
    return decays


def pseudo_derivative(spike_fn) -> Callable[[jax.Array], jax.Array]:
    """``x -> dS/dx`` of a surrogate spike function, elementwise.

    ``surrogate_grad`` of a ``braintools.surrogate``; for another differentiable
    elementwise function, its vector-Jacobian product with ones.
    """
    if hasattr(spike_fn, "surrogate_grad"):
        return spike_fn.surrogate_grad
    return lambda x: jax.vjp(spike_fn, x)[1](jnp.ones_like(x))[0]


def online_gradients(specs: Sequence[LayerSpec], weights: Sequence[LayerWeights], x, *,
                     step_loss: Callable, error: str, feedback: Sequence[Optional[jax.Array]],
                     gains: Sequence[float], pseudo: Sequence[Callable], window: Optional[int],
                     record: bool, dt: float, loss_in_window: bool = False) -> OnlineResult:
    """Run the network once over ``x`` and accumulate e-prop gradients online.

    Args:
      specs: the layers' ``LayerSpec``, input first (as ``bsnn.network.simulate``).
      weights: the layers' ``LayerWeights``, in the same order.
      x: ``[T, B, N_in]`` array or a ``Repeated`` constant input.
      step_loss: ``y [B, C] -> scalar``; for ``error="membrane"`` the loss of one step's
        output membrane (its gradient is the error), for ``error="rate"`` the loss of the
        output spike counts, evaluated at the running count estimate.
      error: ``"membrane"`` or ``"rate"``.
      feedback: per hidden layer, ``None`` (symmetric: the transposed weights of the
        layer above, error backpropagated through the stack within the step) or a fixed
        ``[C, N_l]`` matrix (the output error sent straight to layer ``l``).
      gains: per hidden layer, the factor applied to its learning signal.
      pseudo: per layer, the pseudo-derivative ``dS/dx`` used by the rule.
      window: only the last ``window`` steps contribute errors (``None``: all steps).
      loss_in_window: the reported loss sums the window's steps only (a loss with ``last``),
        not every step (a learning window of the rule), and so does the summary membrane.
      record: also return the output layer's ``[T, B, C]`` spikes and membrane.
      dt: the step in ms.
    """
    steps, batch = int(x.shape[0]), int(x.shape[1])
    n_layers = len(specs)
    for k, spec in enumerate(specs[:-1]):
        if not spec.constants.spiking:
            raise ValueError(f"layer {k} is a hidden layer but does not spike; e-prop needs spiking "
                             f"hidden layers (only the read-out may be leaky)")
    constant = isinstance(x, Repeated)
    kinds = [_neurons.get(s.neuron) for s in specs]
    decays = layer_decays(specs)
    dtype = jnp.result_type(x.dtype, *(w.w.dtype for w in weights))
    window_start = steps - window if window else 0
    scale = [s.constants.v_th - s.constants.v_reset for s in specs]   # dS/dV = pseudo(x) / scale
    # A constant input is projected once; its trace is x times the layer's bias trace, so
    # layer 0 accumulates the post-synaptic factor weighted by that scalar ([B, N_1]) and
    # multiplies by x once at the end.
    first_drive = project(x.value, weights[0]) if constant else None

    def zeros(*shape):
        return jnp.zeros(shape, dtype)

    def scalar_trace():
        return Trace(zeros(), zeros())

    def extra_init(k, s):
        kind, c = kinds[k], s.constants
        inputs = None if (k == 0 and constant) else kind.eligibility_init(c, batch, s.n_in, s.n_out, dtype)
        recurrent = kind.eligibility_init(c, batch, s.n_out, s.n_out, dtype) if s.recurrent else None
        return (inputs, recurrent, kind.eligibility_init(c, batch, None, s.n_out, dtype))

    extra0 = tuple(extra_init(k, s) for k, s in enumerate(specs))
    init = _Carry(
        t=jnp.zeros((), jnp.int32),
        neurons=tuple(kind.zero_state(batch, s.n_out, dtype) for kind, s in zip(kinds, specs)),
        pre=tuple(None if (k == 0 and constant) else Trace(zeros(batch, s.n_in), zeros(batch, s.n_in))
                  for k, s in enumerate(specs)),
        rec=tuple(Trace(zeros(batch, s.n_out), zeros(batch, s.n_out)) if s.recurrent else None for s in specs),
        bias=tuple(scalar_trace() for _ in specs),
        psi=tuple(zeros(batch, s.n_out) if any(e is not None for e in extra0[k]) else None
                  for k, s in enumerate(specs)),
        extra=extra0,
        g_w=tuple(zeros(batch, s.n_out) if (k == 0 and constant) else zeros(s.n_in, s.n_out)
                  for k, s in enumerate(specs)),
        g_b=tuple(zeros(s.n_out) for s in specs),
        g_rec=tuple(zeros(s.n_out, s.n_out) if s.recurrent else None for s in specs),
        counts=tuple(zeros(batch, s.n_out) for s in specs),
        loss=zeros(),
        v_sum=zeros(batch, specs[-1].n_out),
    )

    def body(carry: _Carry, x_t):
        inp = x.value if constant else x_t
        neurons = step_network(specs, kinds, weights, carry.neurons, inp, first_drive)
        pre, rec, bias, psi, extra = [], [], [], [], []
        for k, (spec, last, new) in enumerate(zip(specs, carry.neurons, neurons)):
            alpha, beta = decays[k]
            c = spec.constants
            # the kind's extra eligibility advances from the previous step's traces and psi
            extra.append(tuple(None if e is None else kinds[k].eligibility_step(e, c, tr.v, carry.psi[k])
                               for e, tr in zip(carry.extra[k], (carry.pre[k], carry.rec[k], carry.bias[k]))))
            pre.append(None if carry.pre[k] is None else carry.pre[k].advance(inp, alpha, beta))
            rec.append(carry.rec[k].advance(last.s, alpha, beta) if spec.recurrent else None)
            bias.append(carry.bias[k].advance(1.0, alpha, beta))
            psi.append(pseudo[k](kinds[k].spike_argument(new, c)) / scale[k] if c.spiking else None)
            inp = new.s
        counts = tuple(n + st.s for n, st in zip(carry.counts, neurons))
        out_state = neurons[-1]
        gate = (carry.t >= window_start).astype(dtype)

        # The error at the output: dL/dV_out (delta) and what random feedback sends back (err).
        loss = carry.loss
        if error == "membrane":
            value, e = jax.value_and_grad(step_loss)(out_state.v)
            loss = loss + (value * gate if loss_in_window else value)
            err = delta = e * gate
        else:
            estimate = counts[-1] * (steps / (carry.t + 1.0))
            err = jax.grad(step_loss)(estimate) * gate
            delta = err * psi[-1]

        # Post-synaptic factors: the learning signal times the layer's pseudo-derivative.
        post = [None] * n_layers
        post[-1] = delta
        for k in range(n_layers - 2, -1, -1):
            if feedback[k] is None:
                signal = jnp.matmul(post[k + 1], weights[k + 1].w.T)
            else:
                signal = jnp.matmul(err, feedback[k])
            post[k] = signal * gains[k] * psi[k]

        g_w, g_b, g_rec = [], [], []
        for k in range(n_layers):
            def plus(term, e):              # a gradient term and the kind's extra part of it
                more = None if e is None else kinds[k].eligibility_grad(e, specs[k].constants, post[k])
                return term if more is None else term + more
            e_in, e_rec, e_bias = extra[k]
            g_bias = plus(bias[k].v * post[k], e_bias)               # [B, N_out]
            if pre[k] is None:              # constant input: accumulate the bias-like factor times post
                g_w.append(carry.g_w[k] + g_bias)
            else:
                g_w.append(carry.g_w[k] + plus(jnp.matmul(pre[k].v.T, post[k]), e_in))
            g_b.append(carry.g_b[k] + g_bias.sum(0))
            g_rec.append(carry.g_rec[k] + plus(jnp.matmul(rec[k].v.T, post[k]), e_rec)
                         if rec[k] is not None else None)

        psi_carry = tuple(None if q is None else p for p, q in zip(psi, carry.psi))
        new_carry = _Carry(carry.t + 1, tuple(neurons), tuple(pre), tuple(rec), tuple(bias), psi_carry,
                           tuple(extra), tuple(g_w), tuple(g_b), tuple(g_rec), counts, loss,
                           carry.v_sum + (out_state.v * gate if loss_in_window else out_state.v))
        return new_carry, ((out_state.s, out_state.v) if record else None)

    final, trace = jax.lax.scan(body, init, None if constant else x, length=steps)

    grads = []
    for k, w in enumerate(weights):
        g_w = jnp.matmul(x.value.T, final.g_w[k]) if (k == 0 and constant) else final.g_w[k]
        grads.append(LayerWeights(g_w, final.g_b[k] if w.b is not None else None,
                                  final.g_rec[k] if w.w_rec is not None else None))

    counts = final.counts
    if record:
        out = NetworkOutput(trace[0], trace[1], counts, dt)
    else:
        # One coarse step of length T dt: the counts and the time-mean membrane (over the loss's
        # window when it has one).
        span = steps - window_start if loss_in_window else steps
        out = NetworkOutput(counts[-1][None], (final.v_sum / span)[None], counts, dt * steps)
    loss = final.loss if error == "membrane" else step_loss(counts[-1])
    return OnlineResult(loss, grads, out)
