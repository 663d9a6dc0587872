"""The Targets, Rules, Alerts, Silences and Status pages show what the APIs say.

One vigil runs for the module with a config that has a dead scrape pool, an alert that always
fires with HTML/JS payloads in a label value and an annotation, and the default rule pack (its
Watchdog fires too). Silences made in the UI are checked with the real `amtool`.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest

from tests.conftest import PATIENCE_S, peer
from tests.ui.conftest import ARTIFACTS, start_server, wait_for_data

pytestmark = pytest.mark.slow

LABEL_PAYLOAD = "<script>alert(1)</script>"
ANNOTATION_PAYLOAD = "<img src=x onerror=alert(1)>"
COMMENT_PAYLOAD = '<img src=x onerror=alert("comment")>'

RULES = f"""
groups:
  - name: ui-xss
    rules:
      - alert: UIPayload
        expr: vector(1)
        for: 0s
        labels:
          severity: warning
          payload: "{LABEL_PAYLOAD}"
        annotations:
          summary: "{ANNOTATION_PAYLOAD}"
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: ui-order
    rules:
      - alert: OrderInactive
        expr: vector(1) > 2
      - alert: OrderPending
        expr: vector(85)
        for: 1h
      - alert: OrderFiring
        expr: vector(0.5)
        labels:
          severity: critical
  - name: ui-lint
    rules:
      - record: ui:dead:sum
        expr: sum(ui_metric_nobody_exports) + sum(ui_test_value)
      - record: ui:alive:sum
        expr: sum(ui_test_value) + sum(job:up:sum)
"""


def _config(exporter: str) -> str:
    return f"""
global:
  scrape_interval: 5s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: exporter
    static_configs: [{{targets: ['{exporter}']}}]
  - job_name: dead
    static_configs: [{{targets: ['127.0.0.1:9'], labels: {{env: "<b>{LABEL_PAYLOAD}</b>"}}}}]
"""


class _Metrics(BaseHTTPRequestHandler):
    """A scrape target that is always up."""

    def do_GET(self) -> None:
        body = b"# TYPE ui_test_value gauge\nui_test_value 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _api(base: str, path: str, **params: Any) -> Any:
    body = httpx.get(base + path, params=params, timeout=10).json()
    return body["data"] if isinstance(body, dict) and "data" in body else body


def _until(check: Any, what: str, seconds: float = PATIENCE_S) -> Any:
    """Poll an API until `check()` is truthy (bounded; for the server's own first cycles)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen within {seconds:.0f} s")


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory, exporter: str) -> Iterator[str]:
    root = tmp_path_factory.mktemp("vigil-pages")
    (root / "rules.yml").write_text(RULES)
    config = root / "prometheus.yml"
    config.write_text(_config(exporter))
    proc, base = start_server(root / "data", f"--config.file={config}")
    try:
        wait_for_data(base)

        def settled() -> bool:
            targets = _api(base, "/api/v1/targets")["activeTargets"]
            alerts = _api(base, "/api/v1/alerts")["alerts"]
            names = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
            return (
                all(t["health"] != "unknown" for t in targets)
                and {
                    "UIPayload",
                    "Watchdog",
                }
                <= names
            )

        _until(settled, "every target scraped and UIPayload and Watchdog firing")
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def _no_injected_markup(page: Any) -> None:
    assert page.locator("main img, main script").count() == 0


# ---------------------------------------------------------------- targets


def test_targets_page_shows_every_target_with_its_health(vigil: str, page: Any) -> None:
    from playwright.sync_api import expect

    targets = _api(vigil, "/api/v1/targets")["activeTargets"]
    page.goto(vigil + "/targets")
    rows = page.locator("tr.target")
    expect(rows).to_have_count(len(targets))
    for t in targets:
        row = page.locator(f'tr.target[data-scrape-url="{t["scrapeUrl"]}"]')
        expect(row.locator(".pill")).to_have_text(t["health"].upper())
        for name, value in t["labels"].items():
            expect(row.locator(".labels").first).to_contain_text(f"{name}={json.dumps(value)}")
        if t["lastError"]:
            expect(row.locator(".error-text")).to_have_text(t["lastError"])
        row.get_by_text("discovered labels").click()
        expect(row.locator("details .labels")).to_contain_text(
            f"__address__={json.dumps(t['discoveredLabels']['__address__'])}"
        )
    pools = {t["scrapePool"] for t in targets}
    for pool in pools:
        members = [t for t in targets if t["scrapePool"] == pool]
        up = sum(t["health"] == "up" for t in members)
        expect(page.locator(f'details.pool[data-pool="{pool}"] > summary')).to_contain_text(
            f"{up}/{len(members)} up"
        )

    page.get_by_role("button", name="Unhealthy").click()
    expect(rows).to_have_count(sum(t["health"] != "up" for t in targets))
    assert "health=unhealthy" in page.url
    _no_injected_markup(page)


