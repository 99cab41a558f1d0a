"""``Conv2d``: a 2-D convolution (channels last), optionally followed by pooling.

``y = pool(conv(x, W) + b)`` per sample, with ``x`` an ``[H, W, C_in]`` image flattened to
``n_in = H*W*C_in``, ``W [kh, kw, C_in / groups, C_out]`` (HWIO, as ``brainstate.nn.Conv2d``,
whose module holds the weights), ``b [C_out]``, and the result flattened to ``n_out``. The
pooling acts on the convolution's output current, before the neurons (snnTorch tutorial 6's
``Conv2d -> MaxPool2d -> Leaky``): ``("max", k)``, ``("avg", k)`` or ``("sum", k)``, a ``k x k``
window with stride ``k`` (or ``(kind, k, stride)``). Average and sum pooling keep the map
linear in ``x`` (EventProp can run it); max pooling does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from bsnn.projections.base import Projection

__all__ = ["Conv2d", "POOLS"]

POOLS = ("max", "avg", "sum")
_DIMS = ("NHWC", "HWIO", "NHWC")


def _pair(value, name: str) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"{name} must be a positive integer or a pair of them, got {value!r}")
    return tuple(int(v) for v in value)


def _out(size: int, kernel: int, stride: int, lo: int, hi: int) -> int:
    return (size + lo + hi - kernel) // stride + 1


@dataclass(frozen=True)
class Conv2d(Projection):
    """A convolution of ``in_shape = (H, W, C_in)`` images to ``out_channels`` feature maps.

    Args:
      in_shape: ``(H, W, C_in)`` of one sample.
      out_channels: feature maps ``C_out``.
      kernel: ``k`` or ``(kh, kw)``.
      stride: ``s`` or ``(sh, sw)``.
      padding: ``"VALID"`` (none, the default), ``"SAME"``, or ``p`` zeros on every side.
      groups: input and output channels split into this many groups (``C_in`` and ``C_out``
        divisible by it; ``groups = C_in`` is a depthwise convolution).
      pool: ``None``, ``(kind, k)`` or ``(kind, k, stride)`` with kind in ``POOLS``.
    """

    in_shape: tuple
    out_channels: int
    kernel: tuple = (3, 3)
    stride: tuple = (1, 1)
    padding: object = "VALID"
    groups: int = 1
    pool: Optional[tuple] = None
    kind = "conv2d"

    def __post_init__(self):
        shape = self.in_shape
        if not (isinstance(shape, (tuple, list)) and len(shape) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)):
            raise ValueError(f"a convolution's in_shape is (H, W, C) of one sample, positive integers, got {shape!r}")
        object.__setattr__(self, "in_shape", tuple(int(v) for v in shape))
        if not (isinstance(self.out_channels, int) and self.out_channels >= 1):
            raise ValueError(f"out_channels must be a positive integer, got {self.out_channels!r}")
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel"))
        object.__setattr__(self, "stride", _pair(self.stride, "stride"))
        pad = self.padding
        if isinstance(pad, str):
            if pad.upper() not in ("VALID", "SAME"):
                raise ValueError(f"padding must be 'VALID', 'SAME' or a non-negative integer, got {pad!r}")
            pad = pad.upper()
        elif not (isinstance(pad, int) and not isinstance(pad, bool) and pad >= 0):
            raise ValueError(f"padding must be 'VALID', 'SAME' or a non-negative integer, got {pad!r}")
        object.__setattr__(self, "padding", pad)
        c_in = self.in_shape[2]
        if not (isinstance(self.groups, int) and self.groups >= 1 and c_in % self.groups == 0
                and self.out_channels % self.groups == 0):
            raise ValueError(f"groups must divide both the input channels ({c_in}) and out_channels "
                             f"({self.out_channels}), got {self.groups!r}")
        if self.pool is not None:
            pool = tuple(self.pool)
            if len(pool) not in (2, 3) or pool[0] not in POOLS:
                raise ValueError(f"pool must be None or (kind, k[, stride]) with kind in {list(POOLS)}, got {self.pool!r}")
            k = _pair(pool[1], "the pooling window")
            object.__setattr__(self, "pool", (pool[0], k, _pair(pool[2], "the pooling stride") if len(pool) == 3 else k))
        h, w = self._conv_hw()
        if h < 1 or w < 1:
            raise ValueError(f"a {self.kernel[0]}x{self.kernel[1]} kernel does not fit a {self.in_shape[0]}x"
                             f"{self.in_shape[1]} input with padding {self.padding!r}")
        ph, pw = self._pool_hw(h, w)
        if ph < 1 or pw < 1:
            raise ValueError(f"the {self.pool[1][0]}x{self.pool[1][1]} pooling window does not fit the {h}x{w} "
                             f"feature maps of this convolution")

    # ---- shapes -------------------------------------------------------------------------
    def _pads(self):
        (h, w, _), (kh, kw), (sh, sw) = self.in_shape, self.kernel, self.stride
        if self.padding == "VALID":
            return ((0, 0), (0, 0))
        if self.padding == "SAME":
            return tuple(jax.lax.padtype_to_pads((h, w), (kh, kw), (sh, sw), "SAME"))
        return ((self.padding, self.padding), (self.padding, self.padding))

    def _conv_hw(self):
        (h, w, _), (kh, kw), (sh, sw) = self.in_shape, self.kernel, self.stride
        (ph0, ph1), (pw0, pw1) = self._pads()
        return _out(h, kh, sh, ph0, ph1), _out(w, kw, sw, pw0, pw1)

    def _pool_hw(self, h, w):
        if self.pool is None:
            return h, w
        _, (kh, kw), (sh, sw) = self.pool
        return _out(h, kh, sh, 0, 0), _out(w, kw, sw, 0, 0)

    @property
    def out_shape(self) -> tuple:
        return (*self._pool_hw(*self._conv_hw()), self.out_channels)

    @property
    def linear(self) -> bool:
        return self.pool is None or self.pool[0] != "max"

    @property
    def weight_shape(self) -> tuple:
        return (*self.kernel, self.in_shape[2] // self.groups, self.out_channels)

    @property
    def bias_shape(self) -> tuple:
        return (self.out_channels,)

    @property
    def fan_in(self) -> int:
        return self.kernel[0] * self.kernel[1] * self.in_shape[2] // self.groups

    # ---- the map ------------------------------------------------------------------------
    def _pooled(self, y):
        if self.pool is None:
            return y
        kind, (kh, kw), (sh, sw) = self.pool
        window, strides = (1, kh, kw, 1), (1, sh, sw, 1)
        # NumPy initial values: concrete under tracing, so JAX takes its differentiable max / sum pooling
        if kind == "max":
            return jax.lax.reduce_window(y, np.array(-np.inf, y.dtype), jax.lax.max, window, strides, "VALID")
        total = jax.lax.reduce_window(y, np.zeros((), y.dtype), jax.lax.add, window, strides, "VALID")
        return total / (kh * kw) if kind == "avg" else total

    def apply(self, x, w, b=None):
        lead = x.shape[:-1]
        img = x.reshape((-1, *self.in_shape))
        y = jax.lax.conv_general_dilated(img, w.astype(img.dtype), self.stride, self._pads(),
                                         feature_group_count=self.groups, dimension_numbers=_DIMS)
        if b is not None:
            y = y + b
        return self._pooled(y).reshape(lead + (self.n_out,))

    def twin(self, x, module):
        y = module(x.reshape((-1, *self.in_shape)))
        return self._pooled(y).reshape(x.shape[:-1] + (self.n_out,))

    def module_padding(self):
        """The padding as ``brainstate.nn.Conv2d`` takes it."""
        return self.padding if isinstance(self.padding, str) else [tuple(p) for p in self._pads()]

    def describe(self) -> str:
        h, w, c = self.in_shape
        text = f"conv {h}x{w}x{c} -> {self.out_channels} maps, {self.kernel[0]}x{self.kernel[1]} kernel"
        if self.stride != (1, 1):
            text += f", stride {self.stride[0]}"
        if self.padding not in ("VALID", 0):
            text += f", padding {self.padding}"
        if self.groups > 1:
            text += f", {self.groups} groups"
        if self.pool is not None:
            text += f", {self.pool[0]} pool {self.pool[1][0]}"
        oh, ow, oc = self.out_shape
        return text + f" -> {oh}x{ow}x{oc}"
