"""`vigil agent` takes node_exporter's flags: `--[no-]collector.<name>`, `--path.*`, and the
collector settings that have a twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.cmd import build_parser
from vigil.cmd.agent import agent_options
from vigil.cmd.agent_app import AgentOptions
from vigil.exporter import DEFAULT_ENABLED, ExporterOptions, HostPaths
from vigil.exporter.logs.journal import JournalOptions


def options(*flags: str) -> AgentOptions:
    return agent_options(build_parser().parse_args(["agent", *flags]))


# (flags, collectors enabled)
COLLECTOR_CASES = [
    ((), DEFAULT_ENABLED),
    (("--no-collector.cpu",), DEFAULT_ENABLED - {"cpu"}),
    (("--no-collector.cpu", "--no-collector.hwmon"), DEFAULT_ENABLED - {"cpu", "hwmon"}),
    (("--collector.cpu",), DEFAULT_ENABLED),
    (("--collector.disable-defaults",), frozenset()),
    (
        ("--collector.disable-defaults", "--collector.meminfo", "--collector.cpu"),
        {"meminfo", "cpu"},
    ),
    (("--no-collector.cpu", "--collector.cpu"), DEFAULT_ENABLED),  # the last one wins
]


@pytest.mark.parametrize(("flags", "enabled"), COLLECTOR_CASES)
def test_collector_flags(flags: tuple[str, ...], enabled: frozenset[str]) -> None:
    assert options(*flags).collectors == enabled


def test_path_and_collector_settings() -> None:
    got = options(
        "--web.listen-address=127.0.0.1:9200",
        "--path.procfs=/host/proc",
        "--path.sysfs",
        "/host/sys",
        "--path.rootfs=/host",
        "--collector.filesystem.mount-points-exclude=^/boot($|/)",
        "--collector.textfile.directory=/var/lib/node_exporter",
        "--collector.netclass.ignored-devices=^veth",
        "--collector.netclass.ignore-invalid-speed",
        "--collector.arp.device-exclude=^docker",
    )
    assert got.listen_address == "127.0.0.1:9200"
    assert got.exporter == ExporterOptions(
        paths=HostPaths(procfs="/host/proc", sysfs="/host/sys", rootfs="/host"),
        filesystem_mount_points_exclude="^/boot($|/)",
        textfile_directory="/var/lib/node_exporter",
        netclass_ignored_devices="^veth",
        netclass_ignore_invalid_speed=True,
        arp_device_exclude="^docker",
    )


def test_defaults_are_node_exporters_but_local() -> None:
    got = options()
    assert (got.listen_address, got.telemetry_path) == ("127.0.0.1:9100", "/metrics")
    assert got.exporter == ExporterOptions()


def test_unknown_collector_flag_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["agent", "--collector.nosuch"])
    assert "unrecognized arguments: --collector.nosuch" in capsys.readouterr().err


def test_log_shipping_flags() -> None:
    """No push URL, no shipping; with one, the edge stages in the order given, level last."""
    assert options().logs is None
    got = options(
        "--logs.push-url=http://vigil:9090/loki/api/v1/push",
        "--logs.files=/var/log/app/*.log",
        "--logs.docker-containers=",
        "--logs.drop=elb:user_agent=ELB-HealthChecker/",
        "--logs.extract=appointmentId,userId",
        "--logs.client-ip-field=x_forwarded_for",
        "--logs.trusted-proxies=10.0.0.0/8",
    ).logs
    assert got is not None
    assert (got.push_url, got.collection.files, got.collection.docker_containers) == (
        "http://vigil:9090/loki/api/v1/push",
        ("/var/log/app/*.log",),
        None,
    )
    assert [(type(s).__name__, s.name) for s in got.collection.stages] == [
        ("Drop", "elb"),
        ("Extract", "extract"),
        ("ClientIP", "client_ip"),
        ("Level", "level"),
    ]
    assert got.collection.journal is None


def test_journal_flags() -> None:
    got = options(
        "--logs.push-url=http://vigil:9090/loki/api/v1/push",
        "--logs.journal",
        "--logs.journal.path=/host/var/log/journal",
        "--logs.journal.max-age=2h",
    ).logs
    assert got is not None
    assert got.collection.journal == JournalOptions(Path("/host/var/log/journal"), 7200.0)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--logs.drop=noname", "want NAME=REGEX or NAME:FIELD=REGEX"),
        ("--logs.drop=bad=(", "missing closing )"),
        ("--logs.journal.max-age=soon", "soon"),
    ],
)
def test_bad_log_flags_say_why(flag: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        options("--logs.push-url=http://x/loki/api/v1/push", flag)
    assert message in capsys.readouterr().err
