"""Range query over 10k series (`sum by (job) (rate(x[5m]))`, 1h at 15s steps): wall time."""

from __future__ import annotations

import time

import numpy as np

from vigil.model import Labels
from vigil.promql import Engine
from vigil.tsdb import MemoryStorage


def main() -> None:
    storage = MemoryStorage()
    n_series, interval, points = 10_000, 15_000, 480
    ts = np.arange(points, dtype=np.int64) * interval
    for i in range(n_series):
        labels = Labels.from_dict({"__name__": "x", "job": f"j{i % 10}", "instance": str(i)})
        vals = np.cumsum(np.random.default_rng(i).random(points))
        for t, v in zip(ts.tolist(), vals.tolist(), strict=True):
            storage.add(labels, t, v)
    engine = Engine(storage.queryable)
    for query in ("sum by (job) (rate(x[5m]))", "x > 100", "avg_over_time(x[5m])"):
        start = time.perf_counter()
        engine.range_query(query, 3_600_000, 7_200_000 - interval, interval)
        print(f"{query:32s} {time.perf_counter() - start:.3f}s")


if __name__ == "__main__":
    main()
