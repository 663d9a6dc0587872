"""Every parser that reads bytes from the network or a user's file, fuzzed: a valid input with
random bytes flipped, cut, doubled or inserted, and plain random input. The property is that
each answers with its own documented error (which the caller turns into a 400, `up 0` or a
config error naming the file) and never with any other exception. `make fuzz` runs more."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cramjam
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vigil.dashboards
from tests.conftest import FIXTURES
from tests.fuzzing import DERANDOMIZE, examples
from vigil.config import ConfigError
from vigil.config.prometheus import parse_config as parse_prometheus_config
from vigil.dashboards.store import DashboardError, parse_dashboard
from vigil.exposition import Format, ParseError, parse_text
from vigil.exposition.scan import scan
from vigil.notify.kinds import parse_config as parse_alertmanager_config
from vigil.remote import prompb
from vigil.remote.receiver import WriteRejected, decode_write_request
from vigil.rules.rulefile import parse_rule_file

SEED = FIXTURES / "seed-stack"
_EXPOSITION = (FIXTURES / "exposition" / "node-exporter-1.5.0.txt").read_bytes()[:6000]

_FUZZ = settings(
    max_examples=examples(120),
    derandomize=DERANDOMIZE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def _mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` with a few random edits: flip, cut, duplicate a slice, insert random bytes."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["flip", "cut", "dup", "insert", "truncate"]))
        if edit == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif edit == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif edit == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


def _inputs(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(_mutated(seed), st.binary(max_size=512))


def _only(errors: tuple[type[BaseException], ...], parse: Callable[[], object]) -> None:
    """The property: the parser returns, or refuses with its own error type; anything else
    (the 500 a server would answer) fails the example, naming what escaped."""
    try:
        parse()
    except errors:
        pass
    except Exception as err:
        pytest.fail(f"{type(err).__name__} escaped the parser: {err}")


@_FUZZ
@given(body=_inputs(_EXPOSITION), fmt=st.sampled_from([Format.TEXT, Format.OPENMETRICS]))
def test_scrape_scanner(body: bytes, fmt: Format) -> None:
    _only((ParseError,), lambda: scan(body, fmt))


@_FUZZ
@given(body=_inputs(_EXPOSITION))
def test_strict_text_parser(body: bytes) -> None:
    _only((ParseError,), lambda: parse_text(body.decode("utf-8", "replace")))


def _write_request() -> bytes:
    request = prompb.WriteRequest()
    for i in range(3):
        series = request.timeseries.add()
        for name, value in (("__name__", "up"), ("job", "node"), ("instance", f"h{i}:9100")):
            label = series.labels.add()
            label.name, label.value = name, value
        for t in range(4):
            sample = series.samples.add()
            sample.timestamp, sample.value = 1_700_000_000_000 + t * 15_000, float(t)
    return request.SerializeToString()


_WRITE = _write_request()


@_FUZZ
@given(raw=_inputs(_WRITE), compress=st.booleans())
def test_remote_write_decoder(raw: bytes, compress: bool) -> None:
    body = bytes(cramjam.snappy.compress_raw(raw)) if compress else raw
    _only((WriteRejected,), lambda: decode_write_request(body, 1 << 20))


def _yaml_inputs(seed: bytes) -> st.SearchStrategy[str]:
    return _inputs(seed).map(lambda raw: raw.decode("utf-8", "replace"))


@_FUZZ
@given(text=_yaml_inputs((SEED / "prometheus.yml").read_bytes()))
def test_prometheus_config(text: str) -> None:
    _only((ConfigError,), lambda: parse_prometheus_config(text))


@_FUZZ
@given(text=_yaml_inputs((SEED / "alertmanager.yml").read_bytes()))
def test_alertmanager_config(text: str) -> None:
    _only((ConfigError,), lambda: parse_alertmanager_config(text))


@_FUZZ
@given(text=_yaml_inputs((SEED / "rules" / "node-server-alerts.yml").read_bytes()))
def test_rule_file(text: str) -> None:
    _only((ConfigError,), lambda: parse_rule_file(text, "rules.yml"))


@pytest.mark.parametrize("name", ["vigil-node.json", "vigil-containers.json"])
def test_dashboard_json(name: str) -> None:
    seed = (Path(vigil.dashboards.__file__).parent / "builtin" / name).read_bytes()

    @_FUZZ
    @given(raw=_inputs(seed))
    def check(raw: bytes) -> None:
        _only((DashboardError,), lambda: parse_dashboard(raw, "upload.json"))

    check()
