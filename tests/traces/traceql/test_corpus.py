"""TraceQL acceptance: vigil parses a query exactly when Grafana's `@grafana/lezer-traceql`
grammar (run by node from ui/node_modules) parses it without an error node, except

- unsupported.txt: valid TraceQL vigil does not evaluate yet (event/link/parent fields):
  lezer accepts each, vigil refuses it saying so;
- metrics.txt: metrics queries, judged by `parse_metrics` the same way;
- DELIBERATE: queries where Tempo's own parser refuses what lezer's grammar lets through.

The corpus (testdata/*.txt, one query a line, `#` lines are comments) is written from Tempo's
TraceQL documentation, plus invalid queries.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from vigil.traces.traceql import ParseError, parse
from vigil.traces.traceql.metrics import parse_metrics

TESTDATA = Path(__file__).parent / "testdata"
LEZER_SCRIPT = Path(__file__).parent / "lezer_parse.mjs"

_TYPES = "Tempo checks operand types while parsing"
_REGEX = "Tempo compiles regexes while parsing; an invalid RE2 pattern is a parse error"
_SPACED = "Tempo's lexer reads an attribute as one token: no space after its dot"

# query -> why vigil (like Tempo) refuses what lezer accepts
DELIBERATE = {
    "{ status = 1 }": _TYPES,
    "{ 1 }": _TYPES,
    '{ "x" }': _TYPES,
    "{ nil }": _TYPES,
    "{ duration }": _TYPES,
    "{ name }": _TYPES,
    "{ name = 1 }": _TYPES,
    '{ duration = "x" }': _TYPES,
    "{ kind = error }": _TYPES,
    "{ .a =~ 1 }": _TYPES,
    "{ .a =! 1 }": _TYPES,
    "{ status > ok }": _TYPES,
    "{ status = ok } | count() =~ 1": _TYPES,
    '{ .a = "x" } | avg(name) > 1': _TYPES,
    '{ .a =~ "(" }': _REGEX,
    "{ .a ~ 1 }": "Tempo has no `~` between fields (only between spansets)",
    "{ span . foo = 1 }": _SPACED,
    "{ . foo = 1 }": _SPACED,
    "{ resource.service.name = $svc }": "Grafana replaces template variables before sending",
    "{ } | quantile_over_time(duration, 2)": "Tempo checks that quantiles are in [0, 1]",
    "{ } | topk(2)": "Tempo's grammar takes topk/bottomk only after a metrics function",
    "{ } | rate() | topk(0)": "Tempo checks that the limit is greater than 0",
}


def _read(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


UNSUPPORTED = _read(TESTDATA / "unsupported.txt")
METRICS = _read(TESTDATA / "metrics.txt")
CORPUS = [q for path in sorted(TESTDATA.glob("*.txt")) for q in _read(path)]


@functools.cache
def _lezer_error_offsets() -> dict[str, int]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the TraceQL corpus is judged by @grafana/lezer-traceql")
    if not (REPO / "ui" / "node_modules" / "@grafana" / "lezer-traceql").is_dir():
        pytest.fail("ui/node_modules lacks @grafana/lezer-traceql: run `cd ui && npm ci`")
    run = subprocess.run(
        [node, str(LEZER_SCRIPT)],
        input=json.dumps(CORPUS),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(zip(CORPUS, json.loads(run.stdout), strict=True))


def _vigil_error(query: str) -> ParseError | None:
    try:
        parse_metrics(query) if query in METRICS else parse(query)
    except ParseError as error:
        return error
    return None


def test_corpus_is_large_and_every_deliberate_difference_is_in_it() -> None:
    assert (len(CORPUS) >= 200, sorted(set(DELIBERATE) - set(CORPUS))) == (True, [])


def test_vigil_accepts_a_query_exactly_when_lezer_does() -> None:
    lezer = _lezer_error_offsets()
    judged = [q for q in CORPUS if q not in UNSUPPORTED and q not in DELIBERATE]
    disagreements = {
        query: ("lezer accepts" if lezer[query] == -1 else f"lezer errs at {lezer[query]}")
        for query in judged
        if (_vigil_error(query) is None) != (lezer[query] == -1)
    }
    still_agreeing = [q for q in DELIBERATE if (_vigil_error(q) is None) == (lezer[q] == -1)]
    assert (disagreements, still_agreeing) == ({}, [])


def test_what_vigil_does_not_evaluate_yet_is_valid_and_refused_saying_so() -> None:
    lezer = _lezer_error_offsets()
    wrong = {
        query: str(_vigil_error(query))
        for query in UNSUPPORTED
        if lezer[query] != -1 or "not supported yet" not in str(_vigil_error(query))
    }
    assert wrong == {}
