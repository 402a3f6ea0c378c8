"""Replica discovery with real processes: tritonservers on loopback addresses behind a real DNS answer.

Three tritonservers serve a one-model repository (`foreground_mask`, torch-free: small and quick to start)
on 127.0.0.1, 127.0.0.3 and 127.0.0.4, all on the same ports, as pods behind a Kubernetes headless
Service are. A DNS server on loopback answers for the Service name; the test changes its records as
Kubernetes changes the Service's endpoints (a pod is listed once it is ready, and unlisted before it is
stopped), while clients send a steady stream of requests through the gateway.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image

from gateway.launcher import GatewayProcess
from serving.server import ServerPorts, TritonServer, free_port
from tests.gateway.conftest import metric, wait_until
from tests.gateway.loopback_dns import LoopbackDNS

log = logging.getLogger(__name__)

pytestmark = pytest.mark.integration  # exports a model and starts tritonservers itself

SERVICE = "triton-headless.imagery.svc.cluster.local"
HOSTS = ("127.0.0.1", "127.0.0.3", "127.0.0.4")
MODEL = "foreground_mask"
INTERVAL_S = 0.5  # the gateway's discovery and probe interval here (5 s and 2 s by default)
CLIENTS = 4


@pytest.fixture(scope="module")
def foreground_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.perception.repository import export_perception

    directory = tmp_path_factory.mktemp("repo-foreground")
    export_perception([MODEL], {"foreground": "tiny"}, directory, "onnxruntime", instance_count=1)
    return directory


@pytest.fixture(scope="module")
def replicas(foreground_repository: Path, tmp_path_factory: pytest.TempPathFactory):
    """The three servers, started together (their start-up overlaps) and stopped at the end."""
    ports = ServerPorts.free()
    logs = tmp_path_factory.mktemp("replica-logs")
    servers = {host: TritonServer(foreground_repository, ports, log_file=logs / f"{host}.log", host=host)
               for host in HOSTS}
    try:
        for server in servers.values():
            server.spawn()
        for server in servers.values():
            server.wait_ready(120)
        yield servers
    finally:  # stopped together: each waits for its models to unload
        stoppers = [threading.Thread(target=server.stop) for server in servers.values()]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()


@pytest.fixture(scope="module")
def dns_server():
    server = LoopbackDNS().start()
    yield server
    server.stop()


@pytest.fixture
def start_gateway(tmp_path: Path):
    started: list[GatewayProcess] = []

    def start(replicas: str, **settings: object) -> GatewayProcess:
        env = {"GATEWAY_REPLICAS": replicas, "GATEWAY_REQUIRED_MODELS": MODEL, "GATEWAY_STREAMING": "false",
               "GATEWAY_IMAGE_DIR": str(tmp_path / "images"), "GATEWAY_HEALTH_INTERVAL_S": str(INTERVAL_S),
               "GATEWAY_HEALTH_TIMEOUT_S": "1", "GATEWAY_DISCOVERY_INTERVAL_S": str(INTERVAL_S),
               **{f"GATEWAY_{name.upper()}": str(value) for name, value in settings.items()}}
        gateway = GatewayProcess(free_port(), env, log_file=tmp_path / f"gateway-{len(started)}.log", cwd=tmp_path,
                                 inherit_settings=False)
        started.append(gateway.start())
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


def _png(seed: int) -> str:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _served(server: TritonServer) -> int:
    """Requests this tritonserver answered successfully, from its own statistics."""
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        stats = client.get_inference_statistics(MODEL, as_json=True)["model_stats"][0]["inference_stats"]
        return int(stats["success"].get("count", 0))
    finally:
        client.close()


def _pool(gateway: GatewayProcess) -> dict[str, dict]:
    return {r["url"]: r for r in httpx.get(f"{gateway.url}/readyz", timeout=5).json()["replicas"]}


@dataclass
class RequestStream:
    """CLIENTS threads sending requests one after another until stopped; every answer is kept."""

    url: str
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "RequestStream":
        bodies = [{"image": _png(seed), "response_format": "b64_json"} for seed in range(CLIENTS)]
        for index in range(CLIENTS):
            thread = threading.Thread(target=self._run, args=(bodies[index],), name=f"client-{index}")
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, body: dict) -> None:
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 90  # bounded even if the test never stops it
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    response = client.post(f"{self.url}/v1/foreground-mask", json=body)
                    status = response.status_code
                    if status != 200:
                        self.failures.append(f"{status}: {response.text[:200]}")
                except httpx.HTTPError as error:
                    status = 0
                    self.failures.append(repr(error))
                self.statuses[status] += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def test_scale_1_3_2_during_a_stream_of_requests(replicas, dns_server, start_gateway) -> None:
    """Pods join when the Service lists them and drain when it drops them; every request succeeds."""
    one, two, three = (replicas[host] for host in HOSTS)
    dns_server.set(SERVICE, [one.host])
    gateway = start_gateway(f"dns:{SERVICE}:{one.ports.grpc}", dns_servers=dns_server.address)
    url = {host: f"{host}:{one.ports.grpc}" for host in HOSTS}
    assert list(_pool(gateway)) == [url[one.host]]

    served = {host: _served(server) for host, server in replicas.items()}
    spread: dict[str, dict[str, int]] = {}

    def end_phase(name: str, hosts: tuple[str, ...]) -> None:
        phase = spread.setdefault(name, {})
        for host in hosts:
            now = _served(replicas[host])
            phase[host] = phase.get(host, 0) + now - served[host]
            served[host] = now

    stream = RequestStream(gateway.url).start()
    try:
        # 1 replica.
        time.sleep(3)
        end_phase("1 replica", HOSTS)
        # 1 -> 3: two pods became ready, the Service lists them.
        dns_server.set(SERVICE, [one.host, two.host, three.host])
        joined = wait_until(lambda: sum(r["healthy"] for r in _pool(gateway).values()) == 3, 10)
        time.sleep(4)
        end_phase("3 replicas", HOSTS)
        # 3 -> 2: the Service drops the third pod; it is stopped once the gateway has drained it (Kubernetes:
        # the pod's preStop sleep outlasts the gateway's discovery interval, then SIGTERM).
        dns_server.set(SERVICE, [one.host, two.host])
        drained = wait_until(lambda: url[three.host] not in _pool(gateway), 10)
        end_phase("3 replicas", (three.host,))  # the drain's last requests count with the phase they ran in
        three.stop()
        time.sleep(3)
    finally:
        stream.stop()
    # Triton counts a request just after answering it.
    wait_until(lambda: sum(map(_served, (one, two))) - served[one.host] - served[two.host]
               == stream.total - sum(sum(phase.values()) for phase in spread.values()), 5)
    end_phase("2 replicas", (one.host, two.host))

    gateway_log = gateway.log_file.read_text()
    removed = re.escape(url[three.host])
    removal = re.search(rf"replica {removed} removed: draining \((\d+) requests in flight\)", gateway_log)
    assert removal and f"replica {url[three.host]} drained and left the pool" in gateway_log
    log.info("discovery 1 -> 3 -> 2: %d requests, %d failed (statuses %s); joined in %.2f s, drained in %.2f s "
             "(%s requests in flight on the removed replica when it left DNS); requests served per replica and "
             "phase: %s", stream.total, len(stream.failures), dict(stream.statuses), joined, drained, removal[1],
             spread)
    assert stream.failures == [] and stream.statuses[200] == stream.total > 100
    assert sum(sum(phase.values()) for phase in spread.values()) == stream.total  # each answered exactly once
    assert spread["1 replica"] == {one.host: spread["1 replica"][one.host], two.host: 0, three.host: 0}
    for phase, hosts in (("3 replicas", HOSTS), ("2 replicas", (one.host, two.host))):
        total = sum(spread[phase].values())
        for host in hosts:  # least-outstanding balancing spreads CLIENTS concurrent clients evenly
            assert spread[phase][host] >= 0.15 * total, (phase, spread[phase])
    assert set(_pool(gateway)) == {url[one.host], url[two.host]}
    assert metric(gateway, "gateway_replica_changes_total", change="added") == 3
    assert metric(gateway, "gateway_replica_changes_total", change="removed") == 1
    assert metric(gateway, "gateway_discovered_addresses", target=f"dns:{SERVICE}:{one.ports.grpc}") == 2
    with pytest.raises(AssertionError):  # a drained replica's series leave /metrics
        metric(gateway, "gateway_replica_in_flight", replica=url[three.host])


def test_dns_outage_keeps_the_replicas_and_zero_pods_empties_the_pool(replicas, dns_server, start_gateway) -> None:
    one, two = replicas[HOSTS[0]], replicas[HOSTS[1]]
    dns_server.set(SERVICE, [one.host, two.host])
    gateway = start_gateway(f"dns:{SERVICE}:{one.ports.grpc}", dns_servers=dns_server.address, dns_timeout_s=0.3)
    body = {"image": _png(0), "response_format": "b64_json"}
    wait_until(lambda: sum(r["healthy"] for r in _pool(gateway).values()) == 2, 10)

    # No answer from DNS: the last known replicas stay and keep serving.
    dns_server.silent = True
    try:
        wait_until(lambda: metric(gateway, "gateway_discovery_errors_total", missing=0,
                                  target=f"dns:{SERVICE}:{one.ports.grpc}") >= 2, 10)
        assert len(_pool(gateway)) == 2
        assert httpx.post(f"{gateway.url}/v1/foreground-mask", json=body, timeout=30).status_code == 200
    finally:
        dns_server.silent = False

    # The Service has no ready pod (NXDOMAIN): nothing to route to, a quick 503; pods come back, it serves.
    dns_server.set(SERVICE, [])
    wait_until(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 503, 10)
    assert _pool(gateway) == {}
    response = httpx.post(f"{gateway.url}/v1/foreground-mask", json=body, timeout=30)
    assert response.status_code == 503 and response.json()["error"]["code"] == "no_replica_available"
    dns_server.set(SERVICE, [two.host])
    wait_until(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 200, 10)
    assert httpx.post(f"{gateway.url}/v1/foreground-mask", json=body, timeout=30).status_code == 200


def test_system_resolver_and_fixed_addresses_together(replicas, start_gateway) -> None:
    """Without GATEWAY_DNS_SERVERS the name goes through getaddrinfo (here /etc/hosts: localhost)."""
    one, two = replicas[HOSTS[0]], replicas[HOSTS[1]]
    assert one.host == "127.0.0.1"  # what localhost resolves to
    gateway = start_gateway(f"dns:localhost:{one.ports.grpc},{two.grpc_url}")
    pool = _pool(gateway)
    assert pool[one.grpc_url]["healthy"] and pool[two.grpc_url]["healthy"]
    assert len(pool) == 2
