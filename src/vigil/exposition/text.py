r"""Prometheus text format 0.0.4, read with the verdicts of `promtool check metrics`.

Also reads Prometheus 3's quoted UTF-8 names (`{"my.metric", "label.x"="v"}`), which
promtool 2.x rejects. Samples of one family that are split up, and series written twice,
are accepted (as promtool does) and reported as problems for `vigil check metrics`.

`strict=False` reads as Prometheus's scrape parser does, which differs from promtool in
syntax too: a last line without its newline, blanks after the value or timestamp and
escapes other than `\\`, `\"` and `\n` in label values (kept as written) are taken; a
sample line starting with a blank and a timestamp with a sign are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vigil.exposition._lexer import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    _Line,
    check_label_name,
    parse_float,
    parse_int64,
    quote,
    unescape_lenient,
)
from vigil.exposition._types import MetricFamily, MetricType, ParseError, Sample
from vigil.model import Labels

_TYPES = {
    "COUNTER": MetricType.COUNTER,
    "GAUGE": MetricType.GAUGE,
    "SUMMARY": MetricType.SUMMARY,
    "UNTYPED": MetricType.UNKNOWN,
    "HISTOGRAM": MetricType.HISTOGRAM,
    "GAUGE_HISTOGRAM": MetricType.GAUGEHISTOGRAM,
}

_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\[\\"n])*"'
# The common shape of a sample line; anything else goes through the cursor parser.
_FAST_SAMPLE = re.compile(
    rf"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{((?:{_LABEL}(?:,{_LABEL})*,?)?)\}})? ([^ \t]+)(?: ([^ \t]+))?\Z"
)
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_HELP_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Problem:
    """A lint finding: the family it is about and what is wrong, as promtool prints it."""

    metric: str
    text: str


@dataclass(slots=True)
class _Family:
    family: MetricFamily
    typed: bool = False
    split: bool = False
    series: set[tuple[str, Labels, int | None]] = field(default_factory=set)


def unescape_label_value(raw: str) -> str:
    if "\\" not in raw:
        return raw
    return (
        raw.replace("\\\\", "\x00").replace('\\"', '"').replace("\\n", "\n").replace("\x00", "\\")
    )


def _unescape_help(raw: str, line: _Line, offset: int) -> str:
    def replace(m: re.Match[str]) -> str:
        char = m.group(1)
        if char == "\\":
            return "\\"
        if char == "n":
            return "\n"
        raise line.error(f"invalid escape sequence '\\{char}'", offset + m.start())

    return _HELP_ESCAPE.sub(replace, raw) if "\\" in raw else raw


class TextParser:
    """Parses a whole body into families. One instance per body."""

    def __init__(self, text: str, *, strict: bool = True) -> None:
        self._text = text
        self._strict = strict
        self._families: dict[str, _Family] = {}
        self._order: list[_Family] = []
        self._current: _Family | None = None
        self.problems: list[Problem] = []

    def parse(self) -> list[MetricFamily]:
        lines = self._text.split("\n")
        if not self._strict:
            lines.append("")
        elif lines[-1].strip(" \t"):
            raise ParseError(
                len(lines),
                len(lines[-1]) + 1,
                "unexpected end of input: the last line has no newline",
            )
        lines.pop()
        for index, text in enumerate(lines):
            lineno = index + 1
            if not text:
                continue
            fast = _FAST_SAMPLE.match(text)
            if fast is not None and self._fast_sample(fast, lineno):
                continue
            line = _Line(text, lineno)
            blanks = line.skip_blanks()
            if line.at_end():
                continue
            if line.peek() == "#":
                self._comment(line)
            elif blanks and not self._strict:
                raise line.error("invalid metric name: a sample line starts with a blank", 0)
            else:
                self._add(line, *self._sample(line))
        return [f.family for f in self._order if f.family.samples]

    def metadata(self) -> dict[str, MetricFamily]:
        """Every family named so far, with or without samples (after `parse`)."""
        return {f.family.name: f.family for f in self._order}

    # --- samples -----------------------------------------------------------------

    def _fast_sample(self, m: re.Match[str], lineno: int) -> bool:
        name, block, value_text, ts_text = m.groups()
        value = parse_float(value_text)
        if value is None:
            return False
        ts = None
        if ts_text is not None:
            ts = self._timestamp(ts_text)
            if ts is None:
                return False
        pairs: list[tuple[str, str]] = []
        if block:
            pairs = [(k, unescape_label_value(v)) for k, v in _PAIR.findall(block)]
            names = {k for k, _ in pairs}
            if len(names) != len(pairs) or "__name__" in names:
                return False
        self._add(_Line(m.string, lineno), name, pairs, value, ts)
        return True

    def _sample(self, line: _Line) -> tuple[str, list[tuple[str, str]], float, int | None]:
        name = ""
        if line.peek() != "{":
            name = line.take_regex(METRIC_NAME_RE)
            if not name:
                raise line.error("invalid metric name: expected a letter, '_', ':' or '{'")
        blanks = line.skip_blanks()
        pairs: list[tuple[str, str]] = []
        if line.peek() == "{":
            line.pos += 1
            name = parse_label_block(line, name, pairs, strict=self._strict)
            line.skip_blanks()
        elif not blanks and not line.at_end():
            raise line.error(
                f"expected ' ' or '{{' after metric name {name!r}, found {line.peek()!r}"
            )
        value_pos = line.pos
        token = line.take_until_blank()
        value = parse_float(token)
        if value is None:
            raise line.error(f"expected float as value, got {quote(token)}", value_pos)
        if line.at_end():
            return name, pairs, value, None
        line.skip_blanks()
        if line.at_end() and not self._strict:
            return name, pairs, value, None
        ts_pos = line.pos
        token = line.take_until_blank()
        ts = self._timestamp(token)
        if ts is None:
            raise line.error(f"expected integer as timestamp, got {quote(token)}", ts_pos)
        if not self._strict:
            line.skip_blanks()
        if not line.at_end():
            raise line.error(f'spurious string after timestamp: "{line.text[line.pos :]}"')
        return name, pairs, value, ts

    def _timestamp(self, token: str) -> int | None:
        """Milliseconds; a scrape (Prometheus's lexer) takes only digits, promtool a sign too."""
        if not self._strict and not (token.isascii() and token.isdigit()):
            return None
        return parse_int64(token)

    def _family_for(self, name: str) -> _Family:
        fam = self._families.get(name)
        if fam is not None:
            return fam
        for suffix, types in _SUFFIX_TYPES:
            if name.endswith(suffix):
                base = self._families.get(name[: -len(suffix)])
                if base is not None and base.family.type in types:
                    return base
        fam = _Family(MetricFamily(name))
        self._families[name] = fam
        self._order.append(fam)
        return fam

    def _add(
        self,
        line: _Line,
        name: str,
        pairs: list[tuple[str, str]],
        value: float,
        ts: int | None,
    ) -> None:
        fam = self._family_for(name)
        family = fam.family
        ftype = family.type
        if not self._strict:
            pass  # a scrape, like Prometheus's, does not look into le/quantile values
        elif ftype is MetricType.HISTOGRAM and name == family.name + "_bucket":
            _check_float_label(line, pairs, "le")
        elif ftype is MetricType.SUMMARY and name == family.name:
            _check_float_label(line, pairs, "quantile")
        labels = Labels.from_pairs(pairs) if len(pairs) > 1 else Labels(pairs)
        fam.typed = True
        if self._current is not fam:
            if family.samples and not fam.split:
                fam.split = True
                self.problems.append(
                    Problem(
                        family.name,
                        f"samples are not grouped together (again on line {line.lineno})",
                    )
                )
            self._current = fam
        key = (name, labels, ts)
        if key in fam.series:
            self.problems.append(
                Problem(family.name, f"duplicate series {name}{labels} on line {line.lineno}")
            )
        fam.series.add(key)
        family.samples.append(Sample(name, labels, value, ts))

    # --- comments ----------------------------------------------------------------

    def _comment(self, line: _Line) -> None:
        line.pos += 1
        line.skip_blanks()
        if line.at_end():
            return
        keyword = line.take_until_blank()
        if line.at_end() or keyword not in ("HELP", "TYPE"):
            return
        line.skip_blanks()
        if line.peek() == '"':
            name = line.take_quoted(strict=True)
        else:
            name = line.take_regex(METRIC_NAME_RE)
        if line.at_end():
            return
        if line.peek() not in " \t" or not name:
            raise line.error("invalid metric name in comment")
        line.skip_blanks()
        if line.at_end():
            return
        fam = self._family_for(name)
        rest = line.text[line.pos :]
        if keyword == "HELP":
            if not self._strict:
                fam.family.help = unescape_lenient(rest)
                return
            if fam.family.help is not None:
                raise line.error(f'second HELP line for metric name "{fam.family.name}"', 0)
            fam.family.help = _unescape_help(rest, line, line.pos)
            return
        if fam.typed and self._strict:
            raise line.error(
                f'second TYPE line for metric name "{fam.family.name}", or TYPE reported after samples',
                0,
            )
        mtype = _TYPES.get(rest.upper())
        if mtype is None:
            raise line.error(f'unknown metric type "{rest}"')
        fam.typed = True
        fam.family.type = mtype


def parse_label_block(
    line: _Line, name: str, pairs: list[tuple[str, str]], *, strict: bool = True
) -> str:
    r"""Labels after an opening '{' (cursor past it); returns the metric name, which
    Prometheus 3 allows inside the braces as a bare quoted string. Not `strict` (a scrape),
    a label value may hold escapes other than `\\`, `\"` and `\n`, kept as written."""
    seen: set[str] = set()
    while True:
        line.skip_blanks()
        char = line.peek()
        if char == "}":
            line.pos += 1
            break
        pos = line.pos
        if char == '"':
            label = line.take_quoted(strict=True)
            line.skip_blanks()
            if line.peek() != "=":
                if name:
                    raise line.error(f'metric name given twice: "{name}" and "{label}"', pos)
                name = label
                _after_label(line, label)
                continue
        else:
            label = line.take_regex(LABEL_NAME_RE)
            if not label:
                raise line.error(f'invalid label name for metric "{name}"')
            line.skip_blanks()
        if line.peek() != "=":
            raise line.error(f"expected '=' after label name \"{label}\", found {_found(line)}")
        line.pos += 1
        line.skip_blanks()
        if line.peek() != '"':
            raise line.error(f"expected '\"' at start of label value, found {_found(line)}")
        value = line.take_quoted(strict=strict)
        check_label_name(line, label, name, seen, pos)
        pairs.append((label, value))
        _after_label(line, value)
    if not name:
        raise line.error("invalid metric name: no name before or inside '{'")
    return name


def _after_label(line: _Line, value: str) -> None:
    line.skip_blanks()
    if line.peek() == ",":
        line.pos += 1
    elif line.peek() != "}":
        raise line.error(
            f"expected ',' or '}}' after label value \"{value}\", found {_found(line)}"
        )


_SUFFIX_TYPES = (
    ("_sum", (MetricType.SUMMARY, MetricType.HISTOGRAM)),
    ("_count", (MetricType.SUMMARY, MetricType.HISTOGRAM)),
    ("_bucket", (MetricType.HISTOGRAM,)),
)


def _found(line: _Line) -> str:
    char = line.peek()
    return "end of line" if not char else f"'{char}'"


def _check_float_label(line: _Line, pairs: list[tuple[str, str]], label: str) -> None:
    for key, value in pairs:
        if key == label and parse_float(value) is None:
            pos = line.text.find(f'{label}="') + len(label) + 2
            raise line.error(
                f"expected float as value for '{label}' label, got {quote(value)}", pos
            )


def parse_text(text: str) -> list[MetricFamily]:
    """Families of a text-format body, in order of first appearance; raises ParseError."""
    return TextParser(text).parse()
