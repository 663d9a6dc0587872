"""Prometheus's promqltest script format, run against vigil's engine over the in-memory
storage (`vigil.tsdb.MemoryStorage`).

Native histogram samples load and compare in upstream's notation
(`{{schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2 1] offset:1 n_buckets:[..]
n_offset:.. custom_values:[..] counter_reset_hint:gauge}}`, with `{{a}}+{{b}}xN`, `{{a}}-{{b}}xN`
and `{{a}}xN`), compared as upstream does: compacted layouts, counts within its epsilon, the
counter reset hint ignored. `load_with_nhcb` loads the classic series and their custom-bucket
twins (`vigil.model.nhcb`). Cases on experimental syntax (and on start timestamps, which
vigil does not load) are reported as skipped. vigil emits no annotations yet, so
`expect warn`/`expect info` lines are not checked.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field

from vigil.config.duration import Duration
from vigil.model import METRIC_NAME, Labels
from vigil.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span
from vigil.model.nhcb import NHCBError, classic_to_nhcb
from vigil.model.regex import Anchor, Regex, RegexError
from vigil.promql.engine import Engine, EngineOptions
from vigil.promql.errors import PromQLError, UnsupportedFeatureError
from vigil.promql.value import Matrix, QueryValue, Sample, Scalar, String, Vector
from vigil.tsdb import STALE_NAN, MemoryStorage

# --- script parsing --------------------------------------------------------------------------


def _duration_ms(text: str) -> int:
    return Duration.parse(text).milliseconds


_SERIES_LINE = re.compile(r"\s*(?P<metric>[^{\s]*)\s*(?P<labels>\{.*\})?\s*(?P<values>.*)$")
_LABEL_PAIR = re.compile(
    r'\s*(?:"(?P<qname>(?:[^"\\]|\\.)*)"|(?P<name>[A-Za-z_:][\w:.]*))\s*(?:=\s*"(?P<value>(?:[^"\\]|\\.)*)")?\s*,?'
)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def parse_series_labels(metric: str, braces: str | None) -> Labels:
    pairs: dict[str, str] = {}
    if metric:
        pairs[METRIC_NAME] = metric
    if braces:
        body = braces[1:-1]
        pos = 0
        while pos < len(body):
            m = _LABEL_PAIR.match(body, pos)
            if m is None or m.end() == pos:
                break
            pos = m.end()
            name = _unquote(m.group("qname")) if m.group("qname") is not None else m.group("name")
            if m.group("value") is None:
                pairs[METRIC_NAME] = name
            else:
                pairs[name] = _unquote(m.group("value"))
    return Labels.from_dict(pairs)


def _split_series_line(line: str) -> tuple[Labels, list[str]]:
    text = line.strip()
    first = text.split(None, 1)[0] if text else ""
    if "{" in first and not first.startswith("{{"):
        depth, in_str, end = 0, False, 0
        for i, ch in enumerate(text):
            if ch == '"' and (i == 0 or text[i - 1] != "\\"):
                in_str = not in_str
            elif not in_str and ch == "{":
                depth += 1
            elif not in_str and ch == "}":
                depth -= 1
                if depth == 0:
                    end = i + 1
                    break
        head, rest = text[:end], text[end:]
        brace = head.index("{")
        return parse_series_labels(head[:brace], head[brace:]), value_tokens(rest)
    parts = text.split(None, 1)
    return parse_series_labels(parts[0], None), (value_tokens(parts[1]) if len(parts) > 1 else [])


def value_tokens(text: str) -> list[str]:
    """The value items of a series line: whitespace-separated, a `{{...}}` literal (and what
    is glued to it, as in `{{a}}+{{b}}x3`) being one item."""
    out: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        start = pos
        while pos < n and not text[pos].isspace():
            if text.startswith("{{", pos):
                close = text.find("}}", pos)
                if close < 0:
                    raise ValueError(f"unterminated histogram in {text!r}")
                pos = close + 2
            else:
                pos += 1
        out.append(text[start:pos])
    return out


_HINTS = {
    "unknown": CounterResetHint.UNKNOWN,
    "reset": CounterResetHint.COUNTER_RESET,
    "not_reset": CounterResetHint.NOT_COUNTER_RESET,
    "gauge": CounterResetHint.GAUGE,
}
_HISTOGRAM_FIELD = re.compile(r"\s*([a-z_]+):\s*(\[[^\]]*\]|\S+)")


def parse_histogram(text: str) -> FloatHistogram:
    """One `{{...}}` literal."""
    body = text.strip()[2:-2]
    fields: dict[str, str] = {}
    pos = 0
    while body[pos:].strip():
        m = _HISTOGRAM_FIELD.match(body, pos)
        if m is None:
            raise ValueError(f"cannot parse histogram {text!r}")
        fields[m.group(1)] = m.group(2)
        pos = m.end()

    def number(name: str, default: float = 0.0) -> float:
        return _number(fields[name]) if name in fields else default

    def numbers(name: str) -> tuple[float, ...]:
        return tuple(_number(v) for v in fields.get(name, "[]")[1:-1].split())

    def spans(buckets: tuple[float, ...], offset: str) -> tuple[Span, ...]:
        return (Span(int(number(offset)), len(buckets)),) if buckets else ()

    positive, negative = numbers("buckets"), numbers("n_buckets")
    hint = fields.get("counter_reset_hint", "unknown")
    if hint not in _HINTS:
        raise ValueError(f"unknown counter_reset_hint {hint!r} in {text!r}")
    return FloatHistogram(
        schema=int(number("schema")),
        zero_threshold=number("z_bucket_w"),
        zero_count=number("z_bucket"),
        count=number("count"),
        sum=number("sum"),
        positive_spans=spans(positive, "offset"),
        positive_buckets=positive,
        negative_spans=spans(negative, "n_offset"),
        negative_buckets=negative,
        counter_reset_hint=_HINTS[hint],
        custom_values=numbers("custom_values"),
    )


_HISTOGRAM_SERIES = re.compile(
    r"(?P<start>\{\{.*?\}\})(?:(?P<sign>[-+])(?P<step>\{\{.*?\}\}))?(?:x(?P<times>\d+))?$"
)


def _histogram_values(token: str) -> list[FloatHistogram]:
    m = _HISTOGRAM_SERIES.match(token)
    if m is None:
        raise ValueError(f"cannot parse histogram series {token!r}")
    current = parse_histogram(m.group("start"))
    times = int(m.group("times")) if m.group("times") else 0
    if m.group("step") is None:
        return [current] * (times + 1) if m.group("times") else [current]
    step = parse_histogram(m.group("step"))
    out = [current]
    for _ in range(times):
        if current.schema > step.schema and current.schema != CUSTOM_BUCKETS_SCHEMA:
            raise ValueError(f"cannot merge from schema {step.schema} to {current.schema}")
        current = current.add(step) if m.group("sign") == "+" else current.sub(step)
        out.append(current)
    return out


_NUMBER = (
    r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Inf|inf|NaN|nan|0x[0-9a-fA-F]+)"
)
_EXPAND = re.compile(rf"(?P<start>{_NUMBER})(?:(?P<sign>[-+])(?P<step>{_NUMBER}))?x(?P<times>\d+)$")


def _number(text: str) -> float:
    if text.lower().lstrip("+-").startswith("0x"):
        return float(int(text, 16))
    return float(text)


Value = float | FloatHistogram | None


def expand_values(tokens: list[str]) -> list[Value]:
    """`1+2x3 _ stale _x2 5 {{count:1}}x2` → values (None = no sample)."""
    out: list[Value] = []
    for token in tokens:
        if token.startswith("{{"):
            out.extend(_histogram_values(token))
        elif token == "_":
            out.append(None)
        elif token == "stale":
            out.append(STALE_NAN)
        elif token.startswith("_x"):
            out.extend([None] * int(token[2:]))
        elif token.startswith("stalex"):
            out.extend([STALE_NAN] * int(token[6:]))
        elif (m := _EXPAND.match(token)) is not None:
            start = _number(m.group("start"))
            step = _number(m.group("step")) if m.group("step") else 0.0
            if m.group("sign") == "-":
                step = -step
            out.extend(start + i * step for i in range(int(m.group("times")) + 1))
        else:
            out.append(_number(token))
    return out


@dataclass
class Case:
    line: int
    query: str
    start_ms: int
    end_ms: int
    step_ms: int
    instant: bool
    expected: list[tuple[Labels, list[Value]]] = field(default_factory=list)
    scalar: float | None = None
    string: str | None = None
    fail: bool = False
    fail_msg: str | None = None
    fail_regex: Regex | None = None
    ordered: bool = False
    range_vector: tuple[int, int, int] | None = None
    skip_reason: str | None = None
    raw_expected: list[str] = field(default_factory=list)


@dataclass
class FileReport:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)


_EXPERIMENTAL_QUERY = re.compile(
    r"[<>]/|\banchored\b|\bsmoothed\b|\bfill(_left|_right)?\s*\(|@\s*st\b|__type__|__unit__|\binfo\s*\("
)
_METRIC_NAMES = re.compile(r"[A-Za-z_:][\w:]*")


def run_script(text: str, name: str = "<script>") -> FileReport:
    """Run one promqltest script; every `eval` is one case."""
    report = FileReport(name)
    storage = MemoryStorage()
    engine = Engine(
        storage.queryable,
        EngineOptions(lookback_delta_ms=300_000, timeout_s=None, default_subquery_step_ms=60_000),
    )
    native_metrics: set[str] = set()
    float_metrics: set[str] = set()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped == "clear":
            storage.clear()
            native_metrics.clear()
            float_metrics.clear()
            continue
        body: list[str] = []
        while i < len(lines) and lines[i].strip() and (lines[i][0] in " \t"):
            if not lines[i].strip().startswith("#"):
                body.append(lines[i])
            i += 1
        if stripped.startswith("load"):
            _load(storage, stripped, body, native_metrics, float_metrics)
            continue
        if stripped.startswith("eval"):
            case = _parse_case(stripped, body, i - len(body))
            _judge(engine, case, native_metrics - float_metrics, native_metrics, report)
    return report


def _load(
    storage: MemoryStorage, header: str, body: list[str], native: set[str], floats: set[str]
) -> None:
    parts = header.split()
    interval = _duration_ms(parts[1])
    loaded: list[tuple[Labels, list[Value]]] = []
    for line in body:
        labels, tokens = _split_series_line(line)
        name = labels.get(METRIC_NAME)
        if labels.get("__type__") or labels.get("__unit__") or "@" in name:
            native.add(name.split("@")[0])  # start timestamps (`@st`): not loaded yet
            continue
        try:
            values = expand_values(tokens)
        except ValueError:  # notation vigil does not load yet (start timestamps)
            native.add(labels.get(METRIC_NAME))
            continue
        floats.add(labels.get(METRIC_NAME))
        loaded.append((labels, values))
    if header.startswith("load_with_nhcb"):
        loaded += nhcb_twins(loaded)
    for labels, values in loaded:
        for n, value in enumerate(values):
            if value is not None:
                storage.add(labels, n * interval, value)


def nhcb_twins(series: list[tuple[Labels, list[Value]]]) -> list[tuple[Labels, list[Value]]]:
    """`load_with_nhcb`: beside the classic `_bucket`/`_count`/`_sum` series, their NHCB
    twin named without the suffix, a sample wherever every part of the histogram has one."""
    groups: dict[Labels, _ClassicParts] = {}
    for labels, values in series:
        name = labels.get(METRIC_NAME)
        base, _, suffix = name.rpartition("_")
        if suffix not in ("bucket", "count", "sum") or (suffix == "bucket") != (
            "le" in dict(labels)
        ):
            continue
        key = labels.without("le").with_label(METRIC_NAME, base)
        parts = groups.setdefault(key, _ClassicParts({}, None, None))
        if suffix == "bucket":
            parts.buckets[_number(labels.get("le"))] = values
        elif suffix == "count":
            parts.count = values
        else:
            parts.sum = values
    return [(key, parts.twin()) for key, parts in groups.items() if parts.buckets]


def _is_stale(value: float) -> bool:
    return struct.pack("<d", value) == struct.pack("<d", STALE_NAN)


@dataclass(slots=True)
class _ClassicParts:
    buckets: dict[float, list[Value]]
    count: list[Value] | None
    sum: list[Value] | None

    def twin(self) -> list[Value]:
        columns = [*self.buckets.values(), *(c for c in (self.count, self.sum) if c is not None)]
        out: list[Value] = []
        for n in range(max(len(c) for c in columns)):
            at = [c[n] if n < len(c) else None for c in columns]
            if any(v is None or isinstance(v, FloatHistogram) for v in at):
                out.append(None)
            elif any(_is_stale(v) for v in at if isinstance(v, float)):
                out.append(STALE_NAN)
            else:
                out.append(self._histogram(n))
        return out

    def _histogram(self, n: int) -> Value:
        def at(column: list[Value] | None) -> float | None:
            value = None if column is None else column[n]
            return value if isinstance(value, float) else None

        try:
            return classic_to_nhcb(
                {le: float(col[n]) for le, col in self.buckets.items()},  # type: ignore[arg-type]
                at(self.count),
                at(self.sum),
            )
        except NHCBError:
            return None


_EVAL_INSTANT = re.compile(
    r"eval(?:_(?P<kind>fail|ordered|warn|info))?\s+instant\s+at\s+(?P<t>\S+)\s+(?P<q>.*)$"
)
_EVAL_RANGE = re.compile(
    r"eval(?:_(?P<kind>fail|ordered|warn|info))?\s+range\s+from\s+(?P<a>\S+)\s+to\s+(?P<b>\S+)\s+step\s+(?P<s>\S+)\s+(?P<q>.*)$"
)


def _parse_case(header: str, body: list[str], line: int) -> Case:
    m = _EVAL_INSTANT.match(header)
    if m is not None:
        t = _duration_ms(m.group("t"))
        case = Case(line, m.group("q"), t, t, 1, True)
    else:
        m = _EVAL_RANGE.match(header)
        if m is None:
            raise ValueError(f"line {line}: cannot parse {header!r}")
        case = Case(
            line,
            m.group("q"),
            _duration_ms(m.group("a")),
            _duration_ms(m.group("b")),
            _duration_ms(m.group("s")),
            False,
        )
    kind = m.group("kind")
    case.fail = kind == "fail"
    case.ordered = kind == "ordered"
    for raw in body:
        text = raw.strip()
        case.raw_expected.append(text)
        if text.startswith("expect"):
            _parse_expect(case, text[len("expect") :].strip())
            continue
        labels, tokens = _split_series_line(text)
        if not tokens and re.fullmatch(_NUMBER, text):
            case.scalar = _number(text)
            continue
        case.expected.append((labels, expand_values(tokens)))
    return case


def _parse_expect(case: Case, text: str) -> None:
    if text.startswith("fail"):
        case.fail = True
        rest = text[4:].strip()
        if rest.startswith("msg:"):
            case.fail_msg = rest[4:].strip()
        elif rest.startswith("regex:"):
            try:
                case.fail_regex = Regex(rest[6:].strip(), Anchor.SEARCH)
            except RegexError as err:
                raise ValueError(f"line {case.line}: {err}") from err
    elif text == "ordered":
        case.ordered = True
    elif text.startswith("string"):
        literal = text[6:].strip()
        case.string = literal[1:-1]
    elif text.startswith("range vector"):
        m = re.match(r"range vector from (\S+) to (\S+) step (\S+)", text)
        assert m is not None
        case.range_vector = (
            _duration_ms(m.group(1)),
            _duration_ms(m.group(2)),
            _duration_ms(m.group(3)),
        )


def _skip_reason(case: Case, native: set[str]) -> str | None:
    if case.skip_reason:
        return case.skip_reason
    if _EXPERIMENTAL_QUERY.search(case.query):
        return "experimental syntax"
    names = set(_METRIC_NAMES.findall(case.query))
    if names & native:
        return "series vigil cannot load yet"
    return None


def _judge(
    engine: Engine, case: Case, native: set[str], native_any: set[str], report: FileReport
) -> None:
    """Run one case. A failing case that reads series vigil cannot load as upstream does
    (converted at ingestion) counts as skipped, not failed."""
    if _skip_reason(case, native) is not None:
        report.skipped += 1
        return
    try:
        if case.instant:
            result = engine.instant_query(case.query, case.start_ms).value
        else:
            result = engine.range_query(case.query, case.start_ms, case.end_ms, case.step_ms).value
    except UnsupportedFeatureError:
        report.skipped += 1
        return
    except PromQLError as err:
        problem = _check_error(case, str(err))
    else:
        problem = "expected failure, got a result" if case.fail else _check_value(case, result)
    if problem is None:
        report.passed += 1
    elif set(_METRIC_NAMES.findall(case.query)) & native_any:
        report.skipped += 1
    else:
        report.failed += 1
        report.failures.append(f"{report.name}:{case.line}: {case.query}: {problem}")


def _check_error(case: Case, message: str) -> str | None:
    if not case.fail:
        return f"unexpected error: {message}"
    if case.fail_msg is not None and message != case.fail_msg:
        return f"error {message!r}, want {case.fail_msg!r}"
    if case.fail_regex is not None and not case.fail_regex.matches(message):
        return f"error {message!r} does not match {case.fail_regex.text!r}"
    return None


def almost_equal(a: float, b: float, epsilon: float = 1e-6) -> bool:
    """Upstream's `almost.Equal`: relative epsilon, and NaN equals NaN."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    min_normal = 2.2250738585072014e-308
    if a == 0 or b == 0 or abs_sum < min_normal:
        return diff < epsilon * min_normal
    return diff / min(abs_sum, 1.7976931348623157e308) < epsilon


