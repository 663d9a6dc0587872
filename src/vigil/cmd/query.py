"""`vigil query instant|range|series|labels`: promtool query's twin. Asks any server with
Prometheus's HTTP API and prints what promtool prints (Go's `model.Value` formatting, or the
API's JSON with `-o json`); a failed query prints `query error: <type>: <message>`, exits 1."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO

_MAX_MINUTES = 9999 * 60  # promtool's default series/labels window: now ± 9999h

_GO_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_GO_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")


class QueryCommandError(Exception):
    """A flag that does not parse or does not make sense (printed as it is)."""


class QueryFailedError(QueryCommandError):
    """The server did not answer the query (printed after `query error: `, as promtool does)."""


def parse_go_duration(text: str) -> float:
    """Go's `time.ParseDuration` (`30s`, `1m30s`, `1.5h`, `250ms`), to seconds."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if re.fullmatch(r"[0-9]*\.?[0-9]*", body) and body not in ("", "."):
        raise QueryCommandError(f'time: missing unit in duration "{text}"')
    pos, total_ns = 0, 0.0
    while pos < len(body):
        match = _GO_DURATION_PART.match(body, pos)
        if not match or match.group(1) in ("", "."):
            raise QueryCommandError(f'time: invalid duration "{text}"')
        total_ns += float(match.group(1)) * _GO_UNITS_NS[match.group(2)]
        pos = match.end()
    if not body:
        raise QueryCommandError(f'time: invalid duration "{text}"')
    return -total_ns / 1e9 if text.startswith("-") else total_ns / 1e9


def parse_time(text: str) -> float:
    """A Unix timestamp (float seconds) or an RFC 3339 time, to seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryCommandError(f'cannot parse "{text}" to a valid timestamp') from None
    if parsed.tzinfo is None:
        raise QueryCommandError(f'cannot parse "{text}" to a valid timestamp') from None
    return parsed.timestamp()


# --- Go's formatting of prometheus/common/model values -----------------------------------------


def _go_quote(text: str) -> str:
    """Go's `%q` of a string."""
    escapes = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f"}
    escapes |= {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    out = []
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_label_set(labels: dict[str, str]) -> str:
    """`model.LabelSet.String()`: every label, sorted, `{a="1", b="2"}`."""
    return "{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in sorted(labels.items())) + "}"


def format_metric(labels: dict[str, str]) -> str:
    """`model.Metric.String()`: the name outside the braces."""
    name = labels.get("__name__")
    rest = {k: v for k, v in labels.items() if k != "__name__"}
    if not rest:
        return name if name is not None else "{}"
    return (name or "") + format_label_set(rest)


def _point(pair: Sequence[Any]) -> str:
    return f"{_float_text(float(pair[1]))} @[{_float_text(float(pair[0]))}]"


def format_result(data: dict[str, Any]) -> str:
    """What promtool prints for a query's `data` (promql output format)."""
    kind, result = data["resultType"], data["result"]
    if kind == "vector":
        return "\n".join(f"{format_metric(s['metric'])} => {_point(s['value'])}" for s in result)
    if kind == "matrix":
        streams = sorted(result, key=lambda s: sorted(s["metric"].items()))
        return "\n".join(
            f"{format_metric(s['metric'])} =>\n" + "\n".join(_point(p) for p in s["values"])
            for s in streams
        )
    if kind == "scalar":
        return f"scalar: {_point(result)}"
    return str(result[1])


# --- commands -----------------------------------------------------------------------------------


def _ask(server: str, path: str, params: list[tuple[str, str]]) -> Any:
    import httpx

    url = server.rstrip("/") + path
    form: dict[str, list[str]] = {}
    for name, value in params:
        form.setdefault(name, []).append(value)
    try:  # POST like promtool's client, GET where the endpoint only has GET
        response = httpx.post(url, data=form, timeout=120)
        if response.status_code == 405:
            response = httpx.get(url, params=form, timeout=120)
    except httpx.HTTPError as err:
        raise QueryFailedError(f"{type(err).__name__}: {err}") from None
    try:
        body = response.json()
    except json.JSONDecodeError:
        raise QueryFailedError(
            f"server returned HTTP status {response.status_code}: {response.text[:200]}"
        ) from None
    if body.get("status") != "success":
        raise QueryFailedError(f"{body.get('errorType')}: {body.get('error')}")
    return body["data"]


def _seconds(value: float) -> str:
    return _float_text(round(value, 3))


