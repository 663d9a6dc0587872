"""bcrypt stays off the request path of a user who has already authenticated: under a flood of
wrong passwords (6 threads, each password new) a correct request is answered from the cache of
successes, never queued behind the bounded bcrypt checks the flood is waiting for."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import bcrypt
import httpx
import pytest

from tests.conftest import free_port

COST = 12  # ~0.25 s a check: far above an HTTP round trip, even on a loaded machine
FLOODERS = 6
PATH = "/api/v1/status/buildinfo"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("vigil-auth")
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(COST)).decode()
    web = root / "web.yml"
    web.write_text(f"basic_auth_users:\n  alice: {hashed}\n")
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--config.file={config}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.config.file={web}",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/-/ready", auth=("alice", "secret"), timeout=5).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "vigil server did not become ready"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def test_correct_requests_are_not_queued_behind_a_flood(
    guarded: str, summary: Callable[[str], None]
) -> None:
    started = time.perf_counter()
    bcrypt.checkpw(b"secret", bcrypt.hashpw(b"secret", bcrypt.gensalt(COST)))
    one_check = time.perf_counter() - started
    stop = threading.Event()
    wrong: list[tuple[int, float]] = []

    def flood(worker: int) -> None:
        with httpx.Client(timeout=120) as client:
            attempt = 0
            while not stop.is_set():
                attempt += 1
                began = time.perf_counter()
                status = client.get(
                    guarded + PATH, auth=("alice", f"w{worker}-{attempt}")
                ).status_code
                wrong.append((status, time.perf_counter() - began))

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(FLOODERS)]
    right: list[tuple[int, float]] = []
    with httpx.Client(timeout=120) as client:
        client.get(guarded + PATH, auth=("alice", "secret"))  # the first check fills the cache
        for thread in threads:
            thread.start()
        time.sleep(one_check)  # the flood is under way
        for _ in range(20):
            began = time.perf_counter()
            status = client.get(guarded + PATH, auth=("alice", "secret")).status_code
            right.append((status, time.perf_counter() - began))
    stop.set()
    for thread in threads:
        thread.join(120)
    right_median = statistics.median(seconds for _, seconds in right)
    wrong_median = statistics.median(seconds for _, seconds in wrong)
    summary(
        f"bcrypt cost {COST}: one check {one_check * 1e3:.0f} ms; under {FLOODERS} flooding "
        f"threads a correct request takes {right_median * 1e3:.1f} ms (median), a wrong one "
        f"{wrong_median * 1e3:.0f} ms"
    )
    assert {status for status, _ in right} == {200}
    assert {status for status, _ in wrong} == {401}
    # Serialized behind the flood, a correct request would wait for a check in progress.
    assert right_median < one_check / 4
