"""Closed-loop load: N client threads, each sending its next request as soon as the last one returns.

This is what perf_analyzer's concurrency mode does; doing it in Python lets the same loop drive the
in-process diffusers baseline, Triton and the gateway alike.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from benchmarks.targets import Target

log = logging.getLogger(__name__)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), in the values' unit."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


@dataclass(frozen=True)
class LoadRun:
    concurrency: int
    latencies_s: tuple[float, ...]  # per request, in completion order
    wall_s: float  # first send to last completion
    images: int

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s

    def latency_ms(self) -> dict[str, float]:
        ms = [value * 1000.0 for value in self.latencies_s]
        return {
            "n": len(ms),
            "mean": float(np.mean(ms)),
            "p50": percentile(ms, 50),
            "p90": percentile(ms, 90),
            "p99": percentile(ms, 99),
            "min": float(min(ms)),
            "max": float(max(ms)),
        }

    def to_dict(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "requests": len(self.latencies_s),
            "images": self.images,
            "wall_s": self.wall_s,
            "images_per_s": self.images_per_s,
            "latency_ms": self.latency_ms(),
        }


def run_closed_loop(target: Target, request: dict, concurrency: int, total_requests: int) -> tuple[LoadRun, np.ndarray]:
    """Sends `total_requests` with `concurrency` in flight; returns the run and the first images received."""
    if total_requests < concurrency:
        raise ValueError(f"{total_requests} requests cannot keep {concurrency} in flight")
    # Sessions (pipelines, connections) are opened before the clock starts.
    sessions = [target.open_session() for _ in range(concurrency)]
    lock = threading.Lock()
    remaining = [total_requests]
    latencies: list[float] = []
    images_count = [0]
    first_images: list[np.ndarray] = []
    start_gate = threading.Barrier(concurrency + 1)

    def worker(session) -> None:
        start_gate.wait()
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            sent = time.perf_counter()
            images = session(request)
            elapsed = time.perf_counter() - sent
            with lock:
                latencies.append(elapsed)
                images_count[0] += len(images)
                if not first_images:
                    first_images.append(images)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"load-{target.name}") as pool:
        futures = [pool.submit(worker, session) for session in sessions]
        start_gate.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()  # re-raises a failed request
        wall = time.perf_counter() - started
    run = LoadRun(concurrency, tuple(latencies), wall, images_count[0])
    log.info("%s: concurrency %d, %d requests in %.2f s: %.3f images/s, p50 %.1f ms", target.name, concurrency,
             total_requests, wall, run.images_per_s, run.latency_ms()["p50"])
    return run, first_images[0]
