"""Starts the gateway as its own process (uvicorn) and waits until it answers /healthz.

Used by the tests, the overhead measurement and anything else that needs a real gateway on a port.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

log = logging.getLogger(__name__)


@dataclass
class GatewayProcess:
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

    def start(self, timeout_s: float = 60.0) -> "GatewayProcess":
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        inherited = {key: value for key, value in os.environ.items()
                     if self.inherit_settings or not key.startswith("GATEWAY_")}
        env = {**inherited, **self.env}
        with open(self.log_file, "ab") as handle:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "--host", self.host, "--port", str(self.port)],
                stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=self.cwd, start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self._process.returncode}; log:\n{self.tail_log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"gateway not up after {timeout_s} s; log:\n{self.tail_log()}")

    def tail_log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout_s: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("gateway did not stop in %.0f s; killing it", timeout_s)
            process.kill()
            process.wait()

    def __enter__(self) -> "GatewayProcess":
        return self.start() if self._process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
