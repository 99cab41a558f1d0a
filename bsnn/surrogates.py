"""Surrogate gradients by name, mapped onto ``braintools.surrogate`` classes.

The forward pass of every surrogate is the Heaviside step ``x >= 0``; only the
pseudo-derivative used by backpropagation differs. ``x`` is the membrane distance to
threshold scaled by ``V_th - V_reset`` (so ``x = V - 1`` for ``V_th = 1 mV``,
``V_reset = 0 mV``), the convention of ``brainpy.state.LIF``.

| name | class | pseudo-derivative |
| --- | --- | --- |
| ``atan`` | ``Arctan(alpha=2)`` | ``alpha/2 / (1 + (pi/2 alpha x)^2)``, snnTorch's ATan |
| ``relu`` | ``ReluGrad(alpha=0.3, width=1)`` | ``max(alpha (width - abs(x)), 0)`` |
| ``sigmoid`` | ``Sigmoid(alpha=4)`` | derivative of ``sigmoid(alpha x)`` |
| ``superspike`` / ``fast_sigmoid`` | ``InvSquareGrad(alpha=25)`` | ``1 / (alpha abs(x) + 1)^2``, Zenke & Ganguli 2018 |
| ``gaussian`` | ``GaussianGrad(sigma=0.5, alpha=0.5)`` | scaled normal density |
| ``slayer`` | ``SlayerGrad(alpha=1)`` | ``exp(-alpha abs(x))``, Shrestha & Orchard 2018 |
"""

from __future__ import annotations

from typing import Callable

import braintools

from bsnn.registry import Registry

__all__ = ["SURROGATES", "get_surrogate"]

#: name -> a function building the surrogate (``SURROGATES.add("mine", lambda: ...)`` adds one)
SURROGATES: Registry = Registry("surrogate", {
    "atan": lambda: braintools.surrogate.Arctan(alpha=2.0),
    "relu": lambda: braintools.surrogate.ReluGrad(alpha=0.3, width=1.0),
    "sigmoid": lambda: braintools.surrogate.Sigmoid(alpha=4.0),
    "superspike": lambda: braintools.surrogate.InvSquareGrad(alpha=25.0),
    "fast_sigmoid": lambda: braintools.surrogate.InvSquareGrad(alpha=25.0),
    "gaussian": lambda: braintools.surrogate.GaussianGrad(sigma=0.5, alpha=0.5),
    "slayer": lambda: braintools.surrogate.SlayerGrad(alpha=1.0),
}, normalize=lambda name: name.lower().replace("-", "_"), also="or a braintools.surrogate.Surrogate instance")


def get_surrogate(surrogate, name: str = "surrogate") -> braintools.surrogate.Surrogate:
    """Return a ``braintools.surrogate.Surrogate`` for a name or pass an instance through.

    Raises ``ValueError`` listing the known names for an unknown one.
    """
    if isinstance(surrogate, braintools.surrogate.Surrogate):
        return surrogate
    if isinstance(surrogate, str):
        return SURROGATES.lookup(surrogate, name)()
    raise ValueError(f"{name} must be a surrogate name ({', '.join(sorted(SURROGATES))}) or a "
                     f"braintools.surrogate.Surrogate instance, got {type(surrogate).__name__}")
