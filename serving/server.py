"""Starts, waits for and stops a local tritonserver on a model repository.

No export or engine build happens here: the server only loads what `python -m export` wrote.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from serving.tritonserver_dist import TritonDistribution, server_environment

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM to tritonserver if its launcher dies
    (a killed test run or demo must not leave a server holding ports and memory)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


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
class TritonServer:
    """One tritonserver process bound to 127.0.0.1 (use as a context manager)."""

    model_repository: Path
    ports: ServerPorts = field(default_factory=ServerPorts)
    log_file: Path = Path("logs/tritonserver.log")
    host: str = "127.0.0.1"
    extra_args: tuple[str, ...] = ()
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.ports.http}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

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
            *self.extra_args,
        ]

    def start(self, timeout_s: float = 300.0) -> "TritonServer":
        if not Path(self.model_repository).is_dir():
            raise FileNotFoundError(f"model repository {self.model_repository} does not exist; run `python -m export`")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log_handle = open(self.log_file, "ab")
        log.info("starting tritonserver on %s (grpc %d, http %d), log %s",
                 self.host, self.ports.grpc, self.ports.http, self.log_file)
        self._process = subprocess.Popen(
            self.command(), stdout=log_handle, stderr=subprocess.STDOUT, env=server_environment(),
            start_new_session=True, preexec_fn=_stop_with_parent,
        )
        log_handle.close()
        self.wait_ready(timeout_s)
        return self

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"tritonserver exited with code {self._process.returncode} during start-up; "
                    f"last log lines:\n{self.tail_log()}"
                )
            if self.is_ready():
                log.info("tritonserver ready (pid %d)", self._process.pid)
                return
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"tritonserver not ready after {timeout_s:.0f} s; log tail:\n{self.tail_log()}")

    def tail_log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout_s: float = 30.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        log.info("stopping tritonserver (pid %d)", process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("tritonserver did not stop in %.0f s; killing it", timeout_s)
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kills the server and its backend stubs at once (simulates a crash)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> "TritonServer":
        return self.start() if self._process is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
