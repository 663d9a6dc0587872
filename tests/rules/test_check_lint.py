"""`vigil check rules` lints beyond promtool and promtool's `--lint`/`--lint-fatal`: metric names
no series has (`--lint.metrics-from`, against vigil's API and a real Prometheus), a `for:`
shorter than the interval, one alert name with conflicting labels."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import free_port, peer, running
from vigil.cmd import main
from vigil.model import Labels
from vigil.promql import parse
from vigil.promql.engine import Engine
from vigil.rules.check import LINT_OPTIONS, LintSettings, check_rules_command
from vigil.rules.lint import MetricNamesUnavailableError, fetch_metric_names, metric_names
from vigil.tsdb import MemoryStorage
from vigil.web.api import APIContext, PrometheusAPI

ALERTS_YML = """\
groups:
  - name: host
    interval: 30s
    rules:
      - alert: NodeDown
        expr: up{job="node"} == 0
        for: 10s
      - alert: HighLoad
        expr: node_load1 > on(instance) group_left count by (instance) (node_cpu_seconds_total)
        labels: {severity: warning}
      - alert: HighLoad
        expr: node_load1 > 2 * job:cpus:count
        labels: {severity: critical}
      - alert: AnyHttp
        expr: rate({__name__=~"http_.*"}[5m]) > 0
"""
RECORDS_YML = """\
groups:
  - name: records
    rules:
      - record: job:cpus:count
        expr: count by (job) (node_cpu_seconds_total{mode="idle"})
