"""The alert store: Alertmanager's stamping and validation of posted alerts, merge on overlap,
subscribers, GC and the `alertmanager_alerts` gauge."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from vigil.alerting.store import AlertStore, InvalidAlert
from vigil.model.alert import Alert, make_alert
from vigil.model.clock import ManualClock
from vigil.model.labels import Labels

NOW = 1_700_000_000.0
RESOLVE = 300.0


def _labels(**pairs: str) -> Labels:
    return Labels.from_dict(pairs)


A = _labels(alertname="A")

# (case, posted alert, the stored alert or the error message)
STAMP_CASES: list[tuple[str, Alert, Alert | str]] = [
    (
        "no times: starts now, ends by resolve_timeout",
        Alert(A),
        Alert(A, starts_at=NOW, ends_at=NOW + RESOLVE, updated_at=NOW, timeout=True),
    ),
    (
        "only an end: starts at its end",
        Alert(A, ends_at=NOW - 10),
        Alert(A, starts_at=NOW - 10, ends_at=NOW - 10, updated_at=NOW),
    ),
    (
        "both times kept, updated_at is the store's now",
        Alert(A, starts_at=NOW - 60, ends_at=NOW + 60, updated_at=NOW - 999),
        Alert(A, starts_at=NOW - 60, ends_at=NOW + 60, updated_at=NOW),
    ),
    (
        "empty label values are dropped",
        Alert(_labels(alertname="A", empty=""), starts_at=NOW - 1),
        Alert(A, starts_at=NOW - 1, ends_at=NOW + RESOLVE, updated_at=NOW, timeout=True),
    ),
    (
        "starts after it ends",
        Alert(A, starts_at=NOW, ends_at=NOW - 1),
        "start time must be before end time",
    ),
    ("no labels", Alert(Labels()), "at least one label pair required"),
    ("only empty labels", Alert(_labels(a="")), "at least one label pair required"),
    (
        "invalid label name",
        Alert(Labels.from_dict({"alertname": "A", "0bad": "x"})),
        'invalid label set: invalid name "0bad"',
    ),
    (
        "invalid annotation name",
        Alert(A, annotations=Labels.from_dict({"a-b": "x"})),
        'invalid annotations: invalid name "a-b"',
    ),
    (
        "label value that is not UTF-8",
        Alert(_labels(alertname="\ud800")),
        'invalid label set: invalid value "\ud800"',
    ),
]


@pytest.mark.parametrize(("case", "posted", "want"), STAMP_CASES, ids=[c[0] for c in STAMP_CASES])
def test_put_stamps_and_validates(case: str, posted: Alert, want: Alert | str) -> None:
    store = AlertStore(ManualClock(NOW), RESOLVE)
    invalid = store.put([posted])
    if isinstance(want, str):
        assert (invalid, store.list()) == ([InvalidAlert(0, posted, want)], [])
    else:
        assert (invalid, store.list()) == ([], [want])


def test_invalid_alerts_do_not_stop_valid_ones() -> None:
    store = AlertStore(ManualClock(NOW), RESOLVE)
    bad = Alert(Labels())
    good = Alert(_labels(alertname="B"))
    invalid = store.put([bad, good, bad])
    assert [(e.index, e.message) for e in invalid] == [
        (0, "at least one label pair required"),
        (2, "at least one label pair required"),
    ]
    assert [a.labels for a in store.list()] == [good.labels]


# (case, stored alert, posted alert, the stored result); the post happens at NOW
MERGE_CASES: list[tuple[str, Alert, Alert, Alert]] = [
    (
        "re-fired with a later end: no overlap rule matches, the new one replaces",
        Alert(A, starts_at=NOW - 100, ends_at=NOW + 50),
        Alert(A, starts_at=NOW - 100, ends_at=NOW + 200),
        Alert(A, starts_at=NOW - 100, ends_at=NOW + 200, updated_at=NOW),
    ),
    (
        "resolved inside the stored range: merged, keeps the earliest start",
        Alert(A, starts_at=NOW - 100, ends_at=NOW + 300, timeout=True),
        Alert(A, starts_at=NOW - 50, ends_at=NOW),
        Alert(A, starts_at=NOW - 100, ends_at=NOW, updated_at=NOW),
    ),
    (
        "re-fired inside the stored range: merged, keeps the earliest start",
        Alert(A, starts_at=NOW - 100, ends_at=NOW + 300, timeout=True),
        Alert(A, starts_at=NOW - 50),
        Alert(A, starts_at=NOW - 100, ends_at=NOW + RESOLVE, updated_at=NOW, timeout=True),
    ),
    (
        "a stored explicit end later than the new timeout end is kept",
        Alert(A, starts_at=NOW - 100, ends_at=NOW + 900),
        Alert(A, starts_at=NOW - 50),
        Alert(A, starts_at=NOW - 100, ends_at=NOW + 900, updated_at=NOW, timeout=True),
    ),
    (
        "a new activity after the old one resolved: replaced, not merged",
        Alert(A, starts_at=NOW - 100, ends_at=NOW - 60),
        Alert(A, starts_at=NOW - 30),
        Alert(A, starts_at=NOW - 30, ends_at=NOW + RESOLVE, updated_at=NOW, timeout=True),
    ),
    (
        "a resend with new annotations keeps the earliest start and takes the annotations",
        Alert(A, _labels(summary="old"), starts_at=NOW - 100, ends_at=NOW + 300, timeout=True),
        Alert(A, _labels(summary="new"), starts_at=NOW - 50, generator_url="http://p"),
        Alert(
            A,
            _labels(summary="new"),
            starts_at=NOW - 100,
            ends_at=NOW + RESOLVE,
            generator_url="http://p",
            updated_at=NOW,
            timeout=True,
        ),
    ),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "want"), MERGE_CASES, ids=[c[0] for c in MERGE_CASES]
)
def test_put_merges_overlapping_activity(case: str, old: Alert, new: Alert, want: Alert) -> None:
    clock = ManualClock(NOW - 200)
    store = AlertStore(clock, RESOLVE)
    store._alerts[old.fingerprint] = replace(old, updated_at=NOW - 200)
    clock.set(NOW)
    assert (store.put([new]), store.get(want.fingerprint)) == ([], want)


def test_put_merges_like_alert_merge_when_the_clock_went_back() -> None:
    """A stored alert updated after the store's now is the younger one: `Alert.merge` keeps
    its fields, as Alertmanager's merge does."""
    clock = ManualClock(NOW)
    store = AlertStore(clock, RESOLVE)
    old = Alert(A, _labels(summary="old"), NOW - 100, NOW + 300, updated_at=NOW + 60)
    store._alerts[old.fingerprint] = old
    posted = Alert(A, _labels(summary="new"), starts_at=NOW - 50)
    store.put([posted])
    stamped = Alert(A, posted.annotations, NOW - 50, NOW + RESOLVE, updated_at=NOW, timeout=True)
    assert (store.get(old.fingerprint), old.merge(stamped, NOW).annotations) == (
        old.merge(stamped, NOW),
        old.annotations,
    )


