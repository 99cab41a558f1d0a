"""A compact architecture string -> one projection per layer.

    parse("12c5-mp2-64c5-mp2-10", (28, 28, 1))
    # [Conv2d((28, 28, 1), 12, 5, pool=("max", 2)), Conv2d((12, 12, 12), 64, 5, pool=("max", 2)), Dense(1024, 10)]

Tokens, separated by ``-``, input first; each convolution or dense token is one spiking layer:

* ``{C}c{K}`` a ``K x K`` convolution to ``C`` feature maps, with optional suffixes ``s{S}``
  (stride), ``p{P}`` (zero padding; ``p`` alone: "same" padding), ``g{G}`` (groups):
  ``32c3p1``, ``64c3s2``, ``32c3g32``;
* ``mp{K}`` / ``ap{K}`` / ``sp{K}`` max / average / sum pooling of the preceding
  convolution's output current (window and stride ``K``);
* ``{N}`` a dense layer of ``N`` neurons (the feature maps before it are flattened,
  channels last); the last token is the read-out and must be dense.
"""

from __future__ import annotations

import dataclasses
import math
import re

from bsnn.projections.conv import Conv2d
from bsnn.projections.dense import Dense

__all__ = ["parse", "is_arch", "sizes"]

_CONV = re.compile(r"^(\d+)c(\d+)((?:s\d+|p\d*|g\d+)*)$")
_POOL = re.compile(r"^(mp|ap|sp)(\d+)$")
_DENSE = re.compile(r"^\d+$")
_POOL_KIND = {"mp": "max", "ap": "avg", "sp": "sum"}
_EXAMPLE = "e.g. '12c5-mp2-64c5-mp2-10' (conv 12 maps 5x5, max pool 2, conv 64 maps 5x5, max pool 2, dense 10)"


def is_arch(value) -> bool:
    """``True`` for an architecture string (rather than a list of layer sizes)."""
    return isinstance(value, str)


def _options(text: str, token: str) -> dict:
    out = {}
    for key, num in re.findall(r"([spg])(\d*)", text):
        if key in out:
            raise ValueError(f"architecture token {token!r} gives {key!r} twice")
        if key == "p":
            out["padding"] = "SAME" if num == "" else int(num)
        elif num == "":
            raise ValueError(f"architecture token {token!r}: {key!r} needs a number")
        else:
            out["stride" if key == "s" else "groups"] = int(num)
    return out


def parse(arch: str, input_shape) -> list:
    """The projections of ``arch`` for inputs of one-sample shape ``input_shape`` (``(H, W, C)``,
    or ``(H, W)`` for one channel; an architecture without convolutions also takes ``(n,)``).

    Raises:
      ValueError: a token that is not one of the forms above, a pooling with no convolution
        before it, a read-out that is not dense, or shapes that do not fit, naming the token.
    """
    if not isinstance(arch, str) or not arch.strip():
        raise ValueError(f"an architecture is a string of layer tokens, {_EXAMPLE}; got {arch!r}")
    tokens = [t.strip().lower() for t in arch.split("-")]
    shape = tuple(int(v) for v in input_shape) if input_shape is not None else None
    if shape is not None and len(shape) == 2:
        shape = shape + (1,)
    projections = []
    for k, token in enumerate(tokens):
        if _DENSE.match(token):
            if shape is None:
                raise ValueError(f"architecture {arch!r} needs the input shape (input_shape=)")
            n = int(token)
            if n < 1:
                raise ValueError(f"architecture token {token!r}: a dense layer needs at least one neuron")
            projections.append(Dense(math.prod(shape), n))
            shape = (n,)
            continue
        conv, pool = _CONV.match(token), _POOL.match(token)
        if conv:
            if shape is None or len(shape) != 3:
                raise ValueError(f"architecture token {token!r}: a convolution needs image inputs (H, W, C), but "
                                 f"its input is {'unknown (give input_shape=)' if shape is None else f'flat {shape}'}")
            try:
                proj = Conv2d(shape, int(conv.group(1)), int(conv.group(2)), **_options(conv.group(3), token))
            except ValueError as err:
                raise ValueError(f"architecture token {token!r}: {err}") from None
            projections.append(proj)
            shape = proj.out_shape
            continue
        if pool:
            if k == 0 or not _CONV.match(tokens[k - 1]):
                raise ValueError(f"architecture token {token!r}: a pooling follows a convolution token directly")
            try:
                proj = dataclasses.replace(projections[-1], pool=(_POOL_KIND[pool.group(1)], int(pool.group(2))))
            except ValueError as err:
                raise ValueError(f"architecture token {token!r}: {err}") from None
            projections[-1] = proj
            shape = proj.out_shape
            continue
        raise ValueError(f"architecture token {token!r} is not a layer; tokens are {{C}}c{{K}}[s{{S}}][p{{P}}][g{{G}}] "
                         f"(convolution), mp{{K}} / ap{{K}} / sp{{K}} (pooling) or {{N}} (dense), {_EXAMPLE}")
    if not isinstance(projections[-1], Dense):
        raise ValueError(f"architecture {arch!r} ends in a convolution; its last token is the read-out, a dense "
                         f"layer of one neuron per class (e.g. '-10')")
    return projections


def sizes(projections) -> list:
    """``[n_in, n_1, ..., n_L]``: the flat widths of the layers (input first)."""
    return [projections[0].n_in] + [p.n_out for p in projections]
