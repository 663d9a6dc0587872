"""Aggregation operators over all steps at once: series are grouped once (their group keys
do not change between steps), then reduced per group and step with numpy scatter operations.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import xxhash

from vigil.model import METRIC_NAME, Labels
from vigil.model.gofloat import format_float
from vigil.model.histogram import (
    FloatHistogram,
    HistogramError,
    mean_histograms,
    sum_histograms,
)
from vigil.model.labels import is_legacy_label_name
from vigil.promql import ast
from vigil.promql.errors import QueryError
from vigil.promql.value import (
    F64,
    I64,
    Bools,
    ScalarSteps,
    StringValue,
    Value,
    VectorSteps,
    histograms_where,
    is_histogram,
    no_histograms,
)

_SELECTING = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})


def aggregate(node: ast.Aggregation, vector: VectorSteps, param: Value | None) -> VectorSteps:
    if vector.hists is not None and node.op != "count_values":
        return _with_histograms(node, vector, param)
    keys = _group_keys(vector.labels, node)
    index: dict[Labels, int] = {}
    group = np.fromiter(
        (index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys)
    )
    grouped = _Groups(group, len(index), vector)
    op = node.op
    if op in _SELECTING:
        assert isinstance(param, ScalarSteps)
        return _select(op, grouped, vector, param.values)
    if op == "count_values":
        assert isinstance(param, StringValue)
        return _count_values(param.value, grouped, vector, list(index))
    labels = tuple(index)
    drop = np.zeros(len(labels), dtype=bool)
    if not node.without and METRIC_NAME in node.grouping:
        np.logical_or.at(drop, group, vector.drop_name)
    present = grouped.count > 0
    if op == "sum":
        values = grouped.sum()
    elif op == "avg":
        values = grouped.mean()
    elif op == "count":
        values = grouped.count.astype(np.float64)
    elif op == "group":
        values = np.ones(present.shape)
    elif op in ("min", "max"):
        values = grouped.extreme(np.fmin if op == "min" else np.fmax)
    elif op in ("stddev", "stdvar"):
        variance = grouped.variance()
        values = np.sqrt(variance) if op == "stddev" else variance
    elif op == "quantile":
        assert isinstance(param, ScalarSteps)
        values = grouped.quantile(param.values)
    else:
        raise QueryError(f"unsupported aggregation operator {op!r}")
    return VectorSteps(labels, values, present, drop)


def _with_histograms(
    node: ast.Aggregation, vector: VectorSteps, param: Value | None
) -> VectorSteps:
    """Aggregation over a vector holding histogram samples: `count` and `group` count them,
    `sum` and `avg` add them up (a group mixing floats and histograms gives no sample, as
    Prometheus drops it with a warning), and the other operators ignore them."""
    if node.op in ("count", "group"):
        return aggregate(node, replace(vector, present=vector.has_sample(), hists=None), param)
    if node.op in ("limitk", "limit_ratio"):
        return _limited(node, vector, param)
    floats = aggregate(node, vector.floats_only(), param)
    if node.op not in ("sum", "avg"):
        return floats
    assert vector.hists is not None
    row = {lbls: i for i, lbls in enumerate(floats.labels)}
    group = np.fromiter(
        (row[k] for k in _group_keys(vector.labels, node)), dtype=np.int64, count=vector.n_series
    )
    is_hist = is_histogram(vector.hists)
    shape = (len(floats.labels), vector.values.shape[1])
    n_hists = np.zeros(shape, dtype=np.int64)
    np.add.at(n_hists, group, is_hist.astype(np.int64))
    n_floats = np.zeros(shape, dtype=np.int64)
    np.add.at(n_floats, group, vector.present.astype(np.int64))
    members: dict[tuple[int, int], list[FloatHistogram]] = {}
    for r, c in zip(*np.nonzero(is_hist), strict=True):
        members.setdefault((int(group[r]), int(c)), []).append(vector.hists[r, c])
    out = no_histograms(shape)
    for (g, c), hists in members.items():
        if n_floats[g, c]:
            continue
        try:
            out[g, c] = mean_histograms(hists) if node.op == "avg" else sum_histograms(hists)
        except HistogramError:
            continue
    return replace(floats, present=floats.present & (n_hists == 0), hists=out)


def _limited(node: ast.Aggregation, vector: VectorSteps, param: Value | None) -> VectorSteps:
    """`limitk`/`limit_ratio` pick series whatever their samples are: histograms included."""
    assert vector.hists is not None
    picked = aggregate(node, replace(vector, present=vector.has_sample(), hists=None), param)
    row_of = {lbls: i for i, lbls in enumerate(vector.labels)}
    rows = np.fromiter((row_of[lbls] for lbls in picked.labels), np.int64, len(picked.labels))
    hists = vector.hists[rows]
    is_hist = is_histogram(hists)
    return replace(
        picked,
        present=picked.present & ~is_hist,
        hists=histograms_where(picked.present & is_hist, hists),
    )


_NO_LABELS = Labels()


def _group_keys(series: tuple[Labels, ...], node: ast.Aggregation) -> list[Labels]:
    """Each series' group labels (`by` keeps the grouping labels, `without` drops them)."""
    names = frozenset(node.grouping)
    if node.without:
        names |= {METRIC_NAME}
        return [Labels([p for p in labels if p[0] not in names]) for labels in series]
    if not names:
        return [_NO_LABELS] * len(series)
    return [Labels([p for p in labels if p[0] in names]) for labels in series]


