"""Prometheus's promqltest script format, run against vigil's engine over the in-memory
storage (`vigil.tsdb.MemoryStorage`).

Cases on native histograms and on experimental syntax are reported as skipped. vigil emits no
annotations yet, so `expect warn`/`expect info` lines are not checked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from vigil.config.duration import Duration
from vigil.model import METRIC_NAME, Labels
from vigil.model.regex import Anchor, Regex, RegexError
from vigil.promql.engine import Engine, EngineOptions
from vigil.promql.errors import PromQLError, UnsupportedFeatureError
from vigil.promql.value import Matrix, QueryValue, Scalar, String, Vector
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
    if text.startswith("{") or "{" in text.split(" ")[0]:
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
        return parse_series_labels(head[:brace], head[brace:]), rest.split()
    parts = text.split(None, 1)
    return parse_series_labels(parts[0], None), (parts[1].split() if len(parts) > 1 else [])


_NUMBER = (
    r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Inf|inf|NaN|nan|0x[0-9a-fA-F]+)"
)
_EXPAND = re.compile(rf"(?P<start>{_NUMBER})(?:(?P<sign>[-+])(?P<step>{_NUMBER}))?x(?P<times>\d+)$")


def _number(text: str) -> float:
    if text.lower().lstrip("+-").startswith("0x"):
        return float(int(text, 16))
    return float(text)


def expand_values(tokens: list[str]) -> list[float | None]:
    """`1+2x3 _ stale _x2 5` → values (None = no sample); histogram literals raise."""
    out: list[float | None] = []
    for token in tokens:
        if token.startswith("{{"):
            raise UnsupportedFeatureError("native histogram sample")
        if token == "_":
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
    expected: list[tuple[Labels, list[float | None]]] = field(default_factory=list)
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
    r"\banchored\b|\bsmoothed\b|\bfill(_left|_right)?\s*\(|@\s*st\b|__type__|__unit__|\binfo\s*\("
)
_NATIVE_FUNCS = re.compile(r"\bhistogram_(count|sum|avg|stddev|stdvar)\s*\(")
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
    for line in body:
        labels, tokens = _split_series_line(line)
        if "{{" in line or labels.get("__type__") or labels.get("__unit__"):
            native.add(labels.get(METRIC_NAME))
            continue
        if header.startswith("load_with_nhcb"):
            native.add(re.sub(r"_(bucket|count|sum)$", "", labels.get(METRIC_NAME)))
        try:
            values = expand_values(tokens)
        except (UnsupportedFeatureError, ValueError):
            native.add(labels.get(METRIC_NAME))
            continue
        floats.add(labels.get(METRIC_NAME))
        for n, value in enumerate(values):
            if value is not None:
                storage.add(labels, n * interval, value)


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
        if "{{" in text:
            case.skip_reason = "native histogram"
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
    if _NATIVE_FUNCS.search(case.query):
        return "native histogram function"
    names = set(_METRIC_NAMES.findall(case.query))
    if names & native:
        return "native histogram data"
    return None


def _judge(
    engine: Engine, case: Case, native: set[str], native_any: set[str], report: FileReport
) -> None:
    """Run one case. A failing case that reads series with native histogram samples (which
    vigil cannot load yet) counts as skipped, not failed."""
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
            if value is not None and almost_equal(result.value, value):
                return None
        return f"got scalar {result.value}, want {case.raw_expected}"
    return f"unexpected result {result!r}"


def _check_vector(case: Case, result: Vector) -> str | None:
    want = [(lbls, vals[0] if vals else None) for lbls, vals in case.expected]
    if len(want) != len(result.samples):
        shown = ", ".join(f"{s.labels} {s.value}" for s in result.samples)
        return f"got {len(result.samples)} samples [{shown}], want {len(want)}"
    if case.ordered:
        for (lbls, value), sample in zip(want, result.samples, strict=True):
            if lbls != sample.labels or value is None or not almost_equal(sample.value, value):
                return (
                    f"order/value mismatch: got {sample.labels} {sample.value}, want {lbls} {value}"
                )
        return None
    got = {s.labels: s.value for s in result.samples}
    for lbls, value in want:
        if lbls not in got:
            return f"missing {lbls}; got {list(got)}"
        if value is None or not almost_equal(got[lbls], value):
            return f"{lbls}: got {got[lbls]}, want {value}"
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
        got_points = list(zip(series.timestamps.tolist(), series.values.tolist(), strict=True))
        if len(got_points) != len(want_points):
            return f"{lbls}: got {got_points}, want {want_points}"
        for (gt, gv), (wt, wv) in zip(got_points, want_points, strict=True):
            if gt != wt or not almost_equal(gv, wv):
                return f"{lbls}: got {got_points}, want {want_points}"
    return None
