"""The Docker collector and event watcher against a test double of the engine API on a unix socket:
metrics from the container list and inspect, deaths classified from events plus cgroup and kernel
log evidence, and a refusing or garbage-speaking socket."""

from __future__ import annotations

import copy
import logging
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from containers_testdata import APP_ID, CGROUP2, DB_ID, JOB_ID
from fake_dockerd import FakeDockerd, fixture_events, load_fixture_containers

from vigil.exporter.containers.cgroupfs import CgroupFs
from vigil.exporter.containers.collectors import (
    CgroupCollector,
    ContainerDirectory,
    DockerCollector,
)
from vigil.exporter.containers.deaths import Death, DeathLedger, DeathReason
from vigil.exporter.containers.docker import DockerClient, DockerError, DockerEvent
from vigil.exporter.containers.kmsg import KernelOomLog
from vigil.exporter.containers.options import ContainerOptions
from vigil.exporter.containers.watcher import DockerWatcher

R = DeathReason


@pytest.fixture
def containers() -> dict[str, dict[str, Any]]:
    return load_fixture_containers()


@pytest.fixture
def dockerd(short_tmp: Path, containers: dict[str, dict[str, Any]]) -> Iterator[FakeDockerd]:
    with FakeDockerd(short_tmp / "docker.sock", containers) as daemon:
        yield daemon


def _event(action: str, cid: str, name: str, image: str, t: int, **attrs: str) -> dict[str, Any]:
    return {
        "status": action,
        "id": cid,
        "from": image,
        "Type": "container",
        "Action": action,
        "Actor": {"ID": cid, "Attributes": {"image": image, "name": name, **attrs}},
        "scope": "local",
        "time": t,
        "timeNano": t * 10**9,
    }


def _decoded(event: dict[str, Any]) -> DockerEvent:
    actor = event["Actor"]
    return DockerEvent(
        "container", event["Action"], actor["ID"], actor["Attributes"], event["timeNano"]
    )


def test_collector_metrics(dockerd: FakeDockerd, scrape, clock) -> None:  # type: ignore[no-untyped-def]
    directory = ContainerDirectory()
    docker = DockerCollector(dockerd.socket_path, 5.0, DeathLedger(), directory)
    got = scrape([docker, CgroupCollector(CgroupFs(CGROUP2 / "sys/fs/cgroup"), directory, clock)])
    docker.close()
    db = {"name": "db", "image": "postgres:15"}
    app = {"name": "app", "image": "myapp:1.4"}
    job = {"name": "job", "image": "batch:2"}
    assert {
        "running": [got.value("vigil_container_running", **c) for c in (db, app, job)],
        "exit codes": [got.value("vigil_container_last_exit_code", **c) for c in (db, app, job)],
        "OOMKilled": [got.value("vigil_container_docker_oom_killed", **c) for c in (db, app, job)],
        "restarts": [got.value("vigil_container_restarts_total", **c) for c in (db, app, job)],
        "limits": [got.value("vigil_container_memory_limit_bytes", **c) for c in (db, app, job)],
        "policies": sorted(dict(k)["restart_policy"] for k in got.series("vigil_container_info")),
        "app state": {
            dict(k)["vigil_container_state"]
            for k, v in got.series("vigil_container_state", **app).items()
            if v
        },
        "deaths of db (zeros, one per reason)": got.series("vigil_container_deaths_total", **db),
        "cgroup named after its container": got.value(
            "container_memory_working_set_bytes", id=f"/system.slice/docker-{DB_ID}.scope", **db
        ),
        "success": [got.success("docker"), got.success("containers")],
    } == {
        "running": [1.0, 0.0, 0.0],
        "exit codes": [0.0, 137.0, 137.0],
        "OOMKilled": [0.0, 1.0, 0.0],
        "restarts": [2.0, 0.0, 5.0],
        "limits": [1 << 30, 52428800, 0],
        "policies": ["always", "no", "on-failure:5"],
        "app state": {"exited"},
        "deaths of db (zeros, one per reason)": {
            frozenset({**db, "reason": r.value}.items()): 0.0 for r in DeathReason
        },
        "cgroup named after its container": 1006632960 - 33554432,
        "success": [1.0, 1.0],
    }
    assert {
        p.rsplit("/", 2)[-2] if p.endswith("/json") and p != "/containers/json" else p
        for p in dockerd.requests
    } == {
        "/containers/json",
        DB_ID,
        APP_ID,
        JOB_ID,
    }


