"""Compiled CPU kernels for the fused hidden layer, called through JAX's FFI.

``bsnn._fused`` runs a feed-forward spiking hidden layer and the next layer's projection as
one operation. On the CPU backend that operation is, when possible, a C++ kernel
(``bsnn/kernels/lif_cpu.cc``) instead of an XLA while loop: each batch row advances through
all its steps with the state in cache, rows are split over the cores, and the reverse pass
recomputes a row's membrane trace instead of storing ``[T, B, N]`` (see the source's header
for the math). The membrane, and so every spike, is bit for bit that of ``lif_step`` under
XLA (``tests/test_native.py``) where XLA fuses the update into the same multiply-adds: always
for a constant drive without synaptic current. With a per-step drive or a synaptic current,
XLA's loop (unrolled by ``bsnn._fused.UNROLL``) puts the other product inside the
multiply-add in steps 2-5 of each unrolled group, so a membrane within an ulp of threshold
can spike in one path and not in the other (no spike count differed in 6.4e7 random membrane
updates of each kind; drives set at the threshold show it). Gradients equal the XLA path's up
to float summation order.

The kernel is compiled once per machine with the system C++ compiler (``$CXX``, else ``c++``)
against the FFI headers shipped with jaxlib (about 10-25 s, the first time a fused layer is
traced; one line on stderr says so), and cached in ``$BSNN_CACHE`` (default ``~/.cache/bsnn``)
under ``kernels/``, keyed by the source, the compiler and its version, the flags, jaxlib and
the instruction-set level (about 0.3 MB each). Without a compiler, on another backend, or
with ``BSNN_NATIVE=0``, bsnn uses the XLA path (the same spikes, as above); ``available()``
tells which.

The kernel is built for a named instruction-set level, not ``-march=native``: the highest of
``x86-64``, ``x86-64-v2`` (SSE4.2), ``x86-64-v3`` (AVX2, FMA), ``x86-64-v4`` (AVX-512) the CPU
runs, the compiler's default target elsewhere (``arch()``; ``$BSNN_NATIVE_ARCH`` overrides
it, ``native`` included). The level changes the speed only: the kernel's results are the
same bits at every level and on every host (IEEE operations only, no libm function whose
variant depends on the CPU; ``tests/test_host_independence.py``).

Used when (``supports``): the default backend is the CPU, the layer's constants are scalars,
its surrogate is one of ``bsnn.surrogates`` (a ``braintools`` ``Arctan``, ``Sigmoid``,
``ReluGrad``, ``InvSquareGrad``, ``GaussianGrad`` or ``SlayerGrad``), the next layer has at
most ``MAX_NEXT`` units (a read-out: the kernels form ``S @ W`` and ``g_y @ W^T`` per row
and step, which only pays for a narrow layer) and the dtype is float32 or float64.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings

import braintools
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["arch", "available", "supports", "obstacles", "fused_forward", "fused_backward"]

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels", "lif_cpu.cc")
# -ffp-contract=off: only the source's std::fma calls fuse. -fno-trapping-math: no floating-point
# exception is ever read, so selects may be computed branch-free (the exp of three surrogates
# vectorizes); it changes no value. The -march flag comes from arch().
FLAGS = ("-O3", "-ffp-contract=off", "-fno-trapping-math", "-shared", "-fPIC", "-std=c++17", "-w")
ARCH_ENV = "BSNN_NATIVE_ARCH"
# The x86-64 micro-architecture levels (what GCC >= 11 and clang >= 12 take as -march) and the
# CPU features each needs beyond the one below (the names NumPy's CPU dispatch reports).
_X86_LEVELS = {"x86-64-v2": ("SSE3", "SSSE3", "SSE41", "SSE42", "POPCNT"),
               "x86-64-v3": ("AVX", "AVX2", "FMA3", "F16C", "BMI", "BMI2", "LZCNT", "MOVBE"),
               "x86-64-v4": ("AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL")}
TARGETS = {"forward": "BsnnFusedForward", "backward": "BsnnFusedBackward"}
MAX_NEXT = 64   # kMaxNext of lif_cpu.cc: wider next layers (hidden -> hidden) stay on the XLA path

# braintools surrogate class -> (kernel id, names of its two parameters); the ids of lif_cpu.cc.
_SURROGATES = {
    braintools.surrogate.Arctan: (0, "alpha", None),
    braintools.surrogate.Sigmoid: (1, "alpha", None),
    braintools.surrogate.ReluGrad: (2, "alpha", "width"),
    braintools.surrogate.InvSquareGrad: (3, "alpha", None),
    braintools.surrogate.GaussianGrad: (4, "alpha", "sigma"),
    braintools.surrogate.SlayerGrad: (5, "alpha", None),
}


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++") or shutil.which("clang++")


def _cpu_id() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((l for l in f if l.startswith(("flags", "Features"))), platform.processor())
    except OSError:
        return platform.processor()


def _cpu_features() -> set:
    """The CPU's features by NumPy's names (from CPUID, as NumPy dispatches), else from /proc/cpuinfo."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            features = None
    if features:
        return {name for name, present in features.items() if present}
    names = {"pni": "SSE3", "ssse3": "SSSE3", "sse4_1": "SSE41", "sse4_2": "SSE42", "popcnt": "POPCNT",
             "avx": "AVX", "avx2": "AVX2", "fma": "FMA3", "f16c": "F16C", "bmi1": "BMI", "bmi2": "BMI2",
             "abm": "LZCNT", "movbe": "MOVBE", "avx512f": "AVX512F", "avx512bw": "AVX512BW",
             "avx512cd": "AVX512CD", "avx512dq": "AVX512DQ", "avx512vl": "AVX512VL"}
    return {names[f] for f in _cpu_id().split() if f in names}


