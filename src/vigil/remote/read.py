"""Remote read: the `/api/v1/read` endpoint (vigil as a store other programs read), and the
`remote_read` client side (vigil's queries also read a remote store, merged with local data).

Endpoint: a snappy-compressed `ReadRequest` in, a snappy-compressed `ReadResponse` (the
SAMPLES response type) out, one `QueryResult` per query, answered from the local Querier.
A client that only accepts streamed XOR chunks is answered with samples as well (Prometheus
clients accept both); the response body is encoded with numpy, one byte row per sample.

Client: each `remote_read` entry of prometheus.yml becomes a `RemoteReadClient`;
`RemoteReadQueryable` merges their series into the local TSDB's for every query the engine
runs (`read_recent: false` skips the remote for time the local TSDB covers itself;
`required_matchers` restricts which selectors reach it). A remote that fails is logged and
left out of the result: local data is still answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import cramjam
import httpx
import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.config.http_client import sync_client
from vigil.config.remote import RemoteReadConfig
from vigil.config.shown import redact_url
from vigil.model import Labels, Matcher
from vigil.model.matchers import MatchType
from vigil.remote import prompb
from vigil.remote.encode import encode_labels, varint
from vigil.remote.histograms import from_prompb, to_prompb
from vigil.tsdb import Querier, SelectHints, SeriesBatch, SeriesData, merge_batches, merge_series
from vigil.tsdb.db import TSDB
from vigil.tsdb.series import histogram_column
from vigil.web.body import read_capped

log = logging.getLogger(__name__)

Queryable = Callable[[int, int], Querier]
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

_OPS = {"EQ": "=", "NEQ": "!=", "RE": "=~", "NRE": "!~"}  # by prompb's LabelMatcher.Type names
_PB_TYPES = {op: name for name, op in _OPS.items()}
_SHIFTS = np.arange(0, 70, 7, dtype=np.uint64)
_THRESHOLDS = np.uint64(1) << _SHIFTS[1:]
_ROW = 22  # 0x12 len 0x09 value(8) 0x10 varint(<=10)
_NO_LABELS = Labels()


class ReadError(Exception):
    """A read request answered 400 with `message` (Prometheus's wording where it has one)."""


# --- encoding and decoding ------------------------------------------------------------------


def decode_read_request(body: bytes) -> prompb.ReadRequest:
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as err:
        raise ReadError(f"body is not snappy-compressed (block format): {err}") from None
    try:
        return prompb.ReadRequest.FromString(raw)
    except DecodeError as err:
        raise ReadError(f"body is not a valid ReadRequest protobuf: {err}") from None


def matchers_of(query: prompb.Query) -> list[Matcher]:
    try:
        return [
            Matcher.of(m.name, _OPS[prompb.LabelMatcher.Type.Name(m.type)], m.value)
            for m in query.matchers
        ]
    except (KeyError, ValueError) as err:
        raise ReadError(f"invalid matcher: {err}") from None


def _varint_rows(values: npt.NDArray[np.uint64]) -> tuple[U8, I64]:
    """Each value's protobuf varint as a row of 10 bytes, and how many of them it uses."""
    lengths = 1 + (values[:, None] >= _THRESHOLDS[None, :]).sum(axis=1)
    groups = ((values[:, None] >> _SHIFTS[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    more = np.arange(10)[None, :] < (lengths[:, None] - 1)
    groups |= more.astype(np.uint8) << np.uint8(7)
    return groups, lengths.astype(np.int64)


def _samples_bytes(ts: I64, values: npt.NDArray[np.float64]) -> tuple[bytes, I64]:
    """The `samples` fields of many series at once, and where each sample's bytes end."""
    n = len(ts)
    groups, lengths = _varint_rows(ts.view(np.uint64))
    rows = np.empty((n, _ROW), dtype=np.uint8)
    rows[:, 0] = 0x12
    rows[:, 1] = 10 + lengths
    rows[:, 2] = 0x09
    rows[:, 3:11] = values.astype("<f8", copy=False).view(np.uint8).reshape(n, 8)
    rows[:, 11] = 0x10
    rows[:, 12:] = groups
    valid = np.arange(_ROW)[None, :] < (12 + lengths)[:, None]
    return rows[valid].tobytes(), np.cumsum(12 + lengths)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


def _histogram_fields(s: SeriesData) -> tuple[SeriesData, bytes]:
    """A series' float samples, and its histogram samples as `histograms` fields."""
    if s.histograms is None:
        return s, b""
    held = s.histograms.astype(np.bool_)
    fields = b"".join(
        _field(0x22, to_prompb(h, t).SerializeToString())
        for t, h in zip(s.timestamps[held].tolist(), s.histograms[held].tolist(), strict=True)
    )
    return SeriesData(s.labels, s.timestamps[~held], s.values[~held]), fields


def encode_query_result(series: Sequence[SeriesData], extra: Labels = _NO_LABELS) -> bytes:
    """A QueryResult: per series its labels (plus `extra` labels it lacks), samples and
    native histogram samples."""
    if not series:
        return b""
    histograms = [b""] * len(series)
    if any(s.histograms is not None for s in series):
        split = [_histogram_fields(s) for s in series]
        series = [floats for floats, _ in split]
        histograms = [fields for _, fields in split]
    ts = np.concatenate([s.timestamps for s in series]).astype(np.int64, copy=False)
    vs = np.concatenate([s.values for s in series]).astype(np.float64, copy=False)
    blob, ends = _samples_bytes(ts, vs)
    counts = np.fromiter((len(s.timestamps) for s in series), dtype=np.int64, count=len(series))
    last = np.cumsum(counts)
    stops = np.concatenate([[0], ends])[last].tolist()
    starts = [0, *stops[:-1]]
    out = []
    for s, a, b, fields in zip(series, starts, stops, histograms, strict=True):
        labels = s.labels
        if extra:
            labels = Labels.from_dict({**dict(extra), **dict(labels)})
        out.append(_field(0x0A, encode_labels(labels) + blob[a:b] + fields))
    return b"".join(out)


def encode_read_response(results: Sequence[bytes]) -> bytes:
    """ReadResponse bytes from each query's encoded QueryResult, snappy-compressed."""
    raw = b"".join(_field(0x0A, result) for result in results)
    return bytes(cramjam.snappy.compress_raw(raw))


# --- the endpoint ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """`--storage.remote.read-sample-limit` and the external labels added to every series."""

    sample_limit: int = 50_000_000
    max_body_bytes: int = 32 << 20
    external_labels: Labels = _NO_LABELS


class ReadEndpoint:
    """`POST /api/v1/read` over the local storage."""

    def __init__(self, queryable: Queryable, options: Callable[[], ReadOptions]) -> None:
        """`options` is read per request (external labels change on config reload)."""
        self._queryable = queryable
        self._options = options

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/api/v1/read", self.read, methods=["POST"])]

    async def read(self, request: Request) -> Response:
        options = self._options()
        body = await read_capped(request, options.max_body_bytes)
        if body is None:
            return PlainTextResponse(
                f"request too large: more than {options.max_body_bytes} bytes", status_code=400
            )
        try:
            payload = await run_in_threadpool(self.answer, body, options)
        except ReadError as err:
            return PlainTextResponse(str(err), status_code=400)
        return Response(
            payload,
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
        )

    def answer(self, body: bytes, options: ReadOptions) -> bytes:
        request = decode_read_request(body)
        external = options.external_labels
        results: list[bytes] = []
        samples = 0
        for query in request.queries:
            matchers = _without_external(matchers_of(query), external)
            hints = SelectHints(step_ms=query.hints.step_ms, func=query.hints.func)
            querier = self._queryable(query.start_timestamp_ms, query.end_timestamp_ms)
            try:
                series = [s for s in querier.select(matchers, hints) if len(s.timestamps)]
            finally:
                querier.close()
            samples += sum(len(s.timestamps) for s in series)
            if samples > options.sample_limit:
                raise ReadError(f"exceeded sample limit ({options.sample_limit})")
            results.append(encode_query_result(series, external))
        return encode_read_response(results)


def _without_external(matchers: list[Matcher], external: Labels) -> list[Matcher]:
    """Prometheus's filterExtLabelsFromMatchers: stored series lack the external labels the
    response adds, so `name="its external value"` must match their absence."""
    values = dict(external)
    return [
        Matcher.of(m.name, "=", "")
        if m.type is MatchType.EQUAL and m.name in values and values[m.name] == m.value
        else m
        for m in matchers
    ]


# --- the client side ------------------------------------------------------------------------


class RemoteReadError(Exception):
    """A remote store that could not be read; the message names it and says why."""


class RemoteReadClient:
    """One `remote_read` entry: reads series over HTTP in Prometheus's SAMPLES format."""

    def __init__(self, config: RemoteReadConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.name = config.name or redact_url(config.url)
        self._client = client or sync_client(
            config.http_client, timeout=config.remote_timeout.milliseconds / 1000
        )

    def close(self) -> None:
        self._client.close()

    def wanted(self, matchers: Sequence[Matcher]) -> bool:
        """required_matchers: every one must appear as an equality matcher of the selector."""
        have = {(m.name, m.value) for m in matchers if m.type is MatchType.EQUAL}
        return all(pair in have for pair in self.config.required_matchers)

    def read(
        self, mint: int, maxt: int, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> list[SeriesData]:
        query = prompb.Query(
            start_timestamp_ms=mint,
            end_timestamp_ms=maxt,
            matchers=[
                prompb.LabelMatcher(type=_PB_TYPES[m.type.value], name=m.name, value=m.value)
                for m in matchers
            ],
            hints=prompb.ReadHints(
                start_ms=mint,
                end_ms=maxt,
                step_ms=hints.step_ms if hints else 0,
                func=hints.func if hints else "",
            ),
        )
        body = prompb.ReadRequest(
            queries=[query], accepted_response_types=[prompb.ReadRequest.SAMPLES]
        ).SerializeToString()
        where = f"remote_read {self.name}"
        try:
            response = self._client.post(
                self.config.url,
                content=bytes(cramjam.snappy.compress_raw(body)),
                headers={
                    "Content-Type": "application/x-protobuf",
                    "Content-Encoding": "snappy",
                    "X-Prometheus-Remote-Read-Version": "0.1.0",
                    **dict(self.config.headers),
                },
            )
        except httpx.HTTPError as err:
            raise RemoteReadError(f"{where}: {err or type(err).__name__}") from None
        if response.status_code // 100 != 2:
            raise RemoteReadError(
                f"{where}: HTTP {response.status_code}: {response.text[:200].strip()}"
            )
        try:
            decoded = prompb.ReadResponse.FromString(
                bytes(cramjam.snappy.decompress_raw(response.content))
            )
        except (cramjam.DecompressionError, DecodeError) as err:
            raise RemoteReadError(f"{where}: not a snappy ReadResponse: {err}") from None
        if len(decoded.results) != 1:
            raise RemoteReadError(f"{where}: {len(decoded.results)} results for 1 query")
        try:
            return [_series_data(ts) for ts in decoded.results[0].timeseries]
        except ValueError as err:
            raise RemoteReadError(f"{where}: a histogram does not decode: {err}") from None


def _series_data(ts: prompb.TimeSeries) -> SeriesData:
    labels = Labels.from_pairs((p.name, p.value) for p in ts.labels if p.value)
    samples = ts.samples
    n = len(samples)
    floats = SeriesData(
        labels,
        np.fromiter((s.timestamp for s in samples), dtype=np.int64, count=n),
        np.fromiter((s.value for s in samples), dtype=np.float64, count=n),
    )
    if not ts.histograms:
        return floats
    column = histogram_column(len(ts.histograms))
    column[:] = [from_prompb(h) for h in ts.histograms]
    held = SeriesData(
        labels,
        np.fromiter((h.timestamp for h in ts.histograms), np.int64, len(ts.histograms)),
        np.full(len(ts.histograms), np.nan),
        column,
    )
    return next(merge_series([[floats], [held]]))


def oldest_timestamp(tsdb: TSDB) -> int:
    """The local storage's start (Prometheus's StartTime): the oldest block's, else the head's."""
    return min([b.meta.mint for b in tsdb.blocks] + [tsdb.head.min_time])


class RemoteReadQueryable:
    """The engine's Queryable: the local storage, plus every remote_read store, merged."""

    def __init__(self, local: Queryable, local_start_ms: Callable[[], int]) -> None:
        """`local_start_ms()` is the oldest timestamp the local storage holds (for
        `read_recent: false`)."""
        self._local = local
        self._local_start_ms = local_start_ms
        self.clients: tuple[RemoteReadClient, ...] = ()

    def apply(self, configs: Sequence[RemoteReadConfig]) -> None:
        old, self.clients = self.clients, tuple(RemoteReadClient(c) for c in configs)
        for client in old:
            client.close()

    def close(self) -> None:
        self.apply(())

    def __call__(self, mint: int, maxt: int) -> Querier:
        local = self._local(mint, maxt)
        if not self.clients:
            return local
        remotes: list[tuple[RemoteReadClient, int]] = []
        start = self._local_start_ms()
        for client in self.clients:
            cmaxt = maxt
            if not client.config.read_recent:
                if mint > start:
                    continue
                cmaxt = min(maxt, start)
            remotes.append((client, cmaxt))
        return MergedQuerier(local, mint, remotes) if remotes else local


class MergedQuerier:
    """The local Querier's series with each remote's merged in (local samples win on equal
    timestamps); label names and values come from the local storage only, as in Prometheus."""

    def __init__(
        self, local: Querier, mint: int, remotes: Sequence[tuple[RemoteReadClient, int]]
    ) -> None:
        self._local = local
        self._mint = mint
        self._remotes = remotes

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterable[SeriesData]:
        merged = {s.labels: s for s in self._local.select(matchers, hints)}
        for remote in self._read_remotes(matchers, hints):
            for series in remote:
                have = merged.get(series.labels)
                merged[series.labels] = series if have is None else _merge(have, series)
        return [merged[labels] for labels in sorted(merged)]

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        """The engine's fast path: the remotes' batches, then the local one (which wins)."""
        remote = [SeriesBatch.of(series) for series in self._read_remotes(matchers, hints)]
        return merge_batches([*remote, self._local.select_batch(matchers, hints)])

    def _read_remotes(
        self, matchers: Sequence[Matcher], hints: SelectHints | None
    ) -> Iterable[list[SeriesData]]:
        for client, maxt in self._remotes:
            if not client.wanted(matchers):
                continue
            try:
                yield client.read(self._mint, maxt, matchers, hints)
            except RemoteReadError as err:
                log.warning("query without that store's data: %s", err)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self._local.label_names(matchers)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self._local.label_values(name, matchers)

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return self._local.series(matchers)

    def close(self) -> None:
        self._local.close()


def _merge(first: SeriesData, second: SeriesData) -> SeriesData:
    """Both series' samples in time order; on equal timestamps `first`'s sample is kept."""
    return next(merge_series([[second], [first]]))
