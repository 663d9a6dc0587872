"""Which `Host` a state-changing request may name (`--web.allowed-hosts`): the defence against
DNS rebinding, where a page on evil.example re-resolves its own name to 127.0.0.1 so that its
requests reach vigil as same-origin ones — with `Host: evil.example`. An IP address is always
allowed: rebinding needs a name, and a page served from an address is that address's origin."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    names: frozenset[str]
    any_host: bool = False

    @classmethod
    def parse(cls, flag: str, listen_host: str, external_url: str = "") -> AllowedHosts:
        """`flag` is a comma-separated list of names (`*`: any); empty means the default:
        localhost, the listen address, the machine's names and the external URL's host."""
        listed = {name.strip().lower() for name in flag.split(",") if name.strip()}
        if "*" in listed:
            return cls(frozenset(), any_host=True)
        if not listed:
            listed = {"localhost", listen_host.lower(), *_machine_names()}
            external = urlsplit(external_url).hostname if external_url else None
            if external:
                listed.add(external.lower())
        return cls(frozenset(listed))

    def allows(self, host_header: str) -> bool:
        """Whether a `Host` header (name or address, with or without port) is allowed; a
        request without one (HTTP/1.0 programs) is."""
        host = _hostname(host_header)
        if self.any_host or not host or host in self.names:
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True


def _hostname(host_header: str) -> str:
    header = host_header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _machine_names() -> set[str]:
    hostname = socket.gethostname()
    return {name.lower() for name in (hostname, hostname.split(".")[0], socket.getfqdn()) if name}
