"""One registry style for every named part of bsnn.

Surrogates, losses, encoders, methods, optimizers, schedules, datasets and neuron kinds are
each a ``Registry``: a ``dict`` from name to entry (a class, or a function that builds the
thing) with one way to add (``register``, a decorator, or ``add``) and one way to look up
(``lookup``), whose error names the kind, lists the known names and repeats what was given::

    LOSSES = Registry("loss")

    @LOSSES.register                      # under the class's ``name`` attribute
    class CountCE(Loss):
        name = "count-ce"

    LOSSES.lookup("count-ce")             # the class
    LOSSES.lookup("nope")                 # ValueError: loss must be one of [...], got 'nope'

A user's own entry is added the same way (``bsnn.losses.LOSSES.register``, ...); every
``get_*`` function and ``bsnn train`` then find it by name.
"""

from __future__ import annotations

from typing import Callable, Optional

__all__ = ["Registry"]


class Registry(dict):
    """``{name: entry}`` of one kind (see the module docstring).

    Args:
      kind: what the entries are, as an error names it (``"loss"``, ``"--surrogate"``).
      normalize: maps a given name to its key (e.g. ``fashion_mnist`` -> ``fashion-mnist``).
      also: what may be given instead of a name, for the error message
        (``"or a braintools.surrogate.Surrogate instance"``).
    """

    def __init__(self, kind: str, entries=(), *, normalize: Optional[Callable[[str], str]] = None, also: str = ""):
        super().__init__()
        self.kind, self.also = kind, also
        self._normalize = normalize or (lambda name: name)
        for name, entry in dict(entries).items():
            self.add(name, entry)

    def add(self, name: str, entry):
        """Register ``entry`` under ``name``; returns ``entry``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} needs a non-empty name, got {name!r}")
        self[name] = entry
        return entry

    def register(self, entry=None, *, name: Optional[str] = None):
        """Decorator: ``@REG.register`` adds a class under its ``name`` attribute,
        ``@REG.register(name="x")`` under ``"x"``."""
        def add(obj):
            return self.add(name if name is not None else getattr(obj, "name", None), obj)
        return add if entry is None else add(entry)

    def names(self) -> list:
        """The registered names, in the order they were added."""
        return list(self)

    def key(self, name, what: Optional[str] = None) -> str:
        """The registered key of ``name``, or a ``ValueError`` that names ``what`` (default: the
        registry's kind), lists the known names and repeats ``name``."""
        key = self._normalize(name) if isinstance(name, str) else None
        if key not in self:
            also = f" {self.also}" if self.also else ""
            raise ValueError(f"{what or self.kind} must be one of {self.names()}{also}, got {name!r}")
        return key

    def lookup(self, name, what: Optional[str] = None):
        """The entry registered as ``name`` (see ``key``)."""
        return self[self.key(name, what)]

    def __repr__(self):
        return f"Registry({self.kind!r}, {self.names()})"
