"""The scrape hot path: a body to (series text, value, timestamp) columns in a few C calls.

A scrape of a well-formed body never runs Python code per sample: one `re.findall` over
the body, one numpy cast for the values, and one `map` over a `SeriesCache` that parses
a series' labels only the first time it is seen (Prometheus's scrape cache does the
same). Anything the fast expression does not accept is read again by the line parsers,
which either accept it (rare spellings such as `1e3` timestamps or quoted UTF-8 names)
or raise the `ParseError` that names the line and column.

Scrape semantics are Prometheus's scrape parser's: syntax and metadata are checked;
promtool's family-level checks (TYPE after samples, duplicate HELP) are not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
import numpy.typing as npt

from vigil.exposition._lexer import METRIC_NAME_RE, _Line
from vigil.exposition._types import Format, MetricFamily, MetricType, ParseError
from vigil.exposition.layout import Layout, layout_of, values_if_same
from vigil.exposition.openmetrics import (
    EXEMPLAR_NAME_SUFFIXES,
    OpenMetricsParser,
    exemplar_is_valid,
    timestamp_ms,
)
from vigil.exposition.openmetrics import _labels_after_brace as _om_labels
from vigil.exposition.render import series_text
from vigil.exposition.text import TextParser, parse_label_block, unescape_label_value
from vigil.model import Labels

NO_TIMESTAMP = np.iinfo(np.int64).min

_VALUE = rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN"
# Series text is taken loosely (name, then everything up to the last '}'): a series seen
# before was valid then, and a new one is checked in full by SeriesCache before use.
_SERIES = rb"[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^\n]*\})?"
_TEXT_LINE = re.compile(
    rb"^(" + _SERIES + rb")(?:(?<=\}) ?| )(" + _VALUE + rb")(?: ([0-9]{1,18}))?$", re.M
)
_OM_TIMESTAMP = rb"(?: (-?[0-9]{1,12}(?:\.[0-9]{1,9})?))?"
_OM_LINE = re.compile(rb"^(" + _SERIES + rb") (" + _VALUE + rb")" + _OM_TIMESTAMP + rb"$", re.M)
# A slice holding ` # {` may have exemplars (` # {...} v`) after the value: there the series
# ends at the first '}' outside quotes, and the exemplar is captured to be checked.
_OM_QUOTED_SERIES = rb'[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"\n}]++|"(?:[^"\\\n]++|\\.)*+")*+\})?'
_OM_EXEMPLAR_LINE = re.compile(
    rb"^(" + _OM_QUOTED_SERIES + rb") (" + _VALUE + rb")" + _OM_TIMESTAMP + rb"(?: # (\{[^\n]*))?$",
    re.M,
)
_COMMENT = re.compile(rb"\n(#[^\n]*)")  # searched in b"\n" + body: a literal prefix is fast


_first, _second, _third, _fourth = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)


@dataclass(frozen=True, slots=True)
class FamilyMetadata:
    type: MetricType = MetricType.UNKNOWN
    help: str | None = None
    unit: str | None = None


@dataclass(slots=True)
class ScrapeBatch:
    """One scrape's samples as columns. `timestamps` holds NO_TIMESTAMP where a line had none.
    `histograms` (protobuf bodies only) is None or, like SeriesData's, an object column
    holding a native histogram where the sample is one (its value a NaN placeholder).
    When a body has the same series in the same order as the last one read through the same
    SeriesCache, `series`, `labels` and `metadata` are that batch's very objects, so a caller
    may keep what it derived from them, keyed on `series`'s identity."""

    series: list[bytes]
    values: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.int64]
    metadata: dict[str, FamilyMetadata] = field(default_factory=dict)
    labels: list[tuple[str, Labels]] = field(default_factory=list)
    histograms: npt.NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.series)


def detect_format(body: bytes) -> Format:
    """OpenMetrics when the body ends with `# EOF` (what `--format=auto` means)."""
    return Format.OPENMETRICS if body.rstrip(b"\n").endswith(b"# EOF") else Format.TEXT


class SampleLimitReached(Exception):
    """More samples than the caller allows; `seen` counts those read before reading stopped."""

    def __init__(self, seen: int) -> None:
        super().__init__("sample limit exceeded")
        self.seen = seen


def scan(body: bytes, fmt: Format, cache: SeriesCache | None = None) -> ScrapeBatch:
    """Read a scrape body; raises ParseError (line, column, what was expected).

    Every series is checked through `cache` (a fresh one when none is given), so a batch
    that comes back is whole: no sample of a broken body is ever handed on.
    """
    steps = scan_steps(body, fmt, cache)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            batch: ScrapeBatch = done.value
            return batch


