"""OpenMetrics 1.0.0 text, with every rule of the upstream parser test suite.

`strict=False` checks what Prometheus's scrape parser checks (the syntax, units as the
name's suffix, exemplars only on `_total` and `_bucket` samples), so a scrape takes what
Prometheus takes; `strict=True` (the default, `vigil check metrics`) also enforces the
suite's per-type rules: counter and bucket values, histogram shape, family grouping and
clashes, repeated metadata, timestamp order, exemplar placement by type and size.
Prometheus 3's quoted UTF-8 names are read as its parser reads them: `# TYPE "my.metric" gauge`,
`{"my.metric","label.x"="v"} 1` (the name anywhere in the braces), `name{"label.x"="v"} 1`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vigil.exposition._lexer import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    _Line,
    check_label_name,
    parse_float,
    unescape_lenient,
)
from vigil.exposition._types import Exemplar, MetricFamily, MetricType, ParseError, Sample
from vigil.model import Labels

_OM_TYPES = {t.value: t for t in MetricType}
_EXEMPLAR_MAX_CHARS = 128
# Timestamps (ms) beyond int64 are held at its ends; the smallest int64 means "none" in the
# scanner's columns, so the range starts one above it.
TIMESTAMP_MS_MIN = -(2**63) + 1
TIMESTAMP_MS_MAX = 2**63 - 1

_SUFFIXES: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("_total", "_created"),
    MetricType.GAUGE: ("",),
    MetricType.UNKNOWN: ("",),
    MetricType.STATESET: ("",),
    MetricType.INFO: ("_info",),
    MetricType.SUMMARY: ("", "_sum", "_count", "_created"),
    MetricType.HISTOGRAM: ("_bucket", "_sum", "_count", "_created"),
    MetricType.GAUGEHISTOGRAM: ("_bucket", "_gsum", "_gcount"),
}
EXEMPLAR_NAME_SUFFIXES = ("_total", "_bucket")  # where a scrape takes an exemplar
_EXEMPLAR_SUFFIX = {
    MetricType.COUNTER: "_total",
    MetricType.HISTOGRAM: "_bucket",
    MetricType.GAUGEHISTOGRAM: "_bucket",
}


def _om_float(token: str) -> float | None:
    """A number as OpenMetrics writes one: Go's float syntax, nothing hexadecimal."""
    return parse_float(token)


def _om_timestamp(token: str) -> float | None:
    value = parse_float(token)
    return None if value is None or not math.isfinite(value) else value


def timestamp_ms(seconds: float) -> int:
    """Milliseconds of an OpenMetrics timestamp, cut toward zero as Prometheus's `int64(ts *
    1000)` does (`1.0009` is 1000), held within int64 (`1.2e19` seconds parses, as the
    suite's `timestamps` case wants; storage then refuses it as out of bounds)."""
    return min(max(math.trunc(seconds * 1000), TIMESTAMP_MS_MIN), TIMESTAMP_MS_MAX)


@dataclass(slots=True)
class _Family:
    family: MetricFamily
    seen_kinds: set[str] = field(default_factory=set)
    # strict-mode state
    groups_done: set[Labels] = field(default_factory=set)
    group: Labels | None = None
    group_samples: list[Sample] = field(default_factory=list)
    last_ts: dict[tuple[str, Labels], float | None] = field(default_factory=dict)


