"""Starts the REST gateway in front of a benchmark's tritonserver, when the gateway exists.

The gateway is its own package (gateway/); the benchmark starts `python -m gateway` with the benchmark's
tritonserver as its only replica, and waits for `/readyz`. The command is a template (`{python}`,
`{host}`, `{port}`, `{triton_grpc}`) so a changed gateway CLI needs no code change here.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from serving.process import ManagedProcess
from serving.server import free_port

log = logging.getLogger(__name__)

DEFAULT_COMMAND = "{python} -m gateway --host {host} --port {port} --replicas {triton_grpc}"
READY_PATH = "/readyz"  # 200 once a replica serves the models the gateway needs


def gateway_available() -> str | None:
    """None when the gateway can be started, else why not."""
    if importlib.util.find_spec("gateway") is None:
        return "no gateway package"
    if importlib.util.find_spec("gateway.__main__") is None:
        return "gateway package has no entry point (gateway/__main__.py) yet"
    return None


@dataclass
class GatewayProcess(ManagedProcess):
    service_name = "gateway"
    poll_interval_s = 0.3
    stop_timeout_s = 15.0

    triton_grpc: str
    log_file: Path
    command_template: str = DEFAULT_COMMAND
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return shlex.split(self.command_template.format(
            python=shlex.quote(sys.executable), host=self.host, port=self.port, triton_grpc=self.triton_grpc))

    def environment(self) -> dict[str, str]:
        return {**os.environ, "GATEWAY_REPLICAS": self.triton_grpc}

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + READY_PATH, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