def scan_steps(
    body: bytes, fmt: Format, cache: SeriesCache | None = None, max_samples: int = 0
) -> Generator[None, None, ScrapeBatch]:
    """`scan`, one slice of about a megabyte at a time: it pauses (yields) after each, so a
    caller on an event loop can serve others between slices, or stop at any pause. Raises
    SampleLimitReached as soon as more than `max_samples` (when > 0) have been read."""
    cache = cache if cache is not None else SeriesCache(fmt)
    same = yield from _scan_same_series(body, cache, max_samples)
    if same is not None:
        return same
    fast = _scan_openmetrics_fast if fmt is Format.OPENMETRICS else _scan_text_fast
    batch = yield from fast(body, cache, max_samples)
    if batch is None:
        batch = _scan_slow(body, fmt)
        if max_samples and len(batch) > max_samples:
            raise SampleLimitReached(len(batch))
        labels: list[tuple[str, Labels]] = []
        for start in range(0, len(batch), _SERIES_PER_STEP):
            labels += _resolve(body, cache, batch.series[start : start + _SERIES_PER_STEP])
            yield
        batch.labels = labels
    return batch


_SLICE_BYTES = 1 << 20
_NO_LENGTHS: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
_SERIES_PER_STEP = 16384


def _slices(body: bytes) -> Iterator[bytes]:
    """The body in pieces of about _SLICE_BYTES, each cut after a newline."""
    if len(body) <= _SLICE_BYTES:
        if body:
            yield body
        return
    start = 0
    while start < len(body):
        cut = body.find(b"\n", start + _SLICE_BYTES - 1) + 1
        end = cut if cut > 0 else len(body)
        yield body[start:end]
        start = end


def _resolve(body: bytes, cache: SeriesCache, series: list[bytes]) -> list[tuple[str, Labels]]:
    try:
        return cache.resolve(series)
    except _SeriesError as err:
        offset = body.find(err.series)
        line = body.count(b"\n", 0, offset) + 1
        col = offset - (body.rfind(b"\n", 0, offset) + 1) + err.col
        raise ParseError(line, col, err.message) from None


def _scan_same_series(
    body: bytes, cache: SeriesCache, max_samples: int
) -> Generator[None, None, ScrapeBatch | None]:
    """The batch of a body with the last one's series in the same order (their objects, new
    values), or None when its shape differs or it holds more than `max_samples`."""
    last = cache.last
    cache.last = None
    if last is None or not body:
        return None
    layout, batch = last
    if max_samples and len(batch) > max_samples:
        return None
    values = values_if_same(np.frombuffer(_with_newline(body), dtype=np.uint8), layout)
    yield
    if values is None:
        return None
    timestamps = np.full(len(values), NO_TIMESTAMP, dtype=np.int64)
    same = ScrapeBatch(batch.series, values, timestamps, batch.metadata, batch.labels)
    cache.last = layout, same
    return same


def _with_newline(body: bytes) -> bytes:
    return body if body.endswith(b"\n") else body + b"\n"


def _scan_text_fast(
    body: bytes, cache: SeriesCache, max_samples: int
) -> Generator[None, None, ScrapeBatch | None]:
    if body and not body.endswith(b"\n"):
        body += b"\n"  # a scrape takes a last line without its newline, as Prometheus does
    pieces = _Pieces()
    comments = yield from _scan_lines(body, _TEXT_LINE, _ms_from_int, cache, max_samples, pieces)
    if comments is None:
        return None
    metadata = cache.metadata(comments, _text_metadata)
    if metadata is None:
        return None
    return pieces.remembered(body, metadata, cache)


def _scan_openmetrics_fast(
    body: bytes, cache: SeriesCache, max_samples: int
) -> Generator[None, None, ScrapeBatch | None]:
    if not (
        body.endswith(b"\n# EOF\n") or body.endswith(b"\n# EOF") or body in (b"# EOF", b"# EOF\n")
    ):
        return None
    pieces = _Pieces()
    comments = yield from _scan_lines(
        body, _OM_LINE, _ms_from_seconds, cache, max_samples, pieces, _OM_EXEMPLAR_LINE
    )
    if comments is None:
        return None
    metadata = cache.metadata(comments, _openmetrics_metadata)
    if metadata is None:
        return None  # the line parser names the body's line
    return pieces.remembered(body, metadata, cache)


