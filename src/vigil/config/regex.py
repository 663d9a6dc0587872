"""RE2 regular expressions (what Prometheus accepts) on Python's `re`.

Prometheus compiles every relabel regex as `^(?s:re)$` with Go's RE2 syntax. Python's `re`
differs in small ways that change results or accept what Prometheus rejects, so patterns are
translated: `\\z`, `(?<name>`, `\\Q..\\E`, `\\x{..}`, POSIX classes, ASCII-only `\\d\\w\\s\\b`,
`$` as end of text, `x{,n}` as a literal, and flags set mid-group (`a(?i)b`). What RE2 rejects
(lookaround, backreferences, possessive or nested repetition, atomic groups, `\\Z`) is rejected
here too, with the position in the user's pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MAX_REPEAT = 1000
_UNICODE_MAX = 0x10FFFF
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAGS = re.compile(r"[imsU]*(?:-[imsU]+)?")
_GROUP_NAME = re.compile(r"[A-Za-z0-9_]+")

_Ranges = tuple[tuple[int, int], ...]
_DIGIT: _Ranges = ((0x30, 0x39),)
_WORD: _Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_SPACE: _Ranges = ((0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20))
_PERL = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_POSIX: dict[str, _Ranges] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x00, 0x7F),),
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "digit": _DIGIT,
    "graph": ((0x21, 0x7E),),
    "lower": ((0x61, 0x7A),),
    "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "space": ((0x09, 0x0D), (0x20, 0x20)),
    "upper": ((0x41, 0x5A),),
    "word": _WORD,
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}
_SIMPLE_ESCAPES = {"a": "\\a", "f": "\\f", "t": "\\t", "n": "\\n", "r": "\\r", "v": "\\v"}


class RegexError(ValueError):
    """A pattern RE2 would reject (or vigil cannot match like RE2); `position` is 0-based."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(reason, position)
        self.reason = reason
        self.position = position

    def __str__(self) -> str:
        return f"{self.reason} at position {self.position}"


def compile_anchored(pattern: str) -> re.Pattern[str]:
    """`pattern` as Prometheus compiles it, `^(?s:pattern)$`: use `.fullmatch()` on the result."""
    translated, positions = _Translator(pattern).run()
    prefix = "(?s:"
    try:
        return re.compile(f"{prefix}{translated})")
    except re.error as err:
        index = (err.pos or 0) - len(prefix)
        position = positions[index] if 0 <= index < len(positions) else len(pattern)
        raise RegexError(err.msg, position) from None


def _class_text(ranges: _Ranges) -> str:
    return "".join(
        _class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}" for lo, hi in ranges
    )


def _class_char(code: int) -> str:
    if code < 0x80 and not chr(code).isalnum():
        return f"\\x{code:02x}"
    return chr(code)


