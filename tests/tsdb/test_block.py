"""Blocks: written atomically, read back through matchers with Prometheus's semantics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.model import Labels, Matcher
from vigil.tsdb import STALE_NAN, SelectHints, SeriesData, tombstones
from vigil.tsdb import block as block_module
from vigil.tsdb import cache as cache_module
from vigil.tsdb.block import Block, delete_block, open_blocks, remove_leftovers, write_block
from vigil.tsdb.cache import DecodedCache
from vigil.tsdb.index import CHUNKS_FILE, INDEX_FILE, CorruptBlockError

HOUR = 3600_000


def labels(**pairs: str) -> Labels:
    return Labels.from_dict(pairs)


SERIES_LABELS = [
    labels(__name__="up", job="node", instance="a:9100"),
    labels(__name__="up", job="node", instance="b:9100", env=""),
    labels(__name__="up", job="api", instance="c:80", env="prod"),
    labels(__name__="http_requests_total", job="api", path="/a.b", code="200"),
    labels(__name__="http_requests_total", job="api", path="/a+b", code="500"),
    labels(__name__="node_load1", job="node", instance="a:9100"),
    labels(__name__="weird", job="x\ny", note='quote " and \\ back'),
]


def make_series(n: int = 10, start: int = 0) -> list[SeriesData]:
    out = []
    for i, lbls in enumerate(SERIES_LABELS):
        ts = start + np.arange(n, dtype=np.int64) * 15_000
        vs = np.arange(n, dtype=np.float64) * (i + 1) / 4
        out.append(SeriesData(lbls, ts, vs))
    return out


@pytest.fixture
def block(tmp_path: Path) -> Block:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    with Block.open(path) as opened:
        yield opened


def names_of(found: list[Labels]) -> list[str]:
    return [
        f"{lbls.get('__name__')}/{lbls.get('instance') or lbls.get('path') or lbls.get('job')}"
        for lbls in found
    ]


CASES = [
    ("equal", [("__name__", "=", "up")], ["up/a:9100", "up/b:9100", "up/c:80"]),
    ("two equals", [("__name__", "=", "up"), ("job", "=", "node")], ["up/a:9100", "up/b:9100"]),
    ("not equal", [("__name__", "=", "up"), ("job", "!=", "node")], ["up/c:80"]),
    ("regex anchored", [("job", "=~", "no")], []),
    ("regex full", [("job", "=~", "no.*"), ("__name__", "=", "up")], ["up/a:9100", "up/b:9100"]),
    (
        "regex alternation",
        [("instance", "=~", "a:9100|c:80")],
        ["node_load1/a:9100", "up/a:9100", "up/c:80"],
    ),
    (
        "regex dot is any char",
        [("path", "=~", "/a.b")],
        ["http_requests_total//a+b", "http_requests_total//a.b"],
    ),
    ("regex escaped plus", [("path", "=~", "/a\\+b")], ["http_requests_total//a+b"]),
    (
        "empty matches missing",
        [("__name__", "=", "up"), ("env", "=", "")],
        ["up/a:9100", "up/b:9100"],
    ),
    ("not empty", [("env", "!=", "")], ["up/c:80"]),
    ("regex not empty", [("__name__", "=", "up"), ("env", "!~", "")], ["up/c:80"]),
    (
        "regex matching empty",
        [("__name__", "=", "up"), ("env", "=~", "prod|")],
        ["up/a:9100", "up/b:9100", "up/c:80"],
    ),
    (
        "dot star",
        [("__name__", "=~", ".*"), ("job", "=", "api")],
        ["http_requests_total//a+b", "http_requests_total//a.b", "up/c:80"],
    ),
    ("dot plus on missing", [("env", "=~", ".+")], ["up/c:80"]),
    (
        "negative regex",
        [("__name__", "!~", "up|node_.*"), ("job", "=", "api")],
        ["http_requests_total//a+b", "http_requests_total//a.b"],
    ),
    ("name regex", [("__name__", "=~", "node_.+")], ["node_load1/a:9100"]),
    ("unknown label equal", [("nope", "=", "x")], []),
    (
        "unknown label not equal",
        [("nope", "!=", "x"), ("job", "=", "node")],
        ["node_load1/a:9100", "up/a:9100", "up/b:9100"],
    ),
    ("unknown value", [("job", "=", "nope")], []),
    ("newline value", [("job", "=~", "x.y")], ["weird/x\ny"]),
    ("quote value", [("note", "=", 'quote " and \\ back')], ["weird/x\ny"]),
]


@pytest.mark.parametrize(("name", "spec", "want"), CASES, ids=[c[0] for c in CASES])
def test_select_matchers(
    block: Block, name: str, spec: list[tuple[str, str, str]], want: list[str]
) -> None:
    matchers = [Matcher.of(*m) for m in spec]
    expected = sorted(
        lbls for lbls in SERIES_LABELS if all(m.matches_labels(lbls) for m in matchers)
    )
    assert names_of(block.series(matchers)) == names_of(expected)
    assert sorted(names_of(expected)) == sorted(want)
    selected = list(block.select(matchers))
    assert [s.labels for s in selected] == expected


def test_select_returns_samples_bit_exact(tmp_path: Path) -> None:
    ts = np.array([0, 15_000, 30_000], dtype=np.int64)
    vs = np.array([1.25, -0.0, STALE_NAN])
    path = write_block(tmp_path, [SeriesData(labels(__name__="m"), ts, vs)], 0, HOUR)
    with Block.open(path) as b:
        (got,) = b.select([Matcher.of("__name__", "=", "m")])
        np.testing.assert_array_equal(got.timestamps, ts)
        np.testing.assert_array_equal(got.values.view(np.uint64), vs.view(np.uint64))
        (only,) = b.select([Matcher.of("__name__", "=", "m")], SelectHints(series_only=True))
        assert only.labels == got.labels and len(only.timestamps) == 0


def test_label_names_and_values(block: Block) -> None:
    assert block.label_names() == ["__name__", "code", "env", "instance", "job", "note", "path"]
    assert block.label_names([Matcher.of("job", "=", "node")]) == [
        "__name__",
        "env",
        "instance",
        "job",
    ]
    assert block.label_values("job") == ["api", "node", "x\ny"]
    assert block.label_values("env") == ["", "prod"]
    assert block.label_values("instance", [Matcher.of("__name__", "=", "up")]) == [
        "a:9100",
        "b:9100",
        "c:80",
    ]
    assert block.label_values("nope") == []


def test_querier_clips_to_its_range(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(n=100), 0, 2 * HOUR - 1)
    with Block.open(path) as b:
        q = b.querier(30_000, 60_000)
        (got,) = q.select([Matcher.of("__name__", "=", "node_load1")])
        assert got.timestamps.tolist() == [30_000, 45_000, 60_000]
        assert b.querier(HOUR, 2 * HOUR).series([Matcher.of("__name__", "=", "up")]) == []


def test_meta_and_size(tmp_path: Path) -> None:
    path = write_block(
        tmp_path,
        [*make_series(), SeriesData(labels(__name__="empty"), np.empty(0, np.int64), np.empty(0))],
        0,
        2 * HOUR - 1,
    )
    with Block.open(path) as b:
        assert b.meta.ulid == path.name and b.meta.level == 1 and b.meta.sources == (path.name,)
        assert (b.meta.mint, b.meta.maxt) == (0, 2 * HOUR - 1)
        assert (b.meta.num_series, b.meta.num_samples) == (
            len(SERIES_LABELS),
            10 * len(SERIES_LABELS),
        )
        assert b.size_bytes == sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        assert sorted(p.name for p in path.iterdir()) == [
            "chunks",
            "index",
            "meta.json",
            "tombstones",
        ]


@pytest.mark.parametrize(
    ("series", "error"),
    [
        ([SeriesData(labels(__name__="m"), np.array([5 * HOUR]), np.array([1.0]))], "outside"),
        ([SeriesData(labels(__name__="m"), np.array([2, 1]), np.array([1.0, 2.0]))], "ascending"),
        ([SeriesData(labels(__name__="m"), np.array([1]), np.array([1.0]))] * 2, "twice"),
    ],
)
def test_bad_input_writes_nothing(tmp_path: Path, series: list[SeriesData], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        write_block(tmp_path, series, 0, HOUR)
    assert list(tmp_path.iterdir()) == []


def test_crash_before_rename_leaves_no_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(tmp: Path, final: Path) -> None:
        raise OSError("disk pulled")

    monkeypatch.setattr(block_module, "_publish", crash)
    with pytest.raises(OSError, match="disk pulled"):
        write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    assert list(tmp_path.iterdir()) == []
    assert open_blocks(tmp_path) == []


def test_killed_writer_leftover_is_ignored_then_removed(tmp_path: Path) -> None:
    good = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    half = tmp_path / "01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp-for-creation"
    (half / "chunks").mkdir(parents=True)
    (half / "index").write_bytes(b"VIGILIDX")
    blocks = open_blocks(tmp_path)
    assert [b.path for b in blocks] == [good]
    for b in blocks:
        b.close()
    assert remove_leftovers(tmp_path) == [half]
    assert [p.name for p in tmp_path.iterdir()] == [good.name]


def test_delete_block(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    delete_block(Block.open(path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("file", [CHUNKS_FILE, INDEX_FILE])
def test_truncated_file_is_named(tmp_path: Path, file: str) -> None:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    target = path / file
    target.write_bytes(target.read_bytes()[:-7])
    with pytest.raises(CorruptBlockError) as err:
        Block.open(path)
    assert err.value.block == path and err.value.file == file
    assert str(path) in str(err.value) and file in str(err.value)


def test_corrupt_record_names_block_file_and_series(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    chunks = path / CHUNKS_FILE
    data = bytearray(chunks.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunks.write_bytes(bytes(data))
    with Block.open(path) as b, pytest.raises(CorruptBlockError, match=CHUNKS_FILE) as err:
        list(b.select([Matcher.of("__name__", "=~", ".+")]))
    assert err.value.block == path and "series {" in err.value.reason


def test_missing_meta_is_named(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    (path / "meta.json").unlink()
    with pytest.raises(CorruptBlockError, match=r"meta\.json: missing"):
        Block.open(path)


def test_tombstones_hide_deleted_ranges(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    with Block.open(path) as b:
        sid = [s.labels for s in b.select([])].index(SERIES_LABELS[5])
    entries = np.array([(sid, 15_000, 45_000)], dtype=tombstones._TOMBSTONE)
    head = tombstones._TOMBSTONES_HEAD.pack(tombstones._TOMBSTONES_MAGIC, 1, 1)
    (path / "tombstones").write_bytes(head + entries.tobytes())
    with Block.open(path) as b:
        (got,) = b.select([Matcher.of("__name__", "=", "node_load1")])
        assert got.timestamps.tolist() == [0, *range(60_000, 150_000, 15_000)]


# ---------------------------------------------------------------- decoded-series cache


def _bits(found: list[SeriesData]) -> list[tuple[Labels, list[int], list[int]]]:
    return [(s.labels, s.timestamps.tolist(), s.values.view(np.uint64).tolist()) for s in found]


@pytest.mark.parametrize(
    ("mint", "maxt"),
    [(0, 2 * HOUR - 1), (30_000, 60_000), (HOUR, 2 * HOUR), (-HOUR, 3 * HOUR)],
)
def test_cached_reads_are_the_uncached_reads(tmp_path: Path, mint: int, maxt: int) -> None:
    """Twice through the cache (decoded, then kept) gives what the block decodes each time,
    stale markers and -0.0 bit-exact, clipped to each querier's own range."""
    series = make_series(n=100)
    series[0] = SeriesData(series[0].labels, series[0].timestamps, series[0].values.copy())
    series[0].values[[3, 4]] = [STALE_NAN, -0.0]
    path = write_block(tmp_path, series, 0, 2 * HOUR - 1)
    cache = DecodedCache(1 << 20)
    with Block.open(path) as plain, Block.open(path, cache) as cached:
        want = _bits(list(plain.querier(mint, maxt).select([])))
        first = _bits(list(cached.querier(mint, maxt).select([])))
        assert len(cache) == len(want)
        again = _bits(list(cached.querier(mint, maxt).select([])))
    assert first == want and again == want


