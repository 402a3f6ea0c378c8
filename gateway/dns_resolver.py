"""Every address behind a DNS name, from the system resolver or from named DNS servers.

A name that does not exist, or exists without addresses, resolves to no address (a headless Service
scaled to zero pods answers NXDOMAIN). A resolver that cannot answer (timeout, SERVFAIL) raises
`ResolutionFailed`, so the caller keeps the addresses it already has instead of dropping every replica.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol, Sequence

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from gateway.replica_targets import split_host_port

# getaddrinfo's answers for "no such name" / "no address for it"; anything else is a failure to answer.
_NO_ADDRESS_ERRORS = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


class ResolutionFailed(Exception):
    """The resolver gave no answer (as opposed to answering that there is no address)."""


class Resolver(Protocol):
    async def addresses(self, name: str) -> list[str]:
        """The IPv4 and IPv6 addresses of `name`, sorted and without duplicates."""


class SystemResolver:
    """getaddrinfo: what every other program in the pod sees (resolv.conf search domains, /etc/hosts)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    async def addresses(self, name: str) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout_s):
                infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            if error.errno in _NO_ADDRESS_ERRORS:
                return []
            raise ResolutionFailed(f"{name}: {error}") from None
        except TimeoutError:
            raise ResolutionFailed(f"{name}: no answer within {self.timeout_s} s") from None
        return sorted({info[4][0] for info in infos})


class NameserverResolver:
    """Asks the given DNS servers directly (A and AAAA), bypassing the system's resolver configuration."""

    def __init__(self, servers: Sequence[str], timeout_s: float) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.nameservers = [dns.nameserver.Do53Nameserver(*_server(entry)) for entry in servers]
        self._resolver.lifetime = timeout_s
        self._resolver.cache = None  # every round asks again: pods come and go faster than TTLs say

    async def addresses(self, name: str) -> list[str]:
        answers = await asyncio.gather(*(self._query(name, kind) for kind in ("A", "AAAA")))
        return sorted({address for answer in answers for address in answer})

    async def _query(self, name: str, kind: str) -> list[str]:
        try:
            answer = await self._resolver.resolve(name, kind, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:  # timeout, SERVFAIL from every server, ...
            raise ResolutionFailed(f"{name} {kind}: {error}") from None
        return [record.address for record in answer]


def _server(entry: str) -> tuple[str, int]:
    """`ip` or `ip:port` ([v6]:port) of a DNS server; port 53 when absent."""
    entry = entry.strip()
    if entry.count(":") == 1 or entry.startswith("["):
        return split_host_port(entry)
    return entry, 53


def create_resolver(servers: Sequence[str], timeout_s: float) -> Resolver:
    return NameserverResolver(servers, timeout_s) if servers else SystemResolver(timeout_s)
