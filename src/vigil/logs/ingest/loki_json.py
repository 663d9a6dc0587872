"""Loki's JSON push bodies: the v1 form (`/loki/api/v1/push`)
`{"streams": [{"stream": {labels}, "values": [["<ns>", "line", {metadata}?], ...]}]}` and the
legacy form (`/api/prom/push`) `{"streams": [{"labels": "{...}", "entries": [{"ts":
"<RFC 3339>", "line": "..."}]}]}`. A body that is not one of them is refused whole, saying
where: nothing of it is stored."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from vigil.logs._api import Lines
from vigil.logs.ingest.batch import IngestRejected, Push, PushBatch
from vigil.logs.ingest.discovery import Discovery
from vigil.logs.ingest.selector import SelectorError, parse_labels
from vigil.logs.ingest.timestamps import rfc3339_ns
from vigil.model import Labels

_NO_METADATA = Labels()
_INT64 = re.compile(r"-?[0-9]{1,19}\Z")


def _bad(message: str) -> IngestRejected:
    return IngestRejected(400, message)


def _document(raw: bytes) -> list[Any]:
    """The body's `streams` array; invalid UTF-8 and malformed JSON are refused."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if "utf-8" in str(err).lower() or "surrogate" in str(err).lower():
            raise _bad(f"body is not valid UTF-8 JSON: {err}") from None
        raise _bad(f"body is not valid JSON: {err}") from None
    if not isinstance(document, dict) or not isinstance(document.get("streams", []), list):
        raise _bad('body is not a push request: expected {"streams": [...]}')
    streams: list[Any] = document.get("streams", [])
    return streams


def decode_v1(raw: bytes, discovery: Discovery) -> Push:
    batch = PushBatch(discovery)
    for index, stream in enumerate(_document(raw)):
        where = f"streams[{index}]"
        if not isinstance(stream, dict):
            raise _bad(f"{where} is not an object")
        labels = _label_map(stream.get("stream", {}), f"{where}.stream")
        values = stream.get("values", [])
        if not isinstance(values, list):
            raise _bad(f"{where}.values is not an array")
        plain = _plain_values(values)
        if plain is not None:
            batch.add_column(labels, *plain, None)
            continue
        stamps: list[int] = []
        lines: list[bytes] = []
        metadata: list[Labels] = []
        for row, value in enumerate(values):
            at = f"{where}.values[{row}]"
            if not isinstance(value, list) or len(value) not in (2, 3):
                raise _bad(
                    f'{at}: an entry is ["<unix ns>", "<line>"] or with a third '
                    "element, an object of structured metadata"
                )
            stamps.append(_ns(value[0], at))
            if not isinstance(value[1], str):
                raise _bad(f"{at}: the line is a {_kind(value[1])}, not a string")
            lines.append(value[1].encode())
            metadata.append(
                _label_map(value[2], f"{at} structured metadata")
                if len(value) == 3
                else _NO_METADATA
            )
        batch.add_stream(labels, stamps, lines, metadata)
    return batch.push()


def _plain_values(values: list[Any]) -> tuple[npt.NDArray[np.int64], Lines] | None:
    """The usual `values`, every entry ["<unix ns>", "<line>"] with a timestamp of digits
    that fits int64, as columns: checked and converted by calls over the whole column, not a
    Python step per entry. None for anything else (then each entry is checked, for errors
    that say where)."""
    if not values or set(map(type, values)) != {list} or set(map(len, values)) != {2}:
        return None
    stamps, lines = zip(*values, strict=True)
    if set(map(type, stamps)) != {str} or set(map(type, lines)) != {str}:
        return None
    digits = "".join(stamps)
    widths = np.fromiter(map(len, stamps), dtype=np.int64, count=len(stamps))
    if not (digits.isascii() and digits.isdigit()) or widths.min() < 1 or widths.max() > 19:
        return None
    unsigned = np.fromiter(map(int, stamps), dtype=np.uint64, count=len(stamps))  # < 10**19
    if (unsigned > np.uint64(2**63 - 1)).any():
        return None
    timestamps = unsigned.view(np.int64)
    text = "".join(lines)
    if text.isascii():
        sizes = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        data = text.encode()
    else:
        encoded = list(map(str.encode, lines))
        sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(lines))
        data = b"".join(encoded)
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return timestamps, Lines(data, offsets)


def decode_legacy(raw: bytes, discovery: Discovery) -> Push:
    batch = PushBatch(discovery)
    for index, stream in enumerate(_document(raw)):
        where = f"streams[{index}]"
        if not isinstance(stream, dict) or not isinstance(stream.get("labels", ""), str):
            raise _bad(f'{where}: expected {{"labels": "{{...}}", "entries": [...]}}')
        try:
            labels = parse_labels(stream.get("labels", "{}"))
        except SelectorError as err:
            raise _bad(f"{where}.labels: {err}") from None
        entries = stream.get("entries", [])
        if not isinstance(entries, list):
            raise _bad(f"{where}.entries is not an array")
        stamps: list[int] = []
        lines: list[bytes] = []
        for row, entry in enumerate(entries):
            at = f"{where}.entries[{row}]"
            if not isinstance(entry, dict):
                raise _bad(f'{at}: expected {{"ts": "<RFC 3339>", "line": "..."}}')
            ts = entry.get("ts")
            stamp = rfc3339_ns(ts) if isinstance(ts, str) else None
            if stamp is None:
                raise _bad(
                    f"{at}: timestamp {ts!r} is not RFC 3339 (e.g. 2024-05-01T12:00:00.123456789Z)"
                )
            stamps.append(stamp)
            line = entry.get("line", "")
            if not isinstance(line, str):
                raise _bad(f"{at}: the line is a {_kind(line)}, not a string")
            lines.append(line.encode())
        batch.add_stream(labels, stamps, lines, [_NO_METADATA] * len(lines))
    return batch.push()


def _label_map(value: Any, where: str) -> Labels:
    if not isinstance(value, dict):
        raise _bad(f"{where} is not an object of string values")
    for name, text in value.items():
        if not isinstance(text, str):
            raise _bad(f"{where}: the value of {name!r} is a {_kind(text)}, not a string")
    return Labels.from_dict({k: v for k, v in value.items() if v})


def _ns(value: Any, where: str) -> int:
    if not isinstance(value, str):
        raise _bad(
            f"{where}: the timestamp is a {_kind(value)}; Loki's push API wants a string of "
            'Unix nanoseconds, e.g. "1700000000000000000"'
        )
    if _INT64.match(value) is None or not -(2**63) <= int(value) < 2**63:
        raise _bad(f"{where}: timestamp {value!r} is not a 64-bit integer of Unix nanoseconds")
    return int(value)


def _kind(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
