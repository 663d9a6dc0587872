"""One target's scrape loop: fetch, scan, map series to TSDB refs, append, report, mark stale.

The per-scrape cost is a handful of C-level passes: `scan` resolves series text through its
cache, one `map(dict.get)` turns series text into TSDB refs, and numpy builds the columns
handed to `Appender.append_batch`. Python code runs per *new* series only: the honor_labels
merge, `metric_relabel_configs` and the label limits are applied once and the resulting ref
(or -1 when relabeling drops the series) is cached under the series text, as Prometheus's
scrape cache does. A cached ref the head has since garbage-collected (no sample in the window
it keeps) is refused at commit as an unknown series: the caches are then forgotten and the
scrape's series resolved again from their labels, their samples appended in the same scrape.

Failure semantics are Prometheus's: a fetch error, a parse error or an exceeded limit fails
the whole scrape (`up` 0, nothing of it appended but the report series) and every series of
the previous scrape gets a staleness marker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Literal

import httpx
import numpy as np
import numpy.typing as npt

from vigil import __version__
from vigil.config.relabel import RelabelConfig
from vigil.config.scrape import ScrapeConfig
from vigil.exposition._types import Format, ParseError
from vigil.exposition.protobuf_format import MEDIA_TYPE as PROTOBUF_MEDIA_TYPE
from vigil.exposition.protobuf_format import HistogramChoice, scan_protobuf
from vigil.exposition.render import is_legacy_metric_name
from vigil.exposition.scan import (
    NO_TIMESTAMP,
    SampleLimitReached,
    ScrapeBatch,
    SeriesCache,
    parse_series,
    scan_steps,
)
from vigil.model import METRIC_NAME, Labels
from vigil.model.clock import Clock
from vigil.model.gofloat import format_float
from vigil.model.labels import is_legacy_label_name, json_quote
from vigil.model.sorted_set import sorted_set
from vigil.scrape.histogram_limits import BucketLimitExceeded, limited, max_schema
from vigil.scrape.metrics import ScrapeMetrics
from vigil.scrape.nhcb import convert_to_nhcb
from vigil.scrape.relabel import relabel
from vigil.scrape.target import ScrapeOutcome, Target, accept_header
from vigil.tsdb import STALE_NAN, Appender
from vigil.tsdb.head_append import UNKNOWN_SERIES
from vigil.tsdb.heap import trim_heap

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_NEW = -2  # series text not seen before: its labels are still to be worked out
_DROPPED = -1  # metric_relabel_configs dropped it (also what refs_for returns when refused)
_EMPTY_REFS: I64 = np.empty(0, dtype=np.int64)
_NEW_SERIES_PER_STEP = 1024  # new series labelled and created between two event-loop turns
# A scrape creating this many series leaves megabytes of garbage (its body, parse, WAL
# records) that the allocator would keep: it is given back to the system after the append.
RELEASE_AFTER_SERIES = 4096
_TIMESTAMP_TOLERANCE_MS = 2  # Prometheus's ScrapeTimestampTolerance
EXPORTED_PREFIX = "exported_"

REPORT_SERIES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)

Appendable = Callable[[], Appender]
Parser = Format | Literal["protobuf"]
_NO_NATIVE_HISTOGRAMS = HistogramChoice()


class ScrapeError(Exception):
    """Why a scrape failed, worded as the targets page shows it (`lastError`)."""


class SampleLimitExceeded(ScrapeError):
    """sample_limit hit while the body was read: the samples read until then are reported."""

    def __init__(self, read: int) -> None:
        super().__init__("sample limit exceeded")
        self.read = read


@dataclass(frozen=True, slots=True)
class ScrapeOptions:
    """The per-job settings a loop needs, taken from a ScrapeConfig once per (re)load."""

    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    body_size_limit: int = 0
    metric_relabel_configs: tuple[RelabelConfig, ...] = ()
    accept: str = accept_header(("OpenMetricsText1.0.0", "PrometheusText0.0.4"))
    enable_compression: bool = True
    fallback_format: Parser | None = None
    legacy_names: bool = False  # metric_name_validation_scheme: legacy refuses UTF-8 names
    histograms: HistogramChoice = _NO_NATIVE_HISTOGRAMS
    bucket_limit: int = 0  # native_histogram_bucket_limit
    max_schema: int = 8  # from native_histogram_min_bucket_factor
    convert_nhcb: bool = False  # convert_classic_histograms_to_nhcb
    keep_classic: bool = False  # always_scrape_classic_histograms

    @classmethod
    def of(cls, config: ScrapeConfig) -> ScrapeOptions:
        fallback = config.fallback_scrape_protocol
        return cls(
            honor_labels=config.honor_labels,
            honor_timestamps=config.honor_timestamps,
            track_timestamps_staleness=config.track_timestamps_staleness,
            sample_limit=config.sample_limit,
            label_limit=config.label_limit,
            label_name_length_limit=config.label_name_length_limit,
            label_value_length_limit=config.label_value_length_limit,
            body_size_limit=config.body_size_limit,
            metric_relabel_configs=config.metric_relabel_configs,
            accept=accept_header(config.scrape_protocols, config.metric_name_escaping_scheme),
            enable_compression=config.enable_compression,
            fallback_format=(
                Format.OPENMETRICS
                if fallback.startswith("OpenMetrics")
                else Format.TEXT
                if fallback.startswith("PrometheusText")
                else "protobuf"
                if fallback == "PrometheusProto"
                else None
            ),
            legacy_names=config.metric_name_validation_scheme == "legacy",
            histograms=HistogramChoice(
                config.scrape_native_histograms, config.always_scrape_classic_histograms
            ),
            bucket_limit=config.native_histogram_bucket_limit,
            max_schema=max_schema(config.native_histogram_min_bucket_factor),
            convert_nhcb=config.convert_classic_histograms_to_nhcb,
            keep_classic=config.always_scrape_classic_histograms,
        )

    def series_rules(self) -> tuple[object, ...]:
        """Everything that decides a series' final labels: cached refs stay valid across a
        reload exactly when this is unchanged."""
        return (
            self.honor_labels,
            self.metric_relabel_configs,
            self.label_limit,
            self.label_name_length_limit,
            self.label_value_length_limit,
            self.legacy_names,
        )


class SeriesState:
    """What a target's loop remembers between scrapes, handed to its successor on reload."""

    __slots__ = (
        "last_refs",
        "last_series",
        "parsed",
        "refs",
        "report_refs",
        "tracked",
        "tracked_in_order",
    )

    def __init__(self, tracked: I64 = _EMPTY_REFS, report_refs: I64 | None = None) -> None:
        self.parsed: dict[Format, SeriesCache] = {}
        self.refs: dict[bytes, int] = {}  # series text → TSDB ref, or _DROPPED
        # the refs of the last batch whose every series has one (or was dropped), under the
        # identity of its series list: a batch with that very list has the same refs
        self.last_series: list[bytes] | None = None
        self.last_refs = _EMPTY_REFS
        self.tracked = tracked  # sorted refs written last scrape: stale-marked if they vanish
        self.tracked_in_order = _EMPTY_REFS  # the same, in body order: a cheap "unchanged" test
        self.report_refs = report_refs

    def without_caches(self) -> SeriesState:
        """Same staleness bookkeeping, caches forgotten (the series rules changed)."""
        return SeriesState(self.tracked, self.report_refs)

    def series_cache(self, fmt: Format) -> SeriesCache:
        cache = self.parsed.get(fmt)
        if cache is None:
            cache = self.parsed[fmt] = SeriesCache(fmt)
        return cache


