"""The real OpenTelemetry Python SDK (`opentelemetry-sdk` with the OTLP/HTTP protobuf exporter,
gzip on) exports counters, up-down counters, gauges and histograms to a live `vigil server
--web.enable-otlp-receiver` (at /api/v1/otlp/v1/metrics and /otlp/v1/metrics); the series and
values Prometheus 3 would store arrive, a delta exporter's sums are refused and counted, and
/-/reload switches the translation strategy."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from tests.conftest import PATIENCE_S, free_port, running

pytestmark = pytest.mark.slow

RESOURCE = {
    "service.name": "checkout",
    "service.instance.id": "i-1",
    "deployment.environment": "test",
    "host.name": "vm1",
}


@contextmanager
def _meter(endpoint: str, **exporter: Any) -> Iterator[Meter]:
    """A meter whose provider exports once, when the block ends."""
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(
            endpoint=endpoint, compression=Compression.Gzip, timeout=PATIENCE_S, **exporter
        ),
        export_interval_millis=3_600_000,
    )
    provider = MeterProvider(resource=Resource.create(RESOURCE), metric_readers=[reader])
    try:
        yield provider.get_meter("shop.checkout", "1.0")
        assert provider.force_flush(timeout_millis=int(PATIENCE_S * 1000))
    finally:
        provider.shutdown()


def _record(meter: Meter) -> None:
    orders = meter.create_counter("shop.orders", unit="{order}")
    orders.add(3, {"payment.method": "card"})
    orders.add(4, {"payment.method": "card"})
    orders.add(1, {"payment.method": "cash"})
    queue = meter.create_up_down_counter("queue.size", unit="{item}")
    queue.add(5)
    queue.add(-2)
    meter.create_gauge("room.temperature", unit="Cel").set(21.5, {"room": "lab"})
    duration = meter.create_histogram(
        "http.server.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 0.5, 1.0]
    )
    for seconds in (0.05, 0.3, 0.3, 2.0):
        duration.record(seconds, {"http.route": "/pay"})


def _query(api: str, query: str) -> dict[tuple[tuple[str, str], ...], float]:
    body = httpx.get(f"{api}/api/v1/query", params={"query": query}).json()
    assert body["status"] == "success", body
    return {
        tuple(sorted(item["metric"].items())): float(item["value"][1])
        for item in body["data"]["result"]
    }


def _series(name: str, **labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"__name__": name, **labels}.items()))


SHOP = {"job": "checkout", "instance": "i-1"}


def _until(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_the_opentelemetry_sdk_exports_to_vigil(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("otlp:\n  promote_resource_attributes: [deployment.environment]\n")
    server = [
        sys.executable, "-m", "vigil", "server",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-otlp-receiver",
        "--web.enable-lifecycle",
        "--agent.disable",
        "--rules.default.disable",
    ]  # fmt: skip
    api = f"http://127.0.0.1:{port}"
    endpoint = f"{api}/api/v1/otlp/v1/metrics"
    with running(server, f"{api}/-/ready"):
        with _meter(endpoint) as meter:
            _record(meter)
        got = _query(api, '{job="checkout"}')
        env = {**SHOP, "deployment_environment": "test"}
        route = {**env, "http_route": "/pay"}
        duration_sum = got.pop(_series("http_server_duration_seconds_sum", **route))
        assert duration_sum == pytest.approx(2.65)
        target_info = [key for key in got if dict(key)["__name__"] == "target_info"]
        assert len(target_info) == 1
        assert {
            k: v for k, v in dict(target_info[0]).items() if not k.startswith("telemetry_")
        } == {
            "__name__": "target_info",
            **SHOP,
            "deployment_environment": "test",
            "host_name": "vm1",
        }
        assert dict(target_info[0])["telemetry_sdk_language"] == "python"
        del got[target_info[0]]
        assert got == {
            _series("shop_orders_total", **env, payment_method="card"): 7.0,
            _series("shop_orders_total", **env, payment_method="cash"): 1.0,
            _series("queue_size", **env): 3.0,
            _series("room_temperature_celsius", **env, room="lab"): 21.5,
            _series("http_server_duration_seconds_bucket", **route, le="0.1"): 1.0,
            _series("http_server_duration_seconds_bucket", **route, le="0.5"): 3.0,
            _series("http_server_duration_seconds_bucket", **route, le="1"): 3.0,
            _series("http_server_duration_seconds_bucket", **route, le="+Inf"): 4.0,
            _series("http_server_duration_seconds_count", **route): 4.0,
        }

        # An exporter that prefers delta temporality: its counter is refused, and counted.
        with _meter(
            endpoint, preferred_temporality={Counter: AggregationTemporality.DELTA}
        ) as meter:
            meter.create_counter("delta.orders").add(2)
            meter.create_gauge("delta.gauge").set(1)
        assert _query(api, '{__name__=~"delta.*"}') == {_series("delta_gauge", **env): 1.0}
        metrics = httpx.get(f"{api}/metrics").text
        assert 'vigil_otlp_data_points_dropped_total{reason="delta_temporality"} 1\n' in metrics

        # /-/reload switches to Prometheus 3's UTF-8 names.
        config.write_text("otlp:\n  translation_strategy: NoUTF8EscapingWithSuffixes\n")
        assert httpx.post(f"{api}/-/reload").status_code == 200
        with _meter(endpoint) as meter:
            meter.create_counter("shop.refunds").add(2, {"payment.method": "card"})
        refunds = _until(lambda: _query(api, '{"shop.refunds_total", "payment.method"="card"}'))
        assert refunds == {_series("shop.refunds_total", **SHOP, **{"payment.method": "card"}): 2.0}

        # The main port's /otlp/v1/metrics, beside /otlp/v1/traces and /otlp/v1/logs.
        with _meter(f"{api}/otlp/v1/metrics") as meter:
            meter.create_counter("shop.returns").add(1, {"payment.method": "card"})
        returns = _until(lambda: _query(api, '{"shop.returns_total"}'))
        assert returns == {_series("shop.returns_total", **SHOP, **{"payment.method": "card"}): 1.0}
