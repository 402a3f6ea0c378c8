#!/usr/bin/env bash
# Issue 11's GPU report, on a CUDA host from this working tree:
#   bash scripts/gpu_report.sh [e2e] [fidelity] [components]     (default: all three)
# A host without a package index installs what it lacks from .whl/ (made by scripts/gpu_wheels.sh where pip
# works) into the interpreter `python3` (or $PYTHON), which must be Python 3.12 with torch and CUDA.
# Results, named after the GPU, go to benchmarks/results/ (or $RESULTS); logs to $LOG_DIR.
#   e2e:        SD1.5 architecture, 512 px, 30 steps, CFG: diffusers fp16 in-process vs Triton (torch fp16 on
#               CUDA, CUDA graphs, DLPack), latency at 1, throughput at 1/4/16, stage breakdown, per-step slope
#   fidelity:   the tiny preset served fp32 on the GPU vs diffusers fp32 on the CPU
#   components: the SD1.5 UNet and VAE decoder alone: eager vs channels_last vs CUDA graphs (where time goes)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
RESULTS=${RESULTS:-benchmarks/results}
LOG_DIR=${LOG_DIR:-logs/benchmarks}
steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(e2e fidelity components)
mkdir -p "$RESULTS" "$LOG_DIR"

site=$($PYTHON -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if ! $PYTHON -c 'import pytriton, diffusers, tritonclient.grpc' 2>/dev/null; then
  $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade .whl/*.whl
  tar -C "$site" -xJf .whl/tritonserver-pytriton-py312.tar.xz
fi
# The Python backend stub runs isolated (PYTHONPATH ignored): a .pth file puts this tree on its path.
echo "$PWD" > "$site/imagery_serving_tree.pth"
$PYTHON -c 'from serving.install import install_python_stub; from serving.tritonserver_dist import TritonDistribution as D; install_python_stub(D.locate())'
stub=$($PYTHON -c 'from serving.tritonserver_dist import TritonDistribution as D; print(D.locate().python_stub)')
libdir=$($PYTHON -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
if LD_LIBRARY_PATH="$libdir" ldd "$stub" | grep -q "libpython3.12.so.1.0 => not found"; then
  found=$(find / -xdev -name 'libpython3.12.so.1.0' 2>/dev/null | head -1)
  [ -n "$found" ] || { echo "no libpython3.12.so.1.0 on this host: the Python backend stub cannot start" >&2; exit 1; }
  ln -sf "$found" "$($PYTHON -c 'from serving.tritonserver_dist import TritonDistribution as D; print(D.locate().libs_dir)')/libpython3.12.so.1.0"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv || true

for step in "${steps[@]}"; do
  case "$step" in
    e2e) $PYTHON -m benchmarks e2e --preset sd15 --device cuda --runtimes torch --no-gateway \
           --output "$RESULTS" --log-dir "$LOG_DIR" ${E2E_ARGS:-} ;;
    fidelity) $PYTHON -m benchmarks.fidelity --preset tiny --precision fp32 --output "$RESULTS" --log-dir "$LOG_DIR" ;;
    components) $PYTHON -m benchmarks.gpu_components --output "$RESULTS" ;;
    *) echo "unknown step $step (e2e, fidelity, components)" >&2; exit 2 ;;
  esac
done
