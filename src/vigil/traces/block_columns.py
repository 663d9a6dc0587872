"""The summary a span page keeps for readers (time range, trace ids, the (service, name,
kind) triples with their longest duration) so that queries skip pages and blocks without
decoding them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.model.sorted_set import sorted_set
from vigil.traces._api import STATUS_ERROR, Spans

NameKey = tuple[str, str, int]
"""(service, span name, kind)."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What a reader learns of spans without their attributes: `names` maps each
    (service, name, kind) to its longest duration and whether one of them failed."""

    spans: int
    mint: int
    maxt: int
    trace_ids: npt.NDArray[Any]  # sorted unique, S16
    names: dict[NameKey, tuple[int, bool]]

    def wanted(
        self,
        services: Sequence[str],
        names: Sequence[str],
        min_duration: int | None,
        error_only: bool,
    ) -> bool:
        """Whether any span may pass the hints' service, name, duration and error filters."""
        for (service, name, _), (longest, failed) in self.names.items():
            if services and service not in services:
                continue
            if names and name not in names:
                continue
            if min_duration is not None and longest < min_duration:
                continue
            if error_only and not failed:
                continue
            return True
        return False


def summarize(spans: Spans) -> Summary:
    return summary_of(
        spans.strings,
        np.frombuffer(spans.trace_ids, dtype="S16"),
        spans.start_ns,
        spans.duration_ns,
        spans.kind,
        spans.status_code,
        spans.service,
        spans.name,
    )


def summary_of(
    strings: Sequence[str],
    trace_ids: npt.NDArray[Any],
    start_ns: npt.NDArray[np.int64],
    duration_ns: npt.NDArray[np.int64],
    kind: npt.NDArray[np.int8],
    status_code: npt.NDArray[np.int8],
    service: npt.NDArray[np.int32],
    name: npt.NDArray[np.int32],
) -> Summary:
    """The summary of spans given as columns (trace ids as S16, names as codes into
    `strings`)."""
    n = len(start_ns)
    if not n:
        return Summary(0, 0, -1, np.zeros(0, dtype="S16"), {})
    width = len(strings)
    keys = (service.astype(np.int64) * width + name) * 256 + kind.astype(np.int64) + 128
    unique, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    pairs, kinds = np.divmod(unique, 256)
    kinds -= 128
    services, span_names = np.divmod(pairs, width)
    longest = np.full(len(unique), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(longest, inverse, duration_ns)
    failed = np.zeros(len(unique), dtype=bool)
    failed[inverse[status_code == STATUS_ERROR]] = True
    names = {
        (strings[s], strings[m], k): (d, f)
        for s, m, k, d, f in zip(
            services.tolist(),
            span_names.tolist(),
            kinds.tolist(),
            longest.tolist(),
            failed.tolist(),
            strict=True,
        )
    }
    return Summary(n, int(start_ns.min()), int(start_ns.max()), sorted_set(trace_ids), names)
