"""Triton replicas: health probes, least-outstanding balancing and a bound on in-flight requests.

A replica is healthy when its server is live and every *required* model is loaded (the gateway is
ready when one replica is). Triton's own readiness is not asked: with its default strict readiness a server is
"not ready" as soon as any model is unavailable, say a component unloaded through model control, which must
break only the pipelines that use it. The *optional* models (those of routes a deployment may not serve, e.g.
img2img on a txt2img-only repository) are probed too: a request for one goes only to healthy replicas
that have it loaded, and is a 503 naming the model when none has, while the other routes keep serving.
A replica that fails a probe, or refuses or drops a connection during a request, is taken out of
rotation and probed again on the next round; it rejoins as soon as a probe passes.

Membership changes at run time (`sync`, fed by `gateway.discovery`): a new address is probed at once and
joins when healthy; a removed one drains: it gets no new request, and leaves the pool (its connection
closed, its metrics series dropped) when its last request in flight has finished.

A request that finds every replica serving its model at its maximum in flight waits in the pool's admission
queue (`gateway.admission`); `acquire` is the way in, `release` the way out (and the moment a waiter is served).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import Sequence

import tritonclient.grpc.aio as grpc_aio

from gateway.admission import AdmissionQueue, Priority, Waiter
from gateway.metrics import Metrics

log = logging.getLogger(__name__)

MAX_GRPC_MESSAGE_BYTES = 2**31 - 1
# grpc's default reconnect backoff grows to minutes; a replica that comes back should rejoin within a
# probe interval, so the channel retries its connection at least every second.
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", MAX_GRPC_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class NoReplicaAvailable(Exception):
    """No replica is healthy (or every healthy one was already tried for this request)."""


class ModelNotServed(NoReplicaAvailable):
    """Replicas are healthy, but none has this (optional) model loaded."""


class AllReplicasBusy(Exception):
    """Every healthy replica already has its maximum of requests in flight."""


@dataclass(eq=False)
class Replica:
    url: str
    max_in_flight: int
    healthy: bool = False
    in_flight: int = 0
    last_error: str | None = "not probed yet"
    models: frozenset[str] = frozenset()  # the gateway's models (required and optional) loaded here
    draining: bool = False  # removed from the pool's members: finishes what it has, takes nothing new
    # Created in `ReplicaPool.start`: a grpc.aio channel belongs to the event loop it was made in.
    client: grpc_aio.InferenceServerClient | None = field(default=None, repr=False)

    def describe(self) -> dict:
        return {"url": self.url, "healthy": self.healthy, "in_flight": self.in_flight, "last_error": self.last_error,
                "models": sorted(self.models), "draining": self.draining}

    @property
    def available(self) -> bool:
        return self.healthy and not self.draining


class ReplicaPool:
    """The replicas are set with `sync` (at start and whenever discovery finds a change)."""

    def __init__(self, required_models: Sequence[str], max_in_flight: int, metrics: Metrics,
                 probe_interval_s: float = 2.0, probe_timeout_s: float = 2.0,
                 optional_models: Sequence[str] = (), queue_max_depth: int = 0, queue_max_wait_s: float = 30.0,
                 retry_after_s: int = 1) -> None:
        self.replicas: list[Replica] = []
        self.max_in_flight = max_in_flight
        self.required_models = tuple(dict.fromkeys(required_models))
        self.optional_models = tuple(m for m in dict.fromkeys(optional_models) if m not in self.required_models)
        self.metrics = metrics
        self.probe_interval_s = probe_interval_s
        self.probe_timeout_s = probe_timeout_s
        self._rotation = itertools.count()  # breaks ties so equal replicas take turns
        self._prober: asyncio.Task | None = None
        self._closing: set[asyncio.Task] = set()
        self.queue = AdmissionQueue(queue_max_depth, queue_max_wait_s, metrics, self.release, retry_after_s)

    async def start(self) -> None:
        """Starts the periodic probes (the replicas present now were probed when `sync` added them)."""
        self._prober = asyncio.create_task(self._probe_forever(), name="replica-prober")

    async def stop(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        for replica in self.replicas:
            if replica.client is not None:
                await replica.client.close()
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def sync(self, urls: Sequence[str]) -> None:
        """Makes `urls` the pool's members: new ones are probed at once, missing ones drain."""
        wanted = set(urls)
        joined = []
        for url in dict.fromkeys(urls):
            replica = next((r for r in self.replicas if r.url == url), None)
            if replica is None:
                replica = Replica(url, self.max_in_flight)
                # Made here, inside the running loop: a grpc.aio channel belongs to the loop it was made in.
                replica.client = grpc_aio.InferenceServerClient(url, channel_args=CHANNEL_ARGS)
                self.replicas.append(replica)
                self._publish(replica)
                self.metrics.replica_changes.labels(change="added").inc()
                log.info("replica %s added", url)
                joined.append(replica)
            elif replica.draining:
                replica.draining = False
                log.info("replica %s is back (it had not finished draining)", url)
        for replica in list(self.replicas):
            if replica.url not in wanted and not replica.draining:
                self._drain(replica)
        await asyncio.gather(*(self.probe(replica) for replica in joined))
        self._dispatch()  # a drained replica's waiters may have no replica left

    def _drain(self, replica: Replica) -> None:
        replica.draining = True
        self.metrics.replica_changes.labels(change="removed").inc()
        log.info("replica %s removed: draining (%d requests in flight)", replica.url, replica.in_flight)
        if replica.in_flight == 0:
            self._retire(replica)

    def _retire(self, replica: Replica) -> None:
        """A drained replica leaves: no more probes, its connection closed, its gauges gone from /metrics."""
        self.replicas.remove(replica)
        for gauge in (self.metrics.replica_healthy, self.metrics.replica_in_flight):
            with contextlib.suppress(KeyError):
                gauge.remove(replica.url)
        if replica.client is not None:
            task = asyncio.get_running_loop().create_task(replica.client.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        log.info("replica %s drained and left the pool", replica.url)

    @property
    def any_healthy(self) -> bool:
        return any(replica.available for replica in self.replicas)

    def serves(self, model: str) -> bool:
        """Some healthy replica (not draining) has `model` loaded."""
        return any(replica.available and model in replica.models for replica in self.replicas)

    def reserve(self, model: str | None = None, exclude: Sequence[Replica] = ()) -> Replica:
        """A slot on the healthy replica (with `model` loaded) with the fewest requests in flight.

        Give it back with `release`.
        """
        replica = self._choose(model, exclude)
        replica.in_flight += 1
        self._publish(replica)
        return replica

    @property
    def capacity(self) -> int:
        """In-flight slots of the replicas in rotation (the service rate is this over the mean service time)."""
        return sum(replica.max_in_flight for replica in self.replicas if replica.available)

    async def acquire(self, model: str | None = None, exclude: Sequence[Replica] = (),
                      priority: Priority = "interactive") -> Replica:
        """A slot as `reserve` gives one; when all are taken, a place in the admission queue until one is
        free (raises QueueFull or QueueTimeout, see gateway.admission). Give it back with `release`."""
        try:
            replica = self.reserve(model, exclude)
        except AllReplicasBusy as busy:
            return await self.queue.wait(model, exclude, priority, self.capacity, str(busy))
        self.queue.admitted_at_once(priority)
        return replica

    def release(self, replica: Replica, held_s: float | None = None) -> None:
        """Gives a slot back (`held_s`: how long the request held it, the measured service time)."""
        if held_s is not None:
            self.queue.service_time.observe(held_s)
        replica.in_flight -= 1
        self._publish(replica)
        if replica.draining and replica.in_flight == 0 and replica in self.replicas:
            self._retire(replica)
        self._dispatch()

    def _dispatch(self) -> None:
        self.queue.dispatch(self._reserve_for)

    def _reserve_for(self, waiter: Waiter) -> Replica | None:
        try:
            return self.reserve(waiter.model, waiter.exclude)
        except AllReplicasBusy:
            return None

    def _choose(self, model: str | None, exclude: Sequence[Replica]) -> Replica:
        healthy = [r for r in self.replicas if r.available and r not in exclude]
        if not healthy:
            raise NoReplicaAvailable("no healthy Triton replica is available")
        if model is not None and model not in self.required_models:
            healthy = [r for r in healthy if model in r.models]
            if not healthy:
                raise ModelNotServed(f"no healthy Triton replica has the model {model!r} loaded")
        open_ = [r for r in healthy if r.in_flight < r.max_in_flight]
        if not open_:
            raise AllReplicasBusy(f"all {len(healthy)} healthy replicas have {healthy[0].max_in_flight} requests in flight")
        least = min(r.in_flight for r in open_)
        tied = [r for r in open_ if r.in_flight == least]
        return tied[next(self._rotation) % len(tied)]

    def mark_down(self, replica: Replica, reason: str) -> None:
        """Takes a replica out of rotation until a probe passes (the prober keeps trying it)."""
        if replica.healthy:
            log.warning("replica %s taken out of rotation: %s", replica.url, reason)
        replica.healthy = False
        replica.last_error = reason
        self._publish(replica)
        self._dispatch()  # waiters that only this replica could serve get their 503 now

    def record_error(self, replica: Replica, kind: str) -> None:
        self.metrics.replica_errors.labels(replica=replica.url, kind=kind).inc()

    async def probe(self, replica: Replica) -> bool:
        try:
            ready = await replica.client.is_server_live(client_timeout=self.probe_timeout_s)
            names = self.required_models + self.optional_models
            answers = await asyncio.gather(*(replica.client.is_model_ready(name, client_timeout=self.probe_timeout_s)
                                             for name in names))
            loaded = {name for name, answer in zip(names, answers) if answer}
            missing = [name for name in self.required_models if name not in loaded]
            reason = None if ready and not missing else (
                "server not live" if not ready else f"models not ready: {', '.join(missing)}")
        except Exception as error:  # noqa: BLE001 - any failure to answer means unhealthy
            reason = f"probe failed: {error}"
        if replica not in self.replicas:
            return False  # drained and closed while this probe was out
        if reason is None:
            if not replica.healthy:
                absent = [name for name in self.optional_models if name not in loaded]
                log.info("replica %s is healthy%s", replica.url,
                         f" (without the optional models {', '.join(absent)})" if absent else "")
            replica.healthy, replica.last_error, replica.models = True, None, frozenset(loaded)
            self._publish(replica)
            self._dispatch()  # new capacity for the waiters
            return True
        if replica.healthy:
            self.record_error(replica, "probe")
        self.mark_down(replica, reason)
        return False

    async def probe_all(self) -> None:
        await asyncio.gather(*(self.probe(replica) for replica in self.replicas))

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval_s)
            try:
                await self.probe_all()
            except Exception:  # noqa: BLE001 - the prober must outlive any single failure
                log.exception("replica probe round failed")

    def _publish(self, replica: Replica) -> None:
        if replica not in self.replicas:
            return  # retired while a probe or request was still finishing: its series stay dropped
        self.metrics.replica_healthy.labels(replica=replica.url).set(1 if replica.healthy else 0)
        self.metrics.replica_in_flight.labels(replica=replica.url).set(replica.in_flight)
