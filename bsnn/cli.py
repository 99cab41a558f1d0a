"""The ``bsnn`` command: ``bsnn train | eval | plot`` (also ``python -m bsnn``).

    bsnn train                                   # digits, offline, ~10 s, prints the test accuracy
    bsnn train --dataset mnist --data-dir ../shared/data/mnist --hidden 256 --epochs 2 --out runs/mnist
    bsnn train --resume runs/mnist --epochs 4    # continue a run exactly where it stopped
    bsnn eval runs/mnist                         # reload the checkpoint, print the test accuracy
    bsnn plot runs/mnist                         # learning_curves.png, raster.png, membrane.png

Quantities carry their units (``--tau-mem 20ms``, ``--threshold 1mV``); a per-layer value is
comma-separated (``--threshold 1mV,2mV``). ``--config FILE.toml`` supplies defaults that
explicit flags override.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from bsnn import __version__, defaults

__all__ = ["main", "build_parser"]

# This module imports no JAX: `bsnn --help` and `bsnn --version` answer at once. The commands
# import what they need when they run.


def _quantity(kind: str, flag: str):
    def parse(text: str) -> str:
        from bsnn import units
        for part in text.split(","):
            try:
                units.parse_quantity(part, flag, getattr(units, kind))
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err)) from None
        return text
    return parse


def _positive_int(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a positive integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be a positive integer, got {text!r}")
        return value
    return parse


def _non_negative(flag: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"{flag} must be a number >= 0, got {text!r}")
        return value
    return parse


def _positive_float(flag: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a positive number, got {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{flag} must be a positive number, got {text!r}")
        return value
    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"--seed must be an integer in [0, 2**32), got {text!r}")
    return value


def _choice_list(flag: str, choices):
    def parse(text: str) -> str:
        bad = [p for p in text.split(",") if p not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"{flag} must be one of {sorted(choices)} (or a comma-separated "
                                             f"list, one per layer), got {bad[0]!r}")
        return text
    return parse


def _learn_list(text: str) -> list:
    try:
        names = list(defaults.learn_names(text))
    except ValueError:
        names = []
    if not names:
        raise argparse.ArgumentTypeError(f"--learn takes comma-separated names from {list(defaults.LEARNABLE)}, "
                                         f"got {text!r}")
    return names


def _key_value(flag: str):
    def parse(text: str):
        if "=" not in text:
            raise argparse.ArgumentTypeError(f"{flag} takes KEY=VALUE, got {text!r}")
        key, value = text.split("=", 1)
        try:
            return key.strip(), json.loads(value)
        except json.JSONDecodeError:
            return key.strip(), value
    return parse


def _dataset_name(text: str) -> str:
    if text in defaults.DATASETS or (text.lower().startswith("tonic:") and len(text) > len("tonic:")):
        return text
    raise argparse.ArgumentTypeError(f"--dataset must be one of {', '.join(defaults.DATASETS)} or tonic:<NAME> "
                                     f"(e.g. tonic:NMNIST), got {text!r}")


def _delay_lines(text: str) -> list:
    try:
        n, bins = (int(v) for v in text.split(","))
    except ValueError:
        n = bins = -1
    if n < 1 or bins < 0:
        raise argparse.ArgumentTypeError(f"--delay-lines takes N,BINS (N >= 1 copies, BINS >= 0 steps apart), "
                                         f"got {text!r}")
    return [n, bins]


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"--hidden must be a positive integer (or 0 for no hidden layer), got {text!r}")
    return value


def _add_train_arguments(p: argparse.ArgumentParser):
    S = argparse.SUPPRESS   # only flags given explicitly override the config file / defaults
    d = defaults.COMMON
    M = "(default: per method, below)"
    g = p.add_argument_group("data")
    g.add_argument("--dataset", type=_dataset_name, default=S, metavar="NAME",
                   help=f"one of {', '.join(defaults.DATASETS)}, or tonic:<NAME> (e.g. tonic:NMNIST; needs the "
                        f"tonic package) (default {d['dataset']})")
    g.add_argument("--dataset-option", type=_key_value("--dataset-option"), action="append", default=S,
                   metavar="KEY=VALUE", help="the dataset's own settings, e.g. bin_width=10ms (shd), bias=true "
                                             "(yin-yang), n_samples=500 (randman)")
    g.add_argument("--augment", type=_key_value("--augment"), action="append", default=S, metavar="KEY=VALUE",
                   help="augment temporal training data: channel_shift=40, time_shift=BINS (each epoch), "
                        "blend=0.5 (blend_n=N blended samples added once; default one per training sample)")
    g.add_argument("--delay-lines", type=_delay_lines, default=S, metavar="N,BINS",
                   help="N copies of the input, copy k delayed by k * BINS steps, side by side (temporal data)")
    g.add_argument("--data-dir", default=S, help="directory searched first for dataset files")
    g.add_argument("--train-subset", type=_positive_int("--train-subset"), default=S,
                   help="use only this many training samples")
    g.add_argument("--test-subset", type=_positive_int("--test-subset"), default=S)
    g = p.add_argument_group("model")
    g.add_argument("--hidden", type=_width, action="append", default=S,
                   help=f"hidden layer width; repeat for several layers; 0: no hidden layer {M}")
    g.add_argument("--arch", default=S, metavar="LAYERS",
                   help="the layers as one string instead of --hidden, e.g. 12c5-mp2-64c5-mp2-10: {C}c{K} a KxK "
                        "convolution to C maps (suffixes s{S} stride, p{P} padding, g{G} groups), mp{K}/ap{K}/sp{K} "
                        "max/avg/sum pooling, {N} a dense layer; the last is the read-out (one per class)")
    g.add_argument("--readout", choices=list(defaults.READOUTS), default=S,
                   help="(default: spiking for losses on spikes, else leaky)")
    g.add_argument("--recurrent", action="store_true", default=S, help="lateral weights in hidden layers")
    g.add_argument("--remat", action="store_true", default=S,
                   help="rematerialize: recompute the forward pass in the backward pass, memory bounded in --steps "
                        "(BPTT; evaluation too)")
    g.add_argument("--steps", type=_positive_int("--steps"), default=S, help=f"time steps T {M}")
    g.add_argument("--dt", type=_quantity("TIME", "--dt"), default=S, help=f"(default {d['dt']})")
    g.add_argument("--integrator", choices=list(defaults.INTEGRATORS), default=S,
                   help="exp: exponential Euler, exp(-dt/tau); euler: forward Euler, 1 - dt/tau, as snnTorch, Norse "
                        f"and NIR's simulators step, for a model other tools run unchanged (default {d['integrator']})")
    g.add_argument("--neuron", type=_choice_list("--neuron", defaults.NEURONS), default=S,
                   help=f"neuron kind of the hidden layers (default {d['neuron']})")
    g.add_argument("--neuron-option", type=_key_value("--neuron-option"), action="append", default=S,
                   metavar="KEY=VALUE", help="a neuron kind's own parameter, e.g. tau_adapt=200ms, beta_adapt=0.2mV")
    g.add_argument("--learn", type=_learn_list, default=S, metavar="NAMES",
                   help=f"train these constants per neuron: comma-separated from {','.join(defaults.LEARNABLE)}")
    g.add_argument("--tau-mem", type=_quantity("TIME", "--tau-mem"), default=S, help=f"(default {d['tau_mem']})")
    g.add_argument("--tau-syn", type=_quantity("TIME", "--tau-syn"), default=S, help=f"(default {d['tau_syn']})")
    g.add_argument("--threshold", type=_quantity("VOLTAGE", "--threshold"), default=S,
                   help=f"V_th (default {d['threshold']})")
    g.add_argument("--reset", type=_choice_list("--reset", ("soft", "hard")), default=S)
    g.add_argument("--surrogate", type=_choice_list("--surrogate", defaults.SURROGATES), default=S,
                   help=f"one of {sorted(defaults.SURROGATES)} (default {d['surrogate']})")
    g.add_argument("--w-scale", default=S, help=f"input weight scale, N(m, w^2/n_in) {M}")
    g.add_argument("--w-mean", default=S, help=f"input weight mean m {M}")
    g = p.add_argument_group("training")
    g.add_argument("--method", choices=list(defaults.METHODS), default=S, help=f"(default {d['method']})")
    g.add_argument("--method-option", type=_key_value("--method-option"), action="append", default=S,
                   metavar="KEY=VALUE", help="option of the method, e.g. remat=true")
    g.add_argument("--encoder", choices=list(defaults.ENCODERS), default=S, help=f"(default {d['encoder']})")
    g.add_argument("--encoder-option", type=_key_value("--encoder-option"), action="append", default=S,
                   metavar="KEY=VALUE", help="e.g. threshold=0.25, t_black=10ms")
    g.add_argument("--loss", choices=list(defaults.LOSSES), default=S, help=M)
    g.add_argument("--loss-option", type=_key_value("--loss-option"), action="append", default=S,
                   metavar="KEY=VALUE", help="e.g. on=100 off=10 for count-mse")
    g.add_argument("--rate-lower", type=_non_negative("--rate-lower"), default=S, metavar="SPIKES",
                   help="regularizer: per-neuron lower bound on hidden spike counts per sample")
    g.add_argument("--rate-lower-strength", type=_non_negative("--rate-lower-strength"), default=S,
                   help="its strength (default 0: off)")
    g.add_argument("--rate-upper", type=_non_negative("--rate-upper"), default=S, metavar="SPIKES",
                   help="regularizer: per-neuron upper bound on hidden spike counts per sample")
    g.add_argument("--rate-upper-strength", type=_non_negative("--rate-upper-strength"), default=S,
                   help="its strength (default 0: off)")
    g.add_argument("--optimizer", choices=list(defaults.OPTIMIZERS), default=S, help=f"(default {d['optimizer']})")
    g.add_argument("--lr", type=_positive_float("--lr"), default=S, help=M)
    g.add_argument("--schedule", choices=list(defaults.SCHEDULES), default=S,
                   help=f"(default {d['schedule']}; --resume with more --epochs stretches it to the new end)")
    g.add_argument("--epochs", type=_positive_int("--epochs"), default=S, help=M)
    g.add_argument("--batch-size", type=_positive_int("--batch-size"), default=S, help=f"(default {d['batch_size']})")
    g.add_argument("--seed", type=_seed, default=S, help=f"(default {d['seed']})")
    g = p.add_argument_group("run")
    g.add_argument("--out", default=S, help="run directory (default runs/<dataset>-<method>-<time>)")
    g.add_argument("--config", default=None, help="TOML file of settings (flags override it)")
    g.add_argument("--resume", metavar="OUT", default=None, help="continue the run in OUT")
    g.add_argument("--overwrite", action="store_true",
                   help="start over in an --out that holds a run (its files are removed once every check passed)")
    g.add_argument("--quiet", action="store_true", default=S, help="no progress bar or per-epoch lines")
    g.add_argument("--explain", action="store_true",
                   help="print which execution path each layer takes, and why, before training")
    g = p.add_argument_group("parallel (data-parallel over a device mesh; see bsnn.parallel)")
    g.add_argument("--devices", type=_positive_int("--devices"), default=S,
                   help="shard each batch over this many local devices")
    g.add_argument("--distributed", action="store_true", default=S,
                   help="multi-process run (jax.distributed): shard over the devices of all processes")
    g.add_argument("--coordinator", default=None, help="HOST:PORT of process 0 (or JAX_COORDINATOR_ADDRESS)")
    g.add_argument("--num-processes", type=_positive_int("--num-processes"), default=None,
                   help="(or JAX_NUM_PROCESSES)")
    g.add_argument("--process-id", type=int, default=None, help="(or JAX_PROCESS_ID)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bsnn", description="Train and inspect spiking neural networks.")
    parser.add_argument("--version", action="version", version=f"bsnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a spiking classifier", epilog=defaults.table(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_train_arguments(train)
    ev = sub.add_parser("eval", help="test accuracy of a trained run (reads the run, writes nothing)")
    ev.add_argument("out", metavar="OUT")
    ev.add_argument("--data-dir", default=None)
    pl = sub.add_parser("plot", help="learning curves, raster and membrane plots of a run")
    pl.add_argument("out", metavar="OUT")
    pl.add_argument("--sample", type=int, default=0, help="index of the test sample drawn")
    pl.add_argument("--data-dir", default=None)
    pl.add_argument("--to", "--out-dir", dest="figures", metavar="DIR", default=None,
                    help="write the figures to DIR (default: the run directory)")
    ex = sub.add_parser("export", help="write a trained run's network to an interchange format")
    ex.add_argument("out", metavar="OUT")
    ex.add_argument("--nir", metavar="FILE", required=True,
                    help="write a NIR graph (Neuromorphic Intermediate Representation; needs the nir package)")
    ex.add_argument("--for", dest="target", choices=list(defaults.NIR_TARGETS), default="generic",
                    help="the importer the graph is written for: generic (NIR's equations, the model's own "
                         "constants), snntorch (snntorch.import_from_nir) or norse (norse.torch.from_nir): "
                         "each runs it step for step as bsnn does, or the export says what it cannot carry")
    ex.add_argument("--data-dir", default=None)
    parser.subcommands = {"train": train, "eval": ev, "plot": pl, "export": ex}
    return parser


_OPTION_LISTS = {"augment": "augment", "dataset_option": "dataset_options", "method_option": "method_options",
                 "encoder_option": "encoder_options", "loss_option": "loss_options", "neuron_option": "neuron_options"}
_NOT_SETTINGS = ("command", "config", "resume", "overwrite", "coordinator", "num_processes", "process_id",
                 "explain")


def _numbers(given: dict, name: str, parse, parser):
    if name in given:
        values = [parse(v) for v in str(given[name]).split(",")]
        given[name] = values if len(values) > 1 else values[0]


def _train_config(args: argparse.Namespace, parser):
    from bsnn.config import TrainConfig, load_toml
    from bsnn.runfiles import RunDir
    given = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS}
    for flag, field in _OPTION_LISTS.items():
        if flag in given:
            given[field] = dict(given.pop(flag))
    if "hidden" in given:
        if 0 in given["hidden"] and given["hidden"] != [0]:
            parser.error(f"--hidden 0 means no hidden layer and cannot be combined with other widths, "
                         f"got {given['hidden']}")
        given["hidden"] = [h for h in given["hidden"] if h]

    def w_scale(v):
        try:
            return _positive_float("--w-scale")(v)
        except argparse.ArgumentTypeError as err:
            parser.error(str(err))

    def w_mean(v):
        try:
            value = float(v)
        except ValueError:
            parser.error(f"--w-mean must be a number or a comma-separated list of numbers, got {given['w_mean']!r}")
        if not math.isfinite(value):
            parser.error(f"--w-mean must be finite, got {given['w_mean']!r}")
        return value

    _numbers(given, "w_scale", w_scale, parser)
    _numbers(given, "w_mean", w_mean, parser)
    if args.resume:
        try:
            base = RunDir(args.resume).read_config()
        except FileNotFoundError:
            parser.error(f"--resume {args.resume}: not a bsnn run directory (no config.json)")
        base["out"] = args.resume
    else:
        base = {}
        if args.config:
            try:
                base.update(load_toml(args.config))
            except (OSError, ValueError) as err:
                parser.error(f"--config {args.config}: {err}")
    base.update(given)
    try:
        cfg = TrainConfig.from_dict(base).resolved()
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    if not cfg.out:
        cfg.out = os.path.join("runs", f"{cfg.dataset}-{cfg.method}-{time.strftime('%Y%m%d-%H%M%S')}")
    return cfg


def _error(command: str, err) -> int:
    print(f"bsnn {command}: error: {err}", file=sys.stderr)
    return 2


class _Signal(BaseException):
    """SIGTERM before training started (SIGINT raises KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_signal(signum, frame):
    raise _Signal(signum)


def _train(args, parser) -> int:
    import signal
    previous = signal.signal(signal.SIGTERM, _raise_signal)
    try:
        return _train_run(args, parser)
    except (_Signal, KeyboardInterrupt) as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        print("interrupted before training started; nothing of the run was written", file=sys.stderr)
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train_run(args, parser) -> int:
    from bsnn import parallel
    from bsnn.runfiles import OutputError, RunDir, RunLock
    from bsnn.train import ConfigMismatch, Interrupted, Trainer, TrainingDiverged
    cfg = _train_config(args, parser)
    if cfg.distributed:
        try:
            parallel.initialize(args.coordinator, args.num_processes, args.process_id)
        except ValueError as err:
            parser.error(str(err))
    run, lock, created = RunDir(cfg.out), None, not os.path.exists(cfg.out)
    try:
        if parallel.is_writer():
            run.check_writable()
            lock = RunLock.acquire(cfg.out)
            if not args.resume and not args.overwrite and run.holds_run():
                parser.error(f"--out {cfg.out} already holds a run; use --resume {cfg.out} to continue it "
                             f"or --overwrite to start over")
        trainer = Trainer(cfg, resume=bool(args.resume), overwrite=args.overwrite)
        if args.explain:
            print(f"execution plan ({cfg.method}):\n{trainer.method.plan(trainer.model)}", file=sys.stderr)
        if args.resume:
            if trainer.finished:
                last = trainer.history[-1] if trainer.history else {}
                acc = f"test accuracy {last['test_acc']:.4f} " if "test_acc" in last else ""
                print(f"{cfg.out} is finished: {acc}after {trainer.epoch} epochs, all {cfg.epochs} done; to train "
                      f"longer, resume with a larger --epochs (e.g. --epochs {trainer.epoch + cfg.epochs})")
                return 0
            print(f"resuming {cfg.out} at epoch {trainer.epoch + 1} of {cfg.epochs} "
                  f"(from {os.path.relpath(trainer.resumed_from, cfg.out)})", file=sys.stderr)
        history = trainer.fit()
    except Interrupted as stop:
        print(f"interrupted at epoch {stop.epoch}, step {stop.step}; resume with: bsnn train --resume {cfg.out}",
              file=sys.stderr)
        return 128 + stop.signum
    except TrainingDiverged as err:
        print(f"bsnn train: {err}", file=sys.stderr)
        return 1
    except (ConfigMismatch, OutputError, FileNotFoundError, RuntimeError, ImportError) as err:
        return _error("train", err)
    except ValueError as err:
        parser.error(str(err))
    finally:
        if lock is not None:
            lock.release()
        if created and os.path.isdir(cfg.out) and not run.holds_run() and not os.path.exists(run.config_path):
            _remove_empty_run(run)
    last = history[-1]
    if cfg.distributed:
        print(f"process {jax_process_index()}: params-sha256 {parallel.params_digest(trainer.model)}")
    if parallel.is_writer():
        print(f"test accuracy {last['test_acc']:.4f} after {last['epoch']} epochs ({cfg.dataset}, {cfg.method}); "
              f"run saved in {cfg.out}")
    return 0


def _remove_empty_run(run):
    """A start that failed before writing anything leaves no directory behind."""
    try:
        os.remove(os.path.join(run.path, ".lock"))
    except OSError:
        pass
    run.remove_if_empty()


def jax_process_index() -> int:
    import jax
    return jax.process_index()


def _eval(args) -> int:
    from bsnn.train import Trainer
    trainer = Trainer.from_run(args.out, data_dir=args.data_dir, quiet=True)
    result = trainer.evaluate()
    print(f"test accuracy {result['test_acc']:.4f} (epoch {trainer.epoch}, {len(trainer.dataset.y_test)} samples)")
    return 0


def plot_run(out_dir: str, sample: int = 0, data_dir: str | None = None, figures: str | None = None,
             trainer=None) -> list:
    """``bsnn plot OUT``: ``learning_curves.png``, ``raster.png`` and ``membrane.png`` of test
    sample ``sample`` for the run in ``out_dir``, written to ``figures`` (default ``out_dir``);
    nothing else is written. Returns the paths. ``trainer``: the run's ``Trainer`` when it is
    at hand (just trained), instead of reloading the run from its newest checkpoint."""
    import jax

    from bsnn.plot import sample_figures
    from bsnn.train import EVAL_KEY, Trainer
    if trainer is None:
        trainer = Trainer.from_run(out_dir, data_dir=data_dir)
    ds = trainer.dataset
    figures = out_dir if figures is None else figures
    if os.path.exists(figures) and not os.path.isdir(figures):
        raise ValueError(f"--to {figures}: it is a file, not a directory")
    if not 0 <= sample < len(ds.y_test):
        raise ValueError(f"--sample must lie in [0, {len(ds.y_test)}), got {sample}")
    x = trainer.encoder(ds.x_test[sample:sample + 1], jax.random.fold_in(trainer.key, EVAL_KEY))
    out = trainer.model.run(x, record=True)
    if hasattr(trainer.method, "run"):        # the method's own read-out (EventProp: interpolated times)
        out = out._replace(first_spike_time=trainer.method.run(trainer.model, trainer.model.weights(),
                                                               x).first_spike_time)
    label = int(ds.y_test[sample])
    pred = int(trainer.method.loss.predict(out)[0])
    return sample_figures(trainer.model, x, trainer.history, figures, label=label,
                          caption=f"test sample {sample}: label {label}, predicted {pred}", out=out)


def export_run(out_dir: str, nir_path: str, data_dir: str | None = None, target: str = "generic") -> int:
    """``bsnn export OUT --nir FILE [--for TARGET]``: write the newest checkpoint of run ``OUT`` as a NIR graph."""
    import warnings

    from bsnn.nir import NIRConventionWarning, _nir, export
    from bsnn.train import Trainer
    try:
        _nir()
        if os.path.isdir(nir_path):
            raise ValueError(f"--nir {nir_path}: it is a directory; give a file name (e.g. {nir_path}/model.nir)")
        trainer = Trainer.from_run(out_dir, data_dir=data_dir, quiet=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NIRConventionWarning)
            export(trainer.model, nir_path, target=target)
    except (ImportError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"bsnn export: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"bsnn export: error: cannot write {nir_path}: {err.strerror or err}", file=sys.stderr)
        return 2
    for warning in caught:
        print(f"bsnn export: note: {warning.message}", file=sys.stderr)
    sizes = "-".join(str(s) for s in trainer.model.sizes)
    print(f"wrote {nir_path}: NIR graph of the {sizes} network of {out_dir} (epoch {trainer.epoch}, "
          f"dt = {trainer.model.dt_ms:g} ms, for {target})")
    return 0


def _plot(args) -> int:
    for path in plot_run(args.out, sample=args.sample, data_dir=args.data_dir, figures=args.figures):
        print(path)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from bsnn.checkpoint import CheckpointError
    try:
        if args.command == "train":
            return _train(args, parser.subcommands["train"])
        if args.command == "eval":
            return _eval(args)
        if args.command == "export":
            return export_run(args.out, args.nir, data_dir=args.data_dir, target=args.target)
        return _plot(args)
    except (FileNotFoundError, ValueError, RuntimeError, CheckpointError) as err:
        return _error(args.command, err)
    except OSError as err:
        return _error(args.command, f"{getattr(err, 'filename', None) or ''}: {err.strerror or err}".lstrip(": "))


if __name__ == "__main__":
    sys.exit(main())
