"""The web UI in headless Chromium over a day of one host's history (tests/ui/history.py, 15 s):
how long the built-in Node dashboard and the imported Node Exporter Full take until every
panel is drawn, with how many API requests and bytes, the bundle's size, and the issue's
targets (every panel < 1.5 s; bundle < 150 KB gzipped).

The peer is NOT Grafana (no Debian package): it is the real Prometheus 2.42's own graph page,
given the same CPU history through `promtool tsdb create-blocks-from openmetrics`, loading
`/graph?g0.expr=rate(node_cpu_seconds_total{job="node"}[5m])&g0.tab=0&g0.range_input=1d`
(ending at the history's last sample)
beside vigil's Query page on the same URL: JS bytes transferred and time to a drawn graph.
Every load is a fresh browser context (cold cache). Not a test.

    .venv/bin/python bench/ui.py [--runs 5] [--hours 24]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests' data generator and browser settings

from tests.conftest import CONFORMANCE  # noqa: E402
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, prometheus_server, vigil_process  # noqa: E402
from tests.ui.history import INSTANCE, JOB, NODENAME, write_history, write_openmetrics  # noqa: E402

BUNDLE = REPO / "src" / "vigil" / "web" / "static" / "app.js"
NODE_EXPORTER_FULL = CONFORMANCE / "grafana" / "node-exporter-full.json"
TARGET_PANELS_S = 1.5
TARGET_BUNDLE_GZ = 150 * 1024
GRAPH_EXPR = f'rate(node_cpu_seconds_total{{job="{JOB}"}}[5m])'


def _graph_path(end_ms: int) -> str:
    """The graph page's URL on both sides: the day up to the history's last sample."""
    end = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(end_ms // 1000 + 1))
    params = {"g0.expr": GRAPH_EXPR, "g0.tab": "0", "g0.range_input": "1d", "g0.end_input": end}
    return "/graph?" + urlencode(params)


# Records, in the page itself, when the dashboard last became "done" with panels on it and
# when each watched selector first matched (performance.now(): ms since navigation start).
_MARKS = """
(selectors) => {
  window.__marks = {};
  const check = () => {
    const root = document.querySelector('[data-dashboard-state]');
    const done = root && root.getAttribute('data-dashboard-state') === 'done'
      && document.querySelector('[data-panel-state]')
      && !document.querySelector('[data-panel-state="loading"]');
    if (done && !window.__marks.wasDone) window.__marks.done = performance.now();
    window.__marks.wasDone = Boolean(done);
    for (const s of selectors) {
      if (window.__marks[s] === undefined && document.querySelector(s)) {
        window.__marks[s] = performance.now();
      }
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
}
"""
# What counts as a drawn graph on each side.
VIGIL_GRAPH = '[data-query-state="done"] canvas'
PROM_GRAPH = ".rickshaw_graph svg path"  # Debian's 2.42 serves the classic UI (Rickshaw)


@dataclass
class Load:
    """One page load: time to the mark, and the network as Chromium saw it."""

    seconds: float
    requests: int = 0
    api_requests: int = 0
    bytes: int = 0  # encoded (as on the wire), every response
    api_bytes: int = 0
    js_bytes: int = 0
    panels: dict[str, int] = field(default_factory=dict)
    first_api_s: float = 0.0  # since the page's first request: what loading the bundle costs
    api_done_s: float = 0.0  # when the last API response had arrived
    api_total_s: float = 0.0  # the API requests' durations added up (they overlap)
    slowest_api: list[tuple[float, str, int]] = field(default_factory=list)
    # CPU-seconds, what the machine's load does not change: the page's main thread and whole
    # renderer process (Chromium's own counters), and the server's process during the load.
    main_thread_cpu_s: float = 0.0
    renderer_cpu_s: float = 0.0
    server_cpu_s: float | None = None


def _bundle_sizes() -> tuple[int, int]:
    body = BUNDLE.read_bytes()
    return len(body), len(gzip.compress(body, 6))


def _prepare(root: Path, hours: float) -> tuple[Path, Path, int]:
    vigil_dir, prom_dir = root / "vigil", root / "prometheus"
    began = time.perf_counter()
    history = write_history(vigil_dir, hours=hours)
    wrote = time.perf_counter() - began
    print(
        f"history: {len(history.labels)} series × {len(history.timestamps)} samples "
        f"({history.samples / 1e6:.1f} M) written by vigil's block writer in {wrote:.1f} s"
    )
    om = root / "cpu.om"
    write_openmetrics(history.select({"node_cpu_seconds_total", "node_uname_info", "up"}), om)
    began = time.perf_counter()
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(prom_dir)],
        check=True,
        capture_output=True,
    )
    print(
        "peer data: the same node_cpu_seconds_total, node_uname_info and up, through "
        f"promtool tsdb create-blocks-from openmetrics in {time.perf_counter() - began:.1f} s"
    )
    om.unlink()
    return vigil_dir, prom_dir, int(history.timestamps[-1])


class _Network:
    """Every request of a page as Chromium's DevTools protocol reports it: URL, form body,
    when it was sent and finished (monotonic seconds), bytes as received (encoded)."""

    def __init__(self, cdp: Any) -> None:
        self.sent: dict[str, tuple[str, str, float]] = {}
        self.finished: dict[str, tuple[int, float]] = {}
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, e: dict[str, Any]) -> None:
        request = e["request"]
        self.sent[e["requestId"]] = (request["url"], request.get("postData", ""), e["timestamp"])

    def _finished(self, e: dict[str, Any]) -> None:
        self.finished[e["requestId"]] = (int(e["encodedDataLength"]), e["timestamp"])

    def fill(self, load: Load) -> None:
        t0 = min((t for _, _, t in self.sent.values()), default=0.0)
        api_starts, api = [], []
        for rid, (size, end) in self.finished.items():
            url, body, start = self.sent.get(rid, ("", "", end))
            load.requests += 1
            load.bytes += size
            if url.split("?")[0].endswith(".js"):
                load.js_bytes += size
            if "/api/" in url:
                load.api_requests += 1
                load.api_bytes += size
                api_starts.append(start - t0)
                load.api_done_s = max(load.api_done_s, end - t0)
                api.append((end - start, _short(url, body), size))
                load.api_total_s += end - start
        load.first_api_s = min(api_starts, default=0.0)
        load.slowest_api = sorted(api, reverse=True)[:5]


def _process_cpu_s(pid: int) -> float:
    """User + system CPU-seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(
    browser: Any,
    url: str,
    wait: Callable[[Any], float],
    watch: list[str],
    server_pid: int | None = None,
) -> Load:
    """Open `url` in a fresh context (empty cache) and measure until `wait(page)` returns
    the page's own time (ms since navigation start) of the awaited state; with `server_pid`,
    the server's CPU-seconds over the load too."""
    # bypass_csp: Playwright polls wait_for_function by evaluating a string in the page,
    # which vigil's CSP (script-src 'self', no eval) refuses.
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    network = _Network(cdp)
    cdp.send("Performance.enable")
    page.add_init_script(script=f"({_MARKS})({json.dumps(watch)})")
    server_before = _process_cpu_s(server_pid) if server_pid else 0.0
    try:
        page.goto(url)
        ms = wait(page)
        server_cpu = _process_cpu_s(server_pid) - server_before if server_pid else None
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        panels = page.evaluate(
            "(() => { const c = {}; for (const e of document.querySelectorAll('[data-panel-state]')) "
            "{ const s = e.getAttribute('data-panel-state'); c[s] = (c[s] || 0) + 1; } return c; })()"
        )
    finally:
        context.close()
    load = Load(
        seconds=ms / 1000,
        panels=panels,
        main_thread_cpu_s=metrics["ThreadTime"],
        renderer_cpu_s=metrics["ProcessTime"],
        server_cpu_s=server_cpu,
    )
    network.fill(load)
    return load


# Polled in the page every 50 ms: cheap, unlike Playwright's expect(), whose every failed poll
# builds an ARIA snapshot of the page on the main thread the page is loading on (0.6 s of the
# renderer's CPU per load of the Containers dashboard).
_DASHBOARD_DONE = (
    "document.querySelector('[data-dashboard-state]')?.getAttribute('data-dashboard-state') "
    "=== 'done' && window.__marks.done !== undefined"
)


def _dashboard_done(page: Any) -> float:
    page.wait_for_function(_DASHBOARD_DONE, polling=50, timeout=60_000)
    return float(page.evaluate("window.__marks.done"))


def _first_seen(selector: str) -> Callable[[Any], float]:
    def wait(page: Any) -> float:
        page.wait_for_function(
            f"window.__marks[{json.dumps(selector)}] !== undefined", timeout=60_000
        )
        return float(page.evaluate(f"window.__marks[{json.dumps(selector)}]"))

    return wait


def _series(
    browser: Any,
    runs: int,
    url: str,
    wait: Callable[[Any], float],
    watch: list[str],
    server_pid: int | None = None,
) -> list[Load]:
    """`runs` cold loads; none if the page never reaches its mark (a page not built yet)."""
    from playwright.sync_api import Error

    try:
        return [_load(browser, url, wait, watch, server_pid) for _ in range(runs)]
    except (Error, AssertionError) as err:
        print(f"\n(not measured: {url}: {str(err).splitlines()[0]})")
        return []


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def _print_loads(title: str, loads: list[Load], target_s: float | None) -> None:
    if not loads:
        return
    first, median = loads[0], statistics.median(x.seconds for x in loads)
    rest = loads[1:] or loads
    load1, load5, _ = os.getloadavg()
    print(f"\n{title} (machine load average now {load1:.1f}, 5 min {load5:.1f})")
    print(
        f"  until all panels drawn: first {first.seconds:.2f} s, median of {len(loads)} "
        f"{median:.2f} s (min {min(x.seconds for x in loads):.2f}, max {max(x.seconds for x in loads):.2f})"
    )
    print(
        f"  requests: {first.requests} ({first.api_requests} API), transferred "
        f"{_kb(first.bytes)} ({_kb(first.api_bytes)} API, {_kb(first.js_bytes)} JS)"
    )
    print(
        f"  first API request sent at {first.first_api_s:.2f} s, last API response at "
        f"{first.api_done_s:.2f} s; their durations add up to {first.api_total_s:.2f} s (first run)"
    )
    print(f"  panel states: {dict(sorted(rest[-1].panels.items()))}")
    cpu = f"page main thread {statistics.median(x.main_thread_cpu_s for x in loads):.2f}, "
    cpu += f"renderer {statistics.median(x.renderer_cpu_s for x in loads):.2f}"
    if first.server_cpu_s is not None:
        cpu += f", vigil server {statistics.median(x.server_cpu_s or 0.0 for x in loads):.2f}"
    print(f"  CPU-seconds per load (median, independent of the machine's load): {cpu}")
    if target_s is not None:
        met = "met" if median < target_s else "MISSED"
        print(f"  target: all panels < {target_s} s: {met} ({median:.2f} s)")
        if median >= target_s:
            print("  slowest API requests (DevTools network timings, last run):")
            for seconds, name, size in rest[-1].slowest_api:
                print(f"    {seconds * 1000:7.0f} ms {_kb(size):>9} {_short(name)}")


def _short(url: str, body: str = "") -> str:
    path, _, query = url.partition("?")
    params = parse_qs(query) | parse_qs(body)
    shown = params.get("query", params.get("match[]", []))
    text = path.split("/api/", 1)[-1] + (" " + " ".join(shown) if shown else "")
    return text if len(text) <= 150 else text[:147] + "..."


def _upload_node_exporter_full(base: str) -> str | None:
    model = json.loads(NODE_EXPORTER_FULL.read_text())
    response = httpx.post(
        f"{base}/api/vigil/v1/dashboards",
        json={"dashboard": model, "overwrite": True},
        headers={"X-Vigil-UI": "1"},
        timeout=30,
    )
    if response.status_code not in (200, 201):
        print(f"\n(Node Exporter Full not imported: {response.status_code} {response.text[:200]})")
        return None
    return str(model["uid"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="loads per page (cold cache each)")
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    for program in ("prometheus", "promtool"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (apt-get install prometheus)")
    if not BUNDLE.exists():
        raise SystemExit(f"{BUNDLE} is missing: `make ui` builds it")
    from playwright.sync_api import sync_playwright

    raw, gz = _bundle_sizes()
    print(f"bundle {BUNDLE.relative_to(REPO)}: {_kb(raw)} raw, {_kb(gz)} gzipped")
    verdict = "met" if gz < TARGET_BUNDLE_GZ else "MISSED"
    print(f"target: bundle < {_kb(TARGET_BUNDLE_GZ)} gzipped: {verdict} ({_kb(gz)})")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-ui-") as tmp:
        root = Path(tmp)
        vigil_dir, prom_dir, end_ms = _prepare(root, args.hours)
        # Absolute ranges ending at the history's last sample: nothing extends the history
        # while the bench runs, and `to=now` would drift past its end.
        span = f"from={end_ms - int(args.hours * 3600_000)}&to={end_ms}"
        with (
            vigil_process(vigil_dir) as (server, vigil),
            prometheus_server(prom_dir, root) as prom,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            node_vars = f"var-job={JOB}&var-nodename={NODENAME}&var-node={INSTANCE}&{span}"
            pages = [
                ("built-in Node dashboard (/d/vigil-node)", f"/d/vigil-node?{node_vars}"),
                (
                    "built-in Containers dashboard (/d/vigil-containers)",
                    f"/d/vigil-containers?var-instance={INSTANCE}&{span}",
                ),
            ]
            uid = _upload_node_exporter_full(vigil)
            if uid is not None:
                pages.append(
                    (
                        "Node Exporter Full, imported (as saved: collapsed rows stay shut)",
                        f"/d/{uid}?{node_vars}",
                    )
                )
            for title, path in pages:
                loads = _series(browser, args.runs, vigil + path, _dashboard_done, [], server.pid)
                _print_loads(f"vigil {title}, {args.hours:g} h", loads, TARGET_PANELS_S)
            ours = _series(
                browser,
                args.runs,
                vigil + _graph_path(end_ms),
                _first_seen(VIGIL_GRAPH),
                [VIGIL_GRAPH],
            )
            theirs = _series(
                browser,
                args.runs,
                prom + _graph_path(end_ms),
                _first_seen(PROM_GRAPH),
                [PROM_GRAPH],
            )
            browser.close()
    if not ours or not theirs:
        return
    print(
        f"\ngraph page, {GRAPH_EXPR} over 1 d — the peer is Prometheus 2.42's own /graph page, "
        "NOT Grafana\n(Debian's build serves the classic UI: /graph redirects to /classic/graph)"
    )
    print(
        f"{'':24}{'drawn: first s':>16}{'median s':>10}{'requests':>10}{'JS':>12}{'all bytes':>12}"
    )
    for name, loads in (("vigil /graph (Query)", ours), ("prometheus /graph", theirs)):
        med = statistics.median(x.seconds for x in loads)
        print(
            f"  {name:22}{loads[0].seconds:16.2f}{med:10.2f}{loads[0].requests:10d}"
            f"{_kb(loads[0].js_bytes):>12}{_kb(loads[0].bytes):>12}"
        )
    ratio = statistics.median(x.seconds for x in ours) / statistics.median(
        x.seconds for x in theirs
    )
    print(
        f"  vigil / prometheus, median time to graph: {ratio:.2f}×; JS bytes: "
        f"{ours[0].js_bytes / max(theirs[0].js_bytes, 1):.2f}×"
    )


if __name__ == "__main__":
    main()
