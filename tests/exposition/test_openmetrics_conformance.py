"""The OpenMetrics project's parser test suite: 44 bodies to accept, 167 to reject."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE
from vigil.exposition import ParseError
from vigil.exposition.openmetrics import parse_openmetrics
from vigil.exposition.scan import decode_body

CASES = sorted((CONFORMANCE / "openmetrics" / "parsers").iterdir())


def _verdict(case: Path) -> tuple[bool, bool]:
    spec = json.loads((case / "test.json").read_text())
    body = (case / spec["file"]).read_bytes()
    try:
        parse_openmetrics(decode_body(body))
    except ParseError:
        return spec["shouldParse"], False
    return spec["shouldParse"], True


def test_suite_counts(summary: Callable[[str], None]) -> None:
    verdicts = [_verdict(case) for case in CASES]
    good = sum(1 for want, _ in verdicts if want)
    bad = len(verdicts) - good
    good_ok = sum(1 for want, got in verdicts if want and got)
    bad_ok = sum(1 for want, got in verdicts if not want and not got)
    summary(f"OpenMetrics parser cases: {good_ok}/{good} accepted, {bad_ok}/{bad} rejected")
    assert (len(CASES), good, bad) == (211, 44, 167)
    assert (good_ok, bad_ok) == (good, bad)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    want, got = _verdict(case)
    assert got == want


def test_rejection_names_line_and_column() -> None:
    with pytest.raises(ParseError) as info:
        parse_openmetrics('# TYPE a counter\na_total{foo="bar" 1\n# EOF\n')
    assert (info.value.line, info.value.col) == (2, 18)
    assert "expected ',' or '}'" in info.value.message
