"""A log pipeline (`|= "x" | json | level="error" | line_format ...`) as a list of small
stages, each applied to a whole batch of one stream's entries.

Until a stage needs them, lines share their stream's labels and one of a few structured
metadata sets (`Rows.labels is None`): line filters then cost one blob scan, label filters and
grouping one step per distinct set, and no Python object per line. Parsers and label stages turn
labels into one dict per surviving line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from vigil.logs._api import Entries, Lines
from vigil.logs.logql import ast
from vigil.logs.logql._linefilter import LineFilterScan
from vigil.logs.logql.labelfilter import ERROR, ERROR_DETAILS, LabelTest, compile_label_filter
from vigil.logs.logql.parsers import LineParser, ParserError, line_parser
from vigil.logs.logql.templates import LineTemplate, TemplateError
from vigil.model import Labels

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_ANSI = re.compile(rb"\x1b\[[0-9;:?]*[ -/]*[@-~]")


def take_lines(lines: Lines, indices: I64) -> Lines:
    """The lines at `indices` as a new column, copied with numpy (no object per line)."""
    if len(indices) == len(lines) and bool((indices == np.arange(len(lines))).all()):
        return lines
    starts, ends = lines.offsets[:-1][indices], lines.offsets[1:][indices]
    sizes = ends - starts
    offsets = np.zeros(len(indices) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    raw = np.frombuffer(lines.data, dtype=np.uint8)
    source = np.repeat(starts - offsets[:-1], sizes) + np.arange(int(offsets[-1]))
    return Lines(raw[source].tobytes(), offsets)


@dataclass(slots=True)
class Rows:
    """The surviving lines of one stream batch. `labels[i]` are line i's labels; while
    `labels` is None, line i has `shared` with `meta_sets[meta_codes[i]]` (its structured
    metadata) over it, or `shared` alone when `meta_codes` is None: stages that only read
    labels then work once per distinct metadata set, not per line. `values[i]` is line i's
    unwrapped sample value once an `unwrap` stage ran."""

    stream: Labels
    ts: I64
    lines: Lines
    shared: dict[str, str]
    labels: list[dict[str, str]] | None = None
    values: npt.NDArray[np.float64] | None = None
    meta_sets: list[Labels] = field(default_factory=list)
    meta_codes: I64 | None = None

    @classmethod
    def of(cls, entries: Entries) -> Rows:
        rows = cls(entries.labels, entries.timestamps, entries.lines, dict(entries.labels))
        if entries.metadata is not None:
            index: dict[Labels, int] = {}
            rows.meta_codes = np.fromiter(
                (index.setdefault(m, len(index)) for m in entries.metadata),
                np.int64,
                len(entries.metadata),
            )
            rows.meta_sets = list(index)
        return rows

    def __len__(self) -> int:
        return len(self.ts)

    def select(self, keep: Bools) -> Rows:
        if bool(keep.all()):
            return self
        indices = np.flatnonzero(keep)
        labels = None if self.labels is None else [self.labels[i] for i in indices.tolist()]
        codes = None if self.meta_codes is None else self.meta_codes[indices]
        return Rows(
            self.stream,
            self.ts[indices],
            take_lines(self.lines, indices),
            self.shared,
            labels,
            meta_sets=self.meta_sets,
            meta_codes=codes,
        )

    def distinct(self) -> list[dict[str, str]]:
        """While `labels` is None: the label set of each metadata set (see the class doc)."""
        return [{**self.shared, **dict(meta)} for meta in self.meta_sets]

    def per_line(self) -> list[dict[str, str]]:
        if self.labels is None:
            if self.meta_codes is None:
                self.labels = [dict(self.shared) for _ in range(len(self))]
            else:
                sets = self.distinct()
                self.labels = [dict(sets[k]) for k in self.meta_codes.tolist()]
            self.meta_codes, self.meta_sets = None, []
        return self.labels

    def groups(self) -> list[tuple[Labels, I64]]:
        """Lines grouped by their final label set (labels with empty values left out)."""
        if not len(self):
            return []
        if self.labels is None:
            if self.meta_codes is None:
                return [(_final(self.shared), np.arange(len(self), dtype=np.int64))]
            keys: dict[Labels, int] = {}
            key_of = np.array(
                [keys.setdefault(_final(labels), len(keys)) for labels in self.distinct()],
                dtype=np.int64,
            )
            line_key = key_of[self.meta_codes]
            order = np.argsort(line_key, kind="stable")
            runs = np.split(order, np.flatnonzero(np.diff(line_key[order])) + 1)
            names = list(keys)
            return [(names[int(line_key[run[0]])], run) for run in runs]
        index: dict[Labels, list[int]] = {}
        for i, labels in enumerate(self.labels):
            index.setdefault(_final(labels), []).append(i)
        return [(key, np.array(rows, dtype=np.int64)) for key, rows in index.items()]


def _final(labels: dict[str, str]) -> Labels:
    return Labels(sorted((k, v) for k, v in labels.items() if v))


Stage = Callable[[Rows], Rows]


def _line_filter(stage: ast.LineFilter) -> Stage:
    scan = LineFilterScan(stage)
    return lambda rows: rows.select(scan.keep(rows.lines))


def _parser(stage: ast.Stage, parse: LineParser) -> Stage:
    unpacks = isinstance(stage, ast.UnpackParser)

    def apply(rows: Rows) -> Rows:
        stream = rows.stream.to_dict()
        new_lines: list[bytes] | None = [] if unpacks else None
        for labels, line in zip(rows.per_line(), rows.lines, strict=True):
            try:
                found = parse(line)
            except ParserError as err:
                labels.setdefault(ERROR, err.name)
                labels.setdefault(ERROR_DETAILS, err.details)
                found = {}
            entry = found.pop("_entry", None) if unpacks else None
            if new_lines is not None:
                new_lines.append(line if entry is None else entry.encode())
            for name, value in found.items():
                labels[name + "_extracted" if name in stream else name] = value
        if new_lines is not None:
            rows.lines = Lines.of(new_lines)
        return rows

    return apply


def _label_filter(stage: ast.LabelFilterStage) -> Stage:
    return label_filter_stage(compile_label_filter(stage.filter))


def label_filter_stage(test: LabelTest) -> Stage:
    def apply(rows: Rows) -> Rows:
        if rows.labels is None:
            probes = [dict(rows.shared)] if rows.meta_codes is None else rows.distinct()
            before = [dict(probe) for probe in probes]
            passed = np.array([test(probe) for probe in probes], dtype=bool)
            if probes == before:  # the test added no error label: one verdict per set
                return rows.select(
                    np.full(len(rows), passed[0])
                    if rows.meta_codes is None
                    else passed[rows.meta_codes]
                )
        keep = np.fromiter((test(labels) for labels in rows.per_line()), bool, len(rows))
        return rows.select(keep)

    return apply


def _line_format(stage: ast.LineFormat) -> Stage:
    template = LineTemplate(stage.template)

    def apply(rows: Rows) -> Rows:
        out: list[bytes] = []
        for labels, line, ts in zip(rows.per_line(), rows.lines, rows.ts.tolist(), strict=True):
            text = line.decode("utf-8", "replace")
            try:
                out.append(template.render(labels, text, ts).encode())
            except TemplateError as err:
                labels.setdefault(ERROR, "TemplateFormatErr")
                labels.setdefault(ERROR_DETAILS, str(err))
                out.append(line)
        rows.lines = Lines.of(out)
        return rows

    return apply


def _label_format(stage: ast.LabelFormat) -> Stage:
    renames = [(r.dst, LineTemplate(r.src) if r.template else None, r.src) for r in stage.renames]

    def apply(rows: Rows) -> Rows:
        for labels, line, ts in zip(rows.per_line(), rows.lines, rows.ts.tolist(), strict=True):
            values: dict[str, str] = {}
            for dst, template, src in renames:
                if template is None:
                    values[dst] = labels.pop(src, "")
                    continue
                try:
                    values[dst] = template.render(labels, line.decode("utf-8", "replace"), ts)
                except TemplateError as err:
                    labels.setdefault(ERROR, "TemplateFormatErr")
                    labels.setdefault(ERROR_DETAILS, str(err))
            labels.update(values)
        return rows

    return apply


def _decolorize(rows: Rows) -> Rows:
    if b"\x1b" in rows.lines.data:
        rows.lines = Lines.of([_ANSI.sub(b"", line) for line in rows.lines])
    return rows


def _selection(stage: ast.Drop | ast.Keep) -> Stage:
    keep = isinstance(stage, ast.Keep)
    names = {s.name for s in stage.labels if s.matcher is None}
    matchers = [s.matcher for s in stage.labels if s.matcher is not None]

    def chosen(name: str, value: str) -> bool:
        return name in names or any(m.name == name and m.matches(value) for m in matchers)

    def edit(labels: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in labels.items() if chosen(k, v) is keep}

    def apply(rows: Rows) -> Rows:
        if rows.labels is None and rows.meta_codes is None:
            return replace(rows, shared=edit(rows.shared))
        rows.labels = [edit(labels) for labels in rows.per_line()]
        return rows

    return apply


def compile_stage(stage: ast.Stage) -> Stage:
    match stage:
        case ast.LineFilter():
            return _line_filter(stage)
        case ast.LabelFilterStage():
            return _label_filter(stage)
        case ast.LineFormat():
            return _line_format(stage)
        case ast.LabelFormat():
            return _label_format(stage)
        case ast.Decolorize():
            return _decolorize
        case ast.Drop() | ast.Keep():
            return _selection(stage)
    parse = line_parser(stage)
    if parse is None:
        raise TypeError(f"not a pipeline stage: {stage!r}")
    return _parser(stage, parse)


class Pipeline:
    """The compiled stages of a log query; `run` applies them to one batch."""

    def __init__(self, stages: Sequence[ast.Stage], tail: Sequence[Stage] = ()) -> None:
        self.stages = [compile_stage(stage) for stage in stages] + list(tail)

    def run(self, entries: Entries) -> Rows:
        rows = Rows.of(entries)
        for stage in self.stages:
            if not len(rows):
                break
            rows = stage(rows)
        return rows
