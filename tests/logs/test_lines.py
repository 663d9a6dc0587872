"""Structured metadata columns: what `encode_metadata` writes, `decode_metadata` reads back
line for line (lines without metadata anywhere, sets repeated or not), and a blob that does
not hold the pairs its counts say is refused."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.logs.lines import decode_metadata, encode_metadata
from vigil.model import Labels

INFO = Labels.from_dict({"level": "info"})
TRACED = Labels.from_dict({"level": "error", "trace_id": "4bf92f3577b34da6"})
UNICODE = Labels.from_dict({"user": "zoë", "ünit": "日本"})
NONE = Labels()

COLUMNS = {
    "one set repeated": [INFO] * 5,
    "sets of different sizes": [INFO, TRACED, INFO, UNICODE, TRACED],
    "lines without any around": [NONE, INFO, NONE, NONE, TRACED, NONE],
    "empty values": [Labels.from_dict({"a": "", "b": "x"}), Labels.from_dict({"a": ""})],
    "no line has any": [NONE, NONE, NONE],
    "no lines": [],
}


@pytest.mark.parametrize("column", COLUMNS.values(), ids=COLUMNS.keys())
def test_metadata_decodes_to_what_was_encoded(column: list[Labels]) -> None:
    assert decode_metadata(*encode_metadata(column)) == tuple(column)


BAD = {
    "a pair short": (np.array([1, 2]), b"level\xffinfo\xffa\xffb\xff"),
    "a string too many": (np.array([1]), b"level\xffinfo\xffx\xff"),
    "not ended by 0xff": (np.array([1]), b"level\xffinfo"),
    "a negative count": (np.array([2, -1]), b"level\xffinfo\xff"),
}


@pytest.mark.parametrize(("counts", "blob"), BAD.values(), ids=BAD.keys())
def test_metadata_that_does_not_add_up_is_refused(counts: np.ndarray, blob: bytes) -> None:
    with pytest.raises(ValueError, match="strings for"):
        decode_metadata(counts.astype(np.int64), blob)
