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
from bsnn.registry import Registry

__all__ = ["Method", "METHODS", "register_method", "get_method", "grads_from_layers", "default_loss"]

#: name -> ``Method`` class (``register_method`` adds one)
METHODS: Registry = Registry("method")


class Method:
    """Base class. Subclasses set ``name`` and implement ``loss_and_grads``; ``needs`` lists
    the neuron capabilities (``bsnn.neurons.CAPABILITIES``) every layer must have."""

    name = "method"
    title = "the method"
    needs: tuple = ()

    def __init__(self, loss: Loss | str | None = None, **loss_options):
        self.loss = get_loss(default_loss(self.name) if loss is None else loss, **loss_options)

    def predict(self, out):
        """The class read-out of an output ``loss_and_grads`` returned (the loss's, by default)."""
        return self.loss.predict(out)

    def loss_and_grads(self, model, x, labels):
        """``x: [T, B, N_in]``, ``labels: [B]`` -> ``(loss, grads, out)``."""
        raise NotImplementedError

    #: the path of every layer, for methods with a loop of their own (``bsnn.execution.PATHS``)
    own_path: str | None = None

    def plan(self, model, dtype=None):
        """Which path each layer of ``model`` takes under this method, and why (``print`` it)."""
        from bsnn.execution import LayerPlan, Plan
        self.check_neurons(model)
        why = f"{self.title} runs its own loop"
        return Plan(LayerPlan(k, self.own_path, (why,)) for k in range(len(model.layers)))

    def check(self, model, x, labels):
        """Validate shapes (and values, outside jit) with messages naming the problem."""
        self.check_neurons(model)
        check_input(x, model.n_in)
        check_labels(labels, x.shape[1], model.n_classes)

    def check_neurons(self, model):
        """Refuse a model with a layer whose neuron lacks a capability in ``needs``."""
        from bsnn import neurons
        for k, spec in enumerate(model.specs):
            if self.needs and getattr(spec, "learn", ()):
                raise ValueError(f"{self.title} ({self.name}) cannot train learnable dynamics, but layer {k} learns "
                                 f"{', '.join(spec.learn)}; use bptt, or build the layer without learn")
            for capability in self.needs:
                neurons.require(neurons.get(spec.neuron), capability, f"{self.title} ({self.name})", layer=k)
        self.check_projections(model)

    #: the projection kinds (``bsnn.projections``) this method trains
    projections: tuple = ("dense", "conv2d")

    def check_projections(self, model):
        """Refuse a model with a layer whose projection this method cannot train, naming it."""
        for k, spec in enumerate(model.specs):
            proj = getattr(spec, "projection", None)
            kind = "dense" if proj is None else proj.kind
            if kind not in self.projections:
                raise ValueError(f"{self.title} ({self.name}) trains {' and '.join(self.projections)} projections, "
                                 f"but layer {k} is a {kind} ({proj.describe()}); use bptt for this network")

    def __repr__(self):
        return f"{type(self).__name__}(loss={self.loss!r})"


def default_loss(method: str) -> str:
    """The loss a method trains when none is named (``bsnn.defaults``, as ``bsnn train``)."""
    from bsnn import defaults
    return defaults.BY_METHOD.get(method, {}).get("loss", defaults.COMMON["loss"])


def register_method(cls):
    """Class decorator: make a method available by its ``name`` (``METHODS.register``)."""
    return METHODS.register(cls)


def get_method(name: str, **options) -> Method:
    """A method by name (``bptt``, ``eventprop``, ``eprop``, ``feedback``, as implemented)."""
    return METHODS.lookup(name)(**options)


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
