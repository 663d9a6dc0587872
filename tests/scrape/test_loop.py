"""The scrape loop against fake targets: one table row per behaviour, each scrape's whole
commit compared at once (samples, staleness markers, report series)."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.config.duration import Duration
from vigil.config.relabel import Action, RelabelConfig
from vigil.config.scrape import ScrapeConfig
from vigil.model import Labels, Matcher
from vigil.model.clock import ManualClock
from vigil.model.regex import Regex
from vigil.scrape.loop import RELEASE_AFTER_SERIES, ScrapeLoop, ScrapeOptions, refusal_text
from vigil.scrape.metrics import ScrapeMetrics
from vigil.scrape.relabel import populate_labels
from vigil.scrape.target import Target, accept_header
from vigil.tsdb import STALE_NAN_BITS
from vigil.tsdb.head import Head

from .fakes import Exporters, FakeStorage, render

T = '{instance="t:9100",job="j"}'


def report(up: int, scraped: int, post: int | None = None, added: int = 0) -> dict[str, str]:
    """The five report series of one scrape (the manual clock makes every duration 0)."""
    return {
        "up" + T: str(up),
        "scrape_duration_seconds" + T: "0",
        "scrape_samples_scraped" + T: str(scraped),
        "scrape_samples_post_metric_relabeling" + T: str(scraped if post is None else post),
        "scrape_series_added" + T: str(added),
    }


@dataclass(frozen=True)
class Answer:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; version=0.0.4"
    gzip: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    answers: tuple[Answer, ...]
    want: tuple[dict[str, str], ...]
    errors: tuple[str, ...] = ()  # a substring of each scrape's error ("" = none)
    config: dict[str, Any] = field(default_factory=dict)


DROP_B = RelabelConfig(source_labels=("__name__",), regex=Regex("b"), action=Action.DROP)
KEEP_B = RelabelConfig(source_labels=("__name__",), regex=Regex("b"), action=Action.KEEP)

CASES = [
    Case(
        "values change, series are added once",
        (Answer(b'a 1\nb{x="1"} 2\n'), Answer(b'a 3\nb{x="1"} 4\n')),
        (
            {"a" + T: "1", 'b{instance="t:9100",job="j",x="1"}': "2", **report(1, 2, added=2)},
            {"a" + T: "3", 'b{instance="t:9100",job="j",x="1"}': "4", **report(1, 2)},
        ),
    ),
    Case(
        "known series in another order, beside a new one and a dropped one",
        (Answer(b'a 1\nb 0\nc{x="1"} 2\n'), Answer(b'c{x="2"} 5\nb 0\nc{x="1"} 4\na 3\n')),
        (
            {"a" + T: "1", 'c{instance="t:9100",job="j",x="1"}': "2", **report(1, 3, 2, 2)},
            {
                "a" + T: "3",
                'c{instance="t:9100",job="j",x="1"}': "4",
                'c{instance="t:9100",job="j",x="2"}': "5",
                **report(1, 4, 3, 1),
            },
        ),
        config={"metric_relabel_configs": (DROP_B,)},
    ),
    Case(
        "a series that disappears gets one staleness marker",
        (Answer(b"a 1\nb 2\n"), Answer(b"a 1\n"), Answer(b"a 1\n")),
        (
            {"a" + T: "1", "b" + T: "2", **report(1, 2, added=2)},
            {"a" + T: "1", "b" + T: "stale", **report(1, 1)},
            {"a" + T: "1", **report(1, 1)},
        ),
    ),
    Case(
        "a broken body fails the scrape, names line and column, marks everything stale",
        (Answer(b"a 1\nb 2\n"), Answer(b"a 1\nb{x=} 2\n"), Answer(b"a 5\n")),
        (
            {"a" + T: "1", "b" + T: "2", **report(1, 2, added=2)},
            {"a" + T: "stale", "b" + T: "stale", **report(0, 0)},
            {"a" + T: "5", **report(1, 1)},
        ),
        ("", "line 2, col 5", ""),
    ),
    Case(
        "HTTP 500",
        (Answer(b"a 1\n"), Answer(b"oops", status=500)),
        ({"a" + T: "1", **report(1, 1, added=1)}, {"a" + T: "stale", **report(0, 0)}),
        ("", "server returned HTTP status 500 Internal Server Error"),
    ),
    Case(
        "a body at body_size_limit fails (as in Prometheus, the limit is exclusive)",
        (Answer(b"a 1\n"), Answer(b"a 1\nb 2\n")),
        ({"a" + T: "1", **report(1, 1, added=1)}, {"a" + T: "stale", **report(0, 0)}),
        ("", "body size limit exceeded"),
        {"body_size_limit": 8},
    ),
    Case(
        "gzip bodies are inflated before the size limit counts",
        (Answer(b"a 1\n" * 1, gzip=True),),
        ({"a" + T: "1", **report(1, 1, added=1)},),
        config={"body_size_limit": 5},
    ),
    Case(
        "sample_limit fails the whole scrape, nothing but the report is appended",
        (Answer(b"a 1\n"), Answer(b"a 1\nb 2\nc 3\n"), Answer(b"a 1\nb 2\nc 3\n")),
        (
            {"a" + T: "1", **report(1, 1, added=1)},
            {"a" + T: "stale", **report(0, 3)},
            report(0, 3),
        ),
        ("", "sample limit exceeded", "sample limit exceeded"),
        {"sample_limit": 2},
    ),
    Case(
        "sample_limit counts samples after metric relabeling",
        (Answer(b"a 1\nb 2\nb{x='1'} 3\n".replace(b"'", b'"')),),
        ({"a" + T: "1", **report(1, 3, post=1, added=1)},),
        config={"sample_limit": 1, "metric_relabel_configs": (DROP_B,)},
    ),
    Case(
        "sample_limit after metric relabeling fails the scrape when exceeded",
        (Answer(b"a 1\nb 2\nc 3\n"),),
        (report(0, 3, post=2),),
        ("sample limit exceeded",),
        {"sample_limit": 1, "metric_relabel_configs": (DROP_B,)},
    ),
    Case(
        "honor_labels false: exposed job/instance become exported_*",
        (Answer(b'a{job="other",instance="x",exported_job="y"} 1\n'),),
        (
            {
                'a{exported_exported_job="other",exported_instance="x",exported_job="y",'
                'instance="t:9100",job="j"}': "1",
                **report(1, 1, added=1),
            },
        ),
    ),
    Case(
        "honor_labels true: exposed labels win, missing ones come from the target",
        (Answer(b'a{job="other"} 1\nb{instance=""} 2\n'),),
        (
            {
                'a{instance="t:9100",job="other"}': "1",
                'b{job="j"}': "2",
                **report(1, 2, added=2),
            },
        ),
        config={"honor_labels": True},
    ),
    Case(
        "honor_timestamps: explicit timestamps kept and never marked stale",
        (Answer(b"a 1 1000\nb 2\n"), Answer(b"c 3\n")),
        (
            {"a" + T: "1 @1000", "b" + T: "2", **report(1, 2, added=2)},
            {"b" + T: "stale", "c" + T: "3", **report(1, 1, added=1)},
        ),
    ),
    Case(
        "track_timestamps_staleness: explicit timestamps kept and marked stale",
        (Answer(b"a 1 1000\nb 2\n"), Answer(b"c 3\n")),
        (
            {"a" + T: "1 @1000", "b" + T: "2", **report(1, 2, added=2)},
            {"a" + T: "stale", "b" + T: "stale", "c" + T: "3", **report(1, 1, added=1)},
        ),
        config={"track_timestamps_staleness": True},
    ),
    Case(
        "honor_timestamps false: the scrape's time, and staleness for every series",
        (Answer(b"a 1 1000\n"), Answer(b"c 3\n")),
        (
            {"a" + T: "1", **report(1, 1, added=1)},
            {"a" + T: "stale", "c" + T: "3", **report(1, 1, added=1)},
        ),
        config={"honor_timestamps": False},
    ),
    Case(
        "metric_relabel_configs drop",
        (Answer(b"a 1\nb 2\n"), Answer(b"a 1\nb 2\n")),
        ({"a" + T: "1", **report(1, 2, post=1, added=1)}, {"a" + T: "1", **report(1, 2, post=1)}),
        config={"metric_relabel_configs": (DROP_B,)},
    ),
    Case(
        "metric_relabel_configs keep",
        (Answer(b"a 1\nb 2\n"),),
        ({"b" + T: "2", **report(1, 2, post=1, added=1)},),
        config={"metric_relabel_configs": (KEEP_B,)},
    ),
    Case(
        "label_limit counts __name__ and target labels",
        (Answer(b'a{x="1"} 1\n'),),
        (report(0, 1, post=0),),
        ("label_limit exceeded (metric: a, number of labels: 4, limit: 3)",),
        {"label_limit": 3},
    ),
    Case(
        "label_value_length_limit",
        (Answer(b'a{x="1234567"} 1\n'),),
        (report(0, 1, post=0),),
        ('label_value_length_limit exceeded (metric: a, label name: x, value: "1234567"',),
        {"label_value_length_limit": 6},
    ),
    Case(
        "UTF-8 names are stored as scraped (metric_name_validation_scheme utf8, the default)",
        (Answer(b'{"http.requests","http.route"="/pay"} 1\nup_ok{"k8s.pod"="a"} 2\n'),),
        (
            {
                'http.requests{http.route="/pay",instance="t:9100",job="j"}': "1",
                'up_ok{instance="t:9100",job="j",k8s.pod="a"}': "2",
                **report(1, 2, added=2),
            },
        ),
    ),
    Case(
        "metric_name_validation_scheme legacy: a UTF-8 name fails the scrape",
        (Answer(b'ok 1\n{"http.requests"} 1\n'),),
        (report(0, 2, post=0),),
        ('invalid metric name or label names: {__name__="http.requests", instance=',),
        {"metric_name_validation_scheme": "legacy"},
    ),
    Case(
        "metric_name_validation_scheme legacy: so does a UTF-8 label name",
        (Answer(b'ok{"k8s.pod"="a"} 1\n'),),
        (report(0, 1, post=0),),
        ("invalid metric name or label names:",),
        {"metric_name_validation_scheme": "legacy"},
    ),
    Case(
        "OpenMetrics by Content-Type: timestamps in seconds",
        (
            Answer(
                b"# TYPE a counter\na_total 1 2.5\n# EOF\n",
                content_type="application/openmetrics-text; version=1.0.0",
            ),
        ),
        ({"a_total" + T: "1 @2500", **report(1, 1, added=1)},),
    ),
    Case(
        "an unknown Content-Type without fallback_scrape_protocol fails",
        (Answer(b"a 1\n", content_type="text/html"),),
        (report(0, 0),),
        ('received unsupported Content-Type "text/html"',),
    ),
    Case(
        "fallback_scrape_protocol reads a blank Content-Type",
        (Answer(b"a 1\n", content_type=""),),
        ({"a" + T: "1", **report(1, 1, added=1)},),
        config={"fallback_scrape_protocol": "PrometheusText0.0.4"},
    ),
]


def make_loop(
    config: ScrapeConfig, exporters: Exporters, storage: FakeStorage, clock: ManualClock
) -> ScrapeLoop:
    internal, discovered = populate_labels(Labels.from_dict({"__address__": "t:9100"}), config)
    assert internal is not None
    target = Target.of(config, internal, discovered)
    client = httpx.AsyncClient(transport=exporters.transport())
    return ScrapeLoop(target, ScrapeOptions.of(config), client, storage.appender, clock)


def job(**overrides: Any) -> ScrapeConfig:
    return ScrapeConfig(
        job_name="j",
        scrape_interval=Duration(15_000),
        scrape_timeout=Duration(10_000),
        **overrides,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_scrape(case: Case) -> None:
    async def scenario() -> tuple[list[dict[str, str]], list[str]]:
        clock = ManualClock()
        exporters, storage = Exporters(), FakeStorage()
        loop = make_loop(job(**case.config), exporters, storage, clock)
        commits, errors = [], []
        for answer in case.answers:
            exporter = exporters["t:9100"]
            for name, value in dataclasses.asdict(answer).items():
                setattr(exporter, name, value)
            outcome = await loop.scrape(clock.now())
            commits.append(render(storage.commits[-1], round(outcome.started * 1000)))
            errors.append(outcome.error)
            clock.advance(15)
        return commits, errors

    commits, errors = asyncio.run(scenario())
    assert commits == list(case.want)
    want_errors = case.errors or ("",) * len(case.answers)
    assert [
        (want in got) if want else got == "" for want, got in zip(want_errors, errors, strict=True)
    ] == [True] * len(errors), errors


def test_request_headers_are_prometheus_3s() -> None:
    async def scenario() -> httpx.Request:
        exporters, storage = Exporters(), FakeStorage()
        exporters["t:9100"].body = b"a 1\n"
        loop = make_loop(job(), exporters, storage, ManualClock())
        await loop.scrape(loop._clock.now())
        return exporters["t:9100"].requests[0]

    request = asyncio.run(scenario())
    assert request.headers["Accept"] == (
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
        "application/openmetrics-text;version=0.0.1;q=0.5,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
        "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    )
    assert request.headers["Accept-Encoding"] == "gzip"
    assert request.headers["X-Prometheus-Scrape-Timeout-Seconds"] == "10"
    assert str(request.url) == "http://t:9100/metrics"
    assert accept_header(("OpenMetricsText1.0.0", "PrometheusText0.0.4")) == (
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.4"
    )


def test_memory_is_released_after_a_scrape_that_created_many_series() -> None:
    """The first scrape of a big target, and only it, gives its garbage back."""
    big = "".join(f'm{{i="{i}"}} 1\n' for i in range(RELEASE_AFTER_SERIES)).encode()
    few_new = big + b'm{i="new"} 1\n'

    async def scenario() -> list[int]:
        clock = ManualClock()
        exporters, storage = Exporters(), FakeStorage()
        internal, discovered = populate_labels(Labels.from_dict({"__address__": "t:9100"}), job())
        assert internal is not None
        released: list[int] = []
        loop = ScrapeLoop(
            Target.of(job(), internal, discovered),
            ScrapeOptions.of(job()),
            httpx.AsyncClient(transport=exporters.transport()),
            storage.appender,
            clock,
            release=lambda: released.append(loop.scrapes),
        )
        for body in (big, big, few_new):
            exporters["t:9100"].body = body
            outcome = await loop.scrape(clock.now())
            assert outcome.error == ""
            clock.advance(15)
        return released

    assert asyncio.run(scenario()) == [0]


def test_timeout_is_measured_on_the_clock() -> None:
    async def scenario() -> tuple[str, dict[str, str]]:
        clock = ManualClock()
        exporters, storage = Exporters(), FakeStorage()
        loop = make_loop(job(), exporters, storage, clock)
        exporter = exporters["t:9100"]
        exporter.body = b"a 1\n"
        await loop.scrape(clock.now())
        clock.advance(15)
        exporter.hang, exporter.entered = True, asyncio.Event()
        start = clock.now()
        scrape = asyncio.create_task(loop.scrape(start))
        await exporter.entered.wait()
        clock.advance(9.9)
        await asyncio.sleep(0)
        assert not scrape.done()
        clock.advance(0.1)
        outcome = await scrape
        return outcome.error, render(storage.commits[-1], round(start * 1000))

    error, commit = asyncio.run(scenario())
    assert error == 'Get "http://t:9100/metrics": context deadline exceeded'
    assert commit == {"a" + T: "stale", **report(0, 0), "scrape_duration_seconds" + T: "10"}


def test_a_big_scrape_lets_the_event_loop_run_between_slices() -> None:
    body = b"".join(b'm{i="%d"} %d\n' % (i, i) for i in range(50_000))

    async def scenario() -> tuple[int, str, int]:
        clock = ManualClock()
        exporters, storage = Exporters(), FakeStorage()
        exporters["t:9100"].body = body
        loop = make_loop(job(), exporters, storage, clock)
        turns = 0
        scrape = asyncio.create_task(loop.scrape(clock.now()))
        while not scrape.done():
            turns += 1
            await asyncio.sleep(0)
        return turns, scrape.result().error, len(storage.series)

    turns, error, series = asyncio.run(scenario())
    assert (error, series) == ("", 50_000 + 5)
    assert turns > 50_000 // 1024  # at least one turn per slice of new series


def test_timeout_bounds_the_parsing_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock moves one second per event-loop turn: a body that takes more than ten turns
    (slices) to scan fails at the deadline, not after it is read through."""
    monkeypatch.setattr("vigil.exposition.scan._SLICE_BYTES", 4096)
    body = b"".join(b'm{i="%d"} %d\n' % (i, i) for i in range(20_000))

    async def scenario() -> tuple[str, dict[str, str]]:
        clock = ManualClock()
        exporters, storage = Exporters(), FakeStorage()
        exporters["t:9100"].body = body
        loop = make_loop(job(), exporters, storage, clock)
        start = clock.now()
        scrape = asyncio.create_task(loop.scrape(start))
        while not scrape.done():
            clock.advance(1)
            await asyncio.sleep(0)
        return scrape.result().error, render(storage.commits[-1], round(start * 1000))

    error, commit = asyncio.run(scenario())
    assert error == 'Get "http://t:9100/metrics": context deadline exceeded'
    duration = float(commit.pop("scrape_duration_seconds" + T))
    want = report(0, 0)
    del want["scrape_duration_seconds" + T]
    assert (commit, 10 <= duration < 20) == (want, True)


