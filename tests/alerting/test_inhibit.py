"""Inhibition: Alertmanager 0.25's rules (equal labels, missing equals empty, resolved sources
inhibit nothing, an alert matching both sides never inhibits itself or its peers), the marker's
`inhibited_by`, and a side-by-side run of silences and inhibition against the real
Alertmanager 0.25 (`status.silencedBy` / `status.inhibitedBy` of `/api/v2/alerts`)."""

from __future__ import annotations

import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, peer, running
from vigil.alerting import AlertState, Inhibitor, Marker, Silence, Silences
from vigil.model.alert import Alert, fingerprint
from vigil.model.clock import ManualClock
from vigil.model.labels import Labels
from vigil.model.matchers import Matcher
from vigil.notify.kinds import parse_config

T0 = 1_700_000_000.0

CONFIG = textwrap.dedent(
    """
    route: {receiver: "null", group_wait: 1h}
    receivers: [{name: "null"}]
    inhibit_rules:
      - source_matchers: [severity="critical"]
        target_matchers: [severity=~"warning|critical"]
        equal: [cluster]
      - source_matchers: [alertname="NodeDown"]
        target_matchers: [alertname!="NodeDown"]
        equal: [instance, zone]
    """
)


def L(text: str) -> Labels:
    return Labels.from_dict(dict(pair.split("=", 1) for pair in text.split()) if text else {})


def firing(labels: str) -> Alert:
    return Alert(L(labels), starts_at=T0 - 60, updated_at=T0 - 60)


def resolved(labels: str) -> Alert:
    return Alert(L(labels), starts_at=T0 - 60, ends_at=T0 - 1, updated_at=T0 - 1)


def inhibitor(clock: ManualClock | None = None) -> tuple[Inhibitor, Marker]:
    marker = Marker()
    rules = parse_config(CONFIG).inhibit_rules
    return Inhibitor(rules, marker, clock or ManualClock(T0)), marker


# (stored alerts, target labels) -> labels of the alert reported as inhibiting, or None
CASES: list[tuple[str, list[Alert], str, str | None]] = [
    (
        "same cluster",
        [firing("severity=critical cluster=a")],
        "severity=warning cluster=a",
        "severity=critical cluster=a",
    ),
    ("other cluster", [firing("severity=critical cluster=b")], "severity=warning cluster=a", None),
    (
        "resolved source",
        [resolved("severity=critical cluster=a")],
        "severity=warning cluster=a",
        None,
    ),
    ("not a target", [firing("severity=critical cluster=a")], "severity=info cluster=a", None),
    (
        "missing equals missing",
        [firing("severity=critical")],
        "severity=warning",
        "severity=critical",
    ),
    ("missing vs set", [firing("severity=critical cluster=a")], "severity=warning", None),
    (
        "both sides: never itself",
        [firing("severity=critical cluster=a")],
        "severity=critical cluster=a",
        None,
    ),
    (
        "both sides: nor its peers",
        [firing("severity=critical cluster=a job=x"), firing("severity=critical cluster=a job=y")],
        "severity=critical cluster=a job=x",
        None,
    ),
    (
        "second rule, all equal labels",
        [firing("alertname=NodeDown instance=n1 zone=z")],
        "alertname=DiskFull instance=n1 zone=z",
        "alertname=NodeDown instance=n1 zone=z",
    ),
    (
        "second rule, one equal label differs",
        [firing("alertname=NodeDown instance=n1 zone=z")],
        "alertname=DiskFull instance=n1 zone=y",
        None,
    ),
    (
        "source of one rule inhibits via the other",
        [firing("alertname=NodeDown instance=n1 severity=critical cluster=a")],
        "alertname=Other severity=warning cluster=a",
        "alertname=NodeDown instance=n1 severity=critical cluster=a",
    ),
]


