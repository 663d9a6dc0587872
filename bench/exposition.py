"""Parse the node_exporter fixture scaled to ~100k series: vigil vs prometheus_client vs promtool.

Prints CPU seconds and samples/s for each, from one run on this machine (only the ratios
between the lines mean anything: the machine is shared). Not a test.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from vigil.exposition import Format
from vigil.exposition.scan import SeriesCache, scan
from vigil.exposition.text import parse_text

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "exposition"
    / "node-exporter-1.5.0.txt"
)
TARGET_SERIES = 100_000
_SAMPLE = re.compile(r"^([^#\s{]+)(?:\{(.*)\})? (.*)$")


def scaled_body(target: int = TARGET_SERIES) -> bytes:
    """The fixture with each family's samples repeated under a `replica` label."""
    lines = FIXTURE.read_text().splitlines()
    samples = sum(1 for line in lines if not line.startswith("#"))
    copies = -(-target // samples)
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        for k in range(copies):
            for line in block:
                m = _SAMPLE.match(line)
                assert m is not None, line
                name, labels, rest = m.groups()
                labels = f'replica="{k}"' + (f",{labels}" if labels else "")
                out.append(f"{name}{{{labels}}} {rest}")
        block.clear()

    for line in lines:
        if line.startswith("# HELP"):
            flush()
            out.append(line)
        elif line.startswith("#"):
            out.append(line)
        else:
            block.append(line)
    flush()
    return ("\n".join(out) + "\n").encode()


def cpu_of(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def promtool_cpu(body: bytes) -> float | None:
    promtool = shutil.which("promtool")
    if promtool is None:
        return None
    best = float("inf")
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return best


def main() -> None:
    body = scaled_body()
    text = body.decode()
    samples = len(scan(body, Format.TEXT))
    cache = SeriesCache(Format.TEXT)
    scan(body, Format.TEXT, cache)
    rows: list[tuple[str, float | None]] = [
        (
            "vigil scan, warm series cache (steady scrape)",
            cpu_of(lambda: scan(body, Format.TEXT, cache)),
        ),
        ("vigil scan, cold cache (first scrape)", cpu_of(lambda: scan(body, Format.TEXT))),
        ("vigil parse_text (strict, promtool rules)", cpu_of(lambda: parse_text(text))),
        (
            "prometheus_client text_string_to_metric_families",
            cpu_of(lambda: list(text_string_to_metric_families(text)), 1),
        ),
        ("promtool check metrics (Go, incl. lint + process start)", promtool_cpu(body)),
        ("promtool check metrics on 1 line (process start only)", promtool_cpu(b"a 1\n")),
    ]
    print(f"body: {len(body) / 1e6:.1f} MB, {samples} samples")
    print(f"{'parser':58} {'CPU s':>8} {'samples/s':>12}")
    for name, seconds in rows:
        if seconds is None:
            print(f"{name:58} {'n/a':>8}")
            continue
        print(f"{name:58} {seconds:8.3f} {samples / seconds:12,.0f}")
    base = dict(rows)
    client = base["prometheus_client text_string_to_metric_families"]
    promtool = base["promtool check metrics (Go, incl. lint + process start)"]
    for name in (
        "vigil scan, warm series cache (steady scrape)",
        "vigil scan, cold cache (first scrape)",
        "vigil parse_text (strict, promtool rules)",
    ):
        ours = base[name]
        assert ours is not None and client is not None
        line = f"{name}: {client / ours:.1f}x faster than prometheus_client"
        if promtool:
            line += f", {ours / promtool:.2f}x promtool's CPU"
        print(line)


if __name__ == "__main__":
    main()