def test_connection_refused() -> None:
    async def scenario() -> str:
        loop = make_loop(job(), Exporters(), FakeStorage(), ManualClock())
        return (await loop.scrape(loop._clock.now())).error

    assert asyncio.run(scenario()) == 'Get "http://t:9100/metrics": connect: connection refused'


def test_refused_series_are_retried_and_not_cached() -> None:
    async def scenario() -> list[dict[str, str]]:
        clock = ManualClock()
        exporters, storage = Exporters(), FakeStorage()
        storage.refused_names.add("b")
        loop = make_loop(job(), exporters, storage, clock)
        exporters["t:9100"].body = b"a 1\nb 2\n"
        out = []
        for _ in range(2):
            outcome = await loop.scrape(clock.now())
            out.append(render(storage.commits[-1], round(outcome.started * 1000)))
            storage.refused_names.clear()
            clock.advance(15)
        return out

    first, second = asyncio.run(scenario())
    assert first == {"a" + T: "1", **report(1, 2, added=1)}
    assert second == {"a" + T: "1", "b" + T: "2", **report(1, 2, added=1)}


def test_into_the_real_head_staleness_markers_are_bit_exact() -> None:
    async def scenario() -> dict[str, list[tuple[int, int]]]:
        clock = ManualClock()
        exporters, head = Exporters(), Head()
        loop = make_loop(job(), exporters, FakeStorage(), clock)
        loop._appendable = head.appender
        for body in (b"a 1\nb 2\n", b"a 3\n"):
            exporters["t:9100"].body = body
            await loop.scrape(clock.now())
            clock.advance(15)
        querier = head.querier(0, 2**62)
        found = querier.select([Matcher.of("__name__", "=~", "a|b")])
        return {
            data.labels.get("__name__"): list(
                zip(data.timestamps.tolist(), data.values.view(np.uint64).tolist(), strict=True)
            )
            for data in found
        }

    t0 = round(ManualClock().now() * 1000)
    bits = {v: int(np.float64(v).view(np.uint64)) for v in (1.0, 2.0, 3.0)}
    assert asyncio.run(scenario()) == {
        "a": [(t0, bits[1.0]), (t0 + 15_000, bits[3.0])],
        "b": [(t0, bits[2.0]), (t0 + 15_000, STALE_NAN_BITS)],
    }


