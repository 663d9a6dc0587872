"""Go text/template semantics: tables of template, data and the output or error Go gives."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, ClassVar

import pytest

from vigil.template import GoTime, StringMap, Template, TemplateError


@dataclasses.dataclass(frozen=True)
class Alert:
    """A struct as Go templates see one: exported fields by their Go names."""

    labels: dict[str, str]
    starts_at: str
    count: int


ALERT = Alert({"job": "node"}, "2024-01-01", 3)

# (case name, template, data, expected output)
RENDER_CASES: list[tuple[str, str, Any, str]] = [
    ("text only", "hello, world", None, "hello, world"),
    ("dot", "{{ . }}", 42, "42"),
    ("nil data", "{{ . }}", None, "<no value>"),
    ("trim both sides", "{{23 -}} < {{- 45}}", None, "23<45"),
    ("trim newlines", "a\n\t{{- 1 }}\n  b {{- /* c */ -}}\n  c", None, "a1\n  bc"),
    ("minus number is not trim", "{{-3}}", None, "-3"),
    ("comment", "a{{/* a comment */}}b", None, "ab"),
    ("map field", "{{ .job }}", {"job": "node"}, "node"),
    ("missing map key", "{{ .nope }}", {"job": "node"}, "<no value>"),
    ("missing key on string map", "{{ .nope }}", StringMap(job="node"), "<no value>"),
    ("nested missing", "{{ .a.b.c }}", {}, "<no value>"),
    ("nil map value", "{{ .a }}", {"a": None}, "<no value>"),
    ("print nil value", "{{ print .a .missing }}", {"a": None}, "<nil> <nil>"),
    ("struct fields", "{{ .Labels.job }} {{ .StartsAt }} {{ .Count }}", ALERT, "node 2024-01-01 3"),
    ("struct %v", "{{ . }}", ALERT, "{map[job:node] 2024-01-01 3}"),
    ("root var", "{{ with .a }}{{ $.b }}{{ end }}", {"a": 1, "b": 2}, "2"),
    ("declare and assign", "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", None, "2"),
    (
        "if scope",
        "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}",
        None,
        "2",
    ),
    (
        "range scope",
        "{{ $x := 0 }}{{ range . }}{{ $x = . }}{{ end }}{{ $x }}",
        [1, 2, 3],
        "3",
    ),
    ("range list", "{{ range . }}[{{ . }}]{{ end }}", ["a", "b"], "[a][b]"),
    ("range index", "{{ range $i, $v := . }}{{ $i }}={{ $v }} {{ end }}", ["a", "b"], "0=a 1=b "),
    ("range one var", "{{ range $v := . }}{{ $v }}{{ end }}", ["a", "b"], "ab"),
    (
        "range map sorted",
        "{{ range $k, $v := . }}{{ $k }}:{{ $v }},{{ end }}",
        {"b": 2, "a": 1, "c": 3},
        "a:1,b:2,c:3,",
    ),
    ("range map values", "{{ range . }}{{ . }}{{ end }}", {"z": 1, "y": 2}, "21"),
    ("range else empty", "{{ range . }}x{{ else }}empty{{ end }}", [], "empty"),
    ("range else missing", "{{ range .x }}x{{ else }}none{{ end }}", {}, "none"),
    (
        "range break continue",
        "{{ range . }}{{ if eq . 3 }}{{ break }}{{ end }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
        [0, 1, 2, 3, 4],
        "02",
    ),
    ("range assign vars", "{{ $i := 0 }}{{ range $i = . }}{{ end }}{{ $i }}", [5, 6], "6"),
    (
        "nested range dot",
        "{{ range . }}{{ range . }}{{ . }}{{ end }};{{ end }}",
        [[1, 2], [3]],
        "12;3;",
    ),
    (
        "if else if else",
        "{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else }}other{{ end }}",
        2,
        "two",
    ),
    ("if empty string false", '{{ if "" }}y{{ else }}n{{ end }}', None, "n"),
    ("if empty map false", "{{ if . }}y{{ else }}n{{ end }}", {}, "n"),
    ("if zero float false", "{{ if 0.0 }}y{{ else }}n{{ end }}", None, "n"),
    ("with sets dot", "{{ with .a }}{{ . }}{{ end }}", {"a": "x"}, "x"),
    ("with else", "{{ with .a }}{{ . }}{{ else }}none{{ end }}", {"a": ""}, "none"),
    ("else with", "{{ with .a }}a{{ else with .b }}b{{ . }}{{ else }}n{{ end }}", {"b": 3}, "b3"),
    ("with declare", "{{ with $x := .a }}{{ $x }}{{ . }}{{ end }}", {"a": 7}, "77"),
    ("and deciding value", "{{ and 1 0 2 }}|{{ and 1 2 }}|{{ and 1 .a }}", {"a": "x"}, "0|2|x"),
    ("or deciding value", '{{ or 0 "" }}|{{ or 0 "x" 3 }}|{{ or .a .b }}', {"b": 5}, "|x|5"),
    ("and short-circuits", "{{ and false (index . 9) }}", [1], "false"),
    ("or short-circuits", "{{ or true (index . 9) }}", [1], "true"),
    ("not", "{{ not 0 }} {{ not . }}", [1], "true false"),
    ("eq multi", "{{ eq 3 1 2 3 }} {{ eq 3 1 2 }}", None, "true false"),
    ("eq strings and nil", '{{ eq .a "x" }} {{ eq .missing "x" }}', {"a": "x"}, "true false"),
    (
        "ordered compare",
        '{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }}',
        None,
        "true true true false",
    ),
    (
        "define template",
        '{{ define "d" }}[{{ . }}]{{ end }}{{ template "d" 5 }}{{ template "d" }}',
        None,
        "[5][<no value>]",
    ),
    (
        "template gets no vars",
        '{{ define "d" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template "d" "dot" }}',
        None,
        "dot",
    ),
    ("block", '{{ block "b" . }}<{{ . }}>{{ end }}', "x", "<x>"),
    (
        "empty define does not override",
        '{{ block "b" . }}<{{ . }}>{{ end }}{{ define "b" }}{{ end }}',
        "x",
        "<x>",
    ),
    ("parenthesised", '{{ (printf "%d" 3) }} {{ len (printf "%s" "abc") }}', None, "3 3"),
    (
        "pipeline final arg",
        '{{ "x" | printf "%s-%s" "a" }} {{ "abc" | len | print }}',
        None,
        "a-x 3",
    ),
    ("chain on pipe", "{{ (.a).b }}", {"a": {"b": "ab"}}, "ab"),
    ("strings", r'{{ "a\tb\x41\u00e9" }}|{{ `raw\n` }}|{{ "\"" }}', None, 'a\tbAé|raw\\n|"'),
    (
        "numbers",
        "{{ 'a' }} {{ 0x1F }} {{ 1_000 }} {{ 0o17 }} {{ 017 }} {{ 1e3 }} {{ .5 }} {{ -2 }}",
        None,
        "97 31 1000 15 15 1000 0.5 -2",
    ),
    ("bool nil", "{{ true }} {{ false }} {{ print nil }}", None, "true false <nil>"),
    (
        "float %v",
        "{{ 1e6 }} {{ 0.5 }} {{ 3.0 }} {{ 123456.0 }} {{ 1234567.0 }} {{ 1e-5 }} {{ 0.0001 }}",
        None,
        "1e+06 0.5 3 123456 1.234567e+06 1e-05 0.0001",
    ),
    ("float data", "{{ . }}", 0.1 + 0.2, "0.30000000000000004"),
    (
        "special floats",
        "{{ index . 0 }} {{ index . 1 }} {{ index . 2 }}",
        [float("inf"), float("-inf"), float("nan")],
        "+Inf -Inf NaN",
    ),
    ("list %v", "{{ . }}", [1, "a", 2.5, None, True], "[1 a 2.5 <nil> true]"),
    ("map %v", "{{ . }}", {"b": [1], "a": {"x": 1}}, "map[a:map[x:1] b:[1]]"),
    (
        "printf verbs",
        '{{ printf "%s|%d|%5.2f|%-5s|%05d|%x|%X|%q|%v|%t|%e|%g|%%" "s" 42 3.14159 "ab" 42 255 "hi" "q" 1.5 true 1234.5678 0.00001234 }}',
        None,
        's|42| 3.14|ab   |00042|ff|6869|"q"|1.5|true|1.234568e+03|1.234e-05|%',
    ),
    (
        "printf errors",
        '{{ printf "%d %s" "x" 1.5 }}{{ printf "%d" }}{{ printf "x" 1 }}',
        None,
        "%!d(string=x) %!s(float64=1.5)%!d(MISSING)x%!(EXTRA int=1)",
    ),
    (
        "printf lists",
        '{{ printf "%q %d %v" .s .n .m }}',
        {"s": ["a", "b"], "n": [1, 2], "m": {"k": "v"}},
        '["a" "b"] [1 2] map[k:v]',
    ),
    (
        "print spacing",
        '{{ print 1 2 "a" 3 "b" "c" 4.5 }}|{{ println 1 "a" }}',
        None,
        "1 2a3bc4.5|1 a\n",
    ),
    ("len", '{{ len "héllo" }} {{ len . }} {{ len .a }}', {"a": [1, 2, 3]}, "6 1 3"),
    (
        "index",
        '{{ index . "a" 1 }} {{ index . "m" "k" }} {{ index . "m" "nope" }}',
        {"a": [1, 2], "m": {"k": "v"}},
        "2 v <no value>",
    ),
    ("index string map", '{{ index . "nope" }}|', StringMap(a="b"), "|"),
    (
        "slice",
        '{{ slice "hello" 1 3 }} {{ slice . 1 }} {{ slice . }}',
        [1, 2, 3],
        "el [2 3] [1 2 3]",
    ),
    (
        "escapers",
        '{{ html "<a href=\'x\'>&\\"" }} {{ js "a\'b\\"<>&=\\\\\\n" }} {{ urlquery "a b&c=d/é" }}',
        None,
        "&lt;a href=&#39;x&#39;&gt;&amp;&#34; a\\'b\\\"\\u003C\\u003E\\u0026\\u003D\\\\\\u000A a+b%26c%3Dd%2F%C3%A9",
    ),
    ("call", "{{ call .f 2 3 }}", {"f": lambda a, b: a * b}, "6"),
    ("printf rounding", '{{ printf "%.0f %.1f %.2f" 2.5 0.25 1.005 }}', None, "2 0.2 1.00"),
    (
        "printf flags",
        '{{ printf "%6.2f|%-8v|%08b|%3c|" 3.14159 "ab" 5 65 }}',
        None,
        "  3.14|ab      |00000101|  A|",
    ),
    ("quote escapes", '{{ printf "%q" "é\\x01\\u2028" }}', None, '"é\\x01\\u2028"'),
]


@pytest.mark.parametrize(
    ("name", "text", "data", "want"), RENDER_CASES, ids=[c[0] for c in RENDER_CASES]
)
def test_render(name: str, text: str, data: Any, want: str) -> None:
    assert Template.parse("t", text).execute(data) == want


# (template, data, exact Go error message)
EXEC_ERRORS: list[tuple[str, Any, str]] = [
    (
        "{{ eq 1 1.5 }}",
        None,
        'template: t:1:3: executing "t" at <eq 1 1.5>: error calling eq: incompatible types for comparison',
    ),
    (
        "{{ lt true false }}",
        None,
        'template: t:1:3: executing "t" at <lt true false>: error calling lt: invalid type for comparison',
    ),
    (
        "{{ gt . 1 }}",
        2.5,
        'template: t:1:3: executing "t" at <gt . 1>: error calling gt: incompatible types for comparison',
    ),
    (
        "{{ and }}",
        None,
        'template: t:1:3: executing "t" at <and>: wrong number of args for and: want at least 1 got 0',
    ),
    (
        "{{ lt 1 }}",
        None,
        'template: t:1:3: executing "t" at <lt>: wrong number of args for lt: want 2 got 1',
    ),
    (
        "{{ .a.b }}",
        {"a": None},
        'template: t:1:5: executing "t" at <.a.b>: nil pointer evaluating interface {}.b',
    ),
    (
        "{{ .a.b }}",
        {"a": 1},
        'template: t:1:5: executing "t" at <.a.b>: can\'t evaluate field b in type int',
    ),
    (
        "x\n  {{ .Nope }}",
        ALERT,
        'template: t:2:5: executing "t" at <.Nope>: can\'t evaluate field Nope in type Alert',
    ),
    (
        "{{ .count }}",
        ALERT,
        'template: t:1:3: executing "t" at <.count>: count is an unexported field of struct type Alert',
    ),
    (
        "{{ range . }}{{ end }}",
        5,
        'template: t:1:9: executing "t" at <.>: range can\'t iterate over 5',
    ),
    (
        '{{ template "nope" }}',
        None,
        'template: t:1:12: executing "t" at <{{template "nope"}}>: template "nope" not defined',
    ),
    ("{{ nil }}", None, 'template: t:1:3: executing "t" at <nil>: nil is not a command'),
    (
        "{{ 3 4 }}",
        None,
        'template: t:1:3: executing "t" at <3>: can\'t give argument to non-function 3',
    ),
    (
        "{{ .a 1 }}",
        {"a": 1},
        'template: t:1:3: executing "t" at <.a>: a is not a method but has arguments',
    ),
    (
        "{{ index . 5 }}",
        [1],
        'template: t:1:3: executing "t" at <index . 5>: error calling index: index out of range: 5',
    ),
    (
        '{{ index . "k" }}',
        [1],
        'template: t:1:3: executing "t" at <index . "k">: error calling index: cannot index slice/array with type string',
    ),
    (
        "{{ len 3 }}",
        None,
        'template: t:1:3: executing "t" at <len 3>: error calling len: len of type int',
    ),
    (
        "{{ slice . 2 1 }}",
        [1, 2],
        'template: t:1:3: executing "t" at <slice . 2 1>: error calling slice: invalid slice index: 2 > 1',
    ),
    ("{{ printf 3 }}", None, 'template: t:1:10: executing "t" at <3>: expected string; found 3'),
    (
        "{{ printf . }}",
        3,
        'template: t:1:10: executing "t" at <.>: wrong type for value; expected string; got int',
    ),
    (
        "{{ printf .x }}",
        {},
        'template: t:1:10: executing "t" at <.x>: invalid value; expected string',
    ),
    (
        '{{ define "d" }}\n {{ .x.y }}{{ end }}{{ template "d" . }}',
        {"x": 1},
        'template: t:2:6: executing "d" at <.x.y>: can\'t evaluate field y in type int',
    ),
]


@pytest.mark.parametrize(("text", "data", "want"), EXEC_ERRORS)
def test_exec_error(text: str, data: Any, want: str) -> None:
    tmpl = Template.parse("t", text)
    with pytest.raises(TemplateError) as err:
        tmpl.execute(data)
    assert str(err.value) == want


# (template, exact Go error message); these match `promtool check rules` (see the differential test).
PARSE_ERRORS: list[tuple[str, str]] = [
    ("{{ $label.foo }}", 'template: t:1: undefined variable "$label"'),
    ("{{ foo }}", 'template: t:1: function "foo" not defined'),
    ("{{ if }}x{{ end }}", "template: t:1: missing value for if"),
    ("{{ if true }}x", "template: t:1: unexpected EOF"),
    ("{{ end }}", "template: t:1: unexpected {{end}}"),
    ("{{ else }}", "template: t:1: unexpected {{else}}"),
    ("{{ .a | 3 }}", "template: t:1: non executable command in pipeline stage 2"),
    ('{{ "abc }}', "template: t:1: unterminated quoted string"),
    ('{{ "a\\qb" }}', "template: t:1: invalid syntax"),
    ("{{ `abc }}", "template: t:1: unterminated raw quoted string"),
    ("{{ 'ab' }}", "template: t:1: malformed character constant: 'ab'"),
    ("{{ 3x }}", 'template: t:1: bad number syntax: "3x"'),
    ("{{ ( 1 }}", "template: t:1: unclosed left paren"),
    ("{{ 1 ) }}", 'template: t:1: unexpected ")" in command'),
    ("{{ 1 ", "template: t:1: unclosed action"),
    ("{{/* x */ y }}", "template: t:1: comment ends before closing delimiter"),
    ("{{/* x ", "template: t:1: unclosed comment"),
    ("{{ range $a, $b, $c := . }}{{ end }}", "template: t:1: too many declarations in range"),
    ("{{ with $a, $b := . }}{{ end }}", "template: t:1: too many declarations in with"),
    ("{{ break }}", "template: t:1: {{break}} outside {{range}}"),
    (
        '{{ define "x" }}a{{ end }}{{ define "x" }}b{{ end }}',
        'template: t:1: template: multiple definition of template "x"',
    ),
    ("{{ template x }}", 'template: t:1: unexpected "x" in template clause'),
    ("{{ 3.foo }}", 'template: t:1: bad number syntax: "3.f"'),
    ('{{ "x".foo }}', 'template: t:1: unexpected . after term "\\"x\\""'),
    (
        '{{ block "b" . }}1{{ end }}{{ define "b" }}2{{ end }}',
        'template: t:1: template: multiple definition of template "b"',
    ),
    ("{{ .a.b. }}", "template: t:1: unexpected <.> in operand"),
    ("{{ $x := }}", "template: t:1: missing value for command"),
    ("{{ @ }}", 'template: t:1: unexpected "@" in command'),
    (
        "{{ if true }}a{{ else }}b{{ else }}c{{ end }}",
        "template: t:1: expected end; found {{else}}",
    ),
    ("x\n{{ if }}", "template: t:2: missing value for if"),
    ("{{ 99999999999999999999 }}", 'template: t:1: integer overflow: "99999999999999999999"'),
    ("{{ if true }}\n{{ end", "template: t:2: unclosed action"),
    ("{{ range $i, $e := . }}{{ end }}{{ $i }}", 'template: t:1: undefined variable "$i"'),
    ("{{ with $x := 1 }}{{ end }}{{ $x }}", 'template: t:1: undefined variable "$x"'),
    ("{{ range . }}{{ else if true }}x{{ end }}", "template: t:1: unexpected <if> in input"),
]


@pytest.mark.parametrize(("text", "want"), PARSE_ERRORS)
def test_parse_error(text: str, want: str) -> None:
    with pytest.raises(TemplateError) as err:
        Template.parse("t", text)
    assert str(err.value) == want


def test_lookup_and_funcs() -> None:
    def shout(s: str) -> str:
        return s.upper() + "!"

    tmpl = Template.parse(
        "main", '{{ define "greet" }}hi {{ . | shout }}{{ end }}main', {"shout": shout}
    )
    greet = tmpl.lookup("greet")
    assert greet is not None
    assert (tmpl.execute(None), greet.execute("bob"), tmpl.lookup("nope")) == (
        "main",
        "hi BOB!",
        None,
    )


def test_function_errors_name_the_call() -> None:
    def fail(x: Any) -> str:
        raise ValueError(f"bad {x}")

    tmpl = Template.parse("t", "{{ fail 1 }}", {"fail": fail})
    with pytest.raises(TemplateError, match=r"at <fail 1>: error calling fail: bad 1$"):
        tmpl.execute(None)


@pytest.mark.parametrize(
    ("option", "want"),
    [("default", "<no value>|<no value>"), ("zero", "|<no value>")],
)
def test_missing_key_option(option: Any, want: str) -> None:
    tmpl = Template.parse("t", "{{ .s.x }}|{{ .m.x }}", missing_key=option)
    assert tmpl.execute({"s": StringMap(), "m": {}}) == want


def test_missing_key_error() -> None:
    tmpl = Template.parse("t", "{{ .x }}", missing_key="error")
    with pytest.raises(TemplateError, match='map has no entry for key "x"'):
        tmpl.execute({})


class Alerts(list[dict[str, str]]):
    """A value with Go methods, as Alertmanager's template data has (`.Alerts.Firing`)."""

    __go_methods__: ClassVar[dict[str, str]] = {"Firing": "firing", "Status": "status"}

    def firing(self) -> Alerts:
        return Alerts(a for a in self if a["status"] == "firing")

    def status(self, index: int) -> str:
        return self[index]["status"]


def test_declared_methods_are_called() -> None:
    alerts = Alerts([{"status": "firing", "n": "a"}, {"status": "resolved", "n": "b"}])
    text = (
        "{{ len .Firing }} {{ range .Firing }}{{ .n }}{{ end }} {{ .Status 1 }} {{ 0 | .Status }}"
    )
    assert Template.parse("t", text).execute(alerts) == "1 a resolved firing"


def test_time_methods() -> None:
    when = GoTime(dt.datetime(2024, 1, 1, 1, 2, 3, 500000, tzinfo=dt.UTC))
    text = (
        '{{ .Format "2006-01-02 15:04:05.000 MST" }}|{{ .Unix }}|{{ .UnixMilli }}|{{ .UTC.Year }}'
    )
    assert Template.parse("t", text).execute(when) == (
        "2024-01-01 01:02:03.500 UTC|1704070923|1704070923500|2024"
    )


def test_method_argument_types_are_checked() -> None:
    when = GoTime(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(TemplateError, match=r"at <1>: expected string; found 1$"):
        Template.parse("t", "{{ .Format 1 }}").execute(when)
