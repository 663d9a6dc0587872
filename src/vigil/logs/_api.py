"""The log store's two seams (see STYLE.md): ingest adapters hold a `LogAppender`; LogQL,
the Loki API and the explorer hold a `LogQuerier`.

Lines travel as columns, never as an object per line on the read path: a stream's entries
are one `Entries` value whose timestamps are an int64 numpy array (Unix nanoseconds) and
whose lines are one bytes blob with offsets, so filters scan whole blobs in C. The disk
store, a remote store or a test fake implement the same Protocols; `MemoryLogStore`, the
fake, lives here beside them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from vigil.model import Labels, Matcher, matches_all


@dataclass(frozen=True, slots=True)
class Lines:
    """A column of log lines: `data[offsets[i]:offsets[i+1]]` is line i (UTF-8 bytes)."""

    data: bytes
    offsets: npt.NDArray[np.int64]  # len(lines) + 1, offsets[0] == 0, non-decreasing

    @classmethod
    def of(cls, lines: Sequence[str | bytes]) -> Lines:
        raw = [line.encode() if isinstance(line, str) else line for line in lines]
        offsets = np.zeros(len(raw) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in raw], out=offsets[1:])
        return cls(b"".join(raw), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        return self.data[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def __iter__(self) -> Iterator[bytes]:
        data, bounds = self.data, self.offsets.tolist()
        return (data[a:b] for a, b in itertools.pairwise(bounds))

    def sizes(self) -> npt.NDArray[np.int64]:
        return np.diff(self.offsets)

    def take(self, indices: npt.NDArray[np.int64]) -> Lines:
        """The lines at `indices` (in that order), as a new column."""
        return Lines.of([self[int(i)] for i in indices])


@dataclass(frozen=True, slots=True)
class Entries:
    """Entries of one stream, ascending by timestamp (equal timestamps keep push order).

    `metadata` is Loki 3's structured metadata: per line a label set (empty when the line
    has none), or None when no line of the batch has any."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]  # Unix ns
    lines: Lines
    metadata: tuple[Labels, ...] | None = None

    def __len__(self) -> int:
        return len(self.timestamps)

    def take(self, indices: npt.NDArray[np.int64]) -> Entries:
        meta = None if self.metadata is None else tuple(self.metadata[int(i)] for i in indices)
        return Entries(self.labels, self.timestamps[indices], self.lines.take(indices), meta)


@dataclass(frozen=True, slots=True)
class Discarded:
    """Entries of one stream a push did not store, and why: `reason` is Loki's name for it
    (`line_too_long`, `rate_limited`, `stream_limit`, `per_stream_rate_limit`,
    `max_label_names_per_series`, `label_name_too_long`, `label_value_too_long`,
    `invalid_labels`, `duplicate_label_names`, `missing_labels`,
    `greater_than_max_sample_age`, `too_far_in_future`, `too_far_behind`); `message` names
    the limit and the offending stream or label, for the HTTP answer."""

    reason: str
    labels: Labels
    lines: int
    bytes: int
    message: str


