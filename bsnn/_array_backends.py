"""brainunit's array-library detection without importing array libraries.

brainunit (saiunit >= 0.5) picks the array namespace of a quantity by asking, for each
library it knows (CuPy, PyTorch, dask, ndonnx), whether the mantissa is one of its arrays,
and it answers by importing that library. On a machine with PyTorch installed, the first
model bsnn builds therefore imports all of PyTorch, about 2.7 s on a 2-core Intel Xeon
(``python -m cProfile -m bsnn train ...``: ``brainpy.state.Expon.__init__`` ->
``saiunit._backend.is_torch_array``), in every process, for arrays that cannot be PyTorch's.

An array of a library can exist only after that library has been imported, so looking the
library up in ``sys.modules`` gives the same answer without the import. ``install`` puts
such checks in place of saiunit's four; everything else of saiunit, ``to_backend("torch")``
included, is unchanged. It is called once, by ``bsnn.units``, before bsnn builds anything.
"""

from __future__ import annotations

import sys

__all__ = ["install"]

_CHECKS = (("is_cupy_array", "cupy", "ndarray"), ("is_torch_array", "torch", "Tensor"),
           ("is_dask_array", "dask.array", "Array"), ("is_ndonnx_array", "ndonnx", "Array"))


def _is_array_of(module: str, cls: str):
    def check(x) -> bool:
        lib = sys.modules.get(module)
        return lib is not None and isinstance(x, getattr(lib, cls))
    check.__name__ = f"is_{module.split('.')[0]}_array"
    check.__doc__ = f"True if ``x`` is a {module}.{cls}; never imports {module}."
    return check


def install() -> None:
    """Replace saiunit's importing array checks (no-op without saiunit or those checks)."""
    try:
        from saiunit import _backend
    except ImportError:
        return
    for name, module, cls in _CHECKS:
        if callable(getattr(_backend, name, None)):
            setattr(_backend, name, _is_array_of(module, cls))