class _Groups:
    """Series sorted by group, so that rank r of every group can be visited at once."""

    def __init__(self, group: I64, n_groups: int, vector: VectorSteps) -> None:
        self.group = group
        self.n_groups = n_groups
        self.vector = vector
        n_steps = vector.values.shape[1]
        self.count = np.zeros((n_groups, n_steps), dtype=np.int64)
        np.add.at(self.count, group, vector.present.astype(np.int64))
        self.order = np.argsort(group, kind="stable")
        self.sizes = np.bincount(group, minlength=n_groups)
        self.starts = np.cumsum(self.sizes) - self.sizes

    def ranks(self, groups: I64 | None = None) -> list[tuple[I64, I64]]:
        """For r = 0, 1, ...: (groups having an r-th member, those members' rows)."""
        sizes = self.sizes if groups is None else self.sizes[groups]
        ids = np.arange(self.n_groups) if groups is None else groups
        out = []
        for r in range(int(sizes.max(initial=0))):
            which = ids[sizes > r]
            out.append((which, self.order[self.starts[which] + r]))
        return out

    def _plain_sum(self) -> F64:
        total = np.zeros(self.count.shape)
        with np.errstate(all="ignore"):
            np.add.at(total, self.group, np.where(self.vector.present, self.vector.values, 0.0))
        return total

    def _max_abs(self) -> F64:
        biggest = np.zeros(self.count.shape)
        with np.errstate(invalid="ignore"):
            np.fmax.at(
                biggest,
                self.group,
                np.where(self.vector.present, np.abs(self.vector.values), 0.0),
            )
        return biggest

    def _needs_exact(self, total: F64) -> I64:
        """Groups where a plain sum may differ from Prometheus's compensated one: heavy
        cancellation, or overflow of a sum of finite values."""
        biggest = self._max_abs()
        with np.errstate(invalid="ignore"):
            risky = (np.abs(total) < biggest * 1e-6) | (np.isinf(total) & np.isfinite(biggest))
        risky &= self.count > 1
        return np.nonzero(risky.any(axis=1))[0]

    def sum(self) -> F64:
        total = self._plain_sum()
        exact = self._needs_exact(total)
        if len(exact):
            exact_sum, _ = self._kahan_mean(exact, mean=False)
            total[exact] = exact_sum
        return total

    def mean(self) -> F64:
        total = self._plain_sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            mean: F64 = total / self.count
        exact = self._needs_exact(total)
        if len(exact):
            _, exact_mean = self._kahan_mean(exact, mean=True)
            mean[exact] = exact_mean
        return mean

    def _kahan_mean(self, groups: I64, *, mean: bool) -> tuple[F64, F64]:
        """Prometheus's exact order of operations: Kahan-Neumaier sum, switching to an
        incremental mean once the sum would overflow."""
        n_steps = self.count.shape[1]
        local = np.full(self.n_groups, -1)
        local[groups] = np.arange(len(groups))
        shape = (len(groups), n_steps)
        total, comp = np.zeros(shape), np.zeros(shape)
        avg, avg_comp = np.zeros(shape), np.zeros(shape)
        seen = np.zeros(shape)
        incremental = np.zeros(shape, dtype=bool)
        values, present = self.vector.values, self.vector.present
        with np.errstate(all="ignore"):
            for which, rows in self.ranks(groups):
                g = local[which]
                p, f = present[rows], values[rows]
                first = p & (seen[g] == 0)
                later = p & ~first
                seen[g] += p
                total[g] = np.where(first, f, total[g])
                new_t, new_c = kahan_inc(f, total[g], comp[g])
                overflow = later & ~incremental[g] & np.isinf(new_t)
                plain = later & ~incremental[g] & ~overflow
                total[g] = np.where(plain, new_t, total[g])
                comp[g] = np.where(plain, new_c, comp[g])
                if not mean:
                    continue
                start_inc = overflow
                avg[g] = np.where(start_inc, total[g] / (seen[g] - 1), avg[g])
                avg_comp[g] = np.where(start_inc, comp[g] / (seen[g] - 1), avg_comp[g])
                incremental[g] |= start_inc
                step_inc = later & incremental[g]
                skip = (
                    step_inc
                    & np.isinf(avg[g])
                    & ((np.isinf(f) & ((avg[g] > 0) == (f > 0))) | (~np.isinf(f) & ~np.isnan(f)))
                )
                q = (seen[g] - 1) / seen[g]
                m, c = kahan_inc(f / seen[g], q * avg[g], q * avg_comp[g])
                upd = step_inc & ~skip
                avg[g] = np.where(upd, m, avg[g])
                avg_comp[g] = np.where(upd, c, avg_comp[g])
            result_sum = total + comp
            direct = np.where(np.isinf(total), total, result_sum) / np.maximum(seen, 1)
            result_mean = np.where(incremental, avg + avg_comp, direct)
        return np.where(np.isinf(total), total, result_sum), result_mean

    def extreme(self, ufunc: np.ufunc) -> F64:
        out = np.full(self.count.shape, np.nan)
        ufunc.at(out, self.group, np.where(self.vector.present, self.vector.values, np.nan))
        return out

    def variance(self) -> F64:
        """Welford's online variance in Prometheus's order (from a zero state, so a lone NaN
        or Inf yields NaN)."""
        shape = self.count.shape
        if shape[1] * len(self.group) <= 40 * int(self.sizes.max(initial=0)):
            return self._variance_by_cell()
        seen, mean, aux = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        present, values = self.vector.present, self.vector.values
        with np.errstate(all="ignore"):
            for which, rows in self.ranks():
                p, f = present[rows], values[rows]
                n = seen[which] + p
                delta = f - mean[which]
                new_mean = mean[which] + delta / np.maximum(n, 1)
                new_aux = aux[which] + delta * (f - new_mean)
                mean[which] = np.where(p, new_mean, mean[which])
                aux[which] = np.where(p, new_aux, aux[which])
                seen[which] = n
            variance: F64 = aux / np.maximum(seen, 1)
        return variance

    def _variance_by_cell(self) -> F64:
        """`variance` with the same float operations, one cell at a time: cheaper than a
        dozen array operations per rank when there are few steps (instant queries, rules)."""
        present, values = self.vector.present, self.vector.values
        group, order = self.group.tolist(), self.order.tolist()
        out = np.zeros(self.count.shape)
        for step in range(out.shape[1]):
            here, column = present[:, step].tolist(), values[:, step].tolist()
            seen = [0] * self.n_groups
            mean = [0.0] * self.n_groups
            aux = [0.0] * self.n_groups
            for row in order:
                if here[row]:
                    g, f = group[row], column[row]
                    n = seen[g] + 1
                    delta = f - mean[g]
                    mean[g] += delta / n
                    aux[g] += delta * (f - mean[g])
                    seen[g] = n
            out[:, step] = [a / max(n, 1) for a, n in zip(aux, seen, strict=True)]
        return out

    def quantile(self, q: F64) -> F64:
        width = int(self.sizes.max(initial=0))
        n_steps = self.count.shape[1]
        padded = np.full((self.n_groups, width, n_steps), np.inf)
        keys = np.full((self.n_groups, width, n_steps), np.inf)
        present, values = self.vector.present, self.vector.values
        for r, (which, rows) in enumerate(self.ranks()):
            padded[which, r] = np.where(present[rows], values[rows], np.inf)
            keys[which, r] = np.where(
                present[rows], np.where(np.isnan(values[rows]), -np.inf, values[rows]), np.inf
            )
            keys[which, r] = np.where(
                present[rows] & np.isneginf(values[rows]), -1e308, keys[which, r]
            )
        order = np.argsort(keys, axis=1, kind="stable")
        ordered = np.take_along_axis(padded, order, axis=1)
        return quantile_of_sorted(ordered, self.count, q)


