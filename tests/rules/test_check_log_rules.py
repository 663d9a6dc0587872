"""`vigil check rules --logql`: Loki-ruler rule files checked as LogQL, with promtool's output
and errors naming file, line:column, group and rule; the same files fail as PromQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.cmd import main


def _rule(kind: str, name: str, expr: str, extra: str = "") -> str:
    return (
        f"groups:\n  - name: g\n    rules:\n      - {kind}: {name}\n        expr: '{expr}'\n{extra}"
    )


GOOD = [
    (
        "alert",
        _rule(
            "alert",
            "ErrorBurst",
            'sum by (container) (count_over_time({c="app"} |= "ERROR" [1m])) > 5',
        ),
    ),
    (
        "record",
        _rule("record", "app:lines:rate1m", 'sum(rate({c="app"} | json | level="error" [1m]))'),
    ),
    ("scalar", _rule("alert", "Always", "vector(1)")),
    ("empty", ""),
]

BAD = [
    (
        "log query",
        _rule("alert", "A", '{c="app"} |= "ERROR"'),
        ': 5:15: group "g", rule 1, "A": could not parse expression: a log query is not a rule '
        'expression: aggregate it, e.g. count_over_time({c="app"} |= "ERROR" [5m])',
    ),
    (
        "parse error",
        _rule("record", "x", 'sum(rate({c="app"} |~ "ERR" [1m'),
        ': 5:15: group "g", rule 1, "x": could not parse expression: parse error at line 1, '
        "col 32: syntax error: unexpected end of input, expecting ']'",
    ),
    (
        "annotation template",
        _rule(
            "alert", "A", 'count_over_time({c="a"}[1m]) > 1', "        annotations: {s: '{{ $x'}\n"
        ),
        ': group "g", rule 1, "A": annotation "s": template: __alert_A:1: undefined variable "$x"',
    ),
    (
        "for on a record",
        _rule("record", "r", 'count_over_time({c="a"}[1m])', "        for: 1m\n"),
        ':4: group "g", rule 1, "r": invalid field \'for\' in recording rule',
    ),
]


@pytest.mark.parametrize(("name", "text"), GOOD, ids=[case[0] for case in GOOD])
def test_good_log_rule_files_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    status = main(["check", "rules", "--logql", str(path)])
    out, err = capsys.readouterr()
    count = 0 if name == "empty" else 1
    assert (status, out, err) == (0, f"Checking {path}\n  SUCCESS: {count} rules found\n\n", "")


@pytest.mark.parametrize(("name", "text", "error"), BAD, ids=[case[0] for case in BAD])
def test_bad_log_rule_files_name_file_line_group_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, error: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    status = main(["check", "rules", "--logql", str(path)])
    out, err = capsys.readouterr()
    assert (status, out, err) == (1, f"Checking {path}\n\n", f"  FAILED:\n{path}{error}\n")


def test_log_rules_fail_as_promql_and_the_default_pack_passes_as_logql(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(Path("src/vigil/rules/default/logs/containers.yml").resolve())
    as_promql = main(["check", "rules", path])
    promql_err = capsys.readouterr().err
    as_logql = main(["check", "rules", "--logql", "--lint-fatal", path])
    assert (as_promql, as_logql) == (1, 0)
    assert "could not parse expression" in promql_err
