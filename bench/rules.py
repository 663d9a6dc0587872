"""Rule evaluation and alert latency: `vigil server` beside the real `prometheus`, same run.

1. 1,000 recording rules over 10k scraped series (100 counters × 100 instances): both
   scrape one fake exporter and evaluate the same group; printed is each one's own
   `prometheus_rule_group_last_duration_seconds` (median over the run) and the ratio.
2. Alert latency: a gauge crosses a threshold (`for: 5s`, 1 s scrape and evaluation);
   printed is the time from the crossing to the POST reaching an Alertmanager-API sink.

    .venv/bin/python bench/rules.py [--seconds 40]
    .venv/bin/python bench/rules.py --profile   # in-process cProfile of one group iteration
Not a test: the machine is shared, only the ratio from one run means anything.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port, running

METRICS, INSTANCES = 100, 100


class _Exporter:
    def __init__(self) -> None:
        self.scrapes = 0
        self.alerting_value = 0.0
        self.posts: dict[str, float] = {}
        self.lock = threading.Lock()

    def body(self) -> bytes:
        self.scrapes += 1
        lines = []
        for m in range(METRICS):
            lines.append(f"# TYPE app_metric_{m}_total counter")
            lines.extend(
                f'app_metric_{m}_total{{instance="i{i}"}} {self.scrapes * (i + 1)}'
                for i in range(INSTANCES)
            )
        lines.append("# TYPE bench_gauge gauge")
        lines.append(f"bench_gauge {self.alerting_value}")
        return ("\n".join(lines) + "\n").encode()


def _handler(exporter: _Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = exporter.body()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            sender = self.path.strip("/").split("/")[0]
            alerts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with exporter.lock:
                if any(a["labels"].get("alertname") == "BenchAlert" for a in alerts):
                    exporter.posts.setdefault(sender, time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def _serve(exporter: _Exporter) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(exporter))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


def _rule_file(path: Path) -> None:
    aggregations = [
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "stddev",
        "group",
        "topk(3,",
        "sum by (instance)",
        "max by (instance)",
    ]
    rules = []
    for m in range(METRICS):
        for k, agg in enumerate(aggregations):
            inner = f"rate(app_metric_{m}_total[1m])"
            expr = f"{agg} {inner})" if agg.endswith(",") else f"{agg}({inner})"
            rules.append({"record": f"bench:app_metric_{m}:{k}", "expr": expr})
    groups = [
        {"name": "recording", "interval": "5s", "rules": rules},
        {
            "name": "alerting",
            "interval": "1s",
            "rules": [{"alert": "BenchAlert", "expr": "bench_gauge > 0.5", "for": "5s"}],
        },
    ]
    path.write_text(yaml.safe_dump({"groups": groups}))


def _config(path: Path, name: str, port: int, rules: Path) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "evaluation_interval": "1s",
                },
                "rule_files": [str(rules)],
                "alerting": {
                    "alertmanagers": [
                        {
                            "path_prefix": f"/{name}",
                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                        }
                    ]
                },
                "scrape_configs": [
                    {"job_name": "bench", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                ],
            }
        )
    )


def _group_seconds(url: str) -> float | None:
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith("prometheus_rule_group_last_duration_seconds{") and "recording" in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def _profile(iterations: int) -> None:
    """The recording group evaluated in-process over a TSDB holding 2 min of the exporter's
    series at 1 s (what the server holds during the run): wall time and cProfile."""
    import numpy as np

    from vigil.model import Labels
    from vigil.promql import Engine
    from vigil.rules.group import Group, GroupOptions
    from vigil.rules.query import engine_query_func
    from vigil.rules.rulefile import load_rule_file
    from vigil.tsdb.db import TSDB

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _rule_file(root / "rules.yml")
        spec = load_rule_file(str(root / "rules.yml")).groups[0]
        db = TSDB.open(root / "data")
        try:
            labels = [
                Labels.from_dict({"__name__": f"app_metric_{m}_total", "instance": f"i{i}",
                                  "job": "bench"})
                for m in range(METRICS) for i in range(INSTANCES)
            ]  # fmt: skip
            t0 = 1_700_000_000_000
            steps = np.arange(1, 121)
            growth = np.tile(np.arange(1, INSTANCES + 1, dtype=np.float64), METRICS)
            for k in steps.tolist():
                appender = db.appender()
                refs = appender.refs_for(labels)
                appender.append_batch(
                    refs, np.full(len(refs), t0 + k * 1000, dtype=np.int64), growth * k
                )
                appender.commit()
            engine = Engine(db.querier)
            group = Group(spec, GroupOptions(), engine_query_func(engine), db.appender)
            t = t0 + 120_000
            group.evaluate(t)  # warm-up: first output series are created here
            seconds, cpu = [], []
            for _ in range(iterations):
                t += 5000
                began = time.thread_time()
                group.evaluate(t)
                cpu.append(time.thread_time() - began)
                seconds.append(group.evaluation_seconds)
            profiler = cProfile.Profile()
            t += 5000
            profiler.enable()
            group.evaluate(t)
            profiler.disable()
        finally:
            db.close()
    print(f"{len(spec.rules)} rules, group iteration: "
          + ", ".join(f"{s:.2f} s" for s in seconds)
          + " (CPU " + ", ".join(f"{s:.2f}" for s in cpu) + ")"
          + f"; profiled: {group.evaluation_seconds:.2f} s")  # fmt: skip
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(25)
        print(f"\nvigil group profile, by {order}:")
        print("\n".join(text.getvalue().splitlines()[4:]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=40, help="how long both evaluate")
    parser.add_argument(
        "--profile", type=int, nargs="?", const=2, metavar="N",
        help="instead: time N in-process iterations of the recording group, profile one more",
    )  # fmt: skip
    args = parser.parse_args()
    if args.profile:
        _profile(args.profile)
        return 0
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        print("prometheus is not installed", file=sys.stderr)
        return 1
    exporter = _Exporter()
    with tempfile.TemporaryDirectory() as tmp, _serve(exporter) as port, ExitStack() as stack:
        root = Path(tmp)
        rules = root / "rules.yml"
        _rule_file(rules)
        ports = {"prometheus": free_port(), "vigil": free_port()}
        for name in ports:
            _config(root / f"{name}.yml", name, port, rules)
        stack.enter_context(
            running(
                [prometheus, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'p'}",
                 f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
                f"http://127.0.0.1:{ports['prometheus']}/-/ready",
            )
        )  # fmt: skip
        stack.enter_context(
            running(
                [sys.executable, "-m", "vigil", "server", f"--config.file={root / 'vigil.yml'}",
                 f"--storage.tsdb.path={root / 'v'}", f"--web.listen-address=127.0.0.1:{ports['vigil']}",
                 "--agent.disable", "--rules.default.disable", "--otlp.listen-address="],
                f"http://127.0.0.1:{ports['vigil']}/-/ready",
            )
        )  # fmt: skip
        samples: dict[str, list[float]] = {name: [] for name in ports}
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            time.sleep(5)
            for name, p in ports.items():
                seconds = _group_seconds(f"http://127.0.0.1:{p}/metrics")
                if seconds:
                    samples[name].append(seconds)
        crossed = time.monotonic()
        exporter.alerting_value = 1.0
        deadline = crossed + 60
        while time.monotonic() < deadline and len(exporter.posts) < 2:
            time.sleep(0.05)
    print(
        f"1,000 recording rules over {METRICS * INSTANCES} series (group every 5 s), {args.seconds:.0f} s run:"
    )
    medians = {name: statistics.median(v) if v else float("nan") for name, v in samples.items()}
    for name, value in medians.items():
        print(
            f"  {name:11} median group evaluation {value * 1000:8.1f} ms  ({len(samples[name])} readings)"
        )
    print(f"  vigil/prometheus: {medians['vigil'] / medians['prometheus']:.2f}x (target <= 1.5x)")
    print(
        "alert latency, threshold crossed -> POST at the sink (for: 5s, 1 s scrape and evaluation):"
    )
    for name in ports:
        at = exporter.posts.get(name)
        print(f"  {name:11} " + ("no POST within 60 s" if at is None else f"{at - crossed:6.2f} s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
