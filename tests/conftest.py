"""Shared test helpers: where the shared test data lives, free ports, the real peers."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
FIXTURES = SHARED / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peer(binary: str) -> str:
    """Path of a real peer program; a missing peer fails the test (CI installs them)."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            f"{binary} is not installed: .ci/run installs the Debian packages the tests compare against"
        )
    return path