def _openmetrics_metadata(comments: list[bytes]) -> dict[str, FamilyMetadata] | None:
    try:
        families = OpenMetricsParser(
            b"\n".join(comments).decode("utf-8", "replace") + "\n", strict=False
        ).parse()
    except ParseError:
        return None
    return {f.name: FamilyMetadata(f.type, f.help, f.unit) for f in families}


@dataclass(slots=True)
class _Pieces:
    """Columns of the slices read so far."""

    series: list[bytes] = field(default_factory=list)
    values: list[npt.NDArray[np.float64]] = field(default_factory=list)
    timestamps: list[npt.NDArray[np.int64]] = field(default_factory=list)
    labels: list[tuple[str, Labels]] = field(default_factory=list)
    value_lengths: list[npt.NDArray[np.int64]] = field(default_factory=list)
    plain: bool = True  # no timestamps, no exemplars: the body's layout can be remembered

    def remembered(
        self, body: bytes, metadata: dict[str, FamilyMetadata], cache: SeriesCache
    ) -> ScrapeBatch:
        """The batch, kept in `cache` with the body's layout when it has one."""
        batch = self.batch(metadata)
        if self.plain:
            lengths = np.concatenate(self.value_lengths) if self.value_lengths else _NO_LENGTHS
            layout = layout_of(np.frombuffer(_with_newline(body), dtype=np.uint8), lengths)
            if layout is not None:
                cache.last = layout, batch
        return batch

    def batch(self, metadata: dict[str, FamilyMetadata]) -> ScrapeBatch:
        if len(self.values) == 1:
            values, timestamps = self.values[0], self.timestamps[0]
        elif self.values:
            values, timestamps = np.concatenate(self.values), np.concatenate(self.timestamps)
        else:
            values, timestamps = np.empty(0), np.empty(0, dtype=np.int64)
        return ScrapeBatch(self.series, values, timestamps, metadata, self.labels)


def _scan_lines(
    body: bytes,
    line_re: re.Pattern[bytes],
    timestamps_of: Callable[[list[bytes]], npt.NDArray[np.int64]],
    cache: SeriesCache,
    max_samples: int,
    pieces: _Pieces,
    exemplar_re: re.Pattern[bytes] | None = None,
) -> Generator[None, None, list[bytes] | None]:
    """Sample lines into `pieces`, slice by slice; the comment lines, or None when a line
    needs the line parsers (a blank, indented or broken line, or a value beyond float64)."""
    comments: list[bytes] = []
    for piece in _slices(body):
        pattern = line_re if exemplar_re is None or b" # {" not in piece else exemplar_re
        rows = pattern.findall(piece)
        found = _COMMENT.findall(b"\n" + piece)
        lines = piece.count(b"\n") + (0 if piece.endswith(b"\n") else 1)
        if len(rows) + len(found) != lines or b"\n\n" in piece:
            return None
        comments += found
        if not rows:
            continue
        if max_samples and len(pieces.series) + len(rows) > max_samples:
            raise SampleLimitReached(len(pieces.series) + len(rows))
        columns = _columns(rows, timestamps_of)
        if columns is None:
            return None
        series, values, timestamps = columns
        pieces.value_lengths.append(np.fromiter(map(len, map(_second, rows)), np.int64, len(rows)))
        pieces.plain &= int(timestamps.max()) == NO_TIMESTAMP and not (
            len(rows[0]) > 3 and any(map(_fourth, rows))
        )
        pieces.labels += _resolve(body, cache, series)
        pieces.series += series
        pieces.values.append(values)
        pieces.timestamps.append(timestamps)
        yield
    return comments


def _text_metadata(comments: list[bytes]) -> dict[str, FamilyMetadata] | None:
    if not comments:
        return {}
    parser = TextParser(
        "\n".join(c.decode("utf-8", "replace") for c in comments) + "\n", strict=False
    )
    try:
        parser.parse()
    except ParseError:
        return None
    return {name: FamilyMetadata(f.type, f.help) for name, f in parser.metadata().items()}


def _ms_from_int(tokens: list[bytes]) -> npt.NDArray[np.int64]:
    return np.array([int(t) if t else NO_TIMESTAMP for t in tokens], dtype=np.int64)


def _ms_from_seconds(tokens: list[bytes]) -> npt.NDArray[np.int64]:
    return np.array([timestamp_ms(float(t)) if t else NO_TIMESTAMP for t in tokens], dtype=np.int64)


