import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vigil.model.sorted_set import sorted_set


def _same(got: npt.NDArray[np.generic], values: npt.NDArray[np.generic]) -> None:
    want = np.unique(values)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want, strict=True)
    if got.dtype.kind == "f":
        assert np.signbit(got).tolist() == np.signbit(want).tolist()


def _arrays(
    dtype: st.SearchStrategy[np.dtype[np.generic]],
) -> st.SearchStrategy[npt.NDArray[np.generic]]:
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=30))


_FLOATS = st.sampled_from([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1.5, -2.0])


@given(_arrays(hnp.integer_dtypes() | hnp.unsigned_integer_dtypes() | hnp.boolean_dtypes()))
def test_integers_as_np_unique(values: npt.NDArray[np.generic]) -> None:
    _same(sorted_set(values), values)


@given(
    hnp.arrays(
        hnp.floating_dtypes(sizes=(32, 64)),
        hnp.array_shapes(min_dims=1, max_dims=1, min_side=0, max_side=30),
        elements=_FLOATS | st.floats(width=32),
    )
)
def test_floats_with_nan_signed_zeros_and_inf_as_np_unique(values: npt.NDArray[np.generic]) -> None:
    _same(sorted_set(values), values)


@given(_arrays(hnp.unicode_string_dtypes() | hnp.byte_string_dtypes()))
def test_strings_and_bytes_as_np_unique(values: npt.NDArray[np.generic]) -> None:
    _same(sorted_set(values), values)


@pytest.mark.parametrize(
    "values",
    [
        np.zeros(0, np.int64),
        np.zeros(0, np.float64),
        np.zeros(0, "U3"),
        np.zeros(0, "S16"),
        np.array([7], np.int32),
        np.array([3, 1, 3, 2, 1], np.int64),
        np.array(["b", "a", "b", ""]),
        np.array([b"\x00", b"", b"\x00\x01"], "S2"),
    ],
)
def test_edge_cases_as_np_unique(values: npt.NDArray[np.generic]) -> None:
    _same(sorted_set(values), values)