def quantile_of_sorted(ordered: F64, counts: I64, q: F64) -> F64:
    """Prometheus's `quantile`: linear interpolation between closest ranks; `ordered` is
    (groups, max_count, steps) with each group's values first along axis 1."""
    n = counts.astype(np.float64)
    qs = np.broadcast_to(q[None, :], n.shape)
    rank = qs * (n - 1)
    with np.errstate(invalid="ignore"):
        lower = np.clip(np.floor(rank), 0, None)
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        lo_i = np.clip(np.nan_to_num(lower), 0, max(ordered.shape[1] - 1, 0)).astype(np.int64)
        hi_i = np.clip(np.nan_to_num(upper), 0, max(ordered.shape[1] - 1, 0)).astype(np.int64)
        if ordered.shape[1] == 0:
            result = np.full(n.shape, np.nan)
        else:
            lo_v = np.take_along_axis(ordered, lo_i[:, None, :], axis=1)[:, 0, :]
            hi_v = np.take_along_axis(ordered, hi_i[:, None, :], axis=1)[:, 0, :]
            result = lo_v * (1 - weight) + hi_v * weight
            result = np.where(weight == 0, lo_v, result)
    result = np.where(qs < 0, -np.inf, np.where(qs > 1, np.inf, result))
    return np.where(np.isnan(qs) | (n == 0), np.nan, result)