def test_cache_drops_least_recently_used_past_its_bytes(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(n=100), 0, 2 * HOUR - 1)
    entry = 100 * 16 + 3 * cache_module._LABEL_PAIR_BYTES  # samples and 3 label pairs
    cache = DecodedCache(2 * entry)
    up_a, load1, weird = SERIES_LABELS[0], SERIES_LABELS[5], SERIES_LABELS[6]
    with Block.open(path, cache) as b:
        for read in (up_a, weird, up_a, load1):  # up_a read again: weird is the oldest
            (got,) = b.select([Matcher.of(k, "=", v) for k, v in read])
            assert got.labels == read
        assert len(cache) == 2 and cache.bytes == 2 * entry
        kept = {sid for _, sid in cache._entries}
        ids = b.series([])
    assert kept == {ids.index(up_a), ids.index(load1)}


def test_cached_samples_are_read_only(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    with Block.open(path, DecodedCache(1 << 20)) as b:
        (got,) = b.select([Matcher.of("__name__", "=", "node_load1")])
        with pytest.raises(ValueError, match="read-only"):
            got.values[0] = 1.0


def test_compaction_reads_and_closed_blocks_leave_the_cache(tmp_path: Path) -> None:
    path = write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    cache = DecodedCache(1 << 20)
    with Block.open(path, cache) as b:
        assert len(list(b.all_series())) == len(SERIES_LABELS) and len(cache) == 0
        list(b.select([Matcher.of("job", "=", "node")]))
        assert len(cache) == 3
    assert len(cache) == 0 and cache.bytes == 0


def test_open_blocks_share_one_cache(tmp_path: Path) -> None:
    write_block(tmp_path, make_series(), 0, 2 * HOUR - 1)
    write_block(tmp_path, make_series(start=2 * HOUR), 2 * HOUR, 4 * HOUR - 1)
    cache = DecodedCache(1 << 20)
    blocks = open_blocks(tmp_path, cache)
    try:
        for b in blocks:
            list(b.select([Matcher.of("__name__", "=", "node_load1")]))
        assert len(cache) == 2
    finally:
        for b in blocks:
            b.close()
