"""The projection protocol (see ``bsnn.projections``)."""

from __future__ import annotations

import math

import jax

__all__ = ["Projection", "is_dense"]


class Projection:
    """What every projection provides. Subclasses are frozen dataclasses (static under jit,
    part of a ``LayerSpec``).

    Attributes:
      in_shape, out_shape: one sample's input and output shapes (``(n,)`` or ``(H, W, C)``).
      linear: ``apply`` is linear in ``x`` (for fixed weights); EventProp needs it (max pooling is not).
      kind: a short name (``"dense"``, ``"conv2d"``).
    """

    kind = "projection"
    linear = True
    in_shape: tuple
    out_shape: tuple

    @property
    def n_in(self) -> int:
        return math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        return math.prod(self.out_shape)

    @property
    def weight_shape(self) -> tuple:
        raise NotImplementedError

    @property
    def bias_shape(self) -> tuple:
        raise NotImplementedError

    @property
    def fan_in(self) -> int:
        """Inputs summed into one output: initial weights are drawn with variance ``w_scale^2 / fan_in``."""
        raise NotImplementedError

    def apply(self, x, w, b=None):
        """``x [..., n_in]`` -> drive ``[..., n_out]``."""
        raise NotImplementedError

    def transpose(self, g, w):
        """The transpose of ``x -> apply(x, w)`` (no bias) applied to ``g [..., n_out]``: ``[..., n_in]``."""
        lead = g.shape[:-1]
        flat = g.reshape((-1, self.n_out))
        zero = jax.ShapeDtypeStruct((flat.shape[0], self.n_in), g.dtype)
        (out,) = jax.linear_transpose(lambda x: self.apply(x, w), zero)(flat)
        return out.reshape(lead + (self.n_in,))

    def weight_grad(self, x, g, w, b=None):
        """``(dL/dW, dL/db or None)`` of ``apply`` at inputs ``x [..., n_in]``, weights ``w`` and bias ``b``
        (None: no bias) for cotangents ``g [..., n_out]``, summed over the leading axes."""
        x = x.reshape((-1, self.n_in))
        g = g.reshape((-1, self.n_out))
        if b is not None:
            _, vjp = jax.vjp(lambda w_, b_: self.apply(x, w_, b_), w, b)
            return vjp(g)
        _, vjp = jax.vjp(lambda w_: self.apply(x, w_), w)
        return vjp(g)[0], None

    def twin(self, x, module):
        """The same map through the layer's ``brainstate`` module (the stateful ``update`` path)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def is_dense(projection) -> bool:
    """``True`` for ``None`` (a ``LayerSpec`` without a projection: today's dense layer) and ``Dense``."""
    return projection is None or getattr(projection, "kind", None) == "dense"
