"""The pipeline's joints: MultiStage, FanoutStage, RoutingStage, MuteStage."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from vigil.alerting._api import Notification, NotifyError, Stage
from vigil.alerting.pipeline import FanoutStage, MultiStage, MuteStage, RoutingStage
from vigil.model.alert import Alert
from vigil.model.labels import Labels

NOW = 1_700_000_000.0


def _alert(name: str) -> Alert:
    return Alert(Labels.from_dict({"alertname": name}), starts_at=NOW)


def _notification(*names: str, receiver: str = "team") -> Notification:
    return Notification(
        receiver=receiver,
        group_key="{}:{}",
        group_labels=Labels(),
        alerts=tuple(_alert(n) for n in names),
        now=NOW,
        deadline=NOW + 10,
        repeat_interval=3600.0,
    )


def _names(notification: Notification | None) -> list[str] | None:
    return None if notification is None else [a.name for a in notification.alerts]


class Record:
    """Records what it was given under `tag`, then passes it on or fails as told."""

    def __init__(self, log: list[tuple[str, list[str]]], tag: str, fail: NotifyError | None = None):
        self.log, self.tag, self.fail = log, tag, fail

    async def exec(self, notification: Notification) -> Notification | None:
        self.log.append((self.tag, [a.name for a in notification.alerts]))
        if self.fail is not None:
            raise self.fail
        return notification


class Drop:
    """Keeps only the alerts not named in `names`; None when it drops them all."""

    def __init__(self, *names: str) -> None:
        self.names = names

    async def exec(self, notification: Notification) -> Notification | None:
        kept = tuple(a for a in notification.alerts if a.name not in self.names)
        return replace(notification, alerts=kept) if kept else None


class Empty:
    async def exec(self, notification: Notification) -> Notification | None:
        return replace(notification, alerts=())


class NameMuter:
    def __init__(self, *names: str) -> None:
        self.names = names

    def mutes(self, labels: Labels, fp: int | None = None) -> bool:
        return labels.get("alertname") in self.names


def _multi(log: list[tuple[str, list[str]]], *middle: Stage) -> MultiStage:
    return MultiStage([Record(log, "first"), *middle, Record(log, "last")])


# (case, stages between two recorders, the recorded calls, the result's alert names)
MULTI_CASES: list[tuple[str, tuple[Stage, ...], list[tuple[str, list[str]]], list[str] | None]] = [
    ("passes through", (), [("first", ["A", "B"]), ("last", ["A", "B"])], ["A", "B"]),
    ("filtered on", (Drop("A"),), [("first", ["A", "B"]), ("last", ["B"])], ["B"]),
    ("None stops quietly", (Drop("A", "B"),), [("first", ["A", "B"])], None),
    ("no alerts left stops quietly", (Empty(),), [("first", ["A", "B"])], None),
]


@pytest.mark.parametrize(
    ("case", "middle", "want_log", "want_result"), MULTI_CASES, ids=[c[0] for c in MULTI_CASES]
)
def test_multi_stage(
    case: str,
    middle: tuple[Stage, ...],
    want_log: list[tuple[str, list[str]]],
    want_result: list[str] | None,
) -> None:
    log: list[tuple[str, list[str]]] = []
    result = asyncio.run(_multi(log, *middle).exec(_notification("A", "B")))
    assert (log, _names(result)) == (want_log, want_result)


def test_multi_stage_stops_at_the_first_error() -> None:
    log: list[tuple[str, list[str]]] = []
    failing = Record(log, "failing", NotifyError("boom"))
    with pytest.raises(NotifyError, match="boom"):
        asyncio.run(_multi(log, failing).exec(_notification("A")))
    assert log == [("first", ["A"]), ("failing", ["A"])]


class Gate:
    """Waits until all gates of its fan-out have started: proves they run concurrently."""

    def __init__(self, started: list[str], tag: str, total: int, fail: NotifyError | None = None):
        self.started, self.tag, self.total, self.fail = started, tag, total, fail

    async def exec(self, notification: Notification) -> Notification | None:
        self.started.append(self.tag)
        while len(self.started) < self.total:
            await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return notification


# (case, failures per integration, the error message and retry flag, or None for success)
FANOUT_CASES: list[tuple[str, list[NotifyError | None], tuple[str, bool] | None]] = [
    ("all succeed", [None, None, None], None),
    ("one fails, retryable", [None, NotifyError("slack: 503"), None], ("slack: 503", True)),
    (
        "two fail, one retryable",
        [NotifyError("webhook: 400", retry=False), None, NotifyError("email: timeout")],
        ("webhook: 400; email: timeout", True),
    ),
    (
        "only permanent failures",
        [NotifyError("a: 400", retry=False), NotifyError("b: 404", retry=False)],
        ("a: 400; b: 404", False),
    ),
]


@pytest.mark.parametrize(("case", "fails", "want"), FANOUT_CASES, ids=[c[0] for c in FANOUT_CASES])
def test_fanout_runs_all_concurrently_and_joins_failures(
    case: str, fails: list[NotifyError | None], want: tuple[str, bool] | None
) -> None:
    started: list[str] = []
    stage = FanoutStage(Gate(started, str(i), len(fails), fail) for i, fail in enumerate(fails))

    async def run() -> tuple[str, bool] | None:
        try:
            result = await asyncio.wait_for(stage.exec(_notification("A")), 10)
        except NotifyError as err:
            return str(err), err.retry
        assert result is None
        return None

    assert (asyncio.run(run()), sorted(started)) == (want, [str(i) for i in range(len(fails))])


def test_fanout_reraises_a_bug_after_the_others_finished() -> None:
    started: list[str] = []

    class Broken:
        async def exec(self, notification: Notification) -> Notification | None:
            started.append("broken")
            raise KeyError("bug")

    stage = FanoutStage([Broken(), Gate(started, "ok", 2)])
    with pytest.raises(KeyError, match="bug"):
        asyncio.run(stage.exec(_notification("A")))
    assert started == ["broken", "ok"]


def test_routing_stage_picks_the_receivers_pipeline() -> None:
    log: list[tuple[str, list[str]]] = []
    stage = RoutingStage({"team": Record(log, "team"), "ops": Record(log, "ops")})
    asyncio.run(stage.exec(_notification("A", receiver="ops")))
    asyncio.run(stage.exec(_notification("B", receiver="team")))
    assert log == [("ops", ["A"]), ("team", ["B"])]


def test_routing_stage_without_the_receiver_fails_for_good() -> None:
    stage = RoutingStage({"team": Empty()})
    with pytest.raises(NotifyError, match=r"stage for receiver missing.*'nobody'") as caught:
        asyncio.run(stage.exec(_notification("A", receiver="nobody")))
    assert caught.value.retry is False


MUTE_CASES: list[tuple[str, tuple[str, ...], list[str] | None]] = [
    ("nothing muted", (), ["A", "B", "C"]),
    ("some muted", ("B",), ["A", "C"]),
    ("all muted stops", ("A", "B", "C"), None),
]


@pytest.mark.parametrize(("case", "muted", "want"), MUTE_CASES, ids=[c[0] for c in MUTE_CASES])
def test_mute_stage(case: str, muted: tuple[str, ...], want: list[str] | None) -> None:
    result = asyncio.run(MuteStage(NameMuter(*muted)).exec(_notification("A", "B", "C")))
    assert _names(result) == want
