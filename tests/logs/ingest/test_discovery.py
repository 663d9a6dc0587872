"""Loki 3's ingest-time discovery: `service_name` from the stream's labels and
`detected_level` from labels, structured metadata, OTLP severity or the line itself."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.logs import Lines
from vigil.logs.ingest.discovery import Discovery, DiscoveryOptions, line_level, line_levels
from vigil.model import Labels


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        ({"service_name": "checkout", "app": "web"}, "checkout"),
        ({"service": "billing", "app": "web"}, "billing"),
        ({"app": "web", "job": "varlogs"}, "web"),
        ({"application": "a", "name": "n"}, "a"),
        ({"name": "n", "container": "c"}, "n"),
        ({"app_kubernetes_io_name": "k", "container": "c"}, "k"),
        ({"container": "c", "job": "j"}, "c"),
        ({"container_name": "cn", "component": "x"}, "cn"),
        ({"k8s_container_name": "kc", "job": "j"}, "kc"),
        ({"component": "co", "workload": "w"}, "co"),
        ({"workload": "w", "job": "j"}, "w"),
        ({"job": "varlogs", "host": "vm1"}, "varlogs"),
        ({"host": "vm1", "filename": "/var/log/syslog"}, "unknown_service"),
    ],
)
def test_service_name_comes_from_lokis_list(labels: dict[str, str], service: str) -> None:
    got = Discovery().stream_labels(Labels.from_dict(labels))
    assert got == Labels.from_dict({**labels, "service_name": service})


def test_service_name_discovery_can_be_off() -> None:
    labels = Labels.from_dict({"app": "web"})
    assert Discovery(DiscoveryOptions(service_name_sources=())).stream_labels(labels) == labels


NO_LABELS = Labels.from_dict({"job": "x"})


@pytest.mark.parametrize(
    ("stream", "metadata", "line", "level"),
    [
        ({}, {}, '{"level":"WARN","msg":"disk"}', "warn"),
        ({}, {}, '  {"severity":"Error","msg":"boom"}  ', "error"),
        ({}, {}, '{"lvl":"dbg"}', "debug"),
        ({}, {}, '{"Level":"trc"}', "trace"),
        ({}, {}, '{"level":30,"msg":"pino info"}', "info"),
        ({}, {}, '{"level":50,"msg":"pino"}', "unknown"),
        ({}, {}, 'ts=2024 level=error msg="x"', "error"),
        ({}, {}, 'ts=2024 level="warning" msg=x', "warn"),
        ({}, {}, "ts=2024 lvl=crit msg=info", "info"),
        ({}, {}, "ts=2024 level=critical msg=x", "critical"),
        ({}, {}, "ts=2024 level=FATAL", "fatal"),
        ({}, {}, "2024-05-01 12:00:00 INFO  c.e.App : started", "info"),
        ({}, {}, "2024-05-01 12:00:00 ERROR c.e.App : failed", "error"),
        ({}, {}, "something went wrong: err: broken pipe", "error"),
        ({}, {}, "WARNING: low disk", "warn"),
        ({}, {}, "CRITICAL: down", "critical"),
        ({}, {}, "DEBUG: cache miss", "debug"),
        ({}, {}, "GET /health 200", "unknown"),
        ({}, {}, "an error and some info", "info"),
        ({"level": "warn"}, {}, "ERROR in line", "warn"),
        ({}, {"severity": "notice"}, "ERROR in line", "notice"),
        ({}, {"severity_number": "17"}, "ok", "error"),
        ({}, {"severity_number": "9"}, "ERROR", "info"),
        ({}, {"severity_number": "21"}, "ok", "fatal"),
        ({}, {"severity_number": "0"}, "ERROR", "unknown"),
        ({}, {"detected_level": "debug"}, "ERROR", "debug"),
    ],
)
def test_detected_level_is_lokis(
    stream: dict[str, str], metadata: dict[str, str], line: str, level: str
) -> None:
    meta = Labels.from_dict(metadata)
    got = Discovery().entry_metadata(Labels.from_dict(stream), line.encode(), meta)
    assert got == meta.with_label("detected_level", level)


def test_level_discovery_can_be_off() -> None:
    off = Discovery(DiscoveryOptions(log_levels=False))
    assert off.entry_metadata(NO_LABELS, b"ERROR", Labels()) == Labels()


LEVEL_TEXT = st.lists(
    st.sampled_from(
        ["INFO", "info", "err:", "ERROR", "warn:", "WARNING", "critical:", "DEBUG:", "debug",
         "level=warn", 'lvl="Error"', "Severity=", "{", "}", '"level": "debug"', " ", "x", "é"]
    ),
    max_size=8,
).map("".join)  # fmt: skip


@settings(deadline=None)
@given(st.lists(LEVEL_TEXT, max_size=40))
def test_levels_found_over_a_column_are_each_lines_own(texts: list[str]) -> None:
    lines = [text.encode() for text in texts]
    assert line_levels(Lines.of(lines)) == [line_level(line) for line in lines]
