"""`vigil check metrics`: promtool's verdict on exposition bodies, one line per file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from vigil.exposition._types import Format, MetricFamily, ParseError
from vigil.exposition.lint import lint
from vigil.exposition.openmetrics import parse_openmetrics
from vigil.exposition.render import render_text
from vigil.exposition.scan import decode_body, detect_format
from vigil.exposition.text import Problem, TextParser

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_LINT = 3  # promtool's code for "parsed, with lint problems"


@dataclass(frozen=True, slots=True)
class CheckResult:
    format: Format
    families: list[MetricFamily] = field(default_factory=list)
    error: ParseError | None = None
    problems: list[Problem] = field(default_factory=list)


def check_body(body: bytes, fmt: Format | None = None, *, with_lint: bool = True) -> CheckResult:
    """Parse strictly (promtool's rules for text, the OpenMetrics suite's for OpenMetrics).

    With no format given, a body ending in `# EOF` is read as OpenMetrics; if it is not
    valid OpenMetrics but is valid text format (where `# EOF` is a comment), it is text.
    """
    if fmt is None:
        guess = detect_format(body)
        result = _check(body, guess, with_lint)
        if result.error is not None and guess is Format.OPENMETRICS:
            as_text = _check(body, Format.TEXT, with_lint)
            if as_text.error is None:
                return as_text
        return result
    return _check(body, fmt, with_lint)


def _check(body: bytes, fmt: Format, with_lint: bool) -> CheckResult:
    try:
        text = decode_body(body)
        if fmt is Format.OPENMETRICS:
            families = parse_openmetrics(text)
            problems: list[Problem] = []
            # promlint reads the text format: lint what this body would be in it.
            as_text = TextParser(render_text(families)).parse() if with_lint else []
        else:
            parser = TextParser(text)
            families = as_text = parser.parse()
            problems = parser.problems
    except ParseError as err:
        return CheckResult(fmt, error=err)
    if with_lint:
        problems = sorted([*problems, *lint(as_text)], key=lambda p: (p.metric, p.text))
    return CheckResult(fmt, families, None, problems)


def check_metrics_command(
    files: Sequence[str], fmt_name: str, with_lint: bool, stdin: BinaryIO, out: TextIO
) -> int:
    fmt = None if fmt_name == "auto" else Format(fmt_name)
    status = EXIT_OK
    for name in files or ["-"]:
        label = "(stdin)" if name == "-" else name
        try:
            body = stdin.read() if name == "-" else Path(name).read_bytes()
        except OSError as err:
            print(f"{label}: cannot read: {err.strerror}", file=out)
            status = EXIT_FAILED
            continue
        result = check_body(body, fmt, with_lint=with_lint)
        if result.error is not None:
            print(f"{label}: {result.error}", file=out)
            status = EXIT_FAILED
            continue
        if result.problems:
            print(f"{label}: OK, {len(result.problems)} lint problems", file=out)
            for problem in result.problems:
                print(f"{label}: {problem.metric} {problem.text}", file=out)
            status = max(status, EXIT_LINT) if status != EXIT_FAILED else status
        else:
            print(f"{label}: OK", file=out)
    return status