def _columns(
    rows: list[tuple[bytes, ...]],
    timestamps_of: Callable[[list[bytes]], npt.NDArray[np.int64]],
) -> tuple[list[bytes], npt.NDArray[np.float64], npt.NDArray[np.int64]] | None:
    series = list(map(_first, rows))
    value_tokens = list(map(_second, rows))
    ts_tokens = list(map(_third, rows))
    values = np.fromiter(map(float, value_tokens), dtype=np.float64, count=len(rows))
    if _beyond_float64(values, value_tokens):
        return None  # the line parser reports it
    if (
        len(rows[0]) > 3
        and any(exemplars := list(map(_fourth, rows)))
        and not all(
            _exemplar_allowed(name, e) for name, e in zip(series, exemplars, strict=True) if e
        )
    ):
        return None  # the line parser names the line and column
    if any(ts_tokens):
        timestamps = timestamps_of(ts_tokens)
    else:
        timestamps = np.full(len(series), NO_TIMESTAMP, dtype=np.int64)
    return series, values, timestamps


def _beyond_float64(values: npt.NDArray[np.float64], tokens: list[bytes]) -> bool:
    """Whether a token is a literal too large for float64 (read as an infinity)."""
    return bool(np.isinf(values).any()) and any(
        np.isinf(v) and not t.lstrip(b"+-").startswith(b"I")
        for v, t in zip(values, tokens, strict=True)
    )


def _exemplar_allowed(series: bytes, exemplar: bytes) -> bool:
    name = series.split(b"{", 1)[0].decode("ascii")
    return name.endswith(EXEMPLAR_NAME_SUFFIXES) and exemplar_is_valid(
        exemplar.decode("utf-8", "replace")
    )


def _scan_slow(body: bytes, fmt: Format) -> ScrapeBatch:
    text = decode_body(body)
    families: list[MetricFamily]
    if fmt is Format.OPENMETRICS:
        families = OpenMetricsParser(text, strict=False).parse()
    else:
        parser = TextParser(text, strict=False)
        families = parser.parse()
    series: list[bytes] = []
    values: list[float] = []
    timestamps: list[int] = []
    for family in families:
        for s in family.samples:
            series.append(series_text(s.name, s.labels).encode("utf-8"))
            values.append(s.value)
            timestamps.append(NO_TIMESTAMP if s.timestamp_ms is None else s.timestamp_ms)
    metadata = {f.name: FamilyMetadata(f.type, f.help, f.unit) for f in families}
    return ScrapeBatch(
        series,
        np.array(values, dtype=np.float64),
        np.array(timestamps, dtype=np.int64),
        metadata,
    )


