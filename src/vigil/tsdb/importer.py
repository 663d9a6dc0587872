"""promtool's `tsdb create-blocks-from openmetrics`, `tsdb dump` and `tsdb analyze`, on vigil
blocks: backfill history from a file, print what a data dir holds, find cardinality."""

from __future__ import annotations

import mmap
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from vigil.exposition import Format, ParseError
from vigil.exposition.scan import NO_TIMESTAMP, SeriesCache, scan
from vigil.model import METRIC_NAME, Labels, Matcher
from vigil.model.gofloat import format_float
from vigil.tsdb.block import Block, open_blocks, write_block
from vigil.tsdb.index import CorruptBlockError
from vigil.tsdb.series import SeriesData, merge_series

BLOCK_MS = 2 * 3600 * 1000
_PIECE_BYTES = 32 << 20
_EOF = b"# EOF"


@dataclass(frozen=True, slots=True)
class ImportResult:
    blocks: list[Path]
    series: int
    samples: int


class _BackfillCache(SeriesCache):
    """A scrape names each series once; a backfill file names it once per sample, so each
    piece's distinct series are resolved once and the rest looked up."""

    def resolve(self, series: Iterable[bytes]) -> list[tuple[str, Labels]]:
        texts = list(series)
        distinct = list(dict.fromkeys(texts))
        table = dict(zip(distinct, super().resolve(distinct), strict=True))
        return list(map(table.__getitem__, texts))


class _SeriesIds:
    """Series text (as written) → dense series id, each distinct text parsed once."""

    def __init__(self) -> None:
        self.labels: list[Labels] = []
        self._by_labels: dict[Labels, int] = {}
        self._by_text: dict[bytes, int] = {}

    def ids(self, texts: list[bytes], parsed: list[tuple[str, Labels]]) -> npt.NDArray[np.int64]:
        by_text = self._by_text
        new = dict(zip(texts, parsed, strict=True)).items() - by_text.keys()
        for text, (name, labels) in new:
            # an empty value is no label at all (Prometheus drops them on ingestion)
            full = Labels(pair for pair in labels.with_label(METRIC_NAME, name) if pair[1])
            sid = self._by_labels.setdefault(full, len(self.labels))
            if sid == len(self.labels):
                self.labels.append(full)
            by_text[text] = sid
        return np.fromiter(map(by_text.__getitem__, texts), dtype=np.int64, count=len(texts))


def import_openmetrics(path: Path, data_dir: Path, block_ms: int = BLOCK_MS) -> ImportResult:
    """Write the samples of an OpenMetrics file (timestamps required) into `block_ms`-aligned
    blocks under `data_dir`; raises ParseError naming the file, line and column."""
    ids_parts: list[npt.NDArray[np.int64]] = []
    ts_parts: list[npt.NDArray[np.int64]] = []
    value_parts: list[npt.NDArray[np.float64]] = []
    series = _SeriesIds()
    cache = _BackfillCache(Format.OPENMETRICS)
    with path.open("rb") as f, _map(f.fileno()) as body:
        for piece, first_line in _pieces(body, path):
            try:
                batch = scan(piece, Format.OPENMETRICS, cache)
            except ParseError as err:
                raise ParseError(
                    err.line + first_line - 1, err.col, err.message, source=str(path)
                ) from None
            missing = np.flatnonzero(batch.timestamps == NO_TIMESTAMP)
            if len(missing):
                line = first_line + _sample_line(piece, int(missing[0])) - 1
                raise ParseError(line, 1, "sample without a timestamp", source=str(path))
            ids_parts.append(series.ids(batch.series, batch.labels))
            ts_parts.append(batch.timestamps)
            value_parts.append(batch.values)
            cache.retain(())
    ids = np.concatenate(ids_parts) if ids_parts else np.empty(0, dtype=np.int64)
    ts = np.concatenate(ts_parts) if ts_parts else np.empty(0, dtype=np.int64)
    values = np.concatenate(value_parts) if value_parts else np.empty(0, dtype=np.float64)
    written = [
        write_block(data_dir, group, start, start + block_ms - 1)
        for start, group in _by_block(series.labels, ids, ts, values, block_ms)
    ]
    return ImportResult(written, len(series.labels), len(ts))


def _sample_line(piece: bytes, k: int) -> int:
    """1-based line of the k-th sample (non-comment line) in a piece."""
    starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(piece, np.uint8) == 10) + 1])
    starts = starts[starts < len(piece)]
    samples = starts[np.frombuffer(piece, np.uint8)[starts] != ord("#")]
    return int(np.searchsorted(starts, samples[k])) + 1


