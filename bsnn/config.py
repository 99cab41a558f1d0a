"""``TrainConfig``: every setting of a training run, and the builders that turn it into objects.

A config is plain data (JSON/TOML-friendly): quantities are strings with their unit
(``"20ms"``, ``"1mV"``), per-layer values are lists or comma-separated strings
(``"1mV,2mV"``). ``build_model``, ``build_method``, ``build_encoder`` and
``build_optimizer`` parse and validate them, raising ``ValueError`` that names the
setting (``--tau-mem`` on the command line).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional

import jax
import numpy as np

from bsnn import defaults, encode, units
from bsnn.losses import RateRegularizer, Regularized, get_loss
from bsnn.methods import get_method
from bsnn.models import SpikingClassifier
from bsnn.optim import make_optimizer

__all__ = ["TrainConfig", "build_model", "build_method", "build_encoder", "build_optimizer",
           "load_toml", "RESUMABLE_CHANGES"]

# Old names of settings, in config.json files and saved models written before a rename.
RENAMED = {"checkpoint": "remat"}


def upgrade_names(settings: dict) -> dict:
    """``settings`` with every old name (``RENAMED``) replaced by today's, unless both are given."""
    return {(RENAMED[k] if k in RENAMED and RENAMED[k] not in settings else k): v for k, v in settings.items()}


# Settings a resumed run may change without invalidating its checkpoint.
RESUMABLE_CHANGES = ("epochs", "quiet", "out", "resume", "data_dir", "devices", "distributed")


@dataclass
class TrainConfig:
    """All settings of ``bsnn train``. Field names are the CLI flags with ``-`` -> ``_``.

    A field left ``None`` takes its default from ``bsnn.defaults`` for the run's method
    (and encoder): ``resolved()`` returns the complete settings, which the ``Trainer`` uses
    and ``config.json`` records.
    """

    dataset: Optional[str] = None
    data_dir: Optional[str] = None
    dataset_options: dict = field(default_factory=dict)   # the dataset's own settings, e.g. bin_width of shd
    augment: dict = field(default_factory=dict)   # temporal training data: channel_shift, time_shift, blend, blend_n
    delay_lines: Optional[list] = None            # [n, bins]: n delayed copies of the input (bsnn.data.augment)
    train_subset: Optional[int] = None      # use only this many training samples (stratified)
    test_subset: Optional[int] = None
    method: Optional[str] = None
    method_options: dict = field(default_factory=dict)
    hidden: Optional[list] = None            # [] (or --hidden 0): no hidden layer
    arch: Optional[str] = None               # layers as a string, e.g. "12c5-mp2-64c5-mp2-10" (replaces hidden)
    readout: Optional[str] = None
    recurrent: Optional[bool] = None
    remat: bool = False              # recompute the forward pass in the backward pass (bounded memory in T)
    steps: Optional[int] = None
    dt: Any = None
    integrator: Optional[str] = None         # "exp" or "euler" (bsnn.neurons.INTEGRATORS)
    neuron: Any = None                       # a bsnn.neurons kind, or one per layer
    learn: Any = None                        # constants trained per neuron: ["tau_mem", "V_th"] (bsnn.dynamics)
    neuron_options: dict = field(default_factory=dict)   # the kinds' own parameters, e.g. tau_adapt
    tau_mem: Any = None
    tau_syn: Any = None
    threshold: Any = None
    reset: Any = None
    surrogate: Any = None
    w_scale: Any = None
    w_mean: Any = None
    encoder: Optional[str] = None
    encoder_options: dict = field(default_factory=dict)
    loss: Optional[str] = None
    loss_options: dict = field(default_factory=dict)
    rate_lower: Optional[float] = None          # regularizer: per-neuron lower bound (spikes per sample)
    rate_lower_strength: Optional[float] = None
    rate_upper: Optional[float] = None          # None: no upper bound
    rate_upper_strength: Optional[float] = None
    optimizer: Optional[str] = None
    lr: Optional[float] = None
    schedule: Optional[str] = None
    weight_decay: Optional[float] = None
    amsgrad: Optional[bool] = None
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    seed: Optional[int] = None
    out: Optional[str] = None
    quiet: bool = False
    resume: bool = False
    devices: Optional[int] = None
    distributed: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        if not isinstance(data, dict):
            raise ValueError(f"settings must be a table of names and values, got {type(data).__name__}")
        data = upgrade_names(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config settings {unknown}; known settings are {sorted(known)}")
        data = dict(data)
        if data.get("rate_upper") == float("inf"):      # runs written before rate_upper could be unset
            data["rate_upper"] = None
        return cls(**data)

    def resolved(self) -> "TrainConfig":
        """A copy with every unset setting filled in from ``bsnn.defaults``, checked for clashes."""
        cfg = TrainConfig(**defaults.resolve(self.to_dict()))
        defaults.check_combination(cfg.to_dict())
        return cfg

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)

    def differences(self, other: "TrainConfig", ignore=RESUMABLE_CHANGES) -> dict:
        """``{setting: (self's, other's)}`` for settings that differ, except ``ignore``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in ignore and _normal(a[k]) != _normal(b[k])}


def _normal(value):
    return json.loads(json.dumps(value, default=str))


def load_toml(path: str) -> dict:
    """Read a TOML file of settings (keys as in ``TrainConfig``)."""
    import tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _layer_values(value, name: str, kind: Optional[units.Kind], n_layers: int):
    """``"1mV"`` / ``"1mV,2mV"`` / ``["1mV", "2mV"]`` -> one value or a list, parsed to quantities."""
    items = value if isinstance(value, (list, tuple)) else (
        [v.strip() for v in value.split(",")] if isinstance(value, str) and "," in value else [value])
    if len(items) not in (1, n_layers):
        raise ValueError(f"{_flag(name)} takes one value or one per layer ({n_layers}), got {len(items)}: {value!r}")
    parsed = [units.parse_quantity(v, _flag(name), kind) if kind else _scalar(v, name) for v in items]
    return parsed[0] if len(parsed) == 1 else parsed


def _scalar(v, name):
    if name in ("w_scale", "w_mean"):
        try:
            return float(v)
        except (TypeError, ValueError):
            kind = "a positive number" if name == "w_scale" else "a number"
            raise ValueError(f"{_flag(name)} must be {kind}, got {v!r}") from None
    return v


def _complete(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` itself when every setting is set, else ``cfg.resolved()``."""
    return cfg.resolved() if any(v is None for k, v in cfg.to_dict().items() if k in defaults.COMMON
                                 and k != "rate_upper") or cfg.readout is None else cfg


