"""Property-based tests (hypothesis): encoders, losses, IDX parsing, checkpoint verification,
quantities and the command-line parser on arbitrary shapes, dtypes, NaN/inf, empty batches,
negative or huge values and wrong units. Each input either works (the stated property
holds) or raises a clear error naming the parameter; none hangs, crashes or returns NaN
silently. The inputs that used to violate this (see RELIABILITY.md) are tested by name too."""

import contextlib
import gzip
import io
import math
import os
import re
import tempfile

import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bsnn import checkpoint, encode, losses, units
from bsnn.cli import build_parser, main
from bsnn.data import DataError, parse_idx, write_idx
from bsnn.data.idx import read_bytes
from bsnn.network import NetworkOutput

# no example database: nothing is written into the working tree
FEW = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.uint8, np.bool_])
SPECIAL = st.sampled_from([0.0, 1.0, -1.0, 0.5, np.nan, np.inf, -np.inf, 1e30, -1e30, 1e39, 3e38, 1e-45])


@st.composite
def any_array(draw, min_dims=0, max_dims=3, max_side=4):
    """Arrays of any dtype and shape (empty axes too), floats with NaN/inf/huge/negative values."""
    dtype = np.dtype(draw(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side))
    if dtype.kind == "f":
        elements = st.one_of(SPECIAL, st.floats(-2, 2, width=32))
        with np.errstate(over="ignore"):
            return draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)
    return draw(hnp.arrays(dtype, shape))


STEPS = st.one_of(st.integers(-2, 12), st.booleans(), st.floats(-1, 5), st.just(np.int64(3)))


def _valid_steps(steps) -> bool:
    return isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps >= 1


def _pixels_ok(x) -> bool:
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.asarray(x, np.float32)
    return f.ndim == 2 and bool(np.all(np.isfinite(f))) and (f.size == 0 or (f.min() >= 0 and f.max() <= 1))


def _expect(valid: bool, fn, *names):
    """``fn()`` succeeds when ``valid``; otherwise raises ValueError whose message names one of ``names``."""
    if valid:
        return fn()
    with pytest.raises(ValueError) as err:
        fn()
    assert any(n in str(err.value) for n in names), str(err.value)
    return None


# ---- encoders -------------------------------------------------------------------------------
@FEW
@given(x=any_array(), steps=STEPS)
def test_constant_encoder(x, steps):
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.asarray(x, np.float32)
    valid = _valid_steps(steps) and f.ndim == 2 and bool(np.all(np.isfinite(f)))
    out = _expect(valid, lambda: encode.constant(x, steps), "steps", "x ")
    if out is not None:
        assert out.shape == (steps,) + f.shape and out.dtype == jnp.float32
        # XLA on the CPU flushes float32 subnormals (|x| < 1.2e-38) to zero
        flushed = np.where(np.abs(f) < np.finfo(np.float32).tiny, np.float32(0), f)
        np.testing.assert_array_equal(np.asarray(out.dense()), np.broadcast_to(flushed, out.shape))


@FEW
@given(x=any_array(), steps=STEPS, seed=st.integers(0, 2**31 - 1))
def test_poisson_encoder(x, steps, seed):
    valid = _valid_steps(steps) and _pixels_ok(x)
    out = _expect(valid, lambda: encode.poisson(x, steps, jax.random.PRNGKey(seed)), "steps", "x ")
    if out is not None:
        out, f = np.asarray(out), np.asarray(x, np.float32)
        assert out.shape == (steps,) + f.shape and set(np.unique(out)) <= {0.0, 1.0}
        assert np.all(out[:, f == 0] == 0) and np.all(out[:, f == 1] == 1)


@SOME
@given(x=any_array(min_dims=2, max_dims=2), steps=STEPS,
       threshold=st.one_of(st.floats(-0.5, 1.5), st.sampled_from([np.nan, np.inf, 0.0, 1.0])),
       normalize=st.booleans())
def test_latency_encoder(x, steps, threshold, normalize):
    valid = _valid_steps(steps) and _pixels_ok(x) and 0 <= threshold <= 1
    out = _expect(valid, lambda: encode.latency(x, steps, threshold=threshold, normalize=normalize),
                  "steps", "x ", "threshold")
    if out is not None:
        out, f = np.asarray(out), np.asarray(x, np.float32)
        counts = out.sum(0)
        assert np.all(counts == (f >= threshold))            # one spike per pixel above threshold, else none
        first = np.where(counts > 0, out.argmax(0), steps)
        on = f.reshape(-1) >= threshold
        order = np.argsort(-f.reshape(-1)[on], kind="stable")  # brighter is earlier (never later)
        assert np.all(np.diff(first.reshape(-1)[on][order]) >= 0)


