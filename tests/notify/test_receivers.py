"""Receivers against local sinks: what each sends, how failures are retried (5xx, connection
errors) or not (4xx, template errors), what is counted, and the test-notification action.
Time is a ManualClock: the backoff sleeps are driven, never waited for."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import subprocess
import textwrap
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import free_port
from tests.notify.capture import http_capture, smtp_capture
from vigil.alerting._api import Notification, NotifyError
from vigil.config.alertmanager import Config
from vigil.model.alert import Alert
from vigil.model.clock import ManualClock
from vigil.model.labels import Labels
from vigil.notify import NotifyMetrics, RetryStage, Templates, build_integrations, receivers
from vigil.notify.email import q_encode
from vigil.notify.kinds import parse_config
from vigil.notify.receivers import UnsupportedIntegration
from vigil.notify.retry import Backoff

T = TypeVar("T")
START = 1_700_000_000.0
FIRING = Alert(Labels.from_dict({"alertname": "Down", "instance": "h1"}), starts_at=START - 60)
RESOLVED = Alert(
    Labels.from_dict({"alertname": "Down", "instance": "h2"}),
    starts_at=START - 60,
    ends_at=START - 1,
)


def _config(receivers: str, tmp_path: Path | None = None) -> Config:
    text = "route: {receiver: r}\nreceivers:\n- name: r\n" + textwrap.indent(
        textwrap.dedent(receivers), "  "
    )
    file = str(tmp_path / "am.yml") if tmp_path else "am.yml"
    return parse_config(text, file)


def _notification(*alerts: Alert, seconds: float = 20) -> Notification:
    return Notification(
        receiver="r",
        group_key='{}:{alertname="Down"}',
        group_labels=Labels.from_dict({"alertname": "Down"}),
        alerts=alerts or (FIRING,),
        now=START,
        deadline=START + seconds,
        repeat_interval=3600,
    )


class Harness:
    def __init__(self, config: Config) -> None:
        self.clock = ManualClock(START)
        self.registry = CollectorRegistry()
        self.metrics = NotifyMetrics(self.registry)
        templates = Templates.load(now=self.clock.now)
        self.stages = [
            RetryStage(i, self.metrics, self.clock, lambda: Backoff(jitter=0))
            for i in build_integrations(config, "r", templates, "http://am", self.clock.now)
        ]

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    async def drive(self, work: Awaitable[T]) -> T:
        """Run `work`, moving the clock to each backoff deadline as soon as it is waited for."""
        task = asyncio.ensure_future(work)
        for _ in range(2000):
            if task.done():
                break
            deadline = self.clock.next_deadline()
            if deadline is not None:
                self.clock.set(deadline)
            await asyncio.sleep(0.005)
        return await task

    def send(self, notification: Notification | None = None) -> Notification | None:
        async def run() -> Notification | None:
            out: Notification | None = None
            for stage in self.stages:
                out = await self.drive(stage.exec(notification or _notification()))
            return out

        return asyncio.run(run())


def test_slack_and_webhook_post_json_with_auth_headers(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("PLACEHOLDER\n")
    (tmp_path / "token").write_text("s3cret\n")
    with http_capture() as sink:
        (tmp_path / "url").write_text(sink.url("/from-file") + "\n")
        config = _config(
            f"""
            slack_configs:
              - api_url: {sink.url("/slack")}
                channel: '#ops'
                http_config: {{authorization: {{credentials_file: {tmp_path / "token"}}}}}
            webhook_configs:
              - url_file: {tmp_path / "url"}
                max_alerts: 1
                http_config: {{basic_auth: {{username: u, password: p}}}}
            """
        )
        Harness(config).send(_notification(FIRING, RESOLVED))
        slack, webhook = sink.wait(2)
    body = json.loads(webhook.body)
    assert (
        slack.path,
        slack.headers["Content-Type"],
        slack.headers["Authorization"],
        json.loads(slack.body)["channel"],
        webhook.path,
        webhook.headers["Authorization"],
        [a["labels"]["instance"] for a in body["alerts"]],
        body["truncatedAlerts"],
        body["groupKey"],
        webhook.body.endswith(b"}\n"),
    ) == (
        "/slack",
        "application/json",
        "Bearer s3cret",
        "#ops",
        "/from-file",
        "Basic " + base64.b64encode(b"u:p").decode(),
        ["h1"],
        1,
        '{}:{alertname="Down"}',
        True,
    )


@pytest.mark.parametrize(
    ("send_resolved", "alerts", "want_instances"),
    [
        (False, (FIRING, RESOLVED), [["h1"]]),
        (False, (RESOLVED,), []),  # only resolved: nothing sent, counted as done
        (True, (FIRING, RESOLVED), [["h1", "h2"]]),
    ],
)
def test_send_resolved(
    send_resolved: bool, alerts: tuple[Alert, ...], want_instances: list[list[str]]
) -> None:
    with http_capture() as sink:
        config = _config(
            f"webhook_configs: [{{url: '{sink.url()}', send_resolved: {str(send_resolved).lower()}}}]"
        )
        harness = Harness(config)
        out = harness.send(_notification(*alerts))
        sent = sink.requests
    assert out is not None and out.alerts == alerts  # the nflog records them all
    assert [[a["labels"]["instance"] for a in json.loads(r.body)["alerts"]] for r in sent] == (
        want_instances
    )


def test_server_errors_are_retried_and_counted() -> None:
    with http_capture(statuses=[500, 503, 200]) as sink:
        harness = Harness(_config(f"slack_configs: [{{api_url: '{sink.url()}'}}]"))
        harness.send()
        attempts = len(sink.requests)
    assert (
        attempts,
        harness.value("alertmanager_notifications_total", integration="slack"),
        harness.value("alertmanager_notification_requests_total", integration="slack"),
        harness.value("alertmanager_notification_requests_failed_total", integration="slack"),
        harness.value(
            "alertmanager_notifications_failed_total", integration="slack", reason="serverError"
        ),
        harness.value("alertmanager_notification_latency_seconds_count", integration="slack"),
        harness.clock.now() - START,  # 0.5 s then 0.75 s of backoff, without jitter
    ) == (3, 1, 3, 2, 0, 3, 1.25)


@pytest.mark.parametrize(
    ("statuses", "reason", "fragment", "retried"),
    [
        ([404], "clientError", "unexpected status code 404: failure 404", False),
        ([500], "serverError", "unexpected status code 500: failure 500", True),
    ],
)
def test_failures_end_the_notification(
    statuses: list[int], reason: str, fragment: str, retried: bool
) -> None:
    with http_capture(statuses=statuses) as sink:
        harness = Harness(_config(f"webhook_configs: [{{url: '{sink.url()}'}}]"))
        with pytest.raises(NotifyError) as info:
            harness.send()
        attempts = len(sink.requests)
    canceled = "notify retry canceled after" if retried else "due to unrecoverable error after 1"
    assert (
        canceled in str(info.value),
        fragment in str(info.value),
        attempts > 1,
        harness.value("alertmanager_notification_requests_total", integration="webhook"),
        harness.value(
            "alertmanager_notifications_failed_total", integration="webhook", reason=reason
        ),
        harness.clock.now() >= START + 20 if retried else harness.clock.now() == START,
    ) == (True, True, retried, attempts, 1, True)


def test_unreachable_url_is_a_clear_retried_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/secret-token-path"
    harness = Harness(_config(f"webhook_configs: [{{url: '{url}'}}]"))
    with pytest.raises(NotifyError) as info:
        harness.send(_notification(seconds=5))
    message = str(info.value)
    assert (
        message.startswith("r/webhook[0]: notify retry canceled after"),
        "ConnectError" in message,
        "127.0.0.1" in message,
        "secret-token-path" in message,
        harness.value("alertmanager_notification_requests_total", integration="webhook") > 1,
    ) == (True, True, True, False, True)


def test_template_error_is_not_retried() -> None:
    with http_capture() as sink:
        harness = Harness(
            _config(f"slack_configs: [{{api_url: '{sink.url()}', title: '{{{{ .Nope }}}}'}}]")
        )
        with pytest.raises(NotifyError) as info:
            harness.send()
        sent = len(sink.requests)
    assert (sent, str(info.value)) == (
        0,
        "r/slack[0]: notify retry canceled due to unrecoverable error after 1 attempts:"
        ' template: :1:3: executing "" at <.Nope>: can\'t evaluate field Nope in type'
        " *template.Data",
    )


@pytest.mark.parametrize(
    ("offered", "want_auth"),
    [
        (("PLAIN", "LOGIN"), ("PLAIN", "me", "pw")),
        (("LOGIN",), ("LOGIN", "me", "pw")),
        ((), None),
    ],
)
def test_email_auth_and_message(offered: tuple[str, ...], want_auth: object) -> None:
    with smtp_capture(auth=offered) as sink:
        config = _config(
            f"""
            email_configs:
              - to: 'a@example.org, B <b@example.org>'
                from: 'vigil <v@example.org>'
                smarthost: '127.0.0.1:{sink.port}'
                hello: vigil.test
                require_tls: false
                auth_username: me
                auth_password: pw
                headers: {{subject: 'Down: {{{{ .GroupLabels.alertname }}}}'}}
                text: 'text {{{{ .Status }}}}'
            """
        )
        Harness(config).send()
        mail = sink.wait(1)[0]
    head = mail.data.split(b"\r\n\r\n", 1)[0].decode()
    assert (
        mail.sender,
        mail.recipients,
        mail.helo,
        mail.auth,
        "Subject: Down: Down" in head.splitlines(),
        "To: a@example.org, B <b@example.org>" in head.splitlines(),
        b"text firing" in mail.data,
        b"Content-Type: text/html; charset=UTF-8" in mail.data,
    ) == (
        "v@example.org",
        ["a@example.org", "b@example.org"],
        "vigil.test",
        want_auth,
        True,
        True,
        True,
        True,
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 and a server context using it."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def test_email_starttls_then_auth(certificate: tuple[Path, ssl.SSLContext]) -> None:
    cert, server_context = certificate
    with smtp_capture(auth=("PLAIN",), tls=server_context) as sink:
        config = _config(
            f"""
            email_configs:
              - to: a@example.org
                from: v@example.org
                smarthost: '127.0.0.1:{sink.port}'
                auth_username: me
                auth_password: pw
                auth_identity: id
                tls_config: {{ca_file: {cert}}}
            """
        )
        Harness(config).send()
        mail = sink.wait(1)[0]
    assert (mail.tls, mail.auth) == (True, ("PLAIN", "me", "pw"))


def test_email_requires_starttls_by_default() -> None:
    with smtp_capture() as sink:
        config = _config(
            f"email_configs: [{{to: a@b.c, from: v@b.c, smarthost: '127.0.0.1:{sink.port}'}}]"
        )
        with pytest.raises(NotifyError) as info:
            Harness(config).send(_notification(seconds=2))
    assert (
        f"'require_tls' is true (default) but \"127.0.0.1:{sink.port}\" does not advertise the"
        " STARTTLS extension" in str(info.value)
    )


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("plain ascii: ok", "plain ascii: ok"),
        ("Alerte: é_?", "=?utf-8?q?Alerte:_=C3=A9=5F=3F?="),
        ("x" * 70 + "é", "=?utf-8?q?" + "x" * 63 + "?= =?utf-8?q?" + "x" * 7 + "=C3=A9?="),
    ],
)
def test_header_q_encoding(value: str, want: str) -> None:
    assert q_encode(value) == want


def test_test_receiver_reports_each_integration() -> None:
    with (
        http_capture() as sink,
        http_capture(statuses=[500]) as failing,
        smtp_capture() as mail,
    ):
        config = _config(
            f"""
            slack_configs: [{{api_url: '{sink.url("/slack")}'}}]
            webhook_configs:
              - url: '{failing.url("/hook")}'
              - url: 'http://127.0.0.1:{free_port()}/'
            email_configs:
              - {{to: a@b.c, from: v@b.c, smarthost: '127.0.0.1:{mail.port}', require_tls: false}}
            """
        )
        results = asyncio.run(receivers.test_receiver(config, "r", ManualClock(START)))
        hook = json.loads(failing.wait(1)[0].body)["alerts"][0]
        sent_mail = mail.wait(1)[0]
    outcome = {r.integration: (r.ok, r.detail.split(":")[0]) for r in results}
    assert outcome == {
        "slack[0]": (True, "200 OK"),
        "webhook[0]": (False, "unexpected status code 500"),
        "webhook[1]": (False, "http"),
        "email[0]": (True, "250 2.0.0 queued as 1"),
    }
    assert (hook["labels"]["alertname"], hook["annotations"]["summary"]) == (
        "TestAlert",
        "This is a test notification from vigil",
    )
    assert b"TestAlert" in sent_mail.data


@pytest.mark.parametrize(
    ("receivers_text", "error", "message"),
    [
        (
            "pagerduty_configs: [{routing_key: k}]",
            UnsupportedIntegration,
            "am.yml:4: receiver 'r': pagerduty_configs are not supported by vigil yet",
        ),
    ],
)
def test_unsupported_configs_fail_when_built(
    receivers_text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        build_integrations(_config(receivers_text), "r", Templates.load(), "", lambda: START)
    assert message in str(info.value)


def test_unknown_receiver_is_named() -> None:
    with pytest.raises(KeyError) as info:
        build_integrations(_config(""), "nope", Templates.load(), "", lambda: START)
    assert str(info.value) == 'am.yml: receiver "nope" does not exist'


def test_integrations_are_numbered_per_kind() -> None:
    config = _config(
        """
        webhook_configs: [{url: 'http://a/'}, {url: 'http://b/'}]
        slack_configs: [{api_url: 'http://c/'}]
        """
    )
    built = build_integrations(config, "r", Templates.load(), "", lambda: START)
    assert [(str(i), i.send_resolved) for i in built] == [
        ("webhook[0]", True),
        ("webhook[1]", True),
        ("slack[0]", False),
    ]
