"""The loop's series cache against the real head: series the head garbage-collects (no
samples in the window it keeps) are resolved again from their labels, in the same scrape, so
a target back after hours, or a series back after its GC, loses no sample."""

from __future__ import annotations

import asyncio

import numpy as np
from prometheus_client import CollectorRegistry

from vigil.model import Matcher
from vigil.model.clock import ManualClock
from vigil.scrape.loop import ScrapeLoop
from vigil.tsdb.head import Head

from .fakes import Exporters, FakeStorage
from .test_loop import job, make_loop

HOUR_S = 3600.0


def unknown_series(registry: CollectorRegistry) -> float:
    found = registry.get_sample_value(
        "vigil_tsdb_rejected_samples_total", {"reason": "unknown_series"}
    )
    return found or 0.0


def values(head: Head, name: str, since_ms: int) -> list[float]:
    found = list(head.querier(since_ms, 2**62).select([Matcher.of("__name__", "=", name)]))
    return [v for data in found for v in data.values.tolist()]


def setup() -> tuple[ManualClock, Exporters, Head, CollectorRegistry, ScrapeLoop]:
    clock = ManualClock()
    registry = CollectorRegistry()
    exporters, head = Exporters(), Head(registry=registry, clock=clock.now)
    loop = make_loop(job(), exporters, FakeStorage(), clock)
    loop._appendable = head.appender
    return clock, exporters, head, registry, loop


def gc(clock: ManualClock, head: Head) -> None:
    """Cut the head at the clock's now twice: series without samples since are removed."""
    for _ in range(2):
        head.truncate(round(clock.now() * 1000))


def test_a_target_down_past_head_gc_comes_back_with_its_series_stored() -> None:
    async def scenario() -> None:
        clock, exporters, head, registry, loop = setup()
        exporter = exporters["t:9100"]
        exporter.body = b'a 1\nb{x="1"} 2\n'
        for _ in range(3):
            assert (await loop.scrape(clock.now())).error == ""
            clock.advance(15)
        exporter.status = 503
        for _ in range(4):
            assert (await loop.scrape(clock.now())).error != ""
            clock.advance(HOUR_S)
        gc(clock, head)
        assert values(head, "a", 0) == []
        exporter.status = 200
        back_ms = round(clock.now() * 1000)
        refused = []
        for value in (5, 6):
            exporter.body = b'a %d\nb{x="1"} 2\n' % value
            outcome = await loop.scrape(clock.now())
            assert (outcome.error, outcome.refused) == ("", "")
            refused.append(unknown_series(registry))
            clock.advance(15)
        assert values(head, "a", back_ms) == [5.0, 6.0]
        assert values(head, "b", back_ms) == [2.0, 2.0]
        assert values(head, "up", back_ms) == [1.0, 1.0]
        # the head counts the first commit's dead refs once; the scrape after names none
        assert refused[0] == refused[1]

    asyncio.run(scenario())


def test_a_series_back_after_its_gc_is_stored() -> None:
    async def scenario() -> None:
        clock, exporters, head, registry, loop = setup()
        exporter = exporters["t:9100"]
        exporter.body = b'a 1\nc{id="x"} 1\n'
        await loop.scrape(clock.now())
        clock.advance(15)
        exporter.body = b"a 1\n"
        for _ in range(8):
            await loop.scrape(clock.now())
            clock.advance(HOUR_S / 2)
        gc(clock, head)
        back_ms = round(clock.now() * 1000)
        exporter.body = b'a 1\nc{id="x"} 7\n'
        await loop.scrape(clock.now())
        assert values(head, "c", back_ms) == [7.0]
        assert values(head, "a", back_ms) == [1.0]
        refused = unknown_series(registry)
        clock.advance(15)
        exporter.body = b'a 2\nc{id="x"} 8\n'
        await loop.scrape(clock.now())
        assert values(head, "c", back_ms) == [7.0, 8.0]
        assert unknown_series(registry) == refused

    asyncio.run(scenario())


def test_the_series_cache_stays_bounded_under_churn() -> None:
    async def scenario() -> list[int]:
        clock, exporters, _, _, loop = setup()
        sizes = []
        for n in range(200):
            exporters["t:9100"].body = b'a 1\nc{pod="%d"} 1\nc{pod="%d"} 1\n' % (n, n + 1)
            await loop.scrape(clock.now())
            clock.advance(15)
            sizes.append(len(loop.state.refs))
        return sizes

    sizes = asyncio.run(scenario())
    assert max(sizes) <= 3 * 3 + 64
    assert np.all(np.asarray(sizes[-10:]) >= 3)