def decode_body(body: bytes) -> str:
    """UTF-8 text of a body, or a ParseError naming the line and column of the bad byte."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        before = body[: err.start]
        line = before.count(b"\n") + 1
        col = err.start - (before.rfind(b"\n") + 1) + 1
        raise ParseError(line, col, f"invalid UTF-8 byte 0x{body[err.start]:02x}") from None


# What `resolve` gives for a settled series: valid, its labels no longer kept.
SETTLED: tuple[str, Labels] = ("", Labels())


class SeriesCache:
    """Series text → (metric name, labels), parsed once per distinct series.

    Kept by a scrape loop across scrapes of one target: a body with the last one's series in
    the same order is read by its layout (`last`), others cost one dict lookup per sample.
    A caller that keeps what it derived from a series' labels (a TSDB ref) `settle`s it.
    """

    def __init__(self, fmt: Format) -> None:
        self._fmt = fmt
        self._parsed: dict[bytes, tuple[str, Labels]] = {}
        # one object per distinct label pair and metric name, shared by the series holding it
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        self._names: dict[str, str] = {}
        self._comments: list[bytes] | None = None
        self._metadata: dict[str, FamilyMetadata] | None = None
        self.last: tuple[Layout, ScrapeBatch] | None = None  # the last body read, if plain

    def metadata(
        self,
        comments: list[bytes],
        parse: Callable[[list[bytes]], dict[str, FamilyMetadata] | None],
    ) -> dict[str, FamilyMetadata] | None:
        """The families' metadata from a scrape's comment lines: parsed again only when they
        differ from the last scrape's (HELP and TYPE lines seldom change)."""
        if comments != self._comments:
            self._comments, self._metadata = comments, parse(comments)
        return self._metadata

    def __len__(self) -> int:
        return len(self._parsed)

    def resolve(self, series: Iterable[bytes]) -> list[tuple[str, Labels]]:
        series = list(series)
        found = list(map(self._parsed.get, series))
        if None in found:
            missing = [index for index, entry in enumerate(found) if entry is None]
            parsed = self._parse_many([series[index] for index in missing])
            for index, entry in zip(missing, parsed, strict=True):
                found[index] = entry
        return found  # type: ignore[return-value]

    def _parse_many(self, raws: list[bytes]) -> list[tuple[str, Labels]]:
        """New series checked in one regex pass over their joined text (a target's first
        scrape); anything unusual (escapes, a label twice, errors) goes through `_parse`."""
        text = b"\n".join(raws).decode("utf-8", "replace")
        heads = _BATCH_SERIES.findall(text)
        if len(heads) != len(raws) or "\\" in text or "\ufffd" in text:
            return [self._parse(raw) for raw in raws]
        out: list[tuple[str, Labels]] = []
        pairs_of = _PLAIN_PAIR.findall
        shared_pair, shared_name = self._pairs.setdefault, self._names.setdefault
        for raw, (name, block) in zip(raws, heads, strict=True):
            found = pairs_of(block) if block else []
            pairs = list(map(shared_pair, found, found))
            if len(pairs) > 1:
                names = dict(pairs)
                if len(names) != len(pairs) or "__name__" in names:
                    out.append(self._parse(raw))  # raises, naming the label
                    continue
                pairs.sort()
            elif pairs and pairs[0][0] == "__name__":
                out.append(self._parse(raw))
                continue
            entry = (shared_name(name, name), Labels(pairs))
            self._parsed[raw] = entry
            out.append(entry)
        return out

    def settle(self, series: Iterable[bytes]) -> None:
        """Forget these series' labels, and every shared pair (later series parse their own):
        they stay known as valid, resolved as SETTLED, and the last batch's labels of them too."""
        parsed = self._parsed
        for raw in series:
            if raw in parsed:
                parsed[raw] = SETTLED
        self._pairs, self._names = {}, {}
        if self.last is not None:
            batch = self.last[1]
            batch.labels = list(map(parsed.get, batch.series, batch.labels))

    def retain(self, series: Iterable[bytes]) -> None:
        """Forget series not in this scrape (Prometheus drops cache entries the same way)."""
        keep = set(series)
        self._parsed = {k: v for k, v in self._parsed.items() if k in keep}
        self._pairs, self._names = {}, {}

    def _parse(self, raw: bytes) -> tuple[str, Labels]:
        entry = self._parsed.get(raw)
        if entry is None:
            try:
                entry = parse_series(raw.decode("utf-8"), self._fmt)
            except ParseError as err:
                raise _SeriesError(raw, err.col, err.message) from None
            self._parsed[raw] = entry
        return entry


class _SeriesError(Exception):
    def __init__(self, series: bytes, col: int, message: str) -> None:
        super().__init__(message)
        self.series = series
        self.col = col
        self.message = message


_STRICT_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_STRICT_SERIES = re.compile(
    rf"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{((?:{_STRICT_LABEL}(?:,{_STRICT_LABEL})*)?)\}})?\Z"
)
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_BATCH_SERIES = re.compile(
    rf"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{((?:{_STRICT_LABEL}(?:,{_STRICT_LABEL})*)?)\}})?$", re.M
)
_PLAIN_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')  # values without escapes


def parse_series(text: str, fmt: Format) -> tuple[str, Labels]:
    """`name{a="b"}` (as written in a body) to its name and labels."""
    m = _STRICT_SERIES.match(text)
    if m is not None:
        name, block = m.groups()
        if not block:
            return name, Labels()
        found = _PAIR.findall(block)
        if "\\" in block:
            found = [(k, unescape_label_value(v)) for k, v in found]
        names = dict(found)
        if len(names) == len(found) and "__name__" not in names:
            found.sort()
            return name, Labels(found)
    line = _Line(text, 0)
    name = line.take_regex(METRIC_NAME_RE)
    pairs: list[tuple[str, str]] = []
    if line.peek() == "{":
        line.pos += 1
        if fmt is Format.OPENMETRICS:
            name = _om_labels(line, name, pairs, name_inside=True)
        else:
            name = parse_label_block(line, name, pairs, strict=False)
    if not line.at_end() or not name:
        raise line.error(f"not a series: {text!r}")
    return name, Labels.from_pairs(pairs) if len(pairs) > 1 else Labels(pairs)