def x86_levels() -> list:
    """The x86-64 levels this CPU runs, lowest first (empty on other machines)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    have, levels = _cpu_features(), ["x86-64"]
    for level, needs in _X86_LEVELS.items():
        if not set(needs) <= have:
            break
        levels.append(level)
    return levels


def arch() -> str:
    """The ``-march`` the kernel is built for: ``$BSNN_NATIVE_ARCH`` if set (``native`` for the
    build machine's own), else the highest x86-64 level this CPU runs (x86-64, -v2, -v3 or -v4),
    and elsewhere (ARM) the compiler's default target (empty: no ``-march``). The level changes
    the speed, never the numbers (``tests/test_host_independence.py``)."""
    env = os.environ.get(ARCH_ENV, "").strip()
    if env:
        return env
    levels = x86_levels()
    return levels[-1] if levels else ""


def _flags(march: str) -> tuple:
    return FLAGS + ((f"-march={march}",) if march else ())


@functools.lru_cache(maxsize=None)
def _compiler_version(cxx: str) -> str:
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout.split("\n")[0]
    except (OSError, subprocess.SubprocessError):
        return ""


def _library_path(cxx: str, march: str | None = None) -> str:
    """Where the library built by ``cxx`` for ``march`` (default ``arch()``) is cached."""
    march = arch() if march is None else march
    with open(SOURCE, "rb") as f:
        key = hashlib.sha256(f.read())
    parts = [cxx, _compiler_version(cxx), *_flags(march), jax.ffi.include_dir(), jax.__version__, platform.machine()]
    if march == "native":                  # then the code depends on the CPU itself
        parts.append(_cpu_id())
    for part in parts:
        key.update(part.encode())
    root = os.environ.get("BSNN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "bsnn")
    return os.path.join(root, "kernels", f"lif_cpu-{key.hexdigest()[:16]}.so")


def _build(cxx: str, path: str, march: str | None = None):
    """Compile into a temporary file beside ``path``, then rename: never a half-written library."""
    march = arch() if march is None else march
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=os.path.dirname(path))
    os.close(fd)
    print(f"building bsnn's CPU kernel for {march or 'this CPU'} (once per machine, about 10-25 s)...",
          file=sys.stderr, flush=True)
    try:
        cmd = [cxx, *_flags(march), "-I", jax.ffi.include_dir(), SOURCE, "-o", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """Build (once), load and register the kernels; False (with a warning) when that fails."""
    if os.environ.get("BSNN_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    cxx = _compiler()
    if cxx is None:
        warnings.warn("bsnn: no C++ compiler found; the fused hidden layer runs as an XLA loop "
                      "(same results, slower on CPU)", RuntimeWarning, stacklevel=2)
        return False
    march = arch()
    levels = x86_levels()
    if march.startswith("x86-64") and levels and march not in levels:
        warnings.warn(f"bsnn: {ARCH_ENV}={march} is beyond this CPU (it runs {', '.join(levels)}); the fused "
                      f"hidden layer runs as an XLA loop", RuntimeWarning, stacklevel=2)
        return False
    try:
        path = _library_path(cxx, march)
        if not os.path.exists(path):
            _build(cxx, path, march)
        lib = ctypes.cdll.LoadLibrary(path)
        for kind, symbol in TARGETS.items():
            for suffix in ("F32", "F64"):
                jax.ffi.register_ffi_target(f"bsnn_fused_{kind}_{suffix.lower()}",
                                            jax.ffi.pycapsule(getattr(lib, symbol + suffix)), platform="cpu")
    except Exception as err:  # noqa: BLE001 - any failure means: use the XLA path
        warnings.warn(f"bsnn: the CPU kernels could not be built or loaded ({err}); the fused hidden "
                      f"layer runs as an XLA loop (same results, slower)", RuntimeWarning, stacklevel=2)
        return False
    return True


def _surrogate(spike_fn):
    """``(kernel id, a, b)`` of a surrogate the kernels implement with scalar parameters, else None."""
    entry = _SURROGATES.get(type(spike_fn))
    if entry is None:
        return None
    kind, *names = entry
    values = [getattr(spike_fn, name) if name else 0.0 for name in names]
    if not all(isinstance(v, (int, float, np.number)) or (isinstance(v, np.ndarray) and v.ndim == 0)
               for v in values):
        return None                         # array or traced parameters: the XLA path handles them
    return (kind, *(float(v) for v in values))


def obstacles(spec, dtype, n_next: int) -> list:
    """Why the kernels cannot run this fused layer feeding ``n_next`` units (empty: they can;
    see the module docstring). Builds them on first use."""
    c = spec.constants
    out = []
    if jax.default_backend() != "cpu":
        out.append(f"the backend is {jax.default_backend()}, the kernel is CPU-only")
    if not all(np.ndim(x) == 0 for x in (c.alpha, c.beta, c.v_th, c.v_reset, c.v_rest)):
        out.append("per-neuron constants (the kernel takes one value per layer)")
    if not c.spiking:
        out.append("the layer does not spike")
    if _surrogate(spec.spike_fn) is None:
        out.append(f"the surrogate {type(spec.spike_fn).__name__} is not one of the kernel's")
    if n_next > MAX_NEXT:
        out.append(f"the next layer has {n_next} units (the kernel feeds at most {MAX_NEXT})")
    if jnp.dtype(dtype) not in (jnp.float32, jnp.float64):
        out.append(f"dtype {jnp.dtype(dtype).name} (the kernel runs float32 and float64)")
    if not out and not available():
        out.append("the kernel is not available here (BSNN_NATIVE=0, no compiler, or its build failed)")
    return out


def supports(spec, dtype, n_next: int) -> bool:
    """The kernels can run this fused layer, feeding ``n_next`` units; builds them on first use."""
    return not obstacles(spec, dtype, n_next)


def _layer_attrs(spec, constant: bool) -> dict:
    """The layer's constants as the kernel takes them: the Python numbers XLA would round."""
    c = spec.constants
    return dict(constant=bool(constant), soft=bool(c.soft_reset), alpha=float(c.alpha), beta=float(c.beta),
                omb=float(1.0 - c.beta), vth=float(c.v_th), vreset=float(c.v_reset), vrest=float(c.v_rest),
                r=float(c.v_th - c.v_reset))


def _suffix(dtype) -> str:
    return "f64" if jnp.dtype(dtype) == jnp.float64 else "f32"


def fused_forward(spec, drive, w_next, steps: int, constant: bool):
    """``(y [T, B, M], counts [B, N])`` of the fused layer (``bsnn._fused.lif_layer_projected``)."""
    batch, n_out = drive.shape[-2:]
    out = (jax.ShapeDtypeStruct((steps, batch, w_next.shape[1]), drive.dtype),
           jax.ShapeDtypeStruct((batch, n_out), drive.dtype))
    call = jax.ffi.ffi_call(f"bsnn_fused_forward_{_suffix(drive.dtype)}", out, vmap_method="sequential")
    return call(drive, w_next, **_layer_attrs(spec, constant))


def fused_backward(spec, drive, w_next, g_y, g_counts, constant: bool):
    """``(g_drive, g_w_next)`` for the cotangents ``g_y [T, B, M]`` and ``g_counts [B, N]`` (or None)."""
    kind, sg_a, sg_b = _surrogate(spec.spike_fn)
    out = (jax.ShapeDtypeStruct(drive.shape, drive.dtype), jax.ShapeDtypeStruct(w_next.shape, w_next.dtype))
    call = jax.ffi.ffi_call(f"bsnn_fused_backward_{_suffix(drive.dtype)}", out, vmap_method="sequential")
    has_counts = g_counts is not None
    if not has_counts:
        g_counts = jnp.zeros((1, 1), drive.dtype)
    return call(drive, w_next, g_y, g_counts, **_layer_attrs(spec, constant), surrogate=np.int64(kind),
                sg_a=sg_a, sg_b=sg_b, has_counts=has_counts)