@dataclass(frozen=True, slots=True)
class _Read:
    """A scanned body and each sample's TSDB ref (_DROPPED: relabeling dropped it), or the
    error that its new series raised (a limit: nothing of it is appended)."""

    batch: ScrapeBatch
    refs: I64
    post_relabel: int = 0
    series_added: int = 0
    error: str = ""


@dataclass(frozen=True, slots=True)
class _Columns:
    """A scrape's samples ready for the appender, and the refs it tracks for staleness."""

    refs: I64
    timestamps: I64
    values: F64
    tracked: I64
    histograms: npt.NDArray[np.object_] | None = None


_REFUSAL_WORDS = (
    ("too_far_in_future", "too far in the future (beyond --storage.tsdb.max-future)"),
    ("out_of_bounds", "out of bounds (older than the head accepts)"),
    ("out_of_order", "out of order"),
    ("duplicate", "a duplicate timestamp with another value"),
)


def refusal_text(refused: Mapping[str, int]) -> str:
    """What the targets page shows of the samples the storage refused ("" for none):
    Prometheus only counts and logs them, so its page shows a healthy target."""
    parts = [
        f"{refused[reason]} {words}" for reason, words in _REFUSAL_WORDS if refused.get(reason)
    ]
    return f"samples refused by the storage: {', '.join(parts)}" if parts else ""


