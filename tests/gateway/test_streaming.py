"""Server-Sent Events progress, and cancellation when the client leaves mid-generation."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import numpy as np

from tests.gateway.conftest import (LONG_REQUEST, LogWatch, cancelled_steps, decode_b64_png, decode_png, metric,
                                    wait_until)


def read_events(response: httpx.Response, limit: int | None = None) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: "):])))
            if limit is not None and len(events) >= limit:
                break
    return events


def test_sse_steps_in_order_then_image_equal_to_non_streaming(gateway) -> None:
    body = {"prompt": "a rattan lamp", "seed": 9, "num_inference_steps": 8, "scheduler": "euler_ancestral"}
    with httpx.stream("POST", f"{gateway.url}/v1/txt2img", json={**body, "stream": True}, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-seed"] == "9"
        events = read_events(response)
    names = [name for name, _ in events]
    assert names == ["progress"] * 8 + ["image"]
    progress = [data for _, data in events[:-1]]
    assert [p["step"] for p in progress] == list(range(1, 9))
    assert all(p["total"] == 8 for p in progress)
    elapsed = [p["elapsed"] for p in progress]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    final = events[-1][1]
    assert final["seed"] == 9 and (final["width"], final["height"]) == (128, 128)
    streamed = decode_b64_png(final["images"][0]["b64_json"])
    plain = httpx.post(f"{gateway.url}/v1/txt2img", json=body, timeout=60)
    np.testing.assert_array_equal(streamed, decode_png(plain.content))


def test_sse_bad_input_is_a_plain_400(gateway) -> None:
    """Errors known before the first step keep their status code (Triton's own check here)."""
    response = httpx.post(f"{gateway.url}/v1/txt2img", json={"prompt": "a", "width": 120, "stream": True})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "width"


def _post_then_disconnect(gateway, body: dict, after_s: float) -> None:
    """A raw HTTP client that sends a request and closes the connection without reading the answer."""
    payload = json.dumps(body).encode()
    host, port = gateway.host, gateway.port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"POST /v1/txt2img HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (host.encode(), port, len(payload), payload))
        time.sleep(after_s)


def test_disconnect_cancels_triton_request_and_frees_the_slot(start_gateway, triton_server) -> None:
    """With one slot and no wait queue: a running request makes the next one 429; the client leaving frees the
    slot at once."""
    gateway = start_gateway(max_in_flight_per_replica=1, retry_after_s=2, queue_max_depth=0)
    log = LogWatch(triton_server.log_file)
    replica = triton_server.grpc_url

    client = threading.Thread(target=_post_then_disconnect, args=(gateway, LONG_REQUEST, 1.5))
    client.start()
    wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=replica) == 1, 10)

    busy = httpx.post(f"{gateway.url}/v1/txt2img", json={"prompt": "b", "num_inference_steps": 2})
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "2"
    assert busy.json()["error"]["type"] == "rate_limit_error"

    client.join()  # the socket is closed now
    freed_after = wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=replica) == 0, 5)
    assert freed_after < 1.0
    assert metric(gateway, "gateway_cancelled_total", route="/v1/txt2img") == 1
    done, total = cancelled_steps(log, "txt2img")
    assert total == 150 and done < 100  # stopped early, not run to the end
    # The slot is usable again right away.
    assert httpx.post(f"{gateway.url}/v1/txt2img", json={"prompt": "c", "num_inference_steps": 2}).status_code == 200


def test_stream_disconnect_cancels_triton_request(gateway, triton_server) -> None:
    log = LogWatch(triton_server.log_file)
    with httpx.stream("POST", f"{gateway.url}/v1/txt2img", json={**LONG_REQUEST, "stream": True}, timeout=60) as response:
        events = read_events(response, limit=3)
    assert [data["step"] for _, data in events] == [1, 2, 3]
    done, total = cancelled_steps(log, "txt2img_stream")
    assert total == 150 and 3 <= done < 100
    wait_until(lambda: metric(gateway, "gateway_replica_in_flight", replica=triton_server.grpc_url) == 0, 5)
    assert metric(gateway, "gateway_cancelled_total", route="/v1/txt2img") >= 1


def test_streams_run_concurrently_in_the_decoupled_model(gateway) -> None:
    """Two streams at once interleave their steps (txt2img_stream runs requests on worker threads)."""
    timelines: dict[int, list[float]] = {}

    def run(seed: int) -> None:
        body = {"prompt": "a stool", "seed": seed, "num_inference_steps": 30, "stream": True}
        with httpx.stream("POST", f"{gateway.url}/v1/txt2img", json=body, timeout=60) as response:
            timelines[seed] = []
            for line in response.iter_lines():
                if line.startswith("data: "):
                    timelines[seed].append(time.monotonic())

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    first, second = timelines[1], timelines[2]
    assert len(first) == len(second) == 31
    # Each stream started before the other one finished: they overlapped, not queued one after the other.
    assert first[0] < second[-1] and second[0] < first[-1]
    overlap = min(first[-1], second[-1]) - max(first[0], second[0])
    assert overlap > 0.5 * min(first[-1] - first[0], second[-1] - second[0])