TIMES = st.one_of(st.floats(-5, 50).map(lambda v: v * u.ms), st.floats(0, 5).map(lambda v: v * u.mV),
                  st.floats(0, 5))


@SOME
@given(x=any_array(min_dims=2, max_dims=2), t_black=TIMES, t_white=TIMES)
def test_binary_latency_encoder(x, t_black, t_white):
    steps, dt = 30, 1 * u.ms

    def index(t):
        return round(t.to_decimal(u.ms)) if isinstance(t, u.Quantity) and u.get_dim(t) == u.get_dim(u.ms) else None

    k = [index(t_black), index(t_white)]
    valid = _pixels_ok(x) and all(i is not None and 0 <= i < steps for i in k)
    out = _expect(valid, lambda: encode.binary_latency(x, steps, dt, t_black=t_black, t_white=t_white),
                  "x ", "t_black", "t_white")
    if out is not None:
        out, f = np.asarray(out), np.asarray(x, np.float32)
        assert np.all(out.sum(0) == 1)
        np.testing.assert_array_equal(out.argmax(0), np.where(f < 0.5, k[0], k[1]))


@pytest.mark.parametrize("case", ["constant-gain-nan", "constant-gain-overflow", "poisson-negative-rate",
                                  "poisson-negative-dt", "binary-latency-level-nan", "time-major-nan"])
def test_encoder_inputs_that_give_nan_or_silence(case):
    x = np.full((2, 3), 0.5, np.float32)
    calls = {
        "constant-gain-nan": lambda: encode.constant(x, 3, gain=float("nan")),
        "constant-gain-overflow": lambda: encode.constant(np.full((1, 2), 3e38, np.float32), 3, gain=10.0),
        "poisson-negative-rate": lambda: encode.poisson(x, 3, jax.random.PRNGKey(0), rate=-100 * u.Hz, dt=1 * u.ms),
        "poisson-negative-dt": lambda: encode.poisson(x, 3, jax.random.PRNGKey(0), rate=100 * u.Hz, dt=-1 * u.ms),
        "binary-latency-level-nan": lambda: encode.binary_latency(x, 30, 1 * u.ms, t_black=10 * u.ms,
                                                                  t_white=20 * u.ms, level=float("nan")),
        "time-major-nan": lambda: encode.time_major(np.full((2, 3, 4), np.nan)),
    }
    name = {"constant-gain-nan": "gain", "constant-gain-overflow": "gain", "poisson-negative-rate": "rate",
            "poisson-negative-dt": "dt", "binary-latency-level-nan": "level", "time-major-nan": "NaN"}[case]
    with pytest.raises(ValueError, match=name):
        calls[case]()


# ---- losses ---------------------------------------------------------------------------------
LOSS_NAMES = sorted(losses.LOSSES)


@st.composite
def outputs(draw, scale=1e4):
    # a few shapes (each shape compiles once) including one step, one sample and one class
    steps, batch, classes = draw(st.sampled_from([(1, 1, 1), (1, 3, 2), (4, 1, 3), (5, 4, 3), (3, 2, 5)]))
    v = draw(hnp.arrays(np.float32, (steps, batch, classes), elements=st.floats(-scale, scale, width=32)))
    s = draw(hnp.arrays(np.float32, (steps, batch, classes), elements=st.sampled_from([0.0, 1.0])))
    labels = draw(hnp.arrays(np.int32, (batch,), elements=st.integers(0, classes - 1)))
    dt = draw(st.sampled_from([0.1, 1.0, 2.5]))
    return NetworkOutput(jnp.asarray(s), jnp.asarray(v), (jnp.asarray(s.sum(0)),), dt), jnp.asarray(labels)


_JITTED = {}


def _loss_value_prediction_grads(name):
    """``(v, spikes, labels) -> (loss, prediction, (dloss/dv, dloss/dspikes))``, compiled once per shape."""
    if name not in _JITTED:
        loss = losses.get_loss(name)

        def f(v, s, labels):
            def value(v, s):
                return loss(NetworkOutput(s, v, (s.sum(0),), 1.0), labels)
            return value(v, s), loss.predict(NetworkOutput(s, v, (s.sum(0),), 1.0)), \
                jax.grad(value, argnums=(0, 1))(v, s)
        _JITTED[name] = jax.jit(f)
    return _JITTED[name]


