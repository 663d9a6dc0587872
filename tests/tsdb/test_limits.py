"""The head's series budget follows the memory limit of the cgroup vigil itself runs in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.exporter.containers.memory_cgroups import (
    HIERARCHY,
    MemoryHierarchy,
    memory_cgroup,
    needs_memory_cgroup,
)
from vigil.tsdb.limits import (
    HEAD_BYTES_PER_SERIES,
    HEAD_SHARE,
    default_max_series,
    memory_limit_bytes,
)

CGROUP_FIXTURES = REPO / "tests" / "fixtures"
MIB = 1 << 20
HOST = 24 << 30
V1_DOCKER = "/docker/4f66ad9a0b2b4c61a3e7d1b5e2c8f9a07b6d5e4c3b2a1908f7e6d5c4b3a29180"
V2_SCOPE = (
    "/system.slice/docker-9a3c1f7e5b2d4a6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d.scope"
)
V1_MOUNTS = (
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 {root} /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)
V2_MOUNTS = "30 23 0:26 {root} /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def _tree(tmp_path: Path, fixture: str, mountinfo: str, proc_cgroup: str) -> Path:
    """A root with the fixture's cgroup filesystem and this process's view of it in /proc/self."""
    shutil.copytree(CGROUP_FIXTURES / fixture / "sys", tmp_path / "sys")
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal:       {HOST // 1024} kB\n")
    (proc / "self" / "mountinfo").write_text(mountinfo)
    (proc / "self" / "cgroup").write_text(proc_cgroup)
    return tmp_path


def _v1(tmp_path: Path, cgroup: str, mount_root: str = "/") -> Path:
    return _tree(
        tmp_path, "cgroup1", V1_MOUNTS.format(root=mount_root), f"4:memory:{cgroup}\n0::/\n"
    )


def _v2(tmp_path: Path, cgroup: str, mount_root: str = "/") -> Path:
    return _tree(tmp_path, "cgroup2", V2_MOUNTS.format(root=mount_root), f"0::{cgroup}\n")


@pytest.mark.parametrize(
    ("name", "build", "cgroup", "mount_root", "parent_limit", "want"),
    [
        ("v1 container's own limit", _v1, V1_DOCKER, "/", None, 64 * MIB),
        ("v1 root cgroup: host RAM", _v1, "/", "/", None, HOST),
        ("v1 unlimited child of a limited parent", _v1, "/docker", "/", 300 * MIB, 300 * MIB),
        ("v1 tighter ancestor wins", _v1, V1_DOCKER, "/", 32 * MIB, 32 * MIB),
        ("v1 container sees its own cgroup mounted", _v1, V1_DOCKER, V1_DOCKER, None, 64 * MIB),
        ("v1 cgroup namespace", _v1, "/", V1_DOCKER, None, 64 * MIB),
        ("v2 scope's own limit", _v2, V2_SCOPE, "/", None, 1024 * MIB),
        ("v2 unlimited service: host RAM", _v2, "/system.slice/nginx.service", "/", None, HOST),
        ("v2 slice limit applies to its service", _v2, "/system.slice/nginx.service", "/",
         200 * MIB, 200 * MIB),
        ("v2 cgroup namespace", _v2, "/", V2_SCOPE, None, 1024 * MIB),
    ],
)  # fmt: skip
def test_memory_limit_is_the_tightest_on_the_own_cgroup_and_its_ancestors(
    tmp_path: Path,
    name: str,
    build: Callable[[Path, str, str], Path],
    cgroup: str,
    mount_root: str,
    parent_limit: int | None,
    want: int,
) -> None:
    root = build(tmp_path, cgroup, mount_root)
    if parent_limit is not None:
        if build is _v1:
            (root / "sys/fs/cgroup/memory/docker/memory.limit_in_bytes").write_text(
                f"{parent_limit}\n"
            )
        else:
            (root / "sys/fs/cgroup/system.slice/memory.max").write_text(f"{parent_limit}\n")
    if mount_root != "/":  # the namespaced view: only the process's own cgroup is mounted
        hierarchy = "memory" if build is _v1 else ""
        own = root / "sys/fs/cgroup" / hierarchy / mount_root.lstrip("/")
        mounted = root / "sys/fs/cgroup" / hierarchy
        shutil.rmtree(tmp_path / "own", ignore_errors=True)
        shutil.copytree(own, tmp_path / "own")
        shutil.rmtree(mounted)
        shutil.copytree(tmp_path / "own", mounted)
    assert memory_limit_bytes(root) == want, name


def test_no_proc_self_falls_back_to_host_ram(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text(f"MemTotal:       {HOST // 1024} kB\n")
    assert memory_limit_bytes(tmp_path) == HOST


def test_budget_of_a_200_mib_unit() -> None:
    assert default_max_series(200 * MIB) == int(200 * MIB * HEAD_SHARE) // HEAD_BYTES_PER_SERIES


_PRINT_BUDGET = (
    "from vigil.tsdb.limits import default_max_series, memory_limit_bytes\n"
    "limit = memory_limit_bytes()\n"
    "print(limit, default_max_series(limit))\n"
)


@needs_memory_cgroup
def test_budget_in_a_real_200_mib_cgroup() -> None:
    assert isinstance(HIERARCHY, MemoryHierarchy)
    with memory_cgroup(200 * MIB) as cgroup:
        script = f'echo $$ > {HIERARCHY.procs_file(cgroup)} && exec "$0" -c "$1"'
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        done = subprocess.run(
            ["sh", "-c", script, sys.executable, _PRINT_BUDGET],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
    limit, budget = map(int, done.stdout.split())
    assert (limit, budget) == (200 * MIB, default_max_series(200 * MIB))
