"""Browser tests: Debian's Chromium driven by Playwright against a real `vigil server`.

Chromium comes from the Debian package (`.ci/run` installs it); Playwright never downloads a
browser. A missing Chromium fails the tests, as a missing peer does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PATIENCE_S, REPO, free_port, peer, running, wait_ok

CHROMIUM = "/usr/bin/chromium"
_EXPECTED_API_ERROR = re.compile(r"Failed to load resource: .* status of (400|403|409|422) ")
ARTIFACTS = REPO / "tests" / "artifacts"
# As root on a closed network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an
    event loop running in this thread while it is open, and later tests in the same xdist
    worker that call asyncio.run() would fail."""
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page; console errors and uncaught exceptions fail the test that made them."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def console(msg: Any) -> None:
        # An API's 4xx answer the page shows on purpose is logged by Chromium as a failed
        # resource; missing assets (404) and server errors (5xx) still fail the test.
        if msg.type == "error" and not _EXPECTED_API_ERROR.search(msg.text):
            errors.append(f"console: {msg.text}")

    tab.on("console", console)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture
def no_dialogs(page: object) -> Iterator[list[str]]:
    """Fails the test if any alert/confirm/prompt opens (an injected script would open one);
    dialogs are dismissed and their messages collected in the list it yields."""
    from playwright.sync_api import Dialog, Page

    assert isinstance(page, Page)
    opened: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield opened
    assert opened == []


def start_server(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """A `vigil server` on a free 127.0.0.1 port; the caller stops it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={data_dir}",
        *extra,
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ok(f"{base}/-/ready", PATIENCE_S)
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise
    return proc, base


@contextmanager
def vigil_process(data_dir: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """start_server for a with block: the process and its base URL, stopped when the block ends."""
    proc, base = start_server(data_dir, *extra)
    try:
        yield proc, base
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def vigil_server(data_dir: Path, *extra: str) -> Iterator[str]:
    """vigil_process's base URL alone."""
    with vigil_process(data_dir, *extra) as (_, base):
        yield base


@contextmanager
def prometheus_server(data_dir: Path, root: Path) -> Iterator[str]:
    """The real Prometheus serving `data_dir` (blocks promtool wrote) and scraping nothing;
    its config goes in `root`. Yields its base URL."""
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, f"{base}/-/ready", PATIENCE_S):
        yield base


def wait_for_data(base: str, query: str = "up", seconds: float = PATIENCE_S) -> None:
    """Until `query` returns at least one series (the first scrape has landed)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5).json()
        if body["data"]["result"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"{query} returned nothing within {seconds:.0f} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vigil with its default config (it scrapes itself every 15 s), after its first scrape."""
    with vigil_server(tmp_path_factory.mktemp("vigil-ui")) as base:
        wait_for_data(base)
        yield base


@pytest.fixture(scope="module")
def history_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vigil on a data dir holding a day of one host's node_exporter (job="node",
    instance="host1:9100") and container history at 15 s (tests/ui/history.py); with its
    default config it scrapes only itself, as job="vigil"."""
    from tests.ui.history import write_history

    data_dir = tmp_path_factory.mktemp("vigil-history")
    write_history(data_dir)
    with vigil_server(data_dir) as base:
        yield base
