"""The Node Exporter Full dashboard's queries as range queries (1 h and 24 h windows, Grafana's
steps) against `vigil server` and `prometheus` on the same node_exporter-like data (imported with
vigil's importer and `promtool tsdb create-blocks-from openmetrics`): p50/p95 latency per system
and vigil's ratio. Over the target (vigil's p50 ≤ 1.5× Prometheus's) it profiles vigil's engine
in-process and prints what dominates.

    .venv/bin/python bench/promql.py [--instances 5] [--hours 24] [--keep DIR]

Default: 5 node_exporter instances (~1.9k series) × 24 h at 15 s, ~11M samples; 26 instances
give ~10k series (about 5× the import time and disk). The dashboard's queries select one
instance, so the series count mostly changes index lookups, not the samples a query reads."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' data generator

from tests.promql.test_prometheus_differential import (
    GRAFANA_VARIABLES,
    INSTANCE,
    JOB,
    SCRAPE_S,
    T0,
    Dataset,
    dashboard_queries,
    import_both,
    start_servers,
)

TARGET_RATIO = 1.5
# window -> (Grafana's step at ~1000 px, its $__rate_interval: max(step + scrape, 4 × scrape))
WINDOWS = {"1h": (3600, 15, "1m"), "24h": (86_400, 90, "1m45s")}


def _queries(rate_interval: str) -> list[str]:
    return [q.replace("[1m]", f"[{rate_interval}]") for q in dashboard_queries()]


def _instances(n: int) -> dict[str, float]:
    """Instance 0 is the one the dashboard looks at; scrape offsets spread over the interval."""
    names = [INSTANCE, *(f"node-{i:02d}:9100" for i in range(1, n))]
    return {name: 1.375 + (i * 1.125) % (SCRAPE_S - 2) for i, name in enumerate(names)}


def _prepare(root: Path, instances: int, hours: float) -> tuple[Path, Path, int]:
    vigil_dir, prom_dir = root / "vigil", root / "prometheus"
    dataset = Dataset(_instances(instances), hours)
    if vigil_dir.exists() and prom_dir.exists():
        print(f"reusing the data under {root}")
        return vigil_dir, prom_dir, 0
    om = root / "node.om"
    start = time.perf_counter()
    with om.open("w") as out:
        series = dataset.write(out)
    print(
        f"generated {series} series × {hours:g} h at {SCRAPE_S} s "
        f"({om.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s"
    )
    start = time.perf_counter()
    import_both(om, vigil_dir, prom_dir)
    print(f"imported into both in {time.perf_counter() - start:.0f} s")
    om.unlink()
    return vigil_dir, prom_dir, series


def _time_queries(
    client: httpx.Client, url: str, queries: list[str], start: int, end: int, step: int
) -> list[float]:
    """Per query: the median of three runs after one warm-up run (seconds)."""
    times = []
    for query in queries:
        params = {"query": query, "start": str(start), "end": str(end), "step": str(step)}
        runs = []
        for i in range(4):
            began = time.perf_counter()
            answer = client.post(f"{url}/api/v1/query_range", data=params).json()
            if i:
                runs.append(time.perf_counter() - began)
            if answer["status"] != "success":
                raise SystemExit(f"{url} failed {query!r}: {answer}")
        times.append(statistics.median(runs))
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _profile(vigil_dir: Path, queries: list[str], start: int, end: int, step: int) -> None:
    """cProfile of vigil's engine on the same queries, in-process over the same data dir."""
    from vigil.promql import Engine
    from vigil.tsdb.db import TSDB, TSDBOptions

    db = TSDB.open(vigil_dir, TSDBOptions(retention_ms=100 * 365 * 86_400_000))
    try:
        engine = Engine(db.querier)
        profiler = cProfile.Profile()
        profiler.enable()
        for query in queries:
            engine.range_query(query, start * 1000, end * 1000, step * 1000)
        profiler.disable()
    finally:
        db.close()
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(14)
        print(f"\nvigil engine profile, by {order}:")
        print("\n".join(text.getvalue().splitlines()[4:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=5, help="node_exporter instances")
    parser.add_argument("--hours", type=float, default=24, help="hours of data")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the data under this dir")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="vigil-bench-promql-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        vigil_dir, prom_dir, _ = _prepare(root, args.instances, args.hours)
        end = T0 + int(args.hours * 3600)
        results: dict[str, tuple[list[float], list[float]]] = {}
        over_target: list[tuple[str, list[str], int, int, int]] = []
        servers = start_servers(root, vigil_dir, prom_dir)
        urls = next(servers)
        try:
            with httpx.Client(timeout=300) as client:
                for name, (window, step, rate_interval) in WINDOWS.items():
                    queries = _queries(rate_interval)
                    start = max(end - window, T0)
                    prom = _time_queries(client, urls.prometheus, queries, start, end, step)
                    vigil = _time_queries(client, urls.vigil, queries, start, end, step)
                    results[name] = (prom, vigil)
                    if statistics.median(vigil) > TARGET_RATIO * statistics.median(prom):
                        over_target.append((name, queries, start, end, step))
                floor = [
                    _time_queries(client, url, ["vector(1)"] * 15, end - 3600, end, 15)
                    for url in (urls.prometheus, urls.vigil)
                ]
        finally:
            servers.close()
        print(
            f"\nNode Exporter Full dashboard, {len(dashboard_queries())} range queries "
            f"(job={JOB}, instance={INSTANCE}; {GRAFANA_VARIABLES['$__rate_interval']} "
            "rate interval at 1 h), median of 3 runs each:"
        )
        print(f"{'window':8s} {'system':12s} {'p50 ms':>9s} {'p95 ms':>9s} {'total s':>9s}")
        for name, (prom, vigil) in results.items():
            for system, values in (("prometheus", prom), ("vigil", vigil)):
                print(
                    f"{name:8s} {system:12s} {_p(values, 0.5) * 1e3:9.1f} "
                    f"{_p(values, 0.95) * 1e3:9.1f} {sum(values):9.2f}"
                )
            ratio50 = _p(vigil, 0.5) / _p(prom, 0.5)
            ratio95 = _p(vigil, 0.95) / _p(prom, 0.95)
            verdict = "meets" if ratio50 <= TARGET_RATIO else "misses"
            print(
                f"{name:8s} vigil/prometheus: p50 {ratio50:.2f}×, p95 {ratio95:.2f}× "
                f"({verdict} the ≤ {TARGET_RATIO}× p50 target)"
            )
        print(
            "HTTP floor, vector(1) over 1 h, p50 ms: "
            f"prometheus {_p(floor[0], 0.5) * 1e3:.1f}, vigil {_p(floor[1], 0.5) * 1e3:.1f}"
        )
        for name, queries, start, stop, step in over_target:
            print(f"\nprofiling vigil's engine on the {name} window (over the target):")
            _profile(vigil_dir, queries, start, stop, step)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
