"""Datasets for bsnn: MNIST, Fashion-MNIST, scikit-learn digits, a synthetic Poisson task, random
manifolds, Yin-Yang, cue accumulation, the Spiking Heidelberg Digits / Speech Commands, and (optionally) tonic event
datasets; plus seeded batching.

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

import inspect
from typing import Callable, NamedTuple

from bsnn.registry import Registry
from bsnn.data import augment
from bsnn.data.base import DataError, DataNotFoundError, Dataset
from bsnn.data.batching import Batches, batches, epoch_order, num_batches, subset
from bsnn.data.builtin import SYNTHETIC_TASKS, digits, synthetic
from bsnn.data.cue_accumulation import SETTINGS as _CUE_SETTINGS, cue_accumulation, cue_accumulation_trials
from bsnn.data.download import cache_dir, download
from bsnn.data.events import bin_events, tonic_dataset
from bsnn.data.idx import parse_idx, read_idx, write_idx
from bsnn.data.heidelberg import (SHD, SSC, bin_spikes, heidelberg, heidelberg_files, read_spikes, shd, ssc,
                                  write_spikes)
from bsnn.data.random_manifolds import randman, randman_events
from bsnn.data.yin_yang import yin_yang, yin_yang_class, yin_yang_points
from bsnn.data.sources import (FASHION_MNIST, MNIST, IdxFile, Source, fashion_mnist, idx_dataset,
                               load_source, mnist, search_dirs)

__all__ = [
    "Dataset", "DataError", "DataNotFoundError", "DATASETS", "load",
    "digits", "mnist", "fashion_mnist", "synthetic", "SYNTHETIC_TASKS", "tonic_dataset", "randman", "randman_events",
    "yin_yang", "yin_yang_class", "yin_yang_points", "shd", "ssc", "heidelberg", "heidelberg_files", "SHD", "SSC",
    "read_spikes", "write_spikes", "bin_spikes", "cue_accumulation", "cue_accumulation_trials", "Loader", "check_options",
    "read_idx", "parse_idx", "write_idx", "bin_events",
    "augment", "Batches", "batches", "num_batches", "epoch_order", "subset",
    "IdxFile", "Source", "MNIST", "FASHION_MNIST", "idx_dataset", "load_source", "search_dirs",
    "cache_dir", "download",
]

class Loader(NamedTuple):
    """A registered dataset: ``fn(data_dir, download=..., **options)`` when it reads files, else
    ``fn(**options)``. Its options are ``fn``'s keyword parameters (``data_dir``, ``download`` and
    ``fetch`` aside), which ``load`` checks before calling it."""

    fn: Callable
    reads_files: bool = False
    option_names: tuple = ()        # for functions that take ``**options`` (shd, ssc): the names

    def options(self) -> list:
        if self.option_names:
            return list(self.option_names)
        skip = {"data_dir", "download", "fetch", "self"}
        return [p.name for p in inspect.signature(self.fn).parameters.values()
                if p.name not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def __call__(self, data_dir, download: bool, **options):
        return self.fn(data_dir, download=download, **options) if self.reads_files else self.fn(**options)


_HEIDELBERG_OPTIONS = ("bin_width", "max_time", "binary", "channel_pool", "n_train", "n_test")

#: names accepted by ``load``: name -> ``Loader``
#: (and ``"tonic:<NAME>"``, e.g. ``"tonic:NMNIST"``, with tonic installed, to ``tonic_dataset``)
DATASETS = Registry("dataset", {
    "digits": Loader(digits),
    "mnist": Loader(mnist, True),
    "fashion-mnist": Loader(fashion_mnist, True),
    "synthetic": Loader(synthetic),
    "randman": Loader(randman),
    "yin-yang": Loader(yin_yang),
    "cue-accumulation": Loader(cue_accumulation, False, ("n_train", "n_test", "seed") + _CUE_SETTINGS),
    "shd": Loader(shd, True, _HEIDELBERG_OPTIONS),
    "ssc": Loader(ssc, True, _HEIDELBERG_OPTIONS),
}, normalize=lambda name: name.lower().replace("_", "-").replace("yinyang", "yin-yang"), also="or 'tonic:<NAME>'")


def check_options(name: str, options: dict) -> None:
    """Raise ``ValueError`` naming the dataset and its options when ``options`` has a key it lacks."""
    if name.lower().startswith("tonic:"):
        return
    known = DATASETS.lookup(name).options()
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"dataset {name} has no option {', '.join(map(repr, unknown))}; its options are "
                         f"{', '.join(known) if known else 'none'}")


def load(name: str, data_dir=None, *, download: bool = True, **options) -> Dataset:
    """Load dataset ``name`` (one of ``DATASETS`` or ``"tonic:<NAME>"``).

    Args:
      name: ``"digits"``, ``"mnist"``, ``"fashion-mnist"`` (``fashion_mnist`` too),
        ``"synthetic"``, ``"randman"``, ``"yin-yang"``, ``"cue-accumulation"``, ``"shd"``, ``"ssc"``, or
        ``"tonic:NMNIST"``-style names.
      data_dir: first directory searched for files (``--data-dir``).
      download: fetch missing MNIST / Fashion-MNIST / SHD / SSC files (checksummed) into the
        cache. digits, synthetic, randman, yin-yang and cue-accumulation are generated; tonic
        fetches its own.
      options: the dataset's own settings (``--dataset-option KEY=VALUE``): e.g. ``n_samples``
        of ``randman``, ``bias`` of ``yin-yang``, ``bin_width`` of ``shd``; an unknown key is a
        ``ValueError`` that lists the dataset's options. ``tonic_dataset`` takes ``n_bins``, ...
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (str), got {type(name).__name__}")
    if name.lower().startswith("tonic:"):
        return tonic_dataset(name.split(":", 1)[1], data_dir, **options)
    check_options(name, options)
    return DATASETS.lookup(name)(data_dir, download, **options)
