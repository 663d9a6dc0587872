"""Elasticsearch `_bulk` bodies (NDJSON: an action line, then the document for `index` and
`create`) as log entries: `@timestamp` is the time (RFC 3339 or epoch milliseconds; now when
absent), the message field is the line, the document's `_index` an `index` label, chosen
fields more labels, every other field structured metadata (nested objects flattened, names as
label names). Each action gets its own result, as Elasticsearch answers a bulk request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil.logs._api import PushResult
from vigil.logs.ingest.batch import IngestRejected, Push, PushBatch
from vigil.logs.ingest.discovery import Discovery
from vigil.logs.ingest.label_names import label_name
from vigil.logs.ingest.timestamps import rfc3339_ns
from vigil.model import Labels

_WRITES = ("index", "create")
_OTHER_ACTIONS = ("delete", "update")


@dataclass(frozen=True, slots=True)
class BulkOptions:
    """Which fields make the line and the stream: Elasticsearch has neither notion.
    `message_fields`: the first present is the line (else the document as JSON);
    `stream_fields`: become labels beside `index`."""

    message_fields: tuple[str, ...] = ("message",)
    stream_fields: tuple[str, ...] = ()
    time_field: str = "@timestamp"


@dataclass(slots=True)
class Item:
    """One action's outcome: `status` 201 when stored; else `error_type` and `reason`."""

    action: str
    index: str
    doc_id: str
    stream: Labels = field(default_factory=Labels)
    status: int = 201
    error_type: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Bulk:
    push: Push
    items: list[Item]


def decode(
    raw: bytes,
    default_index: str,
    options: BulkOptions,
    discovery: Discovery,
    now_ns: Callable[[], int],
) -> Bulk:
    """A body whose action lines are not JSON objects is refused whole (400); a document
    that cannot be read fails its own item only."""
    batch = PushBatch(discovery)
    items: list[Item] = []
    lines = raw.split(b"\n")
    position = 0
    while position < len(lines):
        action_line = lines[position].strip()
        position += 1
        if not action_line:
            continue
        action, meta = _action(action_line, position)
        index = str(meta.get("_index") or default_index)
        item = Item(action, index, str(meta.get("_id") or ""))
        items.append(item)
        if action in _OTHER_ACTIONS:
            if action == "update":
                position += 1
            _fail(item, 400, "action_request_validation_exception",
                  f"vigil stores logs: only index and create actions are supported, not {action}")  # fmt: skip
            continue
        if position >= len(lines) or not lines[position].strip():
            raise IngestRejected(
                400, f"line {position + 1}: the {action} action on line {position} has no document"
            )
        source = lines[position]
        position += 1
        if not index:
            _fail(item, 400, "action_request_validation_exception", "index is missing")
            continue
        try:
            document = orjson.loads(source)
        except orjson.JSONDecodeError as err:
            _fail(item, 400, "document_parsing_exception", f"failed to parse: {err}")
            continue
        if not isinstance(document, dict):
            _fail(item, 400, "document_parsing_exception", "the document is not an object")
            continue
        entry = _entry(document, index, options, now_ns)
        if isinstance(entry, str):
            _fail(item, 400, "document_parsing_exception", entry)
            continue
        labels, stamp, line, metadata = entry
        stream = batch.add_stream(labels, [stamp], [line], [metadata])
        if stream is None:
            _fail(item, 400, "illegal_argument_exception", batch.last_problem())
        else:
            item.stream = stream
    return Bulk(batch.push(), items)


def settle(items: list[Item], result: PushResult) -> None:
    """Mark the items of streams the store (or the decoder) refused entries of. The store
    says how many entries of a stream it refused, not which: all of that stream's items are
    marked, the reason saying how many of them were refused."""
    for discarded in result.discarded:
        status = 429 if result.status() == 429 and discarded.reason in _RATE_LIMITS else 400
        kind = "es_rejected_execution_exception" if status == 429 else "illegal_argument_exception"
        stream_items = [i for i in items if i.status == 201 and i.stream == discarded.labels]
        for item in stream_items:
            reason = discarded.message
            if discarded.lines < len(stream_items):
                reason += (
                    f" ({discarded.lines} of the {len(stream_items)} documents of this stream "
                    "in the request were refused)"
                )
            _fail(item, status, kind, reason)


_RATE_LIMITS = frozenset({"rate_limited", "per_stream_rate_limit", "stream_limit"})


def _fail(item: Item, status: int, error_type: str, reason: str) -> None:
    item.status, item.error_type, item.reason = status, error_type, reason


def _action(line: bytes, number: int) -> tuple[str, dict[str, Any]]:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise IngestRejected(400, f"line {number}: the action is not JSON: {err}") from None
    if not isinstance(parsed, dict) or len(parsed) != 1:
        raise IngestRejected(
            400, f'line {number}: expected an action object like {{"index": {{...}}}}'
        )
    ((action, meta),) = parsed.items()
    if action not in _WRITES + _OTHER_ACTIONS or not isinstance(meta, dict):
        raise IngestRejected(
            400,
            f"line {number}: unknown action [{action}], expected one of "
            "[create, delete, index, update]",
        )
    return action, meta


def _entry(
    document: dict[str, Any], index: str, options: BulkOptions, now_ns: Callable[[], int]
) -> tuple[Labels, int, bytes, Labels] | str:
    fields = dict(document)
    stamp = _time(fields.pop(options.time_field, None), now_ns)
    if stamp is None:
        return f"failed to parse field [{options.time_field}]: not a date"
    message_field = next((f for f in options.message_fields if f in fields), None)
    labels = {"index": index}
    for name in options.stream_fields:
        value = fields.pop(name, None)
        if value is not None and value != "":
            labels[label_name(name)] = _text(value)
    if message_field is None:
        return Labels.from_dict(labels), stamp, orjson.dumps(fields), Labels()
    line = _text(fields.pop(message_field)).encode()
    metadata: dict[str, str] = {}
    _flatten("", fields, metadata)
    return Labels.from_dict(labels), stamp, line, Labels.from_dict(metadata)


def _time(value: Any, now_ns: Callable[[], int]) -> int | None:
    if value is None:
        return now_ns()
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value * 1_000_000)
    if isinstance(value, str):
        if value.isdigit():
            return int(value) * 1_000_000
        return rfc3339_ns(value)
    return None


def _flatten(prefix: str, value: Any, into: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}_{key}" if prefix else str(key), inner, into)
        return
    if value is None or value == "":
        return
    into[label_name(prefix)] = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