def test_a_store_that_refuses_the_commit_is_reported_and_the_next_scrape_works() -> None:
    class RefusingOnce(FakeStorage):
        refused = False

        def appender(self) -> Any:
            app = super().appender()
            commit = app.commit

            def refuse_the_first() -> None:
                if not self.refused:
                    self.refused = True
                    raise OSError("disk full")
                commit()

            app.commit = refuse_the_first  # type: ignore[method-assign]
            return app

    async def scenario() -> list[str]:
        clock = ManualClock()
        exporters, storage = Exporters(), RefusingOnce()
        exporters["t:9100"].body = b"a 1\n"
        loop = make_loop(job(), exporters, storage, clock)
        errors = []
        for _ in range(2):
            errors.append((await loop.scrape(clock.now())).error)
            clock.advance(15)
        return errors

    assert asyncio.run(scenario()) == ["append failed: disk full", ""]


def test_samples_the_head_refuses_are_counted_and_shown_but_the_target_stays_up() -> None:
    """A target with explicit timestamps an hour ahead: Prometheus counts and logs such
    samples; vigil also says so in the target's lastError, where a user looks."""
    registry = CollectorRegistry()

    async def scenario() -> tuple[str, str, int]:
        clock = ManualClock()
        exporters, head = Exporters(), Head(clock=clock.now)
        loop = make_loop(job(), exporters, FakeStorage(), clock)
        loop._appendable = head.appender
        loop._metrics = ScrapeMetrics(registry)
        ahead = round((clock.now() + 3600) * 1000)
        exporters["t:9100"].body = b"a 1 %d\nb 2 %d\nc 3\n" % (ahead, ahead)
        outcome = await loop.scrape(clock.now())
        found = head.querier(0, 2**62).select([Matcher.of("__name__", "=~", "a|b|c")])
        return outcome.error, outcome.refused, len(list(found))

    error, refused, stored = asyncio.run(scenario())
    assert (error, stored) == ("", 1)
    assert refused == (
        "samples refused by the storage: 2 too far in the future (beyond --storage.tsdb.max-future)"
    )
    assert registry.get_sample_value("prometheus_target_scrapes_sample_out_of_bounds_total") == 2
    assert registry.get_sample_value("prometheus_target_scrapes_sample_out_of_order_total") == 0