RATE_LIMIT_REASONS = frozenset({"rate_limited", "per_stream_rate_limit", "stream_limit"})


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push stored. Accepted entries are stored even when others were discarded;
    the HTTP layer then answers 429 (a rate or stream limit) or 400 naming what was not."""

    accepted_lines: int
    accepted_bytes: int
    discarded: tuple[Discarded, ...] = ()

    def status(self) -> int:
        if not self.discarded:
            return 204
        if any(d.reason in RATE_LIMIT_REASONS for d in self.discarded):
            return 429
        return 400


class LogAppender(Protocol):
    def push(self, streams: Sequence[Entries]) -> PushResult:
        """Store a push: returns once what it accepted is in the WAL (durable by the store's
        fsync policy), so an acknowledged push survives `kill -9`. Entries of one stream may
        arrive in several `Entries` of the same push. Raises OSError when the store cannot
        write (a full disk): then nothing of this push is stored, and the caller answers 5xx
        so the shipper retries."""
        ...


@dataclass(frozen=True, slots=True)
class SelectHints:
    """What the caller will do with the lines; a store may use it to read less.

    `needles`: every line the caller keeps contains each of these byte strings, so a chunk
    or block that surely lacks one may be skipped (the caller still filters every line).
    `backward`: the caller wants the newest lines first (a limit query reading from the end).
    `skip`: asked with a batch's time bounds (inclusive, Unix ns) before it is read; True when
    the caller wants no entry in them any more (a limit query that holds `limit` newer lines),
    so a store may leave that batch unread, and every later batch of the same stream in the
    query's direction: a refusal is never taken back.
    """

    needles: tuple[bytes, ...] = ()
    backward: bool = False
    skip: Callable[[int, int], bool] | None = None


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """Entries of one series in each bucket `(edges[i], edges[i+1]]` of a `counts` call: how
    many, and the bytes of their lines. A series is a stream's labels with the structured
    metadata of its lines merged in (metadata wins a name both have; empty values left out),
    as a metric query without stages groups lines."""

    labels: Labels
    entries: npt.NDArray[np.int64]
    bytes: npt.NDArray[np.int64]


def series_labels(stream: Labels, metadata: Labels, by: Sequence[str] | None = None) -> Labels:
    """The series a line of `stream` with `metadata` counts in (see BucketCounts), only its
    labels named in `by` when given."""
    if by is None:
        if not metadata:
            return stream
        merged = {**dict(stream), **dict(metadata)}
        return Labels(sorted((k, v) for k, v in merged.items() if v))
    found = dict(metadata)
    return Labels(
        sorted((k, v) for k in set(by) if (v := found[k] if k in found else stream.get(k)))
    )


def count_entries(
    batches: Iterable[Entries], edges: npt.NDArray[np.int64], by: Sequence[str] | None = None
) -> Iterator[BucketCounts]:
    """`counts` over batches of entries, line by line: what a store without an index of its
    chunks answers (the seam's fake, test doubles)."""
    n = len(edges) - 1
    for batch in batches:
        bucket = np.searchsorted(edges, batch.timestamps, side="left") - 1
        inside = (bucket >= 0) & (bucket < n)
        sizes = batch.lines.sizes()
        meta = batch.metadata or (Labels(),) * len(batch)
        groups: dict[Labels, list[int]] = {}
        for i in np.flatnonzero(inside).tolist():
            groups.setdefault(series_labels(batch.labels, meta[i], by), []).append(i)
        for labels, rows in groups.items():
            at = np.array(rows, dtype=np.int64)
            yield BucketCounts(
                labels,
                np.bincount(bucket[at], minlength=n).astype(np.int64),
                np.bincount(bucket[at], weights=sizes[at], minlength=n).astype(np.int64),
            )


@dataclass(frozen=True, slots=True)
class IndexStats:
    """Loki's `/index/stats` answer for some streams over a time range."""

    streams: int = 0
    chunks: int = 0
    entries: int = 0
    bytes: int = 0


class LogQuerier(Protocol):
    """Read access over a fixed time range [mint_ns, maxt_ns] (inclusive)."""

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[Entries]:
        """The entries of the matching streams in range, lazily (a chunk is read when its
        batch is pulled). Grouped by stream, streams in label order; one stream may come as
        several batches, in time order (newest batch first with `hints.backward`; entries
        inside a batch always ascend). A batch is never empty."""
        ...

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        """Streams with entries in range, in label order."""
        ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def stats(self, matchers: Sequence[Matcher]) -> IndexStats: ...

    def counts(
        self,
        matchers: Sequence[Matcher],
        edges: npt.NDArray[np.int64],
        by: Sequence[str] | None = None,
    ) -> Iterator[BucketCounts]:
        """Per series (see BucketCounts) of the matching streams, its entries in range in each
        bucket `(edges[i], edges[i+1]]` of the ascending `edges`: what `count_over_time` and
        `bytes_over_time` without stages need, which a store may answer from its chunks'
        index without decoding them. With `by`, series keep only the labels it names (what
        `sum by (…)` around the count keeps). A series may come several times (add them up)."""
        ...

    def close(self) -> None: ...


class LogQueryable(Protocol):
    def querier(self, mint_ns: int, maxt_ns: int) -> LogQuerier: ...


class MemoryLogStore:
    """Streams kept as Python lists, no limits, no disk: the store of LogQL and API unit
    tests. Implements `LogAppender` and `LogQueryable`."""

    def __init__(self) -> None:
        self._streams: dict[Labels, _Stream] = {}

    def push(self, streams: Sequence[Entries]) -> PushResult:
        lines = size = 0
        for batch in streams:
            stream = self._streams.setdefault(batch.labels, _Stream())
            meta = batch.metadata or (Labels(),) * len(batch)
            for t, line, m in zip(batch.timestamps.tolist(), batch.lines, meta, strict=True):
                stream.rows.append((t, line, m))
                lines, size = lines + 1, size + len(line)
        return PushResult(lines, size)

    def querier(self, mint_ns: int, maxt_ns: int) -> LogQuerier:
        return _MemoryLogQuerier(self._streams, mint_ns, maxt_ns)


@dataclass(slots=True)
class _Stream:
    rows: list[tuple[int, bytes, Labels]] = field(default_factory=list)

    def entries(self, labels: Labels, mint: int, maxt: int) -> Entries | None:
        rows = sorted((r for r in self.rows if mint <= r[0] <= maxt), key=lambda r: r[0])
        if not rows:
            return None
        meta = tuple(r[2] for r in rows)
        return Entries(
            labels,
            np.array([r[0] for r in rows], dtype=np.int64),
            Lines.of([r[1] for r in rows]),
            meta if any(meta) else None,
        )


class _MemoryLogQuerier:
    def __init__(self, streams: dict[Labels, _Stream], mint: int, maxt: int) -> None:
        self._streams, self._mint, self._maxt = streams, mint, maxt

    def _selected(self, matchers: Sequence[Matcher]) -> Iterable[Entries]:
        for labels in sorted(self._streams):
            if matches_all(list(matchers), labels):
                entries = self._streams[labels].entries(labels, self._mint, self._maxt)
                if entries is not None:
                    yield entries

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[Entries]:
        return iter(list(self._selected(matchers)))

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [e.labels for e in self._selected(matchers)]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for labels in self.series(matchers) for n in labels.names()})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({labels.get(name) for labels in self.series(matchers)} - {""})

    def counts(
        self,
        matchers: Sequence[Matcher],
        edges: npt.NDArray[np.int64],
        by: Sequence[str] | None = None,
    ) -> Iterator[BucketCounts]:
        return count_entries(self._selected(matchers), edges, by)

    def stats(self, matchers: Sequence[Matcher]) -> IndexStats:
        found = list(self._selected(matchers))
        return IndexStats(
            streams=len(found),
            chunks=len(found),
            entries=sum(len(e) for e in found),
            bytes=sum(len(e.lines.data) for e in found),
        )

    def close(self) -> None:
        return None
