"""Prometheus metrics: requests by route and status, latency, in-flight, admission queue, replica health and
errors."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# 0 is its own bucket: most requests are admitted without waiting.
QUEUE_WAIT_BUCKETS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """One registry per app, so several apps in one process never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("gateway_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("gateway_request_duration_seconds", "HTTP request latency (streams: until the end)",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("gateway_requests_in_flight", "HTTP requests being served", registry=r)
        self.replica_in_flight = Gauge("gateway_replica_in_flight", "Triton requests in flight per replica",
                                       ["replica"], registry=r)
        self.replica_healthy = Gauge("gateway_replica_healthy", "1 when the replica passed its last probe",
                                     ["replica"], registry=r)
        self.replica_errors = Counter("gateway_replica_errors_total",
                                      "Failures per replica (unavailable, timeout, upstream, probe)",
                                      ["replica", "kind"], registry=r)
        self.replica_changes = Counter("gateway_replica_changes_total",
                                       "Replicas added to or removed from the pool (discovery)", ["change"],
                                       registry=r)
        self.discovered = Gauge("gateway_discovered_addresses", "Addresses behind each dns: replica target",
                                ["target"], registry=r)
        self.discovery_errors = Counter("gateway_discovery_errors_total",
                                        "DNS lookups that got no answer (the last addresses were kept)", ["target"],
                                        registry=r)
        self.retries = Counter("gateway_retries_total", "Requests retried on another replica", registry=r)
        self.cancelled = Counter("gateway_cancelled_total", "Triton requests cancelled because the client left",
                                 ["route"], registry=r)
        self.queue_depth = Gauge("gateway_queue_depth", "Requests waiting for an in-flight slot (admission queue)",
                                 ["priority"], registry=r)
        self.queue_wait = Histogram("gateway_queue_wait_seconds",
                                    "Time requests waited for an in-flight slot (0: admitted at once), by outcome "
                                    "(admitted, timeout, cancelled, unavailable)", ["priority", "outcome"],
                                    buckets=QUEUE_WAIT_BUCKETS, registry=r)
        self.queue_rejected = Counter("gateway_queue_rejected_total",
                                      "Requests refused by admission control (full: 429, timeout: 503)", ["reason"],
                                      registry=r)
        self.images = Counter("gateway_images_generated_total", "Images returned to clients", registry=r)


def route_label(scope: Scope) -> str:
    """The route's path template (bounded cardinality: /v1/images/{image_id}, not every id)."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware), so streaming bodies and disconnects pass through untouched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 499  # the client left before any response started
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_status)
        except Exception:
            status = 500
            raise
        finally:
            self.metrics.in_flight.dec()
            route = route_label(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)