def test_event_stream(dockerd: FakeDockerd) -> None:
    dockerd.initial_events = fixture_events()
    dockerd.end_after_initial = True
    client = DockerClient(dockerd.socket_path, 5.0)
    events = list(client.events(None, read_timeout=5.0))
    client.close()
    assert [(e.action, e.id, dict(e.attributes), e.time_nano) for e in events] == [
        ("oom", APP_ID, {"image": "myapp:1.4", "name": "app"}, 1709333267123456789),
        (
            "die",
            APP_ID,
            {"image": "myapp:1.4", "name": "app", "exitCode": "137"},
            1709333267123456789,
        ),
        (
            "die",
            JOB_ID,
            {"image": "batch:2", "name": "job", "exitCode": "137"},
            1709333300123456789,
        ),
    ]


class World:
    """A writable copy of the v2 tree and kernel log, the fake daemon, and a synced watcher."""

    def __init__(
        self, tmp: Path, dockerd: FakeDockerd, containers: dict[str, dict[str, Any]], clock: Any
    ) -> None:
        shutil.copytree(CGROUP2, tmp / "host")
        self.root = tmp / "host/sys/fs/cgroup"
        self.kmsg = tmp / "host/kmsg"
        self.containers = containers
        self.clock = clock
        self.ledger = DeathLedger()
        options = ContainerOptions(
            cgroupfs=self.root,
            procfs=tmp / "host/proc",
            kmsg=self.kmsg,
            docker_socket=dockerd.socket_path,
            clock=clock,
        )
        self.oom_log = KernelOomLog(self.kmsg)
        self.oom_log.poll()  # the backlog: already history when the agent starts
        self.watcher = DockerWatcher(options, CgroupFs(self.root), self.oom_log, self.ledger)

    def set_state(self, cid: str, **state: Any) -> None:
        self.containers[cid]["State"].update(state)

    def memory_events(self, cid: str, **events: int) -> None:
        path = self.root / f"system.slice/docker-{cid}.scope/memory.events"
        values = dict(line.split() for line in path.read_text().splitlines())
        values.update({k: str(v) for k, v in events.items()})
        path.write_text("".join(f"{k} {v}\n" for k, v in values.items()))

    def kernel_kill(self, seq: int, cid: str, pid: int, comm: str, scope: str) -> None:
        memcg = f"/system.slice/docker-{cid}.scope"
        where = f"oom_memcg={memcg}" if scope == "cgroup" else "global_oom"
        constraint = "CONSTRAINT_MEMCG" if scope == "cgroup" else "CONSTRAINT_NONE"
        why = "Memory cgroup out of memory" if scope == "cgroup" else "Out of memory"
        with self.kmsg.open("a") as f:
            f.write(
                f"6,{seq},99000000000,-;oom-kill:constraint={constraint},nodemask=(null),cpuset=/,"
                f"mems_allowed=0,{where},task_memcg={memcg},task={comm},pid={pid},uid=0\n"
                f"3,{seq + 1},99000000100,-;{why}: Killed process {pid} ({comm}) total-vm:10kB, "
                "anon-rss:8kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0\n"
            )

    def send(self, event: dict[str, Any]) -> None:
        self.watcher.handle_event(_decoded(event))

    def tallies(self) -> dict[str, tuple[dict[DeathReason, int], Death | None, int]]:
        return {
            t.name: ({r: n for r, n in t.deaths if n}, t.last, t.restarts)
            for t in self.ledger.tallies()
        }


@pytest.fixture
def world(
    tmp_path: Path, dockerd: FakeDockerd, containers: dict[str, dict[str, Any]], clock: Any
) -> Iterator[World]:
    w = World(tmp_path, dockerd, containers, clock)
    yield w
    w.watcher.stop()


def test_oom_killed_container(world: World) -> None:
    """The eleven-hour story: a 50 MB container exceeds its limit; Docker says OOMKilled."""
    world.set_state(APP_ID, Status="running", Running=True, ExitCode=0, OOMKilled=False, Pid=7000)
    world.watcher.sync()
    world.set_state(APP_ID, Status="exited", Running=False, ExitCode=137, OOMKilled=True, Pid=0)
    world.send(_event("oom", APP_ID, "app", "myapp:1.4", 1709333267))
    world.send(_event("die", APP_ID, "app", "myapp:1.4", 1709333267, exitCode="137"))
    assert world.tallies()["app"] == (
        {R.CGROUP_OOM: 1},
        Death(R.CGROUP_OOM, 1709333267.0, 137, 52428800, None),
        0,
    )


