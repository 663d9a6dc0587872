"""User regexes are RE2 (Go's syntax and semantics, linear time), anchored as upstream anchors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from vigil.model.regex import Anchor, Regex, RegexError

MATCHES = [
    ("foo.*", "foobar", True),
    ("foo", "foobar", False),  # fully anchored
    ("a|b", "ab", False),  # anchoring wraps the alternation
    ("foo.*", "foo\nbar", True),  # (?s)
    (r"\d+", "123", True),
    (r"\d+", "١٢٣", False),  # RE2's \d is ASCII only; Python's is Unicode
    (r"\w+", "héllo", False),
    (r"[\D]+", "١٢", True),
    (r"\s", "\u00a0", False),
    (r"\pL+", "héllo", True),
    ("[[:alpha:]]+", "abcXYZ", True),
    ("[[:^digit:]]+", "abc", True),
    ("x{,3}", "x{,3}", True),  # RE2: literal; Python 3.11: a repetition
    ("x{,3}", "xx", False),
    ("a$", "a", True),
    (r"a\z", "a", True),
    (r"\Qa.b*\E", "a.b*", True),
    (r"\Qa.b*\E", "axbb", False),
    (r"\x{41}\x42", "AB", True),
    ("(?P<n>a)b", "ab", True),
    ("(?i)abc", "ABC", True),
    ("a(?i)b|c", "C", True),  # the flag covers the rest of the group, both branches
    ("a(?i)b|c", "aB", True),
    ("a(?i)b|c", "Ab", False),
    ("(?i:a)b", "Ab", True),
    ("(?i:a)b", "AB", False),
    (r"\101", "A", True),  # octal
    ("[]a]+", "]a", True),
    ("[a-]+", "a-", True),
    (r"\bfoo\b", "foo", True),
    ("(?U)a+", "aa", True),
    ("", "", True),
    ("a.c", "a\ud800c", True),  # a lone surrogate is one character, as Go reads U+FFFD
]


@pytest.mark.parametrize(("pattern", "value", "want"), MATCHES)
def test_matches_like_re2(pattern: str, value: str, want: bool) -> None:
    assert Regex(pattern).matches(value) is want


ANCHORS = [
    (Anchor.PROMETHEUS, "a.*", "a\nb", True),
    (Anchor.ALERTMANAGER, "a.*", "a\nb", False),  # Alertmanager's ^(?:re)$: . stops at \n
    (Anchor.ALERTMANAGER, "a.*", "ab", True),
    (Anchor.SEARCH, "lo", "eth0 lo", True),  # node_exporter's MatchString
    (Anchor.SEARCH, "^lo$", "eth0 lo", False),
]


@pytest.mark.parametrize(("anchor", "pattern", "value", "want"), ANCHORS)
def test_anchors(anchor: Anchor, pattern: str, value: str, want: bool) -> None:
    assert Regex(pattern, anchor).matches(value) is want


REJECTED = [
    ("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
    ("(?<=a)b", "error parsing regexp: invalid or unsupported Perl syntax: `(?<=`"),
    ("(?>a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?>`"),
    (r"(a)\1", r"error parsing regexp: invalid escape sequence: `\1`"),
    ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
    ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
    (r"\Z", r"error parsing regexp: invalid escape sequence: `\Z`"),
    (r"a\C", r"error parsing regexp: invalid escape sequence: `\C`"),
    ("foo(bar", "error parsing regexp: missing closing ): `foo(bar`"),
    ("a)", "error parsing regexp: unexpected ): `a)`"),
    ("[a", "error parsing regexp: missing closing ]: `[a`"),
    ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
    ("*a", "error parsing regexp: missing argument to repetition operator: `*`"),
    ("a\\", "error parsing regexp: trailing backslash at end of expression"),
]


@pytest.mark.parametrize(("pattern", "message"), REJECTED)
def test_rejects_what_go_rejects_in_its_words(pattern: str, message: str) -> None:
    with pytest.raises(RegexError) as caught:
        Regex(pattern)
    assert str(caught.value) == message


VALUES = [
    "",
    "a",
    "abc",
    "foo",
    "foobar",
    "barfoo",
    "x.y",
    "node_cpu_seconds_total",
    "node_memory_MemFree_bytes",
    "eth0",
    "lo",
    "ab\ncd",
    "\n",
    "héllo wörld",
    "a\ud800",
    "  spaced  ",
    "123",
    "a|b",
    *(f"series_{i}_{'x' * (i % 7)}" for i in range(200)),
]
ONE_LINE_VALUES = [value for value in VALUES if "\n" not in value]

BULK_PATTERNS = [
    ".*",
    ".+",
    "",
    "foo",
    "foo|bar|abc",
    "(foo|lo)",
    "(?:eth0|lo)",
    "foo.*",
    ".*foo",
    ".*o.*",
    "x\\.y",
    "a\\|b",
    "node_.*_bytes",
    "[^_]+",
    "(?i)FOO.*",
    "series_1[0-9]+_x*",
    "series_[0-9]*5_x{3,}",
    "(.|.)*x",
    "ab.cd",
    "\\s+.*",
    "^foo$|^lo",
    "a$|foo",
    "\\bfoo",
    "[\\n]",
    "(?m)^cd",
    "[[:alpha:]]+",
    "\\[^a",
]


@pytest.mark.parametrize("anchor", [Anchor.PROMETHEUS, Anchor.ALERTMANAGER, Anchor.SEARCH])
@pytest.mark.parametrize("pattern", BULK_PATTERNS)
@pytest.mark.parametrize("values", [VALUES, ONE_LINE_VALUES], ids=["newlines", "one-line"])
def test_bulk_matching_agrees_with_one_value_at_a_time(
    anchor: Anchor, pattern: str, values: list[str]
) -> None:
    regex = Regex(pattern, anchor)
    assert regex.matching(values) == [i for i, v in enumerate(values) if regex.matches(v)]


def test_captures_expand_groups() -> None:
    match = Regex("(?P<host>[^:]+):([0-9]+)").captures("node:9100")
    assert match is not None
    assert (match.group(1), match.group("host"), match.group(2)) == ("node", "node", "9100")
    assert Regex("(a)").captures("b") is None


def test_exponential_backtracking_patterns_answer_in_linear_time() -> None:
    started = time.monotonic()
    assert not Regex("(.|.)*x").matches("a" * 100_000)
    assert not Regex("(a|aa)+$").matches("a" * 100_000 + "b")
    assert Regex("(.|.)*x").matching(["a" * 1000] * 1000 + ["ax"]) == [1000]
    assert time.monotonic() - started < 5  # Python's re: longer than the age of the universe


LITERALS = [
    ("cgroup_oom|host_oom", "host_oom", True),
    ("cgroup_oom|host_oom", "host_oom\n", False),
    ("(?:a|b)", "b", True),
    ("a\\.b", "a.b", True),
    ("", "", True),
    ("a.*", "a\nb", False),
    (".*b", "a\nb", False),
]


@pytest.mark.parametrize(("pattern", "value", "want"), LITERALS)
def test_alertmanager_literals_match_as_re2_does(pattern: str, value: str, want: bool) -> None:
    """Plain-string patterns skip RE2 under Alertmanager's anchoring too (`.` not matching a
    newline keeps the `.*` forms on RE2)."""
    assert Regex(pattern, Anchor.ALERTMANAGER).matches(value) is want


def test_re2_is_loaded_by_the_first_pattern_that_needs_it() -> None:
    program = (
        "import sys\n"
        "from vigil.model.regex import Anchor, Regex\n"
        "Regex('cgroup_oom|host_oom', Anchor.ALERTMANAGER).matches('host_oom')\n"
        "Regex('down.*').matches('downstream')\n"
        "before = 're2' in sys.modules\n"
        "Regex('a+', Anchor.ALERTMANAGER).matches('aa')\n"
        "print(before, 're2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "True"]
