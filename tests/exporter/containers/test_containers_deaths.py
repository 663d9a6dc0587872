"""The death classifier over recorded evidence combinations, the known traps first; and the per-name
ledger that keeps deaths and restarts as counters with a stable identity."""

from __future__ import annotations

import pytest

from vigil.exporter.containers.deaths import (
    Death,
    DeathEvidence,
    DeathLedger,
    DeathReason,
    classify_death,
)
from vigil.exporter.containers.kmsg import OomKill

MAIN = 4321
CHILD = 4400


def memcg_kill(pid: int) -> OomKill:
    return OomKill(10, pid, "java", "/docker/c", "/docker/c", "cgroup", 1 << 20, 1.0)


def host_kill(pid: int) -> OomKill:
    return OomKill(11, pid, "java", "/docker/c", "", "host", 1 << 20, 2.0)


R = DeathReason
CASES: list[tuple[str, DeathEvidence, DeathReason | None]] = [
    (
        "every source agrees: v2 memory.events oom+1, oom_kill+1, OOMKilled, oom event, kmsg",
        DeathEvidence(True, 137, True, True, None, 1, 1, (memcg_kill(MAIN),), MAIN),
        R.CGROUP_OOM,
    ),
    (
        "moby#38352: OOMKilled missed by Docker, the kernel log names the main process",
        DeathEvidence(True, 137, False, False, None, 0, None, (memcg_kill(MAIN),), MAIN),
        R.CGROUP_OOM,
    ),
    (
        "cgroup gone before it was read, no kernel log: Docker's flag and event still count",
        DeathEvidence(True, 137, True, True, None, 0, None, (), MAIN),
        R.CGROUP_OOM,
    ),
    (
        "cadvisor#3015: no container_oom_events, only the v1 cgroup's oom_kill counter",
        DeathEvidence(True, 137, False, False, None, 1, None, (), None),
        R.CGROUP_OOM,
    ),
    (
        "host ran out: the kernel log says global OOM for the main process",
        DeathEvidence(True, 137, False, False, None, 1, 0, (host_kill(MAIN),), MAIN),
        R.HOST_OOM,
    ),
    (
        "host ran out, no kernel log: v2 oom_kill rose without oom (its own limit never hit)",
        DeathEvidence(True, 137, True, True, None, 1, 0, (), MAIN),
        R.HOST_OOM,
    ),
    (
        "v2 counters alone: its own limit hit and a kill",
        DeathEvidence(True, 137, False, False, None, 1, 1, (), None),
        R.CGROUP_OOM,
    ),
    (
        "a child OOM-killed, PID 1 lives on, OOMKilled stays false (moby#15621)",
        DeathEvidence(False, None, False, False, None, 1, 1, (memcg_kill(CHILD),), MAIN),
        R.CHILD_OOM,
    ),
    (
        "a child OOM-killed on v1: only Docker's oom event",
        DeathEvidence(False, None, False, True, None, 0, None, (), MAIN),
        R.CHILD_OOM,
    ),
    (
        "a child killed by a host-wide OOM",
        DeathEvidence(False, None, False, False, None, 1, 0, (host_kill(CHILD),), MAIN),
        R.CHILD_OOM,
    ),
    ("nothing happened", DeathEvidence(False), None),
    (
        "the kernel killed PID 1 but a shell wrapper reported another code",
        DeathEvidence(True, 1, False, False, None, 1, 1, (memcg_kill(MAIN),), MAIN),
        R.CGROUP_OOM,
    ),
    (
        "docker kill: exit 137, SIGKILL event, no OOM anywhere",
        DeathEvidence(True, 137, kill_signal=9),
        R.SIGKILL,
    ),
    (
        "docker kill after an earlier child OOM left OOMKilled set: Docker's own SIGKILL wins",
        DeathEvidence(True, 137, True, False, 9, 0, None, (), MAIN),
        R.SIGKILL,
    ),
    (
        "stop timeout: SIGTERM ignored, SIGKILL after 10 s",
        DeathEvidence(True, 137, kill_signal=9),
        R.SIGKILL,
    ),
    ("kill -9 from the host: 137 and no Docker kill event", DeathEvidence(True, 137), R.SIGKILL),
    ("a plain process: waitpid status -9, no OOM", DeathEvidence(True, -9), R.SIGKILL),
    (
        "a plain process: -9 and its cgroup's oom_kill rose",
        DeathEvidence(
            True, -9, cgroup_oom_kills=1, kernel_kills=(memcg_kill(MAIN),), main_pid=MAIN
        ),
        R.CGROUP_OOM,
    ),
    ("exit 1", DeathEvidence(True, 1), R.EXIT),
    (
        "exit 1 after a child was OOM-killed: the main process chose to exit",
        DeathEvidence(True, 1, True, True, None, 1, 1, (memcg_kill(CHILD),), MAIN),
        R.EXIT,
    ),
    ("docker stop, SIGTERM honoured: 143", DeathEvidence(True, 143, kill_signal=15), R.EXIT),
    ("exit 0", DeathEvidence(True, 0), R.CLEAN),
    ("exit 0 even with a stale OOMKilled", DeathEvidence(True, 0, docker_oom_killed=True), R.CLEAN),
    (
        "exit code unknown, kernel log says OOM",
        DeathEvidence(True, None, kernel_kills=(memcg_kill(7),)),
        R.CGROUP_OOM,
    ),
    ("exit code unknown, nothing else", DeathEvidence(True, None), R.EXIT),
]


@pytest.mark.parametrize(("evidence", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify_death(evidence: DeathEvidence, want: DeathReason | None) -> None:
    assert classify_death(evidence) == want


@pytest.mark.parametrize(
    ("restart_counts", "want"),
    [
        ([0, 1, 2, 3], 3),
        ([5], 5),  # a loop older than the agent shows at once
        ([2, 4, 0, 1], 5),  # re-created (Docker's count reset): still only grows
        ([3, 3, 3], 3),
    ],
)
def test_restart_counter_only_grows(restart_counts: list[int], want: int) -> None:
    ledger = DeathLedger()
    for count in restart_counts:
        ledger.observe_restart_count("app", "myapp:1", count)
    assert [t.restarts for t in ledger.tallies()] == [want]


def test_ledger_counts_per_name_and_zero_fills() -> None:
    ledger = DeathLedger()
    oom = Death(R.CGROUP_OOM, 100.0, 137, 50 << 20, 50 << 20)
    ledger.record("app", "myapp:1", R.CGROUP_OOM, oom)
    ledger.record("app", "myapp:2", R.CHILD_OOM, Death(R.CHILD_OOM, 200.0, None, 50 << 20, None))
    ledger.record(
        "app", "myapp:2", R.CGROUP_OOM, Death(R.CGROUP_OOM, 300.0, 137, 50 << 20, 49 << 20)
    )
    app, db = ledger.tallies([("db", "postgres:15")])
    assert (app.name, app.image, dict(app.deaths), app.oom_kills, app.last) == (
        "app",
        "myapp:2",
        {R.CGROUP_OOM: 2, R.HOST_OOM: 0, R.CHILD_OOM: 1, R.SIGKILL: 0, R.EXIT: 0, R.CLEAN: 0},
        3,
        Death(R.CGROUP_OOM, 300.0, 137, 50 << 20, 49 << 20),  # a child OOM is not a death
    )
    assert (db.name, set(dict(db.deaths).values()), db.last) == ("db", {0}, None)
