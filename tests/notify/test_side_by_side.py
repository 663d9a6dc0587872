"""The same alertmanager.yml and the same alerts, sent by the real Alertmanager 0.25 and by
vigil's receivers to local sinks: Slack and webhook bodies must be byte-identical, emails equal
in headers and decoded parts (modulo Message-Id, Date and the multipart boundary)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from tests.conftest import FIXTURES, free_port, peer, running
from tests.notify.capture import HTTPCapture, Mail, SMTPCapture, http_capture, smtp_capture
from tests.notify.test_template import HTML_CASES, HTML_DATA, HTML_DEFINES
from vigil.alerting._api import Notification
from vigil.model.alert import Alert
from vigil.model.clock import ManualClock
from vigil.model.labels import Labels
from vigil.notify import NotifyMetrics, RetryStage, Templates, build_integrations
from vigil.notify.kinds import load_config

EXTERNAL_URL = "http://am.example:9093/am"


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _alerts() -> list[dict[str, object]]:
    """Two alerts started just now (so Alertmanager waits group_wait for both before its first
    flush), the second already resolved."""
    now = round(time.time(), 3)
    return [
        {
            "labels": {
                "alertname": "HighMemoryUsage",
                "instance": "h1:9100",
                "severity": "warning",
            },
            "annotations": {
                "summary": "Memory > 90% on <h1> & friends",
                "description": "used 'a lot' of \"memory\"",
            },
            "startsAt": _iso(now - 0.2),
            "generatorURL": "http://prom:9090/graph?g0.expr=a+%3E+b&g0.tab=1",
        },
        {
            "labels": {
                "alertname": "HighMemoryUsage",
                "instance": "h2:9100",
                "severity": "warning",
            },
            "annotations": {"summary": "Memory > 90% on <h1> & friends"},
            "startsAt": _iso(now - 0.3),
            "endsAt": _iso(now - 0.1),
        },
    ]


TEMPLATES = """
{{ define "custom.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on {{ range .Alerts }}{{ .Labels.instance }} {{ end }}{{ end }}
"""

CONFIG = """
global:
  smtp_smarthost: '127.0.0.1:{smtp}'
  smtp_from: 'Alertmanager <am@example.org>'
  smtp_require_tls: false
templates: ['*.tmpl']
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
receivers:
  - name: team
    slack_configs:
      - api_url: {http}/slack/default
        channel: '#ops'
        send_resolved: true
      - api_url: {http}/slack/custom
        title: '{{{{ template "custom.title" . }}}}'
        title_link: '{{{{ .ExternalURL }}}}/x?r={{{{ .Receiver | urlquery }}}}'
        pretext: 'pre {{{{ len .Alerts.Firing }}}}/{{{{ len .Alerts.Resolved }}}}'
        fields:
          - {{title: 'Status {{{{ .Status }}}}', value: '{{{{ .CommonLabels.severity }}}}'}}
          - {{title: Started, value: '{{{{ (index .Alerts 0).StartsAt }}}}', short: true}}
        short_fields: false
        actions:
          - type: button
            text: 'Runbook {{{{ .GroupLabels.alertname }}}}'
            url: 'http://runbooks/{{{{ .GroupLabels.alertname }}}}'
            confirm: {{text: 'Sure?', ok_text: 'Yes'}}
        footer: '{{{{ .CommonLabels.Names | join "," }}}}'
        icon_emoji: ':fire:'
        link_names: true
        mrkdwn_in: [text]
    webhook_configs:
      - url: {http}/webhook/all
      - url: {http}/webhook/one
        max_alerts: 1
    email_configs:
      - to: 'ops@example.org, Dev Team <dev@example.org>'
        headers: {{X-Team: 'team {{{{ .GroupLabels.alertname }}}}', subject: 'Alert: é {{{{ .Status }}}}'}}
        text: '{{{{ range .Alerts }}}}{{{{ .Labels.instance }}}} {{{{ .Status }}}}{{{{ "\\n" }}}}{{{{ end }}}}'
      - to: 'ops@example.org'
        send_resolved: true
"""


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _notification(receiver: str, alerts: list[dict[str, object]], now: float) -> Notification:
    """What Alertmanager's dispatcher hands its receivers: firing alerts with no end time."""
    items = tuple(
        Alert(
            Labels.from_dict(a["labels"]),  # type: ignore[arg-type]
            Labels.from_dict(a["annotations"]),  # type: ignore[arg-type]
            starts_at=_ts(str(a["startsAt"])),
            ends_at=_ts(str(a["endsAt"])) if "endsAt" in a else 0.0,
            generator_url=str(a.get("generatorURL", "")),
        )
        for a in alerts
    )
    return Notification(
        receiver=receiver,
        group_key='{}:{alertname="HighMemoryUsage"}',
        group_labels=Labels.from_dict({"alertname": "HighMemoryUsage"}),
        alerts=items,
        now=now,
        deadline=now + 30,
        repeat_interval=3600,
    )


def _alertmanager(
    tmp: Path,
    config: str,
    sinks: tuple[HTTPCapture, SMTPCapture],
    alerts: list[dict[str, object]],
    want: tuple[int, int],
) -> tuple[list[tuple[str, bytes]], list[Mail]]:
    """Start Alertmanager, fill `alerts` (dated from now, once it is up), post them, and
    collect the requests and mails wanted before stopping it."""
    port = free_port()
    (tmp / "alertmanager.yml").write_text(config)
    args = [
        peer("prometheus-alertmanager"),
        f"--config.file={tmp / 'alertmanager.yml'}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        f"--web.external-url={EXTERNAL_URL}",
    ]
    base = f"http://127.0.0.1:{port}/am"
    with running(args, f"{base}/-/ready"):
        alerts.extend(_alerts())
        assert httpx.post(f"{base}/api/v2/alerts", json=alerts).status_code == 200
        requests = [(r.path, r.body) for r in sinks[0].wait(want[0])]
        return requests, sinks[1].wait(want[1])


def _vigil(tmp: Path, config: str, receiver: str, alerts: list[dict[str, object]]) -> None:
    (tmp / "vigil.yml").write_text(config)
    parsed = load_config(str(tmp / "vigil.yml"))
    clock = ManualClock(dt.datetime.now(dt.UTC).timestamp())
    templates = Templates.load(parsed.templates, clock.now)
    integrations = build_integrations(parsed, receiver, templates, EXTERNAL_URL, clock.now)
    metrics = NotifyMetrics(CollectorRegistry())

    async def send() -> None:
        for integration in integrations:
            await RetryStage(integration, metrics, clock).exec(
                _notification(receiver, alerts, clock.now())
            )

    asyncio.run(send())


def _mail(mail: Mail) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str, list[str]]:
    message = email.message_from_bytes(mail.data)
    headers = sorted(
        (k, v) for k, v in message.items() if k not in ("Message-Id", "Date", "Content-Type")
    )
    parts = [
        (part.get_content_type(), bytes(part.get_payload(decode=True)).decode())
        for part in message.walk()
        if not part.is_multipart()
    ]
    return headers, parts, mail.sender, sorted(mail.recipients)


def _run_both(
    tmp_path: Path, config: Callable[[str, int], str], receiver: str, want_http: int, want_mail: int
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]], list[Mail], list[Mail]]:
    (tmp_path / "custom.tmpl").write_text(TEMPLATES)
    alerts: list[dict[str, object]] = []
    with http_capture() as am_http, smtp_capture() as am_smtp:
        am, am_mails = _alertmanager(
            tmp_path,
            config(am_http.url(""), am_smtp.port),
            (am_http, am_smtp),
            alerts,
            (want_http, want_mail),
        )
    with http_capture() as vigil_http, smtp_capture() as vigil_smtp:
        _vigil(tmp_path, config(vigil_http.url(""), vigil_smtp.port), receiver, alerts)
        ours = [(r.path, r.body) for r in vigil_http.wait(want_http)]
        our_mails = vigil_smtp.wait(want_mail)
    return sorted(am), sorted(ours), am_mails, our_mails


