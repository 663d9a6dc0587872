"""What a new user gets: `make run` on a fresh clone (its own .venv with vigil and its runtime
only, installed for real, and the UI built with npm) scrapes vigil itself, fires Watchdog
within 30 s of listening, serves the UI, and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, SHARED, free_port

pytestmark = pytest.mark.slow

INSTALL_SECONDS = 240  # python -m venv + pip install -e . from the local indexes
FIRST_SECONDS = 30


def _until(check: Callable[[], Any], deadline: float, what: str) -> Any:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            found = check()
        except (httpx.HTTPError, KeyError, ValueError) as err:
            found, last = None, err
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not in time (last error: {last})")


def _clone(tmp_path: Path) -> Path:
    """A clone of this repository beside a `shared` link, so `../shared` resolves as it does
    for /work/main."""
    clone = tmp_path / "main"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    (tmp_path / "shared").symlink_to(SHARED)
    makefile = (clone / "Makefile").read_text()
    assert "VIGIL_LISTEN_ADDRESS" in makefile, "the committed Makefile has no listen override"
    return clone


def test_make_run_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    log = (tmp_path / "make-run.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "VIGIL_"))}
    proc = subprocess.Popen(
        ["make", "run", f"VIGIL_LISTEN_ADDRESS=127.0.0.1:{port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    try:
        _until(
            lambda: httpx.get(f"{api}/-/ready", timeout=1).status_code == 200,
            time.monotonic() + INSTALL_SECONDS,
            f"make run listening (see {log.name})",
        )
        deadline = time.monotonic() + FIRST_SECONDS

        def up() -> list[str]:
            body = httpx.get(f"{api}/api/v1/query", params={"query": "up"}, timeout=5).json()
            return [s["value"][1] for s in body["data"]["result"] if s["metric"]["job"] == "vigil"]

        assert _until(up, deadline, "up of vigil's own target") == ["1"]

        def watchdog() -> list[tuple[str, str]]:
            rules = httpx.get(f"{api}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            alerts = httpx.get(f"{api}/api/v2/alerts", timeout=5).json()
            return [
                ("rules", a["state"]) for a in rules if a["labels"]["alertname"] == "Watchdog"
            ] + [
                ("alertmanager", a["status"]["state"])
                for a in alerts
                if a["labels"]["alertname"] == "Watchdog"
            ]

        def both() -> list[tuple[str, str]]:
            found = watchdog()
            return found if len(found) == 2 else []

        assert _until(both, deadline, "Watchdog firing") == [
            ("rules", "firing"),
            ("alertmanager", "active"),
        ]
        # The UI was built by make (npm) and is served with the API.
        index = httpx.get(f"{api}/", timeout=5)
        assert index.status_code == 200 and "/static/app.js" in index.text
        assert httpx.get(f"{api}/static/app.js", timeout=5).status_code == 200
    finally:
        stopped = _interrupt(proc)
        log.close()
    assert stopped, "vigil was still running 30 s after Ctrl-C"
    assert (clone / "data").is_dir()
    test_tools = [t for t in ("pytest", "mypy", "playwright") if (clone / ".venv/bin" / t).exists()]
    assert test_tools == [], "make run installed the test tools too"


def _interrupt(proc: subprocess.Popen[bytes]) -> bool:
    """Ctrl-C to the process group of `make run`, as a terminal sends it; whether every
    process of the group (vigil, not just make) was gone within 30 s (else it is killed)."""
    group = proc.pid
    os.killpg(group, signal.SIGINT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proc.poll()  # reap make, or it stays in the group as a zombie
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.killpg(group, signal.SIGKILL)
    proc.wait(30)
    return False
