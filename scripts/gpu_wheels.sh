#!/usr/bin/env bash
# Puts in .whl/ what the GPU report (scripts/gpu_report.sh) installs on a CUDA host without a package index
# (Python 3.12 with torch, CUDA, transformers and onnxruntime already there): run it where pip works,
# after scripts/setup.sh. The device tool carries at most 64 MiB, so the Triton server is not the 55 MB
# nvidia-pytriton wheel but its server, Python backend, 3.12 stub and libraries repacked (~27 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.whl
mkdir -p "$WHEELS"
grep -qxF "/$WHEELS/" .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo "/$WHEELS/" >> .git/info/exclude; }
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
# The version constraints.txt pins (pip treats -, _ and . alike in names).
pinned() { grep -iE "^$(echo "$1" | sed 's/[-_.]/[-_.]/g')==" constraints.txt | head -1 || true; }
# numpy 1.26: the Python backend stub's pybind11 predates numpy 2's ABI. The rest: what the host lacks.
for package in diffusers tritonclient importlib_metadata protobuf numpy python-rapidjson open_clip_torch; do
  spec=$(pinned "$package")
  # Not pinned there (open_clip_torch): the version scripts/setup.sh installed.
  [ -n "$spec" ] || spec="$package==$(.venv/bin/python -m pip show "$package" | sed -n 's/^Version: //p')"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$WHEELS" "$spec"
done
bundle="$WHEELS/tritonserver-pytriton-py312.tar.xz"
if [ ! -f "$bundle" ]; then
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  stage=$(mktemp -d)
  server="$stage/pytriton/tritonserver"
  mkdir -p "$server/bin" "$server/backends/python" "$server/python_backend_stubs/3.12" "$stage/nvidia_pytriton.libs"
  touch "$stage/pytriton/__init__.py"
  cp "$site/pytriton/tritonserver/bin/tritonserver" "$server/bin/"
  cp "$site/pytriton/tritonserver/backends/python/"{libtriton_python.so,triton_python_backend_utils.py} "$server/backends/python/"
  cp "$site/pytriton/tritonserver/python_backend_stubs/3.12/triton_python_backend_stub" "$server/python_backend_stubs/3.12/"
  cp -r "$site/pytriton/tritonserver/caches" "$server/"
  cp "$site/nvidia_pytriton.libs/"* "$stage/nvidia_pytriton.libs/"
  rm -f "$stage/nvidia_pytriton.libs/"libpython3-*  # the 3.13 stub's interpreter
  tar -C "$stage" -cJf "$bundle" .
  rm -rf "$stage"
fi
du -sh "$WHEELS"
