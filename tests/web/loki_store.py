"""The log store the Loki API tests read: three streams over ten minutes from T0_S, with
structured metadata on one of them. Expected values in the tests are counted from here."""

from __future__ import annotations

import numpy as np

from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.model import Labels

T0_S = 1_700_000_000
NS = 1_000_000_000
NOW_S = T0_S + 600

APP_INFO = Labels.from_dict({"job": "app", "level": "info", "service_name": "app"})
APP_ERROR = Labels.from_dict({"job": "app", "level": "error", "service_name": "app"})
DB = Labels.from_dict({"job": "db", "service_name": "db"})


def _entries(labels: Labels, times_s: list[int], lines: list[str], meta: bool = False) -> Entries:
    metadata = (
        tuple(Labels.from_dict({"trace_id": f"t{i}"}) for i in range(len(lines))) if meta else None
    )
    return Entries(labels, np.array(times_s, dtype=np.int64) * NS, Lines.of(lines), metadata)


STREAMS = (
    _entries(
        APP_INFO,
        [T0_S + 10 * i for i in range(60)],
        [f"GET /api/{i} 200" for i in range(60)],
        meta=True,
    ),
    _entries(APP_ERROR, [T0_S + 5 + 100 * i for i in range(6)], [f"boom {i}" for i in range(6)]),
    _entries(DB, [T0_S + 20 * i for i in range(30)], [f"checkpoint {i}" for i in range(30)]),
)


def seeded_store() -> MemoryLogStore:
    store = MemoryLogStore()
    store.push(STREAMS)
    return store


SHOP = _entries(
    Labels.from_dict({"job": "shop", "service_name": "shop"}),
    [T0_S + 100, T0_S + 200, T0_S + 300],
    [
        'level=info status=200 duration=15ms msg="order placed"',
        '{"status": 404, "user": {"id": "u1"}, "slow": true}',
        "level=warn status=503 duration=1.5s size=12KB",
    ],
)


def store_with_shop() -> MemoryLogStore:
    """The seeded store and a small stream of logfmt and JSON lines."""
    store = seeded_store()
    store.push([SHOP])
    return store
