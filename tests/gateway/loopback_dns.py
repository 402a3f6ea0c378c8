"""A small authoritative DNS server on a loopback UDP port whose answers the test sets (A and AAAA).

Names without records answer NXDOMAIN (as a headless Service with no ready pod does); `silent`
drops every query (a DNS server that stopped answering).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

log = logging.getLogger(__name__)

TTL_S = 1


class LoopbackDNS:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._records: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.silent = False
        self.queries = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((host, 0))
        self._socket.settimeout(0.1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="loopback-dns", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def set(self, name: str, addresses: list[str]) -> None:
        """The name's addresses from now on (an empty list: the name does not exist)."""
        with self._lock:
            self._records[_key(name)] = list(addresses)
        log.info("dns: %s -> %s", name, addresses or "NXDOMAIN")

    def start(self) -> "LoopbackDNS":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            self.queries += 1
            if self.silent:
                continue
            try:
                self._socket.sendto(self._answer(dns.message.from_wire(data)).to_wire(), peer)
            except Exception:  # noqa: BLE001 - one malformed query must not stop the server
                log.exception("dns: could not answer a query from %s", peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        with self._lock:
            addresses = self._records.get(_key(question.name.to_text()), [])
        if not addresses:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        version = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(question.rdtype)
        matching = [a for a in addresses if ipaddress.ip_address(a).version == version]
        if matching:  # none of this family: an empty answer (NOERROR, no data)
            response.answer.append(dns.rrset.from_text_list(question.name, TTL_S, dns.rdataclass.IN,
                                                            question.rdtype, matching))
        return response


def _key(name: str) -> str:
    return name.lower().rstrip(".") + "."

