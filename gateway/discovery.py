"""Keeps the replica pool's members equal to what `GATEWAY_REPLICAS` names, re-resolving its DNS names.

Fixed addresses are members for good. Each `dns:name:port` target contributes one replica per address
the name resolves to, looked up again every `GATEWAY_DISCOVERY_INTERVAL_S`: a new pod joins (after its
first probe passes), a pod that left drains (no new requests; the ones it has finish). A lookup that
gets no answer keeps that name's last addresses, so a DNS outage never empties the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Sequence

from gateway.dns_resolver import ResolutionFailed, Resolver
from gateway.metrics import Metrics
from gateway.replica_targets import ReplicaTarget, grpc_address
from gateway.triton_pool import ReplicaPool

log = logging.getLogger(__name__)


class ReplicaDiscovery:
    def __init__(self, targets: Sequence[ReplicaTarget], resolver: Resolver, pool: ReplicaPool,
                 metrics: Metrics, interval_s: float) -> None:
        self.targets = tuple(dict.fromkeys(targets))
        self.resolver = resolver
        self.pool = pool
        self.metrics = metrics
        self.interval_s = interval_s
        self._known: dict[ReplicaTarget, list[str]] = {}  # last answer per dns: target
        self._task: asyncio.Task | None = None

    @property
    def dynamic(self) -> bool:
        return any(target.dynamic for target in self.targets)

    async def start(self) -> None:
        """Resolves once and fills the pool (its first probes included); re-resolves in the background."""
        await self.refresh()
        if self.dynamic:
            self._task = asyncio.create_task(self._refresh_forever(), name="replica-discovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> list[str]:
        """The members now (after one round of lookups), as given to the pool."""
        answers = await asyncio.gather(*(self._urls(target) for target in self.targets))
        urls = list(dict.fromkeys(url for answer in answers for url in answer))
        await self.pool.sync(urls)
        return urls

    async def _urls(self, target: ReplicaTarget) -> list[str]:
        if not target.dynamic:
            return [target.url]
        try:
            addresses = await self.resolver.addresses(target.host)
        except ResolutionFailed as error:
            self.metrics.discovery_errors.labels(target=str(target)).inc()
            log.warning("replica discovery: %s (keeping its %d known addresses)", error,
                        len(self._known.get(target, [])))
            return self._known.get(target, [])
        urls = [grpc_address(address, target.port) for address in addresses]
        if urls != self._known.get(target):
            log.info("replica discovery: %s -> %s", target, ", ".join(urls) or "no address")
            if not urls:
                log.warning("replica discovery: %s has no address (no ready pod?)", target)
        self._known[target] = urls
        self.metrics.discovered.labels(target=str(target)).set(len(urls))
        return urls

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - discovery must outlive any single failure
                log.exception("replica discovery round failed")