def _map(fileno: int) -> mmap.mmap:
    try:
        return mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
    except ValueError:  # an empty file
        raise ParseError(1, 1, "empty file: expected samples and '# EOF'") from None


def _pieces(body: mmap.mmap, path: Path) -> Iterator[tuple[bytes, int]]:
    """Line-aligned pieces of the body, each ending in `# EOF` as scan() wants, with the
    number of the piece's first line."""
    end = body.rfind(_EOF)
    if end < 0 or body[end:].strip() != _EOF or (end and body[end - 1] != ord("\n")):
        text = body[:]
        lines = text.count(b"\n") + (0 if text.endswith(b"\n") else 1)
        raise ParseError(lines, 1, "expected '# EOF' as the last line", source=str(path))
    start, line = 0, 1
    while start < end:
        stop = (
            end
            if end - start <= _PIECE_BYTES
            else body.rfind(b"\n", start, start + _PIECE_BYTES) + 1
        )
        if stop <= start:
            stop = end
        piece = body[start:stop]
        yield piece + _EOF + b"\n", line
        line += piece.count(b"\n")
        start = stop


def _by_block(
    labels: list[Labels],
    ids: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    block_ms: int,
) -> Iterator[tuple[int, Iterator[SeriesData]]]:
    """(block start, its series) for each aligned window holding samples; a repeated
    (series, timestamp) keeps the last sample in the file, as a later write would."""
    if not len(ts):
        return
    block = ts // block_ms
    order = np.lexsort((ts, ids, block))
    ids, ts, values, block = ids[order], ts[order], values[order], block[order]
    keep = np.append((ids[1:] != ids[:-1]) | (ts[1:] != ts[:-1]), True)
    ids, ts, values, block = ids[keep], ts[keep], values[keep], block[keep]
    bounds = np.flatnonzero(np.diff(block)) + 1
    for lo, hi in zip([0, *bounds.tolist()], [*bounds.tolist(), len(ts)], strict=True):
        if lo < hi:
            yield (
                int(block[lo]) * block_ms,
                _series_of(labels, ids[lo:hi], ts[lo:hi], values[lo:hi]),
            )


def _series_of(
    labels: list[Labels],
    ids: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
) -> Iterator[SeriesData]:
    cuts = np.flatnonzero(np.diff(ids)) + 1
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(ids)], strict=True):
        yield SeriesData(labels[int(ids[lo])], ts[lo:hi], values[lo:hi])


# ---------------------------------------------------------------- dump


def dump(
    data_dir: Path,
    out: TextIO,
    matchers: Sequence[Matcher] = (),
    mint: int = -(2**63),
    maxt: int = 2**63 - 1,
) -> int:
    """Print every sample of the matching series as promtool's dump does
    (`{labels} value timestamp`, series in label order, a native histogram as Prometheus's
    `FloatHistogram.String()`); returns the sample count."""
    blocks = open_blocks(data_dir)
    try:
        chosen = [b for b in blocks if b.meta.mint <= maxt and b.meta.maxt >= mint]
        streams = [b.querier(mint, maxt).select(matchers or _ALL) for b in chosen]
        total = 0
        for s in merge_series(streams):
            prefix = f"{s.labels} "
            values = [format_float(v) for v in s.values.tolist()]
            if s.histograms is not None:
                for at in np.flatnonzero(s.histograms.astype(np.bool_)).tolist():
                    values[at] = str(s.histograms[at])
            out.writelines(
                f"{prefix}{v} {t}\n" for v, t in zip(values, s.timestamps.tolist(), strict=True)
            )
            total += len(s.timestamps)
        return total
    finally:
        for b in blocks:
            b.close()


_ALL = (Matcher.of(METRIC_NAME, "=~", ".+"),)


# ---------------------------------------------------------------- analyze


@dataclass(frozen=True, slots=True)
class Cardinality:
    """What `analyze` reports about one block."""

    block: Block
    label_names: int
    label_pairs: int
    label_pair_entries: int
    top_pairs: list[tuple[int, str]]
    top_labels: list[tuple[int, str]]
    top_metrics: list[tuple[int, str]]


def analyze(block: Block, limit: int = 20) -> Cardinality:
    """Series counts per label pair, distinct values per label name, series per metric."""
    pairs = block.label_pair_counts()
    values_per_name: Counter[str] = Counter(name for name, _, _ in pairs)
    by_pair = sorted(((n, f"{k}={v}") for k, v, n in pairs), key=lambda x: (-x[0], x[1]))
    metrics = sorted(((n, v) for k, v, n in pairs if k == METRIC_NAME), key=lambda x: (-x[0], x[1]))
    labels = sorted(((n, k) for k, n in values_per_name.items()), key=lambda x: (-x[0], x[1]))
    return Cardinality(
        block,
        len(values_per_name),
        len(pairs),
        sum(n for _, _, n in pairs),
        by_pair[:limit],
        labels[:limit],
        metrics[:limit],
    )


