"""LogQL acceptance: vigil parses a query exactly when Grafana's `@grafana/lezer-logql` grammar
(run by node from ui/node_modules) parses it without an error node, except the differences
listed in DELIBERATE, where Loki's own parser judges otherwise and vigil follows Loki.

The corpus (testdata/*.txt, one query a line, `//` lines are comments) is written from Loki's
LogQL documentation, plus invalid queries.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO

from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.logs.logql import LogQLEngine, LogQLError, ParseError, Streams, format_expr, parse
from vigil.model import Labels
from vigil.promql import Matrix, Scalar, Vector

TESTDATA = Path(__file__).parent / "testdata"
LEZER_SCRIPT = Path(__file__).parent / "lezer_parse.mjs"

_EMPTY_MATCHERS = "Loki refuses a selector whose matchers all match the empty value"
_GROUPING = "Loki allows by/without only on avg/min/max/first/last/stddev/stdvar/quantile_over_time"
_UNWRAP = "Loki checks which range aggregations take (or need) an unwrap"
_PARAM = "Loki checks an aggregation's parameter: only topk/bottomk/quantile_over_time take one"
_REGEX = "Loki compiles regexes while parsing; an invalid RE2 pattern is a parse error"
_RANGE_FORM = (
    "Loki's grammar has this arrangement of pipeline, unwrap, range and offset; lezer lacks it"
)
_LOG_OPERAND = "Loki refuses a log query as an operand of a binary operator"

# query -> why vigil (like Loki) decides differently from lezer
DELIBERATE = {
    '{name!~"mysql.+"}': _EMPTY_MATCHERS,
    "{name!~`mysql-\\d+`}": _EMPTY_MATCHERS,
    '{a=""}': _EMPTY_MATCHERS,
    '{a=~".*"}': _EMPTY_MATCHERS,
    '{a!="x"}': _EMPTY_MATCHERS,
    '{job="app"} |~ "("': _REGEX,
    '{job="app"} |~ "a{2,1}"': _REGEX,
    '{job="app"} | regexp "(?P<x"': _REGEX,
    'label_replace(rate({job="app"}[5m]), "a", "b", "c", "(")': _REGEX,
    '{job="app"} | regexp "(\\\\w+)"': "Loki's regexp stage needs at least one named capture",
    '{job="app"} | pattern "foo"': "Loki's pattern stage needs at least one capture",
    '{job="app"} |= "\\d"': "Loki unquotes strings as Go does: `\\d` is an invalid escape",
    '{job="app"} |~ ip("10.0.0.1")': "Loki takes ip() only after |= and !=",
    '{job="app"} | logfmt | a="1" b="2"': "Loki reads label filters side by side as `and`",
    '{job="app"} | logfmt | a="1" b="2" or c="3"': "Loki reads label filters side by side as `and`",
    '{job="app"} + 1': _LOG_OPERAND,
    'sum(1, rate({job="app"}[5m]))': _PARAM,
    'topk(rate({job="app"}[5m]))': _PARAM,
    'quantile_over_time({job="app"} | unwrap x [5m])': _PARAM,
    'count_over_time(5, {job="app"}[5m])': _PARAM,
    'sort by (x) (rate({job="app"}[5m]))': "Loki refuses grouping on sort and sort_desc",
    'count_over_time({job="app"}[5m]) by (host)': _GROUPING,
    'rate({job="app"}[5m]) by (host)': _GROUPING,
    'sum_over_time({job="app"} | unwrap x [5m]) by (host)': _GROUPING,
    'sum_over_time({job="app"} | json | unwrap latency [5m]) by (host)': _GROUPING,
    'count_over_time({job="app"} | unwrap x [5m])': _UNWRAP,
    'bytes_rate({job="app"} | unwrap x [5m])': _UNWRAP,
    'max_over_time({job="app"}[5m])': _UNWRAP,
    'approx_topk(10, sum by (x) (rate({job="app"}[5m])))': (
        "probabilistic approx_topk is not supported by vigil (topk gives the exact answer)"
    ),
    'count_over_time({job="app"}[-5m])': "Loki refuses a range that is not positive",
    'count_over_time({job="app"}[0s])': "Loki refuses a range that is not positive",
    'sum_over_time({job="app"} | json | unwrap latency [5m] offset 1h)': _RANGE_FORM,
    'sum_over_time(({job="app"} | json | unwrap latency)[5m])': _RANGE_FORM,
}


def _corpus() -> list[str]:
    queries: list[str] = []
    for path in sorted(TESTDATA.glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        queries += [line for line in lines if line.strip() and not line.startswith("//")]
    return queries


CORPUS = _corpus()


@functools.cache
def _lezer_error_offsets() -> dict[str, int]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the LogQL corpus is judged by @grafana/lezer-logql")
    if not (REPO / "ui" / "node_modules" / "@grafana" / "lezer-logql").is_dir():
        pytest.fail("ui/node_modules lacks @grafana/lezer-logql: run `cd ui && npm ci`")
    run = subprocess.run(
        [node, str(LEZER_SCRIPT)],
        input=json.dumps(CORPUS),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(zip(CORPUS, json.loads(run.stdout), strict=True))


def _vigil_accepts(query: str) -> bool:
    try:
        parse(query)
    except ParseError:
        return False
    return True


def test_corpus_is_large_and_every_deliberate_difference_is_in_it() -> None:
    assert (len(CORPUS) >= 300, sorted(set(DELIBERATE) - set(CORPUS))) == (True, [])


def test_vigil_accepts_a_query_exactly_when_lezer_does() -> None:
    lezer = _lezer_error_offsets()
    disagreements = {
        query: ("lezer accepts" if lezer[query] == -1 else f"lezer errs at {lezer[query]}")
        for query in CORPUS
        if _vigil_accepts(query) != (lezer[query] == -1) and query not in DELIBERATE
    }
    still_agreeing = [q for q in DELIBERATE if _vigil_accepts(q) == (lezer[q] == -1)]
    assert (disagreements, still_agreeing) == ({}, [])


ACCEPTED = [q for q in CORPUS if _vigil_accepts(q)]


@pytest.mark.parametrize("query", ACCEPTED)
def test_canonical_text_parses_back_to_the_same_tree(query: str) -> None:
    expr = parse(query)
    assert parse(format_expr(expr)) == expr


SAMPLE_LINES = [
    '{"level":"error","status":500,"latency":"2s","request":{"headers":{"User-Agent":"x"}}}',
    "level=info duration=1.5s size=20KB status_code=403 method=GET query=x",
    '10.0.0.1 - - [07/Dec/2026] "GET /a HTTP/1.1" 200 5',
    "plain \x1b[31mred\x1b[0m line",
]
SAMPLE_LABELS = {
    "job": "app", "name": "mysql-backup", "app": "foo", "container": "query-frontend",
    "namespace": "loki-dev", "cluster": "ops-tools1", "region": "us-east1",
    "instance": "kafka-2", "service_name": "checkout", "env": "prod",
}  # fmt: skip


@functools.cache
def _sample_engine() -> LogQLEngine:
    store = MemoryLogStore()
    for job in ("mysql", "app", "varlogs", "nginx", "api-server"):
        labels = Labels.from_dict({**SAMPLE_LABELS, "job": job})
        ts = np.arange(len(SAMPLE_LINES), dtype=np.int64) * 10**9 + 10**12
        store.push([Entries(labels, ts, Lines.of(SAMPLE_LINES))])
    return LogQLEngine(store)


@pytest.mark.parametrize("query", ACCEPTED)
def test_every_accepted_query_evaluates_or_fails_as_a_query_error(query: str) -> None:
    outcome: type
    try:
        result = _sample_engine().query(query, 10**12 - 10**11, 10**12 + 10**11, 10**10, limit=100)
        outcome = type(result.value)
    except LogQLError as err:
        outcome = type(err)
    assert issubclass(outcome, Streams | Matrix | Vector | Scalar | LogQLError)
