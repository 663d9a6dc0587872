"""Go's float formats, one table of edge cases held to what Go prints: `strconv.FormatFloat`'s
documented layouts, and the real promtool (`tsdb dump`, `%g`) and Prometheus (the API's
sample values, `count_values`' 'f' labels) reading the same samples."""

from __future__ import annotations

import math
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, peer, running
from vigil.model.gofloat import format_float, format_json

NAN, INF = math.nan, math.inf

# value: 'f', 'g', 'e', and the API's JSON form (jsonutil.MarshalFloat)
CASES: list[tuple[float, str, str, str, str]] = [
    (NAN, "NaN", "NaN", "NaN", "NaN"),
    (INF, "+Inf", "+Inf", "+Inf", "+Inf"),
    (-INF, "-Inf", "-Inf", "-Inf", "-Inf"),
    (0.0, "0", "0", "0e+00", "0"),
    (-0.0, "-0", "-0", "-0e+00", "-0"),
    (1.0, "1", "1", "1e+00", "1"),
    (-1.0, "-1", "-1", "-1e+00", "-1"),
    (0.1, "0.1", "0.1", "1e-01", "0.1"),
    (
        0.1 + 0.2,
        "0.30000000000000004",
        "0.30000000000000004",
        "3.0000000000000004e-01",
        "0.30000000000000004",
    ),
    (100.0, "100", "100", "1e+02", "100"),
    (2.5, "2.5", "2.5", "2.5e+00", "2.5"),
    (123456.0, "123456", "123456", "1.23456e+05", "123456"),
    (1234567.0, "1234567", "1.234567e+06", "1.234567e+06", "1234567"),
    (1.7e9, "1700000000", "1.7e+09", "1.7e+09", "1700000000"),
    (
        1700005407.123,
        "1700005407.123",
        "1.700005407123e+09",
        "1.700005407123e+09",
        "1700005407.123",
    ),
    (123456789012.0, "123456789012", "1.23456789012e+11", "1.23456789012e+11", "123456789012"),
    (2.5e15, "2500000000000000", "2.5e+15", "2.5e+15", "2500000000000000"),
    (
        2.0**53,
        "9007199254740992",
        "9.007199254740992e+15",
        "9.007199254740992e+15",
        "9007199254740992",
    ),
    (
        2.0**63,
        "9223372036854776000",
        "9.223372036854776e+18",
        "9.223372036854776e+18",
        "9223372036854776000",
    ),
    (9.99e20, "999000000000000000000", "9.99e+20", "9.99e+20", "999000000000000000000"),
    (1e21, "1000000000000000000000", "1e+21", "1e+21", "1e+21"),
    (-1e21, "-1000000000000000000000", "-1e+21", "-1e+21", "-1e+21"),
    (1e22, "10000000000000000000000", "1e+22", "1e+22", "1e+22"),
    (
        1.7976931348623157e308,
        "17976931348623157" + "0" * 292,
        "1.7976931348623157e+308",
        "1.7976931348623157e+308",
        "1.7976931348623157e+308",
    ),
    (1e-4, "0.0001", "0.0001", "1e-04", "0.0001"),
    (1e-5, "0.00001", "1e-05", "1e-05", "0.00001"),
    (1e-6, "0.000001", "1e-06", "1e-06", "0.000001"),
    (1e-7, "0.0000001", "1e-07", "1e-07", "1e-07"),
    (-1.234e-7, "-0.0000001234", "-1.234e-07", "-1.234e-07", "-1.234e-07"),
    (
        2.2250738585072014e-308,
        "0." + "0" * 307 + "22250738585072014",
        "2.2250738585072014e-308",
        "2.2250738585072014e-308",
        "2.2250738585072014e-308",
    ),
    (1e-310, "0." + "0" * 309 + "1", "1e-310", "1e-310", "1e-310"),  # subnormal
    (5e-324, "0." + "0" * 323 + "5", "5e-324", "5e-324", "5e-324"),  # the smallest subnormal
]


@pytest.mark.parametrize(("value", "f", "g", "e", "json"), CASES, ids=[c[1][:24] for c in CASES])
def test_shortest_formats(value: float, f: str, g: str, e: str, json: str) -> None:
    got = (format_float(value, "f"), format_float(value), format_float(value, "e"))
    assert (*got, format_json(value)) == (f, g, e, json)
    assert (format_float(value, "E"), format_float(value, "G")) == (
        e.replace("e", "E"),
        g.replace("e", "E"),
    )


@pytest.mark.parametrize(
    ("value", "fmt", "prec", "want"),
    [
        (1.5, "f", 2, "1.50"),
        (1234567.0, "g", 3, "1.23e+06"),
        (100.0, "g", 3, "100"),
        (0.0, "e", 3, "0.000e+00"),
        (2.5, "g", 0, "2"),  # precision 0 means 1 for 'g'; exact halves round to even
        (1.0, "E", 2, "1.00E+00"),
        (NAN, "f", 2, "NaN"),
        (-INF, "e", 3, "-Inf"),
    ],
)
def test_fixed_precision(value: float, fmt: str, prec: int, want: str) -> None:
    assert format_float(value, fmt, prec) == want


@pytest.fixture(scope="module")
def peer_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The table's values as series `v{case="i"}`, written to a TSDB by promtool."""
    root = tmp_path_factory.mktemp("gofloat")
    at = int(time.time()) - 3600
    lines = ["# TYPE v gauge"]
    lines += [f'v{{case="{i}"}} {value!r} {at}' for i, (value, *_) in enumerate(CASES)]
    (root / "values.om").write_text(
        "\n".join(lines).replace("inf", "Inf").replace("nan", "NaN") + "\n# EOF\n"
    )
    data = root / "data"
    subprocess.run(
        [
            peer("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(root / "values.om"),
            str(data),
        ],
        check=True,
        capture_output=True,
    )
    (data / "wal").mkdir()
    return data, at


def test_g_is_what_promtool_dump_prints(peer_data: tuple[Path, int]) -> None:
    data, _ = peer_data
    dump = subprocess.run(
        [peer("promtool"), "tsdb", "dump", str(data)], check=True, capture_output=True, text=True
    ).stdout
    printed = {int(m[1]): m[2] for m in re.finditer(r'case="(\d+)"\} (\S+) \d+', dump)}
    assert printed == {i: format_float(value) for i, (value, *_) in enumerate(CASES)}


def test_json_and_f_are_what_prometheus_answers(peer_data: tuple[Path, int]) -> None:
    data, at = peer_data
    config = data.parent / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, f"{base}/-/ready", 60):
        samples = _query(base, "v", at)
        labels = _query(base, 'count_values by (case) ("f", v)', at)
    assert {int(s["metric"]["case"]): s["value"][1] for s in samples} == {
        i: format_json(value) for i, (value, *_) in enumerate(CASES)
    }
    assert {int(s["metric"]["case"]): s["metric"]["f"] for s in labels} == {
        i: format_float(value, "f") for i, (value, *_) in enumerate(CASES)
    }


def _query(base: str, query: str, at: int) -> list[dict[str, object]]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": query, "time": at}).json()
    result: list[dict[str, object]] = body["data"]["result"]
    return result
