"""Input encoders: pixels ``[B, N]`` in ``[0, 1]`` to time-major inputs ``[T, B, N]``.

Encoders are plain JAX functions meant to run inside the jitted train step, so a
dataset stays as pixels and only one batch is ever expanded over time.

* ``constant``: the image as a current at every step (snnTorch tutorial 5). It returns a
  ``Repeated`` input, which behaves as ``[T, B, N]`` but lets the first layer project
  it once instead of ``T`` times.
* ``poisson``: independent Bernoulli spikes per step with probability ``x * rate * dt``.
* ``latency``: one spike per pixel, brighter is earlier, linear in intensity; pixels
  below ``threshold`` stay silent (time-to-first-spike code).
* ``binary_latency``: one spike per pixel at ``t_black`` (pixel < ``level``) or at
  ``t_white`` (EventProp's MNIST encoding).
* ``time_major``: samples that already have a time axis (event frames, spike trains)
  ``[B, T, N]`` -> ``[T, B, N]``.

Input spike index ``k`` means the spike arrives at time ``k * dt``.
"""

from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from bsnn import units
from bsnn.registry import Registry

__all__ = ["Repeated", "constant", "poisson", "latency", "binary_latency", "time_major", "ENCODERS",
           "get_encoder"]


@jax.tree_util.register_pytree_node_class
class Repeated:
    """A time-invariant input: ``value [B, N]`` presented at each of ``steps`` steps.

    It stands for the dense array ``[steps, B, N]`` (``dense()`` builds it) and has its
    ``shape``; the network projects ``value`` once and reuses the result every step.
    """

    def __init__(self, value, steps: int):
        self.value = value
        self.steps = int(steps)

    @property
    def shape(self) -> tuple:
        return (self.steps,) + tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return 1 + self.value.ndim

    @property
    def dtype(self):
        return self.value.dtype

    def dense(self) -> jax.Array:
        return jnp.broadcast_to(self.value, self.shape)

    def tree_flatten(self):
        return (self.value,), self.steps

    @classmethod
    def tree_unflatten(cls, steps, children):
        return cls(children[0], steps)

    def __repr__(self):
        return f"Repeated(shape={self.shape})"


def _float():
    """The float dtype of the run: float32, or float64 under ``brainstate.environ.set(precision=64)``."""
    return brainstate.environ.dftype()


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_pixels(x, name: str = "x"):
    """Validate ``[B, N]`` pixels in [0, 1] (only when the values are known, outside jit)."""
    x = jnp.asarray(x) if not isinstance(x, jax.Array) else x
    if x.ndim != 2:
        raise ValueError(f"{name} must be pixels of shape [B, N], got shape {tuple(x.shape)}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(_float())
    if _is_concrete(x) and x.size:
        xn = np.asarray(x)
        if not np.all(np.isfinite(xn)):
            raise ValueError(f"{name} contains NaN or inf; pixels must be finite values in [0, 1]")
        if xn.min() < 0 or xn.max() > 1:
            raise ValueError(f"{name} must lie in [0, 1], got values in [{xn.min():g}, {xn.max():g}]")
    return x


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return int(steps)


def constant(x, steps: int, gain: float = 1.0) -> Repeated:
    """Constant-current code: ``x * gain`` at every step. ``x: [B, N]`` -> ``[T, B, N]``."""
    steps = _check_steps(steps)
    x = jnp.asarray(x, _float()) if not isinstance(x, jax.Array) else x.astype(_float())
    if x.ndim != 2:
        raise ValueError(f"x must be of shape [B, N], got shape {tuple(x.shape)}")
    if _is_concrete(x) and x.size and not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError("x contains NaN or inf; a constant-current input must be finite")
    if not isinstance(gain, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(gain, np.float64))):
        raise ValueError(f"gain must be finite, got {gain!r}")
    value = x * gain
    if _is_concrete(value) and value.size and not bool(jnp.all(jnp.isfinite(value))):
        raise ValueError(f"x * gain overflows float32 (gain = {gain!r}); scale the input down")
    return Repeated(value, steps)


def poisson(x, steps: int, key, *, rate=None, dt=None) -> jax.Array:
    """Rate code: spikes with probability ``x`` per step, or ``x * rate * dt`` if given.

    Args:
      x: ``[B, N]`` intensities in [0, 1].
      steps: number of time steps ``T``.
      key: a ``jax.random`` key (the seed of the spike trains).
      rate: optional maximal rate (e.g. ``100 * u.Hz``) reached at ``x = 1``; needs ``dt``.
      dt: the step (e.g. ``1 * u.ms``).

    Returns: ``[T, B, N]`` float spikes (float32 by default) (0/1).
    """
    steps = _check_steps(steps)
    x = _check_pixels(x)
    p = x
    if rate is not None or dt is not None:
        if rate is None or dt is None:
            raise ValueError("poisson: give both rate (e.g. 100*u.Hz) and dt (e.g. 1*u.ms), or neither")
        rate_hz = units.to_mantissa(rate, "rate", units.FREQUENCY)
        dt_ms = units.to_mantissa(dt, "dt", units.TIME)
        if rate_hz < 0:
            raise ValueError(f"poisson: rate must be >= 0, got {rate}")
        if dt_ms <= 0:
            raise ValueError(f"poisson: dt must be positive, got {dt}")
        prob = rate_hz * dt_ms / 1000.0
        if prob > 1:
            raise ValueError(f"poisson: rate * dt = {prob:g} spikes per step exceeds 1; lower rate or dt")
        p = x * prob
    return jax.random.bernoulli(key, p, (steps,) + tuple(x.shape)).astype(_float())