def _check_value(case: Case, result: QueryValue) -> str | None:
    if case.string is not None:
        if not isinstance(result, String) or result.value != case.string:
            return f"got {result!r}, want string {case.string!r}"
        return None
    if case.scalar is not None:
        if not isinstance(result, Scalar) or not almost_equal(result.value, case.scalar):
            return f"got {result!r}, want scalar {case.scalar}"
        return None
    if isinstance(result, Vector):
        return _check_vector(case, result)
    if isinstance(result, Matrix):
        if case.instant and case.range_vector is None:
            return "got a range vector"
        return _check_matrix(case, result)
    if isinstance(result, Scalar):
        if case.expected and len(case.expected) == 1 and case.expected[0][1]:
            value = case.expected[0][1][0]
            if value is not None and same_value(result.value, value):
                return None
        return f"got scalar {result.value}, want {case.raw_expected}"
    return f"unexpected result {result!r}"


def same_value(got: float | FloatHistogram, want: Value) -> bool:
    """Upstream's comparison: floats within its epsilon; histograms compacted, with the same
    schema, zero threshold, custom bounds and layout, and counts within the epsilon."""
    if want is None:
        return False
    if isinstance(got, FloatHistogram) != isinstance(want, FloatHistogram):
        return False
    if not isinstance(got, FloatHistogram) or not isinstance(want, FloatHistogram):
        assert not isinstance(got, FloatHistogram) and not isinstance(want, FloatHistogram)
        return almost_equal(got, want)
    g, w = got.compact(), want.compact()
    if (g.schema, g.zero_threshold) != (w.schema, w.zero_threshold):
        return False
    if w.uses_custom_buckets and g.custom_values != w.custom_values:
        return False
    if not all(almost_equal(a, b) for a, b in ((g.count, w.count), (g.sum, w.sum))):
        return False
    if not almost_equal(g.zero_count, w.zero_count):
        return False
    for mine, theirs in ((g.positive(), w.positive()), (g.negative(), w.negative())):
        if mine.keys() != theirs.keys():
            return False
        if not all(almost_equal(mine[i], theirs[i]) for i in mine):
            return False
    return True


