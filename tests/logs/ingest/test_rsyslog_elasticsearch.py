"""Debian's rsyslog with omelasticsearch (bulk mode) forwards syslog messages to vigil's
Elasticsearch API: rsyslog runs in the foreground on a private config (its pid file, work
dir and error file in tmp_path, its input on a free TCP port fed by `logger --tcp`), and each
message arrives as a log entry with rsyslog's fields as structured metadata."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_S, free_port, peer
from tests.logs.ingest.stores import serving, stored
from vigil.logs import MemoryLogStore
from vigil.logs.ingest.elasticsearch import BulkOptions
from vigil.model import Labels
from vigil.web.ingest.elasticsearch import ElasticsearchAPI

pytestmark = pytest.mark.slow

CONFIG = """
global(workDirectory="{work}")
module(load="imtcp")
module(load="omelasticsearch")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
template(name="vigil-json" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="program" name="programname" format="jsonf")
}}
action(type="omelasticsearch" server="127.0.0.1" serverport="{es}" template="vigil-json"
       searchIndex="syslog" bulkmode="on" errorFile="{errors}")
"""


@contextmanager
def _rsyslog(tmp_path: Path, es_port: int) -> Iterator[int]:
    tcp = free_port()
    work = tmp_path / "rsyslog"
    work.mkdir()
    config = tmp_path / "rsyslog.conf"
    config.write_text(
        CONFIG.format(work=work, tcp=tcp, es=es_port, errors=tmp_path / "es-errors.json")
    )
    proc = subprocess.Popen(
        [peer("rsyslogd"), "-n", "-f", str(config), "-i", str(tmp_path / "rsyslog.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield tcp
    finally:
        proc.terminate()
        proc.wait(PATIENCE_S)


def test_rsyslog_omelasticsearch(tmp_path: Path) -> None:
    store = MemoryLogStore()
    api = ElasticsearchAPI(lambda: store, BulkOptions(stream_fields=("host", "program")))
    messages = ["order 17 paid", "WARNING: stock low ✓", "payment failed"]
    with serving(api.app()) as url, _rsyslog(tmp_path, int(url.rsplit(":", 1)[1])) as tcp:
        deadline = time.monotonic() + PATIENCE_S
        for priority, message in zip(
            ("user.info", "user.warning", "user.err"), messages, strict=True
        ):
            # logger fails until rsyslog listens; once it succeeds rsyslog has the message
            while subprocess.run(
                [peer("logger"), "--rfc5424", "-T", "-n", "127.0.0.1", "-P", str(tcp),
                 "-t", "shop", "-p", priority, message],
                stderr=subprocess.DEVNULL,
                check=False,
            ).returncode:  # fmt: skip
                assert time.monotonic() < deadline, "rsyslog did not listen"
                time.sleep(0.1)
        while sum(len(rows) for rows in stored(store).values()) < len(messages):
            assert time.monotonic() < deadline, f"rsyslog delivered {stored(store)}"
            time.sleep(0.1)
    found = stored(store)
    streams = list(found)
    assert [s.without("host") for s in streams] == [
        Labels.from_dict({"index": "syslog", "program": "shop", "service_name": "unknown_service"})
    ]
    rows = found[streams[0]]
    got = {
        (line.decode(), meta.get("severity"), meta.get("detected_level")) for _, line, meta in rows
    }
    assert got == {
        ("order 17 paid", "info", "info"),
        ("WARNING: stock low ✓", "warning", "warning"),
        ("payment failed", "err", "err"),
    }
