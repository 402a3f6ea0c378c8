"""Admission control: a bounded wait queue in front of the replicas' in-flight slots.

When every replica that serves a request's model already has GATEWAY_MAX_IN_FLIGHT_PER_REPLICA requests in
flight, the request waits here instead of being refused: interactive requests before batch ones (catalog
jobs), first come first served within a priority. A slot freed by a finished request is handed at once to
the first waiter that can use it, so a burst within the bound is served in order. Only overflow is refused:
beyond GATEWAY_QUEUE_MAX_DEPTH waiters a 429 whose Retry-After is the measured time for the queue ahead to
drain, and a waiter that got no slot within GATEWAY_QUEUE_MAX_WAIT_S a 503. A waiter whose client left (its
task cancelled) leaves the queue, and gives back a slot it was handed in the same instant.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Sequence

from gateway.metrics import Metrics

if TYPE_CHECKING:  # the pool owns the queue; only its types are needed here
    from gateway.triton_pool import Replica

log = logging.getLogger(__name__)

# Who is waiting: a person behind an HTTP request (the routes' default) or a batch job (catalog jobs).
Priority = Literal["interactive", "batch"]
PRIORITIES: tuple[Priority, ...] = ("interactive", "batch")  # served in this order
# How fast the mean slot-holding time follows change: about the last 10 requests count.
SERVICE_TIME_SMOOTHING = 0.1


class QueueFull(Exception):
    """The wait queue already holds its maximum of requests."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QueueTimeout(Exception):
    """A request waited the maximum time without getting a slot."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(eq=False)
class Waiter:
    priority: Priority
    order: int  # arrival, within a priority
    model: str | None
    exclude: tuple["Replica", ...]
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> tuple[int, int]:
        return PRIORITIES.index(self.priority), self.order


class ServiceTime:
    """The mean time a request holds its slot (exponentially smoothed): the measured service rate of a
    replica set is its number of slots over this."""

    def __init__(self) -> None:
        self.mean_s: float | None = None

    def observe(self, seconds: float) -> None:
        self.mean_s = seconds if self.mean_s is None else (
            self.mean_s + SERVICE_TIME_SMOOTHING * (seconds - self.mean_s))


class AdmissionQueue:
    """Waiters ordered by (priority, arrival). `dispatch` hands slots out; the pool calls it whenever one
    may have become free (a request finished, a replica joined or became healthy) or a replica went down
    (waiters that no replica can serve any more are answered at once)."""

    def __init__(self, max_depth: int, max_wait_s: float, metrics: Metrics,
                 release: Callable[["Replica"], None], fallback_retry_after_s: int) -> None:
        self.max_depth = max_depth
        self.max_wait_s = max_wait_s
        self.metrics = metrics
        self.release = release  # gives back a slot handed to a waiter that left in the same instant
        self.fallback_retry_after_s = fallback_retry_after_s  # until a request has been measured
        self.service_time = ServiceTime()
        self._waiters: list[Waiter] = []
        self._arrivals = itertools.count()
        for priority in PRIORITIES:
            metrics.queue_depth.labels(priority=priority).set(0)

    @property
    def depth(self) -> int:
        return len(self._waiters)

    def retry_after_s(self, capacity: int) -> int:
        """Seconds until the requests waiting now (and one more) would have been served at the measured
        rate: `capacity` slots, each freed every mean service time."""
        mean = self.service_time.mean_s
        if mean is None or capacity <= 0:
            return self.fallback_retry_after_s
        return max(1, math.ceil((self.depth + 1) * mean / capacity))

    def admitted_at_once(self, priority: Priority) -> None:
        self.metrics.queue_wait.labels(priority=priority, outcome="admitted").observe(0.0)

    async def wait(self, model: str | None, exclude: Sequence["Replica"], priority: Priority, capacity: int,
                   busy: str) -> "Replica":
        """Waits for a slot on a replica serving `model` (not one in `exclude`). `busy` says why there is
        none free now (for the 429). Raises QueueFull, QueueTimeout, or the pool's NoReplicaAvailable when
        the replicas that could serve it went away while it waited."""
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
        if self.depth >= self.max_depth:
            self.metrics.queue_rejected.labels(reason="full").inc()
            retry = self.retry_after_s(capacity)
            raise QueueFull(f"{busy}, and the wait queue is full ({self.depth} requests waiting, "
                            f"GATEWAY_QUEUE_MAX_DEPTH={self.max_depth}); retry after {retry} s", retry)
        waiter = Waiter(priority, next(self._arrivals), model, tuple(exclude),
                        asyncio.get_running_loop().create_future())
        bisect.insort(self._waiters, waiter, key=lambda w: w.key)
        self._publish()
        outcome = "cancelled"
        try:
            async with asyncio.timeout(self.max_wait_s):
                replica = await waiter.future
            outcome = "admitted"
            return replica
        except TimeoutError:
            if _handed_slot(waiter.future) is not None:  # the slot and the deadline came together
                outcome = "admitted"
                return waiter.future.result()
            outcome = "timeout"
            self.metrics.queue_rejected.labels(reason="timeout").inc()
            retry = self.retry_after_s(capacity)
            raise QueueTimeout(f"waited {self.max_wait_s:g} s for a free slot on a replica serving {model} "
                               f"(GATEWAY_QUEUE_MAX_WAIT_S) without getting one; the replicas are saturated, "
                               f"retry after {retry} s", retry) from None
        except asyncio.CancelledError:
            replica = _handed_slot(waiter.future)
            if replica is not None:  # handed a slot just as the client left: give it back
                self.release(replica)
            raise
        except Exception:
            outcome = "unavailable"
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            self._publish()
            self.metrics.queue_wait.labels(priority=priority, outcome=outcome).observe(
                time.monotonic() - waiter.queued_at)

    def dispatch(self, try_reserve: Callable[[Waiter], "Replica | None"]) -> None:
        """Hands free slots to waiters in order. `try_reserve` reserves a slot for a waiter, returns None
        when all its replicas are busy, or raises when no replica can serve it (the waiter gets the error)."""
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue  # cancelled: its task removes it
            try:
                replica = try_reserve(waiter)
            except Exception as error:  # noqa: BLE001 - handed to the waiter, which raises it
                self._waiters.remove(waiter)
                waiter.future.set_exception(error)
                continue
            if replica is not None:
                self._waiters.remove(waiter)
                waiter.future.set_result(replica)
        self._publish()

    def _publish(self) -> None:
        for priority in PRIORITIES:
            self.metrics.queue_depth.labels(priority=priority).set(
                sum(waiter.priority == priority for waiter in self._waiters))


def _handed_slot(future: asyncio.Future) -> "Replica | None":
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return None
