"""Surrogate-gradient backpropagation through time.

The forward pass is ``model.run`` (``brainstate.transform.for_loop`` over steps, or
``checkpointed_for_loop`` with ``remat=True``); gradients are taken with
``brainstate.transform.grad`` over the model's ``ParamState`` weights, the spike
derivative replaced by the layers' surrogate.
"""

from __future__ import annotations

import brainstate

from bsnn.methods.base import Method, register_method

__all__ = ["BPTT"]


@register_method
class BPTT(Method):
    """Surrogate-gradient BPTT.

    Args:
      loss: a ``bsnn.losses`` loss or its name (options as keywords); default
        ``mean-membrane-ce`` (``bsnn.defaults``).
      remat: recompute the forward pass in the backward pass
        (``checkpointed_for_loop``): memory bounded in the number of steps, same
        gradients. ``None`` keeps the model's setting.
      hoist: layer-by-layer schedule with hoisted projections (``None``: the model's).
      avoid: execution paths not to take (``bsnn.execution.PATHS``), e.g. ``{"native"}``;
        ``plan(model)`` says which path each layer takes and why.
    """

    name = "bptt"
    title = "BPTT"

    def __init__(self, loss=None, *, remat: bool | None = None,
                 hoist: bool | None = None, avoid=(), **loss_options):
        super().__init__(loss, **loss_options)
        self.remat, self.hoist, self.avoid = remat, hoist, frozenset(avoid)

    def plan(self, model, dtype=None):
        """The ``bsnn.execution.Plan`` this method's forward pass follows on ``model``."""
        return model.plan(remat=self.remat, hoist=self.hoist, avoid=self.avoid, dtype=dtype)

    def loss_and_grads(self, model, x, labels):
        x = model.flat_input(x) if hasattr(model, "flat_input") else x
        self.check(model, x, labels)

        def objective():
            out = model.run(x, plan=self.plan(model, x.dtype))
            return self.loss(out, labels), out

        params = model.states(brainstate.ParamState)
        grads, loss, out = brainstate.transform.grad(
            objective, grad_states=params, has_aux=True, return_value=True)()
        return loss, grads, out
