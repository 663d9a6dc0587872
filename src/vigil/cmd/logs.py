"""`vigil logs query|tail|labels|series`: logcli's twin. Asks any server with Loki's HTTP API
(vigil's main port, its --loki.listen-address, or Loki itself) and prints what logcli
prints; `--addr` defaults to $LOKI_ADDR, else the local vigil server."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO

from vigil.cmd.logs_output import OUTPUTS, Entry, Printer, entries, print_entries
from vigil.cmd.query import QueryCommandError, format_label_set, parse_go_duration

DEFAULT_ADDR = "http://127.0.0.1:9090"
NS = 1_000_000_000


class LogsFailedError(QueryCommandError):
    """The server refused or could not be reached (printed after `Error: `)."""


def _zone(name: str) -> tzinfo:
    if name == "Local":
        return datetime.now().astimezone().tzinfo or UTC
    if name == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryCommandError(f"unknown time zone {name}") from None


def _parse_rfc3339(text: str, flag: str) -> int:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise QueryCommandError(f'--{flag}: cannot parse "{text}" as RFC 3339') from None
    if when.tzinfo is None:
        raise QueryCommandError(f'--{flag}: "{text}" has no time zone (RFC 3339)')
    return int(when.timestamp()) * NS + when.microsecond * 1000


def _window(args: argparse.Namespace, now_ns: int) -> tuple[int, int]:
    """logcli's range: --from (default: --since before --to) to --to (default: now)."""
    end = _parse_rfc3339(args.to, "to") if args.to else now_ns
    start = (
        _parse_rfc3339(args.from_, "from")
        if args.from_
        else end - round(parse_go_duration(args.since) * NS)
    )
    return start, end


def _headers(args: argparse.Namespace) -> dict[str, str]:
    return {"X-Scope-OrgID": args.org_id} if args.org_id else {}


def _get(args: argparse.Namespace, path: str, params: Sequence[tuple[str, str]]) -> Any:
    import httpx

    url = args.addr.rstrip("/") + path
    try:
        response = httpx.get(url, params=tuple(params), headers=_headers(args), timeout=120)
    except httpx.HTTPError as err:
        raise LogsFailedError(f"{type(err).__name__}: {err}") from None
    if response.status_code != 200:
        raise LogsFailedError(
            f"{response.status_code} {response.reason_phrase}: {response.text.strip()[:500]}"
        )
    try:
        return response.json()
    except json.JSONDecodeError:
        raise LogsFailedError(f"{url} answered no JSON: {response.text[:200]}") from None


def _printer(args: argparse.Namespace) -> Printer:
    return Printer(args.output, _zone(args.timezone), no_labels=args.no_labels)


def _query(args: argparse.Namespace, now_ns: int, out: TextIO, err: TextIO) -> None:
    if args.tail:
        _tail(args, now_ns, out, err)
        return
    start, end = _window(args, now_ns)
    if args.step:
        step = f"{round(parse_go_duration(args.step) * 1000)}ms"
        data = _ask_range(args, start, end, args.limit, [("step", step)])
    else:
        data = _ask_range(args, start, end, min(args.batch, args.limit))
    if data.get("resultType") != "streams":
        out.write(json.dumps(data.get("result"), indent=2) + "\n")
        return
    found = _batches(args, entries(data["result"], args.forward), start, end)
    lines, common = print_entries(found, _printer(args))
    if common and not args.quiet:
        err.write(f"Common labels: {format_label_set(common)}\n")
    out.writelines(line + "\n" for line in lines)


def _ask_range(
    args: argparse.Namespace,
    start: int,
    end: int,
    limit: int,
    extra: Sequence[tuple[str, str]] = (),
) -> Any:
    params = [
        ("query", args.query),
        ("limit", str(limit)),
        ("start", str(start)),
        ("end", str(end)),
        ("direction", "forward" if args.forward else "backward"),
        *extra,
    ]
    return _get(args, "/loki/api/v1/query_range", params)["data"]


def _batches(args: argparse.Namespace, first: list[Entry], start: int, end: int) -> list[Entry]:
    """logcli's batching: at most --batch entries a request until --limit. Each next request
    starts at the last entry's time (entries may share it) and drops what it already has."""
    found, asked, got = list(first), min(args.batch, args.limit), len(first)
    while len(found) < args.limit and got >= asked:
        last = found[-1].timestamp_ns
        seen = [e for e in found if e.timestamp_ns == last]
        asked = min(args.batch, args.limit - len(found)) + len(seen)
        if args.forward:
            start = last
        else:
            end = last + 1  # Loki's end is exclusive
        batch = entries(_ask_range(args, start, end, asked)["result"], args.forward)
        got = len(batch)
        fresh = [e for e in batch if e not in seen]
        if not fresh:
            break
        found += fresh[: args.limit - len(found)]
    return found


