"""One disk budget for every store (`--storage.total-retention.size`), split between the
TSDB and the log store: the TSDB keeps `--storage.tsdb.retention.size` when that is set
(it must then be below the total), else half of the total; the log store keeps the rest.
Without a total, the TSDB's own size limit stands and the log store has none."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DiskBudget:
    """Bytes each store may keep on disk (WAL and blocks); 0: no limit."""

    tsdb: int
    logs: int


def split_disk_budget(total: int, tsdb: int) -> DiskBudget:
    """ValueError naming both flags when the TSDB's part is not below the total."""
    if not total:
        return DiskBudget(tsdb, 0)
    if not tsdb:
        return DiskBudget(total // 2, total - total // 2)
    if tsdb >= total:
        raise ValueError(
            f"--storage.tsdb.retention.size ({tsdb} bytes) is part of "
            f"--storage.total-retention.size ({total} bytes) and must be smaller: the log "
            "store keeps the rest"
        )
    return DiskBudget(tsdb, total - tsdb)