def print_analysis(report: Cardinality, out: TextIO) -> None:
    meta = report.block.meta
    hours = (meta.maxt - meta.mint + 1) / 3600_000
    out.write(f"Block ID: {meta.ulid}\n")
    out.write(f"Duration: {hours:g}h\n")
    out.write(f"Series: {meta.num_series}\n")
    out.write(f"Samples: {meta.num_samples}\n")
    out.write(f"Label names: {report.label_names}\n")
    out.write(f"Postings (unique label pairs): {report.label_pairs}\n")
    out.write(f"Postings entries (total label pairs): {report.label_pair_entries}\n")
    for title, rows in (
        ("Most common label pairs", report.top_pairs),
        ("Highest cardinality labels", report.top_labels),
        ("Highest cardinality metric names", report.top_metrics),
    ):
        out.write(f"\n{title}:\n")
        out.writelines(f"{n} {what}\n" for n, what in rows)


# ---------------------------------------------------------------- commands


def parse_selector(text: str) -> list[Matcher]:
    """`name{label="v",...}` (PromQL's series selector, as promtool's --match takes)."""
    import promql_parser as pp

    ops = (
        (pp.MatchOp.Equal, "="),
        (pp.MatchOp.NotEqual, "!="),
        (pp.MatchOp.Re, "=~"),
        (pp.MatchOp.NotRe, "!~"),
    )
    try:
        expr = pp.parse(text)
    except ValueError as err:
        raise ValueError(f"bad selector {text!r}: {err}") from None
    if not isinstance(expr, pp.VectorSelector):
        raise ValueError(f"bad selector {text!r}: not a series selector")
    matchers = [
        Matcher.of(m.name, next(t for op, t in ops if op == m.op), m.value)
        for m in expr.matchers.matchers
    ]
    if expr.name:
        matchers.append(Matcher.of(METRIC_NAME, "=", expr.name))
    return matchers


def import_command(kind: str, file: Path, data_dir: Path, out: TextIO, err: TextIO) -> int:
    if kind != "openmetrics":
        err.write(f"vigil tsdb import: unknown input format {kind!r} (valid: openmetrics)\n")
        return 2
    try:
        result = import_openmetrics(file, data_dir)
    except (OSError, ParseError, ValueError) as error:
        err.write(f"vigil tsdb import: {error}\n")
        return 1
    for path in result.blocks:
        out.write(f"wrote block {path}\n")
    out.write(f"{result.series} series, {result.samples} samples in {len(result.blocks)} blocks\n")
    return 0


def dump_command(
    data_dir: Path, match: str | None, mint: int, maxt: int, out: TextIO, err: TextIO
) -> int:
    try:
        matchers = parse_selector(match) if match else []
        dump(data_dir, out, matchers, mint, maxt)
    except (OSError, ValueError) as error:
        err.write(f"vigil tsdb dump: {error}\n")
        return 1
    except CorruptBlockError as error:
        err.write(f"vigil tsdb dump: {_with_repair_hint(error, data_dir)}\n")
        return 1
    return 0


def analyze_command(
    data_dir: Path, block_id: str | None, limit: int, out: TextIO, err: TextIO
) -> int:
    """Like `promtool tsdb analyze`: the newest block unless one is named."""
    try:
        blocks = open_blocks(data_dir)
    except (OSError, ValueError) as error:
        err.write(f"vigil tsdb analyze: {error}\n")
        return 1
    except CorruptBlockError as error:
        err.write(f"vigil tsdb analyze: {_with_repair_hint(error, data_dir)}\n")
        return 1
    try:
        if not blocks:
            err.write(f"vigil tsdb analyze: no blocks in {data_dir}\n")
            return 1
        if block_id is None:
            chosen = max(blocks, key=lambda b: (b.meta.maxt, b.meta.ulid))
        else:
            found = [b for b in blocks if b.meta.ulid == block_id]
            if not found:
                err.write(f"vigil tsdb analyze: no block {block_id} in {data_dir}\n")
                return 1
            chosen = found[0]
        print_analysis(analyze(chosen, limit), out)
        return 0
    except CorruptBlockError as error:
        err.write(f"vigil tsdb analyze: {_with_repair_hint(error, data_dir)}\n")
        return 1
    finally:
        for b in blocks:
            b.close()


def _with_repair_hint(error: CorruptBlockError, data_dir: Path) -> str:
    return f"{error} (`vigil tsdb repair {data_dir}` moves corrupt blocks to quarantine)"
