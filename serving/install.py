"""Installs the parts of Triton that pip cannot place: the Python backend stub and perf_analyzer.

Run by scripts/setup.sh; idempotent.
"""

from __future__ import annotations

import glob
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from serving.tritonserver_dist import TritonDistribution, venv_bin_dir

log = logging.getLogger(__name__)

# The last tritonclient wheel that ships perf_analyzer and runs on this glibc (see DESIGN section 5).
PERF_ANALYZER_WHEEL = "tritonclient==2.48.0"
PERF_ANALYZER_LIBS = {"libb64.so.0d": "libb64-*.so.0d", "libcudart.so.12": "libcudart-*.so.12*"}


def install_python_stub(dist: TritonDistribution) -> None:
    if not dist.python_stub.exists():
        shutil.copy2(dist.bundled_stub, dist.python_stub)
        log.info("installed Python backend stub %s", dist.python_stub)


def install_perf_analyzer(dist: TritonDistribution) -> Path:
    bin_dir = venv_bin_dir()
    binary = bin_dir / "perf_analyzer.bin"
    lib_dir = bin_dir.parent / "lib" / "perf_analyzer"
    lib_dir.mkdir(parents=True, exist_ok=True)
    for soname, pattern in PERF_ANALYZER_LIBS.items():
        matches = sorted(glob.glob(str(dist.libs_dir / pattern)))
        if not matches:
            raise RuntimeError(f"no {pattern} in {dist.libs_dir}")
        link = lib_dir / soname
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(matches[0])
    if not binary.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                 "--platform", "manylinux1_x86_64", "--python-version", "3.11", PERF_ANALYZER_WHEEL, "-d", tmp],
                check=True,
            )
            wheel = next(Path(tmp).glob("tritonclient-*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                member = next(n for n in archive.namelist() if n.endswith("/bin/perf_analyzer"))
                with archive.open(member) as src, open(binary, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        binary.chmod(0o755)
    wrapper = bin_dir / "perf_analyzer"
    wrapper.write_text(
        "#!/usr/bin/env bash\n"
        "# perf_analyzer from the tritonclient 2.48.0 wheel, with its libraries from nvidia-pytriton.\n"
        f'export LD_LIBRARY_PATH="{lib_dir}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"\n'
        f'exec "{binary}" "$@"\n'
    )
    wrapper.chmod(0o755)
    version = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True, check=True)
    version = (version.stdout + version.stderr).strip()
    log.info("perf_analyzer ready: %s (%s)", wrapper, version)
    return wrapper


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    dist = TritonDistribution.locate()
    install_python_stub(dist)
    install_perf_analyzer(dist)


if __name__ == "__main__":
    main()