class OpenMetricsParser:
    def __init__(self, text: str, *, strict: bool = True) -> None:
        self._text = text
        self._strict = strict
        self._families: list[MetricFamily] = []
        self._current: _Family | None = None
        self._reserved: set[str] = set()  # every name a family so far can use
        self._timestamps: list[float | None] = []

    def parse(self) -> list[MetricFamily]:
        text = self._text
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if not lines or lines[-1] != "# EOF":
            for index, raw in enumerate(lines):
                if raw == "# EOF":
                    raise ParseError(index + 2, 1, "unexpected text after '# EOF'")
            raise ParseError(len(lines) + 1, 1, "missing '# EOF' at the end of the body")
        for index in range(len(lines) - 1):
            line = _Line(lines[index], index + 1)
            if not line.text:
                raise line.error("blank lines are not allowed in OpenMetrics")
            if line.text[0] == "#":
                self._metadata(line)
            else:
                self._sample(line)
        self._close_family(len(lines))
        return self._families

    # --- metadata ----------------------------------------------------------------

    def _metadata(self, line: _Line) -> None:
        text = line.text
        if text == "# EOF":
            raise line.error("'# EOF' before the end of the body")
        parts = text.split(" ", 3)
        if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE", "UNIT"):
            raise line.error("expected '# HELP', '# TYPE', '# UNIT' or '# EOF'")
        kind = parts[1]
        line.pos = len(kind) + 3
        if line.peek() == '"':  # Prometheus 3's quoted UTF-8 name
            name = line.take_quoted(strict=False)
        else:
            name = line.take_regex(METRIC_NAME_RE)
            if not name or line.peek() not in ("", " "):
                raise line.error(f"invalid metric name {parts[2]!r}", len(kind) + 3)
        if line.at_end():
            raise line.error(f"expected a space and a value after '# {kind} {name}'", len(text))
        line.expect(" ", f"' ' after the metric name in '# {kind}'")
        value = text[line.pos :]
        fam = self._family_named(line, name, metadata=True)
        if kind in fam.seen_kinds and self._strict:
            raise line.error(f"second {kind} line for metric family {name!r}", 0)
        fam.seen_kinds.add(kind)
        family = fam.family
        if kind == "HELP":
            family.help = unescape_lenient(value)
        elif kind == "TYPE":
            mtype = _OM_TYPES.get(value)
            if mtype is None:
                raise line.error(
                    f"unknown metric type {value!r} (expected one of {', '.join(_OM_TYPES)})"
                )
            if (
                self._strict
                and "UNIT" in fam.seen_kinds
                and family.unit
                and mtype in (MetricType.INFO, MetricType.STATESET)
            ):
                raise line.error(f"a {mtype.value} cannot have a unit", 0)
            family.type = mtype
            self._reserve(line, family, mtype)
        else:
            if value and (not name.endswith("_" + value)):
                raise line.error(f"metric name {name!r} must end with its unit '_{value}'", 0)
            if self._strict and value and family.type in (MetricType.INFO, MetricType.STATESET):
                raise line.error(f"a {family.type.value} cannot have a unit", 0)
            family.unit = value

    def _family_named(self, line: _Line, name: str, *, metadata: bool) -> _Family:
        """The family a metadata line speaks of; a new name starts a new family."""
        cur = self._current
        if cur is not None and cur.family.name == name:
            if metadata and cur.family.samples and self._strict:
                raise line.error(f"metadata for {name!r} after its samples", 0)
            return cur
        if name in self._reserved and self._strict:
            raise line.error(f"metric family {name!r} clashes with an earlier family", 0)
        self._close_family(line.lineno)
        fam = _Family(MetricFamily(name))
        self._current = fam
        self._families.append(fam.family)
        self._reserve(line, fam.family, MetricType.UNKNOWN)
        return fam

    def _reserve(self, line: _Line, family: MetricFamily, mtype: MetricType) -> None:
        """Claim every sample name the family may use; a family may not use another's."""
        names = {family.name + suffix for suffix in _SUFFIXES[mtype]} - {family.name}
        if names & self._reserved and self._strict:
            raise line.error(f"metric family {family.name!r} clashes with an earlier family", 0)
        self._reserved |= names | {family.name}

    # --- samples -----------------------------------------------------------------

    def _sample(self, line: _Line) -> None:
        name = line.take_regex(METRIC_NAME_RE)
        if not name and line.peek() != "{":
            raise line.error("invalid metric name: expected a letter, '_', ':' or '{'")
        pairs: list[tuple[str, str]] = []
        if line.peek() == "{":
            line.pos += 1
            name = _labels_after_brace(line, name, pairs, name_inside=True)
        line.expect(" ", f"' ' after {name!r}")
        value_pos = line.pos
        token = _take_until_space(line)
        value = _om_float(token)
        if value is None:
            raise line.error(f"expected a number as value, got {token!r}", value_pos)
        ts: float | None = None
        exemplar: Exemplar | None = None
        if not line.at_end():
            line.expect(" ", "' ' after the value")
            if line.peek() != "#":
                ts_pos = line.pos
                token = _take_until_space(line)
                ts = _om_timestamp(token)
                if ts is None:
                    raise line.error(f"expected a timestamp (seconds), got {token!r}", ts_pos)
                if not line.at_end():
                    line.expect(" ", "' ' after the timestamp")
            if not line.at_end():
                exemplar = _exemplar(line, strict=self._strict)
                if not self._strict and not name.endswith(EXEMPLAR_NAME_SUFFIXES):
                    raise line.error(f"metric name {name!r} does not support exemplars", 0)
        labels = Labels.from_pairs(pairs) if len(pairs) > 1 else Labels(pairs)
        ts_ms = None if ts is None else timestamp_ms(ts)
        sample = Sample(name, labels, value, ts_ms, exemplar)
        fam = self._family_of_sample(line, name)
        if self._strict:
            self._check_sample(line, fam, sample, ts)
        fam.family.samples.append(sample)

    def _family_of_sample(self, line: _Line, name: str) -> _Family:
        cur = self._current
        if cur is not None:
            fam = cur.family
            for suffix in _SUFFIXES[fam.type]:
                if name == fam.name + suffix:
                    return cur
        return self._family_named(line, name, metadata=False)

    # --- per-type rules (strict) ----------------------------------------------------

    def _check_sample(self, line: _Line, fam: _Family, sample: Sample, ts: float | None) -> None:
        family = fam.family
        mtype = family.type
        suffix = sample.name[len(family.name) :]
        value = sample.value
        if sample.exemplar is not None and _EXEMPLAR_SUFFIX.get(mtype) != suffix:
            raise line.error(f"exemplars are not allowed on {sample.name!r} of a {mtype.value}")
        group = sample.labels
        if mtype in (MetricType.HISTOGRAM, MetricType.GAUGEHISTOGRAM) and suffix == "_bucket":
            le = dict(sample.labels).get("le")
            if le is None or parse_float(le) is None:
                raise line.error(f"{sample.name!r} needs an 'le' label holding a number")
            group = sample.labels.without("le")
        elif mtype is MetricType.SUMMARY and suffix == "":
            quantile = dict(sample.labels).get("quantile")
            q = None if quantile is None else parse_float(quantile)
            if q is None or not 0 <= q <= 1:
                raise line.error("a summary's quantile label must be a number from 0 to 1")
            if value < 0:
                raise line.error("a summary's quantile values must not be negative")
            group = sample.labels.without("quantile")
        elif mtype is MetricType.STATESET:
            if family.name not in sample.labels.names():
                raise line.error(f"a stateset's samples need a label named {family.name!r}")
            if value not in (0, 1):
                raise line.error("a stateset's values must be 0 or 1")
            group = sample.labels.without(family.name)
        elif mtype is MetricType.INFO and value != 1:
            raise line.error("an info metric's value must be 1")
        if mtype is MetricType.COUNTER and suffix == "_total" and not value >= 0:
            raise line.error("a counter's value must be a number >= 0")
        if suffix in ("_count", "_gcount", "_bucket") and not value >= 0:
            raise line.error(f"{sample.name!r} must be a number >= 0")
        if suffix in ("_sum", "_gsum") and math.isnan(value):
            raise line.error(f"{sample.name!r} must not be NaN")
        if mtype is MetricType.SUMMARY and suffix == "_sum" and value < 0:
            raise line.error(f"{sample.name!r} must not be negative")
        # Each label group is written in one piece, and each series' timestamps only grow.
        if group != fam.group:
            if group in fam.groups_done:
                raise line.error(f"samples of {family.name}{group} are not grouped together")
            self._close_group(fam, line.lineno)
            fam.group = group
        key = (sample.name, sample.labels)
        if key in fam.last_ts:
            last = fam.last_ts[key]
            if last is None or ts is None:
                raise line.error(
                    f"{sample.name}{sample.labels} written twice"
                    + ("" if ts is None and last is None else " with and without a timestamp")
                )
            if ts < last:
                raise line.error(f"timestamps of {sample.name}{sample.labels} go backwards")
        fam.last_ts[key] = ts
        fam.group_samples.append(sample)

    def _close_family(self, lineno: int) -> None:
        cur = self._current
        if cur is not None and self._strict:
            self._close_group(cur, lineno)
        self._current = None

    def _close_group(self, fam: _Family, lineno: int) -> None:
        if fam.group is None:
            return
        fam.groups_done.add(fam.group)
        samples, fam.group_samples = fam.group_samples, []
        mtype = fam.family.type
        if mtype in (MetricType.HISTOGRAM, MetricType.GAUGEHISTOGRAM):
            _check_histogram(fam.family, samples, lineno)


