"""Run directories: what a training run writes, who may write it, and reading it back.

A run directory ``OUT`` holds::

    config.json        the resolved settings, library versions, dataset and machine (standard JSON)
    metrics.jsonl      one JSON object per completed epoch
    checkpoints/       epoch-NNNN.ckpt files (``bsnn.checkpoint``), the newest two kept
    *.png              figures written there by ``bsnn plot``
    .lock              the writer's lock (process id and command while a run trains)

One process writes a run at a time: ``RunLock`` holds an exclusive ``flock`` on ``OUT/.lock``
for as long as the run trains; a second writer is refused with the holder's process id, and a
lock left by a dead process is taken over (the kernel drops a dead process's ``flock``).
Readers (``bsnn eval``, ``bsnn export``, ``bsnn plot``) take no lock and write nothing here
(``bsnn plot`` writes only its figures). Every problem with the directory is an
``OutputError``: one line naming the path and the problem.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time

__all__ = ["OutputError", "RunInUse", "RunLock", "RunDir", "RUN_FILES", "FIGURES", "write_atomic"]

FIGURES = ("learning_curves.png", "raster.png", "membrane.png")
RUN_FILES = ("config.json", "metrics.jsonl", "checkpoints") + FIGURES
_REQUIRED = ("dataset", "method")      # keys a config.json must hold (the rest default)


class OutputError(ValueError):
    """A run directory or output path that cannot be used (named, with the problem)."""


class RunInUse(OutputError):
    """Another live process is writing the run."""


def _problem(err: OSError) -> str:
    return {errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied", errno.ENOSPC: "no space left on the device",
            errno.EDQUOT: "disk quota exceeded", errno.ENOTDIR: "a part of the path is a file, not a directory",
            errno.EEXIST: "it exists and is not a directory", errno.EISDIR: "it is a directory",
            errno.ENAMETOOLONG: "the name is too long"}.get(err.errno, err.strerror or str(err))


def os_error(path: str, err: OSError, doing: str = "write") -> OutputError:
    """``OutputError("cannot write PATH: the file system is read-only")`` from an ``OSError``."""
    return OutputError(f"cannot {doing} {path}: {_problem(err)}")


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise os_error(path, err) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def dumps(value) -> str:
    """Standard JSON (no NaN or Infinity)."""
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=False, default=str)


class RunLock:
    """An exclusive, process-lifetime lock on a run directory (``OUT/.lock``)."""

    _held: dict = {}        # path -> (RunLock, count): the same process may take it again

    def __init__(self, directory: str):
        self.path = os.path.join(os.path.abspath(directory), ".lock")
        self._fd = None

    @classmethod
    def acquire(cls, directory: str) -> "RunLock":
        import fcntl
        path = os.path.join(os.path.abspath(directory), ".lock")
        if path in cls._held:
            lock, count = cls._held[path]
            cls._held[path] = (lock, count + 1)
            return lock
        lock = cls(directory)
        while True:
            try:
                fd = os.open(lock.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise os_error(lock.path, err) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RunInUse(f"{os.path.dirname(lock.path)} is in use: {lock.holder()} is training it; "
                                   f"wait for it to finish or stop it (a run has one writer at a time)") from None
                raise os_error(lock.path, err, "lock") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(lock.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)            # the file was replaced while we waited: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                  "command": " ".join(sys.argv)}) + "\n").encode())
        lock._fd = fd
        cls._held[path] = (lock, 1)
        return lock

    def holder(self) -> str:
        try:
            with open(self.path) as f:
                info = json.loads(f.read() or "{}")
        except (OSError, ValueError):
            return "another process"
        text = f"process {info.get('pid', '?')}"
        if info.get("host") and info["host"] != socket.gethostname():
            text += f" on {info['host']}"
        if info.get("command"):
            text += f" ({info['command']})"
        return text

    def release(self):
        lock, count = self._held.get(self.path, (None, 0))
        if lock is not self:
            return
        if count > 1:
            self._held[self.path] = (lock, count - 1)
            return
        del self._held[self.path]
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class RunDir:
    """The files of one run directory (see the module docstring)."""

    def __init__(self, path: str):
        self.path = path
        self.config_path = os.path.join(path, "config.json")
        self.metrics_path = os.path.join(path, "metrics.jsonl")
        self.checkpoint_dir = os.path.join(path, "checkpoints")

    def holds_run(self) -> bool:
        """True when checkpoints of a run are there (a run killed before its first epoch holds none)."""
        try:
            return any(n.startswith("epoch-") for n in os.listdir(self.checkpoint_dir))
        except OSError:
            return False

    def check_writable(self) -> None:
        """Raise ``OutputError`` unless the directory exists or can be made, and takes files.

        Creates the directory if it is missing (``remove_if_empty`` undoes that on a failed start).
        """
        path = self.path
        if os.path.exists(path) and not os.path.isdir(path):
            raise OutputError(f"--out {path}: it is a file, not a directory")
        created = not os.path.exists(path)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as err:
            raise OutputError(f"--out {path}: cannot create the directory: {_problem(err)}") from None
        probe = os.path.join(path, f".write-test-{os.getpid()}")
        try:
            with open(probe, "w") as f:
                f.write("x" * 4096)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            self._remove_probe(probe)
            if created:
                self.remove_if_empty()
            raise OutputError(f"--out {path}: cannot write there: {_problem(err)}") from None
        self._remove_probe(probe)

    @staticmethod
    def _remove_probe(probe: str) -> None:
        try:
            os.remove(probe)
        except OSError:
            pass

    def remove_if_empty(self) -> None:
        try:
            os.rmdir(self.path)
        except OSError:
            pass

    def clear(self) -> None:
        """Remove every file an earlier run wrote here (``RUN_FILES``); the lock stays."""
        import shutil
        for name in RUN_FILES:
            target = os.path.join(self.path, name)
            try:
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                elif os.path.lexists(target):
                    os.remove(target)
            except OSError as err:
                raise os_error(target, err, "remove") from None

    def read_config(self) -> dict:
        """The ``config`` table of ``config.json``, checked for shape (errors name the file and key)."""
        path = self.config_path
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{self.path} is not a bsnn run directory (no config.json)")
        try:
            with open(path) as f:
                record = json.load(f)
        except OSError as err:
            raise os_error(path, err, "read") from None
        except ValueError as err:
            raise OutputError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(record, dict):
            raise OutputError(f"{path} must hold a JSON object with a 'config' table, got {type(record).__name__}")
        if "config" not in record:
            raise OutputError(f"{path} has no 'config' key (the run's settings); is it a bsnn run's config.json?")
        config = record["config"]
        if not isinstance(config, dict):
            raise OutputError(f"{path}: 'config' must be a table of settings, got {type(config).__name__}")
        missing = [k for k in _REQUIRED if k not in config]
        if missing:
            raise OutputError(f"{path}: 'config' has no {', '.join(repr(k) for k in missing)} setting")
        return config

    def write_config(self, text: str) -> None:
        write_atomic(self.config_path, text)

    def write_metrics(self, history: list) -> None:
        write_atomic(self.metrics_path, "".join(json.dumps(h, allow_nan=False) + "\n" for h in history))

    def append_metrics(self, record: dict) -> None:
        line = json.dumps(record, allow_nan=False) + "\n"
        try:
            with open(self.metrics_path, "a") as f:
                f.write(line)
        except OSError as err:
            raise os_error(self.metrics_path, err) from None
