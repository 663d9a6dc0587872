"""The disk span store: what is appended comes back whole, column by column, from the head
and after the WAL is replayed; queries by trace id, range and names."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_S
from tests.traces.corpus import HOUR_NS, corpus, trace, trace_id
from vigil.traces import KIND_CLIENT, KIND_SERVER, SpanHints, Spans
from vigil.traces.store import TraceStore, TraceStoreOptions

T0 = 1_700_000_000 * 10**9


def _open(path: Path) -> TraceStore:
    return TraceStore.open(path, TraceStoreOptions(retention_ns=0), clock=lambda: T0 / 1e9)


def _all(store: TraceStore, mint: int = 0, maxt: int = 2**62) -> list[tuple[bytes, int, bytes]]:
    spans = [s for batch in store.querier(mint, maxt).select() for s in batch.rows()]
    return sorted((s.trace_id, s.start_ns, s.span_id) for s in spans)


@pytest.mark.parametrize("reopen", [False, True], ids=["head", "replayed"])
def test_every_column_comes_back_by_trace_id(tmp_path: Path, reopen: bool) -> None:
    spans = corpus(5, T0, 10**9)
    with _open(tmp_path) as store:
        for i in range(0, len(spans), 7):
            assert store.append(Spans.of(spans[i : i + 7])).accepted == len(spans[i : i + 7])
        if not reopen:
            assert list(store.querier(0, 2**62).trace(trace_id(3)).rows()) == trace(
                3, T0 + 3 * 10**9
            )
    if reopen:
        with _open(tmp_path) as store:
            assert list(store.querier(0, 2**62).trace(trace_id(3)).rows()) == trace(
                3, T0 + 3 * 10**9
            )
            assert len(store.querier(0, 2**62).trace(bytes(16))) == 0
            assert len(store.querier(0, 2**62).trace(trace_id(3)[:8])) == 0


def test_select_names_and_range(tmp_path: Path) -> None:
    with _open(tmp_path) as store:
        store.append(Spans.of(corpus(6, T0, HOUR_NS)))
        store.tick()
        querier = store.querier(T0 + HOUR_NS, T0 + 2 * HOUR_NS)
        assert {s.trace_id for b in querier.select() for s in b.rows()} == {
            trace_id(1),
            trace_id(2),
        }
        assert querier.services() == ["db", "shop"]
        assert store.querier(T0 + 5 * HOUR_NS - 1, T0 + 5 * HOUR_NS).services() == ["shop"]
        assert querier.span_names("db") == [("SELECT t0", KIND_CLIENT)]
        assert querier.span_names() == [
            ("GET /appointments/{id}", KIND_SERVER),
            ("SELECT t0", KIND_CLIENT),
            ("SELECT t1", KIND_CLIENT),
            ("SELECT t2", KIND_CLIENT),
        ]
        failed = [s for b in querier.select(SpanHints(error_only=True)) for s in b.rows()]
        assert [(s.trace_id, s.status_message) for s in failed] == [(trace_id(1), "deadlock")]
        assert not list(store.querier(0, 2**62).select(SpanHints(services=("nobody",))))
        long = SpanHints(services=("shop",), min_duration_ns=5_000_000)
        assert {s.name for b in querier.select(long) for s in b.rows()} == {
            "GET /appointments/{id}"
        }


def test_small_appends_are_merged_into_pages_and_stay_whole(tmp_path: Path) -> None:
    spans = corpus(20, T0, 10**6)
    with _open(tmp_path) as store:
        for span in spans:
            store.append(Spans.of([span]))
        before = _all(store)
        store.tick()
        assert store.head.num_pages() == 1
        assert _all(store) == before == sorted((s.trace_id, s.start_ns, s.span_id) for s in spans)


def test_a_retried_append_shows_its_spans_once_by_trace_id(tmp_path: Path) -> None:
    spans = Spans.of(trace(1, T0))
    with _open(tmp_path) as store:
        store.append(spans)
        store.append(spans)
        assert list(store.querier(0, 2**62).trace(trace_id(1)).rows()) == trace(1, T0)


def test_the_head_keeps_8_bytes_a_trace_and_an_id_sharing_them_finds_nothing(
    tmp_path: Path,
) -> None:
    spans = Spans.of(trace(1, T0))
    tid = trace_id(1)
    twin = tid[8:] + tid[:8]  # its halves XORed: the same 8-byte key
    with _open(tmp_path) as store:
        store.append(spans)
        (page,) = store.head.pages
        assert (page.keys.nbytes, len(page.summary.trace_ids)) == (8, 0)
        assert page.may_hold(twin)
        querier = store.querier(0, 2**62)
        assert (list(querier.trace(tid).rows()), len(querier.trace(twin))) == (trace(1, T0), 0)


def test_the_fsync_thread_sleeps_until_an_append_then_fsyncs_it(tmp_path: Path) -> None:
    options = TraceStoreOptions(retention_ns=0, wal_fsync_interval_s=0.01)
    with TraceStore.open(tmp_path, options, clock=lambda: T0 / 1e9) as store:
        synced = threading.Event()
        sync = store.wal.sync

        def observed_sync() -> None:
            sync()
            synced.set()

        store.wal.sync = observed_sync  # type: ignore[method-assign]
        store.append(Spans.of(corpus(1, T0, 10**9)))
        assert synced.wait(PATIENCE_S)
        assert store.wal.unsynced_bytes == 0
