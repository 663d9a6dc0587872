"""Real memory cgroups for tests that need the kernel itself (OOM kills, limits): which hierarchy
this machine has, whether a test may write to it, and a fresh limited cgroup per test."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CGROUPFS = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class MemoryHierarchy:
    version: int
    parent: Path
    """Where a test may create its cgroup."""

    def usage_file(self, cgroup: str) -> Path:
        """The file that holds the cgroup's memory usage in bytes (charged pages)."""
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return self.parent / cgroup.lstrip("/") / name

    def procs_file(self, cgroup: str) -> Path:
        return self.parent / cgroup.lstrip("/") / "cgroup.procs"


def _writable_hierarchy() -> MemoryHierarchy | str:
    """The memory cgroup hierarchy to test in, or why there is none."""
    if os.geteuid() != 0:
        return "not root: cannot create memory cgroups"
    controllers = CGROUPFS / "cgroup.controllers"
    if controllers.exists():
        if "memory" not in (CGROUPFS / "cgroup.subtree_control").read_text().split():
            return (
                f"cgroup v2 at {CGROUPFS} without the memory controller in cgroup.subtree_control"
            )
        candidate = MemoryHierarchy(2, CGROUPFS)
    elif (CGROUPFS / "memory" / "memory.limit_in_bytes").exists():
        candidate = MemoryHierarchy(1, CGROUPFS / "memory")
    else:
        return f"no cgroup v1 memory controller or cgroup v2 hierarchy at {CGROUPFS}"
    probe = candidate.parent / f"vigil-probe-{uuid.uuid4().hex[:12]}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as err:
        return f"memory cgroup hierarchy at {candidate.parent} is not writable: {err}"
    return candidate


HIERARCHY = _writable_hierarchy()
needs_memory_cgroup = pytest.mark.skipif(
    isinstance(HIERARCHY, str), reason=f"needs a writable memory cgroup: {HIERARCHY}"
)


def remove_cgroup(cgroup: str) -> None:
    """SIGKILLs what still runs in the cgroup (a test that failed half-way) and removes it, waiting
    (bounded) while the kernel tears killed tasks down; a cgroup already gone is fine."""
    assert isinstance(HIERARCHY, MemoryHierarchy)
    path = HIERARCHY.parent / cgroup.lstrip("/")
    with contextlib.suppress(FileNotFoundError):
        for pid in HIERARCHY.procs_file(cgroup).read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            threading.Event().wait(0.1)


@contextlib.contextmanager
def memory_cgroup(limit: int, tag: str | None = None) -> Iterator[str]:
    """A fresh cgroup (unique per test, xdist runs them in parallel) limited to `limit` bytes without
    swap; yields its id and removes it afterwards. `tag` (unique itself: a container id) names it
    instead of a random one."""
    assert isinstance(HIERARCHY, MemoryHierarchy)
    name = f"vigil-test-{tag or uuid.uuid4().hex[:12]}"
    path = HIERARCHY.parent / name
    path.mkdir()
    try:
        if HIERARCHY.version == 1:
            (path / "memory.limit_in_bytes").write_text(str(limit))
            with contextlib.suppress(OSError):  # no swap accounting: nothing to limit
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit))
        else:
            (path / "memory.max").write_text(str(limit))
            with contextlib.suppress(OSError):
                (path / "memory.swap.max").write_text("0")
        yield "/" + name
    finally:
        remove_cgroup("/" + name)
