"""Defaults per method in one table: every method trains from them, the Python API agrees with the
CLI, and every method x loss x encoder x read-out x recurrent trains or is refused up front."""

import inspect
import itertools
import json
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import bsnn
from bsnn import defaults
from bsnn.cli import _train_config, build_parser, main
from bsnn.config import TrainConfig, build_encoder, build_method, build_model, build_optimizer


def _last_line(text):
    return [l for l in text.splitlines() if l.strip()][-1]


def test_name_lists_mirror_the_registries():
    from bsnn.data import DATASETS
    from bsnn.encode import ENCODERS
    from bsnn.losses import LOSSES
    from bsnn.methods import METHODS
    from bsnn.optim import OPTIMIZERS, SCHEDULES
    from bsnn.surrogates import SURROGATES
    assert set(defaults.METHODS) == set(METHODS)
    assert set(defaults.LOSSES) == set(LOSSES)
    assert tuple(defaults.ENCODERS) == tuple(ENCODERS)
    assert tuple(defaults.DATASETS) == tuple(DATASETS)
    assert set(defaults.SURROGATES) == set(SURROGATES)
    assert tuple(defaults.OPTIMIZERS) == tuple(OPTIMIZERS) and tuple(defaults.SCHEDULES) == tuple(SCHEDULES)


def test_python_api_defaults_agree_with_the_cli():
    parser = build_parser()
    cli = _train_config(parser.parse_args(["train", "--out", "x"]), parser.subcommands["train"])
    api = TrainConfig(out="x").resolved()
    assert cli.to_dict() == api.to_dict()
    params = inspect.signature(bsnn.SpikingClassifier.__init__).parameters
    assert params["readout"].default == api.readout == "leaky"
    assert params["w_scale"].default == api.w_scale
    assert params["w_mean"].default == api.w_mean
    assert params["reset"].default == api.reset and params["surrogate"].default == api.surrogate
    for method in defaults.METHODS:
        resolved = TrainConfig(method=method).resolved()
        assert bsnn.get_method(method).loss.name == defaults.resolve({"method": method})["loss"] == resolved.loss
    # the model a config builds is the model the Python defaults build
    model = build_model(api, 64, 10)
    assert model.readout == bsnn.SpikingClassifier([64, 128, 10]).readout


def test_help_shows_the_table_and_config_json_records_resolved_settings(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "--method eprop: loss membrane-sum-ce" in text and "--method feedback: loss membrane-sum-ce" in text
    assert "--method eventprop --encoder binary-latency:" in text
    out = tmp_path / "run"
    assert main(["train", "--method", "eprop", "--epochs", "1", "--train-subset", "64", "--test-subset", "32",
                 "--hidden", "8", "--steps", "4", "--out", str(out), "--quiet"]) == 0
    raw = (out / "config.json").read_text()
    record = json.loads(raw, parse_constant=lambda c: pytest.fail(f"config.json holds {c}, not standard JSON"))
    cfg = record["config"]
    assert cfg["loss"] == "membrane-sum-ce" and cfg["readout"] == "leaky" and cfg["lr"] == 0.01
    unset = [k for k in defaults.COMMON if cfg[k] is None and k != "rate_upper"]
    assert not unset, unset


BARS = {  # method (and extra flags) -> test accuracy bar on digits, each with its defaults
    "bptt": ([], 0.96), "eventprop": ([], 0.93), "eprop": ([], 0.95), "feedback": ([], 0.94),
    "eventprop-binary-latency": (["--encoder", "binary-latency"], 0.93),
}


@pytest.mark.parametrize("name", list(BARS))
def test_every_method_learns_digits_from_its_defaults(name, tmp_path, capsys):
    """Only --method (and for the last, --encoder) given: the defaults alone reach the bar."""
    flags, bar = BARS[name]
    method = name.split("-")[0]
    start = time.perf_counter()
    assert main(["train", "--method", method, *flags, "--out", str(tmp_path / "run"), "--quiet"]) == 0
    line = _last_line(capsys.readouterr().out)
    acc = float(line.split()[2])
    print(f"{name}: {line} ({time.perf_counter() - start:.1f} s with compilation)")
    assert acc >= bar, line


# ---- every combination trains one step or is refused before anything is written ---------------
def _combinations(method):
    for loss, encoder, readout in itertools.product(defaults.LOSSES, defaults.ENCODERS, defaults.READOUTS):
        yield loss, encoder, readout


def _cfg(method, loss, encoder, readout, recurrent):
    binary = {"t_black": "0ms", "t_white": "1ms"} if encoder == "binary-latency" else {}
    return TrainConfig(method=method, loss=loss, encoder=encoder, readout=readout, recurrent=recurrent,
                       hidden=[5], steps=2, batch_size=2, epochs=1, encoder_options=binary)


@pytest.mark.parametrize("method", defaults.METHODS)
def test_every_combination_trains_a_step_or_is_refused_in_flag_words(method):
    """Each combination is built exactly as the Trainer builds it and takes one optimizer step on two
    samples, op by op (``jax.disable_jit``: the same code without compiling ~170 programs), to a finite
    loss and finite gradients; or it is refused with a ValueError in flag words that says what works.
    Both recurrences are built and checked for refusal; the step is taken with the recurrent layer
    (a superset of the feed-forward step's code), and feed-forward only where recurrent is refused."""
    import brainstate
    ds = bsnn.data.digits()
    events = bsnn.data.synthetic(n_samples=2, steps=2, n_inputs=64, n_classes=10, n_test=2)
    trained = refused = built = 0
    for loss, encoder, readout in _combinations(method):
        recurrent_trained = False
        for recurrent in (True, False):
            what = f"--method {method} --loss {loss} --encoder {encoder} --readout {readout} recurrent={recurrent}"
            temporal = encoder == "events"
            try:
                cfg = _cfg(method, loss, encoder, readout, recurrent).resolved()
                model = build_model(cfg, 64, 10)
                meth, opt, enc = build_method(cfg), build_optimizer(cfg), build_encoder(cfg, temporal)
            except ValueError as err:
                message = str(err)
                assert "()" not in message and "<" not in message, (what, message)    # no class reprs
                assert any(f"--{flag}" in message for flag in ("loss", "readout", "encoder", "method")), \
                    (what, message)
                assert "use " in message, (what, message)
                refused += 1
                continue
            if recurrent_trained:
                built += 1
                continue
            data = events if temporal else ds
            x, y = jax.numpy.asarray(data.x_train[:2]), jax.numpy.asarray(data.y_train[:2])
            opt.register_trainable_weights(model.states(brainstate.ParamState))
            with jax.disable_jit():
                value, grads, _ = meth.loss_and_grads(model, enc(x, jax.random.PRNGKey(0)), y)
                opt.update(grads)
            assert np.isfinite(float(value)), what
            assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads)), what
            trained += 1
            recurrent_trained = recurrent
    print(f"{method}: {trained} combinations trained one step, {built} more built, {refused} refused")
    assert trained and refused
    with pytest.raises(ValueError, match="--encoder events passes on samples that already have a time axis"):
        build_encoder(_cfg(method, defaults.METHOD_LOSSES[method][0], "events", None, False).resolved())


