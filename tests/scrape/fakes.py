"""Test doubles for the scrape stage: an in-memory store behind the Appender protocol, and
fake exporters served through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import gzip
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np
import numpy.typing as npt

from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.tsdb import STALE_NAN_BITS

START = 1_700_000_000.0  # ManualClock's default start


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    t_ms: int
    value: float

    @property
    def stale(self) -> bool:
        return bool(np.float64(self.value).view(np.uint64) == STALE_NAN_BITS)


class FakeStorage:
    """Committed samples in append order, one list per commit; refs are list indexes."""

    def __init__(self) -> None:
        self.series: list[Labels] = []
        self.refs: dict[Labels, int] = {}
        self.commits: list[list[Sample]] = []
        self.rollbacks = 0
        self.refused_names: set[str] = set()  # series of these metrics are refused, as at a limit
        self.refusals: dict[str, int] = {}  # what every commit says it refused, by reason

    def appender(self) -> FakeAppender:
        return FakeAppender(self)

    def samples(self) -> list[Sample]:
        return [sample for commit in self.commits for sample in commit]

    def series_names(self) -> set[Labels]:
        return {sample.labels for sample in self.samples()}


class FakeAppender:
    def __init__(self, storage: FakeStorage) -> None:
        self._storage = storage
        self._pending: list[Sample] = []

    def refs_for(self, labels: Sequence[Labels]) -> npt.NDArray[np.int64]:
        store = self._storage
        out = []
        for lset in labels:
            ref = store.refs.get(lset)
            if ref is None:
                if lset.get("__name__") in store.refused_names:
                    out.append(-1)
                    continue
                ref = store.refs[lset] = len(store.series)
                store.series.append(lset)
            out.append(ref)
        return np.array(out, dtype=np.int64)

    def append(self, labels: Labels, t_ms: int, value: float) -> int:
        ref = int(self.refs_for([labels])[0])
        self.append_by_ref(ref, t_ms, value)
        return ref

    def append_by_ref(self, ref: int, t_ms: int, value: float) -> None:
        self._pending.append(Sample(self._storage.series[ref], t_ms, value))

    def append_batch(
        self,
        refs: npt.NDArray[np.int64],
        t_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        assert refs.shape == t_ms.shape == values.shape, (refs.shape, t_ms.shape, values.shape)
        assert (refs >= 0).all()
        for ref, t, v in zip(refs.tolist(), t_ms.tolist(), values.tolist(), strict=True):
            self.append_by_ref(ref, t, v)

    def commit(self) -> None:
        self._storage.commits.append(self._pending)
        self._pending = []

    def rollback(self) -> None:
        self._pending = []
        self._storage.rollbacks += 1

    def refused(self) -> Mapping[str, int]:
        return self._storage.refusals


def render(samples: Sequence[Sample], t_ms: int | None = None) -> dict[str, str]:
    """`{'a{instance="t",job="j"}': '1'}`: a commit, readable in a table of expectations;
    a sample whose time is not `t_ms` gets `@t`, a staleness marker reads `stale`."""
    out = {}
    for sample in samples:
        name = sample.labels.get("__name__")
        rest = ",".join(f'{k}="{v}"' for k, v in sample.labels if k != "__name__")
        if sample.stale:
            value = "stale"
        elif math.isnan(sample.value):
            value = "NaN"
        else:
            value = f"{sample.value:g}"
        if t_ms is not None and sample.t_ms != t_ms:
            value += f" @{sample.t_ms}"
        out[f"{name}{{{rest}}}"] = value
    return out


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class FakeExporter:
    """A target whose next answer the test sets: a body, a status, gzip, or a hang."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; version=0.0.4; charset=utf-8"
    gzip: bool = False
    hang: bool = False
    requests: list[httpx.Request] = field(default_factory=list)
    entered: asyncio.Event | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.hang:
            if self.entered is not None:
                self.entered.set()
            await asyncio.Event().wait()
        headers = {"Content-Type": self.content_type}
        body = self.body
        if self.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return httpx.Response(self.status, headers=headers, content=body)


class Exporters:
    """Fake exporters by host:port, as one MockTransport; unknown hosts refuse connections."""

    def __init__(self) -> None:
        self.by_address: dict[str, FakeExporter] = {}

    def __getitem__(self, address: str) -> FakeExporter:
        return self.by_address.setdefault(address, FakeExporter())

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        address = request.url.netloc.decode()
        exporter = self.by_address.get(address)
        if exporter is None:
            raise httpx.ConnectError("connect: connection refused", request=request)
        return await exporter(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)


async def until(condition: Callable[[], bool], what: str, attempts: int = 2000) -> None:
    """Yield to the event loop until `condition` holds (bounded: fails after `attempts`)."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def settle() -> None:
    """Let woken tasks (scrapes over the mock transport, discovery) run to their next wait."""
    for _ in range(200):
        await asyncio.sleep(0)


async def run_until(clock: ManualClock, instant: float) -> None:
    """Advance the clock to `instant`, stopping at every deadline on the way."""
    await settle()
    while True:
        deadline = clock.next_deadline()
        if deadline is None or deadline > instant:
            clock.set(instant)
            await settle()
            return
        clock.set(deadline)
        await settle()
