"""The client address behind proxies: the shared table against Tomcat's RemoteIpFilter,
RFC 7239 `Forwarded` read into the same hops, and headers that are not what they should be."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.model.remote_ip import BALANCER, DIFFERENT, ROWS, tomcat_table
from vigil.model.forwarded import (
    TrustedProxies,
    forwarded_hops,
    parse_address,
    x_forwarded_for_hops,
)


@pytest.mark.slow
def test_a_requests_client_is_tomcats_answer_on_the_shared_table(tmp_path: Path) -> None:
    tomcat = tomcat_table(tmp_path)
    proxies = TrustedProxies()
    got = {row: proxies.client_behind(row[0], x_forwarded_for_hops(row[1])) for row in ROWS}
    want = {
        row: DIFFERENT[row[1]][2] if row[0] == BALANCER and row[1] in DIFFERENT else tomcat[row]
        for row in ROWS
    }
    assert got == want


@pytest.mark.parametrize(
    ("header", "hops"),
    [
        ("for=192.0.2.43", ["192.0.2.43"]),
        ('For="[2001:db8:cafe::17]:4711"', ["[2001:db8:cafe::17]:4711"]),
        ("for=192.0.2.60;proto=http;by=203.0.113.43", ["192.0.2.60"]),
        ("for=192.0.2.43, for=198.51.100.17", ["192.0.2.43", "198.51.100.17"]),
        ("proto=https;for=10.0.0.9 ,for=unknown", ["10.0.0.9", "unknown"]),
        ('for="_gazonk"', ["_gazonk"]),
        ('for="a,b";by=x, proto=http', ["a,b", ""]),
        ("", []),
    ],
)
def test_forwarded_elements_become_hops(header: str, hops: list[str]) -> None:
    assert forwarded_hops(header) == hops


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("10.0.0.1", "for=203.0.113.7, for=10.0.0.2", "203.0.113.7"),
        ("10.0.0.1", 'for=1.2.3.4, for="[2001:db8::9]:80"', "2001:db8::9"),
        ("10.0.0.1", "for=unknown", "10.0.0.1"),
        ("10.0.0.1", "for=1.2.3.4, proto=https", "10.0.0.1"),  # an element nobody vouches for
        ("203.0.113.9", "for=1.2.3.4", "203.0.113.9"),
    ],
)
def test_forwarded_walks_as_x_forwarded_for(peer: str, header: str, client: str) -> None:
    assert TrustedProxies().client_behind(peer, forwarded_hops(header)) == client


@pytest.mark.parametrize(
    ("cidrs", "peer", "xff", "client"),
    [
        (("192.0.2.0/24",), "192.0.2.10", "203.0.113.7, 10.0.0.5", "10.0.0.5"),
        (("192.0.2.0/24", "10.0.0.0/8"), "192.0.2.10", "203.0.113.7, 10.0.0.5", "203.0.113.7"),
        ((), "10.0.0.1", "203.0.113.7", "10.0.0.1"),
        (("::/0", "0.0.0.0/0"), "10.0.0.1", "203.0.113.7, 10.0.0.5", "203.0.113.7"),
        (TrustedProxies().cidrs, "testclient", "203.0.113.7", "testclient"),
    ],
)
def test_only_the_configured_proxies_are_believed(
    cidrs: tuple[str, ...], peer: str, xff: str, client: str
) -> None:
    assert TrustedProxies(cidrs).client_behind(peer, x_forwarded_for_hops(xff)) == client


@given(st.text(), st.text())
def test_no_header_raises(peer: str, header: str) -> None:
    proxies = TrustedProxies()
    for hops in (x_forwarded_for_hops(header), forwarded_hops(header)):
        assert isinstance(proxies.client_behind(peer, hops), str)
        client = proxies.client(hops)
        assert client is None or parse_address(client) is not None


def test_answers_stay_right_past_the_remembered_hops() -> None:
    proxies = TrustedProxies()
    clients = [f"203.0.{i // 256}.{i % 256}" for i in range(5000)]
    first = [proxies.client_behind("10.0.0.1", [c, "10.0.0.2"]) for c in clients]
    again = [proxies.client_behind("10.0.0.1", [c, "10.0.0.2"]) for c in reversed(clients)]
    assert (first, again[::-1]) == (clients, clients)
