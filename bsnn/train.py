"""``Trainer``: epochs of jitted train steps, evaluation, metrics, checkpoints, exact resume.

    cfg = bsnn.TrainConfig(dataset="digits", hidden=[128], epochs=3, out="runs/digits")
    history = bsnn.Trainer(cfg).fit()

Per epoch it trains on seeded batches (order fixed by ``(seed, epoch)``, ``drop_last``),
evaluates on every test sample, appends one JSON object to ``OUT/metrics.jsonl`` and writes
a checkpoint atomically (``bsnn.checkpoint``). ``Trainer(cfg, resume=True)`` restores the
newest valid checkpoint and continues exactly where the run stopped: same batches, same
random keys, same optimizer state, so the final weights equal an uninterrupted run's.
A non-finite loss stops training (``TrainingDiverged``, naming epoch and step) and
leaves the last good checkpoint in place.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import threading
import time
import warnings
from importlib import metadata
from typing import Optional

import brainstate
import jax
import numpy as np

from bsnn import _memory as memory, checkpoint, data, runfiles
from bsnn.config import TrainConfig, build_encoder, build_method, build_model, build_optimizer
from bsnn.parallel import DataParallel, check_divisible, is_writer, to_host
from bsnn.runfiles import OutputError, RunDir, RunLock, dumps
from bsnn.step import EvalStep, TrainStep

__all__ = ["Trainer", "TrainingDiverged", "ConfigMismatch", "Interrupted", "library_versions", "EVAL_KEY"]

EVAL_KEY = 1_000_003   # fold-in constant of the evaluation key (fixed: eval is reproducible)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf."""


class ConfigMismatch(ValueError):
    """``--resume`` with settings that differ from the saved run."""


def library_versions() -> dict:
    names = ("bsnn", "jax", "jaxlib", "brainpy", "brainstate", "braintools", "brainunit", "numpy")
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def _check_config(cfg: TrainConfig):
    for name in ("epochs", "batch_size", "steps"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
    if cfg.arch is not None and cfg.hidden:
        raise ValueError(f"--arch {cfg.arch} gives every layer; it replaces --hidden {cfg.hidden} (give one of them)")
    if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in cfg.hidden):
        raise ValueError(f"--hidden must be positive integers (an empty list: no hidden layer), got {cfg.hidden!r}")
    try:
        data.check_options(cfg.dataset, cfg.dataset_options)
    except ValueError as err:
        raise ValueError(f"--dataset-option: {err}") from None
    _check_augment(cfg.augment, cfg.delay_lines)


_AUGMENT = {"channel_shift": int, "time_shift": int, "blend": float, "blend_n": int}


def _check_augment(options: dict, delays) -> None:
    unknown = sorted(set(options) - set(_AUGMENT))
    if unknown:
        raise ValueError(f"--augment has no option {unknown[0]!r}; its options are {', '.join(_AUGMENT)}")
    for key, kind in _AUGMENT.items():
        value = options.get(key)
        if value is None:
            continue
        if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"--augment {key} must be an integer >= 0, got {value!r}")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1):
            raise ValueError(f"--augment {key} (the probability to keep a spike) must be in (0, 1], got {value!r}")
    if "blend_n" in options and "blend" not in options:
        raise ValueError("--augment blend_n needs blend=P (the probability to keep each spike)")
    if delays is not None:
        if (not isinstance(delays, (list, tuple)) or len(delays) != 2 or any(isinstance(v, bool) or
                                                                           not isinstance(v, int) for v in delays)
                or delays[0] < 1 or delays[1] < 0):
            raise ValueError(f"--delay-lines takes N,BINS (N >= 1 copies, BINS >= 0 steps apart), got {delays!r}")


def _augmented_inputs(ds, cfg) -> "data.Dataset":
    """The dataset with delay lines (both splits) and blended samples (training split) added."""
    if not (cfg.augment or cfg.delay_lines):
        return ds
    if not ds.temporal:
        what = "--augment" if cfg.augment else "--delay-lines"
        raise ValueError(f"{what} needs temporal samples [N, T, C] (e.g. --dataset shd or randman), but the "
                         f"samples of --dataset {cfg.dataset} are static")
    if cfg.delay_lines:
        n, bins = cfg.delay_lines
        ds = ds._replace(x_train=data.augment.delay_lines(ds.x_train, n, bins),
                         x_test=data.augment.delay_lines(ds.x_test, n, bins))
    if "blend" in cfg.augment:
        rng = np.random.default_rng([cfg.seed, 1759])
        n = cfg.augment.get("blend_n", len(ds.y_train))
        x_new, y_new = data.augment.blend(ds.x_train, ds.y_train, n, rng, p=cfg.augment["blend"])
        ds = ds._replace(x_train=np.concatenate([ds.x_train, x_new]), y_train=np.concatenate([ds.y_train, y_new]))
    return ds


