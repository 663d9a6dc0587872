"""Prometheus 3's quoted UTF-8 metric and label names in the text and OpenMetrics formats:
`# TYPE "my.metric" counter`, `{"my.metric","label.with.dots"="x"} 1` (the name first or
anywhere in the braces), `name{"label.x"="v"}`, escapes in quoted names. Every parser a user
reaches (the reference parsers, the scrape scanner, `vigil check metrics`) reads the same
series, and the renderers write bodies those parsers read back."""

from __future__ import annotations

import io

import pytest

from vigil.exposition import (
    Format,
    MetricFamily,
    ParseError,
    parse_openmetrics,
    parse_text,
    render_openmetrics,
    render_text,
)
from vigil.exposition.check import check_metrics_command
from vigil.exposition.scan import scan
from vigil.model import Labels

OPENMETRICS = """\
# HELP "http.server.duration_seconds" Time spent serving, by route.
# TYPE "http.server.duration_seconds" summary
# UNIT "http.server.duration_seconds" seconds
{"http.server.duration_seconds",quantile="0.5","http.route"="/pay"} 0.25
{quantile="0.9","http.server.duration_seconds","http.route"="/pay"} 0.75
{"http.server.duration_seconds_sum","http.route"="/pay"} 12.5
{"http.server.duration_seconds_count","http.route"="/pay"} 40
# TYPE queue_depth gauge
queue_depth{"k8s.pod.name"="web-1",zone="a"} 3
{"Temperatur im Kühlraum \\"B\\"\\nunten","Fühler ©"="Ost"} 4.5
# EOF
"""
TEXT = OPENMETRICS.replace('# UNIT "http.server.duration_seconds" seconds\n', "").replace(
    "# EOF\n", ""
)

SERIES = [
    ("http.server.duration_seconds", {"quantile": "0.5", "http.route": "/pay"}, 0.25),
    ("http.server.duration_seconds", {"quantile": "0.9", "http.route": "/pay"}, 0.75),
    ("http.server.duration_seconds_sum", {"http.route": "/pay"}, 12.5),
    ("http.server.duration_seconds_count", {"http.route": "/pay"}, 40.0),
    ("queue_depth", {"k8s.pod.name": "web-1", "zone": "a"}, 3.0),
    ('Temperatur im Kühlraum "B"\nunten', {"Fühler ©": "Ost"}, 4.5),
]
WANT = [(name, Labels.from_dict(labels), value) for name, labels, value in SERIES]


def _samples(families: list[MetricFamily]) -> list[tuple[str, Labels, float]]:
    return [(s.name, s.labels, s.value) for f in families for s in f.samples]


def _scanned(body: str, fmt: Format) -> list[tuple[str, Labels, float]]:
    batch = scan(body.encode(), fmt)
    return [
        (name, labels, value)
        for (name, labels), value in zip(batch.labels, batch.values.tolist(), strict=True)
    ]


PARSERS = {
    "text reference": lambda: _samples(parse_text(TEXT)),
    "text scrape": lambda: _scanned(TEXT, Format.TEXT),
    "openmetrics reference": lambda: _samples(parse_openmetrics(OPENMETRICS)),
    "openmetrics scrape line parser": lambda: _samples(
        parse_openmetrics(OPENMETRICS, strict=False)
    ),
    "openmetrics scrape": lambda: _scanned(OPENMETRICS, Format.OPENMETRICS),
}


@pytest.mark.parametrize("parser", PARSERS)
def test_every_parser_reads_quoted_names(parser: str) -> None:
    assert PARSERS[parser]() == WANT


def test_metadata_of_quoted_names() -> None:
    family = parse_openmetrics(OPENMETRICS)[0]
    assert (family.name, family.type.value, family.unit, family.help) == (
        "http.server.duration_seconds",
        "summary",
        "seconds",
        "Time spent serving, by route.",
    )
    assert scan(OPENMETRICS.encode(), Format.OPENMETRICS).metadata[
        "http.server.duration_seconds"
    ].unit == ("seconds")


@pytest.mark.parametrize(("fmt", "body"), [("text", TEXT), ("openmetrics", OPENMETRICS)])
def test_vigil_check_metrics_accepts_quoted_names(fmt: str, body: str) -> None:
    out = io.StringIO()
    assert check_metrics_command(["-"], fmt, False, io.BytesIO(body.encode()), out) == 0, (
        out.getvalue()
    )


@pytest.mark.parametrize(
    ("render", "parse"),
    [(render_text, parse_text), (render_openmetrics, parse_openmetrics)],
    ids=["text", "openmetrics"],
)
def test_rendered_quoted_names_read_back(render: object, parse: object) -> None:
    families = parse_openmetrics(OPENMETRICS)
    body = render(families)  # type: ignore[operator]
    assert '{"http.server.duration_seconds",' in body
    assert 'queue_depth{"k8s.pod.name"="web-1",zone="a"}' in body
    assert _samples(parse(body)) == WANT  # type: ignore[operator]


BAD = [
    ('{"a.b","c.d"} 1\n# EOF\n', "line 1, col 8: metric name given twice"),
    ('a{"a.b"} 1\n# EOF\n', "line 1, col 3: metric name given twice"),
    ('{a="b"} 1\n# EOF\n', "line 1, col 8: metric name not set"),
    ("{} 1\n# EOF\n", "line 1, col 3: metric name not set"),
    ('{"a.b} 1\n# EOF\n', "line 1, col 2: unterminated quoted string"),
    ('# TYPE "a.b counter\n# EOF\n', "line 1, col 8: unterminated quoted string"),
    ('# TYPE "a.b"counter\n# EOF\n', "line 1, col 13: expected ' ' after the metric name"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_broken_quoted_names_name_line_and_column(body: str, message: str) -> None:
    for strict in (True, False):
        with pytest.raises(ParseError) as caught:
            parse_openmetrics(body, strict=strict)
        assert str(caught.value).startswith(message)
    with pytest.raises(ParseError) as caught:
        scan(body.encode(), Format.OPENMETRICS)
    assert str(caught.value).startswith(message)
