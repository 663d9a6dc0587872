"""Block storage on node_exporter data: vigil vs Prometheus (promtool-built blocks), same data.

Records a few scrapes of the real `prometheus-node-exporter`, synthesises 2,000 series ×
6 h at 15 s by replaying each series with drift like its own (counters at their observed
rate, gauges as random walks of their observed step, same decimal precision), writes it
as OpenMetrics, imports it into vigil and (with `promtool tsdb create-blocks-from
openmetrics`) into Prometheus, and prints bytes/sample on disk for both, then vigil's
decode throughput and the time to read 50 of the 2,000 series. Not a test.

    .venv/bin/python bench/tsdb.py [--fixture] [--series 2000] [--hours 6]
"""

from __future__ import annotations

import argparse
import decimal
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from vigil.exposition import Format
from vigil.exposition.scan import scan
from vigil.model import METRIC_NAME, Labels, Matcher
from vigil.tsdb import SeriesData
from vigil.tsdb.block import Block, open_blocks
from vigil.tsdb.chunkenc import decode, encode
from vigil.tsdb.importer import import_openmetrics

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "exposition"
    / "node-exporter-1.5.0.txt"
)
STEP_MS = 15_000
T0_MS = 1_700_000_000_000 - 1_700_000_000_000 % (2 * 3600 * 1000)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One series seen over a few scrapes: its values and the seconds between first and last."""

    labels: Labels
    values: npt.NDArray[np.float64]
    seconds: float
    counter: bool


def record_node_exporter(scrapes: int = 5, interval_s: float = 1.0) -> list[Recorded]:
    """Scrape a real node_exporter a few times (its own counters move in between)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        ["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bodies: list[bytes] = []
        started = time.monotonic()
        deadline = started + 10
        while len(bodies) < scrapes:
            try:
                bodies.append(httpx.get(f"http://127.0.0.1:{port}/metrics").content)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            if len(bodies) == 1:
                started = time.monotonic()
            if len(bodies) < scrapes:
                time.sleep(interval_s)
        seconds = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait()
    return _recorded(bodies, seconds)


def record_fixture() -> list[Recorded]:
    return _recorded([FIXTURE.read_bytes()], 0.0)


def _recorded(bodies: list[bytes], seconds: float) -> list[Recorded]:
    per_scrape: list[dict[Labels, float]] = []
    counters: set[str] = set()
    for body in bodies:
        batch = scan(body, Format.TEXT)
        counters |= {n for n, m in batch.metadata.items() if m.type.value == "counter"}
        per_scrape.append(
            {
                labels.with_label(METRIC_NAME, name): float(v)
                for (name, labels), v in zip(batch.labels, batch.values, strict=True)
            }
        )
    common = [k for k in per_scrape[0] if all(k in s for s in per_scrape)]
    out = []
    for key in common:
        name = key.get(METRIC_NAME)
        counter = name in counters or name.endswith(("_total", "_count", "_sum", "_bucket"))
        values = np.array([s[key] for s in per_scrape])
        out.append(Recorded(key, values, seconds, counter))
    return out


def _decimals(value: float) -> int:
    if not np.isfinite(value):
        return 0
    exponent = decimal.Decimal(repr(value)).as_tuple().exponent
    assert isinstance(exponent, int)
    return min(max(-exponent, 0), 12)


def synthesise(
    recorded: list[Recorded], n_series: int = 2000, hours: float = 6, seed: int = 1
) -> list[SeriesData]:
    """`n_series` series (copies of the recorded ones under `instance="host-N"`), each
    replayed for `hours` at 15 s with drift like the recording's."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600_000 // STEP_MS)
    grid = T0_MS + np.arange(n, dtype=np.int64) * STEP_MS
    out: list[SeriesData] = []
    host = 0
    while len(out) < n_series:
        for rec in recorded:
            if len(out) == n_series:
                break
            labels = rec.labels.with_label("instance", f"host-{host}:9100").with_label(
                "job", "node"
            )
            ts = grid.copy()
            jitter = rng.random(n) < 0.02  # a late scrape now and then
            ts[jitter] += rng.integers(1, 6, int(jitter.sum()))
            out.append(SeriesData(labels, ts, _replay(rec, n, rng, host)))
        host += 1
    out.sort(key=lambda s: s.labels)
    return out


def _replay(rec: Recorded, n: int, rng: np.random.Generator, host: int) -> npt.NDArray[np.float64]:
    v0 = float(rec.values[0])
    places = _decimals(v0)
    if not np.isfinite(v0):
        return np.full(n, v0)
    moved = rec.values[-1] - rec.values[0]
    factor = 1.0 if host == 0 else rng.uniform(0.5, 1.5)
    start = round(v0 * (1.0 if host == 0 or v0 == 0 else rng.uniform(0.8, 1.2)), places)
    if rec.counter:
        if moved > 0 and rec.seconds > 0:
            rate = moved / rec.seconds * STEP_MS / 1000 * factor
            steps = np.maximum(rate * (1 + 0.3 * rng.standard_normal(n - 1)), 0)
        else:  # an idle counter: a bump every ~10 minutes
            steps = (rng.random(n - 1) < 1 / 40) * rng.integers(1, 5, n - 1)
        return np.round(start + np.concatenate([[0.0], np.cumsum(steps)]), places)
    if moved != 0 and rec.seconds > 0:
        scale = abs(moved) / np.sqrt(max(len(rec.values) - 1, 1)) * factor
        walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n - 1) * scale)])
        return np.round(start + walk, places)
    return np.full(n, start)


def write_openmetrics(series: list[SeriesData], path: Path) -> int:
    """The samples as one OpenMetrics file (families contiguous); returns the sample count."""
    total = 0
    with path.open("w") as out:
        for s in series:
            name = s.labels.get(METRIC_NAME)
            rest = s.labels.without(METRIC_NAME)
            text = name + ("{" + ",".join(f'{k}="{v}"' for k, v in rest) + "}" if rest else "")
            seconds = s.timestamps // 1000
            millis = s.timestamps % 1000
            lines = [
                f"{text} {_om_value(v)} {sec}.{ms:03d}\n"
                for v, sec, ms in zip(
                    s.values.tolist(), seconds.tolist(), millis.tolist(), strict=True
                )
            ]
            out.writelines(lines)
            total += len(lines)
        out.write("# EOF\n")
    return total


def _om_value(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _tree_bytes(root: Path, only: str | None = None) -> int:
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and (only is None or only in path.relative_to(root).parts):
            total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--fixture", action="store_true", help="use the fixture, not a live exporter"
    )
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--hours", type=float, default=6)
    args = parser.parse_args()

    recorded = record_fixture() if args.fixture else record_node_exporter()
    series = synthesise(recorded, args.series, args.hours)
    samples = sum(len(s.timestamps) for s in series)
    print(
        f"data: {len(series)} series × {args.hours:g} h at 15 s = {samples:,} samples "
        f"(replayed from {len(recorded)} {'fixture' if args.fixture else 'node_exporter'} series)"
    )
    with tempfile.TemporaryDirectory(prefix="vigil-bench-tsdb-") as tmp:
        root = Path(tmp)
        om = root / "data.om"
        write_openmetrics(series, om)
        print(f"openmetrics file: {om.stat().st_size / samples:.1f} bytes/sample")

        vigil_dir = root / "vigil"
        started = time.perf_counter()
        import_openmetrics(om, vigil_dir)
        vigil_import_s = time.perf_counter() - started
        prom_dir = root / "prometheus"
        started = time.perf_counter()
        subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(prom_dir)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        prom_import_s = time.perf_counter() - started

        v_chunks, v_all = _tree_bytes(vigil_dir, "chunks"), _tree_bytes(vigil_dir)
        p_chunks, p_all = _tree_bytes(prom_dir, "chunks"), _tree_bytes(prom_dir)
        print(f"{'':24}{'chunks/ B/sample':>18}{'block dirs B/sample':>22}{'import s':>10}")
        print(
            f"{'prometheus (promtool)':24}{p_chunks / samples:18.3f}{p_all / samples:22.3f}{prom_import_s:10.1f}"
        )
        print(
            f"{'vigil':24}{v_chunks / samples:18.3f}{v_all / samples:22.3f}{vigil_import_s:10.1f}"
        )
        print(
            f"vigil / prometheus: chunks {v_chunks / p_chunks:.2f}×, block dirs {v_all / p_all:.2f}×"
        )

        _decode_figures(series, vigil_dir)


def _decode_figures(series: list[SeriesData], data_dir: Path) -> None:
    records = [encode(s.timestamps, s.values) for s in series]
    samples = sum(len(s.timestamps) for s in series)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for record in records:
            decode(record)
        best = min(best, time.perf_counter() - started)
    print(f"decode: {samples / best / 1e6:.1f} M samples/s ({len(records)} records, best of 5)")

    blocks = open_blocks(data_dir)
    rng = np.random.default_rng(7)
    names = sorted({s.labels.get("instance") for s in series})
    picks = [series[i].labels for i in rng.choice(len(series), 50, replace=False)]
    block = max(blocks, key=lambda b: b.meta.num_samples)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        got = 0
        for labels in picks:
            matchers = [Matcher.of(k, "=", v) for k, v in labels]
            got += sum(len(s.timestamps) for s in block.select(matchers))
        best = min(best, time.perf_counter() - started)
    print(
        f"read 50 of {block.meta.num_series} series from one {_hours(block)} block "
        f"(by full label set): {best * 1000:.1f} ms, {got:,} samples ({len(names)} instances)"
    )
    regex = Matcher.of("instance", "=~", "host-0:.*")
    started = time.perf_counter()
    total = sum(len(s.timestamps) for b in blocks for s in b.select([regex]))
    print(
        f"select instance=~'host-0:.*' over {len(blocks)} blocks: {(time.perf_counter() - started) * 1000:.1f} ms, {total:,} samples"
    )
    for b in blocks:
        b.close()


def _hours(block: Block) -> str:
    return f"{(block.meta.maxt - block.meta.mint + 1) / 3600_000:g} h"


if __name__ == "__main__":
    if shutil.which("promtool") is None:
        raise SystemExit("promtool is not installed (apt-get install prometheus)")
    main()
