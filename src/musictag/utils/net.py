"""Network addresses: which ones stay on this machine, and whether a port can be listened on."""

from __future__ import annotations

import ipaddress
import socket


def host_of(address: str) -> str:
    """The host of ``host``, ``host:port``, ``[v6]:port`` or ``scheme://host:port``."""
    rest = address.split("://")[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def is_loopback(address: str) -> bool:
    """Whether ``address`` (a host, optionally with a port or scheme) reaches this machine alone."""
    host = host_of(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, port: int) -> None:
    """Raise ``OSError`` unless ``host:port`` can be bound now (as the server will bind it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        probe.bind((host, port))
