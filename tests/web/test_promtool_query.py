"""`promtool query` pointed at vigil prints what it prints pointed at Prometheus (same data, see
tests/promql/test_prometheus_differential.py), and `vigil query` prints the same as promtool."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import peer
from tests.promql.test_prometheus_differential import (
    INSTANCE,
    INSTANT_T,
    RANGE,
    Servers,
    servers,
)

pytestmark = pytest.mark.slow
__all__ = ["servers"]  # the module-scoped fixture: a vigil server and a Prometheus on one dataset

START, END = str(RANGE[0]), str(RANGE[1])
T = str(INSTANT_T)
COMMANDS = [
    ["instant", f"--time={T}", "SERVER", "node_load1"],
    ["instant", f"--time={T}.25", "SERVER", "sum by (mode) (rate(node_cpu_seconds_total[5m]))"],
    ["instant", f"--time={T}", "SERVER", f'node_memory_MemFree_bytes{{instance="{INSTANCE}"}}'],
    ["instant", f"--time={T}", "SERVER", "node_load1[1m]"],
    ["instant", f"--time={T}", "SERVER", "scalar(sum(node_load1))"],
    [
        "instant",
        f"--time={T}",
        "SERVER",
        "node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes",
    ],
    ["instant", "--time=2023-11-14T23:43:27Z", "SERVER", "count(node_cpu_seconds_total)"],
    ["range", f"--start={START}", f"--end={END}", "--step=5m", "SERVER", "node_load5"],
    ["range", f"--start={START}", f"--end={END}", "SERVER", "sum(node_load1)"],
    ["range", f"--start={START}", f"--end={END}", "--step=1m30s", "SERVER", "1 + 2"],
    [
        "series",
        "--match=node_load1",
        "--match=node_load5",
        f"--start={START}",
        f"--end={END}",
        "SERVER",
    ],
    ["series", '--match={__name__=~"node_network_.*",device="lo"}', f"--start={START}", "SERVER"],
    ["labels", f"--start={START}", f"--end={END}", "SERVER", "job"],
    ["labels", "--match=node_disk_io_now", f"--start={START}", f"--end={END}", "SERVER", "device"],
    ["labels", f"--start={START}", f"--end={END}", "SERVER", "__name__"],
    ["instant", "-o", "json", f"--time={T}", "SERVER", "node_load1"],
    ["series", "-o", "json", "--match=node_load1", f"--start={START}", "SERVER"],
]
FAILING = [  # (args, what promtool prints first on stderr)
    (["instant", f"--time={T}", "SERVER", "sum("], "query error: bad_data: "),
    (["instant", f"--time={T}", "SERVER", "rate(node_load1)"], "query error: bad_data: "),
    (
        ["instant", f"--time={T}", "SERVER", "sum(node_load1 * on() node_load1)"],
        "query error: execution: ",
    ),
    (
        ["range", f"--start={END}", f"--end={START}", "SERVER", "node_load1"],
        "start time is not before end time",
    ),
]


def _run(program: list[str], args: list[str], server: str) -> subprocess.CompletedProcess[str]:
    argv = [*program, "query", *(server if a == "SERVER" else a for a in args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


VIGIL = [sys.executable, "-m", "vigil"]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_promtool_and_vigil_query_print_the_same(servers: Servers, args: list[str]) -> None:
    promtool = [peer("promtool")]
    want = _run(promtool, args, servers.prometheus)
    assert want.returncode == 0, want.stderr
    assert want.stdout.strip(), "an empty answer proves nothing"
    assert {
        "promtool → vigil": _run(promtool, args, servers.vigil).stdout,
        "vigil query → prometheus": _run(VIGIL, args, servers.prometheus).stdout,
        "vigil query → vigil": _run(VIGIL, args, servers.vigil).stdout,
    } == dict.fromkeys(
        ("promtool → vigil", "vigil query → prometheus", "vigil query → vigil"), want.stdout
    )


@pytest.mark.parametrize(("args", "error"), FAILING, ids=[" ".join(a) for a, _ in FAILING])
def test_failures_exit_1_with_a_query_error(servers: Servers, args: list[str], error: str) -> None:
    promtool = [peer("promtool")]
    runs = [
        _run(promtool, args, servers.prometheus),
        _run(promtool, args, servers.vigil),
        _run(VIGIL, args, servers.prometheus),
        _run(VIGIL, args, servers.vigil),
    ]
    assert [(r.returncode, r.stdout, r.stderr.startswith(error)) for r in runs] == [
        (1, "", True)
    ] * 4, [r.stderr for r in runs]
