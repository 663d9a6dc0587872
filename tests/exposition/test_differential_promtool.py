"""vigil's text-format verdict against the real `promtool check metrics` (Debian 2.42).

Same body to both; accept/reject must agree. The few intended differences are listed in
INTENDED with the reason; any other disagreement fails the test.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CONFORMANCE, FIXTURES, peer
from tests.fuzzing import DERANDOMIZE, examples
from vigil.exposition import Format
from vigil.exposition.check import check_body

pytestmark = pytest.mark.slow


def promtool_accepts(body: bytes) -> bool:
    done = subprocess.run(
        [peer("promtool"), "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert done.returncode in (0, 1, 3), done.stderr
    return done.returncode != 1


def vigil_accepts(body: bytes) -> bool:
    return check_body(body, Format.TEXT).error is None


# Where vigil deliberately answers differently from promtool 2.42, and why.
INTENDED: list[tuple[str, Callable[[bytes], bool]]] = [
    (
        'Prometheus 3 quoted UTF-8 names ({"a.b"} / "label.x"=) are valid; promtool 2.42 predates them',
        lambda body: (
            re.search(rb'(^|\n)[ \t]*\{[ \t]*"|[{,][ \t]*"[^"]*"[ \t]*=|# (HELP|TYPE)[ \t]+"', body)
            is not None
        ),
    ),
    (
        "invalid UTF-8 anywhere is rejected; promtool only checks label values",
        lambda body: not _is_utf8(body),
    ),
    (
        "a repeated label name is rejected even when it is le/quantile, which promtool "
        "takes out of the label set before its duplicate check",
        lambda body: (
            re.search(rb"[{,][ \t]*(le|quantile)[ \t]*=.*[,][ \t]*(le|quantile)[ \t]*=", body)
            is not None
        ),
    ),
]


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _explained(body: bytes) -> str | None:
    for reason, applies in INTENDED:
        if applies(body):
            return reason
    return None


HAND_CASES = [
    b"a 1\n",
    b"a 1",
    b"# HELP a x",
    b'a{b="c"} 1\na{b="c"} 2\n',
    b"a 1\nb 1\na 2\n",
    b"# TYPE a gauge\na 1\n# TYPE a gauge\n",
    b"a 1\n# TYPE a gauge\n",
    b'a{b="\\x"} 1\n',
    b"# HELP a \\x y\na 1\n",
    b"a 0x1p-3\n",
    b"a 1_2\n",
    b"a Infinity\n",
    b"a nan\n",
    b"a 1 1.5\n",
    b"a 1 -5\n",
    b'a{__name__="x"} 1\n',
    b'a{b="1",b="2"} 1\n',
    b'a{b="1",} 1\n',
    b"a{,} 1\n",
    b"a{} 1\n",
    b"a 1 2 3\n",
    b"a  1\n",
    b" a 1\n",
    b"a\t1\n",
    b"a 1 \n",
    b"# TYPE a summary\na 1\n",
    b'# TYPE a summary\na{quantile="x"} 1\n',
    b"# TYPE a histogram\na_bucket 1\n",
    b'# TYPE a histogram\na_bucket{le="x"} 1\n',
    b"# TYPE a foo\n",
    b"# TYPE a info\n",
    b"# HELP a\n",
    b"# TYPE a\n",
    b"#HELP a x\n",
    b"# EOF\n",
    b"a 1\n\n\nb 2\n",
    b'a{b="c"d="e"} 1\n',
    b"a{b=c} 1\n",
    b"a.b 1\n",
    b"a-b 1\n",
    b"a 1e400\n",
    b"a 1e-400\n",
    b"a 1 99999999999999999999\n",
    b'a{b="\xc3\xa9"} 1\n',
    b"a 1\r\n",
    b"a +NaN\n",
    b"a .5\n",
    b"a 5.\n",
    b"a 1e\n",
    b"a +Infinity\n",
    b"a infinit\n",
    b"a 00012\n",
    b"# TYPE a gauge_histogram\na 1\n",
    b"# TYPE a gauge \na 1\n",
    b"# TYPE a  gauge\na 1\n",
    b'# HELP a x\\"y\na 1\n',
    b'a{ b = "c" } 1\n',
    b'a {b="c"} 1\n',
    b'a{b="c"}1\n',
    b"a 1 +5\n",
    b"a 1 9223372036854775807\n",
    b"a 1 9223372036854775808\n",
    b"# HELP a x\n# HELP a y\na 1\n",
    b"# TYPE a gauge extra\na 1\n",
    b'a{0b="c"} 1\n',
    b'a{b:c="d"} 1\n',
    b":a 1\n",
    b'a{b="c"}\n',
    b"a\n",
    b"{} 1\n",
    b"#\n",
    b"# \n",
    b'# TYPE a histogram\na_bucket{le=" 1"} 1\n',
    b"",
    b"\n",
    b"   \n",
    b"# HELP a \n",
    # intended differences (see INTENDED)
    b'{"a.b"} 1\n',
    b'a{"label.x"="v"} 1\n',
    b'# HELP "a.b" x\n{"a.b"} 1\n',
    b"# HELP a \xff\na 1\n",
    b'# TYPE a histogram\na_bucket{le="1",le="2"} 1\n',
]


def _conformance_bodies() -> list[bytes]:
    bodies = [p.read_bytes() for p in (CONFORMANCE / "exposition").iterdir()]
    bodies += [p.read_bytes() for p in (FIXTURES / "exposition").iterdir()]
    for case in sorted((CONFORMANCE / "openmetrics" / "parsers").iterdir()):
        spec = json.loads((case / "test.json").read_text())
        bodies.append((case / spec["file"]).read_bytes())
    return bodies


CORPUS = HAND_CASES + _conformance_bodies()


def test_corpus_verdicts_agree(summary: Callable[[str], None]) -> None:
    disagreements = []
    explained: dict[str, int] = {}
    for body in CORPUS:
        ours, theirs = vigil_accepts(body), promtool_accepts(body)
        if ours == theirs:
            continue
        reason = _explained(body)
        if reason is None:
            disagreements.append((body[:200], ours, theirs))
        else:
            explained[reason] = explained.get(reason, 0) + 1
    agreed = len(CORPUS) - sum(explained.values()) - len(disagreements)
    summary(
        f"promtool check metrics differential: {agreed}/{len(CORPUS)} bodies agree, "
        f"{sum(explained.values())} intended differences ({len(INTENDED)} reasons listed)"
    )
    assert disagreements == []
    assert sum(explained.values()) == 5


_names = st.sampled_from(
    ["a", "a_total", "b:c", "_x", "a.b", "0a", "a-b", "lat", "lat_sum", "h_bucket", "A1"]
)
_label_names = st.sampled_from(["b", "le", "quantile", "__name__", "0x", "_y", "b.c", ""])
_label_values = st.sampled_from(
    ["", "c", 'x\\"y', "x\\\\", "x\\n", "\\x", "1", "+Inf", "é", "a b", "}", "#"]
)
_values = st.sampled_from(
    [
        "1",
        "-1",
        "1.5",
        ".5",
        "5.",
        "1e3",
        "1E-3",
        "+Inf",
        "-Inf",
        "inf",
        "NaN",
        "nan",
        "+NaN",
        "0x1",
        "1_0",
        "1e400",
        "",
        "x",
        "00",
    ]
)
_timestamps = st.sampled_from(
    ["", " 1", " -5", " +5", " 1.5", " 99999999999999999999", " x", " 1 2", " "]
)
_blank = st.sampled_from([" ", "  ", "\t", ""])


@st.composite
def _sample_line(draw: st.DrawFn) -> str:
    name = draw(_names)
    pairs = draw(st.lists(st.tuples(_label_names, _label_values), max_size=3))
    block = ""
    if pairs or draw(st.booleans()):
        inner = ",".join(f'{k}{draw(_blank)}={draw(_blank)}"{v}"' for k, v in pairs)
        block = "{" + inner + draw(st.sampled_from(["", ","])) + "}"
    return f"{draw(_blank)}{name}{block}{draw(_blank)}{draw(_values)}{draw(_timestamps)}"


@st.composite
def _comment_line(draw: st.DrawFn) -> str:
    keyword = draw(st.sampled_from(["HELP", "TYPE", "FOO", ""]))
    name = draw(_names)
    if keyword == "TYPE":
        rest = draw(
            st.sampled_from(
                [
                    "counter",
                    "gauge",
                    "summary",
                    "histogram",
                    "untyped",
                    "Gauge",
                    "info",
                    "gauge_histogram",
                    "gauge ",
                    "",
                ]
            )
        )
    else:
        rest = draw(st.sampled_from(["help text", "", "a\\nb", "a\\\\b", "a\\tb", 'q"uote']))
    return f"#{draw(_blank)}{keyword}{draw(_blank)}{name} {rest}"


_bodies = st.lists(
    st.one_of(_sample_line(), _comment_line(), st.just("")), min_size=1, max_size=6
).map(lambda lines: "\n".join(lines))


@settings(
    max_examples=examples(300),
    derandomize=DERANDOMIZE,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(body=_bodies, newline=st.booleans())
def test_generated_verdicts_agree(body: str, newline: bool) -> None:
    raw = (body + ("\n" if newline else "")).encode("utf-8")
    ours, theirs = vigil_accepts(raw), promtool_accepts(raw)
    if ours != theirs:
        assert _explained(raw) is not None, (raw, ours, theirs)
