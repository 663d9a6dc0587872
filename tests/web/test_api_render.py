"""Query results rendered as JSON in bulk: each value and time must read exactly as the one-value
formatters (`format_json`, held to Prometheus's answers in tests/model/test_gofloat.py) print it."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vigil.model import Labels
from vigil.model.gofloat import format_json, format_json_all
from vigil.promql.value import Matrix, QueryValue, Sample, Scalar, Series, String, Vector
from vigil.web.api import format_timestamp, render_value

EDGES = [
    0.0,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    1.0,
    -1.0,
    0.1,
    0.1 + 0.2,  # 17 significant digits
    1 / 3,
    -2 / 3,
    123456.789,
    1e-7,
    -1e-7,
    1e-6,
    9.99e-6,
    1e-5,
    1.234e-5,
    1e-4,
    5e-324,
    1e15,
    2.5e15,
    1e15 + 0.5,
    1e16,
    2.0**53 + 2,
    1.5e17,
    1e20,
    9.99e20,
    1e21,
    -1e21,
    1e22,
    1.7976931348623157e308,
    float(2**63),
    9007199254740993.0,
    4.35e-21,
]


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_each_edge_value_alone(value: float) -> None:
    assert format_json_all(np.array([value])) == [format_json(value)]


def test_edge_values_together() -> None:
    values = np.array(EDGES)
    assert format_json_all(values) == [format_json(v) for v in EDGES]


@pytest.mark.parametrize(
    ("values", "texts"),
    [
        ([math.nan, 1.0, math.nan], ["NaN", "1", "NaN"]),
        ([math.inf, math.nan, -math.inf, 2.5], ["+Inf", "NaN", "-Inf", "2.5"]),
        ([-0.0, 1e-7, 1e21, 2.5e15], ["-0", "1e-07", "1e+21", "2500000000000000"]),
        ([1e16, 5e-6, 1e-300], ["10000000000000000", "0.000005", "1e-300"]),
        ([], []),
    ],
)
def test_known_texts(values: list[float], texts: list[str]) -> None:
    assert format_json_all(np.array(values, dtype=np.float64)) == texts


@given(hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(width=64)))
def test_any_floats_read_as_one_by_one(values: Any) -> None:
    assert format_json_all(values) == [format_json(v) for v in values.tolist()]


@given(st.lists(st.integers(-(2**62), 2**62)))
def test_any_bit_patterns_read_as_one_by_one(bits: list[int]) -> None:
    values = np.array(bits, dtype=np.int64).view(np.float64)
    assert format_json_all(values) == [format_json(v) for v in values.tolist()]


@pytest.mark.parametrize(
    ("t_ms", "text"),
    [
        (0, "0"),
        (1_000, "1"),
        (1_500, "1.500"),
        (1_001, "1.001"),
        (-1_500, "-1.500"),
        (-500, "-0.500"),
    ],
)
def test_timestamp_is_prometheus_marshal_timestamp(t_ms: int, text: str) -> None:
    assert format_timestamp(t_ms) == text


def _expected(value: QueryValue) -> dict[str, Any]:
    """What render_value must mean, point by point with the one-value formatters."""

    def t(t_ms: int) -> float:
        return float(format_timestamp(t_ms))

    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [t(value.t_ms), format_json(value.value)]}
    if isinstance(value, String):
        return {"resultType": "string", "result": [t(value.t_ms), value.value]}
    if isinstance(value, Vector):
        result = [
            {"metric": dict(s.labels), "value": [t(s.t_ms), format_json(s.value)]}
            for s in value.samples
        ]
        return {"resultType": "vector", "result": result}
    return {
        "resultType": "matrix",
        "result": [
            {
                "metric": dict(s.labels),
                "values": [
                    [t(ts), format_json(v)]
                    for ts, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
                ],
            }
            for s in value.series
        ],
    }


def _series(labels: dict[str, str], times: list[int], values: list[float]) -> Series:
    return Series(
        Labels.from_dict(labels), np.array(times, dtype=np.int64), np.array(values, dtype=float)
    )


GRID = [1_700_000_000_000 + i * 15_000 for i in range(4)]
CPU = {"__name__": "node_cpu_seconds_total", "cpu": "0", "instance": 'a"b\\c é', "job": "node"}

VALUES = {
    "empty matrix": Matrix(()),
    "one series": Matrix((_series(CPU, GRID, [1.0, 2.5, 1e-7, 1e21]),)),
    "series apart": Matrix(
        (
            _series({"a": "1"}, GRID, [math.nan, 1.0, math.nan, 3.0]),
            _series({"a": "2"}, GRID[1:], [math.inf, -math.inf, math.nan]),
            _series({"a": "3"}, [5], [-0.0]),
            _series({}, GRID[:1], [5e-6]),
        )
    ),
    "fractional and negative times": Matrix(
        (_series({"a": "x"}, [-1_500, -1, 0, 1, 999, 1_001, 2**52], [0.1, 0.2, 0.3, 4, 5, 6, 7]),)
    ),
    "times past float precision": Matrix(
        (_series({"a": "x"}, [2**62 - 1, 2**62], [1.0, 2.5]), _series({}, [1_000], [3.0]))
    ),
    "a series without points": Matrix(
        (_series({"a": "x"}, [], []), _series({"a": "y"}, [1_000], [1.0]))
    ),
    "vector": Vector(
        (
            Sample(Labels.from_dict(CPU), 1_500, 0.25),
            Sample(Labels(), 1_500, math.nan),
            Sample(Labels.from_dict({"x": "y"}), 1_500, -math.inf),
        )
    ),
    "empty vector": Vector(()),
    "scalar": Scalar(10_500, 1.5),
    "scalar NaN": Scalar(-2_000, math.nan),
    "string": String(10_000, 'a "quoted" \\ string\n'),
}


@pytest.mark.parametrize("value", VALUES.values(), ids=VALUES.keys())
def test_render_value_means_the_one_by_one_result(value: QueryValue) -> None:
    assert json.loads(render_value(value)) == _expected(value)
