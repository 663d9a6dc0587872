"""Binary operators: arithmetic, comparison (with or without `bool`) and set operators, with
Prometheus's vector matching (`on`/`ignoring`, `group_left`/`group_right`) over all steps at once.

Matching is decided per series pair once; which pairs clash is then a per-step question
answered with presence masks, so errors fire only where Prometheus's per-step loop would.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vigil.model import METRIC_NAME, Labels
from vigil.model.histogram import FloatHistogram, HistogramError
from vigil.promql import ast
from vigil.promql.errors import QueryError
from vigil.promql.value import (
    F64,
    Bools,
    Hists,
    ScalarSteps,
    Value,
    VectorSteps,
    histograms_where,
    is_histogram,
    merge_same_labels,
    no_histograms,
)

Signature = tuple[tuple[str, str], ...]


_ARITHMETIC: dict[str, np.ufunc] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,
    "^": np.power,
    "atan2": np.arctan2,
}
_COMPARISON: dict[str, np.ufunc] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


def arithmetic(op: str, lhs: F64, rhs: F64) -> F64:
    ufunc = _ARITHMETIC.get(op)
    if ufunc is None:
        raise QueryError(f"operator {op!r} not allowed for float operations")
    with np.errstate(all="ignore"):
        result: F64 = ufunc(lhs, rhs)
    return result


def compare(op: str, lhs: F64, rhs: F64) -> Bools:
    ufunc = _COMPARISON.get(op)
    if ufunc is None:
        raise QueryError(f"operator {op!r} is not a comparison")
    with np.errstate(invalid="ignore"):
        result: Bools = ufunc(lhs, rhs)
    return result


def evaluate_binary(node: ast.Binary, lhs: Value, rhs: Value) -> Value:
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, ScalarSteps):
        if node.op in ast.COMPARISON_OPS:
            return ScalarSteps(compare(node.op, lhs.values, rhs.values).astype(np.float64))
        return ScalarSteps(arithmetic(node.op, lhs.values, rhs.values))
    if isinstance(lhs, VectorSteps) and isinstance(rhs, ScalarSteps):
        return _vector_scalar(node, lhs, rhs.values[None, :], vector_on_left=True)
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, VectorSteps):
        return _vector_scalar(node, rhs, lhs.values[None, :], vector_on_left=False)
    if isinstance(lhs, VectorSteps) and isinstance(rhs, VectorSteps):
        if node.op in ast.SET_OPS:
            return _set_operation(node, lhs, rhs)
        return _vector_vector(node, lhs, rhs)
    raise QueryError(f"binary operator {node.op!r} not allowed on these operand types")


def _vector_scalar(
    node: ast.Binary, vector: VectorSteps, scalar: F64, *, vector_on_left: bool
) -> VectorSteps:
    left, right = (vector.values, scalar) if vector_on_left else (scalar, vector.values)
    if node.op in ast.COMPARISON_OPS:
        keep = compare(node.op, left, right)
        if node.return_bool:
            return VectorSteps(
                vector.labels,
                keep.astype(np.float64),
                vector.present,
                np.ones(vector.n_series, dtype=bool),
            )
        return VectorSteps(vector.labels, vector.values, vector.present & keep, vector.drop_name)
    values = np.broadcast_to(arithmetic(node.op, left, right), vector.values.shape)
    hists = None
    if vector.hists is not None:
        hists = _scaled_histograms(node.op, vector.hists, scalar, vector_on_left=vector_on_left)
    return VectorSteps(
        vector.labels,
        np.array(values),
        vector.present,
        np.ones(vector.n_series, dtype=bool),
        hists=hists,
    )


def _scaled_histograms(op: str, hists: Hists, scalar: F64, *, vector_on_left: bool) -> Hists:
    """`h * s`, `s * h` and `h / s`; a histogram meets a scalar in no other operation."""
    out = no_histograms(hists.shape)
    if op not in ("*", "/") or (op == "/" and not vector_on_left):
        return out
    for r, c in zip(*np.nonzero(is_histogram(hists)), strict=True):
        factor = float(scalar[0, c])
        out[r, c] = hists[r, c].scale(factor) if op == "*" else hists[r, c].divide(factor)
    return out


def _histogram_pairs(
    op: str,
    left: tuple[F64, Bools, Hists | None],
    right: tuple[F64, Bools, Hists | None],
) -> tuple[Hists, Bools]:
    """Matched pairs where a side is a histogram: `h + h`, `h - h`, `h * f`, `f * h`, `h / f`
    (others give no sample); the results, and which pairs involve a histogram."""
    (l_vals, l_present, l_hists), (r_vals, r_present, r_hists) = left, right
    l_is = np.zeros(l_present.shape, bool) if l_hists is None else is_histogram(l_hists)
    r_is = np.zeros(r_present.shape, bool) if r_hists is None else is_histogram(r_hists)
    involved = (l_is | r_is) & (l_is | l_present) & (r_is | r_present)
    out = no_histograms(l_present.shape)
    for r, c in zip(*np.nonzero(involved), strict=True):
        a = l_hists[r, c] if l_is[r, c] and l_hists is not None else float(l_vals[r, c])
        b = r_hists[r, c] if r_is[r, c] and r_hists is not None else float(r_vals[r, c])
        try:
            out[r, c] = _histogram_op(op, a, b)
        except HistogramError:
            continue
    return out, involved


def _histogram_op(
    op: str, a: FloatHistogram | float, b: FloatHistogram | float
) -> FloatHistogram | None:
    if isinstance(a, FloatHistogram) and isinstance(b, FloatHistogram):
        if op == "+":
            return a.add(b).compact()
        if op == "-":
            return a.sub(b).compact()
        return None
    if isinstance(a, FloatHistogram):
        assert isinstance(b, float)
        return a.scale(b) if op == "*" else a.divide(b) if op == "/" else None
    if isinstance(b, FloatHistogram) and op == "*":
        return b.scale(a)
    return None


def _signature(labels: Labels, matching: ast.VectorMatching) -> Signature:
    if matching.on:
        return tuple(pair for pair in labels if pair[0] in matching.labels)
    return tuple(
        pair for pair in labels if pair[0] != METRIC_NAME and pair[0] not in matching.labels
    )


def _group_rows(signatures: list[Signature]) -> tuple[dict[Signature, int], np.ndarray]:
    index: dict[Signature, int] = {}
    group = np.fromiter(
        (index.setdefault(sig, len(index)) for sig in signatures),
        dtype=np.int64,
        count=len(signatures),
    )
    return index, group


def _present_per_group(group: np.ndarray, n_groups: int, present: Bools) -> Bools:
    counts = np.zeros((n_groups, present.shape[1]), dtype=np.int64)
    np.add.at(counts, group, present.astype(np.int64))
    return counts > 0


def _set_operation(node: ast.Binary, lhs: VectorSteps, rhs: VectorSteps) -> VectorSteps:
    matching = node.matching
    lhs_sigs = [_signature(lbls, matching) for lbls in lhs.labels]
    rhs_sigs = [_signature(lbls, matching) for lbls in rhs.labels]
    if node.op in ("and", "unless"):
        index, rhs_group = _group_rows(rhs_sigs)
        rhs_any = _present_per_group(rhs_group, len(index), rhs.has_sample())
        matched = np.zeros_like(lhs.present)
        for i, sig in enumerate(lhs_sigs):
            g = index.get(sig)
            if g is not None:
                matched[i] = rhs_any[g]
        keep = matched if node.op == "and" else ~matched
        kept_hists = None if lhs.hists is None else histograms_where(keep, lhs.hists)
        return VectorSteps(
            lhs.labels, lhs.values, lhs.present & keep, lhs.drop_name, hists=kept_hists
        )
    index, lhs_group = _group_rows(lhs_sigs)
    lhs_any = _present_per_group(lhs_group, len(index), lhs.has_sample())
    rhs_keep = np.ones_like(rhs.present)
    for i, sig in enumerate(rhs_sigs):
        g = index.get(sig)
        if g is not None:
            rhs_keep[i] = ~lhs_any[g]
    hists = None
    if lhs.hists is not None or rhs.hists is not None:
        hists = np.concatenate(
            [
                no_histograms(lhs.present.shape) if lhs.hists is None else lhs.hists,
                histograms_where(rhs_keep, rhs.hists)
                if rhs.hists is not None
                else no_histograms(rhs.present.shape),
            ]
        )
    return merge_same_labels(
        VectorSteps(
            lhs.labels + rhs.labels,
            np.concatenate([lhs.values, rhs.values]),
            np.concatenate([lhs.present, rhs.present & rhs_keep]),
            np.concatenate([lhs.drop_name, rhs.drop_name]),
            hists=hists,
        )
    )


def _match_labels_text(labels: Labels, matching: ast.VectorMatching) -> str:
    return str(Labels(_signature(labels, matching)))


def _vector_vector(node: ast.Binary, lhs: VectorSteps, rhs: VectorSteps) -> VectorSteps:
    matching = node.matching
    one_to_many = matching.card is ast.Cardinality.ONE_TO_MANY
    many, one = (rhs, lhs) if one_to_many else (lhs, rhs)
    one_sigs = [_signature(lbls, matching) for lbls in one.labels]
    index, one_group = _group_rows(one_sigs)
    n_steps = lhs.present.shape[1]
    counts = np.zeros((len(index), n_steps), dtype=np.int64)
    np.add.at(counts, one_group, one.has_sample().astype(np.int64))
    if (counts > 1).any():
        g, step = np.argwhere(counts > 1)[0]
        rows = [r for r in np.nonzero(one_group == g)[0] if one.has_sample()[r, step]]
        pair = sorted((one.labels[rows[0]], one.labels[rows[1]]))
        side = "left" if one_to_many else "right"
        raise QueryError(
            f"found duplicate series for the match group "
            f"{_match_labels_text(one.labels[rows[0]], matching)} on the {side} hand-side of the "
            f"operation: [{pair[0]}, {pair[1]}];many-to-many matching not allowed: matching "
            f"labels must be unique on one side"
        )
    members: dict[int, list[int]] = {}
    for row, g in enumerate(one_group.tolist()):
        members.setdefault(g, []).append(row)
    many_rows: list[int] = []
    one_rows: list[int] = []
    for row, lbls in enumerate(many.labels):
        g = index.get(_signature(lbls, matching))
        if g is None:
            continue
        for other in members[g]:
            many_rows.append(row)
            one_rows.append(other)
    if not many_rows:
        return VectorSteps(
            (), np.empty((0, n_steps)), np.zeros((0, n_steps), dtype=bool), np.zeros(0, dtype=bool)
        )
    m_idx = np.asarray(many_rows)
    o_idx = np.asarray(one_rows)
    present = many.present[m_idx] & one.present[o_idx]
    matched = present.copy()
    left_rows, right_rows = (o_idx, m_idx) if one_to_many else (m_idx, o_idx)
    left_vals, right_vals = lhs.values[left_rows], rhs.values[right_rows]
    comparison = node.op in ast.COMPARISON_OPS
    hists: Hists | None = None
    if comparison:
        keep = compare(node.op, left_vals, right_vals)
        if node.return_bool:
            values = keep.astype(np.float64)
        else:
            values = left_vals
            present &= keep
        drop = np.ones(len(m_idx), dtype=bool) if node.return_bool else many.drop_name[m_idx]
        if lhs.hists is not None and rhs.hists is not None and node.op in ("==", "!="):
            left_hists, right_hists = lhs.hists[left_rows], rhs.hists[right_rows]
            both, equal = _equal_histograms(left_hists, right_hists)
            matched |= both
            hist_keep = (equal if node.op == "==" else ~equal) & both
            if node.return_bool:
                values = np.where(both, hist_keep.astype(np.float64), values)
                present |= both
            else:
                hists = histograms_where(hist_keep, left_hists)
    else:
        values = arithmetic(node.op, left_vals, right_vals)
        drop = many.drop_name[m_idx]
        if lhs.hists is not None or rhs.hists is not None:
            hists, involved = _histogram_pairs(
                node.op,
                (left_vals, lhs.present[left_rows], _rows(lhs.hists, left_rows)),
                (right_vals, rhs.present[right_rows], _rows(rhs.hists, right_rows)),
            )
            present &= ~involved
            matched |= involved
    labels = tuple(
        _result_labels(many.labels[m], one.labels[o], matching, drop_name=not comparison)
        for m, o in zip(many_rows, one_rows, strict=True)
    )
    if matching.card is ast.Cardinality.ONE_TO_ONE:
        keys: list[object] = [_signature(many.labels[m], matching) for m in many_rows]
        message = "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    else:
        keys = [
            (_signature(many.labels[m], matching), lbls)
            for m, lbls in zip(many_rows, labels, strict=True)
        ]
        message = "multiple matches for matching labels; many-to-one matching must be explicit (group_left/group_right)"
    key_index: dict[object, int] = {}
    key_group = np.fromiter((key_index.setdefault(k, len(key_index)) for k in keys), dtype=np.int64)
    per_key = np.zeros((len(key_index), n_steps), dtype=np.int64)
    np.add.at(per_key, key_group, matched.astype(np.int64))
    if (per_key > 1).any():
        raise QueryError(message)
    return merge_same_labels(VectorSteps(labels, values, present, drop, hists=hists))


def _equal_histograms(left: Hists, right: Hists) -> tuple[Bools, Bools]:
    """Which pairs are two histograms, and which of those are equal."""
    both = is_histogram(left) & is_histogram(right)
    equal = np.zeros(both.shape, dtype=bool)
    for r, c in zip(*np.nonzero(both), strict=True):
        equal[r, c] = left[r, c].equals(right[r, c])
    return both, equal


def _rows(hists: Hists | None, rows: npt.NDArray[np.int64]) -> Hists | None:
    return None if hists is None else hists[rows]


def _result_labels(
    many: Labels, one: Labels, matching: ast.VectorMatching, *, drop_name: bool
) -> Labels:
    pairs = dict(many)
    if drop_name:
        pairs.pop(METRIC_NAME, None)
    if matching.card is ast.Cardinality.ONE_TO_ONE:
        if matching.on:
            pairs = {k: v for k, v in pairs.items() if k in matching.labels}
        else:
            for name in matching.labels:
                pairs.pop(name, None)
    for name in matching.include:
        value = one.get(name)
        if value:
            pairs[name] = value
        else:
            pairs.pop(name, None)
    return Labels.from_dict(pairs)
