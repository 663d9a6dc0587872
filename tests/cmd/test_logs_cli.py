"""`vigil logs` against a real HTTP server answering Loki's API over the seeded store:
what each command prints, its flags, and its failures."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from tests.conftest import free_port
from tests.web.loki_server import serving
from tests.web.loki_store import NOW_S, T0_S, seeded_store
from vigil.cmd import build_parser
from vigil.cmd.logs import run
from vigil.model.clock import ManualClock
from vigil.web.loki_api import LokiAPI, LokiContext


@pytest.fixture(scope="module")
def addr() -> Iterator[str]:
    ctx = LokiContext(seeded_store(), clock=ManualClock(NOW_S))
    with serving(Starlette(routes=LokiAPI(ctx).routes())) as url:
        yield url


def vigil_logs(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["logs", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out, err, clock=lambda: float(NOW_S))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (["labels"], "job\nlevel\nservice_name\n"),
        (["labels", "level"], "error\ninfo\n"),
        (["labels", "job", "--since=15s"], "app\n"),  # only an info line in the last 15 s
        (
            ["labels", "--from=2023-11-14T22:13:20Z", "--to=2023-11-14T22:13:21Z"],
            "job\nlevel\nservice_name\n",
        ),
        (["labels", "--to=2023-11-14T22:13:19Z"], ""),  # a second before the first line
    ],
)
def test_labels(addr: str, argv: list[str], want: str) -> None:
    assert vigil_logs(*argv, f"--addr={addr}") == (0, want, "")


def test_addr_from_the_environment(addr: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOKI_ADDR", addr)
    assert vigil_logs("labels", "level") == (0, "error\ninfo\n", "")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["labels", "--since=5"], 'time: missing unit in duration "5"\n'),
        (["labels", "--from=yesterday"], '--from: cannot parse "yesterday" as RFC 3339\n'),
        (
            ["labels", "--to=2023-11-14T22:13:20"],
            '--to: "2023-11-14T22:13:20" has no time zone (RFC 3339)\n',
        ),
    ],
)
def test_bad_flags_fail_before_asking(argv: list[str], error: str) -> None:
    assert vigil_logs(*argv, "--addr=http://127.0.0.1:1") == (1, "", error)


def test_unreachable_server() -> None:
    code, out, err = vigil_logs("labels", f"--addr=http://127.0.0.1:{free_port()}")
    assert (code, out) == (1, "")
    assert err.startswith("Error: ConnectError")


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (
            ['{job="app"}'],
            '{job="app", level="error", service_name="app"}\n'
            '{job="app", level="info", service_name="app"}\n',
        ),
        (['{job="db"}', "--since=10s"], ""),  # the db stream's last line is 20 s old
    ],
)
def test_series(addr: str, argv: list[str], want: str) -> None:
    assert vigil_logs("series", *argv, f"--addr={addr}") == (0, want, "")


def test_server_refusal_is_shown(addr: str) -> None:
    code, out, err = vigil_logs("series", '{job="app"', f"--addr={addr}")
    assert (code, out) == (1, "")
    assert err == (
        "Error: 400 Bad Request: parse error at line 1, col 11: syntax error: "
        "unexpected end of input, expecting '}'\n"
    )


@pytest.mark.parametrize(
    ("argv", "out", "err"),
    [
        (
            ['{job="app"} |= "api"', "--limit=2"],
            '2023-11-14T22:23:10Z {trace_id="t59"} GET /api/59 200\n'
            '2023-11-14T22:23:00Z {trace_id="t58"} GET /api/58 200\n',
            'Common labels: {job="app", level="info", service_name="app"}\n',
        ),
        (
            ['{job="app"}', "--limit=2", "--since=2m", "--forward", "-q"],
            '2023-11-14T22:21:20Z {trace_id="t48"} GET /api/48 200\n'
            '2023-11-14T22:21:30Z {trace_id="t49"} GET /api/49 200\n',
            "",
        ),
        (
            ['{job="db"}', "--limit=2", "-o", "raw", "--forward"],
            "checkpoint 0\ncheckpoint 1\n",
            'Common labels: {job="db", service_name="db"}\n',
        ),
        (
            ['{job="db"}', "--limit=1", "-o", "jsonl", "--no-labels", "-q"],
            '{"line":"checkpoint 29","timestamp":"2023-11-14T22:23:00Z"}\n',
            "",
        ),
        (
            [
                '{level=~"info|error"} |= "boom 5"',
                "--from=2023-11-14T22:21:44Z",
                "-z",
                "Asia/Kolkata",
            ],
            "2023-11-15T03:51:45+05:30 {} boom 5\n",
            'Common labels: {job="app", level="error", service_name="app"}\n',
        ),
    ],
)
def test_query(addr: str, argv: list[str], out: str, err: str) -> None:
    assert vigil_logs("query", "-z", "UTC", *argv, f"--addr={addr}") == (0, out, err)


def test_metric_query_prints_the_result_as_json(addr: str) -> None:
    code, out, err = vigil_logs(
        "query", 'count_over_time({job="db"}[5m])', "--step=5m", "--since=10m", f"--addr={addr}"
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == [
        {
            "metric": {"job": "db", "service_name": "db"},
            "values": [[T0_S, "1"], [T0_S + 300, "15"], [T0_S + 600, "14"]],
        }
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ['{service_name=~"app|db"}', "--limit=25"],  # info and db lines share timestamps
        ['{service_name=~"app|db"}', "--limit=25", "--forward"],
        ['{job="app"}', "--limit=100"],  # fewer lines than the limit
        ['{job="db"}', "--limit=7", "--forward"],
    ],
)
@pytest.mark.parametrize("batch", ["1", "2", "3"])
def test_batches_print_what_one_request_prints(addr: str, argv: list[str], batch: str) -> None:
    """The same entries (lines sharing a time may come in another order), none twice."""
    code, whole, _ = vigil_logs("query", *argv, "-o", "jsonl", f"--addr={addr}")
    batched = vigil_logs("query", *argv, "-o", "jsonl", f"--batch={batch}", f"--addr={addr}")
    assert (batched[0], sorted(batched[1].splitlines())) == (code, sorted(whole.splitlines()))
    times = [json.loads(line)["timestamp"] for line in batched[1].splitlines()]
    assert times == sorted(times, reverse="--forward" not in argv)
    limit = int(argv[1].removeprefix("--limit="))
    assert len(times) == min(limit, {'{job="app"}': 66, '{job="db"}': 30}.get(argv[0], 96))
