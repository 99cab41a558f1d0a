"""Saving a trained model to one file and loading it back: ``bsnn.save_model`` / ``bsnn.load_model``.

    bsnn.save_model(model, "digits.bsnn")        # the constructor's arguments and every weight
    model = bsnn.load_model("digits.bsnn")       # the same SpikingClassifier, same outputs
    model = bsnn.load_model("runs/digits")       # or the newest checkpoint of a training run

The file is a checksummed ``bsnn.checkpoint`` file (written atomically): the weights as arrays
and the ``SpikingClassifier`` arguments as JSON, quantities stored as numbers in ms / mV. A
surrogate must be given by name to be saved (a custom ``braintools`` instance is refused).
"""

from __future__ import annotations

import os

import brainunit as u
import numpy as np

from bsnn import checkpoint, units

__all__ = ["save_model", "load_model"]

_FORMAT = "bsnn-model/1"
_KINDS = {"tau_mem": units.TIME, "tau_syn": units.TIME, "dt": units.TIME, "V_th": units.VOLTAGE,
          "V_reset": units.VOLTAGE, "V_rest": units.VOLTAGE}


def _kind(name):
    """The unit kind of a model argument: the LIF core's, or a neuron kind's own parameter's."""
    if name in _KINDS:
        return _KINDS[name]
    from bsnn import neurons
    kind = neurons.parameter_kinds().get(name)
    return None if kind is None else getattr(units, kind)


def _encode(name, value):
    if isinstance(value, (list, tuple)):
        return [_encode(name, v) for v in value]
    kind = _kind(name)
    if kind is not None:
        mantissa = units.to_mantissa(value, name, kind, allow_array=True)
        return {"value": np.asarray(mantissa).tolist(), "unit": kind.name}
    if name == "surrogate" and not isinstance(value, str):
        raise ValueError(f"save_model: the surrogate {value!r} is an instance; build the model with a surrogate "
                         f"name (e.g. surrogate='atan') to save it")
    if isinstance(value, (np.generic, np.ndarray)):
        return np.asarray(value).tolist()
    return value


def _decode(name, value):
    if isinstance(value, dict) and set(value) == {"value", "unit"}:
        unit = u.ms if value["unit"] == units.TIME.name else u.mV
        v = value["value"]
        return (np.asarray(v, dtype=float) if isinstance(v, list) else float(v)) * unit
    if isinstance(value, list) and name != "sizes":
        return [_decode(name, v) for v in value]
    return value


def save_model(model, path) -> str:
    """Write ``model`` (a ``SpikingClassifier``) to ``path``; returns the path."""
    from bsnn.models import SpikingClassifier
    from bsnn.train import library_versions
    if not isinstance(model, SpikingClassifier):
        raise TypeError(f"save_model saves a bsnn.SpikingClassifier, got {type(model).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"save_model: {path} is a directory; give a file name (e.g. model.bsnn)")
    args = {k: _encode(k, v) for k, v in model.arguments.items()}
    meta = {"format": _FORMAT, "arguments": args, "versions": library_versions()}
    return checkpoint.write_file(path, checkpoint.state_arrays(model), meta)


def _from_arguments(args: dict):
    from bsnn.config import upgrade_names
    from bsnn.models import SpikingClassifier
    return SpikingClassifier(**{k: _decode(k, v) for k, v in upgrade_names(args).items()})


def load_model(path):
    """The ``SpikingClassifier`` saved in ``path`` by ``save_model``, or of a run directory's newest checkpoint."""
    path = os.fspath(path)
    if os.path.isdir(path):
        from bsnn.train import Trainer
        return Trainer.from_run(path).model
    ckpt = checkpoint.load(path)
    if ckpt.meta.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a model saved by bsnn.save_model (it holds no 'arguments'); "
                         f"for a run's checkpoint pass the run directory")
    model = _from_arguments(ckpt.meta["arguments"])
    checkpoint.restore_states(ckpt, model)
    return model