def _tail(args: argparse.Namespace, now_ns: int, out: TextIO, err: TextIO) -> None:
    from vigil.cmd.logs_tail import tail_messages

    start, _ = _window(args, now_ns)
    params = [("query", args.query), ("limit", str(args.limit)), ("start", str(start))]
    if args.delay_for:
        params.append(("delay_for", str(args.delay_for)))
    printer = _printer(args)
    for message in tail_messages(args.addr, "/loki/api/v1/tail", params, _headers(args)):
        for dropped in message.get("dropped_entries") or []:
            err.write(f"[dropped] {format_label_set(dropped.get('labels', {}))}\n")
        for entry in entries(message.get("streams") or [], forward=True):
            out.write(printer.line(entry, entry.labels, 0) + "\n")
            out.flush()


def _labels(args: argparse.Namespace, now_ns: int, out: TextIO, _: TextIO) -> None:
    start, end = _window(args, now_ns)
    path = f"/loki/api/v1/label/{args.label}/values" if args.label else "/loki/api/v1/labels"
    data = _get(args, path, [("start", str(start)), ("end", str(end))]).get("data") or []
    out.writelines(f"{value}\n" for value in data)


def _series(args: argparse.Namespace, now_ns: int, out: TextIO, _: TextIO) -> None:
    start, end = _window(args, now_ns)
    params = [("match[]", args.selector), ("start", str(start)), ("end", str(end))]
    series: list[Mapping[str, str]] = _get(args, "/loki/api/v1/series", params).get("data") or []
    out.writelines(format_label_set(dict(labels)) + "\n" for labels in series)


Command = Callable[[argparse.Namespace, int, TextIO, TextIO], None]


def run(
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    clock: Callable[[], float] = time.time,
) -> int:
    command: Command = args.logs_command
    try:
        command(args, round(clock() * NS), out, err)
    except LogsFailedError as error:
        err.write(f"Error: {error}\n")
        return 1
    except QueryCommandError as error:
        err.write(f"{error}\n")
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "logs",
        help="query logs on a Loki-compatible server (logcli's twin)",
        description="Query, tail and list the labels and streams of a server with Loki's "
        "HTTP API (vigil, Loki, ...) and print them as logcli does.",
    )
    parser.set_defaults(run_command=run)
    commands = parser.add_subparsers(dest="what", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--addr",
        default=os.environ.get("LOKI_ADDR", DEFAULT_ADDR),
        help=f"server address (default: $LOKI_ADDR, else {DEFAULT_ADDR})",
    )
    common.add_argument("--org-id", default="", help="tenant, sent as X-Scope-OrgID")
    common.add_argument("--since", default="1h", help="look back this far (Go duration)")
    common.add_argument("--from", dest="from_", help="start, RFC 3339 (default: --to - --since)")
    common.add_argument("--to", help="end, RFC 3339 (default: now)")
    printing = argparse.ArgumentParser(add_help=False)
    printing.add_argument("--limit", type=int, default=30, help="most entries to print")
    printing.add_argument("-o", "--output", choices=OUTPUTS, default="default")
    printing.add_argument("-z", "--timezone", default="Local", help="Local, UTC or a zone name")
    printing.add_argument("--no-labels", action="store_true", help="do not print labels")
    printing.add_argument("-q", "--quiet", action="store_true", help="no common labels line")
    printing.add_argument("--delay-for", type=int, default=0, help="tail: delay in seconds")

    def command(name: str, help_text: str, fn: Command, *parents: Any) -> Any:
        cmd = commands.add_parser(name, help=help_text, description=help_text, parents=parents)
        cmd.set_defaults(logs_command=fn)
        return cmd

    query = command("query", "run a LogQL query over a time range", _query, common, printing)
    query.add_argument("query", help="LogQL query")
    query.add_argument("--forward", action="store_true", help="oldest entries first")
    query.add_argument("--step", help="metric queries: resolution (Go duration)")
    query.add_argument(
        "--batch", type=int, default=1000, help="most entries to ask for in one request"
    )
    query.add_argument("-t", "--tail", action="store_true", help="follow new entries")
    tail = command("tail", "print entries as they arrive (query --tail)", _tail, common, printing)
    tail.add_argument("query", help="LogQL query")
    labels = command("labels", "list label names, or one label's values", _labels, common)
    labels.add_argument("label", nargs="?", help="the label whose values to list")
    series = command("series", "list the streams a selector picks", _series, common)
    series.add_argument("selector", help='stream selector, e.g. {job="app"}')