def test_refused_combinations_write_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    for args in (["--method", "eprop", "--loss", "mean-membrane-ce"],
                 ["--method", "eventprop", "--loss", "count-ce"],
                 ["--loss", "first-spike-ce", "--readout", "leaky"],
                 ["--encoder", "events"]):
        with pytest.raises(SystemExit) as exit_:
            main(["train", *args, "--out", str(out), "--quiet"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and "bsnn train: error:" in err, err
        assert not out.exists(), args
    with pytest.raises(SystemExit):
        main(["train", "--method", "eprop", "--loss", "mean-membrane-ce", "--out", str(out)])
    err = _last_line(capsys.readouterr().err)
    assert "--method eprop cannot train --loss mean-membrane-ce" in err
    assert "use --loss membrane-sum-ce or count-ce or count-mse" in err


@pytest.mark.parametrize("args, message", [
    (["--method-option", "foo=1"], "--method-option: method bptt has no option 'foo'; its options are remat, hoist"),
    (["--method", "eprop", "--method-option", "seed=1"],
     "--method-option: method eprop has no option 'seed'; its options are error, surrogate, window"),
    (["--loss", "count-mse", "--loss-option", "bar=2"], "--loss-option: loss count-mse has no option 'bar'; "
                                                        "its options are on, off"),
    (["--loss-option", "on=1"], "--loss-option: loss mean-membrane-ce has no option 'on'; its options are last"),
])
def test_unknown_option_keys_name_the_method_or_loss_and_list_the_valid_keys(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", *args, "--out", str(tmp_path / "run"), "--quiet"])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_hidden_zero_means_no_hidden_layer(tmp_path):
    parser = build_parser()
    cfg = _train_config(parser.parse_args(["train", "--hidden", "0", "--out", "x"]), parser.subcommands["train"])
    assert cfg.hidden == [] and build_model(cfg, 64, 10).sizes == [64, 10]
    assert main(["train", "--hidden", "0", "--epochs", "1", "--train-subset", "64", "--test-subset", "32",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    with pytest.raises(SystemExit):
        main(["train", "--hidden", "0", "--hidden", "8", "--out", str(tmp_path / "x")])


def test_table_options_are_replaced_not_merged():
    cfg = TrainConfig(method="eventprop", encoder="binary-latency").resolved()
    assert cfg.loss == "first-spike-ce" and cfg.readout == "spiking" and cfg.steps == 40
    assert cfg.loss_options == {"tau0": 2.0, "tau1": 10.0, "alpha": 0.01}
    mine = TrainConfig(method="eventprop", encoder="binary-latency", encoder_options={"t_black": "5ms"}).resolved()
    assert mine.encoder_options == {"t_black": "5ms"}
    other = TrainConfig(method="eventprop", encoder="binary-latency", loss="mean-membrane-ce").resolved()
    assert other.loss_options == {} and other.readout == "leaky"
