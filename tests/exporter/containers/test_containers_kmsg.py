"""Kernel log OOM records (a real 6.x memcg kill, a host-wide kill, the 4.x wording) → OomKill, and
the host OOM collector: /proc/vmstat counter plus the last victim."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from containers_testdata import CGROUP1, CGROUP2, DB_ID, JOB_ID, V1_ID

from vigil.exporter.containers.collectors import OomKillCollector
from vigil.exporter.containers.kmsg import KernelOomLog, OomKill, OomKillParser, _parse_record


def _parse(text: str) -> list[OomKill]:
    parser = OomKillParser()
    lines = [line for line in text.splitlines() if line and not line.startswith(" ")]
    return [k for k in (parser.feed(_parse_record(line, n)) for n, line in enumerate(lines)) if k]


OLD_KERNEL_MEMCG = """\
java invoked oom-killer: gfp_mask=0x24000c0, order=0, oom_score_adj=0
Task in /docker/abc killed as a result of limit of /docker/abc
memory: usage 262144kB, limit 262144kB, failcnt 1044
Memory cgroup out of memory: Kill process 2954 (java) score 1013 or sacrifice child
Killed process 2954 (java) total-vm:3019896kB, anon-rss:259416kB, file-rss:12024kB, shmem-rss:0kB
"""
OLD_KERNEL_HOST = """\
mysqld invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0
Out of memory: Kill process 1234 (mysqld) score 800 or sacrifice child
Killed process 1234 (mysqld) total-vm:2345678kB, anon-rss:1500000kB, file-rss:0kB, shmem-rss:0kB
"""
CALLER_PREFIX = (
    "6,90,5000000,-,caller=T77;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
    "mems_allowed=0,oom_memcg=/a,task_memcg=/a/b,task=node,pid=77,uid=0\n"
    "3,91,5000100,-,caller=T77;Memory cgroup out of memory: Killed process 77 (node) "
    "total-vm:1kB, anon-rss:8kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0\n"
)

CASES = [
    (
        "recorded 6.18 memcg kill (cgroup v1)",
        (CGROUP1 / "kmsg").read_text(),
        [
            OomKill(
                581,
                29884,
                "python3",
                f"/docker/{V1_ID}",
                f"/docker/{V1_ID}",
                "cgroup",
                65024 * 1024,
                1273.981842,
            )
        ],
    ),
    (
        "v2: a child killed by its cgroup's limit, then a host-wide kill (global_oom)",
        (CGROUP2 / "kmsg").read_text(),
        [
            OomKill(
                1804,
                4400,
                "postgres",
                f"/system.slice/docker-{DB_ID}.scope",
                f"/system.slice/docker-{DB_ID}.scope",
                "cgroup",
                812344 * 1024,
                86400.12353,
            ),
            OomKill(
                1903,
                5120,
                "java",
                f"/system.slice/docker-{JOB_ID}.scope",
                "",
                "host",
                2091520 * 1024,
                90000.50095,
            ),
        ],
    ),
    (
        "4.x wording, memcg",
        OLD_KERNEL_MEMCG,
        [OomKill(4, 2954, "java", "/docker/abc", "/docker/abc", "cgroup", 259416 * 1024, 0.0)],
    ),
    (
        "4.x wording, host",
        OLD_KERNEL_HOST,
        [OomKill(2, 1234, "mysqld", "", "", "host", 1500000 * 1024, 0.0)],
    ),
    (
        "caller= in the prefix",
        CALLER_PREFIX,
        [OomKill(91, 77, "node", "/a/b", "/a", "cgroup", 8192, 5.0001)],
    ),
    ("no OOM at all", "6,1,1,-;Linux version 6.1\n6,2,2,-;Command line: quiet\n", []),
]


@pytest.mark.parametrize(("text", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_oom_kills(text: str, want: list[OomKill]) -> None:
    assert _parse(text) == want


def test_backlog_is_last_victim_but_not_new(tmp_path: Path) -> None:
    kmsg = tmp_path / "kmsg"
    shutil.copy(CGROUP2 / "kmsg", kmsg)
    log = KernelOomLog(kmsg)
    assert (log.poll(), log.last() and log.last().pid, log.recent()) == ([], 5120, ())  # type: ignore[union-attr]
    with kmsg.open("a") as f:
        f.write(
            "6,2000,95000000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
            "oom_memcg=/x,task_memcg=/x,task=ruby,pid=6000,uid=0\n"
            "3,2001,95000000100,-;Memory cgroup out of memory: Killed process 6000 (ruby) total-vm:1kB, "
            "anon-rss:4kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:0\n"
        )
    new = log.poll()
    assert (
        [k.process for k in new],
        [k.process for k in log.recent()],
        log.seen(),
        log.last(),
    ) == (
        ["ruby"],
        ["ruby"],
        1,
        new[0],
    )


def test_oom_collector_on_recorded_v2(scrape) -> None:  # type: ignore[no-untyped-def]
    got = scrape([OomKillCollector(CGROUP2 / "proc", KernelOomLog(CGROUP2 / "kmsg"))])
    assert got.samples == {
        ("vigil_oom_kills_total", frozenset()): 2.0,
        (
            "vigil_oom_last_victim_info",
            frozenset(
                {
                    "process": "java",
                    "pid": "5120",
                    "cgroup": f"/system.slice/docker-{JOB_ID}.scope",
                    "oom_cgroup": "",
                    "scope": "host",
                }.items()
            ),
        ): 1.0,
        ("vigil_oom_last_victim_timestamp_seconds", frozenset()): 1700000000 + 90000.50095,
        ("vigil_oom_last_victim_anon_rss_bytes", frozenset()): 2091520 * 1024,
        ("node_scrape_collector_duration_seconds", frozenset({("collector", "oomkill")})): 0.0,
        ("node_scrape_collector_success", frozenset({("collector", "oomkill")})): 1.0,
    }


def test_unreadable_kmsg_keeps_the_counter(
    tmp_path: Path, scrape, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no-kmsg"
    with caplog.at_level(logging.ERROR):
        got = scrape([OomKillCollector(CGROUP2 / "proc", KernelOomLog(missing))])
    assert (got.value("vigil_oom_kills_total"), got.success("oomkill")) == (2.0, 0.0)
    assert [r.getMessage() for r in caplog.records] == [
        f"collector oomkill failed: {missing}: No such file or directory"
    ]
