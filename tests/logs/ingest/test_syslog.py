"""syslog messages as `logger`, rsyslog, BSD syslogd and devices write them, parsed into log
entries; TCP framing by octet counting and by newlines, bounded."""

from __future__ import annotations

import pytest

from vigil.logs.ingest.syslog import Framer, FramingError, parse
from vigil.model import Labels

NOW = 1_765_116_000_000_000_000  # 2025-12-07T14:00:00Z
T = 1_765_115_000 * 10**9


def _m(**pairs: str) -> Labels:
    return Labels.from_dict(pairs)


@pytest.mark.parametrize(
    ("raw", "time_ns", "labels", "line", "metadata"),
    [
        (
            b'<11>1 2025-12-07T13:43:20.5+00:00 vm shop 42 m1 [timeQuality tzKnown="1"]'
            b'[zoo@123 tiger="hungry \\"big\\"" a.b="x\\]"] \xef\xbb\xbfpayment failed',
            T + 500_000_000,
            {"job": "syslog", "host": "vm", "app": "shop"},
            "payment failed",
            _m(
                timeQuality_tzKnown="1",
                zoo_123_tiger='hungry "big"',
                zoo_123_a_b="x]",
                procid="42",
                msgid="m1",
                level="error",
                severity="err",
                facility="user",
            ),
        ),
        (
            b"<165>1 2025-12-07T13:43:20Z - - - - -",
            T,
            {"job": "syslog", "host": "10.0.0.9"},
            "",
            _m(level="info", severity="notice", facility="local4"),
        ),
        (
            b"<13>1 - host app - - - no time\n",
            NOW,
            {"job": "syslog", "host": "host", "app": "app"},
            "no time",
            _m(level="info", severity="notice", facility="user"),
        ),
        (
            b"<11>Dec  7 13:43:20 vm shop: hello 3164",
            T,
            {"job": "syslog", "host": "vm", "app": "shop"},
            "hello 3164",
            _m(level="error", severity="err", facility="user"),
        ),
        (
            b"<30>Dec  7 13:43:20 vm sshd[812]: Accepted publickey",
            T,
            {"job": "syslog", "host": "vm", "app": "sshd"},
            "Accepted publickey",
            _m(procid="812", level="info", severity="info", facility="daemon"),
        ),
        (
            b"<30>Dec  7 13:43:20 cron[9]: no hostname",
            T,
            {"job": "syslog", "host": "10.0.0.9", "app": "cron"},
            "no hostname",
            _m(procid="9", level="info", severity="info", facility="daemon"),
        ),
        (
            b"<12>Dec 31 23:59:59 vm app: from last year",
            1_767_225_599 * 10**9 - 365 * 86_400 * 10**9,
            {"job": "syslog", "host": "vm", "app": "app"},
            "from last year",
            _m(level="warning", severity="warning", facility="user"),
        ),
        (
            b"<14>2025-12-07T13:43:20.25Z vm app: rsyslog's precise form",
            T + 250_000_000,
            {"job": "syslog", "host": "vm", "app": "app"},
            "rsyslog's precise form",
            _m(level="info", severity="info", facility="user"),
        ),
        (
            b"no PRI at all \xff",
            NOW,
            {"job": "syslog", "host": "10.0.0.9"},
            "no PRI at all \ufffd",
            _m(level="info", severity="notice", facility="user"),
        ),
        (
            b"<999>bad PRI",
            NOW,
            {"job": "syslog", "host": "10.0.0.9"},
            "<999>bad PRI",
            _m(level="info", severity="notice", facility="user"),
        ),
        (
            b"<8>1 not-a-time vm app - - - five fields",
            NOW,
            {"job": "syslog", "host": "1"},
            "not-a-time vm app - - - five fields",
            _m(level="critical", severity="emerg", facility="user"),
        ),
    ],
)
def test_parse(
    raw: bytes, time_ns: int, labels: dict[str, str], line: str, metadata: Labels
) -> None:
    message = parse(raw, "10.0.0.9", NOW)
    assert (message.time_ns, message.labels(), message.text, message.metadata()) == (
        time_ns,
        Labels.from_dict(labels),
        line,
        metadata,
    )


def test_rfc3164_times_are_at_the_given_offset() -> None:
    message = parse(b"<13>Dec  7 15:43:20 vm app: x", "h", NOW, utc_offset_s=7200)
    assert message.time_ns == T


@pytest.mark.parametrize(
    ("chunks", "frames", "rest"),
    [
        ([b"<13>a\n<13>b\r\n"], [b"<13>a", b"<13>b"], b""),
        ([b"<13>a", b"b\n<13>c"], [b"<13>ab"], b"<13>c"),
        ([b"5 <13>a6 <13>bc"], [b"<13>a", b"<13>bc"], b""),
        ([b"1", b"0 <13>", b"12345\n", b"<13>x\n"], [b"<13>12345\n", b"<13>x"], b""),
        ([b"6 <13>a\n<13>b\n"], [b"<13>a\n", b"<13>b"], b""),
        ([b"\n\n<13>a\n"], [b"<13>a"], b""),
        ([b"x" * 25], [b"x" * 10, b"x" * 10], b"xxxxx"),
    ],
)
def test_framing(chunks: list[bytes], frames: list[bytes], rest: bytes) -> None:
    framer = Framer(limit=10)
    got = [frame for chunk in chunks for frame in framer.feed(chunk)]
    assert (got, framer.close()) == (frames, rest)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"11 " + b"x" * 11, "frame of 11 bytes, more than 10"), (b"123456789012", "bad octet count")],
)
def test_framing_errors_end_the_connection(data: bytes, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        list(Framer(limit=10).feed(data))
