"""`convert_classic_histograms_to_nhcb`: a text exposition's classic histogram scraped as a
native histogram with custom buckets, its classic series kept only when asked; quantiles from
the converted histogram agree with the classic buckets' own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from vigil.config.duration import Duration
from vigil.config.scrape import ScrapeConfig
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine
from vigil.promql.value import Vector
from vigil.scrape.loop import ScrapeLoop, ScrapeOptions
from vigil.scrape.relabel import populate_labels
from vigil.scrape.target import Target
from vigil.tsdb.head import Head
from vigil.tsdb.head_state import HeadOptions

BODY = b"""# HELP rpc_seconds RPC latency.
# TYPE rpc_seconds histogram
rpc_seconds_bucket{path="/a",le="0.1"} 2
rpc_seconds_bucket{path="/a",le="0.5"} 6
rpc_seconds_bucket{path="/a",le="1"} 9
rpc_seconds_bucket{path="/a",le="+Inf"} 10
rpc_seconds_sum{path="/a"} 4.2
rpc_seconds_count{path="/a"} 10
# HELP broken_seconds Counts that decrease: left classic.
# TYPE broken_seconds histogram
broken_seconds_bucket{le="1"} 5
broken_seconds_bucket{le="+Inf"} 3
broken_seconds_count 3
# TYPE up_things gauge
up_things 1
"""


@pytest.fixture
def exporter() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _scrape(port: int, **config: Any) -> tuple[Head, int]:
    scrape_config = ScrapeConfig(
        job_name="j",
        scrape_interval=Duration(15_000),
        scrape_timeout=Duration(10_000),
        convert_classic_histograms_to_nhcb=True,
        **config,
    )
    internal, discovered = populate_labels(
        Labels.from_dict({"__address__": f"127.0.0.1:{port}"}), scrape_config
    )
    assert internal is not None
    head = Head(HeadOptions(max_future_ms=0), clock=lambda: 0.0)
    clock = ManualClock()

    async def run() -> int:
        async with httpx.AsyncClient() as client:
            target = Target.of(scrape_config, internal, discovered)
            loop = ScrapeLoop(target, ScrapeOptions.of(scrape_config), client, head.appender, clock)
            outcome = await loop.scrape(clock.now())
            assert outcome.error == ""
            return round(outcome.started * 1000)

    return head, asyncio.run(run())


def _query(head: Head, expr: str, t_ms: int) -> dict[str, float]:
    value = Engine(head.querier).instant_query(expr, t_ms).value
    assert isinstance(value, Vector)
    return {str(dict(s.labels)): s.value for s in value.samples}


def test_classic_histograms_become_custom_bucket_ones(exporter: int) -> None:
    head, t_ms = _scrape(exporter)
    names = _query(head, 'count by (__name__) ({job="j"})', t_ms)
    assert set(names) >= {"{'__name__': 'rpc_seconds'}", "{'__name__': 'up_things'}"}
    assert not {n for n in names if "rpc_seconds_" in n}  # the classic series are gone
    assert {n for n in names if "broken_seconds" in n} == {
        "{'__name__': 'broken_seconds_bucket'}",
        "{'__name__': 'broken_seconds_count'}",
    }
    assert _query(head, "histogram_count(rpc_seconds)", t_ms) == {
        f"{{'instance': '127.0.0.1:{exporter}', 'job': 'j', 'path': '/a'}}": 10.0
    }
    quantile = _query(head, "histogram_quantile(0.6, rpc_seconds)", t_ms)
    assert list(quantile.values()) == [pytest.approx(0.5)]  # 6 of 10 observations ≤ 0.5
    assert list(_query(head, "histogram_sum(rpc_seconds)", t_ms).values()) == [4.2]


def test_always_scrape_classic_histograms_keeps_both(exporter: int) -> None:
    head, t_ms = _scrape(exporter, always_scrape_classic_histograms=True)
    names = set(_query(head, 'count by (__name__) ({__name__=~"rpc_seconds.*"})', t_ms))
    assert names == {
        "{'__name__': 'rpc_seconds'}",
        "{'__name__': 'rpc_seconds_bucket'}",
        "{'__name__': 'rpc_seconds_sum'}",
        "{'__name__': 'rpc_seconds_count'}",
    }
    classic = _query(head, "histogram_quantile(0.6, rpc_seconds_bucket)", t_ms)
    native = _query(head, "histogram_quantile(0.6, rpc_seconds)", t_ms)
    assert list(classic.values()) == pytest.approx(list(native.values()))
