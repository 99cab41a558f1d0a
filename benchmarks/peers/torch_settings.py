"""The PyTorch run settings a benchmark peer can be given, applied before and after ``import torch``.

A setting is a dict (all keys optional):

* ``threads``: ``torch.set_num_threads(n)``; ``None`` or absent keeps PyTorch's default
  (what a user who writes nothing gets: the number of physical cores).
* ``omp_wait_policy``: ``"PASSIVE"`` or ``"ACTIVE"``, exported as ``OMP_WAIT_POLICY`` before
  PyTorch (and its OpenMP runtime) is imported; absent keeps the runtime's default (GNU
  OpenMP spins a while, then sleeps).
* ``compile``: ``True`` wraps the model in ``torch.compile`` (Inductor, the default backend).

``label`` writes a setting the way the benchmark tables show it.
"""

from __future__ import annotations

import os

KEYS = ("threads", "omp_wait_policy", "compile")


def check(setting: dict) -> dict:
    unknown = sorted(set(setting) - set(KEYS))
    if unknown:
        raise ValueError(f"a PyTorch setting takes keys {list(KEYS)}, got {unknown}")
    policy = setting.get("omp_wait_policy")
    if policy not in (None, "PASSIVE", "ACTIVE"):
        raise ValueError(f"omp_wait_policy must be PASSIVE, ACTIVE or absent, got {policy!r}")
    return setting


def before_import(setting: dict) -> None:
    """Export what must be set before ``import torch`` (the OpenMP wait policy)."""
    check(setting)
    if setting.get("omp_wait_policy"):
        os.environ["OMP_WAIT_POLICY"] = setting["omp_wait_policy"]
    else:
        os.environ.pop("OMP_WAIT_POLICY", None)


def after_import(setting: dict) -> None:
    """Apply what PyTorch sets at run time (the thread count)."""
    import torch
    if setting.get("threads"):
        torch.set_num_threads(int(setting["threads"]))


def maybe_compile(module, setting: dict):
    import torch
    return torch.compile(module) if setting.get("compile") else module


def label(setting: dict) -> str:
    """``"2 threads, OMP passive, compiled"``; ``"PyTorch defaults"`` for an empty setting."""
    parts = []
    if setting.get("threads"):
        parts.append(f"{setting['threads']} thread{'s' if setting['threads'] != 1 else ''}")
    if setting.get("omp_wait_policy"):
        parts.append(f"OMP {setting['omp_wait_policy'].lower()}")
    if setting.get("compile"):
        parts.append("torch.compile")
    return ", ".join(parts) if parts else "PyTorch defaults"