def _complement(ranges: _Ranges) -> _Ranges:
    out = []
    start = 0
    for lo, hi in sorted(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= _UNICODE_MAX:
        out.append((start, _UNICODE_MAX))
    return tuple(out)


@dataclass(slots=True)
class _Frame:
    multiline: bool
    scopes: list[str] = field(default_factory=list)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []
        self.positions: list[int] = []
        self.frames = [_Frame(multiline=False)]
        self.after_repeat = ""  # "", "repeat" or "lazy": what a following quantifier would nest on

    def emit(self, text: str, position: int) -> None:
        self.out.append(text)
        self.positions.extend([position] * len(text))

    def fail(self, reason: str, position: int | None = None) -> RegexError:
        return RegexError(reason, self.i if position is None else position)

    def run(self) -> tuple[str, list[int]]:
        src = self.src
        while self.i < len(src):
            start = self.i
            char = src[start]
            state, self.after_repeat = self.after_repeat, ""
            if char in "*+?":
                self.quantifier(char, state, start)
            elif char == "{" and _REPEAT.match(src, start):
                match = _REPEAT.match(src, start)
                assert match is not None
                self.repeat_count(match, state)
            elif char == "\\":
                self.escape()
            elif char == "[":
                self.char_class()
            elif char == "(":
                self.open_group()
            elif char == ")":
                self.close_group()
            elif char == "|":
                frame = self.frames[-1]
                self.emit(")" * len(frame.scopes) + "|", start)
                for flags in frame.scopes:
                    self.emit(f"(?{flags}:", start)
                self.i += 1
            elif char == "$":
                self.emit("$" if self.frames[-1].multiline else r"\Z", start)
                self.i += 1
            elif char in "{}]#":
                self.emit("\\" + char, start)
                self.i += 1
            else:
                self.emit(char, start)
                self.i += 1
        if len(self.frames) > 1:
            raise self.fail("missing closing )", len(src))
        self.emit(")" * len(self.frames[0].scopes), len(src))
        return "".join(self.out), self.positions

    def quantifier(self, char: str, state: str, start: int) -> None:
        if state == "lazy" or (state == "repeat" and char != "?"):
            raise self.fail(f"invalid nested repetition operator {self.src[start - 1 : start + 1]}")
        self.emit(char, start)
        self.after_repeat = "lazy" if state == "repeat" else "repeat"
        self.i += 1

    def repeat_count(self, match: re.Match[str], state: str) -> None:
        if state:
            raise self.fail(f"invalid nested repetition operator {match.group()}")
        low = int(match.group(1))
        high = low if match.group(2) is None else int(match.group(3) or -1)
        if low > _MAX_REPEAT or high > _MAX_REPEAT or (high != -1 and high < low):
            raise self.fail(f"invalid repeat count {match.group()}")
        self.emit(match.group(), self.i)
        self.i = match.end()
        self.after_repeat = "repeat"

    def open_group(self) -> None:
        src, start = self.src, self.i
        multiline = self.frames[-1].multiline
        if not src.startswith("(?", start):
            self.emit("(", start)
            self.i += 1
            self.frames.append(_Frame(multiline))
            return
        for prefix in ("(?P<", "(?<"):
            if src.startswith(prefix, start) and not src.startswith(("(?<=", "(?<!"), start):
                end = src.find(">", start)
                name = src[start + len(prefix) : end] if end != -1 else ""
                if end == -1 or not _GROUP_NAME.fullmatch(name):
                    raise self.fail(f"invalid named capture {src[start : end + 1 or None]}")
                self.emit(f"(?P<{name}>", start)
                self.i = end + 1
                self.frames.append(_Frame(multiline))
                return
        flags = _FLAGS.match(src, start + 2)
        assert flags is not None
        end = flags.end()
        text = flags.group()
        if end >= len(src) or src[end] not in ":)" or (text in ("", "-") and src[end] == ")"):
            raise self.fail(f"invalid or unsupported Perl syntax {src[start : end + 1]}")
        if "U" in text:
            raise self.fail("the ungreedy flag (?U) is not supported; use lazy quantifiers (*?)")
        if text.endswith("-"):
            raise self.fail(f"missing flags after - in {src[start : end + 1]}")
        on, _, off = text.partition("-")
        new_multiline = ("m" in on) or (multiline and "m" not in off)
        if src[end] == ":":
            self.emit(f"(?{text}:" if text else "(?:", start)
            self.frames.append(_Frame(new_multiline))
        else:
            self.emit(f"(?{text}:", start)
            frame = self.frames[-1]
            frame.scopes.append(text)
            frame.multiline = new_multiline
        self.i = end + 1

    def close_group(self) -> None:
        if len(self.frames) == 1:
            raise self.fail("unexpected )")
        frame = self.frames.pop()
        self.emit(")" * (len(frame.scopes) + 1), self.i)
        self.i += 1

    def escape(self) -> None:
        src, start = self.src, self.i
        if start + 1 >= len(src):
            raise self.fail("trailing backslash at end of expression")
        char = src[start + 1]
        self.i = start + 2
        if char == "Q":
            end = src.find("\\E", self.i)
            literal = src[self.i :] if end == -1 else src[self.i : end]
            for offset, lit in enumerate(literal):
                self.emit(re.escape(lit), self.i + offset)
            self.i = len(src) if end == -1 else end + 2
        elif char == "z":
            self.emit(r"\Z", start)
        elif char == "A":
            self.emit(r"\A", start)
        elif char in "bB":
            self.emit(f"(?a:\\{char})", start)
        elif char.lower() in _PERL:
            ranges = _PERL[char.lower()]
            self.emit(f"[{_class_text(_complement(ranges) if char.isupper() else ranges)}]", start)
        else:
            self.emit(re.escape(chr(self.escape_code(char, start))), start)

    def escape_code(self, char: str, start: int) -> int:
        """The code point of a single-character escape (after the backslash, at self.i)."""
        src = self.src
        if char in _SIMPLE_ESCAPES:
            return ord(_SIMPLE_ESCAPES[char].encode().decode("unicode_escape"))
        if char in "01234567":
            digits = char
            while len(digits) < 3 and self.i < len(src) and src[self.i] in "01234567":
                digits += src[self.i]
                self.i += 1
            if char != "0" and len(digits) == 1:
                raise self.fail(f"backreferences are not supported by RE2: \\{char}", start)
            return int(digits, 8)
        if char in "89":
            raise self.fail(f"backreferences are not supported by RE2: \\{char}", start)
        if char == "x":
            if src.startswith("{", self.i):
                end = src.find("}", self.i)
                digits = src[self.i + 1 : end] if end != -1 else ""
                self.i = end + 1
            else:
                digits = src[self.i : self.i + 2]
                self.i += 2
            if (
                not digits
                or len(digits) > 8
                or any(c not in "0123456789abcdefABCDEF" for c in digits)
            ):
                raise self.fail("invalid escape sequence \\x", start)
            code = int(digits, 16)
            if code > _UNICODE_MAX:
                raise self.fail("invalid escape sequence \\x", start)
            return code
        if char in "pP":
            raise self.fail(
                f"Unicode classes \\{char} are not supported; list the characters", start
            )
        if char.isascii() and not char.isalnum():
            return ord(char)
        raise self.fail(f"invalid escape sequence \\{char}", start)

    def char_class(self) -> None:
        src, start = self.src, self.i
        self.i += 1
        negate = src.startswith("^", self.i)
        if negate:
            self.i += 1
        parts: list[str] = []
        first = True
        while True:
            if self.i >= len(src):
                raise self.fail("missing closing ]", start)
            char = src[self.i]
            if char == "]" and not first:
                self.i += 1
                break
            first = False
            if src.startswith("[:", self.i):
                end = src.find(":]", self.i + 2)
                name = src[self.i + 2 : end] if end != -1 else ""
                bare = name.removeprefix("^")
                if end != -1 and bare in _POSIX:
                    ranges = _POSIX[bare]
                    parts.append(
                        _class_text(_complement(ranges) if name.startswith("^") else ranges)
                    )
                    self.i = end + 2
                    continue
                if end != -1 and _GROUP_NAME.fullmatch(bare):
                    raise self.fail(f"invalid character class range [:{name}:]")
            if char == "\\" and self.i + 1 < len(src) and src[self.i + 1].lower() in _PERL:
                letter = src[self.i + 1]
                ranges = _PERL[letter.lower()]
                parts.append(_class_text(_complement(ranges) if letter.isupper() else ranges))
                self.i += 2
                continue
            low_start = self.i
            low = self.class_char()
            if src.startswith("-", self.i) and self.i + 1 < len(src) and src[self.i + 1] != "]":
                self.i += 1
                high = self.class_char()
                if high < low:
                    raise self.fail(
                        f"invalid character class range {src[low_start : self.i]}", low_start
                    )
                parts.append(f"{_class_char(low)}-{_class_char(high)}")
            else:
                parts.append(_class_char(low))
        self.emit("[" + ("^" if negate else "") + "".join(parts) + "]", start)

    def class_char(self) -> int:
        src, start = self.src, self.i
        char = src[start]
        if char != "\\":
            self.i += 1
            return ord(char)
        if start + 1 >= len(src):
            raise self.fail("missing closing ]")
        escaped = src[start + 1]
        self.i = start + 2
        if escaped in "bB":
            raise self.fail(f"invalid escape sequence \\{escaped}", start)
        return self.escape_code(escaped, start)
