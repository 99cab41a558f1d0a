"""The compiled CPU kernels of the fused hidden layer (bsnn._native) against the XLA path.

Spikes must be bit for bit those of ``lif_step`` under XLA (with an identity read-out the
kernel's ``y`` is the spike train itself), gradients equal up to float summation order, and
the results must not depend on anything but the inputs.
"""

import os
import shutil
import subprocess
import sys
import warnings

import braintools
import brainunit as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bsnn
from bsnn import _fused as fused, _native as native, encode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "c++")) is None and shutil.which("g++") is None,
                                reason="no C++ compiler: bsnn uses the XLA path (tested everywhere else)")


@pytest.fixture
def xla_only(monkeypatch):
    """Run the block with the kernels switched off (the XLA path), then switch them back on."""
    def run(fn):
        monkeypatch.setenv("BSNN_NATIVE", "0")
        native.available.cache_clear()
        try:
            return fn()
        finally:
            monkeypatch.setenv("BSNN_NATIVE", "1")
            native.available.cache_clear()
    return run


def _layer(tau_syn=0.0, reset="soft", surrogate="atan", v_rest=0.0, n=24):
    model = bsnn.SpikingClassifier([8, n, 3], tau_mem=20 * u.ms, tau_syn=tau_syn * u.ms, surrogate=surrogate,
                                   reset=reset, V_rest=v_rest * u.mV, readout="spiking", w_scale=1.0)
    return model.specs[0]


def _inputs(constant, steps=40, batch=6, n=24, m=3, dtype=jnp.float32, seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    shape = (batch, n) if constant else (steps, batch, n)
    drive = (jax.random.normal(k[0], shape) * 1.5 + 1.2).astype(dtype)
    w = jax.random.normal(k[1], (n, m)).astype(dtype)
    g_y = jax.random.normal(k[2], (steps, batch, m)).astype(dtype)
    g_counts = jax.random.normal(k[3], (batch, n)).astype(dtype)
    return drive, w, g_y, g_counts


def _run(spec, drive, w, steps, constant, cotangents):
    out, vjp = jax.vjp(lambda d, w: fused.lif_layer_projected(spec, d, w, steps, drive.shape[-2], constant), drive, w)
    return out, vjp(cotangents)


CASES = [dict(), dict(tau_syn=5.0), dict(reset="hard"), dict(v_rest=0.3), dict(tau_syn=5.0, reset="hard"),
         dict(surrogate="sigmoid"), dict(surrogate="relu"), dict(surrogate="superspike"),
         dict(surrogate="gaussian"), dict(surrogate="slayer")]


def test_kernels_build_and_are_used_here():
    assert native.available(), "a C++ compiler is present, so the kernels must build"
    spec = _layer()
    assert native.supports(spec, jnp.float32, 10) and native.supports(spec, jnp.float64, 64)
    assert not native.supports(spec, jnp.float32, native.MAX_NEXT + 1)
    custom = spec._replace(spike_fn=braintools.surrogate.Arctan(alpha=np.full(24, 2.0)))   # per-neuron slope
    assert not native.supports(custom, jnp.float32, 3), "array surrogate parameters stay on the XLA path"


# The structural cases with both drives; a surrogate changes only the reverse pass's derivative, so
# each surrogate runs with the per-step drive (the general path) alone.
PAIRS = [(kw, constant) for kw in CASES for constant in (True, False)
         if constant is False or "surrogate" not in kw]


@pytest.mark.parametrize("kw, constant", PAIRS,
                         ids=lambda p: (",".join(f"{k}={v}" for k, v in p.items()) or "default")
                         if isinstance(p, dict) else str(p))
def test_spike_trains_identical_and_grads_equal_to_xla(kw, constant, xla_only):
    """One pass per path with an identity read-out (``y = S @ I``: the spike train itself, exactly)
    and random cotangents on ``y`` and the counts: spikes bit for bit, gradients of the drive and
    of the read-out weights to float summation order. (A random read-out of another width is the
    training-step test's.)"""
    steps, n = 40, 21            # n not a multiple of 8: the kernels' padded tails are exercised
    spec = _layer(n=n, **kw)
    drive, _, g_y, g_counts = _inputs(constant, steps, n=n, m=n)
    eye = jnp.eye(n, dtype=drive.dtype)
    (y0, c0), g0 = xla_only(lambda: _run(spec, drive, eye, steps, constant, (g_y, g_counts)))
    (y1, c1), g1 = _run(spec, drive, eye, steps, constant, (g_y, g_counts))
    assert float(c0.sum()) > 20, "the layer must spike for a meaningful comparison"
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y0))
    np.testing.assert_array_equal(np.asarray(c1), np.asarray(c0))
    for a, b in zip(g1, g0):
        scale = float(jnp.abs(b).max())
        assert scale > 1e-3
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5 * scale)   # as tests/test_bptt.py