def test_host_oom_missed_by_docker(world: World) -> None:
    """moby#38352: OOMKilled stays false; the kernel log names the job's java, killed host-wide."""
    world.set_state(JOB_ID, Status="running", Running=True, ExitCode=0, Pid=5120)
    world.memory_events(JOB_ID, oom_kill=0)
    world.watcher.sync()
    world.watcher.tick()
    world.kernel_kill(3000, JOB_ID, 5120, "java", "host")
    world.memory_events(JOB_ID, oom_kill=1)
    world.set_state(JOB_ID, Status="exited", Running=False, ExitCode=137, OOMKilled=False, Pid=0)
    world.send(_event("die", JOB_ID, "job", "batch:2", 1709333300, exitCode="137"))
    reasons, last, _ = world.tallies()["job"]
    assert (reasons, last) == (
        {R.HOST_OOM: 1},
        Death(R.HOST_OOM, 1709333300.0, 137, None, 2147483648),
    )


def test_child_oom_after_grace(world: World) -> None:
    """postgres's backend (not PID 1) is killed by db's own limit; db keeps running."""
    world.watcher.sync()
    world.watcher.tick()
    world.kernel_kill(3000, DB_ID, 4400, "postgres", "cgroup")
    world.memory_events(DB_ID, oom=2, oom_kill=2)
    world.watcher.tick()
    assert (
        "db" not in world.tallies() or world.tallies()["db"][0] == {}
    )  # still within the grace period
    world.clock.advance(5.0)
    world.watcher.tick()
    world.clock.advance(60.0)
    world.watcher.tick()  # counted once, not again on every tick
    reasons, last, _ = world.tallies()["db"]
    assert (reasons, last) == ({R.CHILD_OOM: 1}, None)


def test_docker_kill_is_not_an_oom(world: World) -> None:
    world.watcher.sync()
    world.set_state(DB_ID, Status="exited", Running=False, ExitCode=137, Pid=0)
    world.send(_event("kill", DB_ID, "db", "postgres:15", 1709333400, signal="9"))
    world.send(_event("die", DB_ID, "db", "postgres:15", 1709333400, exitCode="137"))
    reasons, last, _ = world.tallies()["db"]
    assert (reasons, last and last.memory_limit) == ({R.SIGKILL: 1}, 1 << 30)


def test_restart_loop_keeps_one_identity(world: World, scrape) -> None:  # type: ignore[no-untyped-def]
    """`--restart=always` and an OOM every run: counters rise, no new series per restart (cadvisor#3355)."""
    world.watcher.sync()
    for run in range(3):
        t = 1709334000 + 60 * run
        world.set_state(DB_ID, Status="exited", Running=False, ExitCode=137, OOMKilled=True, Pid=0)
        world.send(_event("oom", DB_ID, "db", "postgres:15", t))
        world.send(_event("die", DB_ID, "db", "postgres:15", t, exitCode="137"))
        world.containers[DB_ID]["RestartCount"] += 1
        world.set_state(
            DB_ID, Status="running", Running=True, ExitCode=0, OOMKilled=False, Pid=8000 + run
        )
        world.send(_event("start", DB_ID, "db", "postgres:15", t + 1))
    reasons, last, restarts = world.tallies()["db"]
    assert (reasons, restarts, last and last.at) == ({R.CGROUP_OOM: 3}, 5, 1709334121.0 - 1)
    docker = DockerCollector(
        world.watcher._options.docker_socket, 5.0, world.ledger, ContainerDirectory()
    )  # type: ignore[arg-type]
    got = scrape([docker])
    docker.close()
    assert got.series("vigil_container_deaths_total", name="db", reason="cgroup_oom") == {
        frozenset({"name": "db", "image": "postgres:15", "reason": "cgroup_oom"}.items()): 3.0
    }
    assert (
        got.value("vigil_container_restarts_total", name="db", image="postgres:15"),
        got.value("vigil_container_oom_killed_total", name="db", image="postgres:15"),
    ) == (5.0, 3.0)


