"""The interface every gradient method implements, and the registry that names them.

A method turns ``(model, x, labels)`` into ``(loss, grads, out)``:

* ``loss``: scalar, the method's loss on this batch;
* ``grads``: gradients keyed like ``model.states(brainstate.ParamState)``, ready for a
  ``braintools.optim`` optimizer's ``update``;
* ``out``: the ``NetworkOutput`` of the forward pass (spikes identical for every method).

Methods differ only in how ``grads`` are computed: surrogate BPTT (``bptt``), the
EventProp adjoint (``eventprop``), or online eligibility traces (``eprop``, ``feedback``).
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence

import brainstate

from bsnn.losses import Loss, get_loss
from bsnn.models import check_input, check_labels
from bsnn.network import LayerWeights

__all__ = ["Method", "METHODS", "register_method", "get_method", "grads_from_layers", "default_loss"]

METHODS: Dict[str, Callable[..., "Method"]] = {}


class Method:
    """Base class. Subclasses set ``name`` and implement ``loss_and_grads``."""

    name = "method"

    def __init__(self, loss: Loss | str | None = None, **loss_options):
        self.loss = get_loss(default_loss(self.name) if loss is None else loss, **loss_options)

    def loss_and_grads(self, model, x, labels):
        """``x: [T, B, N_in]``, ``labels: [B]`` -> ``(loss, grads, out)``."""
        raise NotImplementedError

    @staticmethod
    def check(model, x, labels):
        """Validate shapes (and values, outside jit) with messages naming the problem."""
        check_input(x, model.n_in)
        check_labels(labels, x.shape[1], model.n_classes)

    def __repr__(self):
        return f"{type(self).__name__}(loss={self.loss!r})"


def default_loss(method: str) -> str:
    """The loss a method trains when none is named (``bsnn.defaults``, as ``bsnn train``)."""
    from bsnn import defaults
    return defaults.BY_METHOD.get(method, {}).get("loss", defaults.COMMON["loss"])


def register_method(cls):
    """Class decorator: make a method available by its ``name``."""
    METHODS[cls.name] = cls
    return cls


def get_method(name: str, **options) -> Method:
    """A method by name (``bptt``, ``eventprop``, ``eprop``, ``feedback``, as implemented)."""
    if name not in METHODS:
        raise ValueError(f"method must be one of the implemented methods {sorted(METHODS)}, got {name!r}")
    return METHODS[name](**options)


def grads_from_layers(model, layer_grads: Sequence[LayerWeights]) -> dict:
    """Map per-layer gradients (``LayerWeights`` of arrays) to the ``ParamState`` keys of ``model``.

    For methods that compute gradients by hand (EventProp, e-prop) rather than by
    ``brainstate.transform.grad``.
    """
    keys = {id(state): key for key, state in model.states(brainstate.ParamState).items()}
    grads = {}
    for layer, g in zip(model.layers, layer_grads):
        linear = {"weight": g.w}
        if "bias" in layer.linear.weight.value:
            linear["bias"] = g.b
        grads[keys[id(layer.linear.weight)]] = linear
        if layer.recurrent is not None:
            grads[keys[id(layer.recurrent.weight)]] = {"weight": g.w_rec}
    return grads
