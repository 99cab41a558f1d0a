"""Datasets for bsnn: MNIST, Fashion-MNIST, scikit-learn digits, a synthetic Poisson task,
and (optionally) tonic event datasets; plus seeded batching.

    from bsnn import data
    ds = data.load("mnist", data_dir="~/data")      # Dataset(x_train [60000, 784], ...)
    for xb, yb in data.batches(ds.x_train, ds.y_train, 128, shuffle=True, seed=0,
                               epoch=0, drop_last=True):
        ...

Every loader returns a ``Dataset``: float32 samples in [0, 1] (``[N, D]``, or ``[N, T, D]``
when ``temporal``), int32 labels. IDX files are searched, verified and downloaded as
described in ``bsnn.data.sources``.
"""

from __future__ import annotations

from bsnn.registry import Registry
from bsnn.data.base import DataError, DataNotFoundError, Dataset
from bsnn.data.batching import Batches, batches, epoch_order, num_batches, subset
from bsnn.data.builtin import SYNTHETIC_TASKS, digits, synthetic
from bsnn.data.download import cache_dir, download
from bsnn.data.events import bin_events, tonic_dataset
from bsnn.data.idx import parse_idx, read_idx, write_idx
from bsnn.data.random_manifolds import randman, randman_events
from bsnn.data.sources import (FASHION_MNIST, MNIST, IdxFile, Source, fashion_mnist, idx_dataset,
                               load_source, mnist, search_dirs)

__all__ = [
    "Dataset", "DataError", "DataNotFoundError", "DATASETS", "load",
    "digits", "mnist", "fashion_mnist", "synthetic", "SYNTHETIC_TASKS", "tonic_dataset", "randman", "randman_events",
    "read_idx", "parse_idx", "write_idx", "bin_events",
    "Batches", "batches", "num_batches", "epoch_order", "subset",
    "IdxFile", "Source", "MNIST", "FASHION_MNIST", "idx_dataset", "load_source", "search_dirs",
    "cache_dir", "download",
]

def _no_options(name: str, options: dict) -> None:
    if options:
        raise TypeError(f"dataset {name!r} takes no options, got {sorted(options)}")


def _digits(data_dir, download, **options):
    _no_options("digits", options)
    return digits()


#: names accepted by ``load``: name -> ``(data_dir, download, **options) -> Dataset``
#: (and ``"tonic:<NAME>"``, e.g. ``"tonic:NMNIST"``, with tonic installed, to ``tonic_dataset``)
DATASETS = Registry("dataset", {
    "digits": _digits,
    "mnist": lambda data_dir, download, **options: mnist(data_dir, download=download, **options),
    "fashion-mnist": lambda data_dir, download, **options: fashion_mnist(data_dir, download=download, **options),
    "synthetic": lambda data_dir, download, **options: synthetic(**options),
    "randman": lambda data_dir, download, **options: randman(**options),
}, normalize=lambda name: name.lower().replace("_", "-"), also="or 'tonic:<NAME>'")


def load(name: str, data_dir=None, *, download: bool = True, **options) -> Dataset:
    """Load dataset ``name`` (one of ``DATASETS`` or ``"tonic:<NAME>"``).

    Args:
      name: ``"digits"``, ``"mnist"``, ``"fashion-mnist"`` (``fashion_mnist`` too),
        ``"synthetic"``, or ``"tonic:NMNIST"``-style names.
      data_dir: first directory searched for files (``--data-dir``).
      download: fetch missing MNIST / Fashion-MNIST files (checksummed) into the cache.
        digits and synthetic need no files; tonic fetches its own.
      options: passed to ``synthetic`` (``n_samples``, ``steps``, ``task``, ...) or
        ``tonic_dataset`` (``n_bins``, ``bin_width``, ...).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (str), got {type(name).__name__}")
    if name.lower().startswith("tonic:"):
        return tonic_dataset(name.split(":", 1)[1], data_dir, **options)
    return DATASETS.lookup(name)(data_dir, download, **options)
