"""Bounds on a query's text, checked by a cheap scan before `promql_parser` sees it.

The parser recurses once per nesting level on the C stack (10,000 parentheses overflow it and
kill the process), holds the GIL while it runs and costs tens of microseconds per operator; the
tree it returns is walked recursively too. So a query is refused, as a parse error, when it is
longer than `MAX_QUERY_LENGTH`, nests deeper than `MAX_DEPTH` (brackets, plus the operators
chained inside each: `1+1+1` is a tree two levels deep) or has more than `MAX_OPERATORS`
operators and brackets. Strings and comments are skipped; label matchers inside `{}` do not
count as operators.
"""

from __future__ import annotations

import re

from vigil.promql.errors import ParseError

MAX_QUERY_LENGTH = 256 * 1024
MAX_DEPTH = 256
MAX_OPERATORS = 2_000

_TOKEN = re.compile(
    r"""["'`#]|[()\[\]{},]|==|!=|>=|<=|=~|!~|[-+*/%^<>]|\b(?:and|or|unless|atan2)\b""",
    re.IGNORECASE,
)
# From a quote or `#`: the whole string or comment (the match fails when it is not closed).
STRING_ENDS = {
    '"': re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL),
    "'": re.compile(r"'(?:[^'\\]|\\.)*'", re.DOTALL),
    "`": re.compile(r"`[^`]*`"),
    "#": re.compile(r"#[^\n]*"),
}
_OPEN = {"(": ")", "[": "]", "{": "}"}


def check_query_size(query: str) -> None:
    """Raise `ParseError` when `query` is too long, too deep or has too many operators."""
    if len(query) > MAX_QUERY_LENGTH:
        raise ParseError(
            f"query is {len(query)} characters long; at most {MAX_QUERY_LENGTH} are allowed",
            query[:100],
        )
    # One counter of chained operators per open bracket (the outermost level first);
    # `depth` is the open brackets plus every level's operators: a bound of the tree's depth.
    chained = [0]
    closers = [""]
    depth = operators = 0
    pos = 0
    while (token := _TOKEN.search(query, pos)) is not None:
        text = token.group(0)
        pos = token.end()
        if text in STRING_ENDS:
            skipped = STRING_ENDS[text].match(query, token.start())
            if skipped is None:
                return  # an unterminated string: the parser stops there with its own error
            pos = skipped.end()
            continue
        if closers[-1] == "}" and text != "}":
            continue  # matchers: `=~`, `!=` and `or` inside braces are no operators
        if text in _OPEN:
            chained.append(0)
            closers.append(_OPEN[text])
            depth += 1
            operators += 1
        elif text in (")", "]", "}"):
            if len(chained) > 1:
                depth -= 1 + chained.pop()
                closers.pop()
            continue
        elif text == ",":
            depth -= chained[-1]
            chained[-1] = 0
            continue
        else:
            chained[-1] += 1
            depth += 1
            operators += 1
        if depth > MAX_DEPTH:
            raise ParseError(
                f"query is nested more than {MAX_DEPTH} levels deep "
                "(brackets and chained operators)",
                query[:100],
            )
        if operators > MAX_OPERATORS:
            raise ParseError(
                f"query has more than {MAX_OPERATORS} operators and brackets", query[:100]
            )
