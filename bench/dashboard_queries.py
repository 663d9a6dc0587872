"""The API requests the built-in Node dashboard (/d/vigil-node) makes over a day of one host's
history (tests/ui/history.py, 15 s), replayed against vigil and the real Prometheus 2.42 over
the same samples: time per request (median of `--runs`), the sum, and the wall time of the
whole set sent 6 at a time as the browser sends them.

The requests were recorded once from the page (Chromium, 1400 px wide, `from`/`to` one day
ending at the history's last sample) and are kept here as the page derives them: PromQL as
interpolated ($__rate_interval = 135s at the 120 s step of a half-width panel, 315s for the
gauges), range start/end aligned to the step (`floor(from/step)*step`, `ceil(to/step)*step`).
Prometheus gets the series these requests read, written by `promtool tsdb
create-blocks-from openmetrics` from the same generated samples. Not a test.

    .venv/bin/python bench/dashboard_queries.py [--runs 5] [--hours 24]
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests' data generator and server launcher

from tests.ui.conftest import prometheus_server, vigil_server  # noqa: E402
from tests.ui.history import write_history, write_openmetrics  # noqa: E402

BROWSER_CONCURRENCY = 6
_N = 'instance="host1:9100",job="node"'
_DEV = f'{_N},device!~"lo|veth.*|docker.*|br-.*"'
_FS = f'{_N},fstype!~"rootfs|tmpfs|overlay|squashfs|ramfs|nsfs|fuse.*"'
_CORES = f"count(count(node_cpu_seconds_total{{{_N}}}) by (cpu))"


def _mem(name: str) -> str:
    return f"node_memory_{name}_bytes{{{_N}}}"


# (what, expr or label name, step in seconds; 0 for an instant query, None for label values)
NODE_DASHBOARD: tuple[tuple[str, str, int | None], ...] = (
    ("query", f'100 * (1 - avg(rate(node_cpu_seconds_total{{mode="idle",{_N}}}[315s])))', 0),
    ("query", f"scalar(node_load1{{{_N}}}) * 100 / {_CORES}", 0),
    ("query", f"clamp_min((1 - {_mem('MemAvailable')} / {_mem('MemTotal')}) * 100, 0)", 0),
    (
        "query",
        f'100 * (1 - node_filesystem_avail_bytes{{{_N},mountpoint="/",fstype!="rootfs"}} / '
        f'node_filesystem_size_bytes{{{_N},mountpoint="/",fstype!="rootfs"}})',
        0,
    ),
    ("query", _CORES, 0),
    ("query", _mem("MemTotal"), 0),
    ("label", "job", None),
    ("query", f"node_time_seconds{{{_N}}} - node_boot_time_seconds{{{_N}}}", 0),
    *(
        ("range", f'avg(rate(node_cpu_seconds_total{{mode="{mode}",{_N}}}[135s]))', 120)
        for mode in ("system", "user", "iowait")
    ),
    (
        "range",
        f'avg(sum without (mode) (rate(node_cpu_seconds_total{{mode=~".*irq",{_N}}}[135s])))',
        120,
    ),
    (
        "range",
        "avg(sum without (mode) (rate(node_cpu_seconds_total"
        f'{{mode!~"idle|user|system|iowait|irq|softirq",{_N}}}[135s])))',
        120,
    ),
    ("range", f'avg(rate(node_cpu_seconds_total{{mode="idle",{_N}}}[135s]))', 120),
    ("range", _mem("MemTotal"), 120),
    (
        "range",
        f"{_mem('MemTotal')} - {_mem('MemFree')} - "
        f"({_mem('Cached')} + {_mem('Buffers')} + {_mem('SReclaimable')})",
        120,
    ),
    ("range", f"{_mem('Cached')} + {_mem('Buffers')} + {_mem('SReclaimable')}", 120),
    ("label", "nodename", None),
    ("range", _mem("MemFree"), 120),
    ("range", f"{_mem('SwapTotal')} - {_mem('SwapFree')}", 120),
    ("range", f"rate(node_network_receive_bytes_total{{{_DEV}}}[135s]) * 8", 120),
    ("range", f"rate(node_network_transmit_bytes_total{{{_DEV}}}[135s]) * 8", 120),
    (
        "range",
        f"100 * (1 - node_filesystem_avail_bytes{{{_FS}}} / node_filesystem_size_bytes{{{_FS}}})",
        120,
    ),
    ("label", "instance", None),
)
# The template variables' queries (label values of node_uname_info), in dependency order.
_LABEL_MATCH = {
    "job": "node_uname_info",
    "nodename": 'node_uname_info{job="node"}',
    "instance": 'node_uname_info{job="node", nodename="host1"}',
}


@dataclass(frozen=True, slots=True)
class Request:
    """One API request as the page sends it."""

    path: str
    params: dict[str, str]
    name: str


def requests_for(from_ms: int, to_ms: int) -> list[Request]:
    """The dashboard's requests for the time range [from_ms, to_ms], as the page builds them."""
    out = []
    for kind, text, step in NODE_DASHBOARD:
        if kind == "label":
            params = {
                "match[]": _LABEL_MATCH[text],
                "start": str(from_ms // 1000),
                "end": str(math.ceil(to_ms / 1000)),
            }
            out.append(Request(f"/api/v1/label/{text}/values", params, f"label {text} values"))
        elif kind == "query":
            out.append(Request("/api/v1/query", {"query": text, "time": str(to_ms / 1000)}, text))
        else:
            assert step
            start = math.floor(from_ms / 1000 / step) * step
            end = math.ceil(to_ms / 1000 / step) * step
            params = {"query": text, "start": str(start), "end": str(end), "step": str(step)}
            out.append(Request("/api/v1/query_range", params, text))
    return out


def _metric_names() -> set[str]:
    exprs = " ".join(text for _, text, _ in NODE_DASHBOARD) + " node_uname_info{"
    return set(re.findall(r"\b([a-zA-Z_:][\w:]*)\{", exprs))


def _send(client: httpx.Client, base: str, request: Request) -> tuple[float, int]:
    """Seconds until the whole answer is read, and how many series (or values) it holds."""
    began = time.perf_counter()
    response = client.get(base + request.path, params=request.params, timeout=60)
    body = response.json()
    elapsed = time.perf_counter() - began
    if body.get("status") != "success":
        raise SystemExit(f"{base}: {request.name}: {response.text[:300]}")
    data = body["data"]
    return elapsed, len(data["result"]) if isinstance(data, dict) else len(data)


@dataclass
class Side:
    """One server's figures: seconds per request (first pass on the fresh server, then each
    run), series counts, batch wall times."""

    name: str
    cold: list[float]
    per_request: list[list[float]]
    counts: list[int]
    batches: list[float]

    def median(self, i: int) -> float:
        return statistics.median(self.per_request[i])

    @property
    def total(self) -> float:
        return sum(self.median(i) for i in range(len(self.per_request)))


def _measure(name: str, base: str, requests: list[Request], runs: int) -> Side:
    side = Side(name, [0.0] * len(requests), [[] for _ in requests], [0] * len(requests), [])
    with httpx.Client(limits=httpx.Limits(max_connections=BROWSER_CONCURRENCY)) as client:
        for i, request in enumerate(requests):  # first reads of index and samples
            side.cold[i], side.counts[i] = _send(client, base, request)
        for _ in range(runs):
            for i, request in enumerate(requests):
                side.per_request[i].append(_send(client, base, request)[0])
        with ThreadPoolExecutor(BROWSER_CONCURRENCY) as pool:
            for _ in range(runs):
                began = time.perf_counter()
                list(pool.map(lambda r: _send(client, base, r), requests))
                side.batches.append(time.perf_counter() - began)
    return side


def _prepare(root: Path, hours: float) -> tuple[Path, Path, int]:
    vigil_dir, prom_dir = root / "vigil", root / "prometheus"
    history = write_history(vigil_dir, hours=hours)
    names = _metric_names()
    om = root / "node.om"
    picked = {str(ls.get("__name__")) for ls in history.labels} & names
    samples = write_openmetrics(history.select(picked), om)
    began = time.perf_counter()
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(prom_dir)],
        check=True,
        capture_output=True,
    )
    print(
        f"history: {len(history.labels)} series, {history.samples / 1e6:.1f} M samples in vigil "
        f"blocks; Prometheus gets the {len(picked)} metrics the dashboard reads "
        f"({samples / 1e6:.1f} M samples, promtool {time.perf_counter() - began:.1f} s)"
    )
    om.unlink()
    return vigil_dir, prom_dir, int(history.timestamps[-1])


