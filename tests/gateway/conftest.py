"""Gateway fixtures: real uvicorn processes on 127.0.0.1 in front of the session's real tritonserver."""

from __future__ import annotations

import base64
import io
import itertools
import re
import time
from pathlib import Path
from typing import Callable

import httpx
import numpy as np
import pytest
from PIL import Image

from clients.triton_client import TritonGenerationClient, TritonTxt2ImgClient
from gateway.launcher import GatewayProcess
from serving.server import TritonServer, free_port

StartGateway = Callable[..., GatewayProcess]

# Long enough to disconnect or kill a replica mid-run on this 2-core machine (~5 s at 256 px).
LONG_REQUEST = {"prompt": "a long walnut sideboard", "num_inference_steps": 150, "width": 256, "height": 256}


@pytest.fixture(scope="session")
def launch_gateway(triton_server: TritonServer, tmp_path_factory: pytest.TempPathFactory):
    """Starts gateway processes with GATEWAY_* settings (keyword names, lower case); any still running are
    stopped at the end of the session. Tests use `start_gateway`; module fixtures stop theirs themselves.

    `dotenv` is written to a `.env` file in the gateway's working directory before it starts.
    """
    started: list[GatewayProcess] = []
    counter = itertools.count()

    def start(replicas: list[str] | None = None, dotenv: str | None = None, **settings: object) -> GatewayProcess:
        index = next(counter)
        workdir = tmp_path_factory.mktemp(f"gateway-{index}")
        if dotenv is not None:
            (workdir / ".env").write_text(dotenv)
        env = {
            "GATEWAY_REPLICAS": ",".join(replicas or [triton_server.grpc_url]),
            "GATEWAY_IMAGE_DIR": str(workdir / "images"),
            "GATEWAY_HEALTH_INTERVAL_S": "0.5",
            "GATEWAY_HEALTH_TIMEOUT_S": "1",
            **{f"GATEWAY_{name.upper()}": str(value) for name, value in settings.items()},
        }
        gateway = GatewayProcess(free_port(), env, log_file=workdir / "gateway.log", cwd=workdir,
                                 inherit_settings=False)
        started.append(gateway.start())
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def start_gateway(launch_gateway: StartGateway):
    """`launch_gateway` for one test: what it starts is stopped when the test ends. An idle gateway still
    probes every model of its replicas twice a second, so gateways left running slow every later test."""
    started: list[GatewayProcess] = []

    def start(*args: object, **settings: object) -> GatewayProcess:
        started.append(launch_gateway(*args, **settings))
        return started[-1]

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture(scope="session")
def gateway(launch_gateway: StartGateway) -> GatewayProcess:
    """The default gateway: no keys, no CORS, one replica (the session's tritonserver)."""
    return launch_gateway()


@pytest.fixture(scope="session")
def triton_client(triton_server: TritonServer):
    client = TritonTxt2ImgClient(triton_server.grpc_url)
    yield client
    client.close()


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def decode_b64_png(text: str) -> np.ndarray:
    return decode_png(base64.b64decode(text))


class MissingSeries(AssertionError):
    """The gateway's /metrics has no sample with this name and these labels."""


def metric(gateway: GatewayProcess, name: str, *, missing: float | None = None, **labels: str) -> float:
    """One sample of the gateway's /metrics.

    A series that is not there is an error (a misspelt name or label must not read as 0), unless the
    caller says what absence means with `missing` (e.g. a labelled counter before its first increment).
    """
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    if missing is not None:
        return missing
    raise MissingSeries(f"no sample {name}{labels or ''} in {gateway.url}/metrics")


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> float:
    """Seconds until `condition()` held; fails the test after `timeout_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)
    return time.monotonic() - started


class LogWatch:
    """New lines of a log file since the watch started."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def new_text(self) -> str:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            return handle.read().decode(errors="replace")


def cancelled_steps(log: LogWatch, model: str, timeout_s: float = 10) -> tuple[int, int]:
    """(steps done, steps asked) from the orchestrator's cancellation line in Triton's log, once it appears."""
    pattern = re.compile(rf"{model}: request cancelled after (\d+) of (\d+) denoising steps")
    try:
        wait_until(lambda: pattern.search(log.new_text()) is not None, timeout_s)
    except AssertionError:
        raise AssertionError(f"no cancellation of {model} in the Triton log {log.path} within {timeout_s} s") from None
    match = pattern.search(log.new_text())
    return int(match[1]), int(match[2])


def png_bytes(array: np.ndarray) -> bytes:
    """A lossless PNG of a uint8 array (HxW greyscale, HxWx3 RGB or HxWx4 RGBA)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()


def b64_png(array: np.ndarray) -> str:
    return base64.b64encode(png_bytes(array)).decode("ascii")


def sample_image(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth RGB test photo (gradients plus a little noise), uint8 [H, W, 3]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def box_mask(height: int = 96, width: int = 128) -> np.ndarray:
    """uint8 [H, W]: 255 (repaint) in a box in the middle, 0 elsewhere."""
    mask = np.zeros((height, width), np.uint8)
    mask[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
    return mask


@pytest.fixture(scope="session")
def generation_clients(triton_server: TritonServer):
    """Direct Triton gRPC clients per generation model (txt2img, img2img, inpaint)."""
    clients = {name: TritonGenerationClient(triton_server.grpc_url, "grpc", model_name=name)
               for name in ("txt2img", "img2img", "inpaint")}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="session")
def controlnet_kinds(triton_server: TritonServer) -> list[str]:
    """The ControlNets the session repository was exported with (tests/conftest.py: depth and seg)."""
    client = TritonGenerationClient(triton_server.grpc_url)
    try:
        return [kind for kind in ("depth", "seg") if client._client.is_model_ready(f"controlnet_{kind}")]
    finally:
        client.close()
