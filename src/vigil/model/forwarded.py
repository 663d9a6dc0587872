"""The client's address behind proxies, by Tomcat's RemoteIpValve algorithm: walk the
forwarded hops from the right, skipping trusted proxies; the first untrusted hop is the
client. Hops to its left were written by the client and can be forged, so they are never
used. Shared by the log agent (a header already in a log line) and `vigil.instrument` (a
request's peer and headers)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Tomcat 10's RemoteIpValve `internalProxies` default, as networks.
TOMCAT_INTERNAL_PROXIES = (
    "10.0.0.0/8",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "100.64.0.0/10",
    "172.16.0.0/12",
    "::1/128",
    "fe80::/10",
    "fc00::/7",
)

# RFC 7239 elements are separated by commas outside quoted strings.
_ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)', re.IGNORECASE)


def x_forwarded_for_hops(header: str) -> list[str]:
    """The hops of an `X-Forwarded-For` value (several header lines joined by commas)."""
    return [hop for hop in (part.strip() for part in header.split(",")) if hop]


def forwarded_hops(header: str) -> list[str]:
    """The `for=` node of each element of an RFC 7239 `Forwarded` value; "" for an element
    without one (a hop nobody can vouch for)."""
    hops = []
    for element in _ELEMENT.findall(header):
        if not element.strip():
            continue
        found = _FOR.search(element.strip())
        node = found.group(1) if found else ""
        if node.startswith('"'):
            node = re.sub(r"\\(.)", r"\1", node[1:-1])
        hops.append(node.strip())
    return hops


def parse_address(hop: str) -> Address | None:
    """An address from a hop as proxies write it: `v4`, `v4:port`, `v6`, `[v6]:port`;
    None for anything else (`unknown`, an obfuscated `_name`, garbage)."""
    text = hop
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# A hop as read: its address in canonical form (None: not an address), and whether it is
# a trusted proxy.
_Hop = tuple[str | None, bool]
_REMEMBERED_HOPS = 4096


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The proxies (CIDRs) whose forwarded headers are believed. The last few thousand hops
    read are remembered: a server sees the same balancers and clients again and again."""

    cidrs: tuple[str, ...] = TOMCAT_INTERNAL_PROXIES
    _networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)
    _hops: dict[str, _Hop] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nets = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in self.cidrs)
        object.__setattr__(self, "_networks", nets)
        object.__setattr__(self, "_hops", {})

    def trusts(self, address: Address) -> bool:
        return any(address in net for net in self._networks)

    def client(self, hops: Sequence[str]) -> str | None:
        """The right-most untrusted hop; the left-most when every hop is trusted; None when
        the walk meets a hop that is not an address (nothing to its left can be believed)."""
        for hop in reversed(hops):
            address, trusted = self._read(hop)
            if address is None or not trusted:
                return address
        return self._read(hops[0])[0] if hops else None

    def client_behind(self, peer: str, hops: Sequence[str]) -> str:
        """The client of a connection from `peer` carrying `hops`: the peer itself unless it
        is a trusted proxy (a client's own header is never believed), and the peer again
        when the hops name no address."""
        if not hops or not self._read(peer)[1]:
            return peer
        return self.client(hops) or peer

    def _read(self, hop: str) -> _Hop:
        known = self._hops.get(hop)
        if known is None:
            address = parse_address(hop)
            known = (None, False) if address is None else (str(address), self.trusts(address))
            if len(self._hops) >= _REMEMBERED_HOPS:
                self._hops.clear()
            self._hops[hop] = known
        return known
