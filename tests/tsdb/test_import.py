"""`vigil tsdb import openmetrics`, `dump` and `analyze`: promtool's backfill and inspection."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from vigil.cmd import main
from vigil.exposition import ParseError
from vigil.model import Labels, Matcher
from vigil.promql.testing import parse_histogram
from vigil.tsdb import SeriesData
from vigil.tsdb.block import open_blocks, write_block
from vigil.tsdb.importer import dump, import_openmetrics

H = 3600_000
T0 = 1_700_000_000  # s, 2h-aligned would be 1_699_999_200

BODY = f"""# HELP up Target up.
# TYPE up gauge
up{{job="node",instance="a"}} 1 {T0}
up{{job="node",instance="a"}} 0 {T0 + 15}.5
up{{job="node",instance="a"}} 1 {T0 + 7200}
up{{job="node",instance="b",env=""}} 1 {T0}
# TYPE reqs counter
reqs_total{{code="200"}} 1e6 {T0 + 1}
reqs_total{{code="200"}} 2e6 {T0 + 1}
reqs_total{{code="500"}} NaN {T0 + 2}
# EOF
"""


@pytest.fixture
def om(tmp_path: Path) -> Path:
    path = tmp_path / "in.om"
    path.write_text(BODY)
    return path


def test_import_splits_into_aligned_blocks(om: Path, tmp_path: Path) -> None:
    result = import_openmetrics(om, tmp_path / "data")
    assert (result.series, result.samples) == (4, 7)
    blocks = open_blocks(tmp_path / "data")
    try:
        ranges = [(b.meta.mint, b.meta.maxt) for b in blocks]
        start = (T0 * 1000 // (2 * H)) * 2 * H
        assert ranges == [(start, start + 2 * H - 1), (start + 2 * H, start + 4 * H - 1)]
        first = {
            str(s.labels): (s.timestamps.tolist(), s.values.tolist()) for s in blocks[0].select([])
        }
        assert first['{__name__="up", instance="a", job="node"}'] == (
            [T0 * 1000, (T0 + 15) * 1000 + 500],
            [1.0, 0.0],
        )
        assert first['{__name__="up", instance="b", job="node"}'] == (
            [T0 * 1000],
            [1.0],
        )  # env="" dropped
        assert first['{__name__="reqs_total", code="200"}'] == (
            [(T0 + 1) * 1000],
            [2e6],
        )  # last write wins
        assert np.isnan(first['{__name__="reqs_total", code="500"}'][1][0])
    finally:
        for b in blocks:
            b.close()


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("up 1 1\nup 2\n# EOF\n", 2, "without a timestamp"),
        ("up 1 1\n", 1, "EOF"),
        ("up 1 1\nup{ 2 3\n# EOF\n", 2, "."),
    ],
)
def test_import_errors_name_the_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    path = tmp_path / "bad.om"
    path.write_text(body)
    with pytest.raises(ParseError, match=message) as err:
        import_openmetrics(path, tmp_path / "data")
    assert err.value.line == line
    assert not (tmp_path / "data").exists() or open_blocks(tmp_path / "data") == []


def test_dump_prints_like_promtool(om: Path, tmp_path: Path) -> None:
    import_openmetrics(om, tmp_path / "data")
    out = io.StringIO()
    dump(tmp_path / "data", out, [Matcher.of("__name__", "=~", "up|reqs_total")])
    assert out.getvalue().splitlines() == [
        f'{{__name__="reqs_total", code="200"}} 2e+06 {(T0 + 1) * 1000}',
        f'{{__name__="reqs_total", code="500"}} NaN {(T0 + 2) * 1000}',
        f'{{__name__="up", instance="a", job="node"}} 1 {T0 * 1000}',
        f'{{__name__="up", instance="a", job="node"}} 0 {(T0 + 15) * 1000 + 500}',
        f'{{__name__="up", instance="a", job="node"}} 1 {(T0 + 7200) * 1000}',
        f'{{__name__="up", instance="b", job="node"}} 1 {T0 * 1000}',
    ]


def test_cli_import_dump_analyze(
    om: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["tsdb", "import", "openmetrics", str(om), str(data)]) == 0
    assert "4 series, 7 samples in 2 blocks" in capsys.readouterr().out
    assert main(["tsdb", "dump", "--match", 'up{instance="b"}', str(data)]) == 0
    assert capsys.readouterr().out == f'{{__name__="up", instance="b", job="node"}} 1 {T0 * 1000}\n'
    assert main(["tsdb", "dump", "--match", "up{", str(data)]) == 1
    assert "bad selector" in capsys.readouterr().err
    blocks = open_blocks(data)
    first = blocks[0].meta.ulid
    for b in blocks:
        b.close()
    assert main(["tsdb", "analyze", str(data), first, "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert f"Block ID: {first}\n" in out and "Series: 4\n" in out
    assert "Highest cardinality metric names:\n2 reqs_total\n2 up\n" in out
    assert "Highest cardinality labels:\n3 __name__\n" not in out
    assert "Highest cardinality labels:\n2 __name__\n2 code\n" in out
    assert main(["tsdb", "analyze", str(tmp_path / "empty")]) == 1


def test_dump_prints_native_histograms_as_prometheus_does(tmp_path: Path) -> None:
    labels = Labels.from_dict({"__name__": "lat"})
    histogram = parse_histogram(
        "{{schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.5 buckets:[1 2]}}"
    )
    column = np.array([None, histogram], dtype=object)
    write_block(
        tmp_path / "data",
        [SeriesData(labels, np.array([1000, 2000]), np.array([0.25, np.nan]), column)],
        0,
        7_199_999,
    )
    out = io.StringIO()
    dump(tmp_path / "data", out)
    assert out.getvalue().splitlines() == [
        '{__name__="lat"} 0.25 1000',
        '{__name__="lat"} {count:4, sum:5, [-0.5,0.5]:1, (0.5,1]:1, (1,2]:2} 2000',
    ]