def test_targets_page_refreshes_every_15_seconds_and_stops_when_left(vigil: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.clock.install()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/v1/targets" in r.url else None)
    page.goto(vigil + "/targets")
    expect(page.locator("tr.target").first).to_be_visible()
    assert len(requests) == 1
    with page.expect_response(lambda r: "/api/v1/targets" in r.url):
        page.clock.run_for(15_500)
    assert len(requests) == 2
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rules").click()
    expect(page.locator("main h1")).to_have_text("Rules")
    page.clock.run_for(60_000)
    expect(page.locator("section.rule-group").first).to_be_visible()
    assert len(requests) == 2


# ---------------------------------------------------------------- rules


def test_rules_page_shows_every_group_and_rule(
    vigil: str, page: Any, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    groups = _api(vigil, "/api/v1/rules")["groups"]
    page.goto(vigil + "/rules")
    expect(page.locator("section.rule-group")).to_have_count(len(groups))
    for g in groups:
        section = page.locator(f'section.rule-group[data-group="{g["name"]}"]')
        expect(section.locator("h2")).to_have_text(g["name"])
        # vigil's own packs by name, other files as written; the full path on hover.
        builtin = re.search(r"/vigil/rules/default/([\w/]+)\.yml$", g["file"])
        file = f"built-in: {builtin[1]}" if builtin else g["file"]
        expect(section.locator(".meta b").first).to_have_text(file)
        expect(section.locator(".meta span").first).to_have_attribute("title", g["file"])
        expect(section.locator("tr.rule")).to_have_count(len(g["rules"]))
        for rule in g["rules"]:
            row = section.locator(f'tr.rule[data-rule-name="{rule["name"]}"]').first
            kind = "alert" if rule["type"] == "alerting" else "record"
            expect(row.locator("pre")).to_contain_text(f"{kind}: {rule['name']}")
            expect(row.locator(".pill")).to_have_text(rule["health"].upper())
    # The lint: the rule reading a metric nobody exports says which; a recorded one is known.
    findings = _api(vigil, "/api/v1/rules/lint")["findings"]
    ours = [
        (f["group"], f["index"], f["rule"], f["metric"])
        for f in findings
        if f["file"].endswith("rules.yml") and "default" not in f["file"]
    ]
    assert ours == [("ui-lint", 0, "ui:dead:sum", "ui_metric_nobody_exports")]
    lint = page.locator('section.rule-group[data-group="ui-lint"]')
    expect(lint.locator('tr.rule[data-rule-name="ui:dead:sum"] .lint')).to_have_text(
        "metric ui_metric_nobody_exports has no series, and no rule records it"
    )
    expect(lint.locator('tr.rule[data-rule-name="ui:alive:sum"] .lint')).to_have_count(0)
    expect(lint.locator(".lint-count")).to_have_text("1 rule reads missing metrics")
    payload = page.locator('tr.rule[data-rule-name="UIPayload"] pre')
    expect(payload).to_contain_text(f"payload: {LABEL_PAYLOAD}")
    expect(payload).to_contain_text(f"summary: {ANNOTATION_PAYLOAD}")
    _no_injected_markup(page)


# ---------------------------------------------------------------- alerts


def _expand(page: Any, rule: str) -> Any:
    details = page.locator(f'details.rule-row[data-rule-name="{rule}"]')
    details.locator("summary").click()
    return details


def test_alerts_page_shows_rule_states_and_active_alerts(
    vigil: str, page: Any, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    groups = _api(vigil, "/api/v1/rules", type="alert")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    page.goto(vigil + "/alerts")
    expect(page.locator("details.rule-row")).to_have_count(len(rules))
    for state in ("inactive", "pending", "firing"):
        count = sum(r["state"] == state for r in rules)
        expect(page.locator(f"label.state-filter:has(input[name={state}])")).to_contain_text(
            f"({count})"
        )
    page.locator("label.state-filter input[name=inactive]").uncheck()
    assert "state=firing%2Cpending" in page.url or "state=firing,pending" in page.url
    active_rules = [r for r in rules if r["state"] != "inactive"]
    expect(page.locator("details.rule-row")).to_have_count(len(active_rules))

    page.get_by_role("button", name="Expand all").click()
    for r in active_rules:
        details = page.locator(f'details.rule-row[data-rule-name="{r["name"]}"]').first
        expect(details.locator("tr.alert")).to_have_count(len(r["alerts"]))
    ui = next(r for r in rules if r["name"] == "UIPayload")
    row = page.locator('details.rule-row[data-rule-name="UIPayload"] tr.alert')
    alert = ui["alerts"][0]
    for name, value in alert["labels"].items():
        expect(row.locator(".labels")).to_contain_text(f"{name}={json.dumps(value)}")
    expect(row.locator("dd")).to_have_text(ANNOTATION_PAYLOAD)
    # The API's Go %e ("1e+00") as Prometheus's UI prints it.
    expect(row.locator("td.num")).to_have_text(str(float(alert["value"])).removesuffix(".0"))
    expect(row).to_contain_text(alert["activeAt"].replace("T", " ")[:19])
    _no_injected_markup(page)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)


def test_alerts_page_lists_firing_first_with_severity_and_says_where_alerts_go(
    vigil: str, page: Any
) -> None:
    from playwright.sync_api import expect

    # The shipped alertmanager.yml routes to "null": the page says alerts go nowhere.
    assert httpx.get(vigil + "/api/vigil/v1/delivery", timeout=10).json()["sendsNowhere"] is True

    def ordered() -> bool:
        states = {
            r["name"]: r["state"]
            for g in _api(vigil, "/api/v1/rules", type="alert")["groups"]
            for r in g["rules"]
        }
        return states.get("OrderPending") == "pending" and states.get("OrderFiring") == "firing"

    _until(ordered, "OrderPending pending and OrderFiring firing")
    page.goto(vigil + "/alerts")
    warning = page.locator(".notice.warn", has_text="sent nowhere")
    expect(warning).to_contain_text("Alerts are shown here and sent nowhere")
    expect(warning).to_contain_text("vigil alertmanager test-receiver")
    filters = page.locator("label.state-filter input")
    expect(filters).to_have_count(3)
    assert [f.get_attribute("name") for f in filters.all()] == ["firing", "pending", "inactive"]

    group = page.locator('section.alert-group[data-group="ui-order"]')
    names = group.locator("details.rule-row").evaluate_all(
        "els => els.map(e => e.dataset.ruleName)"
    )
    assert names == ["OrderFiring", "OrderPending", "OrderInactive"]
    expect(
        group.locator('details[data-rule-name="OrderFiring"] summary .pill.critical')
    ).to_have_text("critical")
    # Groups with a firing rule come before those without.
    firsts = page.locator("section.alert-group").evaluate_all(
        "els => els.map(e => Boolean(e.querySelector('details[data-state=firing]')))"
    )
    assert firsts == sorted(firsts, reverse=True) and firsts[0]
    titles = page.locator("section.alert-group h2").all_inner_texts()
    assert any(t.startswith("built-in: host > ") for t in titles), titles
    assert not any("/vigil/rules/default/" in t for t in titles), titles
    pending = _expand(page, "OrderPending")
    expect(pending.locator("tr.alert td.num")).to_have_text("85")


# ---------------------------------------------------------------- silences


def _amtool(base: str, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [peer("amtool"), "silence", "query", f"--alertmanager.url={base}", "-o", "json", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    result: list[dict[str, Any]] = json.loads(out) if out.strip() else []
    return result


def test_silence_an_alert_from_the_alerts_page_then_expire_it(
    vigil: str, page: Any, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    labels = next(
        a["labels"]
        for a in _api(vigil, "/api/v1/alerts")["alerts"]
        if a["labels"]["alertname"] == "UIPayload"
    )
    page.goto(vigil + "/alerts")
    _expand(page, "UIPayload").get_by_role("link", name="Silence").click()

    expect(page.locator("main h1")).to_have_text("New silence")
    names = page.locator("input.matcher-name")
    expect(names).to_have_count(len(labels))
    for i, name in enumerate(sorted(labels)):
        expect(names.nth(i)).to_have_value(name)
        expect(page.locator("input.matcher-value").nth(i)).to_have_value(labels[name])
        expect(page.locator("select.matcher-op").nth(i)).to_have_value("=")
    affected = page.locator("table.affected tbody tr")
    expect(affected).to_have_count(1)
    expect(affected).to_contain_text(f"payload={json.dumps(LABEL_PAYLOAD)}")
    page.get_by_label("Creator").fill("ui-test")
    page.get_by_label("Comment").fill(COMMENT_PAYLOAD)
    page.get_by_role("button", name="Create silence").click()

    item = page.locator(".silence[data-state=active]", has_text="ui-test")
    expect(item).to_have_count(1)
    silence_id = item.get_attribute("data-silence-id")
    assert silence_id
    expect(item.locator(".comment")).to_have_text(COMMENT_PAYLOAD)
    expect(item).to_contain_text(f"payload={json.dumps(LABEL_PAYLOAD)}")
    _no_injected_markup(page)

    [found] = [s for s in _amtool(vigil) if s["id"] == silence_id]
    matchers = {
        (m["name"], m["value"], m["isRegex"], m.get("isEqual", True)) for m in found["matchers"]
    }
    assert matchers == {(k, v, False, True) for k, v in labels.items()}
    assert (found["createdBy"], found["comment"]) == ("ui-test", COMMENT_PAYLOAD)

    item.get_by_role("button", name="Expire").click()
    expect(page.locator(f'.silence[data-silence-id="{silence_id}"]')).to_have_count(0)
    assert silence_id not in {s["id"] for s in _amtool(vigil)}
    assert silence_id in {s["id"] for s in _amtool(vigil, "--expired")}
    page.locator("button[data-state=expired]").click()
    expired = page.locator(f'.silence[data-silence-id="{silence_id}"]')
    expect(expired).to_have_attribute("data-state", "expired")
    expect(expired.get_by_role("link", name="Recreate")).to_be_visible()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


REFUSED = [
    # (matcher in the link, creator, start and end offsets from now (s), message shown)
    ('alertname=~"("', "ui-test", None, "invalid regular expression"),
    ('alertname="x"', "ui-test", (-7200, -3600), "end time can't be in the past"),
    ('alertname="x"', "", None, "Creator is required."),
    ('alertname="x"', "ui-test", (3600, 60), "start time must be before end time"),
    ('="x"', "ui-test", None, 'it is not name="value"'),
]


@pytest.mark.parametrize(("matcher", "creator", "times", "want"), REFUSED)
def test_silence_form_shows_why_a_silence_is_refused(
    vigil: str,
    page: Any,
    matcher: str,
    creator: str,
    times: tuple[int, int] | None,
    want: str,
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{vigil}/silences?new=1&matcher={quote(matcher)}")
    expect(page.locator("main h1")).to_have_text("New silence")
    page.get_by_label("Creator").fill(creator)
    page.get_by_label("Comment").fill("refused")
    if times is not None:
        now = time.time()
        page.get_by_label("Start").fill(_iso(now + times[0]))
        page.get_by_label("End").fill(_iso(now + times[1]))
    page.get_by_role("button", name="Create silence").click()
    expect(page.locator("main")).to_contain_text(want)
    expect(page.locator("main h1")).to_have_text("New silence")
    assert all(s["comment"] != "refused" for s in _api(vigil, "/api/v2/silences"))


def test_silences_page_lists_api_silences_as_text(
    vigil: str, page: Any, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    now = time.time()
    body = {
        "matchers": [
            {"name": "payload", "value": LABEL_PAYLOAD, "isRegex": False, "isEqual": True},
            {"name": "severity", "value": "crit.*", "isRegex": True, "isEqual": False},
        ],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 7200)),
        "createdBy": ANNOTATION_PAYLOAD,
        "comment": COMMENT_PAYLOAD,
    }
    sid = httpx.post(vigil + "/api/v2/silences", json=body, timeout=10).json()["silenceID"]
    page.goto(vigil + "/silences?state=pending")
    item = page.locator(f'.silence[data-silence-id="{sid}"]')
    expect(item.locator(".label")).to_have_text(
        [f"payload={json.dumps(LABEL_PAYLOAD)}", 'severity!~"crit.*"']
    )
    expect(item.locator(".creator")).to_have_text(ANNOTATION_PAYLOAD)
    expect(item.locator(".comment")).to_have_text(COMMENT_PAYLOAD)
    _no_injected_markup(page)

    item.get_by_role("link", name="Edit").click()
    expect(page.locator("main h1")).to_have_text("Edit silence")
    expect(page.locator("select.matcher-op").nth(1)).to_have_value("!~")
    page.get_by_label("Duration").fill("3h")
    page.get_by_role("button", name="Update silence").click()
    expect(page.locator(".silence[data-state=pending]").first).to_be_visible()
    updated = [
        s
        for s in _api(vigil, "/api/v2/silences")
        if s["comment"] == COMMENT_PAYLOAD and s["status"]["state"] == "pending"
    ]
    assert len(updated) == 1
    span = _parse(updated[0]["endsAt"]) - _parse(updated[0]["startsAt"])
    assert span == pytest.approx(3 * 3600, abs=1)
    httpx.delete(f"{vigil}/api/v2/silence/{updated[0]['id']}", timeout=10)


def _parse(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- status


def test_status_page_shows_build_runtime_flags_and_config(vigil: str, page: Any) -> None:
    from playwright.sync_api import expect

    build = _api(vigil, "/api/v1/status/buildinfo")
    flags = _api(vigil, "/api/v1/status/flags")
    config = _api(vigil, "/api/v1/status/config")["yaml"]
    page.goto(vigil + "/status")
    for key, value in build.items():
        expect(
            page.locator(f'table[aria-label="Build information"] tr[data-key="{key}"] td')
        ).to_have_text(value or "–")
    expect(page.locator("table.flags tbody tr")).to_have_count(len(flags))
    for key, value in flags.items():
        expect(page.locator(f'tr[data-flag="{key}"] td').nth(1)).to_have_text(value)
    expect(page.locator("pre.config")).to_have_text(config)
    page.get_by_label("Filter flags").fill("retention")
    want = sum("retention" in k or "retention" in v for k, v in flags.items())
    expect(page.locator("table.flags tbody tr")).to_have_count(want)
    assert "flags=retention" in page.url
    expect(page.locator('table[aria-label="Head statistics"]')).to_contain_text("Number of series")
    tsdb = _api(vigil, "/api/v1/status/tsdb")
    assert tsdb["blocks"] == []
    expect(page.locator("#status-blocks + div")).to_contain_text("No persisted blocks")


def test_status_page_lists_persisted_blocks(tmp_path: Path, page: Any) -> None:
    from playwright.sync_api import expect

    from vigil.model import Labels
    from vigil.tsdb import SeriesData
    from vigil.tsdb.block import write_block

    hour = 3_600_000
    start = (int(time.time() * 1000) // (2 * hour) - 3) * 2 * hour
    for i, n in enumerate((3, 5)):
        mint = start + i * 2 * hour
        series = [
            SeriesData(
                Labels.from_dict({"__name__": f"m{j}"}),
                np.arange(mint, mint + n, dtype=np.int64),
                np.ones(n),
            )
            for j in range(i + 1)
        ]
        write_block(tmp_path / "data", series, mint, mint + 2 * hour - 1)
    proc, base = start_server(tmp_path / "data", "--rules.default.disable")
    try:
        blocks = _api(base, "/api/v1/status/tsdb")["blocks"]
        assert len(blocks) == 2
        page.goto(base + "/status")
        rows = page.locator("table.blocks tbody tr")
        expect(rows).to_have_count(len(blocks))
        for b in blocks:
            cells = page.locator(f'table.blocks tr[data-ulid="{b["ulid"]}"] td')
            expect(cells.nth(0)).to_have_text(b["ulid"])
            expect(cells.nth(4)).to_have_text(str(b["numSamples"]))
            expect(cells.nth(5)).to_have_text(str(b["numSeries"]))
            expect(cells.nth(3)).to_have_text("2h")
    finally:
        proc.terminate()
        proc.wait(30)


ALERTMANAGER_YML = """
route:
  receiver: team
  group_by: [alertname]
  routes:
    - matchers: [severity="critical"]
      receiver: pager
      continue: true
      group_wait: 10s
      routes:
        - matchers: ['service=~"db|cache"']
          receiver: "null"
    - matchers: [alertname="Watchdog"]
      receiver: "null"
      group_by: [...]
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:9/team"}]
  - name: pager
    webhook_configs: [{url: "http://127.0.0.1:9/pager"}]
    slack_configs: [{api_url: "http://127.0.0.1:9/slack", channel: "#pager"}]
  - name: "null"
"""


def test_status_page_shows_the_alertmanagers_routes_and_receivers(
    tmp_path: Path, page: Any
) -> None:
    from playwright.sync_api import expect

    config = tmp_path / "alertmanager.yml"
    config.write_text(ALERTMANAGER_YML)
    proc, base = start_server(
        tmp_path / "data", "--rules.default.disable", f"--alertmanager.config.file={config}"
    )
    try:
        page.goto(base + "/status")
        tree = page.get_by_role("list", name="Routing tree")
        root = tree.locator("> li.route")
        expect(root.locator("> .route-head")).to_have_text("every alert → team")
        expect(root.locator("> .route-options")).to_have_text(
            "group by alertname · wait 30s · interval 5m · repeat 4h"
        )
        children = root.locator("> ul > li.route")
        expect(children.locator("> .route-head")).to_have_text(
            ['severity="critical" → pagercontinue', 'alertname="Watchdog" → null']
        )
        # Options a child does not set are its parent's; group_by: [...] groups by every label.
        expect(children.locator("> .route-options")).to_have_text(
            [
                "group by alertname · wait 10s · interval 5m · repeat 4h",
                "group by ... · wait 30s · interval 5m · repeat 4h",
            ]
        )
        nested = children.first.locator("> ul > li.route > .route-head")
        expect(nested).to_have_text('service=~"db|cache" → null')
        receivers = page.get_by_role("table", name="Receivers").locator("tbody tr")
        expect(receivers).to_have_text(
            [
                "teamwebhook",
                "pagerwebhook, slack",
                "nullnone: alerts routed here are sent nowhere",
            ]
        )
    finally:
        proc.terminate()
        proc.wait(30)


def test_containers_dashboard_links_the_selected_containers_logs(vigil: str, page: Any) -> None:
    """Grafana's dashboard links: the built-in Containers dashboard's "Logs of ..." opens the
    Logs page on the chosen containers over the dashboard's own time range."""
    from playwright.sync_api import expect

    start, end = 1_714_557_600_000, 1_714_561_200_000
    page.goto(f"{vigil}/d/vigil-containers?from={start}&to={end}")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
    )
    link = page.locator("nav.dash-links a.dash-link")
    expect(link).to_have_count(1)
    expect(link).to_have_text(re.compile(r"^Logs of "))
    href = link.get_attribute("href") or ""
    params = dict(httpx.URL(href).params)
    assert (httpx.URL(href).path, params["from"], params["to"]) == ("/logs", str(start), str(end))
    assert params["query"].startswith('{container=~"')
    link.click()
    expect(page.get_by_label("LogQL query")).to_have_value(params["query"])


def test_alerts_page_shows_the_alertmanagers_groups_with_muted_alerts_on_request(
    vigil: str, page: Any
) -> None:
    """The Notifications view: the built-in Alertmanager's alerts in their groups; a
    silenced alert is hidden until "Silenced" is ticked, then shown as silenced."""
    from playwright.sync_api import expect

    def held() -> bool:
        groups = _api(vigil, "/api/v2/alerts/groups")
        names = {a["labels"]["alertname"] for g in groups for a in g["alerts"]}
        return {"UIPayload", "OrderFiring"} <= names

    _until(held, "UIPayload and OrderFiring in the Alertmanager")
    now = time.time()
    silence = httpx.post(
        vigil + "/api/v2/silences",
        json={
            "matchers": [{"name": "alertname", "value": "OrderFiring", "isRegex": False}],
            "startsAt": _iso(now - 60),
            "endsAt": _iso(now + 3600),
            "createdBy": "ui-test",
            "comment": "groups view",
        },
        timeout=10,
    ).json()["silenceID"]
    try:
        _until(
            lambda: (
                not any(
                    a["labels"]["alertname"] == "OrderFiring"
                    for g in _api(vigil, "/api/v2/alerts/groups", silenced="false")
                    for a in g["alerts"]
                )
            ),
            "OrderFiring silenced",
        )
        page.goto(vigil + "/alerts")
        page.get_by_role("tab", name="Notification groups").click()
        assert "view=groups" in page.url
        group = page.locator('section.am-group[data-receiver="null"]')
        expect(group.locator("tr.am-alert", has_text="UIPayload")).to_have_count(1)
        expect(group.locator("tr.am-alert", has_text="OrderFiring")).to_have_count(0)
        page.get_by_label("Silenced").check()
        assert "silenced=1" in page.url
        muted = group.locator("tr.am-alert", has_text="OrderFiring")
        expect(muted).to_have_count(1)
        expect(muted.locator(".pill", has_text="silenced")).to_have_count(1)
        expect(muted.get_by_role("link", name="Silence again")).to_be_visible()
        page.get_by_role("tab", name="By rule").click()
        expect(page.locator("details.rule-row").first).to_be_visible()
    finally:
        httpx.delete(f"{vigil}/api/v2/silence/{silence}", timeout=10)
