"""The admission queue in the replica pool: order, priority, bounds, timeouts and cancellation.

The first tests hand out slots of a real pool whose replicas are set healthy by hand (no tritonserver, so
they run as unit tests); the last ones go through a real gateway in front of the session's tritonserver.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable, Coroutine

import httpx
import pytest

from gateway.admission import QueueFull, QueueTimeout
from gateway.metrics import Metrics
from gateway.triton_pool import NoReplicaAvailable, Replica, ReplicaPool
from tests.gateway.conftest import LONG_REQUEST, metric, wait_until
from tests.gateway.test_streaming import _post_then_disconnect

SMALL = {"prompt": "a stool", "num_inference_steps": 2, "width": 64, "height": 64}


def in_event_loop(case: Callable[[], Coroutine[None, None, None]]) -> Callable[[], None]:
    """Runs an async test case in a fresh event loop (the pool's futures belong to a running loop)."""
    def test() -> None:
        asyncio.run(case())
    test.__doc__ = case.__doc__
    return test


def _pool(slots: int = 1, depth: int = 8, max_wait_s: float = 5.0, replicas: int = 1) -> ReplicaPool:
    pool = ReplicaPool(["txt2img"], slots, Metrics(), queue_max_depth=depth, queue_max_wait_s=max_wait_s,
                       retry_after_s=3)
    for index in range(replicas):
        pool.replicas.append(Replica(f"r{index}:8001", slots, healthy=True, last_error=None,
                                     models=frozenset({"txt2img"})))
    return pool


def _sample(pool: ReplicaPool, name: str, **labels: str) -> float:
    value = pool.metrics.registry.get_sample_value(name, labels)
    assert value is not None, f"no sample {name}{labels}"
    return value


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@in_event_loop
async def test_a_burst_waits_and_is_served_in_arrival_order() -> None:
    pool = _pool(slots=1)
    first = await pool.acquire("txt2img")
    served: list[int] = []

    async def request(index: int) -> None:
        replica = await pool.acquire("txt2img")
        served.append(index)
        pool.release(replica, 0.5)

    waiters = [asyncio.create_task(request(index)) for index in range(4)]
    await _settle()
    assert pool.queue.depth == 4 and served == []
    assert _sample(pool, "gateway_queue_depth", priority="interactive") == 4
    pool.release(first, 0.5)
    await asyncio.gather(*waiters)
    assert served == [0, 1, 2, 3]
    assert pool.replicas[0].in_flight == 0 and pool.queue.depth == 0
    assert _sample(pool, "gateway_queue_wait_seconds_count", priority="interactive", outcome="admitted") == 5


@in_event_loop
async def test_interactive_requests_go_ahead_of_batch_ones() -> None:
    pool = _pool(slots=1)
    held = await pool.acquire("txt2img")
    order: list[str] = []

    async def request(name: str, priority: str) -> None:
        replica = await pool.acquire("txt2img", priority=priority)
        order.append(name)
        pool.release(replica)

    tasks = [asyncio.create_task(request("batch-1", "batch"))]
    await _settle()
    tasks += [asyncio.create_task(request("interactive-1", "interactive")),
              asyncio.create_task(request("batch-2", "batch")),
              asyncio.create_task(request("interactive-2", "interactive"))]
    await _settle()
    pool.release(held)
    await asyncio.gather(*tasks)
    assert order == ["interactive-1", "interactive-2", "batch-1", "batch-2"]


@in_event_loop
async def test_overflow_is_refused_with_retry_after_from_the_measured_service_time() -> None:
    pool = _pool(slots=2, depth=2)
    held = [await pool.acquire("txt2img") for _ in range(2)]
    with pytest.raises(QueueFull) as before_measuring:  # depth 2 is taken by the two waiters below
        waiters = [asyncio.create_task(pool.acquire("txt2img")) for _ in range(2)]
        await _settle()
        await pool.acquire("txt2img")
    assert before_measuring.value.retry_after_s == 3  # nothing measured yet: GATEWAY_RETRY_AFTER_S
    assert "GATEWAY_QUEUE_MAX_DEPTH=2" in str(before_measuring.value)

    pool.release(held[0], 4.0)  # one slot held 4 s: the first waiter takes it
    pool.release(held[1], 4.0)
    await asyncio.gather(*waiters)
    held = [waiter.result() for waiter in waiters]
    waiters = [asyncio.create_task(pool.acquire("txt2img")) for _ in range(2)]
    await _settle()
    with pytest.raises(QueueFull) as measured:
        await pool.acquire("txt2img")
    # 2 waiting + this one, 2 slots each freed every 4 s: ceil(3 * 4 / 2) = 6 s
    assert measured.value.retry_after_s == 6
    assert _sample(pool, "gateway_queue_rejected_total", reason="full") == 2
    for replica in held:
        pool.release(replica)
    for waiter in await asyncio.gather(*waiters):
        pool.release(waiter)


@in_event_loop
async def test_a_request_waiting_past_the_maximum_wait_times_out() -> None:
    pool = _pool(slots=1, max_wait_s=0.2)
    held = await pool.acquire("txt2img")
    started = asyncio.get_running_loop().time()
    with pytest.raises(QueueTimeout, match=r"waited 0.2 s for a free slot on a replica serving txt2img"):
        await pool.acquire("txt2img")
    assert 0.2 <= asyncio.get_running_loop().time() - started < 1.0
    assert pool.queue.depth == 0
    assert _sample(pool, "gateway_queue_rejected_total", reason="timeout") == 1
    pool.release(held)
    assert pool.replicas[0].in_flight == 0


@in_event_loop
async def test_a_cancelled_waiter_leaves_the_queue_without_a_slot() -> None:
    pool = _pool(slots=1)
    held = await pool.acquire("txt2img")
    waiter = asyncio.create_task(pool.acquire("txt2img"))
    await _settle()
    assert pool.queue.depth == 1
    waiter.cancel()  # the client left
    await _settle()
    assert pool.queue.depth == 0
    pool.release(held)
    assert pool.replicas[0].in_flight == 0
    assert _sample(pool, "gateway_queue_wait_seconds_count", priority="interactive", outcome="cancelled") == 1


@in_event_loop
async def test_a_slot_handed_to_a_waiter_that_just_left_is_given_back() -> None:
    pool = _pool(slots=1)
    held = await pool.acquire("txt2img")
    waiter = asyncio.create_task(pool.acquire("txt2img"))
    await _settle()
    pool.release(held)  # hands the slot to the waiter...
    assert pool.replicas[0].in_flight == 1
    waiter.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pool.replicas[0].in_flight == 0


@in_event_loop
async def test_waiters_get_no_replica_available_when_their_replicas_go_down() -> None:
    pool = _pool(slots=1, replicas=1)
    held = await pool.acquire("txt2img")
    waiter = asyncio.create_task(pool.acquire("txt2img"))
    await _settle()
    pool.mark_down(pool.replicas[0], "connection refused")
    with pytest.raises(NoReplicaAvailable):
        await asyncio.wait_for(waiter, 1)  # at once, not after the maximum wait
    assert pool.queue.depth == 0
    pool.release(held)


@in_event_loop
async def test_no_queue_when_the_depth_is_zero() -> None:
    pool = _pool(slots=1, depth=0)
    held = await pool.acquire("txt2img")
    with pytest.raises(QueueFull, match="all 1 healthy replicas have 1 requests in flight"):
        await pool.acquire("txt2img")
    pool.release(held)


class _Holder:
    """A long stream that holds a slot until `leave()` (which disconnects, cancelling it)."""

    def __init__(self, gateway) -> None:
        self._leave = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(gateway,))
        self._thread.start()

    def _run(self, gateway) -> None:
        with httpx.stream("POST", f"{gateway.url}/v1/txt2img", json={**LONG_REQUEST, "stream": True},
                          timeout=60) as response:
            for _ in response.iter_lines():
                if self._leave.is_set():
                    break

    def leave(self) -> None:
        self._leave.set()
        self._thread.join(60)


