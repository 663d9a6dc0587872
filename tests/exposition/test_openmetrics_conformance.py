"""The OpenMetrics project's parser test suite (44 bodies to accept, 167 to reject) through
every parser a user reaches.

`vigil check metrics --format=openmetrics` and the reference parser give the suite's verdict
on every case. Scraping and `vigil tsdb import openmetrics` take what Prometheus's own scrape
parser takes: every body the suite accepts, and the suite's per-type rules left unchecked (a
negative counter, unordered buckets, a repeated HELP; client_golang's own example exposes a
histogram the suite refuses). That those verdicts are Prometheus's is held to the real
Prometheus in test_scrape_prometheus.py."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE
from vigil.exposition import Format, ParseError
from vigil.exposition.check import check_metrics_command
from vigil.exposition.openmetrics import parse_openmetrics
from vigil.exposition.scan import decode_body, scan
from vigil.tsdb.importer import import_openmetrics

CASES = sorted((CONFORMANCE / "openmetrics" / "parsers").iterdir())


def case_body(case: Path) -> tuple[bytes, bool]:
    """The body of a case and whether the suite accepts it."""
    spec = json.loads((case / "test.json").read_text())
    return (case / spec["file"]).read_bytes(), spec["shouldParse"]


def _reference(body: bytes, _: Path) -> bool:
    try:
        parse_openmetrics(decode_body(body))
    except ParseError:
        return False
    return True


def _check_metrics(body: bytes, _: Path) -> bool:
    status = check_metrics_command(["-"], "openmetrics", True, io.BytesIO(body), io.StringIO())
    return status != 1  # 3: parsed, with lint problems


def _scrape(body: bytes, _: Path) -> bool:
    try:
        scan(body, Format.OPENMETRICS)
    except ParseError:
        return False
    return True


def _scrape_line_parser(body: bytes, _: Path) -> bool:
    try:
        parse_openmetrics(decode_body(body), strict=False)
    except ParseError:
        return False
    return True


def _tsdb_import(body: bytes, tmp: Path) -> bool:
    """Accepted when the import fails for nothing but the timestamps a backfill needs."""
    path = tmp / "body.om"
    path.write_bytes(body)
    try:
        import_openmetrics(path, tmp / "data")
    except ParseError as err:
        return err.message == "sample without a timestamp"
    return True


Parser = Callable[[bytes, Path], bool]
JUDGES: dict[str, Parser] = {
    "reference parser": _reference,
    "vigil check metrics --format=openmetrics": _check_metrics,
}
INGESTERS: dict[str, Parser] = {
    "scrape": _scrape,
    "scrape line parser": _scrape_line_parser,
    "vigil tsdb import openmetrics": _tsdb_import,
}


def test_suite_counts_per_parser(tmp_path: Path, summary: Callable[[str], None]) -> None:
    bodies = [case_body(case) for case in CASES]
    good = sum(1 for _, want in bodies if want)
    assert (len(CASES), good) == (211, 44)
    for name, parser in {**JUDGES, **INGESTERS}.items():
        agree = sum(1 for body, want in bodies if parser(body, tmp_path) == want)
        summary(f"OpenMetrics parser cases, {name}: {agree}/{len(CASES)} agree with the suite")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, tmp_path: Path) -> None:
    body, want = case_body(case)
    judged = {name: parser(body, tmp_path) for name, parser in JUDGES.items()}
    ingested = {name: parser(body, tmp_path) for name, parser in INGESTERS.items()}
    assert judged == dict.fromkeys(JUDGES, want)
    # what the suite accepts is ingested; the ingesters agree with each other on the rest
    assert ingested == dict.fromkeys(INGESTERS, want or ingested["scrape"])


def test_rejection_names_line_and_column() -> None:
    with pytest.raises(ParseError) as info:
        parse_openmetrics('# TYPE a counter\na_total{foo="bar" 1\n# EOF\n')
    assert (info.value.line, info.value.col) == (2, 18)
    assert "expected ',' or '}'" in info.value.message


def test_a_timestamp_beyond_int64_parses_everywhere() -> None:
    """The suite's `timestamps` case: 1.2e19 s is a valid timestamp (stored, it is out of
    bounds); check metrics said "expected integer as timestamp" and a scrape crashed."""
    body = (
        b"# TYPE a counter\n# HELP a Help.\n"
        b'a_total{foo="4"} 1 12345678901234567890.1234567890\n# EOF\n'
    )
    out = io.StringIO()
    assert check_metrics_command(["-"], "openmetrics", True, io.BytesIO(body), out) == 0
    assert out.getvalue() == "(stdin): OK\n"
    batch = scan(body, Format.OPENMETRICS)
    assert batch.timestamps.tolist() == [2**63 - 1]


def test_exemplars_do_not_end_up_in_the_series() -> None:
    """A scrape took `a_total{} 0 123 # {a="b"}` as the series of an exemplar line."""
    body = (
        b'# TYPE a counter\na_total{} 0 123 # {a="b"} 0.5\n'
        b'a_total{x="} 1 # {"} 2 # {a="c"} 1\n# EOF\n'
    )
    batch = scan(body, Format.OPENMETRICS)
    assert [labels for _, labels in batch.labels] == [(), (("x", "} 1 # {"),)]
    assert batch.values.tolist() == [0.0, 2.0]
    assert batch.timestamps.tolist() == [123_000, -(2**63)]
