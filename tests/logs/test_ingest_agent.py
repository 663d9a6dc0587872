"""The server's in-process log collection: a host's files straight into the disk log store,
through Loki 3's discovery, at least once across a store that is not open yet."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry

from vigil.exporter.logs import LogCollectionOptions, LogCollector
from vigil.logs.ingest.agent import AppenderSink
from vigil.logs.service import LogStorage
from vigil.logs.store import LogStoreOptions
from vigil.model import Labels, Matcher
from vigil.model.clock import ManualClock


def test_collected_files_land_in_the_store_with_derived_fields(tmp_path: Path) -> None:
    app = tmp_path / "app.log"
    app.write_text("level=info msg=started\nlevel=error msg=boom\n")
    clock = ManualClock()
    storage = LogStorage(tmp_path / "logs", LogStoreOptions(), clock, CollectorRegistry())
    collection = LogCollectionOptions(
        docker_containers=None,
        files=(str(tmp_path / "*.log"),),
        positions_file=tmp_path / "positions.json",
        host="vm1",
        stages=(),
    )
    collector = LogCollector(collection, AppenderSink(storage), CollectorRegistry(), clock.now)
    collector.tick()
    clock.advance(3)
    collector.tick()  # the store is not open yet: retried later, nothing lost
    assert collector.last_error.startswith("log store cannot write")
    asyncio.run(storage.start())
    try:
        clock.advance(2)
        collector.tick()
        clock.advance(3)
        collector.tick()  # the last line, once no trace can follow it
        querier = storage.querier(0, 2**62)
        got = [
            (e.labels, list(e.lines), e.metadata)
            for e in querier.select([Matcher.of("host", "=", "vm1")])
        ]
    finally:
        asyncio.run(storage.stop())
    labels = Labels.from_dict({"filename": str(app), "host": "vm1", "service_name": "app"})
    assert got == [
        (
            labels,
            [b"level=info msg=started", b"level=error msg=boom"],
            (
                Labels.from_dict({"detected_level": "info"}),
                Labels.from_dict({"detected_level": "error"}),
            ),
        )
    ]
