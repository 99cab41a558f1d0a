#!/usr/bin/env bash
# Run the peer comparison, the scaling sweep and the roofline on the JAX GPU backend.
#
#   bash benchmarks/gpu.sh [--quick] [--no-install]
#
# 1. Installs bsnn with its CUDA extra (`pip install -e ".[cuda]"`, i.e. jax[cuda12] for
#    jax 0.10.2: the jaxlib and jax-cuda12-plugin wheels with the CUDA 12 libraries) and the
#    `bench` extra (torch, snntorch), unless --no-install (for a machine without network:
#    install the wheels beforehand).
# 2. Checks that JAX sees a GPU and stops if it does not (no silent CPU numbers).
# 3. Runs the benchmarks with JAX_PLATFORMS=cuda and no GPU memory preallocation (several
#    contestant processes share the GPU), the PyTorch peers on CUDA if this torch has it.
#    Results go to benchmarks/results/*_gpu.{json,md} (compare_peers_gpu, bptt_throughput_gpu,
#    sweep_gpu, roofline_gpu) with the device named in each file.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=""
INSTALL=1
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK="--quick" ;;
        --no-install) INSTALL=0 ;;
        *) echo "usage: bash benchmarks/gpu.sh [--quick] [--no-install]" >&2; exit 2 ;;
    esac
done

if [ "$INSTALL" = 1 ]; then
    # bsnn's cuda extra, and jax[cuda12] at the installed jax version in case the extra is missing
    JAX_VERSION=$(python -c "import jax; print(jax.__version__)" 2>/dev/null || echo 0.10.2)
    python -m pip install -e ".[cuda]" "jax[cuda12]==$JAX_VERSION"
    python -m pip install "torch==2.13.0" "snntorch>=1.0" || echo "warning: PyTorch peers not installed" >&2
fi

export XLA_PYTHON_CLIENT_PREALLOCATE=false
# Full float32 matmuls, as PyTorch's default on CUDA (JAX may otherwise use TF32 on Ampere and
# later): the contestants then do the same arithmetic. Override to compare TF32.
export JAX_DEFAULT_MATMUL_PRECISION=${JAX_DEFAULT_MATMUL_PRECISION:-highest}
python - <<'EOF'
import jax
backend = jax.default_backend()
if backend != "gpu":
    raise SystemExit(f"JAX does not see a GPU (backend {backend!r}, devices {jax.devices()}); "
                     "install bsnn[cuda] on a machine with an NVIDIA driver")
print("JAX devices:", [f"{d} ({d.device_kind})" for d in jax.devices()])
EOF
export JAX_PLATFORMS=cuda
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

TORCH_DEVICE=$(python -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')" 2>/dev/null || echo cpu)
echo "PyTorch peers on: $TORCH_DEVICE"

python benchmarks/compare_peers.py $QUICK --torch-device "$TORCH_DEVICE"
python benchmarks/bptt_throughput.py $QUICK
python benchmarks/sweep.py $QUICK --max-gb 60
python benchmarks/roofline.py $QUICK