def test_batch_subscribers_get_each_put_at_once() -> None:
    clock = ManualClock(NOW)
    store = AlertStore(clock, RESOLVE)
    batches: list[tuple[str, list[str]]] = []
    store.subscribe_batches(
        lambda alerts: batches.append(("put", [a.name for a in alerts])),
        lambda alerts: batches.append(("delete", [a.name for a in alerts])),
    )
    store.put(
        [Alert(_labels(alertname="A")), Alert(Labels()), Alert(_labels(alertname="B"), ends_at=NOW)]
    )
    store.put([Alert(Labels())])  # nothing stored: no call
    clock.advance(1)
    store.gc()
    assert batches == [("put", ["A", "B"]), ("delete", ["B"])]


def test_labels_with_empty_values_are_stored_without_them_under_their_fingerprint() -> None:
    store = AlertStore(ManualClock(NOW), RESOLVE)
    store.put([Alert(Labels.from_dict({"alertname": "A", "empty": ""}))])
    assert [(a.labels, a.fingerprint) for a in store.list()] == [(A, Alert(A).fingerprint)]


def test_subscribers_see_stored_alerts_and_gc_drops() -> None:
    clock = ManualClock(NOW)
    store = AlertStore(clock, RESOLVE)
    seen: list[tuple[str, str, float]] = []
    stop = store.subscribe(
        lambda a: seen.append(("put", a.name, a.ends_at)),
        lambda a: seen.append(("delete", a.name, a.ends_at)),
    )
    store.put([Alert(_labels(alertname="A")), Alert(_labels(alertname="B"), ends_at=NOW + 10)])
    store.put([Alert(Labels())])
    clock.advance(20)
    dropped = store.gc()
    stop()
    store.put([Alert(_labels(alertname="C"))])
    assert [a.name for a in dropped] == ["B"]
    assert seen == [
        ("put", "A", NOW + RESOLVE),
        ("put", "B", NOW + 10),
        ("delete", "B", NOW + 10),
    ]
    assert sorted(a.name for a in store.list()) == ["A", "C"]


