"""Projections: what carries a layer's input spikes to its neurons' input current.

    bsnn.projections.Dense(784, 256)                            # x @ W + b (today's layers)
    bsnn.projections.Conv2d((28, 28, 1), 12, 5, pool=("max", 2)) # conv, then 2x2 max pooling

A projection maps a layer's input, flat per sample (``[..., n_in]``), to its drive, flat per
sample (``[..., n_out]``). A convolution knows the image shape of both sides
(``in_shape``, ``out_shape``, channels last) and reshapes inside; the neurons, their state,
the losses and every loop stay ``[B, N]``, so a neuron kind never sees the difference. The
flattening order is NumPy's for ``[H, W, C]`` (channels fastest), as ``x.reshape(B, -1)``.

Each projection owns its forward map (``apply``), its transpose (``transpose``, for EventProp's
adjoint) and its weight gradient (``weight_grad``), so the methods do not special-case it.
The one protocol is ``bsnn.projections.base.Projection``; ``bsnn.projections.arch`` reads a
compact architecture string (``"12c5-mp2-64c5-mp2-10"``) into a list of them.
"""

from bsnn.projections.base import Projection, is_dense
from bsnn.projections.conv import POOLS, Conv2d
from bsnn.projections.dense import Dense
from bsnn.projections.arch import parse as parse_arch

__all__ = ["Projection", "Dense", "Conv2d", "POOLS", "is_dense", "parse_arch"]