def test_refusal_text_names_each_reason() -> None:
    assert refusal_text({}) == ""
    assert refusal_text({"out_of_order": 3, "duplicate": 1, "out_of_bounds": 2}) == (
        "samples refused by the storage: 2 out of bounds (older than the head accepts), "
        "3 out of order, 1 a duplicate timestamp with another value"
    )


# Bodies scraped in turn: each scrape with the loop's caches (the same series in the same
# order as the last scrape are read without a regex or lookups) must store what a loop that
# forgets its caches before every scrape stores.
SEQUENCES = [
    ("values change", (b"a 1\nb 2\n", b"a 3\nb 4\n", b"a 5.5\nb 6e3\n"), {}),
    ("NaN and infinities", (b"a 1\nb 2\n", b"a NaN\nb +Inf\n", b"a -Inf\nb -0\n"), {}),
    ("a series goes and comes back", (b"a 1\nb 2\n", b"a 3\n", b"a 4\nb 5\n", b"a 6\nb 7\n"), {}),
    ("series reordered", (b"a 1\nb 2\n", b"b 3\na 4\n", b"b 5\na 6\n"), {}),
    ("timestamps", (b"a 1 1000\nb 2\n", b"a 3 2000\nb 4\n", b"a 5\nb 6\n"), {}),
    ("a broken body between", (b"a 1\nb 2\n", b"a x\nb 3\n", b"a 4\nb 5\n", b"a 6\nb 7\n"), {}),
    (
        "a classic histogram",
        tuple(
            b'# TYPE h histogram\nh_bucket{le="1"} %d\nh_bucket{le="+Inf"} %d\nh_sum %d\n'
            b"h_count %d\n" % (n, 2 * n, 3 * n, 2 * n)
            for n in range(3)
        ),
        {},
    ),
    (
        "metric relabeling drops a series",
        (b"a 1\nb 2\n", b"a 3\nb 4\n", b"a 5\nb 6\n"),
        {"metric_relabel_configs": (DROP_B,)},
    ),
    ("honor_labels", (b'a{job="x"} 1\n', b'a{job="x"} 2\n'), {"honor_labels": True}),
]