def test_gc_runs_on_the_clock() -> None:
    async def scenario() -> list[str]:
        clock = ManualClock(NOW)
        store = AlertStore(clock, 60.0)
        store.put(
            [
                Alert(_labels(alertname="short")),
                Alert(_labels(alertname="long"), ends_at=NOW + 3600),
            ]
        )
        task = asyncio.create_task(store.run_gc(interval=1800.0))
        await asyncio.sleep(0)
        clock.advance(1799)
        await asyncio.sleep(0)
        before = sorted(a.name for a in store.list())
        clock.advance(1)
        for _ in range(3):
            await asyncio.sleep(0)
        task.cancel()
        return [*before, "|", *sorted(a.name for a in store.list())]

    assert asyncio.run(scenario()) == ["long", "short", "|", "long"]


def test_alerts_gauge_counts_by_marker_state() -> None:
    states = {"A": "active", "B": "suppressed", "C": "suppressed", "D": "unprocessed"}
    registry = CollectorRegistry()
    store_ref: list[AlertStore] = []

    def state_of(fp: int) -> str:
        alert = store_ref[0].get(fp)
        assert alert is not None
        return states[alert.name]

    store = AlertStore(ManualClock(NOW), RESOLVE, registry=registry, state_of=state_of)
    store_ref.append(store)
    store.put([Alert(_labels(alertname=name)) for name in states])
    got = {
        state: registry.get_sample_value("alertmanager_alerts", {"state": state})
        for state in ("active", "suppressed")
    }
    assert got == {"active": 1.0, "suppressed": 2.0}


def test_alerts_gauge_without_marker_counts_unresolved_as_active() -> None:
    registry = CollectorRegistry()
    store = AlertStore(ManualClock(NOW), RESOLVE, registry=registry)
    store.put([Alert(_labels(alertname="A")), Alert(_labels(alertname="B"), ends_at=NOW - 1)])
    got = [
        registry.get_sample_value("alertmanager_alerts", {"state": s})
        for s in ("active", "suppressed")
    ]
    assert got == [1.0, 0.0]


MAKE_CASES = [
    ("unset times", (A, Labels(), 0.0, 0.0, "", 0.0, False)),
    ("every field", (A, _labels(summary="s"), NOW - 1, NOW, "http://p", NOW, True)),
]


@pytest.mark.parametrize(("case", "fields"), MAKE_CASES, ids=[c[0] for c in MAKE_CASES])
def test_make_alert_is_the_dataclass_with_its_fingerprint(
    case: str, fields: tuple[Labels, Labels, float, float, str, float, bool]
) -> None:
    made = make_alert(*fields)
    built = Alert(*fields)
    assert (made, repr(made), made.fingerprint) == (built, repr(built), built.fingerprint)
