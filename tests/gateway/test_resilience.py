"""Replica failover, all replicas down, recovery and per-request timeouts, with real tritonservers."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest

from clients.triton_client import TritonTxt2ImgClient
from serving.server import ServerPorts, TritonServer
from tests.gateway.conftest import LONG_REQUEST, LogWatch, cancelled_steps, decode_png, metric, wait_until


@pytest.fixture(scope="module")
def second_replica(txt2img_repository, tmp_path_factory):
    """A second tritonserver on the same repository (killed and restarted by the tests)."""
    server = TritonServer(txt2img_repository, ServerPorts.free(), log_file=tmp_path_factory.mktemp("replica2") / "triton.log")
    server.start()
    yield server
    server.stop()


def _txt2img_successes(server: TritonServer) -> int:
    client = TritonTxt2ImgClient(server.grpc_url)
    try:
        return int(client.model_statistics("txt2img")["inference_stats"]["success"].get("count", 0))  # absent: 0
    finally:
        client.close()


def test_requests_go_to_the_replica_with_fewest_in_flight(start_gateway, triton_server, second_replica) -> None:
    """Not round-robin: while one replica holds a long request, every new request goes to the other one."""
    if not second_replica.running:
        second_replica.start()
    servers = {triton_server.grpc_url: triton_server, second_replica.grpc_url: second_replica}
    gateway = start_gateway(replicas=list(servers))
    wait_until(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 200, 10)
    in_flight = lambda url: metric(gateway, "gateway_replica_in_flight", replica=url)  # noqa: E731

    leave = threading.Event()

    def hold_a_replica() -> None:  # a long stream, read until told to leave (which cancels it)
        with httpx.stream("POST", f"{gateway.url}/v1/txt2img", json={**LONG_REQUEST, "stream": True},
                          timeout=60) as response:
            for _ in response.iter_lines():
                if leave.is_set():
                    break

    holder = threading.Thread(target=hold_a_replica)
    holder.start()
    try:
        wait_until(lambda: sum(in_flight(url) for url in servers) == 1, 10)
        busy = next(url for url in servers if in_flight(url) == 1)
        idle = next(url for url in servers if url != busy)
        before = {url: _txt2img_successes(server) for url, server in servers.items()}
        for seed in range(4):  # sequential: the idle replica has 0 in flight each time, the busy one 1
            response = httpx.post(f"{gateway.url}/v1/txt2img", json={"prompt": "a stool", "seed": seed,
                                                                     "num_inference_steps": 2}, timeout=60)
            assert response.status_code == 200, response.text
        assert in_flight(busy) == 1  # the long request was running the whole time
        served = lambda: {url: _txt2img_successes(server) - before[url] for url, server in servers.items()}  # noqa: E731
        wait_until(lambda: sum(served().values()) == 4, 5)  # Triton counts a request just after answering it
        assert served() == {idle: 4, busy: 0}  # round-robin would have sent the busy replica 2 of the 4
    finally:
        leave.set()
        holder.join(60)
    wait_until(lambda: in_flight(busy) == 0, 10)


def test_killing_a_replica_mid_run_loses_no_request(start_gateway, triton_server, second_replica, triton_client) -> None:
    gateway = start_gateway(replicas=[triton_server.grpc_url, second_replica.grpc_url])
    assert all(replica["healthy"] for replica in httpx.get(f"{gateway.url}/readyz").json()["replicas"])
    seeds = list(range(100, 110))
    results: dict[int, httpx.Response] = {}

    def run() -> None:  # sequential requests; the balancer alternates between the two replicas
        with httpx.Client(timeout=60) as client:
            for seed in seeds:
                results[seed] = client.post(f"{gateway.url}/v1/txt2img",
                                            json={"prompt": "an oak table", "seed": seed, "num_inference_steps": 40})

    runner = threading.Thread(target=run)
    runner.start()
    # Kill the second replica while one of the requests is running on it.
    wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=second_replica.grpc_url) == 1, 30, 0.01)
    second_replica.kill()
    runner.join(120)

    assert [results[seed].status_code for seed in seeds] == [200] * len(seeds)
    assert metric(gateway, "gateway_retries_total") >= 1
    assert metric(gateway, "gateway_replica_errors_total", replica=second_replica.grpc_url, kind="unavailable") >= 1
    assert sum(r.headers["x-replica-attempts"] == "2" for r in results.values()) >= 1
    # Each answer, retried or not, is the image its seed gives.
    for seed in seeds:
        assert results[seed].headers["x-seed"] == str(seed)
        direct = triton_client.generate("an oak table", seed=seed, num_inference_steps=40)
        np.testing.assert_array_equal(decode_png(results[seed].content), direct.images[0])
    ready = httpx.get(f"{gateway.url}/readyz").json()
    assert {r["url"]: r["healthy"] for r in ready["replicas"]} == {triton_server.grpc_url: True,
                                                                  second_replica.grpc_url: False}


def test_all_replicas_down_is_a_quick_503_then_recovers(start_gateway, second_replica) -> None:
    second_replica.kill()  # no-op when the previous test already did
    gateway = start_gateway(replicas=[second_replica.grpc_url])
    started = time.monotonic()
    response = httpx.post(f"{gateway.url}/v1/images/generations", json={"prompt": "a", "num_inference_steps": 2})
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and elapsed < 0.5
    assert response.json()["error"]["code"] == "no_replica_available"
    assert int(response.headers["retry-after"]) >= 1
    assert httpx.get(f"{gateway.url}/readyz").status_code == 503
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200  # the process itself is fine

    second_replica.start()  # same ports
    rejoined = wait_until(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 200, 10)
    assert rejoined < 3.0  # within a few probe intervals of the server being ready
    response = httpx.post(f"{gateway.url}/v1/images/generations", json={"prompt": "a", "num_inference_steps": 2})
    assert response.status_code == 200, response.text


def test_request_timeout_is_504_and_cancels_the_triton_request(start_gateway, triton_server) -> None:
    gateway = start_gateway(request_timeout_s=0.5)
    log = LogWatch(triton_server.log_file)
    started = time.monotonic()
    response = httpx.post(f"{gateway.url}/v1/txt2img", json=LONG_REQUEST, timeout=30)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 2.0
    # Triton itself stopped the request: the orchestrator saw the cancellation at a step boundary and logged
    # it, long before the 150 steps (~5 s here) would have finished.
    done, total = cancelled_steps(log, "txt2img")
    assert total == LONG_REQUEST["num_inference_steps"] and done < 100
    # ...and the gateway's slot on the replica is free again.
    wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 0, 5)


def test_replica_refusing_connections_is_taken_out_and_streams_retry(start_gateway, triton_server, second_replica) -> None:
    """Before any probe notices, a dead replica's refused connection sends the request elsewhere (same seed)."""
    if not second_replica.running:
        second_replica.start()
    gateway = start_gateway(replicas=[second_replica.grpc_url, triton_server.grpc_url], health_interval_s=600)
    assert all(replica["healthy"] for replica in httpx.get(f"{gateway.url}/readyz").json()["replicas"])
    second_replica.kill()  # the prober will not look again for 10 minutes

    body = {"prompt": "a brass lamp", "seed": 77, "num_inference_steps": 4, "stream": True}
    streams = []
    for _ in range(2):  # ties alternate, so one of these goes to the dead replica first
        response = httpx.post(f"{gateway.url}/v1/txt2img", json=body, timeout=60)
        assert response.status_code == 200
        streams.append(response.text)
    assert all(text.count("event: progress") == 4 and "event: image" in text for text in streams)
    images = [text.split("event: image\ndata: ")[1] for text in streams]
    assert images[0] == images[1]  # same seed, same image, whichever replica served it
    assert metric(gateway, "gateway_retries_total") == 1
    replicas = {r["url"]: r for r in httpx.get(f"{gateway.url}/readyz").json()["replicas"]}
    assert replicas[second_replica.grpc_url]["healthy"] is False and replicas[triton_server.grpc_url]["healthy"] is True
