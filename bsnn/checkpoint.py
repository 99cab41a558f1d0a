"""Checkpoints: model weights, optimizer state and run metadata, written atomically, checksummed.

A checkpoint is one file ``OUT/checkpoints/epoch-NNNN.ckpt``: an ``.npz`` payload
followed by a trailer ``b"BSNNCKPT" + sha256(payload)``. It is written to a temporary
file in the same directory, flushed to disk and renamed into place, so a process
killed at any point leaves either the previous checkpoints or the new complete one,
never a half-written file under the final name. Loading verifies the trailer; a
truncated or corrupted file is reported by name and never loaded.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import sys
from typing import NamedTuple

import brainstate
import jax
import numpy as np

__all__ = ["CheckpointError", "Checkpoint", "save", "load", "latest", "checkpoint_files", "write_file", "state_arrays",
           "restore_states"]

_MAGIC = b"BSNNCKPT"
_TRAILER = len(_MAGIC) + 32
_KEEP = 2


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or corrupted."""


class Checkpoint(NamedTuple):
    path: str
    arrays: dict      # name -> np.ndarray
    meta: dict        # epoch, metrics history, config, versions


def _host(leaf) -> np.ndarray:
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        return np.asarray(leaf.addressable_data(0))     # a replicated array of a multi-host run
    return np.asarray(leaf)


def _leaves(prefix: str, value) -> dict:
    flat, _ = jax.tree_util.tree_flatten_with_path(value)
    return {prefix + jax.tree_util.keystr(path): _host(leaf) for path, leaf in flat}


def _optimizer_states(optimizer) -> dict:
    return {k: s for k, s in brainstate.graph.states(optimizer).items()
            if not isinstance(s, brainstate.ParamState)}


def state_arrays(model, optimizer=None) -> dict:
    """Every array that defines a training state, by a stable name."""
    arrays = {}
    for path, state in model.states(brainstate.ParamState).items():
        arrays.update(_leaves(f"params/{path}", state.value))
    if optimizer is not None:
        for path, state in _optimizer_states(optimizer).items():
            arrays.update(_leaves(f"optim/{path}", state.value))
        sched = getattr(optimizer, "lr_scheduler", None)
        if sched is not None and hasattr(sched, "last_epoch"):
            arrays["sched/last_epoch"] = _host(sched.last_epoch.value)
            arrays["sched/current_lrs"] = np.asarray([_host(v) for v in sched.current_lrs.value])
    return arrays


def _restore(prefix: str, state, arrays: dict, path: str):
    flat, treedef = jax.tree_util.tree_flatten_with_path(state.value)
    leaves = []
    for key_path, leaf in flat:
        name = prefix + jax.tree_util.keystr(key_path)
        if name not in arrays:
            raise CheckpointError(f"{path} has no array {name!r}: it was written for another model or optimizer")
        value = arrays[name]
        if np.shape(value) != np.shape(leaf):
            raise CheckpointError(f"{path}: {name!r} has shape {np.shape(value)}, the model expects {np.shape(leaf)}")
        leaves.append(jax.numpy.asarray(value, dtype=getattr(leaf, "dtype", None)))
    state.value = jax.tree_util.tree_unflatten(treedef, leaves)


def restore_states(ckpt: Checkpoint, model, optimizer=None):
    """Write the checkpoint's arrays back into ``model`` (and ``optimizer``) in place."""
    for p, state in model.states(brainstate.ParamState).items():
        _restore(f"params/{p}", state, ckpt.arrays, ckpt.path)
    if optimizer is not None:
        for p, state in _optimizer_states(optimizer).items():
            _restore(f"optim/{p}", state, ckpt.arrays, ckpt.path)
        sched = getattr(optimizer, "lr_scheduler", None)
        if sched is not None and hasattr(sched, "last_epoch") and "sched/last_epoch" in ckpt.arrays:
            sched.last_epoch.value = jax.numpy.asarray(ckpt.arrays["sched/last_epoch"])
            sched.current_lrs.value = list(jax.numpy.asarray(ckpt.arrays["sched/current_lrs"]))


def _fsync_dir(directory: str):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _epoch_of(path: str) -> int:
    name = os.path.basename(path)[len("epoch-"):-len(".ckpt")]
    return int(name) if name.isdigit() else -1


def checkpoint_files(directory: str) -> list:
    """The ``epoch-N.ckpt`` files of ``directory``, oldest first, ordered by epoch number (not by name:
    ``epoch-10000`` comes after ``epoch-9999``)."""
    paths = [p for p in glob.glob(os.path.join(directory, "epoch-*.ckpt")) if _epoch_of(p) >= 0]
    return sorted(paths, key=_epoch_of)


def write_file(path: str, arrays: dict, meta: dict) -> str:
    """Atomically write one checksummed file of ``arrays`` and JSON ``meta`` to ``path``."""
    buffer = io.BytesIO()
    payload_arrays = dict(arrays)
    payload_arrays["__meta__"] = np.frombuffer(json.dumps(meta, default=str, allow_nan=False).encode(),
                                               dtype=np.uint8)
    np.savez(buffer, **payload_arrays)
    payload = buffer.getvalue()
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.write(_MAGIC + hashlib.sha256(payload).digest())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync_dir(directory)
    return path


def save(directory: str, epoch: int, arrays: dict, meta: dict) -> str:
    """Atomically write ``directory/epoch-NNNN.ckpt``; keep the newest two. Returns the path."""
    os.makedirs(directory, exist_ok=True)
    final = write_file(os.path.join(directory, f"epoch-{epoch:04d}.ckpt"), arrays, meta)
    for old in checkpoint_files(directory)[:-_KEEP]:
        os.remove(old)
    for stale in glob.glob(os.path.join(directory, ".epoch-*.ckpt.tmp-*")):   # left by a killed writer
        os.remove(stale)
    return final


def load(path: str) -> Checkpoint:
    """Read and verify one checkpoint file. Raises ``CheckpointError`` naming the file and problem."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror}") from None
    if len(data) < _TRAILER or data[-_TRAILER:-32] != _MAGIC:
        raise CheckpointError(f"checkpoint {path} is truncated or not a bsnn checkpoint (no checksum trailer)")
    payload, digest = data[:-_TRAILER], data[-32:]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupted (SHA-256 checksum mismatch)")
    with np.load(io.BytesIO(payload)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    return Checkpoint(path, arrays, meta)


def latest(directory: str) -> Checkpoint | None:
    """The newest valid checkpoint in ``directory`` (None if there is none at all).

    A newer file that fails verification is reported on stderr and skipped; if every
    file fails, ``CheckpointError`` lists each one with its problem.
    """
    paths = checkpoint_files(directory)[::-1]
    problems = []
    for path in paths:
        try:
            ckpt = load(path)
        except CheckpointError as err:
            problems.append(str(err))
            print(f"warning: {err}; trying an older checkpoint", file=sys.stderr)
            continue
        return ckpt
    if problems:
        raise CheckpointError("no valid checkpoint in " + directory + ":\n  " + "\n  ".join(problems))
    return None
