"""The two seams of storage (see STYLE.md): writers see an `Appender`, readers a `Querier`.

The scrape loop, the rule engine and the importer only ever hold an Appender; PromQL
only ever holds a Querier. A remote store or a test fake implements the same Protocols.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from vigil.model import Labels, Matcher

SeriesRef = int

# Prometheus's staleness marker: a NaN with this exact bit pattern, kept bit-exact.
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_marker(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    marks: npt.NDArray[np.bool_] = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return marks


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One series' samples in [mint, maxt], timestamps ascending (ms)."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SelectHints:
    """What the caller will do with the data; a store may use it to read less."""

    step_ms: int = 0
    func: str = ""
    series_only: bool = False  # /api/v1/series: labels without samples


class Appender(Protocol):
    """A transaction of samples: nothing is visible to queries (or durable) before commit."""

    def append(self, labels: Labels, t_ms: int, value: float) -> SeriesRef: ...

    def append_by_ref(self, ref: SeriesRef, t_ms: int, value: float) -> None: ...

    def append_batch(
        self,
        refs: npt.NDArray[np.int64],
        t_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        """Many samples at once (one scrape): the hot path, no Python work per sample."""
        ...

    def refs_for(self, labels: Sequence[Labels]) -> npt.NDArray[np.int64]:
        """Series refs for label sets, creating series as needed (may refuse past a limit:
        such entries are -1 and counted)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Querier(Protocol):
    """Read access over a fixed time range [mint, maxt] (ms, inclusive)."""

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterable[SeriesData]: ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]: ...

    def close(self) -> None: ...
