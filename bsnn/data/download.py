"""Checksummed, atomic downloads into the bsnn cache.

``download`` streams a URL into a temporary file beside the destination while hashing
it, checks size and SHA-256 (or, where a dataset publishes only that, MD5), and only then
renames it into place (``os.replace`` is
atomic on one file system). A failed mirror, an interrupted transfer (any exception,
``KeyboardInterrupt`` included) or a checksum mismatch leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Sequence

from bsnn.data.base import DataError

__all__ = ["cache_dir", "download", "url_fetch", "sha256_file", "atomic_file", "Fetch"]

#: ``fetch(url) -> iterable of byte chunks``; raise on failure
Fetch = Callable[[str], Iterable[bytes]]
_CHUNK = 1 << 20
_TIMEOUT_S = 30.0


def cache_dir() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/bsnn`` when set, else ``~/.cache/bsnn``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bsnn"


def url_fetch(url: str) -> Iterable[bytes]:
    """Stream ``url`` (``https://``, ``http://`` or ``file://``) in 1 MiB chunks."""
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
        while chunk := response.read(_CHUNK):
            yield chunk


def sha256_file(path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (SHA-256 unless ``algorithm`` says otherwise)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_file(dest):
    """A temporary path beside ``dest`` that becomes ``dest`` (``os.replace``, atomic on one file
    system) when the block completes; on any exception (``KeyboardInterrupt`` included) it is removed
    and ``dest`` is untouched."""
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _fetch_one(url: str, dest: Path, algorithm: str, expected: str, size: int | None, fetch: Fetch) -> None:
    """Fetch ``url`` into ``dest`` atomically, or raise and leave no file."""
    with atomic_file(dest) as tmp:
        digest, n = hashlib.new(algorithm), 0
        with open(tmp, "wb") as f:
            for chunk in fetch(url):
                n += len(chunk)
                if size is not None and n > size:
                    raise DataError(f"{dest.name} from {url}: wrong size: more than the "
                                    f"expected {size} bytes")
                digest.update(chunk)
                f.write(chunk)
        if size is not None and n != size:
            raise DataError(f"{dest.name} from {url}: wrong size: {n} bytes, expected {size}")
        if digest.hexdigest() != expected:
            raise DataError(f"{dest.name} from {url}: checksum mismatch: {algorithm.upper().replace('SHA', 'SHA-')} "
                            f"{digest.hexdigest()}, expected {expected}")


def download(urls: Sequence[str], dest, *, sha256: str | None = None, md5: str | None = None,
             size: int | None = None, fetch: Fetch | None = None) -> Path:
    """Download the first of ``urls`` that yields the expected bytes into ``dest``.

    Args:
      urls: mirrors, tried in order.
      dest: destination file; its directory is created.
      sha256: expected SHA-256 (hex) of the downloaded bytes.
      md5: expected MD5 (hex), for datasets whose publishers pin only that (exactly one of
        ``sha256`` and ``md5``).
      size: expected size in bytes, or None.
      fetch: ``fetch(url) -> iterable of bytes``; default ``url_fetch`` (urllib).

    Returns ``dest``. Raises ``DataError`` listing each mirror's failure when none
    succeeds; no partial file is ever left at ``dest`` or beside it.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fetch = fetch or url_fetch
    if (sha256 is None) == (md5 is None):
        raise ValueError("download needs exactly one checksum: sha256=... or md5=...")
    algorithm, expected = ("sha256", sha256) if sha256 is not None else ("md5", md5)
    expected = expected.lower()
    failures = []
    for url in urls:
        try:
            _fetch_one(url, dest, algorithm, expected, size, fetch)
            return dest
        except DataError as e:
            failures.append(f"  {url}: {e}")
        except Exception as e:  # network errors, HTTP errors, interrupted transfers
            failures.append(f"  {url}: {type(e).__name__}: {e}")
    raise DataError(f"could not download {dest.name} into {dest.parent}:\n" + "\n".join(failures))
