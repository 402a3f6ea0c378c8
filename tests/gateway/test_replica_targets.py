"""GATEWAY_REPLICAS entries: fixed addresses and dns: names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.replica_targets import ReplicaTarget, grpc_address
from gateway.settings import GatewaySettings


@pytest.mark.parametrize("entry, host, port, dynamic", [
    ("10.0.0.5:8001", "10.0.0.5", 8001, False),
    ("triton:8001", "triton", 8001, False),
    ("[fd00::5]:8001", "fd00::5", 8001, False),
    ("dns:triton-headless:8001", "triton-headless", 8001, True),
    ("dns:triton-headless.imagery.svc.cluster.local:9001", "triton-headless.imagery.svc.cluster.local", 9001, True),
])
def test_parse(entry: str, host: str, port: int, dynamic: bool) -> None:
    target = ReplicaTarget.parse(entry)
    assert (target.host, target.port, target.dynamic) == (host, port, dynamic)
    assert str(target) == entry


@pytest.mark.parametrize("entry", ["triton", "dns:triton", "dns:triton:http", "triton:0", "triton:70000", ":8001"])
def test_malformed_entries_fail_at_start_up(entry: str) -> None:
    with pytest.raises(ValidationError, match="host:port or dns:name:port"):
        GatewaySettings(replicas=entry)


def test_grpc_address_brackets_ipv6() -> None:
    assert grpc_address("10.1.2.3", 8001) == "10.1.2.3:8001"
    assert grpc_address("fd00::1", 8001) == "[fd00::1]:8001"
    assert grpc_address("triton", 8001) == "triton:8001"


def test_settings_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_REPLICAS", "dns:triton-headless:8001, 10.0.0.9:8001")
    monkeypatch.setenv("GATEWAY_DNS_SERVERS", "127.0.0.1:5353")
    settings = GatewaySettings(_env_file=None)
    assert [str(t) for t in settings.replica_targets()] == ["dns:triton-headless:8001", "10.0.0.9:8001"]
    assert settings.dns_servers == ["127.0.0.1:5353"]