def option_keys(cls, exclude=("self", "loss")) -> list:
    """The keyword options a method or loss class takes (its own and its bases' named parameters)."""
    import inspect
    keys = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in exclude and p.name not in keys:
                keys.append(p.name)
    return keys


def _check_keys(flag: str, what: str, cls, options: dict, exclude=("self", "loss")):
    valid = option_keys(cls, exclude)
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise ValueError(f"{flag}: {what} has no option {unknown[0]!r}; its options are "
                         f"{', '.join(valid) if valid else 'none'}")


def arch_projections(cfg: TrainConfig, n_in: int, n_classes: int, image_shape=None):
    """The projections of ``cfg.arch`` for the data (``None`` without ``--arch``), checked in flag words."""
    from bsnn.projections import Conv2d, parse_arch
    if cfg.arch is None:
        return None
    if not isinstance(cfg.arch, str):
        raise ValueError(f"--arch takes a string such as 12c5-mp2-64c5-mp2-10, got {cfg.arch!r}")
    shape = (n_in,)
    if image_shape is not None and int(np.prod(image_shape)) == n_in:
        shape = tuple(image_shape) + ((1,) if len(image_shape) == 2 else ())
    try:
        projections = parse_arch(cfg.arch, shape)
    except ValueError as err:
        hint = (f" (--dataset {cfg.dataset} has flat samples of {n_in} features; convolutions need image data, "
                f"e.g. --dataset mnist, fashion-mnist or digits)" if len(shape) == 1 and "image" in str(err) else "")
        raise ValueError(f"--arch: {err}{hint}") from None
    if projections[-1].n_out != n_classes:
        raise ValueError(f"--arch {cfg.arch}: the last token is the read-out, one neuron per class, but --dataset "
                         f"{cfg.dataset} has {n_classes} classes; end the architecture with -{n_classes}")
    if cfg.recurrent and any(isinstance(p, Conv2d) for p in projections[:-1]):
        raise ValueError(f"--recurrent: the convolution layers of --arch {cfg.arch} cannot be recurrent (recurrent "
                         f"weights are dense); drop --recurrent, or use --hidden for a recurrent network")
    return projections