def latency(x, steps: int, *, threshold: float = 0.25, normalize: bool = False, span: int | None = None) -> jax.Array:
    """Linear time-to-first-spike code: pixel ``x`` spikes once at step ``round((1 - x) (span - 1))``.

    Pixels with ``x < threshold`` never spike. With ``normalize=True`` the range
    ``[threshold, 1]`` is stretched over the code's span (darkest spiking pixel at its
    last step). ``span`` (default: all ``steps``) confines the code to the first ``span``
    steps, so that the network keeps running after the last input spike (Wunderlich &
    Pehle's 30 ms code inside a longer window). Returns ``[T, B, N]`` float spikes
    (float32 by default).
    """
    steps = _check_steps(steps)
    x = _check_pixels(x)
    if not isinstance(threshold, (int, float, np.number)) or not 0 <= threshold <= 1:
        raise ValueError(f"latency: threshold must be a number in [0, 1], got {threshold!r}")
    if span is None:
        span = steps
    if isinstance(span, bool) or not isinstance(span, (int, np.integer)) or not 1 <= span <= steps:
        raise ValueError(f"latency: span must be an integer number of steps in [1, steps = {steps}], got {span!r}")
    xs = (x - threshold) / max(1.0 - threshold, 1e-12) if normalize else x
    index = jnp.round((1.0 - jnp.clip(xs, 0.0, 1.0)) * (int(span) - 1)).astype(jnp.int32)
    index = jnp.where(x >= threshold, index, steps)  # `steps` is one past the end: silent
    return jax.nn.one_hot(index, steps, axis=0, dtype=_float())


def binary_latency(x, steps: int, dt, *, t_black, t_white, level: float = 0.5) -> jax.Array:
    """Binary two-time code: each pixel spikes once, at ``t_black`` if ``x < level`` else at ``t_white``.

    Args:
      x: ``[B, N]`` pixels in [0, 1].
      steps: number of steps ``T``; both times must fall inside ``[0, T * dt)``.
      dt: the step, a time (e.g. ``1*u.ms``).
      t_black: spike time of dark pixels (e.g. ``10*u.ms``).
      t_white: spike time of bright pixels (e.g. ``20*u.ms``).

    Returns: ``[T, B, N]`` float spikes (float32 by default).
    """
    steps = _check_steps(steps)
    x = _check_pixels(x)
    dt_ms = units.to_mantissa(dt, "dt", units.TIME)
    if dt_ms <= 0:
        raise ValueError(f"dt must be positive, got {dt}")
    if not isinstance(level, (int, float, np.number)) or not 0 <= level <= 1:
        raise ValueError(f"binary_latency: level must be a number in [0, 1], got {level!r}")
    indices = []
    for name, t in (("t_black", t_black), ("t_white", t_white)):
        k = int(round(units.to_mantissa(t, name, units.TIME) / dt_ms))
        if not 0 <= k < steps:
            raise ValueError(f"binary_latency: {name} = {t} falls outside the window [0, {steps} * dt); use more "
                             f"steps (--steps {k + 1} or more) or an earlier {name}")
        indices.append(k)
    index = jnp.where(x < level, indices[0], indices[1])
    return jax.nn.one_hot(index, steps, axis=0, dtype=_float())


def time_major(x) -> jax.Array:
    """Temporal samples ``[B, T, N]`` (spike trains, binned events) -> ``[T, B, N]`` floats."""
    x = jnp.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"temporal samples must have shape [B, T, N], got shape {tuple(x.shape)}")
    if _is_concrete(x) and x.size and not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError("temporal samples contain NaN or inf")
    return jnp.swapaxes(x, 0, 1).astype(_float())


#: name -> ``(steps, dt, **options) -> ((pixels [B, N], key) -> [T, B, N])``
ENCODERS = Registry("encoder")


@ENCODERS.register(name="current")
def _current(steps, dt, **options):
    return lambda x, key: constant(x, steps, **options)


@ENCODERS.register(name="poisson")
def _poisson(steps, dt, **options):
    if options.get("rate") is not None and options.get("dt") is None:
        options = {**options, "dt": dt}      # a rate needs the step
    return lambda x, key: poisson(x, steps, key, **options)


@ENCODERS.register(name="latency")
def _latency(steps, dt, **options):
    return lambda x, key: latency(x, steps, **options)


@ENCODERS.register(name="binary-latency")
def _binary_latency(steps, dt, **options):
    import brainunit as u
    opts = {"t_black": 10 * u.ms, "t_white": 20 * u.ms, **options}
    return lambda x, key: binary_latency(x, steps, dt, **opts)


@ENCODERS.register(name="events")
def _events(steps, dt, **options):
    return lambda x, key: time_major(x)


def get_encoder(name: str, steps: int, dt, **options):
    """An encoder by name as a function ``(pixels [B, N], key) -> [T, B, N]``.

    Names: ``current``, ``poisson``, ``latency``, ``binary-latency``, and ``events`` for
    samples that already have a time axis ``[B, T, N]``. ``options`` go to the encoder
    (e.g. ``threshold=0.25`` for latency, ``t_black``/``t_white`` for binary-latency).
    """
    return ENCODERS.lookup(name)(steps, dt, **options)