@FEW
@given(data=outputs(), name=st.sampled_from(LOSS_NAMES))
def test_losses_are_finite_non_negative_with_finite_gradients(data, name):
    out, labels = data
    value, pred, grads = _loss_value_prediction_grads(name)(out.v, out.spikes, labels)
    assert math.isfinite(float(value)) and float(value) >= -1e-6, value
    pred = np.asarray(pred)
    assert pred.shape == labels.shape and np.all((pred >= 0) & (pred < out.v.shape[-1]))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)


@FEW
@given(data=outputs(), name=st.sampled_from(["max-membrane-ce", "mean-membrane-ce", "membrane-sum-ce"]),
       where=st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(0, 4)),
       bad=st.sampled_from([np.nan, np.inf]))
def test_non_finite_membranes_are_never_masked(data, name, where, bad):
    """Garbage in, non-finite loss out: the Trainer then stops with TrainingDiverged. (A -inf at
    one step may legitimately vanish in a max over time, so it is not drawn.)"""
    out, labels = data
    t, b, c = (w % n for w, n in zip(where, out.v.shape))
    out = out._replace(v=out.v.at[t, b, c].set(bad))
    assert not math.isfinite(float(losses.get_loss(name)(out, labels)))


BAD_LABELS = {
    "too-large": lambda b, c: np.full(b, c, np.int32),
    "negative": lambda b, c: np.full(b, -1, np.int32),
    "float": lambda b, c: np.zeros(b, np.float32),
    "wrong-shape": lambda b, c: np.zeros(1, np.int32) if b > 1 else np.zeros(2, np.int32),
}


@pytest.mark.parametrize("bad", sorted(BAD_LABELS) + ["empty-batch", "no-steps"])
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_losses_reject_bad_labels_and_empty_outputs(name, bad):
    steps, batch, classes = 4, 2, 3
    z = jnp.zeros((steps, batch, classes))
    labels = jnp.zeros((batch,), jnp.int32)
    if bad == "empty-batch":
        z, labels = jnp.zeros((steps, 0, classes)), jnp.zeros((0,), jnp.int32)
    elif bad == "no-steps":
        z = jnp.zeros((0, batch, classes))
    else:
        labels = jnp.asarray(BAD_LABELS[bad](batch, classes))
    with pytest.raises(ValueError, match="label|batch|sample|step"):
        losses.get_loss(name)(NetworkOutput(z, z, (z.sum(0),), 1.0), labels)


# ---- IDX parsing ------------------------------------------------------------------------------
IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@st.composite
def idx_arrays(draw):
    dtype = draw(st.sampled_from(IDX_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    return draw(hnp.arrays(dtype, shape))


@FEW
@given(a=idx_arrays(), compress=st.booleans())
def test_idx_round_trip(a, compress):
    with tempfile.TemporaryDirectory() as d:
        path = write_idx(os.path.join(d, "x.idx"), a, compress=compress)
        back = parse_idx(read_bytes(path))
    assert back.shape == a.shape and back.dtype == a.dtype.newbyteorder("=")
    assert back.tobytes() == np.ascontiguousarray(a).tobytes()      # NaN-exact


def _idx_bytes(a) -> bytes:
    code = {np.dtype(t): c for t, c in zip(IDX_DTYPES, (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E))}[a.dtype]
    big = a.astype(a.dtype.newbyteorder(">"))
    return bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">u4").tobytes() + big.tobytes()


@FEW
@given(a=idx_arrays(), cut=st.integers(1, 10**6), extra=st.binary(min_size=1, max_size=8))
def test_idx_truncation_and_trailing_bytes_are_named(a, cut, extra):
    data = _idx_bytes(a)
    k = len(data) - 1 - (cut % len(data))                             # any proper prefix
    with pytest.raises(DataError, match=r"^f.idx: (truncated|bad magic)"):
        parse_idx(data[:k], "f.idx")
    with pytest.raises(DataError, match=r"^f.idx: wrong size: .* trailing bytes"):
        parse_idx(data + extra, "f.idx")


@FEW
@given(head=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 4)),
       dims=st.lists(st.integers(0, 2**16 - 1), max_size=4), body=st.binary(max_size=64))
def test_idx_arbitrary_bytes_parse_or_raise_data_error(head, dims, body):
    data = bytes(head) + np.asarray(dims, ">u4").tobytes() + body
    try:
        arr = parse_idx(data, "f.idx")
    except DataError as err:
        assert str(err).startswith("f.idx: ")
    else:
        assert arr.shape == tuple(dims[:head[3]]) and head[:2] == (0, 0)


@pytest.mark.parametrize("dims", [(65536,) * 4, (2**31, 2**31, 4), (2**32 - 1, 2**32 - 1)])
def test_idx_dimensions_whose_product_overflows(dims):
    data = bytes([0, 0, 8, len(dims)]) + np.asarray(dims, ">u4").tobytes()
    with pytest.raises(DataError, match=r"^f.idx: truncated: .* expected \d+ for"):
        parse_idx(data, "f.idx")


