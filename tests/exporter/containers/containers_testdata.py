"""Paths and ids of the recorded trees, and a clock tests move by hand (imported by the tests:
a module name of its own, since `conftest` is ambiguous once several test folders have one)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parents[2] / "fixtures"
CGROUP1 = FIXTURES / "cgroup1"
CGROUP2 = FIXTURES / "cgroup2"
DB_ID = "9a3c1f7e5b2d4a6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d"
JOB_ID = "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"
APP_ID = "8dfafdbc3a40c4f1b2e6a7d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9"
V1_ID = "4f66ad9a0b2b4c61a3e7d1b5e2c8f9a07b6d5e4c3b2a1908f7e6d5c4b3a29180"


class FakeClock:
    """Wall time that moves only when a test says so."""

    def __init__(self, now: float = 1_709_333_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
