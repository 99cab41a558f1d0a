"""The Spiking Heidelberg Datasets (Cramer, Stradmann, Schemmel & Zenke 2020): SHD and SSC.

Spoken digits (SHD: 20 classes, English and German "zero" to "nine") and speech commands
(SSC: 35 classes) turned into spikes of 700 channels by a model of the inner ear. Each split
is one HDF5 file with, per sample ``i``:

* ``spikes/times[i]``: the spike times in seconds (float, variable length);
* ``spikes/units[i]``: the channel of each spike, in ``[0, 700)`` (integer, same length);
* ``labels[i]``: the class id;

(and ``extra/`` metadata: speakers, keys, which bsnn does not read). ``read_spikes`` reads and
checks one file; ``bin_spikes`` bins its samples into spike trains ``[N, T, 700 / pool]``:
bin ``k`` holds the spikes with ``k * bin_width <= t < (k + 1) * bin_width``, and spikes at or
after ``max_time`` are dropped. ``binary`` keeps one spike per bin and channel (the default: a
spike train in [0, 1]); otherwise bins count spikes. ``channel_pool`` merges each run of that many
neighbouring channels into one (700 must divide by it).

Files are looked up as ``<split file>.h5``, then its ``.h5.zip`` archive, in the directories of
``bsnn.data.sources.search_dirs`` (``--data-dir``, ``$BSNN_DATA/<name>/``, the cache,
``/usr/share/datasets/<name>/``). An archive must match the MD5 its publishers pin (the pins
tonic and SpikingJelly check); it is unpacked into the cache, atomically. Files found nowhere
are downloaded (``zenkelab.org``, then ``compneuro.net``), checked, and unpacked. Reading
needs the optional package ``h5py`` (``pip install bsnn[shd]``). With tonic installed the same
data are also reachable as ``tonic:SHD`` / ``tonic:SSC`` (``bsnn.data.tonic_dataset``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bsnn.data.base import DataError, DataNotFoundError, Dataset, check_dataset
from bsnn.data.download import Fetch, atomic_file, cache_dir, download, sha256_file

__all__ = ["HeidelbergFile", "HeidelbergSource", "SHD", "SSC", "N_CHANNELS", "read_spikes", "write_spikes", "bin_spikes",
           "heidelberg_files", "heidelberg", "shd", "ssc"]

#: channels of the cochlea model
N_CHANNELS = 700


class HeidelbergFile(NamedTuple):
    """One split of a Heidelberg dataset: its HDF5 name and the pinned archive that holds it."""

    split: str             # "train", "valid" or "test"
    name: str              # "shd_train.h5"
    md5: str               # MD5 of name + ".zip", as published


class HeidelbergSource(NamedTuple):
    name: str              # "shd"
    n_classes: int
    files: tuple           # HeidelbergFile per split
    mirrors: tuple         # base URLs ending in "/"

    def file(self, split: str) -> HeidelbergFile:
        for f in self.files:
            if f.split == split:
                return f
        raise ValueError(f"{self.name} has no split {split!r}; its splits are "
                         f"{', '.join(f.split for f in self.files)}")


_MIRRORS = ("https://zenkelab.org/datasets/", "https://compneuro.net/datasets/")
SHD = HeidelbergSource("shd", 20, (HeidelbergFile("train", "shd_train.h5", "f3252aeb598ac776c1b526422d90eecb"),
                                   HeidelbergFile("test", "shd_test.h5", "1503a5064faa34311c398fb0a1ed0a6f")), _MIRRORS)
SSC = HeidelbergSource("ssc", 35, (HeidelbergFile("train", "ssc_train.h5", "d102be95e7144fcc0553d1f45ba94170"),
                                   HeidelbergFile("valid", "ssc_valid.h5", "b4eee3516a4a90dd0c71a6ac23a8ae43"),
                                   HeidelbergFile("test", "ssc_test.h5", "a35ff1e9cffdd02a20eb850c17c37748")), _MIRRORS)


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise ImportError("reading SHD / SSC needs the optional package h5py: pip install h5py "
                          "(or pip install bsnn[shd])") from e
    return h5py


def read_spikes(path, n_classes: int | None = None, limit: int | None = None):
    """Read one Heidelberg HDF5 file: ``(times, units, labels)``.

    ``times[i]`` (float64 seconds) and ``units[i]`` (int64) are the spikes of sample ``i``;
    ``labels`` int32 ``[N]``. ``limit`` reads only the first samples. Raises ``DataError``
    naming the file and what is wrong (not HDF5, a dataset missing, lengths that disagree,
    channels or labels out of range, negative or non-finite times).
    """
    h5py = _h5py()
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e})") from None
    with f:
        missing = [k for k in ("spikes/times", "spikes/units", "labels") if k not in f]
        if missing:
            raise DataError(f"{path}: not a Heidelberg spike file: no dataset {', '.join(missing)} "
                            f"(expected spikes/times, spikes/units and labels)")
        n = len(f["labels"])
        if len(f["spikes/times"]) != n or len(f["spikes/units"]) != n:
            raise DataError(f"{path}: {len(f['spikes/times'])} spike-time and {len(f['spikes/units'])} "
                            f"channel arrays for {n} labels; expected one of each per label")
        n = n if limit is None else min(n, int(limit))
        labels = np.asarray(f["labels"][:n]).astype(np.int64)
        times = [np.asarray(t, np.float64) for t in f["spikes/times"][:n]]
        units = [np.asarray(c) for c in f["spikes/units"][:n]]
    for i, (t, c) in enumerate(zip(times, units)):
        if t.shape != c.shape:
            raise DataError(f"{path}: sample {i} has {t.size} spike times but {c.size} channels")
        if t.size and not (np.all(np.isfinite(t)) and t.min() >= 0):
            raise DataError(f"{path}: sample {i} has negative or non-finite spike times")
        if c.size and (c.min() < 0 or c.max() >= N_CHANNELS or not np.issubdtype(c.dtype, np.integer)):
            raise DataError(f"{path}: sample {i} has channels outside [0, {N_CHANNELS}) "
                            f"(got {c.dtype} in [{c.min()}, {c.max()}])")
    if n_classes is not None and labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"{path}: labels must lie in [0, {n_classes}), got [{labels.min()}, {labels.max()}]")
    return times, [c.astype(np.int64) for c in units], labels.astype(np.int32)


def write_spikes(path, times, units, labels) -> Path:
    """Write samples in the Heidelberg layout (``read_spikes``' inverse): variable-length
    ``spikes/times`` (float32 seconds) and ``spikes/units`` (uint16) per sample, ``labels`` (uint16).

    For a dataset of one's own in the SHD format, and for tests without the real files. The
    file is written beside ``path`` and renamed into place.
    """
    h5py = _h5py()
    path = Path(path)
    if not len(times) == len(units) == len(labels):
        raise ValueError(f"times, units and labels need one entry per sample, got {len(times)}, {len(units)}, "
                         f"{len(labels)}")
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
        c = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ci) in enumerate(zip(times, units)):
            t[i], c[i] = np.asarray(ti, np.float32), np.asarray(ci, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))
    return path


def _ms(value, name: str) -> float:
    from bsnn import units
    if isinstance(value, str):
        value = units.parse_quantity(value, name, units.TIME)
    ms = units.to_mantissa(value, name, units.TIME)
    if not ms > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return float(ms)


def bin_spikes(times, units, *, bin_width, max_time, binary: bool = True, channel_pool: int = 1) -> np.ndarray:
    """Spike trains ``[N, T, 700 // channel_pool]`` float32, ``T = ceil(max_time / bin_width)``.

    ``times`` in seconds as the files hold them; ``bin_width`` and ``max_time`` are times
    (``10 * u.ms`` or ``"10ms"``). See the module docstring for the binning.
    """
    width, horizon = _ms(bin_width, "bin_width"), _ms(max_time, "max_time")
    if isinstance(channel_pool, bool) or not isinstance(channel_pool, (int, np.integer)) or channel_pool < 1 \
            or N_CHANNELS % channel_pool:
        divisors = [d for d in range(1, N_CHANNELS + 1) if N_CHANNELS % d == 0]
        raise ValueError(f"channel_pool must be a positive divisor of {N_CHANNELS} "
                         f"({', '.join(map(str, divisors[:8]))}, ...), got {channel_pool!r}")
    n_bins = int(np.ceil(horizon / width - 1e-9))
    n_out = N_CHANNELS // int(channel_pool)
    x = np.zeros((len(times), n_bins, n_out), np.float32)
    for i, (t, c) in enumerate(zip(times, units)):
        t_ms = np.asarray(t, np.float64) * 1000.0
        keep = t_ms < horizon
        k = np.floor(t_ms[keep] / width).astype(np.int64)
        np.add.at(x[i], (np.minimum(k, n_bins - 1), np.asarray(c)[keep] // int(channel_pool)), 1.0)
    return np.minimum(x, 1.0, out=x) if binary else x


def _unpack(archive: Path, member: str, dest: Path) -> Path:
    """Extract ``member`` of ``archive`` to ``dest`` atomically (a partial file never has its name)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise DataError(f"{archive}: not a zip archive") from None
    with zf:
        if member not in zf.namelist():
            raise DataError(f"{archive}: holds no {member} (it holds {', '.join(zf.namelist()[:5])})")
        with atomic_file(dest) as tmp, open(tmp, "wb") as out, zf.open(member) as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    return dest


def _locate(source: HeidelbergSource, f: HeidelbergFile, dirs, download_missing: bool, fetch: Fetch | None):
    """``(path, None)`` for split ``f``, found, unpacked from a found archive, or downloaded;
    ``(None, why)`` when it is nowhere and could not be downloaded."""
    for d in dirs:
        if (d / f.name).is_file():
            return d / f.name, None
    target = cache_dir() / source.name / f.name
    for d in dirs:
        archive = d / f"{f.name}.zip"
        if archive.is_file():
            digest = sha256_file(archive, "md5")
            if digest != f.md5:
                raise DataError(f"{archive}: checksum mismatch: MD5 {digest}, expected {f.md5}; "
                                f"replace or delete it (a deleted archive is downloaded again)")
            return _unpack(archive, f.name, target), None
    if not download_missing:
        return None, "Download is off (download=False)."
    try:
        archive = download([m + f"{f.name}.zip" for m in source.mirrors],
                           cache_dir() / source.name / f"{f.name}.zip", md5=f.md5, fetch=fetch)
    except DataError as e:
        return None, f"Download failed:\n{e}"
    path = _unpack(archive, f.name, target)
    archive.unlink()
    return path, None


def heidelberg_files(source: HeidelbergSource, data_dir=None, *, splits=("train", "test"), download: bool = True,
                     fetch: Fetch | None = None) -> dict:
    """``{split: path of its HDF5 file}``, found, unpacked or downloaded (see the module docstring)."""
    from bsnn.data.sources import search_dirs
    dirs = search_dirs(source.name, data_dir)
    paths, missing, why = {}, [], []
    for split in splits:
        f = source.file(split)
        path, failure = _locate(source, f, dirs, download, fetch)
        if path is None:
            missing.append(f)
            why.append(failure)
        else:
            paths[split] = path
    if missing:
        names = "\n".join(f"  {f.name} (or {f.name}.zip)" for f in missing)
        where = "\n".join(f"  {d}" + ("" if d.is_dir() else "  (no such directory)") for d in dirs)
        raise DataNotFoundError(f"{source.name}: {len(missing)} file(s) not found:\n{names}\nsearched, in order:\n"
                                f"{where}\n" + "\n".join(dict.fromkeys(why)) + "\nPut the files in one of these "
                                f"directories, pass data_dir (--data-dir), or set BSNN_DATA to a directory holding "
                                f"{source.name}/.")
    return paths


def heidelberg(source: HeidelbergSource, data_dir=None, *, bin_width="10ms", max_time="1000ms", binary: bool = True,
               channel_pool: int = 1, n_train: int | None = None, n_test: int | None = None, download: bool = True,
               fetch: Fetch | None = None) -> Dataset:
    """A Heidelberg dataset as temporal samples ``[N, T, 700 // channel_pool]`` (train and test splits).

    Args:
      bin_width: the width of a time bin, a time (``"10ms"``, ``10 * u.ms``); 10 ms.
      max_time: spikes at or after it are dropped; 1000 ms (T = 100 bins by default).
      binary: one spike per bin and channel (True), or spike counts.
      channel_pool: merge this many neighbouring channels (a divisor of 700; 1).
      n_train, n_test: read only the first samples of each split (all of SSC's 75466 training
        samples at 100 bins x 700 channels are 21 GB of float32).
      download: fetch missing archives (MD5-checked) into the cache.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{name} must be a positive integer (or unset for all samples), got {value!r}")
    bin_spikes([], [], bin_width=bin_width, max_time=max_time, binary=binary, channel_pool=channel_pool)  # checks
    paths = heidelberg_files(source, data_dir, download=download, fetch=fetch)
    splits = {}
    for split, limit in (("train", n_train), ("test", n_test)):
        times, chans, labels = read_spikes(paths[split], source.n_classes, limit)
        splits[split] = (bin_spikes(times, chans, bin_width=bin_width, max_time=max_time, binary=binary,
                                    channel_pool=channel_pool), labels)
    (x_tr, y_tr), (x_te, y_te) = splits["train"], splits["test"]
    return check_dataset(Dataset(source.name, x_tr, y_tr, x_te, y_te, source.n_classes, None, True))


def shd(data_dir=None, **options) -> Dataset:
    """Spiking Heidelberg Digits: 8156 train / 2264 test samples, 700 channels, 20 classes.

    ``options`` are ``heidelberg``'s (``bin_width``, ``max_time``, ``binary``, ``channel_pool``, ...).
    """
    return heidelberg(SHD, data_dir, **options)


def ssc(data_dir=None, **options) -> Dataset:
    """Spiking Speech Commands: its train and test splits (the valid split through ``heidelberg_files``),
    700 channels, 35 classes. ``options`` are ``heidelberg``'s."""
    return heidelberg(SSC, data_dir, **options)