def kahan_inc(inc: F64, total: F64, comp: F64) -> tuple[F64, F64]:
    """One step of Prometheus's Kahan-Neumaier summation, elementwise."""
    with np.errstate(all="ignore"):
        t = total + inc
        c = np.where(
            np.isinf(t),
            0.0,
            np.where(
                np.abs(total) >= np.abs(inc), comp + ((total - t) + inc), comp + ((inc - t) + total)
            ),
        )
    return t, c


def _select(op: str, grouped: _Groups, vector: VectorSteps, param: F64) -> VectorSteps:
    if np.isnan(param).any():
        raise QueryError("Ratio value is NaN" if op == "limit_ratio" else "Parameter value is NaN")
    present = vector.present
    if op == "limit_ratio":
        if ((param < -1) | (param > 1)).any():
            param = np.clip(param, -1, 1)
        offsets = np.array([_label_hash(lbls) / float(2**64 - 1) for lbls in vector.labels])
        ratio = param[None, :]
        keep = ((ratio >= 0) & (offsets[:, None] < ratio)) | (
            (ratio < 0) & (offsets[:, None] >= 1.0 + ratio)
        )
        return VectorSteps(vector.labels, vector.values, present & keep, vector.drop_name)
    k = np.clip(param, -(2.0**62), 2.0**62).astype(np.int64)
    n_series, n_steps = vector.values.shape
    perm = np.broadcast_to(np.arange(n_series)[:, None], (n_series, n_steps)).copy()
    if op != "limitk":
        values = vector.values if op == "bottomk" else -vector.values
        key = np.where(np.isnan(values), 0.0, values)
        perm = np.argsort(key, axis=0, kind="stable")
        nan_last = np.take_along_axis(np.isnan(values), perm, axis=0)
        perm = np.take_along_axis(perm, np.argsort(nan_last, axis=0, kind="stable"), axis=0)
    absent = np.take_along_axis(~present, perm, axis=0)
    perm = np.take_along_axis(perm, np.argsort(absent, axis=0, kind="stable"), axis=0)
    groups = grouped.group[perm]
    perm = np.take_along_axis(perm, np.argsort(groups, axis=0, kind="stable"), axis=0)
    groups = grouped.group[perm]
    position = np.broadcast_to(np.arange(n_series)[:, None], (n_series, n_steps))
    is_first = np.ones_like(groups, dtype=bool)
    is_first[1:] = groups[1:] != groups[:-1]
    start = np.maximum.accumulate(np.where(is_first, position, 0), axis=0)
    rank = position - start
    keep_sorted = rank < k[None, :]
    keep = np.zeros_like(present)
    np.put_along_axis(keep, perm, keep_sorted, axis=0)
    keep &= present
    labels, values_out, keep_out, drop = vector.labels, vector.values, keep, vector.drop_name
    if n_steps == 1 and op != "limit_ratio":
        rows = perm[:, 0][keep[perm[:, 0], 0]]
        first_seen: dict[int, int] = {}
        for row in range(n_series):
            first_seen.setdefault(int(grouped.group[row]), row)
        rows = np.array(
            sorted(rows.tolist(), key=lambda r: first_seen[int(grouped.group[r])]),
            dtype=np.int64,
        )
        labels = tuple(vector.labels[r] for r in rows)
        values_out, keep_out, drop = vector.values[rows], keep[rows], vector.drop_name[rows]
    return VectorSteps(labels, values_out, keep_out, drop)