def _shown(value: float | FloatHistogram | None) -> str:
    return histogram_text(value) if isinstance(value, FloatHistogram) else str(value)


def histogram_text(h: FloatHistogram) -> str:
    """A histogram (compacted) in a form close to upstream's test notation, for messages."""
    c = h.compact()
    return (
        f"{{{{schema:{c.schema} count:{c.count} sum:{c.sum} z_bucket:{c.zero_count} "
        f"z_bucket_w:{c.zero_threshold} buckets:{c.positive()} n_buckets:{c.negative()}}}}}"
    )


def _sample_value(sample: Sample) -> float | FloatHistogram:
    return sample.histogram if sample.histogram is not None else sample.value


def _check_vector(case: Case, result: Vector) -> str | None:
    want = [(lbls, vals[0] if vals else None) for lbls, vals in case.expected]
    if len(want) != len(result.samples):
        shown = ", ".join(f"{s.labels} {_shown(_sample_value(s))}" for s in result.samples)
        return f"got {len(result.samples)} samples [{shown}], want {len(want)}"
    if case.ordered:
        for (lbls, value), sample in zip(want, result.samples, strict=True):
            got_value = _sample_value(sample)
            if lbls != sample.labels or not same_value(got_value, value):
                return (
                    f"order/value mismatch: got {sample.labels} {_shown(got_value)}, "
                    f"want {lbls} {_shown(value)}"
                )
        return None
    got = {s.labels: _sample_value(s) for s in result.samples}
    for lbls, value in want:
        if lbls not in got:
            return f"missing {lbls}; got {list(got)}"
        if not same_value(got[lbls], value):
            return f"{lbls}: got {_shown(got[lbls])}, want {_shown(value)}"
    return None


def _check_matrix(case: Case, result: Matrix) -> str | None:
    start, _end, step = case.range_vector or (case.start_ms, case.end_ms, case.step_ms)
    got = {s.labels: s for s in result.series}
    if len(got) != len(case.expected):
        return f"got {len(got)} series {list(got)}, want {len(case.expected)}"
    for lbls, values in case.expected:
        series = got.get(lbls)
        if series is None:
            return f"missing {lbls}; got {list(got)}"
        want_points = [(start + i * step, v) for i, v in enumerate(values) if v is not None]
        got_points: list[tuple[int, float | FloatHistogram]] = sorted(
            [
                *zip(series.timestamps.tolist(), series.values.tolist(), strict=True),
                *series.histograms,
            ],
            key=lambda p: p[0],
        )
        shown = f"got {[(t, _shown(v)) for t, v in got_points]}, want {[(t, _shown(v)) for t, v in want_points]}"
        if len(got_points) != len(want_points):
            return f"{lbls}: {shown}"
        for (gt, gv), (wt, wv) in zip(got_points, want_points, strict=True):
            if gt != wt or not same_value(gv, wv):
                return f"{lbls}: {shown}"
    return None
