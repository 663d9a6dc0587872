"""One disk budget for every store (`--storage.total-retention.size`), split between the
TSDB, the log store and the span store: the TSDB keeps `--storage.tsdb.retention.size`
when that is set (it must then be below the total), else half of the total; the log and
span stores keep half of the rest each. Without a total, the TSDB's own size limit stands
and the other stores have none."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DiskBudget:
    """Bytes each store may keep on disk (WAL and blocks); 0: no limit."""

    tsdb: int
    logs: int
    traces: int


def split_disk_budget(total: int, tsdb: int) -> DiskBudget:
    """ValueError naming both flags when the TSDB's part is not below the total."""
    if not total:
        return DiskBudget(tsdb, 0, 0)
    if not tsdb:
        tsdb = total // 2
    elif tsdb >= total:
        raise ValueError(
            f"--storage.tsdb.retention.size ({tsdb} bytes) is part of "
            f"--storage.total-retention.size ({total} bytes) and must be smaller: the log "
            "and span stores keep the rest"
        )
    rest = total - tsdb
    return DiskBudget(tsdb, rest - rest // 2, rest // 2)