def _label_hash(labels: Labels) -> int:
    digest = xxhash.xxh64()
    for name, value in labels:
        digest.update(name.encode())
        digest.update(b"\xff")
        digest.update(value.encode())
        digest.update(b"\xff")
    return int(digest.intdigest())


def _cell_texts(
    vector: VectorSteps, rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The distinct values of the cells as `count_values` prints them (floats as Go's %f
    does, histograms as Prometheus's String()), and each cell's position among them."""
    uniq, inverse = np.unique(vector.values[rows, cols], return_inverse=True)
    texts = [format_float(float(v), "f") for v in uniq]
    if vector.hists is None:
        return texts, inverse.astype(np.int64)
    hists = vector.hists[rows, cols]
    where = np.nonzero(is_histogram(hists))[0]
    index = {t: i for i, t in enumerate(texts)}
    positions = inverse.astype(np.int64)
    for k in where.tolist():
        positions[k] = index.setdefault(str(hists[k]), len(index))
    return list(index), positions


def _count_values(
    label: str, grouped: _Groups, vector: VectorSteps, group_labels: list[Labels]
) -> VectorSteps:
    if not label or not (is_legacy_label_name(label) or label.isprintable()):
        raise QueryError(f"invalid label name {label!r}")
    rows, cols = np.nonzero(vector.has_sample())
    text, inverse = _cell_texts(vector, rows, cols)
    out_index: dict[Labels, int] = {}
    pair_keys = grouped.group[rows] * (len(text) + 1) + inverse
    unique_pairs, pair_inverse = np.unique(pair_keys, return_inverse=True)
    pair_out = np.empty(len(unique_pairs), dtype=np.int64)
    for i, key in enumerate(unique_pairs.tolist()):
        g, u = divmod(key, len(text) + 1)
        lbls = group_labels[g].with_label(label, text[u])
        pair_out[i] = out_index.setdefault(lbls, len(out_index))
    out_of_cell = pair_out[pair_inverse]
    counts = np.zeros((len(out_index), vector.values.shape[1]))
    np.add.at(counts, (out_of_cell, cols), 1.0)
    present: Bools = counts > 0
    return VectorSteps(tuple(out_index), counts, present, np.zeros(len(out_index), dtype=bool))
