"""Loki 3's `X-Loki-Response-Encoding-Flags: categorize-labels` (Grafana sends it): a log
query's streams keep only their stream labels, and each entry carries the rest as a third
value, `{"structuredMetadata": {...}}` or `{"parsed": {...}}`, so Grafana filters on them
with a label filter instead of the stream selector.

The engine answers with every label folded into a stream's labels; the stream labels are
recovered as the largest of the selector's streams (`series`) contained in them. What is
left is parsed when the query has a parser or label_format stage, else structured
metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from vigil.logs.logql import ast
from vigil.logs.logql.result import Stream
from vigil.model import Labels

FLAG = "categorize-labels"
_PARSING = (
    ast.JsonParser,
    ast.LogfmtParser,
    ast.RegexpParser,
    ast.PatternParser,
    ast.UnpackParser,
    ast.LabelFormat,
)


def wanted(headers: Mapping[str, str]) -> bool:
    flags = headers.get("x-loki-response-encoding-flags", "")
    return FLAG in (flag.strip() for flag in flags.split(","))


def category(query: ast.LogQuery) -> str:
    """Where a query's non-stream labels come from."""
    parsing = any(isinstance(stage, _PARSING) for stage in query.stages)
    return "parsed" if parsing else "structuredMetadata"


def _stream_labels(labels: Labels, series: Sequence[Labels]) -> Labels:
    pairs = set(labels)
    contained = [s for s in series if pairs.issuperset(s)]
    return max(contained, key=len, default=Labels())


def categorized_json(
    streams: Sequence[Stream], series: Sequence[Labels], kind: str, backward: bool
) -> bytes:
    """The `result` of a streams answer, grouped by stream labels, each entry
    `["<ns>", "<line>", {kind: {...}}]` (two values when it has no other labels)."""
    grouped: dict[Labels, list[tuple[int, int, list[object]]]] = {}
    order = 0
    for stream in streams:
        base = _stream_labels(stream.labels, series)
        names = set(base.names())
        extra = {k: v for k, v in stream.labels if k not in names}
        rows = grouped.setdefault(base, [])
        for t, line in zip(stream.timestamps.tolist(), stream.lines, strict=True):
            value: list[object] = [str(t), line, {kind: extra}] if extra else [str(t), line]
            rows.append((t, order, value))
            order += 1
    result = []
    for labels in sorted(grouped):
        rows = sorted(grouped[labels], key=lambda r: (-r[0] if backward else r[0], r[1]))
        result.append({"stream": dict(labels), "values": [value for _, _, value in rows]})
    return orjson.dumps(result)
