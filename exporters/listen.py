"""Listen addresses: HOST:PORT as a user types it, checked before anything binds."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class Listen:
    """Where to bind: host ("" for every address), port and address family."""

    host: str
    port: int
    family: socket.AddressFamily

    @property
    def every_address(self) -> bool:
        return self.host in ("", "0.0.0.0", "::")

    def url(self, scheme: str) -> str:
        """The URL a local client uses for /metrics."""
        host = self.host or "0.0.0.0"
        shown = f"[{host}]" if self.family == socket.AF_INET6 else host
        return f"{scheme}://{shown}:{self.port}/metrics"


def parse_listen(value: str) -> Listen:
    """Parse HOST:PORT, [IPv6]:PORT or :PORT; ValueError says what is wrong."""
    example = "e.g. 127.0.0.1:9464, [::1]:9464 or :9464"
    host, sep, port_text = value.rpartition(":")
    if not sep or (host and host.count(":") and not host.startswith("[")):
        raise ValueError(f"{value!r} is not HOST:PORT ({example})")
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
    port = int(port_text)
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise ValueError(f"{host!r} is not an IPv6 address") from exc
        return Listen(host[1:-1], port, socket.AF_INET6)
    if host and not HOSTNAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name or address ({example})")
    return Listen(host, port, socket.AF_INET)
