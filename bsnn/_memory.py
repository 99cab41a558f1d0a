"""A run's memory, estimated before anything is compiled, and the refusal of runs that cannot fit.

The estimate counts the arrays that grow with the number of steps ``T`` (float32, 4 bytes):

* BPTT and EventProp keep each layer's trajectory for the reverse pass: about ``K_TRAIN``
  arrays of ``[T, B, N_l]`` per layer, plus the encoded input ``[T, B, N_in]`` (none for the
  constant-current encoder, which is stored once). With ``--remat`` BPTT keeps about
  ``2 sqrt(T)`` steps of them instead of ``T``.
* e-prop and random feedback keep no time axis in training (traces ``[B, N]``), but the
  evaluation forward pass (layer by layer) holds ``K_EVAL`` arrays of ``[T, B, N_l]``.

It is a rough upper bound (XLA may fuse some arrays away), used only to refuse a run that
would certainly not fit (``--steps 10000000``) before it compiles for minutes and dies.
"""

from __future__ import annotations

import math
import os

__all__ = ["estimate_bytes", "available_bytes", "check_fits", "K_TRAIN", "K_EVAL"]

K_TRAIN = 6      # spikes, membrane, current, drive and their residuals per layer and step
K_EVAL = 3
_ONLINE = ("eprop", "feedback")


def estimate_bytes(method: str, steps: int, batch: int, sizes, *, input_in_time: bool, remat: bool) -> int:
    """Bytes of the arrays that grow with ``steps`` (see the module docstring)."""
    neurons = sum(sizes[1:])
    inputs = sizes[0] if input_in_time else 0
    kept = 2 * math.ceil(math.sqrt(steps)) if remat else steps
    evaluation = 4 * batch * (inputs * steps + K_EVAL * neurons * kept)
    if method in _ONLINE:
        train = 4 * batch * (inputs * steps + 8 * (neurons + sizes[0]))
    else:
        train = 4 * batch * (inputs * steps + K_TRAIN * neurons * (kept if method == "bptt" else steps))
    return max(train, evaluation)


def available_bytes() -> int:
    """Memory available now (``MemAvailable`` of /proc/meminfo; else the physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _gb(n: int) -> str:
    return f"{n / 1e9:.3g} GB"


def check_fits(cfg, n_in: int, n_classes: int, *, temporal: bool = False, available: int | None = None,
               sizes=None) -> None:
    """Raise ``ValueError`` (with the estimate and the ways out) when the run cannot fit in memory
    (``sizes``: the model's flat layer widths, input first; default from ``cfg.hidden``)."""
    available = available_bytes() if available is None else available
    sizes = list(sizes) if sizes is not None else [n_in, *cfg.hidden, n_classes]
    in_time = temporal or cfg.encoder != "current"

    def need(method=cfg.method, steps=cfg.steps, batch=cfg.batch_size, remat=bool(cfg.remat)):
        return estimate_bytes(method, steps, batch, sizes, input_in_time=in_time, remat=remat)

    needed = need()
    if needed <= available:
        return
    ways = []
    if not cfg.remat and cfg.method in ("bptt",) + _ONLINE and need(remat=True) <= available:
        ways.append("--remat (the forward pass is recomputed; memory grows with sqrt(T))")
    if cfg.method != "eprop" and need(method="eprop") <= available:
        ways.append("--method eprop (no backward pass through time)")
    batch = cfg.batch_size
    while batch > 1 and need(batch=batch) > available:
        batch //= 2
    if batch < cfg.batch_size and need(batch=batch) <= available:
        ways.append(f"--batch-size {batch}")
    steps = cfg.steps
    while steps > 1 and need(steps=steps) > available:
        steps //= 2
    ways.append(f"--steps {steps}" if need(steps=steps) <= available else "fewer --steps")
    raise ValueError(f"--steps {cfg.steps} with --batch-size {cfg.batch_size} needs about {_gb(needed)} for the "
                     f"states --method {cfg.method} keeps over time, more than the {_gb(available)} available; "
                     f"use " + ", or ".join(ways))