def test_float64_and_no_count_cotangent(xla_only):
    steps = 30
    spec = _layer(tau_syn=5.0)
    with jax.enable_x64(True):
        drive, w, g_y, _ = _inputs(True, steps, dtype=jnp.float64)
        f = lambda: jax.vjp(lambda d, w: fused.lif_layer_projected(spec, d, w, steps, 6, True)[0], drive, w)  # noqa: E731
        y0, vjp0 = xla_only(f)
        y1, vjp1 = f()
        assert y1.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(y1), np.asarray(y0), rtol=1e-12, atol=1e-12)
        for a, b in zip(vjp1(g_y), vjp0(g_y)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


def test_training_step_matches_xla_and_is_deterministic(xla_only):
    """The tutorial-5 shape in small: BPTT loss and gradients through the kernels equal the XLA path's."""
    model = bsnn.SpikingClassifier([30, 40, 10], tau_mem=20 * u.ms, tau_syn=0 * u.ms, surrogate="atan",
                                   readout="spiking", w_scale=3.0)
    x = encode.constant(jax.random.uniform(jax.random.PRNGKey(1), (16, 30)), 25)
    labels = jnp.arange(16) % 10
    method = bsnn.BPTT("membrane-sum-ce")
    loss0, g0, _ = xla_only(lambda: method.loss_and_grads(model, x, labels))
    loss1, g1, _ = method.loss_and_grads(model, x, labels)
    loss2, g2, _ = method.loss_and_grads(model, x, labels)
    np.testing.assert_allclose(float(loss1), float(loss0), rtol=1e-6)
    for a, b, c in zip(jax.tree.leaves(g1), jax.tree.leaves(g0), jax.tree.leaves(g2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5 * max(1.0, float(jnp.abs(b).max())))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


def test_switched_off_or_unbuildable_falls_back_to_xla(monkeypatch, tmp_path):
    monkeypatch.setenv("BSNN_NATIVE", "0")
    native.available.cache_clear()
    assert not native.available() and not native.supports(_layer(), jnp.float32, 3)
    monkeypatch.setenv("BSNN_NATIVE", "1")
    monkeypatch.setenv("BSNN_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setattr(native, "_compiler", lambda: str(tmp_path / "no-such-compiler"))
    native.available.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="could not be built or loaded"):
            assert not native.available()
        assert not list(tmp_path.rglob("*.so")), "a failed build must leave no library behind"
        spec = _layer()
        drive, w, _, _ = _inputs(True)
        y, counts = fused.lif_layer_projected(spec, drive, w, 40, 6, True)    # the XLA path still runs
        assert y.shape == (40, 6, 3) and counts.shape == (6, 24)
    finally:
        monkeypatch.undo()
        native.available.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.available()


def test_one_line_on_stderr_when_the_kernel_is_built_and_none_on_a_cache_hit(tmp_path):
    """A real build says so in one line; a cached library is loaded silently. The "compiler" is a
    script that copies the library built here (a real compile takes 10-25 s), in fresh processes
    (``available`` is memoized)."""
    assert native.available()
    built = native._library_path(native._compiler())
    fake = tmp_path / "fake-c++"
    fake.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo "fake c++ 1.0"; exit 0; fi\n'
                    'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out="$2"; fi; shift; done\n'
                    f'cp "{built}" "$out"\n')
    fake.chmod(0o755)
    env = dict(os.environ, CXX=str(fake), BSNN_CACHE=str(tmp_path / "cache"), BSNN_NATIVE="1",
               PYTHONPATH=os.pathsep.join([ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]))
    code = "from bsnn import _native as native; assert native.available()"
    lines = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        lines.append([line for line in proc.stderr.splitlines() if "building bsnn's CPU kernel" in line])
    assert len(lines[0]) == 1 and lines[0][0].startswith("building bsnn's CPU kernel for "), lines[0]
    assert "(once per machine, about 10-25 s)..." in lines[0][0]
    assert lines[1] == [], "a cache hit must print nothing"
    assert len(list((tmp_path / "cache").rglob("*.so"))) == 1