def build_model(cfg: TrainConfig, n_in: int, n_classes: int, image_shape=None) -> SpikingClassifier:
    """The ``SpikingClassifier`` the config describes for ``n_in`` features and ``n_classes``
    (``image_shape``, ``(H, W)`` or ``(H, W, C)`` of one sample, for an ``--arch`` with convolutions)."""
    cfg = _complete(cfg)
    projections = arch_projections(cfg, n_in, n_classes, image_shape)
    hidden = [int(h) for h in cfg.hidden] if projections is None else [p.n_out for p in projections[:-1]]
    n_layers = len(hidden) + 1
    return SpikingClassifier(
        [n_in, *hidden, n_classes] if projections is None else cfg.arch,
        input_shape=None if projections is None else projections[0].in_shape,
        tau_mem=_layer_values(cfg.tau_mem, "tau_mem", units.TIME, n_layers),
        tau_syn=_layer_values(cfg.tau_syn, "tau_syn", units.TIME, n_layers),
        V_th=_layer_values(cfg.threshold, "threshold", units.VOLTAGE, n_layers),
        reset=_layer_values(cfg.reset, "reset", None, n_layers),
        surrogate=_layer_values(cfg.surrogate, "surrogate", None, n_layers),
        w_scale=_layer_values(cfg.w_scale, "w_scale", None, n_layers),
        w_mean=_layer_values(cfg.w_mean, "w_mean", None, n_layers),
        readout=cfg.readout, recurrent=bool(cfg.recurrent), remat=bool(cfg.remat),
        dt=units.parse_quantity(cfg.dt, "--dt", units.TIME), integrator=cfg.integrator,
        neuron=_layer_values(cfg.neuron, "neuron", None, n_layers),
        learn=defaults.learn_names(cfg.learn, "--learn"),
        **_neuron_options(cfg.neuron_options, n_layers))


def _neuron_options(options: dict, n_layers: int) -> dict:
    """``{"tau_adapt": "200ms"}`` -> quantities, checked against the neuron kinds' parameters."""
    from bsnn import neurons
    known = {name: getattr(units, kind) for name, kind in neurons.parameter_kinds().items()}
    out = {}
    for name, value in options.items():
        if name not in known:
            raise ValueError(f"--neuron-option {name}: no neuron kind takes it (known: {sorted(known) or 'none'})")
        out[name] = _layer_values(value, name, known[name], n_layers)
    return out


def build_method(cfg: TrainConfig):
    """The gradient method, with the loss (and rate regularizer) it trains."""
    from bsnn.losses import LOSSES
    from bsnn.methods import METHODS
    cfg = _complete(cfg)
    _check_keys("--loss-option", f"loss {cfg.loss}", LOSSES[cfg.loss], cfg.loss_options)
    _check_keys("--method-option", f"method {cfg.method}", METHODS[cfg.method], cfg.method_options)
    try:
        loss = get_loss(cfg.loss, **cfg.loss_options)
    except TypeError as err:
        raise ValueError(f"--loss-option: {err}") from None
    if cfg.rate_lower_strength or cfg.rate_upper_strength:
        upper = float("inf") if cfg.rate_upper is None else cfg.rate_upper
        loss = Regularized(loss, RateRegularizer(cfg.rate_lower, cfg.rate_lower_strength,
                                                 upper, cfg.rate_upper_strength))
    try:
        return get_method(cfg.method, loss=loss, **cfg.method_options)
    except TypeError as err:
        raise ValueError(f"--method-option: {err}") from None


def build_encoder(cfg: TrainConfig, temporal: bool = False):
    """``(pixels, key) -> [T, B, N]``; temporal datasets (``[B, T, N]`` samples) pass through."""
    cfg = _complete(cfg)
    if temporal:
        return encode.get_encoder("events", cfg.steps, None)
    if cfg.encoder == "events":
        raise ValueError(f"--encoder events passes on samples that already have a time axis [B, T, N] (e.g. "
                         f"--dataset synthetic), but the samples of --dataset {cfg.dataset} are static; use "
                         f"--encoder current, poisson, latency or binary-latency")
    options = dict(cfg.encoder_options)
    for key in ("t_black", "t_white", "rate", "dt"):
        if isinstance(options.get(key), str):
            kind = units.FREQUENCY if key == "rate" else units.TIME
            options[key] = units.parse_quantity(options[key], key, kind)
    dt = options.pop("dt") if "dt" in options else units.parse_quantity(cfg.dt, "--dt", units.TIME)
    encoder = encode.get_encoder(cfg.encoder, cfg.steps, dt, **options)
    try:      # run it once on one pixel: a bad option fails here, not inside the first compiled step
        encoder(np.zeros((1, 1), np.float32), jax.random.PRNGKey(0))
    except (TypeError, ValueError) as err:
        raise ValueError(f"--encoder {cfg.encoder} / --encoder-option: {err}") from None
    return encoder


def build_optimizer(cfg: TrainConfig):
    cfg = _complete(cfg)
    return make_optimizer(cfg.optimizer, cfg.lr, schedule=cfg.schedule, epochs=cfg.epochs,
                          weight_decay=cfg.weight_decay, amsgrad=cfg.amsgrad)
