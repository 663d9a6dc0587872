"""A scrape's verdict against the real Prometheus (Debian 2.42): every case of the OpenMetrics
suite, plus OpenMetrics and text-format bodies that probe the rules a scrape checks, each
served (with its format's Content-Type) to a Prometheus that scrapes it as its own target;
vigil's scanner must accept exactly the bodies whose target Prometheus reports up."""

from __future__ import annotations

import json
import random
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, peer, wait_ok
from tests.exposition import test_parsers_agree as agree
from tests.exposition.test_openmetrics_conformance import CASES, case_body
from tests.fuzzing import DERANDOMIZE, examples
from vigil.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    Format,
    ParseError,
)
from vigil.exposition.scan import NO_TIMESTAMP, scan
from vigil.model.gofloat import format_json

pytestmark = pytest.mark.slow

OPENMETRICS_PROBES = [
    b'# TYPE a unknown\na_total 1 # {a="b"} 1\n# EOF\n',
    b'a_bucket 1 # {a="b"} 1\n# EOF\n',
    b'# TYPE a histogram\na_count 1 # {a="b"} 1\n# EOF\n',
    b'# TYPE a gauge\na_total 1 # {a="b"} 1\n# EOF\n',
    b'# TYPE a counter\na_total{a="1"} 1 # {} 1\n# EOF\n',
    b'_total 1 # {a="b"} 1\n# EOF\n',
    b'a_total 1 # {a="b"} 1 1 1\n# EOF\n',
    b'a_total 1 # {a="b"}\n# EOF\n',
    b"a 1\n# TYPE a gauge\n# EOF\n",
    b"# TYPE a gauge\na 1\n# HELP a x\n# EOF\n",
    b"# TYPE a gauge\n# TYPE b gauge\n# TYPE a gauge\n# EOF\n",
    b"# TYPE a gauge\n# TYPE a counter\na_total 1\n# EOF\n",
    b"# HELP a x\n# HELP a y\n# EOF\n",
    b"# TYPE a counter\na_total -1\n# EOF\n",
    b"# TYPE a info\na_info 2\n# EOF\n",
    b"# TYPE a gauge\na 1 1\na 1 0\n# EOF\n",
    b"a 1\na 2\n# EOF\n",
    b"# UNIT a_s x\n# EOF\n",
    b"# UNIT as s\n# EOF\n",
    b"# UNIT a_s _s\n# EOF\n",
    b"# UNIT a_s \n# EOF\n",
    b"# TYPE a stateset\n# UNIT a x\n# EOF\n",
    b"# HELP a\n# EOF\n",
    b'a{b="1",b="2"} 1\n# EOF\n',
    b'a{__name__="x"} 1\n# EOF\n',
    b'a{b="\\q"} 1\n# EOF\n',
    b"a 1 1e3\n# EOF\n",
    b"a 1 -1.5\n# EOF\n",
    b"a 1 NaN\n# EOF\n",
    b"a 0x1p3\n# EOF\n",
    b"a 1_0\n# EOF\n",
]


TEXT_PROBES = [
    b"a 1\na 1\n",
    b"# TYPE a gauge\n# TYPE a gauge\na 1\n",
    b"a 1\n# TYPE a gauge\n",
    b"  a 1\n",
    b"a  1\n",
    b"a\t1\n",
    b"a 1 1.5\n",
    b"a 1e3\n",
    b".5\n",
    b"a .5\n",
    b"a 1 +5\n",
    b"# HELP a\n",
    b'a{b="c",} 1\n',
    b"a 1\r\n",
    b'a{b="\\q"} 1\n',
    b"# TYPE a foo\n",
    b"a 1\n\n\nb 2\n",
    b"a nan\n",
    b"a Infinity\n",
    b"a 1 \n",
    b"a 1",
    b"# HELP a x\n# HELP a y\na 1\n",
    b'a{b="1",b="2"} 1\n',
    b"a 0x1p3\n",
    b"a 1_0\n",
    b"a 1 9223372036854775808\n",
    b"a 1e400\n",
    b'# TYPE a summary\na{quantile="x"} 1\n',
    b'# TYPE a histogram\na_bucket{le="x"} 1\n',
    b'a{ b = "c" } 1\n',
    b'a {b="c"} 1\n',
    b'a{b="c"}1\n',
    b"# TYPE a gauge \na 1\n",
    b"#HELP a x\n",
    b"a 1\n# EOF\n",
    b"a 00012\n",
    b"a +Inf\n",
    b"a -0\n",
    b'a{b="\\xff"} 1\n',
    b"  \na 1\n",
    b"  # HELP a x\na 1\n",
    b"\ta 1\n",
    b"a 1 5 \n",
    b"a 1\t\n",
    b"a 1 5\t\n",
    b"a 1  5\n",
    b"a\t\t1\n",
    b'a{b="\\\\q"} 1\n',
    b"a 1 -5\n",
    b"a 1 -0\n",
    b"a 1 05\n",
    b"a{,} 1\n",
    b'a{b="c"  ,  d="e"} 1\n',
    b"#",
    b"a 1\n#",
    b"# HELP a x\\q\na 1\n",
    b"a 1\nb 2",
    b"a 1 5",
    b"# TYPE a gauge",
    b"a 1 ",
    b"a 1\n ",
    b"a 1\n\t\n",
    b'a{b="c"} 1 2 3\n',
    b'{a="b"} 1\n',
    b'a{b="c\\"} 1\n',
    b"a 1e3 5\n",
    b"a 1 5\r\n",
    b"a\r 1\n",
]
# Prometheus 3 syntax that 2.42 refuses (quoted UTF-8 names): no probe here uses it.


