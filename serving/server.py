"""Starts, waits for and stops a local tritonserver on a model repository.

No export or engine build happens here: the server only loads what `python -m export` wrote.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from serving.process import ManagedProcess
from serving.tritonserver_dist import TritonDistribution, server_environment

log = logging.getLogger(__name__)

# A repository exported for CUDA passes tensors between its Python-backend models in GPU memory, through Triton's
# CUDA memory pool (64 MB by default: a few concurrent SD1.5 steps' hidden states and latents). 1 GiB covers
# 16 concurrent requests with room to spare.
CUDA_POOL_ARGS = ("--cuda-memory-pool-byte-size=0:1073741824",)
# Where the Python backend keeps each stub's shared-memory region (named <prefix><id>).
SHM_DIR = Path("/dev/shm")


def uses_gpu(model_repository: Path) -> bool:
    """Whether any model of the repository runs as a GPU instance (exported with `--device cuda`)."""
    return any("KIND_GPU" in config.read_text() for config in Path(model_repository).glob("*/config.pbtxt"))


def load_only(models: Iterable[str]) -> tuple[str, ...]:
    """tritonserver arguments that load just `models` of a repository (explicit model control). Orchestrators
    call their components through BLS, which Triton does not see as dependencies: list those too. Every Python
    stub not started saves a server start its imports (~7 s of CPU for one importing torch and diffusers)."""
    return ("--model-control-mode=explicit", *(f"--load-model={name}" for name in models))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerPorts:
    http: int = 8000
    grpc: int = 8001
    metrics: int = 8002

    @classmethod
    def free(cls) -> "ServerPorts":
        return cls(free_port(), free_port(), free_port())


@dataclass
class TritonServer(ManagedProcess):
    """One tritonserver process bound to 127.0.0.1 (use as a context manager)."""

    service_name = "tritonserver"
    start_timeout_s = 600.0

    model_repository: Path
    ports: ServerPorts = field(default_factory=ServerPorts)
    log_file: Path = Path("logs/tritonserver.log")
    host: str = "127.0.0.1"
    extra_args: tuple[str, ...] = ()
    # One prefix per server (kept across restarts), so what a killed server's stubs left in /dev/shm is known.
    shm_prefix: str = field(default_factory=lambda: f"triton_python_backend_shm_region_{uuid.uuid4().hex[:12]}_")
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.ports.http}"

    def command(self) -> list[str]:
        dist = TritonDistribution.locate()
        return [
            str(dist.server_binary),
            f"--model-repository={Path(self.model_repository).resolve()}",
            f"--backend-directory={dist.backends_dir}",
            f"--http-address={self.host}",
            f"--grpc-address={self.host}",
            f"--http-port={self.ports.http}",
            f"--grpc-port={self.ports.grpc}",
            f"--metrics-address={self.host}",
            f"--metrics-port={self.ports.metrics}",
            "--allow-metrics=true",
            "--allow-gpu-metrics=false",
            "--exit-timeout-secs=10",
            # Every config.pbtxt is complete (written by `python -m export`). With auto-complete on, the Python
            # backend starts one extra stub per model just to ask model.py for its config, and that stub imports
            # everything model.py imports (torch and diffusers for an orchestrator: ~7 s of CPU each).
            "--disable-auto-complete-config",
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
            *(CUDA_POOL_ARGS if uses_gpu(self.model_repository) else ()),
            *self.extra_args,
        ]

    def environment(self) -> dict[str, str]:
        return server_environment()

    def start(self, timeout_s: float | None = None) -> "TritonServer":
        if not Path(self.model_repository).is_dir():
            raise FileNotFoundError(f"model repository {self.model_repository} does not exist; run `python -m export`")
        log.info("starting tritonserver on %s (grpc %d, http %d), log %s",
                 self.host, self.ports.grpc, self.ports.http, self.log_file)
        return super().start(timeout_s)

    def after_exit(self) -> None:
        """A killed or crashed tritonserver leaves its Python stubs' shared-memory regions in /dev/shm (RAM): 1 MiB
        each at first, grown to the largest tensors a stub passed. A clean stop removes them itself."""
        leftovers = sorted(SHM_DIR.glob(f"{self.shm_prefix}*"))
        for region in leftovers:
            region.unlink(missing_ok=True)
        if leftovers:
            log.warning("removed %d shared-memory regions tritonserver left in %s", len(leftovers), SHM_DIR)

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
