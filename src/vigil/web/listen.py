"""`--web.listen-address` values as Prometheus spells them (`:9090`, `127.0.0.1:9090`, `[::1]:9090`)."""

from __future__ import annotations


def parse_listen_address(address: str, flag: str = "--web.listen-address") -> tuple[str, int]:
    """Split into (host, port); an empty host means every interface, as in Go."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{flag}={address!r}: expected HOST:PORT, e.g. 127.0.0.1:9100 or :9100")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)
