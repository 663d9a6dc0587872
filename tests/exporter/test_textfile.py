"""The textfile collector: node_exporter's semantics for a directory of `*.prom` files."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from tests.exporter.conftest import HOST, exposition
from vigil.exporter.textfile import TextfileCollector

MTIME = 1_795_600_000


def textfile_dir(tmp_path: Path, extra: dict[str, str]) -> Path:
    directory = tmp_path / "textfile"
    shutil.copytree(HOST / "textfile", directory)
    for name, body in extra.items():
        (directory / name).write_text(body)
    for path in directory.iterdir():
        os.utime(path, (MTIME, MTIME))
    return directory


def test_reads_every_prom_file(tmp_path: Path) -> None:
    d = textfile_dir(tmp_path, {})
    assert (
        exposition(TextfileCollector(str(d)))
        == f"""\
# HELP app_jobs_done_total Jobs finished by the nightly batch.
# TYPE app_jobs_done_total counter
app_jobs_done_total{{priority="",queue="mail"}} 12
app_jobs_done_total{{priority="high",queue="sms"}} 3
# HELP backup_last_success_timestamp_seconds Metric read from {d}/backup.prom
# TYPE backup_last_success_timestamp_seconds untyped
backup_last_success_timestamp_seconds 1795600000
# HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully read.
# TYPE node_textfile_mtime_seconds gauge
node_textfile_mtime_seconds{{file="{d}/app.prom"}} 1795600000
node_textfile_mtime_seconds{{file="{d}/backup.prom"}} 1795600000
# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise
# TYPE node_textfile_scrape_error gauge
node_textfile_scrape_error 0
"""
    )


# (file name, body, what the log line must say)
BAD_FILES = [
    ("broken.prom", "bad metric{\n", "line 1"),
    ("stamped.prom", "stamped_metric 1 1700000000000\n", "unsupported client-side timestamps"),
    ("binary.prom", "\udcff", "can't decode"),
]


@pytest.mark.parametrize(("name", "body", "reason"), BAD_FILES)
def test_bad_file_is_skipped_whole_and_flagged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, body: str, reason: str
) -> None:
    d = textfile_dir(tmp_path, {})
    (d / name).write_bytes(body.encode("utf-8", "surrogateescape"))
    with caplog.at_level(logging.ERROR, logger="vigil.exporter"):
        text = exposition(TextfileCollector(str(d)))
    assert [r.getMessage() for r in caplog.records] == [
        f"failed to collect textfile data from {d}/{name}: "
        + caplog.records[0].getMessage().split(": ", 1)[1]
    ]
    assert reason in caplog.records[0].getMessage()
    assert "node_textfile_scrape_error 1" in text
    assert name not in text  # no mtime for a file that was not read
    assert 'app_jobs_done_total{priority="",queue="mail"} 12' in text


def test_missing_directory_is_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="vigil.exporter"):
        text = exposition(TextfileCollector(str(tmp_path / "absent")))
    assert "failed to read textfile collector directory" in caplog.text
    assert text.endswith("node_textfile_scrape_error 1\n")


def test_no_directory_configured_reads_nothing() -> None:
    assert exposition(TextfileCollector("")).endswith("node_textfile_scrape_error 0\n")


def test_same_metric_in_two_files_is_merged(tmp_path: Path) -> None:
    d = textfile_dir(
        tmp_path,
        {"more.prom": '# TYPE app_jobs_done_total counter\napp_jobs_done_total{queue="push"} 1\n'},
    )
    text = exposition(TextfileCollector(str(d)))
    assert 'app_jobs_done_total{priority="",queue="push"} 1' in text
    assert "node_textfile_scrape_error 0" in text


def test_conflicting_help_is_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    d = textfile_dir(
        tmp_path, {"more.prom": "# HELP app_jobs_done_total Other.\napp_jobs_done_total 1\n"}
    )
    with caplog.at_level(logging.ERROR, logger="vigil.exporter"):
        text = exposition(TextfileCollector(str(d)))
    assert "inconsistent metric app_jobs_done_total" in caplog.text
    assert "node_textfile_scrape_error 1" in text
    assert "app_jobs_done_total 1" not in text