def _wait_for(condition: Any, timeout: float = 10.0) -> bool:
    """Waits for a background thread to handle I/O (not for a timer: no test logic sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        threading.Event().wait(0.02)
    return False


def test_watcher_thread_follows_the_stream(world: World, dockerd: FakeDockerd) -> None:
    world.set_state(APP_ID, Status="running", Running=True, ExitCode=0, OOMKilled=False, Pid=7000)
    world.watcher.start()
    dockerd.wait_for_stream()
    world.set_state(APP_ID, Status="exited", Running=False, ExitCode=137, OOMKilled=True, Pid=0)
    for event in fixture_events()[:2]:
        dockerd.push_event(event)
    assert _wait_for(lambda: "app" in world.tallies() and world.tallies()["app"][0])
    started = time.monotonic()
    world.watcher.stop()
    assert (world.tallies()["app"][0], time.monotonic() - started < 5.0) == (
        {R.CGROUP_OOM: 1},
        True,
    )


def _refusing_socket(path: Path) -> Path:
    """A socket file nobody listens on: what a stopped dockerd leaves behind (ECONNREFUSED)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    return path


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "refused",
            "collector docker failed: GET /containers/json on {sock}: [Errno 111] Connection refused",
        ),
        (
            "garbage",
            "collector docker failed: GET /containers/json on {sock}: not JSON: '<html><body>502 Bad Gateway</body></html>'",
        ),
        ("missing", "collector docker: no data: no Docker socket at {sock}"),
    ],
)
def test_bad_docker_socket(
    short_tmp: Path,
    containers: dict[str, dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    scrape,
    clock,
    setup: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    sock = short_tmp / "docker.sock"
    ledger = DeathLedger()
    ledger.record("app", "myapp:1.4", R.CGROUP_OOM, Death(R.CGROUP_OOM, 1.0, 137, None, None))
    daemon = (
        FakeDockerd(sock, copy.deepcopy(containers), garbage=True) if setup == "garbage" else None
    )
    if setup == "refused":
        _refusing_socket(sock)
    directory = ContainerDirectory()
    docker = DockerCollector(sock, 2.0, ledger, directory)
    cgroups = CgroupCollector(CgroupFs(CGROUP2 / "sys/fs/cgroup"), directory, clock)
    with caplog.at_level(logging.INFO, logger="vigil.exporter"):
        if daemon is not None:
            with daemon:
                got = scrape([docker, cgroups])
        else:
            got = scrape([docker, cgroups])
    docker.close()
    assert [r.getMessage() for r in caplog.records] == [message.format(sock=sock)]
    assert (got.success("docker"), got.success("containers")) == (0.0, 1.0)
    # what vigil already knew, and the cgroups, are still there
    assert (
        got.value(
            "vigil_container_deaths_total", name="app", image="myapp:1.4", reason="cgroup_oom"
        )
        == 1.0
    )
    assert (
        got.value(
            "container_memory_usage_bytes", id="/system.slice/nginx.service", name="", image=""
        )
        == 335544320
    )


def test_die_of_a_container_never_seen_running(world: World) -> None:
    """Started and killed between two syncs: the kernel log kill waits for its `die` to claim it."""
    world.watcher.sync()  # job is already exited here
    world.set_state(JOB_ID, Status="running", Running=True, Pid=5120)
    world.kernel_kill(3000, JOB_ID, 5120, "java", "host")
    world.watcher.tick()
    world.set_state(JOB_ID, Status="exited", Running=False, ExitCode=137, OOMKilled=False, Pid=0)
    world.send(_event("die", JOB_ID, "job", "batch:2", 1709333300, exitCode="137"))
    assert world.tallies()["job"][0] == {R.HOST_OOM: 1}


def test_a_missing_socket_fails_each_request_naming_it(short_tmp: Path) -> None:
    sock = short_tmp / "docker.sock"
    client = DockerClient(sock, 2.0)
    errors = []
    for request in (client.containers, lambda: list(client.events(None, 1.0))):
        with pytest.raises(DockerError) as raised:
            request()
        errors.append(str(raised.value))
    client.close()
    assert errors == [
        f"GET /containers/json on {sock}: no such socket",
        f"GET /events on {sock}: no such socket",
    ]