@pytest.mark.parametrize(
    ("alerts", "target", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_mutes(alerts: list[Alert], target: str, want: str | None) -> None:
    inh, marker = inhibitor()
    for alert in alerts:
        inh.observe(alert, T0)
    muted = inh.mutes(L(target))
    status = marker.status(fingerprint(L(target)))
    want_by = () if want is None else (f"{fingerprint(L(want)):016x}",)
    assert (muted, status.inhibited_by, status.state) == (
        want is not None,
        want_by,
        AlertState.SUPPRESSED if want else AlertState.ACTIVE,
    )


def test_source_stops_inhibiting_when_it_resolves_and_when_forgotten() -> None:
    clock = ManualClock(T0)
    inh, marker = inhibitor(clock)
    source = firing("severity=critical cluster=a")
    target = L("severity=warning cluster=a")
    inh.observe(source, T0)
    assert inh.mutes(target)

    inh.observe(Alert(source.labels, starts_at=T0 - 60, ends_at=T0 + 30), T0)
    assert inh.mutes(target)  # resolves in the future: still firing
    clock.advance(30)
    assert not inh.mutes(target)
    assert marker.status(fingerprint(target)).inhibited_by == ()

    inh.observe(source, clock.now())  # fires again
    assert inh.mutes(target)
    inh.forget(source.fingerprint)
    assert not inh.mutes(target)


def test_a_source_observed_again_after_being_forgotten_inhibits_again() -> None:
    """Observing caches where a label set goes; forgetting the only source of an `equal`
    value must not leave that cache pointing at a dropped index entry."""
    clock = ManualClock(T0)
    inh, _ = inhibitor(clock)
    source = firing("severity=critical cluster=a")
    target = L("severity=warning cluster=a")
    results = []
    for _ in range(2):
        inh.observe_all([source], T0)
        results.append(inh.mutes(target))
        inh.forget(source.fingerprint)
        results.append(inh.mutes(target))
    assert results == [True, False, True, False]


def test_gc_drops_resolved_sources() -> None:
    inh, _ = inhibitor()
    inh.observe(Alert(L("severity=critical cluster=a"), starts_at=T0, ends_at=T0 + 30), T0)
    inh.observe(firing("severity=critical cluster=b"), T0)
    assert inh.gc(T0 + 10) == 0
    assert inh.gc(T0 + 30) == 1
    # observing runs the collection itself every 15 minutes, as Alertmanager's cache does
    inh.observe(Alert(L("severity=critical cluster=c"), starts_at=T0, ends_at=T0 + 60), T0 + 30)
    inh.observe(firing("severity=critical cluster=d"), T0 + 30 + 899)
    assert inh.gc(T0 + 30 + 899) == 1
    inh.observe(Alert(L("severity=critical cluster=e"), starts_at=T0, ends_at=T0 + 60), T0 + 900)
    inh.observe(firing("severity=critical cluster=f"), T0 + 30 + 1800)
    assert inh.gc(T0 + 30 + 1800) == 0
    assert [inh.mutes(L(f"severity=warning cluster={c}")) for c in "abcdef"] == [
        False,
        True,
        False,
        True,
        False,
        True,
    ]


def test_silence_and_inhibition_share_the_marker() -> None:
    clock = ManualClock(T0)
    marker = Marker()
    inh = Inhibitor(parse_config(CONFIG).inhibit_rules, marker, clock)
    silences = Silences(clock, marker)
    target = L("severity=warning cluster=a")
    fp = fingerprint(target)
    assert marker.status(fp).state is AlertState.UNPROCESSED
    inh.observe(firing("severity=critical cluster=a"))  # at the clock's now
    sid = silences.set(
        Silence(matchers=(Matcher.of("cluster", "=", "a"),), starts_at=T0, ends_at=T0 + 60)
    )
    assert (inh.mutes(target), silences.mutes(target)) == (True, True)
    silences.expire(sid)
    clock.advance(1)
    assert silences.mutes(target) is False
    assert marker.status(fp).state is AlertState.SUPPRESSED  # still inhibited
    inh.forget(fingerprint(L("severity=critical cluster=a")))
    assert inh.mutes(target) is False
    assert marker.status(fp).state is AlertState.ACTIVE


# -- side by side with the real Alertmanager 0.25 --------------------------------------------

PEER_ALERTS = [
    "alertname=A severity=critical cluster=a",
    "alertname=B severity=warning cluster=a",
    "alertname=C severity=warning cluster=b",
    "alertname=D severity=critical cluster=c",
    "alertname=E severity=critical cluster=c",
    "alertname=F severity=warning",
    "alertname=NodeDown instance=n1 zone=z",
    "alertname=DiskFull instance=n1 zone=z team=db",
    "alertname=DiskFull instance=n1 zone=y team=db",
    "alertname=G severity=warning cluster=r",
]
PEER_RESOLVED = ["alertname=R severity=critical cluster=r"]
# comment -> (matchers, start offset, end offset) relative to now
PEER_SILENCES = {
    "team db": (['team="db"'], -60, 3600),
    "regex": (['alertname=~"[BC]"', 'cluster!="c"'], -60, 3600),
    "pending": (['alertname="A"'], 3600, 7200),
    "not regex": (['alertname!~"[A-E]|.*Down|DiskFull"', 'severity!=""'], -60, 3600),
}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _peer_matcher(text: str) -> dict[str, object]:
    matcher = _parse_matcher(text)
    return {
        "name": matcher.name,
        "value": matcher.value,
        "isRegex": matcher.type.value in ("=~", "!~"),
        "isEqual": matcher.type.value in ("=", "=~"),
    }


def _parse_matcher(text: str) -> Matcher:
    for op in ("=~", "!~", "!=", "="):
        if op in text:
            name, value = text.split(op, 1)
            return Matcher.of(name, op, value.strip('"'))
    raise AssertionError(text)


def _vigil_statuses(now: float) -> dict[str, tuple[str, list[str], list[str]]]:
    clock = ManualClock(now)
    marker = Marker()
    inh = Inhibitor(parse_config(CONFIG).inhibit_rules, marker, clock)
    silences = Silences(clock, marker)
    comment_of: dict[str, str] = {}
    for comment, (matchers, start, end) in PEER_SILENCES.items():
        sid = silences.set(
            Silence(
                matchers=tuple(_parse_matcher(x) for x in matchers),
                starts_at=now + start,
                ends_at=now + end,
                comment=comment,
            )
        )
        comment_of[sid] = comment
    alerts = [Alert(L(x), starts_at=now - 60, updated_at=now) for x in PEER_ALERTS] + [
        Alert(L(x), starts_at=now - 60, ends_at=now - 30, updated_at=now) for x in PEER_RESOLVED
    ]
    for alert in alerts:
        inh.observe(alert, now)
    result = {}
    for alert in alerts:
        if alert.resolved_at(now):
            continue  # the peer's API lists only unresolved alerts
        inh.mutes(alert.labels)
        silences.mutes(alert.labels)
        status = marker.status(alert.fingerprint)
        result[str(alert.labels)] = (
            status.state.value,
            sorted(comment_of[i] for i in status.silenced_by),
            list(status.inhibited_by),
        )
    return result


@pytest.mark.slow
def test_agrees_with_alertmanager(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        peer("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running(args, f"{url}/-/ready"), httpx.Client(base_url=url, timeout=10) as client:
        now = time.time()
        comment_of: dict[str, str] = {}
        for comment, (matchers, start, end) in PEER_SILENCES.items():
            body = {
                "matchers": [_peer_matcher(x) for x in matchers],
                "startsAt": _iso(now + start),
                "endsAt": _iso(now + end),
                "createdBy": "test",
                "comment": comment,
            }
            reply = client.post("/api/v2/silences", json=body)
            assert reply.status_code == 200, reply.text
            comment_of[reply.json()["silenceID"]] = comment
        posted = [{"labels": L(x).to_dict(), "startsAt": _iso(now - 60)} for x in PEER_ALERTS] + [
            {"labels": L(x).to_dict(), "startsAt": _iso(now - 60), "endsAt": _iso(now - 30)}
            for x in PEER_RESOLVED
        ]
        assert client.post("/api/v2/alerts", json=posted).status_code == 200

        want = _vigil_statuses(now)
        # The peer's inhibitor takes alerts in asynchronously: ask until it has caught up.
        deadline = time.monotonic() + 15
        while True:
            got = {
                str(Labels.from_dict(a["labels"])): (
                    a["status"]["state"],
                    sorted(comment_of[i] for i in a["status"]["silencedBy"]),
                    a["status"]["inhibitedBy"],
                )
                for a in client.get("/api/v2/alerts").json()
            }
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    # Both kinds of state occur, and silences and inhibitions both take part.
    assert any(silenced for _, silenced, _ in want.values())
    assert any(inhibited for _, _, inhibited in want.values())
    assert {state for state, _, _ in want.values()} == {"active", "suppressed"}
    assert got == want