def _short(text: str, width: int = 78) -> str:
    text = text.replace('instance="host1:9100",job="node"', "…")
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds per server (after a warm-up)")
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    for program in ("prometheus", "promtool"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (apt-get install prometheus)")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-dashboard-") as tmp:
        root = Path(tmp)
        vigil_dir, prom_dir, end_ms = _prepare(root, args.hours)
        requests = requests_for(end_ms - int(args.hours * 3600_000), end_ms)
        with vigil_server(vigil_dir) as vigil, prometheus_server(prom_dir, root) as prom:
            ours = _measure("vigil", vigil, requests, args.runs)
            theirs = _measure("prometheus", prom, requests, args.runs)
    print(
        f"\nNode dashboard's {len(requests)} API requests (ms): median of {args.runs} runs, "
        "and the first pass on the freshly started server"
    )
    print(f"{'vigil':>8}{'prom':>8}{'series':>8}{'vigil':>8}{'prom':>8}  request")
    print(f"{'':24}{'first':>8}{'first':>8}")
    for i, request in enumerate(requests):
        counts = f"{ours.counts[i]}" + (
            "" if ours.counts[i] == theirs.counts[i] else f"≠{theirs.counts[i]}"
        )
        print(
            f"{ours.median(i) * 1000:8.1f}{theirs.median(i) * 1000:8.1f}{counts:>8}"
            f"{ours.cold[i] * 1000:8.1f}{theirs.cold[i] * 1000:8.1f}  {_short(request.name, 62)}"
        )
    print(
        f"{ours.total * 1000:8.1f}{theirs.total * 1000:8.1f}{'':8}{sum(ours.cold) * 1000:8.1f}"
        f"{sum(theirs.cold) * 1000:8.1f}  sum, one at a time"
    )
    ours_b, theirs_b = statistics.median(ours.batches), statistics.median(theirs.batches)
    print(
        f"{ours_b * 1000:8.1f}{theirs_b * 1000:8.1f}{'':24}  all, {BROWSER_CONCURRENCY} at a "
        "time as the browser sends them (wall)"
    )
    print(
        f"vigil / prometheus: {ours.total / theirs.total:.2f}× summed, {ours_b / theirs_b:.2f}× wall"
    )


if __name__ == "__main__":
    main()