def _window(args: argparse.Namespace, now: float) -> list[tuple[str, str]]:
    start = parse_time(args.start) if args.start else now - _MAX_MINUTES * 60
    end = parse_time(args.end) if args.end else now + _MAX_MINUTES * 60
    return [("start", _seconds(start)), ("end", _seconds(end))]


def _instant(args: argparse.Namespace, now: float) -> tuple[str, Any]:
    when = parse_time(args.time) if args.time else now
    data = _ask(args.server, "/api/v1/query", [("query", args.expr), ("time", _seconds(when))])
    return format_result(data), data["result"]


def _range(args: argparse.Namespace, now: float) -> tuple[str, Any]:
    end = parse_time(args.end) if args.end else now
    start = parse_time(args.start) if args.start else end - 300
    if start >= end:
        raise QueryCommandError("start time is not before end time")
    step = parse_go_duration(args.step) if args.step else max(math.floor((end - start) / 250), 1)
    params = [("query", args.expr), ("start", _seconds(start)), ("end", _seconds(end))]
    data = _ask(args.server, "/api/v1/query_range", [*params, ("step", _float_text(step))])
    return format_result(data), data["result"]


def _series(args: argparse.Namespace, now: float) -> tuple[str, Any]:
    params = [("match[]", m) for m in args.match] + _window(args, now)
    data = _ask(args.server, "/api/v1/series", params)
    return "\n".join(map(format_label_set, data)), data


def _labels(args: argparse.Namespace, now: float) -> tuple[str, Any]:
    params = [("match[]", m) for m in args.match or []] + _window(args, now)
    data = _ask(args.server, f"/api/v1/label/{args.name}/values", params)
    return "\n".join(data), data


# a command returns what it prints in the promql format and in the json format
Command = Callable[[argparse.Namespace, float], tuple[str, Any]]


def run(
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    clock: Callable[[], float] = time.time,
) -> int:
    command: Command = args.query_command
    try:
        text, value = command(args, clock())
    except QueryFailedError as error:
        err.write(f"query error: {error}\n")
        return 1
    except QueryCommandError as error:
        err.write(f"{error}\n")
        return 1
    out.write((json.dumps(value, separators=(",", ":")) if args.format == "json" else text) + "\n")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "query",
        help="run a query against a Prometheus-compatible server (promtool query's twin)",
        description="Run a query against a server with Prometheus's HTTP API (vigil, "
        "Prometheus, VictoriaMetrics, ...) and print the result as promtool does.",
    )
    parser.set_defaults(run_command=run)
    commands = parser.add_subparsers(dest="what", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, fn: Command) -> argparse.ArgumentParser:
        cmd = commands.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument(
            "-o", "--format", choices=["promql", "json"], default="promql", help="output format"
        )
        cmd.set_defaults(query_command=fn)
        return cmd

    instant = command("instant", "run an instant query", _instant)
    instant.add_argument("server", help="server URL, e.g. http://localhost:9090")
    instant.add_argument("expr", help="PromQL expression")
    instant.add_argument(
        "--time", help="evaluation time (RFC 3339 or Unix timestamp; default: now)"
    )
    ranged = command("range", "run a range query", _range)
    ranged.add_argument("server", help="server URL")
    ranged.add_argument("expr", help="PromQL expression")
    ranged.add_argument("--start", help="start (RFC 3339 or Unix timestamp; default: end - 5m)")
    ranged.add_argument("--end", help="end (RFC 3339 or Unix timestamp; default: now)")
    ranged.add_argument("--step", help="step as a Go duration, e.g. 15s (default: range / 250)")
    series = command("series", "list the series matching selectors", _series)
    series.add_argument("server", help="server URL")
    series.add_argument(
        "--match", action="append", required=True, help="series selector (repeatable)"
    )
    labels = command("labels", "list the values of a label", _labels)
    labels.add_argument("server", help="server URL")
    labels.add_argument("name", help="label name")
    labels.add_argument("--match", action="append", help="series selector (repeatable)")
    for cmd in (series, labels):
        cmd.add_argument("--start", help="start (RFC 3339 or Unix timestamp; default: now - 9999h)")
        cmd.add_argument("--end", help="end (RFC 3339 or Unix timestamp; default: now + 9999h)")


def _float_text(x: float) -> str:
    """Go's 'f' form; gofloat (and its numpy) loads only when `vigil query` runs."""
    from vigil.model.gofloat import format_float

    return format_float(x, "f")