@pytest.mark.slow
def test_slack_webhook_and_email_match_alertmanager(tmp_path: Path) -> None:
    am, ours, am_mails, our_mails = _run_both(
        tmp_path,
        lambda http, smtp: textwrap.dedent(CONFIG).format(http=http, smtp=smtp),
        "team",
        4,
        2,
    )
    assert [p for p, _ in am] == ["/slack/custom", "/slack/default", "/webhook/all", "/webhook/one"]
    assert [(p, b.decode()) for p, b in ours] == [(p, b.decode()) for p, b in am]
    assert sorted(map(_mail, our_mails)) == sorted(map(_mail, am_mails))
    truncated = json.loads(dict(am)["/webhook/one"])
    assert (len(truncated["alerts"]), truncated["truncatedAlerts"]) == (1, 1)


@pytest.mark.slow
def test_seed_slack_templates_match_alertmanager(tmp_path: Path) -> None:
    """The seed stack's own alertmanager.yml, its Slack URL pointed at the local sink."""
    seed = yaml.safe_load((FIXTURES / "seed-stack" / "alertmanager.yml").read_text())
    seed["route"]["group_wait"] = "1s"

    def config(http: str, smtp: int) -> str:
        seed["global"]["slack_api_url"] = f"{http}/services/T000/B000/XXXX"
        return yaml.safe_dump(seed, allow_unicode=True)

    am, ours, _, _ = _run_both(tmp_path, config, "slack-notifications", 1, 0)
    body = json.loads(am[0][1])
    assert body["attachments"][0]["title"] == "Memory > 90% on <h1> & friends"
    assert ours == am


@pytest.mark.slow
def test_html_escaping_table_matches_alertmanager(tmp_path: Path) -> None:
    """test_template.py's html/template table, rendered by Alertmanager as an email body."""
    marker = "\n=====\n"
    body = HTML_DEFINES + "{{ with .CommonAnnotations }}"
    body += marker.join(text for text, _ in HTML_CASES) + "{{ end }}"
    port = free_port()
    with smtp_capture() as smtp:
        config = {
            "route": {"receiver": "mail", "group_wait": "1s"},
            "receivers": [
                {
                    "name": "mail",
                    "email_configs": [
                        {
                            "to": "ops@example.org",
                            "from": "am@example.org",
                            "smarthost": f"127.0.0.1:{smtp.port}",
                            "require_tls": False,
                            "html": body,
                        }
                    ],
                }
            ],
        }
        (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
        args = [
            peer("prometheus-alertmanager"),
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
        alert = {"labels": {"alertname": "Html"}, "annotations": HTML_DATA}
        with running(args, f"http://127.0.0.1:{port}/-/ready"):
            url = f"http://127.0.0.1:{port}/api/v2/alerts"
            assert httpx.post(url, json=[alert]).status_code == 200
            mail = smtp.wait(1)[0]
    html = next(part for kind, part in _mail(mail)[1] if kind == "text/html")
    assert html.replace("\r\n", "\n").split(marker) == [want for _, want in HTML_CASES]
