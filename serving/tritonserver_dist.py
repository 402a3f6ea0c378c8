"""Where the pip-installed Triton server (from the nvidia-pytriton wheel) and perf_analyzer live.

The wheel ships `tritonserver`, the Python backend and one backend stub per Python version; the stub
must sit in `backends/python/`, and the binaries need the wheel's bundled libraries plus the
interpreter's own libpython on LD_LIBRARY_PATH (the stub otherwise picks up the system libpython,
whose symbols do not match this interpreter's extension modules).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TritonDistribution:
    root: Path  # .../site-packages/pytriton/tritonserver

    @classmethod
    def locate(cls) -> "TritonDistribution":
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("nvidia-pytriton is not installed; run scripts/setup.sh")
        root = Path(list(spec.submodule_search_locations)[0]) / "tritonserver"
        if not (root / "bin" / "tritonserver").exists():
            raise RuntimeError(f"no tritonserver binary under {root}")
        return cls(root)

    @property
    def server_binary(self) -> Path:
        return self.root / "bin" / "tritonserver"

    @property
    def backends_dir(self) -> Path:
        return self.root / "backends"

    @property
    def python_stub(self) -> Path:
        return self.backends_dir / "python" / "triton_python_backend_stub"

    @property
    def bundled_stub(self) -> Path:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return self.root / "python_backend_stubs" / version / "triton_python_backend_stub"

    @property
    def libs_dir(self) -> Path:
        return self.root.parent.parent / "nvidia_pytriton.libs"


def venv_bin_dir() -> Path:
    return Path(sys.executable).parent


def library_path() -> str:
    """LD_LIBRARY_PATH for tritonserver, its stubs and perf_analyzer."""
    dist = TritonDistribution.locate()
    parts = [
        str(sysconfig.get_config_var("LIBDIR")),
        str(dist.libs_dir),
        str(venv_bin_dir().parent / "lib" / "perf_analyzer"),
    ]
    existing = os.environ.get("LD_LIBRARY_PATH")
    if existing:
        parts.append(existing)
    return os.pathsep.join(parts)


def server_environment() -> dict[str, str]:
    """Environment for tritonserver: the venv's bin first on PATH so the Python stub uses this venv."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(venv_bin_dir()), env.get("PATH", "")])
    env["LD_LIBRARY_PATH"] = library_path()
    # Components set their own thread counts; stop OpenMP in every stub from claiming all cores.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
