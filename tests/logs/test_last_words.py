"""A dying container's last log lines, added to its death alert at send time."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import numpy as np

from vigil.alerting._api import Notification
from vigil.alerting.annotate import AnnotateStage, AnnotationUnavailable
from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.logs.last_words import LastWords, LastWordsOptions
from vigil.model import Labels
from vigil.model.alert import Alert

DIED = 1_714_557_600.0  # 2024-05-01T10:00:00Z
S = 1_000_000_000


def _stream(stream: str, rows: list[tuple[float, str]], container: str = "shop") -> Entries:
    labels = Labels.from_dict({"container": container, "host": "vm1", "stream": stream})
    stamps = np.array([int((DIED + dt) * S) for dt, _ in rows], dtype=np.int64)
    return Entries(labels, stamps, Lines.of([line for _, line in rows]))


def _store() -> MemoryLogStore:
    store = MemoryLogStore()
    store.push(
        [
            _stream(
                "stdout",
                [(-120, "started"), (-30, "GC overhead 97%"), (-5, "\x1b[31mheap 1.9G\x1b[0m")],
            ),
            _stream(
                "stderr",
                [
                    (-4, "java.lang.OutOfMemoryError: Java heap space"),
                    (-3, "\tat Shop.load(Shop.java:9)"),
                ],
            ),
            _stream("stdout", [(+5, "restarted after the death")]),
            _stream("stdout", [(-2, "someone else's line")], container="db"),
        ]
    )
    return store


def _alert(name: str = "ContainerOomKilled", **labels: str) -> Alert:
    return Alert(
        Labels.from_dict({"alertname": name, "name": "shop", "instance": "vm1:9100", **labels}),
        Labels.from_dict({"summary": "Container shop was OOM-killed"}),
        starts_at=DIED + 60,
    )


def test_the_last_lines_before_the_death_oldest_first_made_readable() -> None:
    words = LastWords(_store(), lambda alert: DIED, external_url="http://vm1:9090/")
    assert words(_alert()) == {
        "last_lines": "\n".join(
            [
                "09:58:00 started",
                "09:59:30 GC overhead 97%",
                "09:59:55 heap 1.9G",
                "09:59:56 java.lang.OutOfMemoryError: Java heap space",
                "09:59:57     at Shop.load(Shop.java:9)",
            ]
        ),
        # The Logs page on the container from 15 minutes before the death to 1 after.
        "logs_url": "http://vm1:9090/logs?query=%7Bcontainer%3D%22shop%22%7D"
        "&from=1714556700000&to=1714557660000",
    }


def test_the_logs_link_quotes_the_container_name() -> None:
    url = LastWords(MemoryLogStore(), lambda alert: DIED).logs_url('we"ird\\', DIED)
    query = parse_qs(urlsplit(url).query)["query"]
    assert (url.split("?")[0], query) == ("/logs", ['{container="we\\"ird\\\\"}'])


def test_bounded_by_lines_line_length_and_bytes() -> None:
    options = LastWordsOptions(lines=3, line_chars=20, max_bytes=70)
    text = LastWords(_store(), lambda alert: DIED, options).excerpt("shop", DIED)
    assert text == "09:59:56 java.lang.OutOfMemo…\n09:59:57     at Shop.load(Sh…"
    fenced = MemoryLogStore()
    fenced.push([_stream("stdout", [(-1, "```\ninjected")])])
    assert LastWords(fenced, lambda alert: DIED).excerpt("shop", DIED) == "09:59:59 '''\ninjected"


def test_only_container_deaths_get_them_and_the_alert_start_stands_in_for_the_death() -> None:
    words = LastWords(_store(), lambda alert: None)
    assert words(_alert("HostHighCpuLoad")) == {}
    assert words(_alert(name="ContainerExitedNonZero", reason="exit"))["last_lines"].endswith(
        "10:00:05 restarted after the death"
    )


def _notification(*alerts: Alert) -> Notification:
    return Notification("slack", "{}:{}", Labels(), alerts, DIED + 61, DIED + 120, 3600)


def test_the_stage_adds_them_to_firing_alerts_and_keeps_existing_annotations() -> None:
    resolved = Alert(_alert().labels.with_label("name", "gone"), starts_at=DIED, ends_at=DIED + 1)
    stage = AnnotateStage("last log lines", LastWords(_store(), lambda alert: DIED))
    out = asyncio.run(stage.exec(_notification(_alert(), resolved)))
    assert out is not None
    firing, after = out.alerts
    assert dict(firing.annotations)["summary"] == "Container shop was OOM-killed"
    assert dict(firing.annotations)["last_lines"].endswith("at Shop.load(Shop.java:9)")
    assert after == resolved


def test_an_unreadable_store_sends_the_alert_without_them() -> None:
    def broken(alert: Alert) -> dict[str, str]:
        raise AnnotationUnavailable("disk on fire")

    out = asyncio.run(AnnotateStage("last log lines", broken).exec(_notification(_alert())))
    assert out is not None and out.alerts == (_alert(),)
