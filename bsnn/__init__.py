"""bsnn: spiking neural networks on the JAX brain-modeling stack.

Unit-checked classifiers of current-based LIF and adaptive LIF layers (``brainstate.nn.Linear
-> brainpy.state.Expon -> brainpy.state.LIF`` / ``ALIF``; ``bsnn.neurons``), optionally with
learned time constants and thresholds (``bsnn.dynamics``), input encoders, losses, and three
families of learning rules on the same forward model: surrogate-gradient BPTT, EventProp, and
online e-prop / random feedback. Layers project their input densely or by convolution
(``bsnn.projections``). ``bsnn.execution`` says which loop runs each layer, and why.

The names below are imported when first used, so ``import bsnn`` (and ``bsnn --help``) does
not start JAX until something needs it.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_MODULES = ("checkpoint", "cli", "data", "defaults", "dynamics", "encode", "execution", "losses", "methods", "neurons",
            "nir", "parallel", "plot", "projections", "runfiles", "units")
_NAMES = {
    "TrainConfig": "bsnn.config", "Dataset": "bsnn.data", "Repeated": "bsnn.encode",
    "CubaLIF": "bsnn.layers", "LeakyReadout": "bsnn.layers", "get_loss": "bsnn.losses",
    "BPTT": "bsnn.methods", "EProp": "bsnn.methods", "EventProp": "bsnn.methods",
    "RandomFeedback": "bsnn.methods", "get_method": "bsnn.methods",
    "SpikingClassifier": "bsnn.models", "StepOutput": "bsnn.models",
    "save_model": "bsnn.saving", "load_model": "bsnn.saving",
    "LayerSpec": "bsnn.network", "LayerWeights": "bsnn.network", "NetworkOutput": "bsnn.network",
    "simulate": "bsnn.network", "LIFConstants": "bsnn.neurons.lif", "LIFState": "bsnn.neurons.lif",
    "lif_step": "bsnn.neurons.lif", "make_optimizer": "bsnn.optim", "EvalMetrics": "bsnn.step",
    "EvalStep": "bsnn.step", "StepMetrics": "bsnn.step", "TrainStep": "bsnn.step",
    "SURROGATES": "bsnn.surrogates", "get_surrogate": "bsnn.surrogates", "Trainer": "bsnn.train",
    "TrainingDiverged": "bsnn.train",
}

__all__ = [*_MODULES, *_NAMES, "__version__"]


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"bsnn.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bsnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