@FEW
@given(a=idx_arrays(), where=st.integers(0, 10**6), xor=st.integers(1, 255))
def test_damaged_gzip_is_detected_or_harmless(a, where, xor):
    packed = bytearray(gzip.compress(_idx_bytes(a), mtime=0))
    packed[where % len(packed)] ^= xor
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.gz")
        with open(path, "wb") as f:
            f.write(bytes(packed))
        try:
            back = parse_idx(read_bytes(path), path)
        except DataError as err:
            assert str(err).startswith(path)
        else:           # a flip in a field gzip does not check (e.g. mtime, OS): same content
            assert back.tobytes() == np.ascontiguousarray(a).tobytes()


# ---- checkpoints -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    arrays = {"params/w": np.arange(12, dtype=np.float32).reshape(3, 4), "optim/step": np.asarray(7)}
    path = checkpoint.save(str(d), 3, arrays, {"epoch": 3, "history": [], "config": {}})
    with open(path, "rb") as f:
        return path, f.read()


@FEW
@given(cut=st.integers(0, 10**6), where=st.integers(0, 10**6), xor=st.integers(1, 255), mode=st.sampled_from(
    ["truncate", "flip", "append"]))
def test_damaged_checkpoints_are_never_loaded(saved_checkpoint, cut, where, xor, mode):
    path, good = saved_checkpoint
    assert checkpoint.load(path).meta["epoch"] == 3
    data = bytearray(good)
    if mode == "truncate":
        data = data[:cut % len(data)]
    elif mode == "flip":
        data[where % len(data)] ^= xor
    else:
        data += bytes([xor]) * (1 + cut % 40)
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "epoch-0003.ckpt")
        with open(bad, "wb") as f:
            f.write(bytes(data))
        with pytest.raises(checkpoint.CheckpointError, match=f"checkpoint {bad} is (truncated|corrupted)"):
            checkpoint.load(bad)


# ---- quantities and the command-line parser ---------------------------------------------------------
NUMBER = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
                   st.sampled_from(["1e999", ".5", "5.", "-0", "+3", "1e-400", "nan", "inf", "", "1.2.3"]))
UNIT = st.sampled_from(["ms", "s", "us", "mV", "V", "uV", "Hz", "kHz", "", "m", "sec", "MS", "mv"])
SEP = st.sampled_from(["", " ", "*", " * ", "  "])
KINDS = {"time": units.TIME, "voltage": units.VOLTAGE, "frequency": units.FREQUENCY}
DIM = {"ms": "time", "s": "time", "us": "time", "mV": "voltage", "V": "voltage", "uV": "voltage",
       "Hz": "frequency", "kHz": "frequency"}
SCALE = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "mV": 1.0, "V": 1000.0, "uV": 1e-3, "Hz": 1.0, "kHz": 1000.0}


# the documented grammar: a number, optional spaces and '*', a unit name
GRAMMAR = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*([A-Za-z]+)\s*")


@FEW
@given(number=NUMBER, sep=SEP, unit=UNIT, kind=st.sampled_from(sorted(KINDS)), junk=st.text(max_size=3))
def test_parse_quantity(number, sep, unit, kind, junk):
    for text in (f"{number}{sep}{unit}", f"{number}{sep}{unit}{junk}"):
        m = GRAMMAR.fullmatch(text)
        if m and DIM.get(m.group(2)) == kind:
            q = units.parse_quantity(text, "--flag", KINDS[kind])
            got, want = float(u.maybe_decimal(q / KINDS[kind].unit)), float(m.group(1)) * SCALE[m.group(2)]
            assert got == want or math.isclose(got, want, rel_tol=1e-12), (text, got, want)
        else:
            with pytest.raises(ValueError, match=r"^--flag must be a"):
                units.parse_quantity(text, "--flag", KINDS[kind])