@pytest.mark.parametrize(
    ("bodies", "config"), [s[1:] for s in SEQUENCES], ids=[s[0] for s in SEQUENCES]
)
def test_scrapes_with_caches_store_what_scrapes_without_them_store(
    bodies: tuple[bytes, ...], config: dict[str, Any]
) -> None:
    async def stored(forget: bool) -> dict[str, list[tuple[int, int]]]:
        clock = ManualClock()
        exporters, head = Exporters(), Head()
        loop = make_loop(job(**config), exporters, FakeStorage(), clock)
        loop._appendable = head.appender
        for body in bodies:
            exporters["t:9100"].body = body
            if forget:
                loop.state = loop.state.without_caches()
            await loop.scrape(clock.now())
            clock.advance(15)
        found = head.querier(0, 2**62).select([Matcher.of("__name__", "!=", "scrape_series_added")])
        return {
            str(data.labels): list(
                zip(data.timestamps.tolist(), data.values.view(np.uint64).tolist(), strict=True)
            )
            for data in found
        }

    assert asyncio.run(stored(False)) == asyncio.run(stored(True))


def test_a_lower_sample_limit_after_a_reload_fails_a_scrape_of_the_same_series() -> None:
    async def scenario() -> list[str]:
        clock = ManualClock()
        exporters, storage = Exporters(), FakeStorage()
        loop = make_loop(job(), exporters, storage, clock)
        exporters["t:9100"].body = b"a 1\nb 2\n"
        errors = [(await loop.scrape(clock.now())).error]
        clock.advance(15)
        exporters["t:9100"].body = b"a 3\nb 4\n"
        config = job(sample_limit=1)
        reloaded = ScrapeLoop(
            loop.target, ScrapeOptions.of(config), loop.client, storage.appender, clock, loop.state
        )
        errors.append((await reloaded.scrape(clock.now())).error)
        return errors

    assert asyncio.run(scenario()) == ["", "sample limit exceeded"]
