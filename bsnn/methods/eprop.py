"""Online learning without backpropagation through time: e-prop and random feedback.

Both methods run the network once, forward, and build the gradient as they go; their
memory does not grow with the number of steps ``T`` (Bellec et al. 2020, "A solution
to the learning dilemma for recurrent networks of spiking neurons", Nat. Commun. 11).

**Eligibility traces.** For the current-based LIF step of ``bsnn.neurons.lif`` with the
reset detached from the gradient, the total derivative of a neuron's membrane ``V_j[t]``
with respect to an input weight ``W_ij`` depends on the input ``i`` only::

    eps_I[t] = alpha * eps_I[t-1] + x_i[t]                 (the synaptic filter)
    eps_V[t] = beta  * eps_V[t-1] + (1 - beta) * eps_I[t]  (the membrane filter)
    dV_j[t]/dW_ij = eps_V_i[t],   dS_j[t]/dW_ij = psi_j[t] eps_V_i[t]

with ``psi_j[t] = pseudo'((V_j - V_th) / (V_th - V_reset)) / (V_th - V_reset)`` the
surrogate pseudo-derivative (the post-synaptic factor). The soft and the hard reset give
the same trace (the hard reset's jump uses a detached ``V``). The per-synapse eligibility
trace ``psi_j[t] eps_V_i[t]`` is never formed: with a learning signal ``L_j[t]`` the
weight gradient is ``sum_t eps_V[t]^T (L[t] * psi[t])``, one ``[N_in, B] @ [B, N_out]``
matmul per step. A bias is an input fixed at 1 (a scalar trace), and so is a constant
(``Repeated``) input, up to the factor ``x``: its layer accumulates ``[B, N_out]`` and
multiplies by ``x`` once at the end. Recurrent weights get the trace of the layer's own
last spikes; as in Bellec et al., the dependence of other neurons on them is dropped.
Because ``alpha`` and ``beta`` multiply the trace, they must be one value per layer.
With ``detach_reset=False`` the rule still leaves the reset out of the trace (as Bellec
et al. do), so it is then an approximation. Memory: per layer the state, the traces
``[B, N_in]`` and a gradient accumulator the size of the weights, whatever ``T``.

**Output layer.** Its learning signal is the exact error of the per-step loss:

* ``membrane`` (loss ``membrane-sum-ce``, as snnTorch tutorial 5): the loss is
  ``sum_t CE(V_out[t])``, the error ``dL/dV_out[t] = (softmax(V_out[t]) - onehot(y)) / B``.
* ``rate`` (losses ``count-ce`` and ``count-mse``, spiking read-out): the gradient of the
  count loss with respect to the counts, evaluated online at the running estimate
  ``c_hat[t] = counts[t] * T / (t + 1)`` (for ``count-ce``:
  ``(softmax(c_hat[t]) - onehot(y)) / B``), is the error on the output spikes of step
  ``t``; times ``psi_out[t]`` it is ``dL/dV_out[t]``. It equals the true count gradient
  when the rates are steady; exactly, the rule is the gradient of
  ``sum_t e[t] . S_out[t]`` with ``e[t]`` held fixed.

For a single spiking layer with a loss on its per-step outputs this is the BPTT
gradient (same surrogate, detached reset): the tests find 1e-14 in float64 and 1e-5 of
the gradient's scale in float32 (membrane error), and check the rate error against the
gradient of ``sum_t e[t] . S_out[t]``.

**Hidden layers.** ``eprop`` (symmetric feedback) sends ``dL/dV_out[t]`` back through
the transposed weights of the layer above, step by step through the stack:
``L_l[t] = (L_{l+1}[t] psi_{l+1}[t]) W_{l+1}^T * g_{l+1}``. ``feedback`` (random e-prop /
direct feedback alignment, Nokland 2016) sends the output error ``e[t]`` (the error on
the output membrane, or on the output spikes for the rate error) straight to every
hidden layer through a fixed random matrix ``B_l [C, N_l]`` drawn ``N(0, 1/N_l)`` from
``seed``: ``L_l[t] = e[t] B_l * g_{l+1}``. Bellec et al. low-pass the eligibility trace
with the read-out's filter; the factorized form cannot carry a filtered product, so the
filter is replaced by its gain, the summed response of the next layer's membrane to one
input spike, ``g = 1 / (1 - alpha)`` of that layer (exact for a memoryless next layer,
``tau_syn = 0`` and ``beta = 0``; tested), times ``feedback_scale``.

**Options.** ``surrogate``: the pseudo-derivative of the rule only (the spikes of the
forward pass do not depend on it): ``"superspike"`` (fast sigmoid,
``1 / (25 |x| + 1)^2``, the default, as the random-feedback notebook) or any name of
``bsnn.surrogates``, or ``None`` for each layer's own surrogate (as BPTT uses). ``window``:
only the last ``K`` steps contribute errors (the notebook's learning window); the
reported loss is over all steps. ``record_output``: see below.

**What is returned as ``out``.** By default the output layer is reduced online and
``out`` is one coarse step of length ``T dt``: ``spikes [1, B, C]`` the output counts,
``v [1, B, C]`` the time-mean output membrane, ``counts`` per layer, ``dt = T dt``. Every
count- or summed-membrane read-out (``loss.predict``: ``count-ce``, ``count-mse``,
``membrane-sum-ce``, ``mean-membrane-ce``) and the firing rates of ``TrainStep`` come out
as from the full trace, and the memory holds no time axis at all (the ``[T, B, C]``
spikes and membrane would take 10 MB at ``T = 2000``, ``B = 64``, ``C = 10``: twice what
the whole 784-256-10 e-prop train step needs, weights and Adam state included).
``record_output=True`` keeps the exact ``[T, B, C]`` output spikes and membrane
(identical to ``model.run``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from bsnn.losses import CountCE, CountMSE, MembraneSumCE
from bsnn.methods.base import Method, grads_from_layers, register_method
from bsnn.methods.eligibility import layer_decays, online_gradients, pseudo_derivative
from bsnn.network import NetworkOutput
from bsnn.surrogates import get_surrogate

__all__ = ["EProp", "RandomFeedback"]

_ERRORS = {MembraneSumCE: "membrane", CountCE: "rate", CountMSE: "rate"}
_DEFAULT_LOSS = {"membrane": "membrane-sum-ce", "rate": "count-ce"}


class _Online(Method):
    """Shared options and the call of the online loop; subclasses choose the feedback."""

    needs = ("eprop",)
    projections = ("dense",)      # the eligibility traces are per synapse of a dense weight matrix
    own_path = "online"

    def __init__(self, loss=None, *, error: str | None = None, surrogate="superspike",
                 window: int | None = None, feedback_scale: float = 1.0,
                 record_output: bool = False, **loss_options):
        if error not in (None, "membrane", "rate"):
            raise ValueError(f"error must be 'membrane', 'rate' or None (from the loss), got {error!r}")
        super().__init__(_DEFAULT_LOSS[error or "membrane"] if loss is None else loss, **loss_options)
        kind = _ERRORS.get(type(self.loss))
        if kind is None:
            raise ValueError(f"{self.name} cannot train the loss {self.loss.name!r}: for its online error the loss "
                             f"must be one of membrane-sum-ce (membrane error), count-ce or count-mse (rate error, "
                             f"spiking read-out)")
        if error is not None and error != kind:
            raise ValueError(f"error={error!r} does not match loss {self.loss.name!r}, which has a {kind} error")
        if window is not None and (isinstance(window, bool) or not isinstance(window, (int, np.integer))
                                   or window < 1):
            raise ValueError(f"window must be a positive number of steps or None, got {window!r}")
        if not (isinstance(feedback_scale, (int, float)) and np.isfinite(feedback_scale) and feedback_scale > 0):
            raise ValueError(f"feedback_scale must be a positive number, got {feedback_scale!r}")
        last = getattr(self.loss, "last", None)         # a membrane loss over its last steps: the error window
        if last is not None:
            if window is not None and int(window) != last:
                raise ValueError(f"window={window} disagrees with the loss's last={last}: give one of them")
            window = last
        self.error, self.window = kind, None if window is None else int(window)
        self._step = self.loss.whole() if last is not None else self.loss
        self.surrogate = None if surrogate is None else get_surrogate(surrogate)
        self.feedback_scale, self.record_output = float(feedback_scale), bool(record_output)

    def predict(self, out):
        """Without ``record_output`` the output is one coarse step (the counts, the membrane summed over
        the loss's window): read it with the loss over every step of that summary."""
        return (self.loss if self.record_output else self._step).predict(out)

    def feedback(self, model) -> list:
        """Per hidden layer: ``None`` (symmetric) or a fixed ``[C, N_l]`` matrix."""
        raise NotImplementedError

    def loss_and_grads(self, model, x, labels):
        x = model.flat_input(x) if hasattr(model, "flat_input") else x
        self.check(model, x, labels)
        specs, weights = model.specs, model.weights()
        if self.error == "rate" and not specs[-1].constants.spiking:
            raise ValueError(f"loss {self.loss.name!r} (a rate error) needs a spiking read-out; "
                             f"the model's read-out is leaky (build it with readout='spiking')")
        if self.window is not None and self.window > x.shape[0]:
            raise ValueError(f"window ({self.window} steps) exceeds the input's {x.shape[0]} steps")
        decays = layer_decays(specs)
        gains = [self.feedback_scale / (1.0 - decays[k + 1][0]) for k in range(len(specs) - 1)]
        pseudo = [pseudo_derivative(s.spike_fn if self.surrogate is None else self.surrogate) for s in specs]
        dt = model.dt_ms

        def step_loss(y):
            zero = jnp.zeros_like(y)[None]
            if self.error == "membrane":
                return self._step(NetworkOutput(zero, y[None], (), dt), labels)
            return self._step(NetworkOutput(y[None], zero, (), dt), labels)

        result = online_gradients(specs, weights, x, step_loss=step_loss, error=self.error,
                                  feedback=self.feedback(model), gains=gains, pseudo=pseudo,
                                  window=self.window, record=self.record_output, dt=dt,
                                  loss_in_window=self._step is not self.loss)
        return result.loss, grads_from_layers(model, result.grads), result.out

    def __repr__(self):
        return (f"{type(self).__name__}(loss={self.loss!r}, surrogate={self.surrogate!r}, "
                f"window={self.window}, feedback_scale={self.feedback_scale})")


@register_method
class EProp(_Online):
    """e-prop with symmetric feedback (Bellec et al. 2020), factorized and online.

    Args:
      loss: ``membrane-sum-ce`` (default; membrane error) or ``count-ce`` / ``count-mse``
        (rate error, spiking read-out); ``None`` picks it from ``error``.
      error: ``"membrane"`` or ``"rate"``, or ``None`` (implied by the loss).
      surrogate: pseudo-derivative of the rule (default ``"superspike"``); ``None`` uses
        each layer's own surrogate, as BPTT.
      window: only the last ``window`` steps contribute errors (``None``: all).
      feedback_scale: factor on the hidden layers' learning signal.
      record_output: return the full ``[T, B, C]`` output trace in ``out``.
    """

    name = "eprop"
    title = "e-prop"

    def feedback(self, model):
        return [None] * (len(model.layers) - 1)


@register_method
class RandomFeedback(_Online):
    """Random e-prop / direct feedback alignment (Nokland 2016), factorized and online.

    The output error reaches every hidden layer through a fixed random matrix
    ``B_l [C, N_l]`` (entries ``N(0, 1/N_l)``, drawn from ``seed``) instead of the
    transposed output weights; the traces, the output layer and the options are those
    of ``EProp`` (``window`` gives the random-feedback notebook's learning window).

    Args:
      seed: integer seed of the feedback matrices (fixed for the method's lifetime).
      **options: as ``EProp`` (loss, error, surrogate, window, feedback_scale, record_output).
    """

    name = "feedback"
    title = "random feedback"

    def __init__(self, loss=None, *, seed: int = 0, **options):
        super().__init__(loss, **options)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.seed = int(seed)
        self._matrices = {}

    def feedback(self, model):
        mats = []
        n_classes = model.n_classes
        for k, layer in enumerate(model.layers[:-1]):
            key = (k, n_classes, layer.n_out)
            if key not in self._matrices:
                rng = np.random.default_rng([self.seed, k])
                self._matrices[key] = (rng.standard_normal((n_classes, layer.n_out))
                                       / np.sqrt(layer.n_out)).astype(np.float32)
            mats.append(jnp.asarray(self._matrices[key]))
        return mats

    def __repr__(self):
        return super().__repr__()[:-1] + f", seed={self.seed})"
