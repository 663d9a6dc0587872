"""RE2 semantics on Python's re: where the two differ, vigil matches like Prometheus (RE2)."""

from __future__ import annotations

import pytest

from vigil.config.regex import RegexError, compile_anchored

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
    ("[[:alpha:]]+", "abcXYZ", True),
    ("[[:^digit:]]+", "abc", True),
    ("x{,3}", "x{,3}", True),  # RE2: literal; Python 3.11: a repetition
    ("x{,3}", "xx", False),
    ("a$", "a", True),
    (r"a\z", "a", True),
    (r"\Qa.b*\E", "a.b*", True),
    (r"\Qa.b*\E", "axbb", False),
    (r"\x{41}\x42", "AB", True),
    ("(?<n>a)b", "ab", True),
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
]


@pytest.mark.parametrize(("pattern", "value", "want"), MATCHES)
def test_matches_like_re2(pattern: str, value: str, want: bool) -> None:
    assert (compile_anchored(pattern).fullmatch(value) is not None) is want


REJECTED = [
    ("(?=a)", "invalid or unsupported Perl syntax (?= at position 0"),
    ("(?<=a)b", "invalid or unsupported Perl syntax (?< at position 0"),
    ("(?>a)", "invalid or unsupported Perl syntax (?> at position 0"),
    ("(?#c)", "invalid or unsupported Perl syntax (?# at position 0"),
    (r"(a)\1", r"backreferences are not supported by RE2: \1 at position 3"),
    ("a**", "invalid nested repetition operator ** at position 2"),
    ("a*+", "invalid nested repetition operator *+ at position 2"),
    ("a++", "invalid nested repetition operator ++ at position 2"),
    ("a{2}{3}", "invalid nested repetition operator {3} at position 4"),
    ("a{1001}", "invalid repeat count {1001} at position 1"),
    (r"\Z", r"invalid escape sequence \Z at position 0"),
    (r"\pL", r"Unicode classes \p are not supported; list the characters at position 0"),
    ("(?U)a", "the ungreedy flag (?U) is not supported; use lazy quantifiers (*?) at position 0"),
    ("foo(bar", "missing closing ) at position 7"),
    ("a)", "unexpected ) at position 1"),
    ("[a", "missing closing ] at position 0"),
    ("[z-a]", "invalid character class range z-a at position 1"),
    ("*a", "nothing to repeat at position 0"),
]


@pytest.mark.parametrize(("pattern", "message"), REJECTED)
def test_rejects_what_re2_rejects(pattern: str, message: str) -> None:
    with pytest.raises(RegexError) as caught:
        compile_anchored(pattern)
    assert str(caught.value) == message
