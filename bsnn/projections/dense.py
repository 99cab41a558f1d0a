"""``Dense``: ``x @ W + b``, the projection of every layer before convolutions."""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from bsnn.projections.base import Projection

__all__ = ["Dense"]


@dataclass(frozen=True)
class Dense(Projection):
    """A full weight matrix ``W [n_in, n_out]`` and bias ``b [n_out]``."""

    n_inputs: int
    n_outputs: int
    kind = "dense"

    @property
    def in_shape(self) -> tuple:
        return (self.n_inputs,)

    @property
    def out_shape(self) -> tuple:
        return (self.n_outputs,)

    @property
    def weight_shape(self) -> tuple:
        return (self.n_inputs, self.n_outputs)

    @property
    def bias_shape(self) -> tuple:
        return (self.n_outputs,)

    @property
    def fan_in(self) -> int:
        return self.n_inputs

    def apply(self, x, w, b=None):
        y = jnp.matmul(x, w)
        return y if b is None else y + b

    def transpose(self, g, w):
        return g @ w.T

    def weight_grad(self, x, g, w, b=None):
        gw = jnp.einsum("...i,...n->in", x, g)
        return gw, (None if b is None else g.reshape((-1, self.n_outputs)).sum(0))

    def twin(self, x, module):
        return module(x)

    def describe(self) -> str:
        return f"dense {self.n_inputs} -> {self.n_outputs}"
