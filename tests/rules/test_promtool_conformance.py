"""Every row of the shared promtool EXPECTED.tsv run through `vigil check|test rules`, and the
Debian promtool (2.42) on the rows it can read, both required to give upstream's exit status."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import CONFORMANCE, peer
from vigil.cmd import main

PROMTOOL_DIR = CONFORMANCE / "promtool"


@dataclass(frozen=True, slots=True)
class Row:
    command: str
    file: str
    args: tuple[str, ...]
    expected: int

    @property
    def id(self) -> str:
        return " ".join([self.command, self.file, *self.args])


def _rows() -> list[Row]:
    rows = []
    for line in (PROMTOOL_DIR / "EXPECTED.tsv").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        command, file, extra, status = line.split("\t")
        args = () if extra == "-" else tuple(extra.split())
        rows.append(Row(command, file, args, int(status)))
    return rows


ROWS = _rows()

# Rows the Debian promtool 2.42 cannot judge, and why (the verdict is upstream 3.x's).
PROMTOOL_242_CANNOT = {
    "test unittest.yml": "native-histogram `histogram:` samples are a 3.x field",
    "test start-time-test.yml": "`start_timestamp` is a 3.x field",
    "test rules_run_no_fuzzy.yml": "`fuzzy_compare` is a 3.x field",
    "test no-test-group-interval.yml": "2.42 defaults a test group's interval differently",
    "test rules_run.yml --run correct": "`--run` is a 3.x flag",
    "test rules_run.yml --run wrong": "`--run` is a 3.x flag",
    "test rules_run.yml --run correct --run wrong": "`--run` is a 3.x flag",
    "test rules_run_extrafields.yml --ignore-unknown-fields": "`--ignore-unknown-fields` is 3.x",
    "test rules_run_fuzzy.yml --run correct": "`--run` is a 3.x flag",
    "test rules_run_fuzzy.yml --run wrong": "`--run` is a 3.x flag",
}

# Rows where vigil knowingly differs from upstream, and why.
VIGIL_DIFFERS: dict[str, str] = {}


@contextlib.contextmanager
def _in_dir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _vigil_status(row: Row) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        _in_dir(PROMTOOL_DIR),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        status = main([row.command, "rules", *row.args, row.file])
    return status, out.getvalue() + err.getvalue()


def test_expected_tsv_agreement(summary: Callable[[str], None]) -> None:
    """One test for the whole table, so the agreement count is reported once."""
    promtool = peer("promtool")
    vigil_ok, promtool_ok, promtool_rows, problems = 0, 0, 0, []
    for row in ROWS:
        status, output = _vigil_status(row)
        if status == row.expected:
            vigil_ok += 1
        elif row.id not in VIGIL_DIFFERS:
            problems.append(f"vigil {row.id}: exit {status}, want {row.expected}\n{output}")
        if row.id in PROMTOOL_242_CANNOT:
            continue
        promtool_rows += 1
        done = subprocess.run(
            [promtool, row.command, "rules", *row.args, row.file],
            cwd=PROMTOOL_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode == row.expected == status:
            promtool_ok += 1
        else:
            problems.append(
                f"promtool {row.id}: exit {done.returncode}, vigil {status}, want {row.expected}"
            )
    summary(f"promtool EXPECTED.tsv: vigil agrees on {vigil_ok}/{len(ROWS)} rows")
    summary(
        f"promtool EXPECTED.tsv: Debian promtool 2.42 and vigil agree on {promtool_ok}/"
        f"{promtool_rows} rows it can read ({len(PROMTOOL_242_CANNOT)} rows need 3.x)"
    )
    assert problems == []
    assert vigil_ok == len(ROWS) - len(VIGIL_DIFFERS)