"""


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('{__name__="up", job="x"}', {"up"}),
        ('{__name__=~"up|down"}', set()),
        ('{job="x"}', set()),
        ("sum by (a) (rate(x[5m])) / on(a) group_left y", {"x", "y"}),
        ("max_over_time(deriv(z[5m])[1h:1m])", {"z"}),
        ("topk(scalar(k), -v)", {"k", "v"}),
        ('label_replace(absent(gone), "a", "b", "c", "d")', {"gone"}),
        ("time() > bool 1", set()),
    ],
)
def test_metric_names_are_name_equality_matchers(expr: str, names: set[str]) -> None:
    assert metric_names(parse(expr)) == names


@pytest.mark.parametrize(
    ("text", "enabled", "unknown"),
    [
        ("all", set(LINT_OPTIONS), 0),
        ("none", set(), 0),
        ("duplicate-rules", {"duplicate-rules"}, 0),
        ("short-for,missing-metrics", {"short-for", "missing-metrics"}, 0),
        ("bogus", set(), 1),
    ],
)
def test_lint_option_parsing(text: str, enabled: set[str], unknown: int) -> None:
    settings, problems = LintSettings.parse(text)
    assert (set(settings.enabled), len(problems)) == (enabled, unknown)
    assert all("unknown lint option" in p and "duplicate-rules" in p for p in problems)


@pytest.fixture
def rule_files(tmp_path: Path) -> list[str]:
    (tmp_path / "alerts.yml").write_text(ALERTS_YML)
    (tmp_path / "records.yml").write_text(RECORDS_YML)
    return [str(tmp_path / "alerts.yml"), str(tmp_path / "records.yml")]


def _check(files: list[str], lint: LintSettings) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = check_rules_command(files, out, err, lint=lint)
    return status, out.getvalue(), err.getvalue()


def _warnings(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if "WARNING:" in line]


def test_every_lint_names_file_group_and_rule(rule_files: list[str]) -> None:
    names = frozenset({"up", "node_load1"})
    lint = LintSettings(metric_names=names, metrics_from="http://prom:9090")
    status, out, err = _check(rule_files, lint)
    alerts = rule_files[0]
    assert status == 0
    assert out.count("SUCCESS") == 2
    assert _warnings(err) == [
        f'WARNING: {alerts}: group "host", alert "NodeDown" (line 5): for: 10s is shorter than '
        "the evaluation interval 30s, so it acts as 30s",
        f'WARNING: {alerts}: alert "HighLoad" is defined 2 times with conflicting labels '
        "(severity): its alerts differ only by those labels",
        f'WARNING: {alerts}: group "host", alert "HighLoad" (line 8): metric '
        '"node_cpu_seconds_total" has no series at http://prom:9090 and no rule records it',
        f'WARNING: {rule_files[1]}: group "records", record "job:cpus:count" (line 4): metric '
        '"node_cpu_seconds_total" has no series at http://prom:9090 and no rule records it',
    ]


@pytest.mark.parametrize(
    ("lint", "fatal", "status", "warned"),
    [
        ("all", False, 0, 4),
        ("all", True, 3, 4),
        ("none", True, 0, 0),
        ("duplicate-rules", True, 0, 0),
        ("short-for", True, 3, 1),
        ("conflicting-alert-labels", False, 0, 1),
        ("missing-metrics", True, 3, 2),
    ],
)
def test_lint_selection_and_fatal_exit(
    rule_files: list[str], lint: str, fatal: bool, status: int, warned: int
) -> None:
    settings, _ = LintSettings.parse(lint, fatal)
    names = frozenset({"up", "node_load1"})
    settings = LintSettings(settings.enabled, fatal, names, "http://prom")
    got_status, _, err = _check(rule_files, settings)
    assert (got_status, len(_warnings(err))) == (status, warned)


def test_load_failure_beats_lint_fatal(rule_files: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n")
    status, _, err = _check([*rule_files, str(bad)], LintSettings(fatal=True))
    assert status == 1
    assert "FAILED" in err


def test_duplicate_rules_follow_promtool_exit_codes(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yml"
    dup.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - record: x\n        expr: up\n      - record: x\n        expr: up\n"
    )
    statuses = [
        _check([str(dup)], LintSettings.parse(text, fatal)[0])[0]
        for text, fatal in (("duplicate-rules", False), ("duplicate-rules", True), ("none", True))
    ]
    assert statuses == [0, 3, 0]  # promtool 2.42: 0, 3 (lintErrExitCode), 0


# --- metric names from a server ---------------------------------------------------------


@pytest.fixture
def vigil_api() -> TestClient:
    storage = MemoryStorage()
    for name in ("up", "node_load1"):
        storage.add(Labels.from_dict({"__name__": name, "job": "node"}), 0, 1.0)
    ctx = APIContext(engine=Engine(storage.queryable), queryable=storage.queryable)
    return TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))


def test_names_from_vigils_api(vigil_api: TestClient, rule_files: list[str]) -> None:
    names = fetch_metric_names("http://testserver/", client=vigil_api)
    assert names == {"up", "node_load1"}
    lint = LintSettings(frozenset({"missing-metrics"}), metric_names=names, metrics_from="vigil")
    status, _, err = _check(rule_files, lint)
    assert status == 0
    assert [w.split('metric "')[1].split('"')[0] for w in _warnings(err)] == [
        "node_cpu_seconds_total",
        "node_cpu_seconds_total",
    ]


def _error_routes() -> TestClient:
    def text(_: object) -> PlainTextResponse:
        return PlainTextResponse("<html>proxy</html>", status_code=502)

    def failure(_: object) -> JSONResponse:
        return JSONResponse({"status": "error", "error": "no permission"}, status_code=403)

    def odd(_: object) -> JSONResponse:
        return JSONResponse({"status": "success", "data": {"up": 1}})

    return TestClient(
        Starlette(
            routes=[
                Route("/html/api/v1/label/__name__/values", text),
                Route("/denied/api/v1/label/__name__/values", failure),
                Route("/odd/api/v1/label/__name__/values", odd),
            ]
        )
    )


@pytest.mark.parametrize(
    ("base", "reason"),
    [
        ("http://testserver/html", "HTTP 502 with a body that is not JSON"),
        ("http://testserver/denied", "no permission"),
        ("http://testserver/odd", "unexpected answer (HTTP 200)"),
        ("http://testserver/nothing-here", "HTTP 404 with a body that is not JSON"),
    ],
)
def test_bad_server_answers_are_clear_errors(base: str, reason: str) -> None:
    with pytest.raises(MetricNamesUnavailableError) as caught:
        fetch_metric_names(base, client=_error_routes())
    assert caught.value.reason == reason
    assert str(caught.value).startswith(f"cannot read metric names from {base}: ")


def _run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["check", "rules", *args])
    return status, out.getvalue(), err.getvalue()


def test_cli_unreachable_server_exits_1(rule_files: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, _, err = _run_cli([f"--lint.metrics-from={url}", *rule_files])
    assert status == 1
    assert f"cannot read metric names from {url}: ConnectError" in err


def test_cli_missing_metrics_without_url_is_a_usage_error(rule_files: list[str]) -> None:
    status, _, err = _run_cli(["--lint=missing-metrics", *rule_files])
    assert status == 2
    assert "needs --lint.metrics-from=URL" in err


def test_cli_unknown_lint_option_warns_like_promtool(rule_files: list[str]) -> None:
    status, out, err = _run_cli(["--lint=bogus", "--lint-fatal", *rule_files])
    assert status == 0
    assert "WARNING: unknown lint option bogus" in err
    assert out.count("SUCCESS") == 2


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus scraping only itself, once its own metrics are in its TSDB."""
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n  - job_name: prometheus\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    args = [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}"
    with running(args, url + "/-/ready", seconds=60):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            names = httpx.get(url + "/api/v1/label/__name__/values").json()["data"]
            if "prometheus_build_info" in names:
                break
            time.sleep(0.2)
        yield url


@pytest.mark.slow
def test_cli_against_real_prometheus(prometheus: str, tmp_path: Path) -> None:
    rules = tmp_path / "self.yml"
    rules.write_text(
        "groups:\n  - name: self\n    rules:\n"
        "      - record: job:samples:rate1m\n"
        "        expr: rate(process_cpu_seconds_total[1m])\n"
        "      - alert: Stalled\n        expr: job:samples:rate1m == 0 and up == 1\n"
        "      - alert: DiskFull\n        expr: node_filesystem_avail_bytes < 1e9\n"
        "      - alert: Typo\n        expr: prometheus_bulid_info\n"
    )
    status, out, err = _run_cli([f"--lint.metrics-from={prometheus}", str(rules)])
    assert (status, out.count("SUCCESS: 4 rules found")) == (0, 1)
    assert _warnings(err) == [
        f'WARNING: {rules}: group "self", alert "DiskFull" (line 8): metric '
        f'"node_filesystem_avail_bytes" has no series at {prometheus} and no rule records it',
        f'WARNING: {rules}: group "self", alert "Typo" (line 10): metric '
        f'"prometheus_bulid_info" has no series at {prometheus} and no rule records it',
    ]
    fatal, _, _ = _run_cli([f"--lint.metrics-from={prometheus}", "--lint-fatal", str(rules)])
    assert fatal == 3
