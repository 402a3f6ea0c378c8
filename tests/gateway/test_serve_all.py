"""One command serves both: `python -m gateway --with-triton` starts tritonserver and the gateway, and stops both."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx

from serving.server import TritonServer, free_port
from tests.gateway.conftest import wait_until


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_with_triton_serves_then_stops_both(txt2img_repository, tmp_path) -> None:
    port, grpc, http, metrics = free_port(), free_port(), free_port(), free_port()
    command = [sys.executable, "-m", "gateway", "--with-triton", "--model-repository", str(txt2img_repository),
               "--port", str(port), "--triton-grpc-port", str(grpc), "--triton-http-port", str(http),
               "--triton-metrics-port", str(metrics), "--triton-log-file", str(tmp_path / "triton.log")]
    env = {"GATEWAY_IMAGE_DIR": str(tmp_path / "images"), "PATH": "/usr/bin:/bin"}
    with open(tmp_path / "serve-all.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "serve-all.log").read_text()[-3000:]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        # tritonserver loads every model of the repository first (minutes on a loaded 2-core machine).
        wait_until(ready, TritonServer.start_timeout_s, 0.5)
        replicas = httpx.get(f"http://127.0.0.1:{port}/readyz").json()["replicas"]
        assert [r["url"] for r in replicas] == [f"127.0.0.1:{grpc}"]
        response = httpx.post(f"http://127.0.0.1:{port}/v1/txt2img", json={"prompt": "a", "num_inference_steps": 2},
                              timeout=60)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert not _port_open(port) and not _port_open(grpc)  # tritonserver went down with the gateway
