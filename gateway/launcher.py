"""Starts the gateway as its own process (uvicorn) and waits until it answers /healthz.

Used by the tests, the overhead measurement and anything else that needs a real gateway on a port.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from serving.process import ManagedProcess

log = logging.getLogger(__name__)


@dataclass
class GatewayProcess(ManagedProcess):
    service_name = "gateway"
    poll_interval_s = 0.1
    stop_timeout_s = 15.0

    port: int
    env: dict[str, str] = field(default_factory=dict)  # GATEWAY_* settings
    log_file: Path = Path("logs/gateway.log")
    host: str = "127.0.0.1"
    cwd: Path | None = None  # settings also read `.env` from the working directory
    inherit_settings: bool = True  # False: ignore GATEWAY_* variables of this process's environment
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gateway", "--host", self.host, "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        inherited = {key: value for key, value in os.environ.items()
                     if self.inherit_settings or not key.startswith("GATEWAY_")}
        return {**inherited, **self.env}

    def working_directory(self) -> Path | None:
        return self.cwd

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False
