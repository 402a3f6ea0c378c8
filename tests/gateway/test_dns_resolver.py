"""DNS lookups of replica names: a real DNS server on loopback, and the system resolver."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.dns_resolver import NameserverResolver, ResolutionFailed, SystemResolver, create_resolver
from tests.gateway.loopback_dns import LoopbackDNS


@pytest.fixture
def dns_server():
    server = LoopbackDNS().start()
    yield server
    server.stop()


def test_every_address_of_a_name_v4_and_v6(dns_server) -> None:
    dns_server.set("triton-headless.imagery.svc", ["127.0.0.3", "127.0.0.2", "::1"])
    resolver = NameserverResolver([dns_server.address], timeout_s=2)
    addresses = asyncio.run(resolver.addresses("triton-headless.imagery.svc"))
    assert addresses == ["127.0.0.2", "127.0.0.3", "::1"]


def test_answers_change_with_the_records(dns_server) -> None:
    """No caching: the next lookup sees a pod that came or went (the gateway re-resolves every few seconds)."""
    resolver = NameserverResolver([dns_server.address], timeout_s=2)
    dns_server.set("triton", ["127.0.0.2"])
    assert asyncio.run(resolver.addresses("triton")) == ["127.0.0.2"]
    dns_server.set("triton", ["127.0.0.2", "127.0.0.4"])
    assert asyncio.run(resolver.addresses("triton")) == ["127.0.0.2", "127.0.0.4"]


def test_a_name_without_addresses_is_empty_not_an_error(dns_server) -> None:
    resolver = NameserverResolver([dns_server.address], timeout_s=2)
    assert asyncio.run(resolver.addresses("scaled-to-zero")) == []  # NXDOMAIN
    dns_server.set("v6-only", ["::1"])
    assert asyncio.run(resolver.addresses("v6-only")) == ["::1"]  # the A query's empty answer is no error


def test_a_server_that_does_not_answer_is_a_failure(dns_server) -> None:
    """Distinct from 'no address': the gateway keeps its replicas when DNS is down."""
    dns_server.set("triton", ["127.0.0.2"])
    dns_server.silent = True
    resolver = NameserverResolver([dns_server.address], timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(ResolutionFailed, match="triton"):
        asyncio.run(resolver.addresses("triton"))
    assert time.monotonic() - started < 2
    assert dns_server.queries >= 1


def test_system_resolver_reads_the_hosts_file() -> None:
    assert "127.0.0.1" in asyncio.run(SystemResolver(timeout_s=2).addresses("localhost"))


def test_no_dns_servers_means_the_system_resolver(dns_server) -> None:
    assert isinstance(create_resolver([], 1.0), SystemResolver)
    assert isinstance(create_resolver([dns_server.address], 1.0), NameserverResolver)
