"""Unit checking at the edge: brainunit quantities in, plain float mantissas out.

Constructors accept physical quantities (``20 * u.ms``, ``1 * u.mV``) and turn them
into mantissas in a fixed internal unit system once, so jitted loops never touch
unit arithmetic:

* time in milliseconds (``ms``),
* voltage in millivolts (``mV``); with a membrane resistance of 1 ohm a current is
  stored as the voltage it would hold the membrane at (``R * I`` in mV).

A wrong dimension or a bare number raises ``ValueError`` naming the parameter,
the expected kind of quantity and what was given::

    ValueError: tau_mem must be a time (e.g. 20*u.ms), got 20 mV
"""

from __future__ import annotations

import re
from typing import NamedTuple

import brainunit as u
import numpy as np

from bsnn import _array_backends

_array_backends.install()

__all__ = ["Kind", "TIME", "VOLTAGE", "FREQUENCY", "to_mantissa", "parse_quantity"]


class Kind(NamedTuple):
    """A physical dimension we accept, with the unit its mantissa is stored in."""

    name: str       # "time"
    unit: object    # u.ms
    example: str    # "20*u.ms"


TIME = Kind("time", u.ms, "20*u.ms")
VOLTAGE = Kind("voltage", u.mV, "1*u.mV")
FREQUENCY = Kind("frequency", u.Hz, "100*u.Hz")


def _describe(value) -> str:
    if isinstance(value, u.Quantity):
        return str(value)
    if isinstance(value, (int, float, np.number)):
        return f"{value} (a bare number; attach a unit)"
    return f"{value!r} of type {type(value).__name__}"


def to_mantissa(value, name: str, kind: Kind, *, allow_array: bool = False) -> float | np.ndarray:
    """Convert a quantity to a float (or float array) in ``kind.unit``.

    Args:
      value: a brainunit quantity, e.g. ``20 * u.ms``.
      name: the parameter's name, used in the error message.
      kind: what dimension is expected (``TIME``, ``VOLTAGE``, ...).
      allow_array: accept a per-neuron array quantity, not only a scalar.

    Raises:
      ValueError: the value is not a quantity of the expected dimension, is not
        finite, or is an array where a scalar was expected.
    """
    expected = f"{name} must be a {kind.name} (e.g. {kind.example}), got {_describe(value)}"
    if not isinstance(value, u.Quantity) or u.get_dim(value) != u.get_dim(kind.unit):
        raise ValueError(expected)
    mantissa = np.asarray(value.to_decimal(kind.unit), dtype=np.float64)
    if mantissa.ndim and not allow_array:
        raise ValueError(f"{name} must be a scalar {kind.name} (e.g. {kind.example}), "
                         f"got an array of shape {mantissa.shape}")
    if not np.all(np.isfinite(mantissa)):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(mantissa) if mantissa.ndim == 0 else mantissa.astype(np.float32)


_QUANTITY_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*([A-Za-z]+)\s*$")
_UNIT_NAMES = {"s": u.second, "ms": u.ms, "us": u.usecond,
               "V": u.volt, "mV": u.mV, "uV": u.uvolt,
               "Hz": u.Hz, "kHz": u.khertz}


def parse_quantity(text: str, name: str, kind: Kind) -> u.Quantity:
    """Parse ``"20ms"``, ``"20 ms"`` or ``"20*ms"`` into a quantity of the given kind.

    Raises ``ValueError`` naming ``name`` (e.g. a command-line flag) when the text
    is not a number followed by a known unit of the right dimension.
    """
    match = _QUANTITY_RE.match(str(text))
    unit = _UNIT_NAMES.get(match.group(2)) if match else None
    if unit is None:
        known = ", ".join(k for k, v in _UNIT_NAMES.items() if u.get_dim(v) == u.get_dim(kind.unit))
        raise ValueError(f"{name} must be a {kind.name} with a unit ({known}), e.g. "
                         f"{kind.example.replace('*u.', '')}; got {text!r}")
    quantity = float(match.group(1)) * unit
    if u.get_dim(quantity) != u.get_dim(kind.unit):
        raise ValueError(f"{name} must be a {kind.name} (e.g. {kind.example.replace('*u.', '')}), "
                         f"got {text!r}, which is a {_dimension_name(unit)}")
    return quantity


def _dimension_name(unit) -> str:
    for kind in (TIME, VOLTAGE, FREQUENCY):
        if u.get_dim(unit) == u.get_dim(kind.unit):
            return kind.name
    return "quantity of another dimension"