class ScrapeLoop:
    """Scrapes one target every interval, at a hash-derived offset, until stopped."""

    def __init__(
        self,
        target: Target,
        options: ScrapeOptions,
        client: httpx.AsyncClient,
        appendable: Appendable,
        clock: Clock,
        state: SeriesState | None = None,
        metrics: ScrapeMetrics | None = None,
        release: Callable[[], object] = trim_heap,
    ) -> None:
        """`release` runs after a scrape that created RELEASE_AFTER_SERIES series or more."""
        self.target = target
        self.options = options
        self.state = state if state is not None else SeriesState()
        self.scrapes = 0
        self.forced_error = ""  # set by the pool (target_limit): scrapes fail without fetching
        self._client = client
        self._appendable = appendable
        self._clock = clock
        self._metrics = metrics if metrics is not None else ScrapeMetrics()
        self._release = release
        self._next_ms: int | None = None
        self._format: Parser = Format.TEXT  # of the last body read
        self._headers = {
            "Accept": options.accept,
            "Accept-Encoding": "gzip" if options.enable_compression else "identity",
            "User-Agent": f"vigil/{__version__}",
            "X-Prometheus-Scrape-Timeout-Seconds": format_float(target.timeout.seconds, "f"),
        }

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    # ------------------------------------------------------------------ schedule

    async def run(self) -> None:
        """Scrape at offset + k·interval; a scrape that overruns skips the slots it missed."""
        interval_ms = self.target.interval.milliseconds
        now_ms = round(self._clock.now() * 1000)
        next_ms = now_ms - now_ms % interval_ms + self.target.offset(interval_ms)
        if next_ms < now_ms:
            next_ms += interval_ms
        while True:
            self._next_ms = next_ms
            await self._clock.sleep_until(next_ms / 1000)
            now_ms = round(self._clock.now() * 1000)
            start_ms = next_ms if abs(now_ms - next_ms) <= _TIMESTAMP_TOLERANCE_MS else now_ms
            await self.scrape(start_ms / 1000)
            next_ms += interval_ms
            now_ms = round(self._clock.now() * 1000)
            if next_ms <= now_ms:
                next_ms += -(-(now_ms - next_ms + 1) // interval_ms) * interval_ms

    async def mark_stale_after_stop(self) -> None:
        """Run once the loop's task is cancelled because its target went away: like Prometheus,
        wait until two more scrapes would have happened (a recreated target has written by
        then), then mark every series of the last scrape and the report series stale at the
        time the next scrape would have been."""
        if self._next_ms is None or self.scrapes == 0:
            return
        interval_ms = self.target.interval.milliseconds
        stale_ms = self._next_ms
        await self._clock.sleep_until((stale_ms + interval_ms + interval_ms / 10) / 1000)
        state = self.state
        refs = state.tracked
        if state.report_refs is not None:
            refs = np.concatenate((refs, state.report_refs[state.report_refs >= 0]))
        if not refs.size:
            return
        app = self._appendable()
        try:
            app.append_batch(
                refs, np.full(refs.size, stale_ms, np.int64), np.full(refs.size, STALE_NAN)
            )
            app.commit()
        except BaseException:
            app.rollback()
            raise
        state.tracked = state.tracked_in_order = _EMPTY_REFS

    # ------------------------------------------------------------------ one scrape

    async def scrape(self, start: float) -> ScrapeOutcome:
        """Scrape once with `start` (Unix seconds) as the samples' time; never raises: any
        failure becomes `up` 0 and the outcome's error text."""
        target = self.target
        t_ms = round(start * 1000)
        read: _Read | None = None
        limited = 0
        try:
            if self.forced_error:
                raise ScrapeError(self.forced_error)
            batch = await self._fetch(start + target.timeout.seconds)
            read = await self._series_refs(batch)
            error = read.error
        except SampleLimitExceeded as err:
            error, limited = str(err), err.read
        except (ScrapeError, ParseError) as err:
            error = str(err)
        refused = ""
        try:
            error, refused_by, report = self._append(read, t_ms, start, error, limited)
            if refused_by.get(UNKNOWN_SERIES) and read is not None and not error:
                again = await self._resolve_again(read, t_ms, report)
                merged = Counter(refused_by)
                del merged[UNKNOWN_SERIES]  # the dead refs' samples, now appended
                merged.update(again)
                refused_by = merged
            if refused_by:
                self._metrics.count(refused_by)
            refused = refusal_text(refused_by)
        except OSError as err:  # storage that cannot write logs it itself, once a minute
            error = f"append failed: {err}"
        except Exception as err:  # any other refusal: report it, keep looping
            log.exception("scrape of %s: appending failed", target.url)
            error = f"append failed: {err}"
        if read is not None:
            target.metadata = read.batch.metadata
            if read.series_added >= RELEASE_AFTER_SERIES:
                self._release()
        outcome = ScrapeOutcome(start, max(0.0, self._clock.now() - start), error, refused)
        target.outcome = outcome
        self.scrapes += 1
        return outcome

    async def _fetch(self, deadline: float) -> ScrapeBatch:
        """The body read and scanned, or ScrapeError; the timeout (measured on the clock)
        bounds both."""
        request = asyncio.ensure_future(self._read())
        timer = asyncio.ensure_future(self._clock.sleep_until(deadline))
        try:
            done, _ = await asyncio.wait((request, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not request.done():
                request.cancel()
        if request in done:
            return request.result()
        raise ScrapeError(f'Get "{self.target.url}": context deadline exceeded')

    async def _read(self) -> ScrapeBatch:
        """Fetch and scan, letting the event loop run between slices of a big body; with no
        metric_relabel_configs every sample counts against sample_limit, so reading stops as
        soon as it is exceeded."""
        body, content_type = await self._request()
        fmt = self._format = self._parser_of(content_type)
        opts = self.options
        limit = 0 if opts.metric_relabel_configs else opts.sample_limit
        if fmt == "protobuf":
            read = scan_protobuf(body, opts.histograms)
            if limit and len(read) > limit:
                raise SampleLimitExceeded(len(read))
            return convert_to_nhcb(read, opts.keep_classic) if opts.convert_nhcb else read
        steps = scan_steps(body, fmt, self.state.series_cache(fmt), limit)
        del body
        try:
            while True:
                next(steps)
                await asyncio.sleep(0)
        except StopIteration as done:
            batch: ScrapeBatch = done.value
        except SampleLimitReached as err:
            raise SampleLimitExceeded(err.seen) from None
        return convert_to_nhcb(batch, opts.keep_classic) if opts.convert_nhcb else batch

    async def _series_refs(self, batch: ScrapeBatch) -> _Read:
        """Each sample's ref: cached by series text; a new series is labelled (target labels,
        metric_relabel_configs, limits) and created once, a slice at a time with the event
        loop let run between slices, stopping as soon as sample_limit is exceeded. Not under
        scrape_timeout (as appending is not in Prometheus): series created stay cached, so a
        target with many new series is never refused for good by its own size."""
        opts = self.options
        state = self.state
        if batch.series is state.last_series:
            post_relabel = int(np.count_nonzero(state.last_refs >= 0))
            if opts.sample_limit and post_relabel > opts.sample_limit:
                return _Read(batch, state.last_refs, post_relabel, error="sample limit exceeded")
            return _Read(batch, state.last_refs, post_relabel)
        state.last_series = None
        n = len(batch)
        cache = state.refs
        refs = np.fromiter(map(cache.get, batch.series, repeat(_NEW, n)), np.int64, n)
        new_at = np.flatnonzero(refs == _NEW)
        cached = int(np.count_nonzero(refs >= 0))
        new_labels: list[Labels] = []
        new_kept: list[int] = []
        labels_of = batch.labels
        try:
            for start in range(0, max(new_at.size, 1), _NEW_SERIES_PER_STEP):
                for index in new_at[start : start + _NEW_SERIES_PER_STEP].tolist():
                    name, labels = labels_of[index]
                    final = self._final_labels(name, labels)
                    if final is None:
                        refs[index] = _DROPPED
                    else:
                        new_labels.append(final)
                        new_kept.append(index)
                post_relabel = cached + len(new_kept)
                if opts.sample_limit and post_relabel > opts.sample_limit:
                    return _Read(batch, refs, post_relabel, error="sample limit exceeded")
                if new_at.size:
                    await asyncio.sleep(0)
            self._limit_histograms(batch, refs)
        except (ScrapeError, BucketLimitExceeded) as err:
            return _Read(batch, refs, error=str(err))
        series = batch.series
        settled = [series[index] for index in new_at[refs[new_at] == _DROPPED].tolist()]
        for key in settled:
            cache[key] = _DROPPED
        added = 0
        if new_kept:
            app = self._appendable()
            try:
                for start in range(0, len(new_kept), _NEW_SERIES_PER_STEP):
                    kept = new_kept[start : start + _NEW_SERIES_PER_STEP]
                    created = app.refs_for(new_labels[start : start + _NEW_SERIES_PER_STEP])
                    refs[kept] = created
                    for index, ref in zip(kept, created.tolist(), strict=True):
                        if ref >= 0:  # a ref the store refused is asked for again next scrape
                            cache[series[index]] = ref
                            settled.append(series[index])
                            added += 1
                    await asyncio.sleep(0)
            except Exception as err:
                log.exception("scrape of %s: creating series failed", self.target.url)
                return _Read(batch, refs, error=f"append failed: {err}")
            finally:
                app.rollback()  # it only created series: nothing to commit
        self._settle(settled)
        if added == len(new_kept) and batch.histograms is None:
            refs.flags.writeable = False
            state.last_series, state.last_refs = batch.series, refs
        return _Read(batch, refs, cached + len(new_kept), added)

    def _settle(self, series: list[bytes]) -> None:
        """Series with a cached ref (or dropped) need their parsed labels no more, unless
        classic histograms are converted (that reads every scrape's labels)."""
        if series and not self.options.convert_nhcb:
            for cache in self.state.parsed.values():
                cache.settle(series)

    def _limit_histograms(self, batch: ScrapeBatch, refs: I64) -> None:
        """Apply the bucket factor and limit to the native histograms kept after relabeling,
        in place; raises BucketLimitExceeded (the scrape fails, as in Prometheus)."""
        column = batch.histograms
        opts = self.options
        if column is None or (not opts.bucket_limit and opts.max_schema >= 8):
            return
        for at in np.flatnonzero(column.astype(np.bool_) & (refs != _DROPPED)).tolist():
            column[at] = limited(column[at], opts.bucket_limit, opts.max_schema)

    async def _request(self) -> tuple[bytes, str]:
        url = self.target.url
        limit = self.options.body_size_limit
        try:
            async with self._client.stream("GET", url, headers=self._headers) as response:
                if response.status_code != 200:
                    raise ScrapeError(
                        f"server returned HTTP status {response.status_code} "
                        f"{response.reason_phrase}"
                    )
                chunks = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if limit > 0 and size >= limit:
                        raise ScrapeError("body size limit exceeded")
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("content-type", "")
        except httpx.HTTPError as err:
            raise ScrapeError(f'Get "{url}": {err or type(err).__name__}') from None

    def _parser_of(self, content_type: str) -> Parser:
        """The parser Prometheus 3 picks for a Content-Type, else the fallback protocol."""
        media = content_type.partition(";")[0].strip().lower()
        if media == "application/openmetrics-text":
            return Format.OPENMETRICS
        if media == "text/plain":
            return Format.TEXT
        if media == PROTOBUF_MEDIA_TYPE:
            return "protobuf"
        if self.options.fallback_format is not None:
            return self.options.fallback_format
        if not media:
            raise ScrapeError(
                "non-compliant scrape target sending blank Content-Type and no "
                "fallback_scrape_protocol specified for target"
            )
        raise ScrapeError(
            f"received unsupported Content-Type {json_quote(content_type)} and no "
            "fallback_scrape_protocol specified for target"
        )

    # ------------------------------------------------------------------ appending

    def _append(
        self, read: _Read | None, t_ms: int, start: float, error: str, limited: int = 0
    ) -> tuple[str, Mapping[str, int], F64]:
        """Append the scrape (unless it failed), its staleness markers and its report in one
        transaction; returns the error text, what the storage refused of it and the report's
        values. `limited` counts the samples read before sample_limit stopped the reading."""
        state = self.state
        app = self._appendable()
        try:
            columns = None
            post_relabel = read.post_relabel if read is not None else limited
            if read is not None and not error:
                columns = self._columns(read, t_ms)
            tracked = columns.tracked if columns is not None else _EMPTY_REFS
            gone = _vanished(state.tracked, tracked)
            state.tracked = tracked
            if columns is None:
                state.tracked_in_order = _EMPTY_REFS
            if state.report_refs is None:
                state.report_refs = app.refs_for(report_labels(self.target))
            report = np.array(
                [
                    0.0 if error else 1.0,
                    max(0.0, self._clock.now() - start),
                    len(read.batch) if read is not None else limited,
                    post_relabel,
                    read.series_added if columns is not None and read is not None else 0,
                ]
            )
            refs = [gone, state.report_refs]
            times = [np.full(gone.size + report.size, t_ms, np.int64)]
            values = [np.full(gone.size, STALE_NAN), report]
            if columns is not None:
                refs.insert(0, columns.refs)
                times.insert(0, columns.timestamps)
                values.insert(0, columns.values)
            all_refs = np.concatenate(refs)
            usable = all_refs >= 0
            all_times = np.concatenate(times)
            all_values = np.concatenate(values)
            if columns is not None and columns.histograms is not None:
                usable = _append_histograms(app, columns, usable)
            if not usable.all():
                all_refs, all_times, all_values = (
                    all_refs[usable],
                    all_times[usable],
                    all_values[usable],
                )
            app.append_batch(all_refs, all_times, all_values)
            app.commit()
        except BaseException:
            app.rollback()
            raise
        if read is not None and columns is not None:
            self._prune(read.batch)
        return error, app.refused(), report

    async def _resolve_again(self, read: _Read, t_ms: int, report: F64) -> Mapping[str, int]:
        """The commit named series the head has removed since they were cached (no sample in
        the window it keeps, e.g. a target down for hours): forget the caches, resolve this
        scrape's series and report series from their labels again, and append in a second
        transaction the samples whose ref changed (the ones refused). Returns what the
        storage refused of that."""
        state = self.state
        old_report = state.report_refs
        self.state = state = state.without_caches()
        batch = read.batch
        if isinstance(self._format, Format) and not self.options.convert_nhcb:
            fmt = self._format
            labels = [parse_series(series.decode("utf-8"), fmt) for series in batch.series]
            batch = dataclasses.replace(batch, labels=labels)
        again = await self._series_refs(batch)
        if again.error:
            return {}
        columns = self._columns(again, t_ms)
        state.tracked = columns.tracked
        app = self._appendable()
        try:
            state.report_refs = app.refs_for(report_labels(self.target))
            all_refs = np.concatenate((columns.refs, state.report_refs))
            old_refs = np.concatenate(
                (read.refs, old_report if old_report is not None else state.report_refs)
            )
            moved = (all_refs != old_refs) & (all_refs >= 0)
            all_times = np.concatenate((columns.timestamps, np.full(report.size, t_ms, np.int64)))
            all_values = np.concatenate((columns.values, report))
            if columns.histograms is not None:
                moved = _append_histograms(app, columns, moved)
            app.append_batch(all_refs[moved], all_times[moved], all_values[moved])
            app.commit()
        except BaseException:
            app.rollback()
            raise
        return app.refused()

    def _columns(self, read: _Read, t_ms: int) -> _Columns:
        """The hot path: refs, times and the sorted refs to track for staleness."""
        opts = self.options
        batch, refs = read.batch, read.refs
        n = len(batch)
        timestamps = batch.timestamps
        explicit: npt.NDArray[np.bool_] | None = None
        if opts.honor_timestamps and n and timestamps.max() != NO_TIMESTAMP:
            explicit = timestamps != NO_TIMESTAMP
            times = np.where(explicit, timestamps, t_ms)
        else:
            times = np.full(n, t_ms, np.int64)
        kept = refs >= 0
        if explicit is None or opts.track_timestamps_staleness:
            tracked_mask = kept
        else:
            tracked_mask = kept & ~explicit
        in_order = refs if tracked_mask.all() else refs[tracked_mask]
        state = self.state
        if np.array_equal(in_order, state.tracked_in_order):
            tracked = state.tracked  # the usual scrape: same series in the same order
        else:
            tracked = sorted_set(in_order)
            state.tracked_in_order = in_order.copy()
        return _Columns(refs, times, batch.values, tracked, batch.histograms)

    def _final_labels(self, name: str, labels: Labels) -> Labels | None:
        """A new series' stored labels: target labels merged (honor_labels or `exported_`),
        metric_relabel_configs applied, limits checked. None when relabeling drops it."""
        opts = self.options
        merged = dict(labels)
        merged[METRIC_NAME] = name
        if opts.honor_labels:
            for key, value in self.target.labels:
                if key not in merged:
                    merged[key] = value
        else:
            conflicts = []
            for key, value in self.target.labels:
                existing = merged.get(key, "")
                if existing:
                    conflicts.append((key, existing))
                merged[key] = value
            conflicts.sort(key=lambda pair: len(pair[0]))
            for key, value in conflicts:
                exported = key
                while True:
                    exported = EXPORTED_PREFIX + exported
                    if not merged.get(exported):
                        merged[exported] = value
                        break
        final = Labels.from_dict({k: v for k, v in merged.items() if v})
        if opts.metric_relabel_configs:
            relabeled = relabel(final, opts.metric_relabel_configs)
            if relabeled is None:
                return None
            if not relabeled.get(METRIC_NAME):
                raise ScrapeError("missing metric name (__name__ label)")
            final = relabeled
        if opts.legacy_names and not _legacy_names(final):
            raise ScrapeError(f"invalid metric name or label names: {final}")
        _check_label_limits(final, opts)
        return final

    def _prune(self, batch: ScrapeBatch) -> None:
        """Forget series the target no longer exposes once they outnumber the live ones."""
        state = self.state
        if len(state.refs) <= 2 * len(batch) + 64:
            return
        live = set(batch.series)
        state.refs = {s: ref for s, ref in state.refs.items() if s in live}
        for cache in state.parsed.values():
            cache.retain(live)


def _append_histograms(
    app: Appender, columns: _Columns, usable: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Append the native histogram rows (the first rows of the scrape); the rows left for
    `append_batch`."""
    assert columns.histograms is not None
    held = np.zeros(len(usable), dtype=np.bool_)
    held[: len(columns.histograms)] = columns.histograms.astype(np.bool_)
    for at in np.flatnonzero(held & usable).tolist():
        app.append_histogram_by_ref(
            int(columns.refs[at]), int(columns.timestamps[at]), columns.histograms[at]
        )
    return usable & ~held


def _vanished(previous: I64, current: I64) -> I64:
    """Refs written last scrape and not this one (both sorted and unique)."""
    if not previous.size or np.array_equal(previous, current):
        return _EMPTY_REFS
    gone: I64 = np.setdiff1d(previous, current, assume_unique=True)
    return gone


def _legacy_names(labels: Labels) -> bool:
    """Whether every name is a classic one (what Prometheus 3 takes under the legacy scheme)."""
    return all(
        is_legacy_metric_name(value) if key == METRIC_NAME else is_legacy_label_name(key)
        for key, value in labels
    )


def _check_label_limits(labels: Labels, opts: ScrapeOptions) -> None:
    """Prometheus's verifyLabelLimits, with its messages."""
    metric = labels.get(METRIC_NAME)[:50]
    if opts.label_limit and len(labels) > opts.label_limit:
        raise ScrapeError(
            f"label_limit exceeded (metric: {metric}, number of labels: {len(labels)}, "
            f"limit: {opts.label_limit})"
        )
    name_limit = opts.label_name_length_limit
    value_limit = opts.label_value_length_limit
    if not (name_limit or value_limit):
        return
    for key, value in labels:
        if name_limit and len(key) > name_limit:
            raise ScrapeError(
                f"label_name_length_limit exceeded (metric: {metric}, label name: {key[:50]}, "
                f"length: {len(key)}, limit: {name_limit})"
            )
        if value_limit and len(value) > value_limit:
            raise ScrapeError(
                f"label_value_length_limit exceeded (metric: {metric}, label name: {key[:50]}, "
                f"value: {json_quote(value[:50])}, length: {len(value)}, limit: {value_limit})"
            )


def report_labels(target: Target) -> Sequence[Labels]:
    """The label sets of a target's report series, in REPORT_SERIES order."""
    return [target.labels.with_label(METRIC_NAME, name) for name in REPORT_SERIES]