def _check_histogram(family: MetricFamily, samples: list[Sample], lineno: int) -> None:
    """Buckets ascending and cumulative, a +Inf bucket, and _count/_sum as the type wants."""
    gauge = family.type is MetricType.GAUGEHISTOGRAM
    count_name = family.name + ("_gcount" if gauge else "_count")
    sum_name = family.name + ("_gsum" if gauge else "_sum")
    bucket_name = family.name + "_bucket"

    def fail(message: str) -> ParseError:
        return ParseError(lineno, 0, f"histogram {family.name}: {message}")

    bounds: list[float] = []
    counts: list[float] = []
    inf_count: float | None = None
    count = total = None
    for s in samples:
        if s.name == bucket_name:
            le = s.labels.get("le")
            bound = float(le)
            if bounds and bound <= bounds[-1]:
                raise fail("buckets must be in increasing 'le' order")
            if counts and s.value < counts[-1]:
                raise fail("bucket counts must not decrease")
            bounds.append(bound)
            counts.append(s.value)
            if le == "+Inf":
                inf_count = s.value
        elif s.name == count_name:
            count = s.value
        elif s.name == sum_name:
            total = s.value
    if inf_count is None:
        raise fail('needs a bucket with le="+Inf"')
    if (count is None) != (total is None):
        raise fail(f"{count_name} and {sum_name} come together or not at all")
    if count is not None and count != inf_count:
        raise fail(f"{count_name} must equal the +Inf bucket")
    negative = bool(bounds) and bounds[0] < 0
    if total is not None:
        if negative and not gauge:
            raise fail("a histogram with negative buckets must not have a _sum")
        if not negative and total < 0:
            raise fail(f"{sum_name} must not be negative")


