"""The command line: --version, --help, and `vigil check metrics` as a user runs it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import vigil
from tests.conftest import FIXTURES
from vigil.cmd import main
from vigil.exposition.check import check_metrics_command


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"vigil {vigil.__version__}"


def test_agent_flags_have_prometheus_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["agent", "--help"])
    assert "--web.listen-address" in capsys.readouterr().out


def _check(files: list[str], stdin: bytes = b"", fmt: str = "auto") -> tuple[int, list[str]]:
    out = io.StringIO()
    status = check_metrics_command(files, fmt, True, io.BytesIO(stdin), out)
    return status, out.getvalue().splitlines()


def test_check_several_files(tmp_path: Path) -> None:
    good = tmp_path / "good.prom"
    good.write_text("# HELP up Up.\n# TYPE up gauge\nup 1\n")
    bad = tmp_path / "bad.prom"
    bad.write_text('# HELP up Up.\n# TYPE up gauge\nup{job="a" 1\n')
    status, lines = _check([str(good), str(bad), str(tmp_path / "missing")])
    assert status == 1
    assert lines == [
        f"{good}: OK",
        f"{bad}: line 3, col 12: expected ',' or '}}' after label value \"a\", found '1'",
        f"{tmp_path / 'missing'}: cannot read: No such file or directory",
    ]


def test_check_stdin_lint_exit_code() -> None:
    status, lines = _check([], b"a 1\n")
    assert status == 3
    assert lines == ["(stdin): OK, 1 lint problems", "(stdin): a no help text"]


def test_check_format_flag() -> None:
    body = b"# TYPE a counter\n# HELP a x\na_total 1\n# EOF\n"
    assert _check([], body, "openmetrics")[0] == 0
    status, lines = _check([], body.replace(b"# EOF\n", b""), "openmetrics")
    assert status == 1 and "missing '# EOF'" in lines[0]


def test_check_spring_boot_through_the_console_script() -> None:
    path = FIXTURES / "exposition" / "spring-boot-actuator.txt"
    done = subprocess.run(
        [sys.executable, "-m", "vigil", "check", "metrics", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert (
        f'{path}: system_cpu_count non-histogram and non-summary metrics should not have "_count" suffix'
        in done.stdout
    )
