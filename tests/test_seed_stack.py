"""The seed's own three files (prometheus.yml, rules/node-server-alerts.yml, alertmanager.yml)
run by `vigil server` with only their addresses changed: loaded and scraping a real
node_exporter; the seed's timings (`for: 2m`, group_wait 30s, repeat_interval 1h) walked on a
ManualClock; and, with shortened timings, the same Slack messages as the seed's real stack
(Debian prometheus + prometheus-alertmanager) for the same memory pressure."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import FIXTURES, free_port, peer, running
from tests.notify.capture import HTTPCapture, http_capture
from vigil.cmd.alertmanager_service import AlertmanagerOptions, AlertmanagerService
from vigil.cmd.server_process import Server, ServerOptions
from vigil.config.prometheus import parse_config as parse_prometheus_config
from vigil.model.alert import Alert
from vigil.model.clock import ManualClock
from vigil.model.labels import Labels
from vigil.notify.kinds import parse_config as parse_alertmanager_config
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import AlertState, Group, GroupOptions, engine_query_func, parse_rule_file
from vigil.rules.notifier import Notifier, NotifierOptions, PostableAlert
from vigil.tsdb import MemoryAppender, MemoryStorage

SEED = FIXTURES / "seed-stack"
SLACK_URL = "https://hooks.slack.com/services/XXXXXXXXX/XXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX"
EXTERNAL_URL = "http://seed-vm.example:9093"
MEM_TOTAL = 1 << 30  # the seed's 1 GiB VM


# --- the seed's files, addresses (and, where asked, timings) changed ------------------------


def _replace(text: str, old: str, new: str, count: int = 1) -> str:
    """`text` with `old` replaced, failing loudly when the seed file no longer has it."""
    assert text.count(old) == count, f"the seed file changed: {old!r} found {text.count(old)}×"
    return text.replace(old, new)


ALERTING_BLOCK = re.compile(r"^alerting:\n(?:[ #].*\n|\n)*?(?=^\S)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Timings:
    """The durations written into the seed's files; the defaults are the seed's own."""

    scrape: str = "15s"
    rule_for: str = "2m"
    group_wait: str = "30s"
    group_interval: str = "5m"


SEED_TIMINGS = Timings()
SHORT_TIMINGS = Timings(scrape="1s", rule_for="5s", group_wait="1s", group_interval="2s")


def seed_prometheus(
    node: str | Sequence[str], alertmanager: str | None, timings: Timings = SEED_TIMINGS
) -> str:
    """The seed's prometheus.yml scraping `node` (one address or several), sending to
    `alertmanager` (None: the `alerting:` block left out, so vigil delivers in process)."""
    nodes = [node] if isinstance(node, str) else list(node)
    targets = ", ".join(f'"{address}"' for address in nodes)
    text = _replace((SEED / "prometheus.yml").read_text(), '"<node_ip>:9100"', targets)
    if alertmanager is None:
        text, removed = ALERTING_BLOCK.subn("", text)
        assert removed == 1, "the seed's prometheus.yml has no alerting: block any more"
    else:
        text = _replace(text, "'localhost:9093'", f"'{alertmanager}'")
    for key in ("scrape_interval", "evaluation_interval"):
        text = _replace(text, f"{key}: 15s", f"{key}: {timings.scrape}")
    return text


def seed_rules(timings: Timings = SEED_TIMINGS) -> str:
    text = (SEED / "rules" / "node-server-alerts.yml").read_text()
    return _replace(text, "for: 2m", f"for: {timings.rule_for}", count=2)


def seed_alertmanager(slack_url: str, timings: Timings = SEED_TIMINGS) -> str:
    text = _replace((SEED / "alertmanager.yml").read_text(), SLACK_URL, slack_url)
    text = _replace(text, "group_wait: 30s", f"group_wait: {timings.group_wait}")
    return _replace(text, "group_interval: 5m", f"group_interval: {timings.group_interval}")


def write_seed(directory: Path, prometheus: str, rules: str, alertmanager: str) -> Path:
    """The three files laid out as the seed has them; the prometheus.yml path."""
    (directory / "rules").mkdir(parents=True)
    (directory / "rules" / "node-server-alerts.yml").write_text(rules)
    (directory / "alertmanager.yml").write_text(alertmanager)
    config = directory / "prometheus.yml"
    config.write_text(prometheus)
    return config


# --- a node_exporter whose memory the test can move -------------------------------------------


class FakeNode:
    """Serves node_exporter's two memory gauges the seed's rules read, for a memory use the
    test sets (the real node_exporter reports the real host, which a test cannot drive)."""

    def __init__(self, used: float = 0.5) -> None:
        self.used = used
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def exposition(self) -> bytes:
        available = round(MEM_TOTAL * (1 - self.used))
        return (
            "# HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.\n"
            "# TYPE node_memory_MemAvailable_bytes gauge\n"
            f"node_memory_MemAvailable_bytes {available}\n"
            "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n"
            "# TYPE node_memory_MemTotal_bytes gauge\n"
            f"node_memory_MemTotal_bytes {MEM_TOTAL}\n"
        ).encode()


@contextmanager
def fake_node(used: float = 0.5) -> Iterator[FakeNode]:
    node = FakeNode(used)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = node.exposition()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    node.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()


# --- the processes --------------------------------------------------------------------------


def vigil_server_args(config: Path, alertmanager: Path, port: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "vigil", "server",
        f"--config.file={config}",
        f"--alertmanager.config.file={alertmanager}",
        f"--storage.tsdb.path={config.parent / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={EXTERNAL_URL}",
        *extra,
    ]  # fmt: skip


def prometheus_args(config: Path, port: int) -> list[str]:
    return [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={config.parent / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]


def alertmanager_args(config: Path, port: int) -> list[str]:
    return [
        peer("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={config.parent / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={EXTERNAL_URL}",
        "--cluster.listen-address=",
    ]


def _query(api: str, query: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{api}/api/v1/query", params={"query": query}, timeout=10).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll `check` until it returns something truthy (a bounded wait for real processes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


def _rules(api: str, group: str) -> list[dict[str, Any]]:
    """The rules of `group` as /api/v1/rules shows them, without evaluation state."""
    groups = httpx.get(f"{api}/api/v1/rules", timeout=10).json()["data"]["groups"]
    keys = ("name", "query", "duration", "labels", "annotations", "type")
    return [
        {key: rule.get(key) for key in keys}
        for found in groups
        if found["name"] == group
        for rule in found["rules"]
    ]


# --- the seed's config, verbatim --------------------------------------------------------------


@pytest.mark.slow
def test_the_seeds_files_load_and_scrape_a_real_node_exporter(tmp_path: Path) -> None:
    """The seed's three files with only addresses changed: `localhost:9093` becomes vigil's
    own address (vigil is now the Alertmanager), the node exporter a real one on a free port.
    Prometheus 2.42 on the same files is the oracle for the rules as loaded."""
    node_port, port, real_port = free_port(), free_port(), free_port()
    node = f"127.0.0.1:{node_port}"
    with http_capture() as slack:
        config = write_seed(
            tmp_path / "vigil",
            seed_prometheus(node, f"127.0.0.1:{port}"),
            seed_rules(),
            seed_alertmanager(slack.url("/slack")),
        )
        real_config = write_seed(  # Prometheus only loads the rules here: no Alertmanager
            tmp_path / "prometheus",
            seed_prometheus(node, "127.0.0.1:9"),
            seed_rules(),
            seed_alertmanager(slack.url("/slack")),
        )
        checks = [
            [peer("promtool"), "check", "config", str(config)],
            [peer("amtool"), "check-config", str(config.parent / "alertmanager.yml")],
        ]
        for check in checks:
            done = subprocess.run(check, capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
        api, real_api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{real_port}"
        exporter = [peer("prometheus-node-exporter"), f"--web.listen-address={node}"]
        with ExitStack() as stack:
            stack.enter_context(running(exporter, f"http://{node}/metrics"))
            vigil = vigil_server_args(config, config.parent / "alertmanager.yml", port)
            stack.enter_context(running(vigil, f"{api}/-/ready", 60))
            stack.enter_context(
                running(prometheus_args(real_config, real_port), f"{real_api}/-/ready")
            )
            # One scrape_interval (15 s) plus the scrape's offset within it.
            up = _until(lambda: _query(api, 'up{job="node-server"}'), 40, "first scrape")
            assert [(s["metric"]["instance"], s["value"][1]) for s in up] == [(node, "1")]
            total = _query(api, "node_memory_MemTotal_bytes")
            served = httpx.get(f"http://{node}/metrics", timeout=10).text
            want = re.search(r"^node_memory_MemTotal_bytes (\S+)$", served, re.MULTILINE)
            assert want is not None
            assert [float(s["value"][1]) for s in total] == [float(want.group(1))]
            seed_group = "node-server-alerts.yml"
            assert _rules(api, seed_group) == _rules(real_api, seed_group) != []
            receivers = httpx.get(f"{api}/api/v2/receivers", timeout=10).json()
            assert [r["name"] for r in receivers] == ["slack-notifications"]

            # The default pack's Watchdog reaches the in-process Alertmanager over the
            # seed's `alerting:` address, routed to the seed's Slack receiver.
            def watchdog() -> list[dict[str, Any]]:
                alerts = httpx.get(f"{api}/api/v2/alerts", timeout=10).json()
                return [a for a in alerts if a["labels"]["alertname"] == "Watchdog"]

            found = _until(watchdog, 40, "Watchdog in the in-process Alertmanager")
            assert [(a["status"]["state"], [r["name"] for r in a["receivers"]]) for a in found] == [
                ("active", ["slack-notifications"])
            ]
            # ... and, group_wait (30s) later, the seed's Slack receiver sends it.
            body = json.loads(slack.wait(1, 45)[0].body)
        attachment = body["attachments"][0]
        assert (body["channel"], attachment["title"]) == (
            "#알림채널",
            found[0]["annotations"]["summary"],
        )
        assert attachment["text"].startswith(f" *Alert:* {found[0]['annotations']['description']}")


# --- the seed's timings, on a ManualClock ---------------------------------------------------


def _to_alert(alert: PostableAlert) -> Alert:
    return Alert(
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=alert.starts_at_ms / 1000,
        ends_at=alert.ends_at_ms / 1000,
        generator_url=alert.generator_url,
    )


async def _settle() -> None:
    for _ in range(100):
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class Sent:
    at: float  # seconds after the start
    title: str
    text: str


START = 1_700_000_000.0
NODE = "app-vm:9100"


def test_the_seeds_timings_on_a_manual_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's own durations: memory at 95% from 60 s; HighMemoryUsage (and its 80% twin)
    pending at the next evaluation, firing `for: 2m` later (180 s), one Slack message each
    after group_wait 30s (210 s); still firing an hour on, repeated at the first
    group_interval tick (5m) at which the last send is over repeat_interval (1h) old; once
    memory drops, resolved without a message (the seed's Slack config has no send_resolved)."""
    sent: list[Sent] = []
    clock = ManualClock(START)

    def slack(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "http://slack.test/hook"
        body = json.loads(request.content)
        attachment = body["attachments"][0]
        assert body["channel"] == "#알림채널"
        sent.append(Sent(clock.now() - START, attachment["title"], attachment["text"]))
        return httpx.Response(200, text="ok")

    def client(_: object, timeout: float | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(slack), timeout=timeout)

    monkeypatch.setattr("vigil.notify.slack.build_client", client)
    config = parse_prometheus_config(seed_prometheus(NODE, None), str(tmp_path / "prometheus.yml"))
    interval = config.global_config.evaluation_interval.milliseconds
    spec = parse_rule_file(seed_rules(), "rules/node-server-alerts.yml").groups[0]
    am_text = seed_alertmanager("http://slack.test/hook")
    am_config = parse_alertmanager_config(am_text, "alertmanager.yml")
    storage = MemoryStorage()
    engine = Engine(storage.queryable, EngineOptions(timeout_s=None))
    known: list[Labels] = []
    group = Group(
        spec,
        GroupOptions(interval_ms=interval),
        engine_query_func(engine),
        lambda: MemoryAppender(storage, known),
        logger=None,
    )
    used = {0.0: 0.5, 60.0: 0.95, 4200.0: 0.5}  # offset -> memory use from then on
    until = 4200.0 + 3 * 300
    states: dict[float, dict[str, str]] = {}

    def scrape(t_ms: int, use: float) -> None:
        base = {"job": "node-server", "instance": NODE}
        for name, value in (
            ("node_memory_MemTotal_bytes", MEM_TOTAL),
            ("node_memory_MemAvailable_bytes", round(MEM_TOTAL * (1 - use))),
        ):
            storage.add(Labels.from_dict({"__name__": name, **base}), t_ms, value)

    async def scenario() -> None:
        service = AlertmanagerService(
            am_config, am_text, AlertmanagerOptions(storage_path=tmp_path / "am"), clock
        )
        notifier = Notifier(clock, CollectorRegistry(), NotifierOptions())
        await notifier.apply(config)

        def deliver(alerts: Sequence[PostableAlert]) -> None:
            assert service.put_alerts([_to_alert(a) for a in alerts]) == []

        notifier.deliver_locally(deliver)
        await service.start()
        next_eval = START
        try:
            while True:
                await _settle()
                deadline = clock.next_deadline()
                step = min(next_eval, deadline) if deadline is not None else next_eval
                if step > START + until:
                    break
                clock.set(step)
                await _settle()
                if clock.now() >= next_eval:
                    offset = next_eval - START
                    t_ms = round(next_eval * 1000)
                    scrape(t_ms, used[max(k for k in used if k <= offset)])
                    group.evaluate(t_ms)
                    states[offset] = {r.name: str(r.state()) for r in group.alerting_rules()}
                    notifier.notify_group(group, t_ms)
                    await notifier.flush()
                    next_eval += interval / 1000
        finally:
            await service.stop()
            await notifier.stop()

    asyncio.run(scenario())

    inactive, pending, firing = (
        str(s) for s in (AlertState.INACTIVE, AlertState.PENDING, AlertState.FIRING)
    )
    walk = {t: states[t]["HighMemoryUsage"] for t in (45.0, 60.0, 165.0, 180.0, 4185.0, 4200.0)}
    assert walk == {45.0: inactive, 60.0: pending, 165.0: pending, 180.0: firing,
                    4185.0: firing, 4200.0: inactive}  # fmt: skip
    value = (MEM_TOTAL - round(MEM_TOTAL * 0.05)) / MEM_TOTAL
    # The seed's `text: >` folds its lines into one: the message is a single line.
    critical = (
        " *Alert:* Memory usage is above 90% for more than 2 minutes."
        f" Current value: {value} *Instance:* {NODE} \n"
    )
    warning = critical.replace("above 90%", "above 80%")
    # 4110 = 210 + 13 × 300: the first 5m tick at which the 210 s send is more than 1h old.
    assert sorted(sent, key=lambda s: (s.at, s.title)) == [
        Sent(210.0, "Memory Usage Critical", critical),
        Sent(210.0, "Memory Usage Warning", warning),
        Sent(4110.0, "Memory Usage Critical", critical),
        Sent(4110.0, "Memory Usage Warning", warning),
    ]


async def _quiet(clock: ManualClock) -> None:
    """Until no task the clock woke is still at work (a scrape waiting for its answer, a
    rule evaluation in its worker thread, a Slack POST), and what those handed on has run."""
    deadline = time.monotonic() + 30
    while True:
        await _settle()
        if not clock.busy():
            return
        assert time.monotonic() < deadline, "a task woken by the clock did not finish"
        await asyncio.sleep(0.001)  # for the network or a worker thread, not for the clock


def test_the_seeds_timings_through_a_whole_server_on_a_manual_clock(tmp_path: Path) -> None:
    """The seed's three files run by one `Server` on a ManualClock: it scrapes a node whose
    memory goes to 95% at 60 s and back to 50% at 4200 s, evaluates the rules, delivers to its
    own Alertmanager, which posts to a local Slack sink. HighMemoryUsage is pending at the
    first evaluation that sees the pressure, firing `for: 2m` later; one Slack message per
    alert follows group_wait (30s) later, a repeat at the first group_interval (5m) tick more
    than repeat_interval (1h) after it, and nothing on resolution (no send_resolved)."""
    clock = ManualClock(float(int(time.time())))
    start = clock.now()
    sent: list[Sent] = []
    transitions: list[tuple[float, str]] = []
    end = 4200.0 + 3 * 300
    with fake_node(0.5) as node, http_capture() as slack:
        config = write_seed(
            tmp_path,
            seed_prometheus(node.address, None),
            seed_rules(),
            seed_alertmanager(slack.url("/slack")),
        )
        server = Server(
            ServerOptions(
                config_file=config,
                alertmanager_config_file=tmp_path / "alertmanager.yml",
                data_dir=tmp_path / "data",
                external_url=EXTERNAL_URL,
                host_collectors=False,
                default_rules=False,
            ),
            clock=clock,
        )

        def record() -> None:
            offset = clock.now() - start
            for request in slack.requests[len(sent) :]:
                attachment = json.loads(request.body)["attachments"][0]
                sent.append(Sent(offset, attachment["title"], attachment["text"]))
            states = [
                str(rule.state())
                for group in server.rules.groups()
                for rule in group.alerting_rules()
                if rule.name == "HighMemoryUsage"
            ]
            if states and (not transitions or transitions[-1][1] != states[0]):
                transitions.append((offset, states[0]))

        async def scenario() -> None:
            await server.start()
            try:
                assert await server.applied()
                while True:
                    await _quiet(clock)
                    record()
                    deadline = clock.next_deadline()
                    if deadline is None or deadline > start + end:
                        return
                    node.used = 0.95 if 60 <= deadline - start < 4200 else 0.5
                    clock.set(deadline)
            finally:
                await server.stop()

        asyncio.run(scenario())

    inactive, pending, firing = (
        str(s) for s in (AlertState.INACTIVE, AlertState.PENDING, AlertState.FIRING)
    )
    (_, first), (pending_at, second), (firing_at, third), (resolved_at, last) = transitions
    assert (first, second, third, last) == (inactive, pending, firing, inactive)
    assert 60 <= pending_at < 60 + 2 * 15, "pending at the first evaluation after the pressure"
    assert firing_at - pending_at == 120
    assert 4200 <= resolved_at < 4200 + 2 * 15
    value = (MEM_TOTAL - round(MEM_TOTAL * 0.05)) / MEM_TOTAL
    critical = (
        " *Alert:* Memory usage is above 90% for more than 2 minutes."
        f" Current value: {value} *Instance:* {node.address} \n"
    )
    warning = critical.replace("above 90%", "above 80%")
    first_send = firing_at + 30
    repeat = first_send + 13 * 300
    assert sorted(sent, key=lambda s: (s.at, s.title)) == [
        Sent(first_send, "Memory Usage Critical", critical),
        Sent(first_send, "Memory Usage Warning", warning),
        Sent(repeat, "Memory Usage Critical", critical),
        Sent(repeat, "Memory Usage Warning", warning),
    ]


# --- side by side with the seed's real stack --------------------------------------------------


def _slack_messages(capture: HTTPCapture, count: int) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in capture.wait(count, 60)]


