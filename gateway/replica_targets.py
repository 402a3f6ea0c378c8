"""What `GATEWAY_REPLICAS` names: fixed Triton addresses, or DNS names that stand for every address behind them.

    10.0.0.5:8001               one replica (gRPC resolves a host name itself, once per connection)
    dns:triton-headless:8001    every A/AAAA address of the name is a replica, re-resolved periodically
                                (a Kubernetes headless Service lists one address per ready pod)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DNS_SCHEME = "dns:"


def grpc_address(host: str, port: int) -> str:
    """`host:port` as a gRPC target; IPv6 literals in brackets."""
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass  # a host name
    return f"{host}:{port}"


def split_host_port(text: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port`."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port)


@dataclass(frozen=True)
class ReplicaTarget:
    host: str
    port: int
    dynamic: bool  # a DNS name whose addresses are the replicas

    @classmethod
    def parse(cls, entry: str) -> "ReplicaTarget":
        entry = entry.strip()
        dynamic = entry.startswith(DNS_SCHEME)
        try:
            host, port = split_host_port(entry[len(DNS_SCHEME):] if dynamic else entry)
        except ValueError:
            raise ValueError(f"replica {entry!r} is not host:port or dns:name:port") from None
        return cls(host, port, dynamic)

    @property
    def url(self) -> str:
        """The fixed replica's gRPC address (dynamic targets have one per resolved address)."""
        return grpc_address(self.host, self.port)

    def __str__(self) -> str:
        return f"{DNS_SCHEME}{self.url}" if self.dynamic else self.url
