"""The parameters Jaeger's and Tempo's APIs share: trace ids, Go durations, logfmt and JSON
tags, and the text an attribute value matches a tag by."""

from __future__ import annotations

import pytest

from vigil.traces import AttrValue, KeyValues
from vigil.web.trace_params import (
    json_or_logfmt_tags,
    logfmt_tags,
    parse_duration_ns,
    parse_trace_id,
)
from vigil.web.trace_search import value_text


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0af7651916cd43dd8448eb211c80319c", "0af7651916cd43dd8448eb211c80319c"),
        ("ABC", "00000000000000000000000000000abc"),
        ("d269b633813fc60c", "0000000000000000d269b633813fc60c"),
    ],
)
def test_trace_ids(text: str, want: str) -> None:
    assert parse_trace_id(text).hex() == want


@pytest.mark.parametrize("text", ["", "xyz", "0" * 33, "12 34"])
def test_bad_trace_ids(text: str) -> None:
    with pytest.raises(ValueError, match="want 1 to 32 hex digits"):
        parse_trace_id(text)


@pytest.mark.parametrize(
    ("text", "want"),
    [("100ms", 100_000_000), ("1.5s", 1_500_000_000), ("250us", 250_000), ("1h2m", 3_720 * 10**9)],
)
def test_durations(text: str, want: int) -> None:
    assert parse_duration_ns(text, "minDuration") == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5", "invalid minDuration '5': want a duration such as 100ms or 1.5s"),
        ("-1s", "invalid minDuration '-1s': a duration cannot be negative"),
    ],
)
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration_ns(text, "minDuration")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", ()),
        (' service.name="frontend" name="GET /a b"', (("service.name", "frontend"), ("name", "GET /a b"))),
        ('error=true msg="say \\"hi\\""', (("error", "true"), ("msg", 'say "hi"'))),
        ("bare other=", (("bare", ""), ("other", ""))),
    ],
)  # fmt: skip
def test_logfmt_tags(text: str, want: tuple[tuple[str, str], ...]) -> None:
    assert logfmt_tags(text) == want


def test_json_tags_take_strings_and_render_the_rest() -> None:
    assert json_or_logfmt_tags('{"error":"true","http.status_code":500}') == (
        ("error", "true"),
        ("http.status_code", "500"),
    )
    with pytest.raises(ValueError, match="malformed 'tags' parameter"):
        json_or_logfmt_tags('{"a": ')


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("x", "x"),
        (True, "true"),
        (200, "200"),
        (2.0, "2"),
        (0.5, "0.5"),
        (("a", 1), '["a",1]'),
        (KeyValues((("k", b"\x01"),)), '{"k":"01"}'),
    ],
)
def test_value_text(value: AttrValue, want: str) -> None:
    assert value_text(value) == want