def _parse(*argv):
    """``(namespace, None)`` or ``(None, stderr)`` for an argparse exit (code 2)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return build_parser().parse_args(["train", *argv]), None
        except SystemExit as exit_:
            assert exit_.code == 2
            return None, err.getvalue()


TEXT = st.one_of(st.text(max_size=6), st.integers(-5, 10**12).map(str), st.floats().map(repr),
                 st.sampled_from(["1e3", " 7 ", "0x10", "1_000", "٣", "-", "--", "nan", "inf", "1e-400", "1e999"]))


@FEW
@given(flag=st.sampled_from(["--epochs", "--batch-size", "--steps", "--hidden", "--train-subset", "--test-subset"]),
       text=TEXT)
def test_cli_positive_integer_flags(flag, text):
    assume(text != "--")       # argparse stores `--flag=--` as []; the config check rejects it (tested below)
    try:
        want = int(text)
    except ValueError:
        want = None
    args, err = _parse(f"{flag}={text}")     # `--flag=-5`: argparse reads `--flag -5` as a missing value
    if want is not None and want >= 1:
        value = getattr(args, flag[2:].replace("-", "_"))
        assert value == ([want] if flag == "--hidden" else want)
    else:
        assert args is None and flag in err, err


@FEW
@given(text=TEXT)
def test_cli_learning_rate(text):
    assume(text != "--")
    try:
        want = float(text)
    except ValueError:
        want = None
    args, err = _parse(f"--lr={text}")
    if want is not None and 0 < want < math.inf:
        assert args.lr == want
    else:
        assert args is None and "--lr" in err, err


@FEW
@given(flag=st.sampled_from(["--dt", "--tau-mem", "--tau-syn", "--threshold"]),
       parts=st.lists(st.tuples(NUMBER, UNIT), min_size=1, max_size=3))
def test_cli_quantity_flags(flag, parts):
    text = ",".join(n + un for n, un in parts)
    kind = units.VOLTAGE if flag == "--threshold" else units.TIME
    ok = True
    for part in text.split(","):
        try:
            units.parse_quantity(part, flag, kind)
        except ValueError:
            ok = False
    args, err = _parse(f"{flag}={text}")
    if ok:
        assert getattr(args, flag[2:].replace("-", "_")) == text
    else:
        assert args is None and f"argument {flag}: {flag} must be a" in err, err


# values that pass the parser but not the model builder: a clear error, exit code 2
BUILD_TIME = [
    (["--tau-mem=-5ms"], "tau_mem must be positive"),
    (["--tau-mem", "1e999ms"], "tau_mem must be finite"),
    (["--tau-syn=-1ms"], "tau_syn must be >= 0"),
    (["--dt", "0ms"], "dt must be positive"),
    (["--threshold=-1mV"], "V_th must be above V_reset"),
    (["--w-scale=1,-2"], ("w_scale must be a positive number", "--w-scale must be a positive number")),
    (["--encoder", "poisson", "--encoder-option", "rate=100mV"], "rate must be a frequency"),
    (["--epochs=--"], "--epochs must be a positive integer, got []"),
]
SMALL = ["--dataset", "digits", "--train-subset", "32", "--test-subset", "16", "--epochs", "1", "--hidden", "4",
         "--steps", "3", "--quiet"]


def _main_exit(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args, message", BUILD_TIME)
def test_cli_values_caught_when_the_model_is_built(args, message, tmp_path, capsys):
    code, err = _main_exit(["train", *SMALL, "--out", str(tmp_path / "run"), *args], capsys)
    assert code == 2 and any(m in err for m in ((message,) if isinstance(message, str) else message)), (code, err)


@pytest.mark.parametrize("args, message", [
    (["--loss-option", "foo=1"], "--loss-option"),
    (["--encoder-option", "foo=1"], "--encoder-option"),
    (["--method-option", "foo=1"], "--method-option"),
    (["--encoder", "latency", "--encoder-option", "threshold=abc"], "threshold"),
    (["--seed", str(10**23)], "--seed"),
    (["--w-scale", "1,abc"], "--w-scale"),
    (["--w-scale", "nan"], "--w-scale must be a positive number"),
    (["--w-scale", "0"], "--w-scale must be a positive number"),
    (["--encoder", "poisson", "--encoder-option", "rate=100Hz"], "ok"),
])
def test_cli_option_values_without_a_clear_error(args, message, tmp_path, capsys):
    code, err = _main_exit(["train", *SMALL, "--out", str(tmp_path / "run"), *args], capsys)
    if message == "ok":                       # a valid setting that must train
        assert code == 0, err
    else:
        assert code == 2 and message in err, (code, err)


@SOME
@given(argv=st.lists(st.one_of(st.sampled_from(["train", "eval", "plot", "--epochs", "--lr", "--dt", "--out",
                                                "--resume", "-h", "--hidden", "--tau-mem", "x", "1", "20ms"]),
                               st.text(max_size=5)), max_size=6))
def test_cli_parser_never_crashes(argv):
    """Any argument list: a namespace, or argparse's exit (0 for help, 2 for an error)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(argv)
        except SystemExit as exit_:
            assert exit_.code in (0, 2)
            assert exit_.code == 0 or "error:" in err.getvalue()
