"""`vigil agent` without --logs.push-url serves /metrics without importing the HTTP client or
the config types, and never imports uvicorn, Starlette, anyio or bcrypt (its server is
vigil.web.lean_server; bcrypt only with basic-auth users): what it never uses costs it no
memory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent.parent / "src"
UNLOADED = (
    "httpx",
    "vigil.config.prometheus",
    "vigil.config.http_client",
    "zoneinfo",
    "uvicorn",
    "starlette",
    "anyio",
    "bcrypt",
)
PROGRAM = """
import asyncio, json, sys
from vigil.cmd import build_parser
from vigil.cmd.agent import agent_options
from vigil.cmd.agent_app import build_app
from vigil.web.guard import WebGuard
from vigil.web.lean_server import LeanServer

app = build_app(agent_options(build_parser().parse_args(sys.argv[1:])))
sent = []

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    sent.append(message)

scope = {"type": "http", "method": "GET", "path": "/metrics", "raw_path": b"/metrics",
         "query_string": b"", "headers": [], "root_path": "", "scheme": "http",
         "server": ("127.0.0.1", 9100), "client": ("127.0.0.1", 1), "http_version": "1.1"}
asyncio.run(app(scope, receive, send))
body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
print(json.dumps([sent[0]["status"], b"node_cpu_seconds_total" in body,
                  sorted(m for m in %r if m in sys.modules)]))
"""


@pytest.mark.parametrize(
    ("flags", "loaded"),
    [
        ([], []),
        (
            ["--logs.push-url=http://127.0.0.1:1/loki/api/v1/push"],
            ["anyio", "httpx", "vigil.config.http_client"],  # httpx's own dependency
        ),
    ],
    ids=["metrics only", "shipping logs"],
)
def test_the_agent_imports_the_http_client_only_to_ship_logs(
    tmp_path: Path, flags: list[str], loaded: list[str]
) -> None:
    positions = f"--logs.positions-file={tmp_path / 'positions.json'}"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM % (UNLOADED,), "agent", positions, *flags],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [200, True, loaded]


HELP_PROGRAM = """
import contextlib, io, json, sys
from vigil.cmd import main

out = io.StringIO()
with contextlib.suppress(SystemExit), contextlib.redirect_stdout(out):
    main(sys.argv[1:])
print(json.dumps([out.getvalue(), sorted(m for m in sys.modules if m.startswith("vigil.cmd."))]))
"""


def _help(*argv: str) -> tuple[str, list[str]]:
    """What `vigil ARGV` prints, and the vigil.cmd modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_PROGRAM, *argv],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    text, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return text, modules


def test_a_command_loads_only_its_own_modules() -> None:
    text, modules = _help("agent", "--help")
    assert "--collector.disable-defaults" in text
    assert modules == ["vigil.cmd.agent", "vigil.cmd.flagkinds", "vigil.cmd.serving"]


def test_help_lists_every_command() -> None:
    from vigil.cmd import COMMANDS

    text, _ = _help("--help")
    listed = re.findall(r"^    (\w+)", text, re.MULTILINE)
    assert listed == list(COMMANDS)
