"""An address in use is one clear error, before anything starts; a SIGTERM is logged."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_S, SHARED, free_port, wait_ok

pytestmark = pytest.mark.slow

AM_CONFIG = SHARED / "fixtures" / "seed-stack" / "alertmanager.yml"


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("server", ["--agent.disable"]),
        ("agent", []),
        ("alertmanager", []),
    ],
)
def test_an_address_in_use_is_named_with_the_flag_to_change(
    tmp_path: Path, command: str, extra: list[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        storage = {
            "server": [f"--storage.tsdb.path={tmp_path / 'data'}"],
            "alertmanager": [f"--storage.path={tmp_path / 'am'}", f"--config.file={AM_CONFIG}"],
        }.get(command, [])
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "vigil",
                command,
                f"--web.listen-address={address}",
                *storage,
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=PATIENCE_S,
        )
    assert done.returncode == 1, done.stderr
    assert f"vigil {command}: cannot listen on {address}: address already in use" in done.stderr
    assert "--web.listen-address=HOST:PORT" in done.stderr
    assert ("VIGIL_LISTEN_ADDRESS" in done.stderr) == (command == "server")
    assert "listening" not in done.stderr
    assert "Traceback" not in done.stderr


def test_sigterm_is_logged_and_the_server_stops(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigil",
            "server",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            "--agent.disable",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ok(f"http://127.0.0.1:{port}/-/ready")
        proc.send_signal(signal.SIGTERM)
        _, text = proc.communicate(timeout=PATIENCE_S)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGTERM, text  # uvicorn re-raises it once stopped
    assert "server: SIGTERM received, shutting down" in text
    assert text.rindex("server stopped") > text.index("SIGTERM received")