def test_a_burst_beyond_the_slots_is_queued_and_served(start_gateway, triton_server) -> None:
    """2 slots, 8 requests at once (streaming and not): all 200, 6 of them after a wait in the queue."""
    gateway = start_gateway(max_in_flight_per_replica=2, queue_max_depth=8)
    with httpx.Client(timeout=60) as client:
        def one(index: int) -> httpx.Response:
            return client.post(f"{gateway.url}/v1/txt2img", json={**SMALL, "seed": index, "stream": index % 2 == 1})

        responses: list[httpx.Response | None] = [None] * 8
        threads = [threading.Thread(target=lambda i=i: responses.__setitem__(i, one(i))) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert [response.status_code for response in responses] == [200] * 8
    assert all("event: image" in response.text for response in responses[1::2])
    admitted = metric(gateway, "gateway_queue_wait_seconds_count", priority="interactive", outcome="admitted")
    waited = admitted - metric(gateway, "gateway_queue_wait_seconds_bucket", priority="interactive",
                               outcome="admitted", le="0.0")
    assert admitted == 8 and waited >= 4  # at most 2 (plus any that came after a slot freed) went in at once
    assert metric(gateway, "gateway_queue_depth", priority="interactive") == 0
    assert metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 0


def test_overflow_is_429_and_a_wait_past_the_maximum_is_503(start_gateway, triton_server) -> None:
    """1 slot held by a long stream, a queue of 1: the next request waits, the one after overflows at once
    (429 with Retry-After), and the waiter gets a 503 naming the maximum wait when it runs out."""
    gateway = start_gateway(max_in_flight_per_replica=1, queue_max_depth=1, queue_max_wait_s=1.5,
                            retry_after_s=2)
    holder = _Holder(gateway)
    try:
        wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 1, 10)
        waited: dict[str, object] = {}

        def wait_in_queue() -> None:  # the streaming route: refused before its response starts
            started = time.monotonic()
            waited["response"] = httpx.post(f"{gateway.url}/v1/txt2img", json={**SMALL, "stream": True}, timeout=30)
            waited["seconds"] = time.monotonic() - started

        waiter = threading.Thread(target=wait_in_queue)
        waiter.start()
        wait_until(lambda: metric(gateway, "gateway_queue_depth", priority="interactive") == 1, 5)
        started = time.monotonic()
        overflow = httpx.post(f"{gateway.url}/v1/txt2img", json=SMALL, timeout=30)
        assert time.monotonic() - started < 0.5
        assert overflow.status_code == 429
        assert overflow.json()["error"]["code"] == "too_many_requests_in_flight"
        assert "wait queue is full" in overflow.json()["error"]["message"]
        assert overflow.headers["retry-after"] == "2"  # nothing measured yet: GATEWAY_RETRY_AFTER_S
        waiter.join(30)
        response = waited["response"]
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "queue_timeout" and "GATEWAY_QUEUE_MAX_WAIT_S" in error["message"]
        assert int(response.headers["retry-after"]) >= 1
        assert 1.5 <= waited["seconds"] < 3.0
        assert metric(gateway, "gateway_queue_rejected_total", reason="full") == 1
        assert metric(gateway, "gateway_queue_rejected_total", reason="timeout") == 1
    finally:
        holder.leave()
    wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 0, 10)


def test_a_client_leaving_while_queued_leaves_the_queue(start_gateway, triton_server) -> None:
    gateway = start_gateway(max_in_flight_per_replica=1, queue_max_depth=4)
    holder = _Holder(gateway)
    try:
        wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 1, 10)
        leaver = threading.Thread(target=_post_then_disconnect, args=(gateway, SMALL, 1.0))
        leaver.start()
        wait_until(lambda: metric(gateway, "gateway_queue_depth", priority="interactive") == 1, 5)
        leaver.join()
        wait_until(lambda: metric(gateway, "gateway_queue_depth", priority="interactive") == 0, 5)
        assert metric(gateway, "gateway_queue_wait_seconds_count", priority="interactive", outcome="cancelled") == 1
    finally:
        holder.leave()
    wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 0, 10)
    response = httpx.post(f"{gateway.url}/v1/txt2img", json=SMALL, timeout=30)
    assert response.status_code == 200  # the slot came back; the leaver's place did not keep it
