"""The default Java continuation rule, tested with string methods, says what RE2 says of
JAVA_CONTINUATION for every line; a shipper on the defaults never loads RE2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.exporter.logs.multiline import JAVA_CONTINUATION, java_continues
from vigil.model.regex import Anchor, Regex

RULE = Regex(JAVA_CONTINUATION, Anchor.SEARCH)
LINES = [
    "\tat com.example.App.run(App.java:10)",
    "at com.example.App.run(App.java:10)",
    "    ... 12 more",
    "\t... 3 common frames omitted",
    "\t... more",
    "    ...  12 more",
    "Caused by: java.io.IOException: disk full",
    " Caused by: x",
    "Suppressed: java.lang.Exception",
    "\tSuppressed: x",
    "java.lang.IllegalStateException: boom",
    "java.lang.IllegalStateException",
    "java.lang.IllegalStateException boom",
    "IllegalStateException: no package",
    "com.example.9bad.FooError: x",
    "com.example.Foo.9Error: x",
    "com..FooError: x",
    "$x.y$.Throwable",
    "a.Exception:",
    "a.Exceptional: x",
    "INFO  com.example.Service : started",
    "",
    "\t",
]


@pytest.mark.parametrize("line", LINES)
def test_lines_like_re2(line: str) -> None:
    assert java_continues(line) is RULE.matches(line)


PIECES = [
    *"aZ9_$.: \t\n\x0b",
    "at ",
    "... ",
    " more",
    "Caused by: ",
    "Suppressed: ",
    "Exception",
    "Error",
]


@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_any_line_like_re2(line: str) -> None:
    assert java_continues(line) is RULE.matches(line)


def test_the_default_rule_loads_no_re2() -> None:
    program = (
        "import sys\n"
        "from vigil.exporter.logs.multiline import Line, MultilineMerger, MultilineRule\n"
        "from vigil.exporter.logs.tail import Position\n"
        "merger = MultilineMerger(MultilineRule())\n"
        "at = Position(1, 0)\n"
        "for text in ('java.lang.Error: x', '\\tat a.b(C.java:1)', 'next'):\n"
        "    merger.push(Line(0, text, at, at), 0.0)\n"
        "print(merger.flush_due(0.0, at_once=True).text, 're2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["next", "False"]