class Interrupted(BaseException):
    """Training stopped by SIGINT (Ctrl-C) or SIGTERM; the last complete checkpoint is kept.

    A ``BaseException``, like ``KeyboardInterrupt``: the signal handler raises it wherever the
    main thread is, and library code on the step's path catches ``Exception`` (brainstate's
    jit checks each call's state shapes inside ``try: ... except Exception``), which would
    swallow it and let the run go on.
    """

    def __init__(self, signum: int, epoch: int, step: int):
        super().__init__(f"interrupted at epoch {epoch}, step {step}")
        self.signum, self.epoch, self.step = signum, epoch, step


class Trainer:
    """Trains the model a ``TrainConfig`` describes.

    Building a trainer loads the data, builds the model, method and encoder and (with
    ``resume``) restores the newest valid checkpoint; it writes nothing. ``fit`` takes the
    run directory's lock (one writer per run), writes ``config.json`` and then one checkpoint
    and one ``metrics.jsonl`` line per epoch.

    Args:
      config: the settings (unset ones resolved by ``bsnn.defaults``; ``config.out`` is where
        metrics and checkpoints go; None: nowhere).
      dataset: a ``bsnn.data.Dataset`` to use instead of loading ``config.dataset``.
      resume: continue from the newest valid checkpoint in ``config.out``; a larger
        ``config.epochs`` than the run had extends it (see ``bsnn.optim`` for the schedules).
      overwrite: let ``fit`` replace a run that ``config.out`` already holds.
    """

    def __init__(self, config: TrainConfig, dataset: Optional[data.Dataset] = None, resume: bool = False,
                 overwrite: bool = False):
        self.config = cfg = config.resolved()
        if cfg.data_dir is not None:
            cfg.data_dir = os.path.abspath(cfg.data_dir)      # config.json works from any directory
        _check_config(cfg)
        self.resume, self.overwrite = bool(resume), bool(overwrite)
        if resume:      # before the data are loaded and the model is built: nothing to start from fails at once
            if not cfg.out:
                raise ValueError("resume needs the run directory (--out / config.out)")
            if not checkpoint.checkpoint_files(self.checkpoint_dir):
                raise FileNotFoundError(f"nothing to resume: no checkpoint in {self.checkpoint_dir}")
        ds = dataset if dataset is not None else data.load(cfg.dataset, cfg.data_dir, **cfg.dataset_options)
        if cfg.train_subset or cfg.test_subset:
            ds = data.subset(ds, cfg.train_subset, cfg.test_subset, seed=cfg.seed)
        if dataset is not None and not ds.temporal:
            _warn_pixel_range(ds)
        ds = _augmented_inputs(ds, cfg)
        self.dataset = ds
        brainstate.random.seed(cfg.seed)
        n_in = ds.x_train.shape[-1]
        self.model = build_model(cfg, n_in, ds.n_classes, ds.image_shape)
        self.method = build_method(cfg)
        self.method.check_neurons(self.model)     # a neuron the method cannot train: refused now
        self.optimizer = build_optimizer(cfg)
        self.optimizer.register_trainable_weights(self.model.states(brainstate.ParamState))
        self.encoder = build_encoder(cfg, temporal=ds.temporal)
        memory.check_fits(cfg, n_in, ds.n_classes, temporal=ds.temporal, sizes=self.model.sizes)
        self.parallel = None
        if cfg.devices is not None or cfg.distributed:
            self.parallel = DataParallel(None if cfg.distributed else cfg.devices)
            check_divisible(cfg.batch_size, self.parallel.n_devices)
        put = self.parallel.put if self.parallel else None
        self.train_step = TrainStep(self.model, self.method, self.optimizer, self.encoder, put=put)
        self.eval_step = EvalStep(self.model, self.method.loss, self.encoder, cfg.batch_size, put=put,
                                  forward=getattr(self.method, "run", None))
        self.history: list = []
        self.epoch = 0            # completed epochs
        self.resumed_from = None  # the checkpoint file a resumed run starts from
        self.key = jax.random.PRNGKey(cfg.seed)
        self.run_dir = RunDir(cfg.out) if cfg.out else None
        self._lock = None
        self._position = (self.epoch + 1, 0)
        self._saving, self._pending = False, None
        if resume:
            self._resume()
        if self.parallel:
            self.parallel.replicate(self.model, self.optimizer)

    def _key(self, *path) -> jax.Array:
        key = self.key
        for k in path:
            key = jax.random.fold_in(key, k)
        return self.parallel.replicate_value(key) if self.parallel else key

    @classmethod
    def from_run(cls, out_dir: str, data_dir: Optional[str] = None, **changes) -> "Trainer":
        """The trainer of the run saved in ``out_dir``, restored from its newest valid checkpoint.

        Only reads ``out_dir`` (``fit`` would write it).
        """
        cfg = TrainConfig.from_dict(RunDir(out_dir).read_config())
        cfg.out = out_dir
        if data_dir is not None:
            cfg.data_dir = data_dir
        for key, value in changes.items():
            setattr(cfg, key, value)
        return cls(cfg, resume=True)

    # ---- files ---------------------------------------------------------------------------
    def _config_record(self) -> str:
        record = {"config": self.config.to_dict(), "versions": library_versions(),
                  "dataset": {"name": self.dataset.name, "train": len(self.dataset.y_train),
                              "test": len(self.dataset.y_test), "n_classes": self.dataset.n_classes},
                  "machine": {"platform": platform.platform(), "processor": platform.machine(),
                              "cpus": os.cpu_count(), "jax_backend": jax.default_backend()}}
        return dumps(record)

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.config.out, "checkpoints")

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    def _resume(self):
        cfg = self.config
        ckpt = checkpoint.latest(self.checkpoint_dir)    # files exist (checked in __init__): valid one or an error
        saved = TrainConfig.from_dict(ckpt.meta["config"]).resolved()
        diff = saved.differences(cfg)
        if diff:
            lines = "\n".join(f"  {k}: checkpoint has {a!r}, now {b!r}" for k, (a, b) in sorted(diff.items()))
            raise ConfigMismatch(f"cannot resume {cfg.out}: the settings differ from the saved run:\n"
                                 f"{lines}\nuse the same settings (only epochs, quiet and data_dir may change)")
        checkpoint.restore_states(ckpt, self.model, self.optimizer)
        self.epoch = int(ckpt.meta["epoch"])
        self.history = list(ckpt.meta["history"])[:self.epoch]
        self.resumed_from = ckpt.path
        self._position = (self.epoch + 1, 0)
        if saved.epochs != cfg.epochs:        # extended: the schedule continues over the new horizon
            sched = getattr(self.optimizer, "lr_scheduler", None)
            if sched is not None and hasattr(sched, "step"):
                sched.step(int(np.asarray(sched.last_epoch.value)))

    def _begin(self):
        """Take the run directory (lock, overwrite, config.json); nothing is written before this."""
        cfg = self.config
        if not cfg.out or not is_writer() or self._lock is not None:
            return
        self.run_dir.check_writable()
        self._lock = RunLock.acquire(cfg.out)
        if not self.resume and self.run_dir.holds_run():
            if not self.overwrite:
                self._end()
                raise OutputError(f"--out {cfg.out} already holds a run; use --resume {cfg.out} to continue it "
                                  f"or --overwrite to start over")
            self.run_dir.clear()
        self.run_dir.write_config(self._config_record())
        if self.resume:
            self.run_dir.write_metrics(self.history)

    def _end(self):
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _save(self):
        meta = {"epoch": self.epoch, "history": self.history, "config": self.config.to_dict(),
                "versions": library_versions()}
        self._saving = True
        try:
            checkpoint.save(self.checkpoint_dir, self.epoch,
                            checkpoint.state_arrays(self.model, self.optimizer), meta)
        except OSError as err:
            kept = f"the last complete checkpoint (epoch {self.epoch - 1}) is kept" if self.epoch > 1 else \
                "no checkpoint was written"
            raise OutputError(f"cannot write the epoch-{self.epoch} checkpoint in {self.checkpoint_dir}: "
                              f"{runfiles._problem(err)}; {kept}") from None
        finally:
            self._saving = False
        self.run_dir.append_metrics(self.history[-1])
        if self._pending is not None:
            raise Interrupted(self._pending, self.epoch, 0)

    # ---- signals -------------------------------------------------------------------------
    def _on_signal(self, signum, frame):
        if self._saving:                      # let the checkpoint finish; stop right after it
            self._pending = signum
            return
        raise Interrupted(signum, *self._position)

    def _handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    # ---- loops ---------------------------------------------------------------------------
    def evaluate(self, x=None, y=None) -> dict:
        """Accuracy and mean per-layer firing rates (Hz) on every sample of the test set."""
        x = self.dataset.x_test if x is None else x
        y = self.dataset.y_test if y is None else y
        key = self._key(EVAL_KEY)
        correct, rate_sums = 0, None
        for xb, yb in data.batches(x, y, self.config.batch_size, shuffle=False, drop_last=False):
            m = self.eval_step(xb, yb, key)
            correct += int(to_host(m.correct))
            sums = np.asarray([float(to_host(r)) for r in m.rate_sums])
            rate_sums = sums if rate_sums is None else rate_sums + sums
        return {"test_acc": correct / len(y), "rate_hz": [float(r) / len(y) for r in rate_sums]}

    def _epoch_inputs(self, epoch: int):
        """This epoch's training samples: shifted afresh each epoch when ``--augment`` says so
        (seeded by the run's seed and the epoch, so a resumed run sees the same inputs)."""
        x, aug = self.dataset.x_train, self.config.augment
        if aug.get("channel_shift") or aug.get("time_shift"):
            rng = np.random.default_rng([self.config.seed, epoch, 4242])
            if aug.get("channel_shift"):            # a zero shift would only copy the whole training set
                x = data.augment.channel_shift(x, aug["channel_shift"], rng)
            if aug.get("time_shift"):
                x = data.augment.time_shift(x, aug["time_shift"], rng)
        return x

    def _train_epoch(self, epoch: int, progress) -> dict:
        cfg, ds = self.config, self.dataset
        loss_sum, correct, seen, rate_sums = 0.0, 0, 0, None
        x_train = self._epoch_inputs(epoch)
        for step, (xb, yb) in enumerate(data.batches(x_train, ds.y_train, cfg.batch_size, shuffle=True,
                                                     seed=cfg.seed, epoch=epoch, drop_last=True)):
            self._position = (epoch + 1, step + 1)
            m = self.train_step(xb, yb, self._key(epoch, step))
            loss = float(to_host(m.loss))
            if not np.isfinite(loss):
                kept = f"the last good checkpoint (epoch {self.epoch}) is kept in {cfg.out}" if cfg.out and self.epoch \
                    else "no checkpoint was written"
                raise TrainingDiverged(f"training diverged: the loss became {loss} at epoch {epoch + 1}, "
                                       f"step {step + 1} (lr={cfg.lr}); {kept}. Lower --lr and retry.")
            n = len(yb)
            loss_sum += loss * n
            correct += int(to_host(m.correct))
            seen += n
            rates = np.asarray([float(to_host(r)) for r in m.rates]) * n
            rate_sums = rates if rate_sums is None else rate_sums + rates
            progress.update(1)
            progress.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}")
        if seen == 0:
            raise ValueError(f"--batch-size {cfg.batch_size} is larger than the {len(ds.y_train)} training samples")
        return {"train_loss": loss_sum / seen, "train_acc": correct / seen, "train_samples": seen,
                "train_rate_hz": [float(r) / seen for r in rate_sums]}

    def fit(self, stop_after: Optional[int] = None) -> list:
        """Train up to ``config.epochs`` epochs; returns the metrics history (one dict per epoch).

        ``stop_after=k`` returns once ``k`` epochs are complete, as if the process had been
        stopped there (the run can be resumed to ``config.epochs``). SIGINT and SIGTERM raise
        ``Interrupted`` (after the checkpoint being written, if any, is complete).
        """
        cfg = self.config
        last = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
        if self.epoch >= last:
            return self.history
        previous = self._handlers()
        try:
            self._begin()
            self._epochs(last)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._end()
        return self.history

    def _epochs(self, last: int):
        from tqdm.auto import tqdm
        cfg = self.config
        n_batches = data.num_batches(len(self.dataset.y_train), cfg.batch_size, drop_last=True)
        for epoch in range(self.epoch, last):
            with tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                      disable=True if (cfg.quiet or not is_writer()) else None,
                      file=sys.stderr) as progress:
                start = time.perf_counter()
                train = self._train_epoch(epoch, progress)
                train_time = time.perf_counter() - start
            self._position = (epoch + 1, n_batches)
            test = self.evaluate()
            record = {"epoch": epoch + 1, **train, "test_acc": test["test_acc"], "rate_hz": test["rate_hz"],
                      "epoch_time_s": train_time, "samples_per_s": train["train_samples"] / train_time,
                      "eval_time_s": time.perf_counter() - start - train_time}
            self.history.append(record)
            self.epoch = epoch + 1
            sched = getattr(self.optimizer, "lr_scheduler", None)
            if sched is not None and hasattr(sched, "step"):
                sched.step()
            if cfg.out and is_writer():
                self._save()
            self._position = (self.epoch + 1, 0)
            if not cfg.quiet and is_writer():
                print(f"epoch {record['epoch']}: loss {record['train_loss']:.4f}  train {record['train_acc']:.4f}  "
                      f"test {record['test_acc']:.4f}  ({train_time:.1f} s, {record['samples_per_s']:.0f} samples/s)",
                      file=sys.stderr)


def _warn_pixel_range(ds) -> None:
    """A warning when a dataset given from Python holds pixels outside [0, 1] (the encoders' range)."""
    for name, x in (("x_train", ds.x_train), ("x_test", ds.x_test)):
        arr = np.asarray(x)
        if arr.size and np.issubdtype(arr.dtype, np.number) and (arr.min() < 0 or arr.max() > 1):
            warnings.warn(f"dataset {ds.name!r}: {name} holds values in [{arr.min():g}, {arr.max():g}]; the "
                          f"encoders expect pixels in [0, 1] (scale them, e.g. x / x.max())", stacklevel=3)
