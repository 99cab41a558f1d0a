"""Neuron kinds: one module each, registered by name (the protocol is ``bsnn.neurons.base``).

    bsnn.neurons.get("alif")          # the protocol object of bsnn/neurons/alif.py
    bsnn.neurons.NEURONS              # {"lif": ..., "alif": ...}

Adding a kind to bsnn is one module with a ``NEURON`` object and one line in ``_KINDS``
below; a kind of your own, defined anywhere, is added at run time with ``register``
(docs: "Add your own neuron").
"""

from __future__ import annotations

import importlib

from bsnn.neurons.base import CAPABILITIES, INTEGRATORS, Neuron, NeuronCapabilityError, decay, rate, require
from bsnn.registry import Registry

__all__ = ["NEURONS", "KINDS", "get", "parameter_kinds", "register", "require", "Neuron", "NeuronCapabilityError",
           "CAPABILITIES", "INTEGRATORS", "decay", "rate"]

_KINDS = {"lif": "bsnn.neurons.lif", "alif": "bsnn.neurons.alif"}
KINDS = tuple(_KINDS)     # bsnn's own kinds (``register`` adds to the registry, not to this list)


class _Neurons(Registry):
    """``{name: Neuron}``; bsnn's own kinds are registered by module path and imported when
    first asked for."""

    def __getitem__(self, name):
        target = super().__getitem__(name)
        if isinstance(target, str):
            target = importlib.import_module(target).NEURON
            dict.__setitem__(self, name, target)
        return target

    def get(self, name, default=None):
        return self[name] if name in self else default

    def items(self):
        return [(k, self[k]) for k in self]

    def values(self):
        return [self[k] for k in self]


NEURONS = _Neurons("neuron", _KINDS)


def get(neuron) -> Neuron:
    """The ``Neuron`` named ``neuron`` (a ``Neuron`` passes through)."""
    if isinstance(neuron, Neuron):
        return neuron
    return NEURONS.lookup(neuron)


def parameter_kinds() -> dict:
    """``{parameter name: unit kind name}`` of every registered kind's own parameters
    (``"tau_adapt": "TIME"``, ...)."""
    return {name: kind for neuron in NEURONS.values() for name, (kind, _) in neuron.parameters.items()}


def register(neuron: Neuron) -> Neuron:
    """Make ``neuron`` (a ``Neuron`` instance) available by its ``name`` to layers, models,
    ``bsnn train --neuron`` in this process, saving and loading. Returns it."""
    if not isinstance(neuron, Neuron):
        raise TypeError(f"register takes a bsnn.neurons.Neuron instance, got {type(neuron).__name__}")
    if not isinstance(neuron.name, str) or not neuron.name or neuron.name == Neuron.name:
        raise ValueError(f"a neuron kind needs a name of its own (set the class attribute name), got {neuron.name!r}")
    if neuron.name in KINDS:
        raise ValueError(f"{neuron.name!r} is one of bsnn's own neuron kinds; choose another name")
    if neuron.capabilities:
        # every optional capability today is code written for the LIF equations (the layer
        # adjoint, the kernel, EventProp's jumps, e-prop's traces): a new kind cannot claim one
        raise ValueError(f"{neuron.name!r} claims capabilities {sorted(neuron.capabilities)}, but bsnn implements "
                         f"them for its own kinds' equations only; a registered kind has none (BPTT trains it)")
    return NEURONS.add(neuron.name, neuron)