def _resolved(api: str) -> bool:
    """No alert pending or firing in the rule engine at `api`."""
    return not httpx.get(f"{api}/api/v1/alerts", timeout=10).json()["data"]["alerts"]


@pytest.mark.slow
def test_the_same_slack_messages_as_the_seeds_real_stack(tmp_path: Path) -> None:
    """Memory 85% → 95% → 50% → 85% on a fake node_exporter, seen by the seed's real stack
    (Prometheus → Alertmanager) and by one `vigil server` (alerts delivered in process), all
    with the same shortened timings (scrape/eval 1s, for: 5s, group_wait 1s, group_interval
    2s). The two Slack sinks must get the same messages in the same order: one per alert
    (the seed's inhibit rule requires equal alertnames, so the 90% alert never mutes the
    80% one), none on resolution (no send_resolved), and a new one when 85% comes back."""
    t = SHORT_TIMINGS
    with ExitStack() as stack:
        node = stack.enter_context(fake_node(0.5))
        real_slack = stack.enter_context(http_capture())
        vigil_slack = stack.enter_context(http_capture())
        am_port, prom_port, vigil_port = free_port(), free_port(), free_port()
        real = write_seed(
            tmp_path / "real",
            seed_prometheus(node.address, f"127.0.0.1:{am_port}", t),
            seed_rules(t),
            seed_alertmanager(real_slack.url("/slack"), t),
        )
        ours = write_seed(
            tmp_path / "vigil",
            seed_prometheus(node.address, None, t),
            seed_rules(t),
            seed_alertmanager(vigil_slack.url("/slack"), t),
        )
        am_args = alertmanager_args(real.parent / "alertmanager.yml", am_port)
        stack.enter_context(running(am_args, f"http://127.0.0.1:{am_port}/-/ready"))
        prom = f"http://127.0.0.1:{prom_port}"
        stack.enter_context(running(prometheus_args(real, prom_port), f"{prom}/-/ready"))
        vigil = f"http://127.0.0.1:{vigil_port}"
        vigil_args = vigil_server_args(
            ours, ours.parent / "alertmanager.yml", vigil_port, "--rules.default.disable"
        )
        stack.enter_context(running(vigil_args, f"{vigil}/-/ready", 60))
        sinks = (real_slack, vigil_slack)
        apis = (prom, vigil)

        def step(used: float, count: int) -> None:
            node.used = used
            for sink in sinks:
                sink.wait(count, 60)

        step(0.85, 1)
        step(0.95, 2)
        node.used = 0.5
        for api in apis:
            _until(partial(_resolved, api), 30, f"alerts resolved in {api}")
        step(0.85, 3)
        messages = [_slack_messages(sink, 3) for sink in sinks]
        counts = [len(sink.requests) for sink in sinks]
    assert messages[1] == messages[0]
    assert counts[1] == counts[0]
    titles = [m["attachments"][0]["title"] for m in messages[0]]
    assert titles == ["Memory Usage Warning", "Memory Usage Critical", "Memory Usage Warning"]
