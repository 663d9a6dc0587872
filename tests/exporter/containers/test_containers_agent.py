"""`vigil agent`'s container flags, and the container collectors and watchers inside the agent's
app: on /metrics, started and stopped with the server's lifespan."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from containers_testdata import CGROUP2, DB_ID
from fake_dockerd import FakeDockerd, load_fixture_containers
from starlette.testclient import TestClient

from vigil.cmd import build_parser
from vigil.cmd.agent import agent_options
from vigil.cmd.agent_app import AgentOptions, build_app
from vigil.exporter.containers import ContainerOptions


def _containers(*flags: str) -> ContainerOptions | None:
    return agent_options(build_parser().parse_args(["agent", *flags])).containers


@pytest.mark.parametrize(
    ("flags", "want"),
    [
        ((), ContainerOptions(clock=ContainerOptions().clock)),
        (
            (
                "--path.cgroupfs=/host/sys/fs/cgroup",
                "--path.procfs=/host/proc",
                "--path.kmsg=/host/dev/kmsg",
                "--collector.docker.socket=/run/user/1000/docker.sock",
                "--collector.processes.match=app=java -jar app\\.jar",
                "--collector.processes.match=nginx",
            ),
            ContainerOptions(
                cgroupfs=Path("/host/sys/fs/cgroup"),
                procfs=Path("/host/proc"),
                kmsg=Path("/host/dev/kmsg"),
                docker_socket=Path("/run/user/1000/docker.sock"),
                process_patterns=("app=java -jar app\\.jar", "nginx"),
            ),
        ),
        (("--collector.docker.socket=",), ContainerOptions(docker_socket=None)),
        (("--no-collector.containers",), None),
    ],
    ids=["defaults", "every flag", "no Docker", "off"],
)
def test_container_flags(flags: tuple[str, ...], want: ContainerOptions | None) -> None:
    assert _containers(*flags) == want


def test_invalid_process_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["agent", "--collector.processes.match=app=java(("])
    assert exit_.value.code == 2
    assert (
        "--collector.processes.match 'app=java((': invalid regular expression"
        in capsys.readouterr().err
    )


def _watchers() -> set[str]:
    return {
        t.name for t in threading.enumerate() if t.name in ("vigil-kmsg", "vigil-docker-events")
    }


def test_agent_serves_container_metrics_and_runs_watchers(short_tmp: Path) -> None:
    options = AgentOptions(
        collectors=frozenset(),
        containers=ContainerOptions(
            cgroupfs=CGROUP2 / "sys/fs/cgroup",
            procfs=CGROUP2 / "proc",
            kmsg=CGROUP2 / "kmsg",
            docker_socket=short_tmp / "docker.sock",
            poll_interval=0.05,
        ),
    )
    with FakeDockerd(short_tmp / "docker.sock", load_fixture_containers()) as dockerd:
        app = build_app(options)
        assert _watchers() == set()
        with TestClient(app) as client:
            dockerd.wait_for_stream()  # the lifespan started the event watcher
            running = _watchers()
            body = client.get("/metrics").text
        stopped = _watchers()
    assert (running, stopped) == ({"vigil-kmsg", "vigil-docker-events"}, set())
    for line in (
        'vigil_container_running{image="postgres:15",name="db"} 1',
        f'container_spec_memory_limit_bytes{{id="/system.slice/docker-{DB_ID}.scope",image="postgres:15",name="db"}} 1073741824',
        'vigil_container_deaths_total{image="myapp:1.4",name="app",reason="cgroup_oom"} 0',
        "vigil_oom_kills_total 2",
        'node_scrape_collector_success{collector="docker"} 1',
        'node_scrape_collector_success{collector="containers"} 1',
        'node_scrape_collector_success{collector="oomkill"} 1',
    ):
        assert line in body.splitlines(), line