def _exemplar(line: _Line, *, strict: bool) -> Exemplar:
    start = line.pos
    line.expect("#", "'#' to start an exemplar")
    line.expect(" ", "' ' after '#'")
    line.expect("{", "'{' to open the exemplar's labels")
    pairs: list[tuple[str, str]] = []
    _labels_after_brace(line, "exemplar", pairs)
    if strict and sum(len(k) + len(v) for k, v in pairs) > _EXEMPLAR_MAX_CHARS:
        raise line.error(f"exemplar labels exceed {_EXEMPLAR_MAX_CHARS} characters", start)
    line.expect(" ", "' ' after the exemplar's labels")
    value_pos = line.pos
    token = _take_until_space(line)
    value = _om_float(token)
    if value is None:
        raise line.error(f"expected a number as exemplar value, got {token!r}", value_pos)
    ts = None
    if not line.at_end():
        line.expect(" ", "' ' after the exemplar value")
        ts_pos = line.pos
        token = _take_until_space(line)
        ts = _om_timestamp(token)
        if ts is None:
            raise line.error(f"expected an exemplar timestamp, got {token!r}", ts_pos)
        if not line.at_end():
            raise line.error("unexpected text after the exemplar")
    return Exemplar(Labels.from_pairs(pairs), value, ts)


def exemplar_is_valid(text: str) -> bool:
    """Whether `{labels} value [timestamp]` (what follows ` # ` on a sample line) is an
    exemplar a scrape accepts."""
    try:
        _exemplar(_Line("# " + text, 1), strict=False)
    except ParseError:
        return False
    return True


def _labels_after_brace(
    line: _Line, metric: str, pairs: list[tuple[str, str]], *, name_inside: bool = False
) -> str:
    """The label pairs after an opening '{' (cursor past it), in OpenMetrics' strict syntax;
    returns the metric name. Label names may be quoted (Prometheus 3's UTF-8 names), and with
    `name_inside` a quoted string without `=` is the metric name (`{"my.metric",a="b"}`)."""
    seen: set[str] = set()
    if line.peek() == "}":
        line.pos += 1
        return _named(line, metric)
    while True:
        pos = line.pos
        if line.peek() == '"':
            label = line.take_quoted(strict=False)
            if name_inside and line.peek() in (",", "}"):
                if metric:
                    raise line.error(f"metric name given twice: {metric!r} and {label!r}", pos)
                metric = label
                char = line.peek()
                line.pos += 1
                if char == "}":
                    return metric
                continue
        else:
            label = line.take_regex(LABEL_NAME_RE)
        if not label:
            raise line.error(f"invalid label name for metric {metric!r}")
        if line.peek() != "=":
            raise line.error(f"expected '=' after label name {label!r}, found {_found(line)}")
        line.pos += 1
        if line.peek() != '"':
            raise line.error(f"expected '\"' at start of label value, found {_found(line)}")
        value = line.take_quoted(strict=False)
        check_label_name(line, label, metric, seen, pos)
        pairs.append((label, value))
        char = line.peek()
        line.pos += 1
        if char == "}":
            return _named(line, metric)
        if char != ",":
            raise line.error(
                f"expected ',' or '}}' after label value, found {_show(char)}", line.pos - 1
            )
        if line.peek() == "}":
            raise line.error("trailing ',' in label set")


def _named(line: _Line, metric: str) -> str:
    if not metric:
        raise line.error("metric name not set: no name before '{' or quoted inside it")
    return metric


def _take_until_space(line: _Line) -> str:
    start = line.pos
    end = line.text.find(" ", start)
    line.pos = len(line.text) if end < 0 else end
    return line.text[start : line.pos]


def _found(line: _Line) -> str:
    return _show(line.peek())


def _show(char: str) -> str:
    return "end of line" if not char else repr(char)


def parse_openmetrics(text: str, *, strict: bool = True) -> list[MetricFamily]:
    """Families of an OpenMetrics body; raises ParseError naming line and column."""
    return OpenMetricsParser(text, strict=strict).parse()
