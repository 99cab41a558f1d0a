"""The compiled CPU kernel (bsnn._native) gives the same bits whatever the instruction-set level.

The kernel is built for a named level (``bsnn._native.arch()``: the highest x86-64 level the CPU
runs), and its results must not depend on that level: the same spikes, read-out drives and
gradients, bit for bit, from a build for x86-64-v2 (SSE4.2: no FMA or AVX instructions, so ``std::fma``
runs in libm and the loops vectorize 4 floats wide instead of 8). Half the neurons get drives
spread over a few ulp around the value whose steady state is the threshold, so that their
membranes end within ulps of it: a forward pass that rounds differently flips spikes there
(checked: a build with ``beta * u + omb * (vrest + i)`` unfused changes the spike trains of 10
of the 12 cases, one with ``-ffp-contract=fast`` the gradients of all 12).

Each level runs in its own process (``python tests/test_host_independence.py OUT``, with
``$BSNN_NATIVE_ARCH`` set: the FFI targets are registered once per process), both at once;
the libraries go to the usual cache (``$BSNN_CACHE``), so only the first run compiles.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))


def _cases():
    """(name, layer options, constant drive, dtype): every surrogate, both resets, a synaptic
    current, a resting potential, both drive kinds, float32 and float64."""
    cases = [("atan", {}, True, "float32"), ("atan-seq", {}, False, "float32"),
             ("syn", dict(tau_syn=5.0), True, "float32"),
             ("syn-hard-seq", dict(tau_syn=5.0, reset="hard"), False, "float32"),
             ("rest", dict(v_rest=0.3), False, "float32"), ("syn-f64", dict(tau_syn=5.0), False, "float64"),
             ("sigmoid-f64", dict(surrogate="sigmoid"), True, "float64")]
    for sg in ("sigmoid", "relu", "superspike", "gaussian", "slayer"):
        cases.append((sg, dict(surrogate=sg), False, "float32"))
    return cases


def _worker(out_path: str) -> None:
    """Run every case through the kernel and save its outputs (called in a subprocess)."""
    import brainunit as u
    import jax

    import bsnn
    from bsnn import _fused as fused, _native as native

    jax.config.update("jax_enable_x64", True)
    assert native.available(), "the kernel must build here"
    steps, batch, n, m = 400, 5, 37, 4         # n not a multiple of 8: padded tails
    results = {"arch": np.array(native.arch())}
    for name, kw, constant, dtype in _cases():
        kw = dict(kw)
        tau_syn = kw.pop("tau_syn", 0.0)
        v_rest = kw.pop("v_rest", 0.0)
        model = bsnn.SpikingClassifier([8, n, m], tau_mem=20 * u.ms, tau_syn=tau_syn * u.ms, V_rest=v_rest * u.mV,
                                       readout="spiking", w_scale=1.0, **kw)
        spec = model.specs[0]
        assert native.supports(spec, dtype, n), name
        c = spec.constants
        # drives spread over a few ulp around the value whose steady state is the threshold (the
        # membrane then ends within ulps of V_th, where any change in rounding flips spikes),
        # plus random ones
        gain = 1.0 - float(c.alpha) if tau_syn else 1.0
        target = (float(c.v_th) - float(c.v_rest)) * gain
        rng = np.random.default_rng(len(name))    # NumPy inputs: no XLA compilation for them
        shape = (batch, n) if constant else (steps, batch, n)
        ulps = np.arange(np.prod(shape)).reshape(shape) % 41 - 20
        near = target * (1 + ulps * np.finfo(dtype).eps)
        drive = np.where(np.arange(n) % 2 == 0, near, rng.normal(1.0, 1.5, shape)).astype(dtype)
        w, g_y, g_counts = (rng.normal(size=s).astype(dtype) for s in ((n, m), (steps, batch, m), (batch, n)))
        eye = np.eye(n, dtype=dtype)               # y = S @ I: the spike train itself

        def run(drive, w, g_y, g_counts, spec=spec, constant=constant):
            layer = lambda d, w: fused.lif_layer_projected(spec, d, w, steps, batch, constant)  # noqa: E731
            (y, _), vjp = jax.vjp(layer, drive, w)
            return layer(drive, eye), y, vjp((g_y, g_counts))

        (spikes, counts), y, (g_drive, g_w) = jax.jit(run)(drive, w, g_y, g_counts)
        assert float(counts.sum()) > 50, f"{name}: the layer must spike"
        for key, value in dict(spikes=spikes, counts=counts, y=y, g_drive=g_drive, g_w=g_w).items():
            results[f"{name}/{key}"] = np.asarray(value)
    np.savez(out_path, **results)


def _levels():
    """The kernel's level here (``bsnn._native.arch()``) and a second one this CPU runs: x86-64-v2,
    or, where that is the level here, the baseline x86-64."""
    from bsnn import _native as native
    if shutil.which(os.environ.get("CXX", "c++")) is None and shutil.which("g++") is None:
        pytest.skip("no C++ compiler: bsnn uses the XLA path")
    levels = native.x86_levels()
    if not levels:
        pytest.skip("instruction-set levels are compared on x86-64 only")
    default = native.arch()
    if default.startswith("x86-64") and default not in levels:
        pytest.skip(f"BSNN_NATIVE_ARCH={default} is beyond this CPU")
    other = "x86-64-v2" if "x86-64-v2" in levels and default != "x86-64-v2" else "x86-64"
    if other == default:
        pytest.skip(f"this CPU runs only {default}: no second level to compare")
    return default, other


def test_every_instruction_set_level_gives_the_same_bits(tmp_path):
    default, other = _levels()
    runs = {}
    for level in (default, other):
        out = tmp_path / f"{level}.npz"
        env = dict(os.environ, BSNN_NATIVE_ARCH=level, BSNN_NATIVE="1",
                   PYTHONPATH=os.pathsep.join([ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]))
        runs[level] = (out, subprocess.Popen([sys.executable, HERE, str(out)], cwd=ROOT, env=env,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for level, (out, proc) in runs.items():
        log, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{level}:\n{log[-3000:]}"
    ref = dict(np.load(runs[default][0]))
    assert str(ref.pop("arch")) == default
    assert len(ref) == 5 * len(_cases())
    got = dict(np.load(runs[other][0]))
    assert str(got.pop("arch")) == other
    differ = [key for key in ref if ref[key].dtype != got[key].dtype or ref[key].tobytes() != got[key].tobytes()]
    assert not differ, f"the kernel built for {other} differs from the one for {default} in {differ}"


# libm's functions other than the correctly rounded ones (fma, sqrt): glibc picks their
# variant by CPU features (FMA, AVX2), and the variants differ in the last bit (measured for
# exp: 2 of the floats in [-104, 89], 7 in 10^4 random doubles in [-50, 50]).
_HOST_DEPENDENT_LIBM = {f"{name}{suffix}" for suffix in ("", "f", "l") for name in (
    "exp", "exp2", "exp10", "expm1", "log", "log2", "log10", "log1p", "pow", "sin", "cos", "tan", "sincos",
    "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc",
    "lgamma", "tgamma", "cbrt", "hypot")}


def test_the_kernel_calls_no_libm_function_whose_result_depends_on_the_cpu():
    from bsnn import _native as native
    nm = shutil.which("nm")
    if nm is None or not native.available():
        pytest.skip("needs nm and the compiled kernel")
    path = native._library_path(native._compiler())
    out = subprocess.run([nm, "-D", "--undefined-only", path], capture_output=True, text=True, check=True).stdout
    imported = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    assert imported, "nm listed no imported symbols"
    assert not imported & _HOST_DEPENDENT_LIBM, sorted(imported & _HOST_DEPENDENT_LIBM)


if __name__ == "__main__":
    _worker(sys.argv[1])