def _drawn(fmt: Format, count: int, rng: random.Random) -> list[bytes]:
    """Bodies of lines from the property test's pools, a few with one line drawn from the
    broken ones. Left out: Prometheus 3's quoted names, which 2.42 cannot read, and a label
    name written twice on a sample with a timestamp (Prometheus's head drops a sample of an
    old timestamp as out of bounds before it looks at its labels; vigil refuses the line, as
    Prometheus does when the timestamp is recent)."""
    om = fmt is Format.OPENMETRICS
    stamps = agree.OM_TIMESTAMPS if om else agree.TEXT_TIMESTAMPS
    comments = agree.COMMENTS + (agree.OM_COMMENTS if om else agree.TEXT_COMMENTS)

    def line(broken: bool) -> str:
        if rng.random() < 0.3:
            return rng.choice(comments + (agree.BROKEN_COMMENTS if broken else []))
        name = rng.choice(agree.NAMES)
        labels = rng.choice(agree.LABELS[: None if broken else agree.VALID_LABELS])
        value = rng.choice(agree.VALUES + (agree.BROKEN_VALUES if broken else []))
        ts = rng.choice(stamps + (agree.BROKEN_TIMESTAMPS if broken else []))
        exemplar = (
            rng.choice(agree.EXEMPLARS) if om and name.endswith(("_total", "_bucket")) else ""
        )
        return f"{name}{labels} {value}{ts}{exemplar}"

    bodies: list[bytes] = []
    while len(bodies) < count:
        lines = [line(broken=False) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.3:
            lines[rng.randrange(len(lines))] = line(broken=True)
        body = "\n".join(lines) + ("\n# EOF\n" if om else "\n")
        if '{"' not in body and not _TWICE_WITH_TIMESTAMP.search(body):
            bodies.append(body.encode())
    return bodies


_TWICE_WITH_TIMESTAMP = re.compile(r'(__name__=|x="1",x=)[^\n]*\} \S+ \S', re.M)
_RNG = random.Random(0 if DERANDOMIZE else None)
# make fuzz draws 300 a format afresh: a Prometheus scraping thousands of targets on a busy
# machine would time its scrapes out.
DRAWN = {fmt: _drawn(fmt, min(examples(60), 300), _RNG) for fmt in Format}


def _bodies() -> dict[str, tuple[bytes, Format]]:
    bodies = {case.name: (case_body(case)[0], Format.OPENMETRICS) for case in CASES}
    bodies |= {f"om_{i}": (body, Format.OPENMETRICS) for i, body in enumerate(OPENMETRICS_PROBES)}
    bodies |= {f"text_{i}": (body, Format.TEXT) for i, body in enumerate(TEXT_PROBES)}
    for fmt, drawn in DRAWN.items():
        bodies |= {f"drawn_{fmt.value}_{i}": (body, fmt) for i, body in enumerate(drawn)}
    return bodies


@dataclass(frozen=True, slots=True)
class Scraped:
    url: str
    verdicts: dict[str, bool]


def _scrape_accepts(body: bytes, fmt: Format) -> bool:
    try:
        scan(body, fmt)
    except ParseError:
        return False
    return True


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    """A Prometheus that has scraped every body: its URL, and for each body whether the
    scrape succeeded (its target is up)."""
    bodies = _bodies()

    class Serve(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, fmt = bodies[self.path.rsplit("/", 1)[-1]]
            content_type = (
                OPENMETRICS_CONTENT_TYPE if fmt is Format.OPENMETRICS else TEXT_CONTENT_TYPE
            )
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Serve)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = tmp_path_factory.mktemp("om-prometheus")
    address = f"127.0.0.1:{server.server_address[1]}"
    targets = "".join(
        f"      - targets: ['{address}']\n"
        f"        labels: {{__metrics_path__: /body/{name}, body: {name}}}\n"
        for name in bodies
    )
    config = root / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 2s, scrape_timeout: 2s}\n"
        f"scrape_configs:\n  - job_name: bodies\n    static_configs:\n{targets}"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            peer("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ok(f"http://127.0.0.1:{port}/-/ready")
        url = f"http://127.0.0.1:{port}"
        yield Scraped(url, _wait_for_verdicts(url, len(bodies)))
    finally:
        proc.terminate()
        proc.wait(30)
        server.shutdown()
        thread.join()


def _judged(target: dict[str, str]) -> bool:
    """Scraped, and up or refused for what the body holds: a request that failed (a busy
    machine's timeout, `Get "...": context deadline exceeded`) is no verdict; the next is."""
    return target["health"] == "up" or (
        target["health"] == "down" and not target["lastError"].startswith("Get ")
    )


def _wait_for_verdicts(url: str, count: int) -> dict[str, bool]:
    deadline = time.monotonic() + PATIENCE_S
    while True:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        if len(targets) == count and all(map(_judged, targets)):
            return {t["labels"]["body"]: t["health"] == "up" for t in targets}
        assert time.monotonic() < deadline, "Prometheus did not scrape every body in time"
        time.sleep(0.5)


def test_scrape_takes_what_prometheus_takes(
    prometheus: Scraped, summary: Callable[[str], None]
) -> None:
    prometheus_verdicts = prometheus.verdicts
    bodies = _bodies()
    vigil = {name: _scrape_accepts(body, fmt) for name, (body, fmt) in bodies.items()}
    differ = {name: bodies[name] for name in bodies if vigil[name] != prometheus_verdicts[name]}
    summary(
        f"Scrape verdicts vs Prometheus 2.42: {len(bodies) - len(differ)}/{len(bodies)} agree "
        f"({len(CASES)} OpenMetrics suite cases, {len(OPENMETRICS_PROBES)} OpenMetrics and "
        f"{len(TEXT_PROBES)} text probes, {sum(map(len, DRAWN.values()))} drawn bodies)"
    )
    assert differ == {}
    accepted = [case.name for case in CASES if case_body(case)[1]]
    assert [name for name in accepted if not prometheus_verdicts[name]] == []


def _stored(url: str, body: str) -> set[tuple[str, str]]:
    """The series (as sorted label pairs, target labels left out) and latest values Prometheus
    holds from a body's target, as the API writes them. Read as a range, so the stale
    markers of a scrape a busy machine timed out hide nothing."""
    selector = f'{{body="{body}",__name__!~"up|scrape_.*"}}[10m]'
    answer = httpx.get(f"{url}/api/v1/query", params={"query": selector}).json()
    target = {"job", "instance", "body"}
    return {
        (
            json.dumps(sorted((k, v) for k, v in s["metric"].items() if k not in target)),
            s["values"][-1][1],
        )
        for s in answer["data"]["result"]
    }


_TARGET_CLASH = {"job": "exported_job", "instance": "exported_instance", "body": "exported_body"}


def _scraped(body: bytes, fmt: Format) -> set[tuple[str, str]]:
    """What vigil's scrape reads from a body, written as Prometheus's API would show it
    (empty label values dropped, the first of a series' duplicates kept, a label the target
    also sets renamed `exported_...`)."""
    batch = scan(body, fmt)
    seen: dict[str, str] = {}
    for (name, labels), value in zip(batch.labels, batch.values.tolist(), strict=True):
        pairs = sorted(
            [("__name__", name), *((_TARGET_CLASH.get(k, k), v) for k, v in labels if v)]
        )
        seen.setdefault(json.dumps(pairs), format_json(value))
    return set(seen.items())


def test_scrape_reads_the_samples_prometheus_stores(
    prometheus: Scraped, summary: Callable[[str], None]
) -> None:
    """Every body both take that has no timestamps of its own (those are out of bounds)."""
    compared = {
        name: (body, fmt)
        for name, (body, fmt) in _bodies().items()
        if prometheus.verdicts[name] and (scan(body, fmt).timestamps == NO_TIMESTAMP).all()
    }
    differ = {
        name: (stored, scraped)
        for name, (body, fmt) in compared.items()
        if (stored := _stored(prometheus.url, name)) != (scraped := _scraped(body, fmt))
    }
    summary(
        f"Scraped samples vs what Prometheus 2.42 stores: {len(compared) - len(differ)}/"
        f"{len(compared)} bodies agree"
    )
    assert differ == {}
