"""cgroup v1 (recorded on a real host) and v2 (hand-built after the kernel docs) trees → snapshots
and cAdvisor-named metrics; broken files → a logged failure with the rest of the output intact."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from containers_testdata import CGROUP1, CGROUP2, DB_ID, JOB_ID, V1_ID

from vigil.exporter.containers.cgroupfs import (
    CgroupFs,
    CgroupSnapshot,
    CpuUsage,
    MemoryEvents,
    Pressure,
)
from vigil.exporter.containers.collectors import CgroupCollector, ContainerDirectory
from vigil.exporter.containers.docker import Container

V1_ROOT = CGROUP1 / "sys/fs/cgroup"
V2_ROOT = CGROUP2 / "sys/fs/cgroup"
GiB = 1 << 30

SNAPSHOTS = [
    (
        "v1 root: no limit, PSI from the unified mount",
        V1_ROOT,
        "/",
        CgroupSnapshot(
            id="/",
            memory_usage=359354368,
            working_set=359354368 - 133185536,
            rss=34598912,
            cache=324771840,
            swap=0,
            memory_limit=None,
            swap_limit=None,
            memory_high=None,
            peak=1422725120,
            events=MemoryEvents(low=None, high=None, max=0, oom=None, oom_kill=0),
            cpu=CpuUsage(
                usage_seconds=426.072214713,
                user_seconds=326.67,
                system_seconds=99.39,
                periods=0,
                throttled_periods=0,
                throttled_seconds=0.0,
                quota_us=None,
                period_us=100000,
            ),
            memory_pressure=Pressure(waiting_seconds=0.013827, stalled_seconds=0.011792),
        ),
    ),
    (
        "v1 docker cgroup: 64 MiB limit, a child OOM-killed, CFS quota and throttling",
        V1_ROOT,
        f"/docker/{V1_ID}",
        CgroupSnapshot(
            id=f"/docker/{V1_ID}",
            memory_usage=28655616,
            working_set=28655616 - 28672,
            rss=28119040,
            cache=49152,
            swap=0,
            memory_limit=64 << 20,
            swap_limit=None,
            memory_high=None,
            peak=64 << 20,
            events=MemoryEvents(low=None, high=None, max=87, oom=None, oom_kill=1),
            cpu=CpuUsage(
                usage_seconds=0.487440858,
                user_seconds=0.28,
                system_seconds=0.19,
                periods=14,
                throttled_periods=9,
                throttled_seconds=0.41316219,
                quota_us=50000,
                period_us=100000,
            ),
            memory_pressure=None,
        ),
    ),
    (
        "v2 docker scope near its limit, above memory.high, throttled",
        V2_ROOT,
        f"/system.slice/docker-{DB_ID}.scope",
        CgroupSnapshot(
            id=f"/system.slice/docker-{DB_ID}.scope",
            memory_usage=1006632960,
            working_set=1006632960 - 33554432,
            rss=880803840,
            cache=117440512,
            swap=0,
            memory_limit=GiB,
            swap_limit=0,
            memory_high=943718400,
            peak=1073700864,
            events=MemoryEvents(low=0, high=1523, max=87, oom=1, oom_kill=1),
            cpu=CpuUsage(
                usage_seconds=423.0,
                user_seconds=350.0,
                system_seconds=73.0,
                periods=98100,
                throttled_periods=1250,
                throttled_seconds=61.5,
                quota_us=50000,
                period_us=100000,
            ),
            memory_pressure=Pressure(waiting_seconds=4.12, stalled_seconds=1.73),
        ),
    ),
    (
        "v2 service: no limit, no memory.peak, no cpu controller",
        V2_ROOT,
        "/system.slice/nginx.service",
        CgroupSnapshot(
            id="/system.slice/nginx.service",
            memory_usage=335544320,
            working_set=335544320 - 8388608,
            rss=293601280,
            cache=41943040,
            swap=0,
            memory_limit=None,
            swap_limit=None,
            memory_high=None,
            peak=None,
            events=MemoryEvents(low=0, high=0, max=0, oom=0, oom_kill=0),
            cpu=CpuUsage(
                usage_seconds=3.0,
                user_seconds=2.0,
                system_seconds=1.0,
                periods=None,
                throttled_periods=None,
                throttled_seconds=None,
                quota_us=None,
                period_us=None,
            ),
            memory_pressure=Pressure(waiting_seconds=0.012, stalled_seconds=0.0),
        ),
    ),
]


@pytest.mark.parametrize(
    ("root", "cgroup", "want"), [c[1:] for c in SNAPSHOTS], ids=[c[0] for c in SNAPSHOTS]
)
def test_snapshot(root: Path, cgroup: str, want: CgroupSnapshot) -> None:
    assert CgroupFs(root).read(cgroup) == want


@pytest.mark.parametrize(
    ("root", "version", "ids"),
    [
        (V1_ROOT, 1, ["/", "/docker", f"/docker/{V1_ID}"]),
        (
            V2_ROOT,
            2,
            [
                "/system.slice",
                f"/system.slice/docker-{JOB_ID}.scope",
                f"/system.slice/docker-{DB_ID}.scope",
                "/system.slice/nginx.service",
            ],
        ),
        (CGROUP1 / "proc", None, []),
    ],
    ids=["v1", "v2 (root has no memory.current)", "no cgroupfs"],
)
def test_layout_and_ids(root: Path, version: int | None, ids: list[str]) -> None:
    cgroups = CgroupFs(root)
    assert (cgroups.version, cgroups.ids()) == (version, ids)


def test_vanished_cgroup_is_not_an_error() -> None:
    assert CgroupFs(V2_ROOT).read("/system.slice/docker-gone.scope") is None


def _container(cid: str, name: str, image: str) -> Container:
    return Container(cid, name, image, "running", True, 0, False, 1, 0, "always", None)


def test_v2_collector_metrics(scrape, clock) -> None:  # type: ignore[no-untyped-def]
    directory = ContainerDirectory()
    directory.replace([_container(DB_ID, "db", "postgres:15")])
    got = scrape([CgroupCollector(CgroupFs(V2_ROOT), directory, clock)])
    db = {"id": f"/system.slice/docker-{DB_ID}.scope", "name": "db", "image": "postgres:15"}
    nginx = {"id": "/system.slice/nginx.service", "name": "", "image": ""}
    want = {
        ("container_memory_usage_bytes", "db"): 1006632960,
        ("container_memory_working_set_bytes", "db"): 1006632960 - 33554432,
        ("container_spec_memory_limit_bytes", "db"): GiB,
        ("container_spec_memory_limit_bytes", "nginx"): 0,  # no limit
        ("vigil_container_memory_high_bytes", "db"): 943718400,
        ("container_memory_max_usage_bytes", "db"): 1073700864,
        ("container_oom_events_total", "db"): 1,
        ("container_cpu_cfs_throttled_periods_total", "db"): 1250,
        ("container_cpu_cfs_throttled_seconds_total", "db"): 61.5,
        ("container_spec_cpu_quota", "db"): 50000,
        ("container_pressure_memory_waiting_seconds_total", "db"): 4.12,
        ("container_pressure_memory_stalled_seconds_total", "db"): 1.73,
        ("container_last_seen", "db"): clock.now,
        ("container_memory_max_usage_bytes", "nginx"): None,  # kernel without memory.peak
        ("container_memory_failcnt", "db"): None,  # v1 only
    }
    labels = {"db": db, "nginx": nginx}
    assert {k: got.value(k[0], **labels[k[1]]) for k in want} == want
    assert got.value("container_cpu_usage_seconds_total", **db, cpu="total") == 423.0
    events = {
        dict(k)["event"]: v
        for k, v in got.series("vigil_container_memory_events_total").items()
        if dict(k)["id"] == db["id"]
    }
    assert events == {"low": 0, "high": 1523, "max": 87, "oom": 1, "oom_kill": 1}
    assert got.success("containers") == 1.0


def test_v1_collector_metrics(scrape, clock) -> None:  # type: ignore[no-untyped-def]
    got = scrape([CgroupCollector(CgroupFs(V1_ROOT), ContainerDirectory(), clock)])
    worker = {"id": f"/docker/{V1_ID}", "name": "", "image": ""}
    assert [
        got.value("container_memory_failcnt", **worker),
        got.value("container_oom_events_total", **worker),
        got.value("container_spec_memory_limit_bytes", **worker),
        got.value("container_spec_memory_limit_bytes", id="/", name="", image=""),
        got.value("container_cpu_usage_seconds_total", **worker, cpu="total"),
    ] == [87, 1, 64 << 20, 0, 0.487440858]
    assert got.types["container_memory_failcnt"] == "counter"


def _broken_tree(tmp_path: Path, breakage: str) -> tuple[Path, str]:
    root = tmp_path / "cgroup"
    shutil.copytree(V2_ROOT, root)
    scope = root / f"system.slice/docker-{DB_ID}.scope"
    if breakage == "missing":
        (scope / "memory.stat").unlink()
    elif breakage == "unreadable":
        (scope / "memory.events").unlink()
        (scope / "memory.events").symlink_to("memory.events")  # ELOOP: fails even as root
    elif breakage == "garbage":
        (scope / "memory.current").write_text("lots\n")
    elif breakage == "garbage in a keyed file":
        stat = scope / "memory.stat"
        lines = stat.read_text().splitlines()
        stat.write_text(
            "\n".join("anon lots" if x.startswith("anon ") else x for x in lines) + "\n"
        )
    return root, str(scope)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", "memory.stat: missing"),
        ("unreadable", "memory.events: Too many levels of symbolic links"),
        ("garbage", "memory.current: expected an integer, got 'lots'"),
        ("garbage in a keyed file", "memory.stat: expected an integer, got 'lots'"),
    ],
)
def test_broken_cgroup_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, scrape, clock, breakage: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    root, scope = _broken_tree(tmp_path, breakage)
    with caplog.at_level(logging.ERROR):
        got = scrape([CgroupCollector(CgroupFs(root), ContainerDirectory(), clock)])
    assert got.success("containers") == 0.0
    assert [r.getMessage() for r in caplog.records] == [
        f"collector containers failed: {scope}/{message}"
    ]
    # the other cgroups are still reported
    assert (
        got.value(
            "container_memory_usage_bytes", id="/system.slice/nginx.service", name="", image=""
        )
        == 335544320
    )
    assert (
        got.value(
            "container_memory_usage_bytes",
            id=f"/system.slice/docker-{DB_ID}.scope",
            name="",
            image="",
        )
        is None
    )


def test_no_cgroupfs(scrape, clock, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO):
        got = scrape([CgroupCollector(CgroupFs(CGROUP1 / "proc"), ContainerDirectory(), clock)])
    assert got.success("containers") == 0.0
    assert "no cgroup v1 memory controller or cgroup v2 hierarchy" in caplog.text
