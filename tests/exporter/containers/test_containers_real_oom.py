"""Real kernel OOM kills and SIGKILLs in real memory cgroups on this machine, seen through the
collectors' output within one scrape and classified; and the process collector on real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from tests.exporter.containers.memory_cgroups import (
    CGROUPFS,
    HIERARCHY,
    MemoryHierarchy,
    memory_cgroup,
    needs_memory_cgroup,
)

from vigil.exporter.containers import (
    ContainerOptions,
    DeathEvidence,
    DeathReason,
    build_exporter,
    classify_death,
)
from vigil.exporter.containers.cgroupfs import CgroupFs
from vigil.exporter.containers.kmsg import KernelOomLog

# Waits for a line on stdin (so a scrape can see it first), then touches 200 MB.
ALLOCATE = "import sys; sys.stdin.readline(); b = b'x' * (200 << 20); print('survived', len(b))"
SLEEP = "import sys; b = b'x' * (10 << 20); sys.stdin.readline()"
# The kernel charges CPU time by sampling at clock ticks, so a process that has barely run may
# show 0 ticks on a busy machine; this one uses 0.3 s of its own CPU time first.
BUSY_THEN_SLEEP = (
    "import sys, time\n"
    "while time.process_time() < 0.3: pass\n"
    "b = b'x' * (10 << 20); sys.stdin.readline()"
)


def spawn_in(cgroup: str, code: str, tag: str) -> subprocess.Popen[bytes]:
    """Python running `code`, moved into `cgroup` before exec; `tag` marks its command line."""
    assert isinstance(HIERARCHY, MemoryHierarchy)
    procs = HIERARCHY.parent / cgroup.lstrip("/") / "cgroup.procs"
    script = f'echo $$ > {procs} && exec "$0" -c "$1" "$2"'
    return subprocess.Popen(
        ["sh", "-c", script, sys.executable, code, tag],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )


def _exporter(*patterns: str):  # type: ignore[no-untyped-def]
    return build_exporter(ContainerOptions(docker_socket=None, process_patterns=patterns))


def _oom_kills_of(cgroup: str, oom_log: KernelOomLog):  # type: ignore[no-untyped-def]
    return tuple(k for k in oom_log.recent() if k.task_cgroup == cgroup)


@pytest.mark.slow
@needs_memory_cgroup
def test_real_cgroup_oom_kill(scrape) -> None:  # type: ignore[no-untyped-def]
    tag = f"vigil-oom-{uuid.uuid4().hex[:8]}"
    with memory_cgroup(50 * 1000 * 1000) as cgroup:
        exporter = _exporter(f"victim={tag}")
        cgroups = CgroupFs(CGROUPFS)
        oom_log = KernelOomLog(Path("/dev/kmsg"))
        oom_log.poll()  # history
        labels = {"id": cgroup, "name": "", "image": ""}
        proc = spawn_in(cgroup, ALLOCATE, tag)
        try:
            before = scrape(exporter.collectors)
            snapshot_before = cgroups.read(cgroup)
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            returncode = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        after = scrape(exporter.collectors)
        snapshot_after = cgroups.read(cgroup)
        oom_log.poll()
        exporter.stop()
    assert returncode == -signal.SIGKILL
    victim = next(s for s in after.series("vigil_oom_last_victim_info"))
    assert {
        "oom events": (
            before.value("container_oom_events_total", **labels),
            after.value("container_oom_events_total", **labels),
        ),
        "limit": after.value("container_spec_memory_limit_bytes", **labels),
        "host counter rose": after.value("vigil_oom_kills_total")
        >= before.value("vigil_oom_kills_total") + 1,  # type: ignore[operator]
        "last victim": {k: v for k, v in victim if k in ("pid", "cgroup", "scope")},
        "victim process": (
            after.value("vigil_process_up", name="victim"),
            after.value("vigil_process_oom_killed_total", name="victim"),
        ),
        "success": {c: after.success(c) for c in ("containers", "oomkill", "process_match")},
    } == {
        "oom events": (0.0, 1.0),
        "limit": 50 * 1000 * 1000 // 4096 * 4096,  # the kernel rounds down to pages
        "host counter rose": True,
        "last victim": {"pid": str(proc.pid), "cgroup": cgroup, "scope": "cgroup"},
        "victim process": (0.0, 1.0),
        "success": {"containers": 1.0, "oomkill": 1.0, "process_match": 1.0},
    }
    assert dict(victim)["process"] == Path(sys.executable).name[:15]
    assert before.value("vigil_process_up", name="victim") == 1.0
    assert snapshot_before is not None and snapshot_after is not None
    evidence = DeathEvidence(
        exited=True,
        exit_code=returncode,
        cgroup_oom_kills=snapshot_after.events.oom_kill - snapshot_before.events.oom_kill,
        kernel_kills=_oom_kills_of(cgroup, oom_log),
        main_pid=proc.pid,
    )
    assert (evidence.cgroup_oom_kills, classify_death(evidence)) == (1, DeathReason.CGROUP_OOM)


@pytest.mark.slow
@needs_memory_cgroup
def test_real_sigkill_is_not_an_oom(scrape) -> None:  # type: ignore[no-untyped-def]
    tag = f"vigil-kill-{uuid.uuid4().hex[:8]}"
    with memory_cgroup(500 * 1000 * 1000) as cgroup:
        exporter = _exporter()
        cgroups = CgroupFs(CGROUPFS)
        oom_log = KernelOomLog(Path("/dev/kmsg"))
        oom_log.poll()
        proc = spawn_in(cgroup, SLEEP, tag)
        try:
            snapshot_before = None
            while snapshot_before is None or snapshot_before.memory_usage < (10 << 20):
                snapshot_before = cgroups.read(cgroup)  # until it holds its 10 MB
                threading.Event().wait(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            returncode = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        after = scrape(exporter.collectors)
        snapshot_after = cgroups.read(cgroup)
        oom_log.poll()
        exporter.stop()
    assert snapshot_after is not None
    evidence = DeathEvidence(
        exited=True,
        exit_code=returncode,
        cgroup_oom_kills=snapshot_after.events.oom_kill - snapshot_before.events.oom_kill,
        kernel_kills=_oom_kills_of(cgroup, oom_log),
        main_pid=proc.pid,
    )
    assert (
        returncode,
        after.value("container_oom_events_total", id=cgroup, name="", image=""),
        evidence.kernel_kills,
        classify_death(evidence),
    ) == (-signal.SIGKILL, 0.0, (), DeathReason.SIGKILL)


def test_process_collector_on_real_processes(scrape) -> None:  # type: ignore[no-untyped-def]
    tag = f"vigil-proc-{uuid.uuid4().hex[:8]}"
    exporter = _exporter(f"app={tag}", f"absent-{tag}")
    procs = [
        subprocess.Popen([sys.executable, "-c", BUSY_THEN_SLEEP, tag], stdin=subprocess.PIPE)
        for _ in range(2)
    ]
    try:
        while True:  # until both hold their 10 MB
            running = scrape(exporter.collectors)
            if (running.value("vigil_process_resident_memory_bytes", name="app") or 0) > 20 << 20:
                break
            threading.Event().wait(0.05)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    gone = scrape(exporter.collectors)
    exporter.stop()

    def view(s):  # type: ignore[no-untyped-def]
        return {
            "up": (
                s.value("vigil_process_up", name="app"),
                s.value("vigil_process_up", name=f"absent-{tag}"),
            ),
            "count": s.value("vigil_process_count", name="app"),
            "has start time": s.value("vigil_process_start_time_seconds", name="app") is not None,
        }

    assert (view(running), view(gone)) == (
        {"up": (1.0, 0.0), "count": 2.0, "has start time": True},
        {"up": (0.0, 0.0), "count": 0.0, "has start time": False},
    )
    cpu = [s.value("vigil_process_cpu_seconds_total", name="app") for s in (running, gone)]
    assert (
        cpu[0] is not None and cpu[1] is not None and 0 < cpu[0] <= cpu[1]
    )  # the dead keep their CPU
