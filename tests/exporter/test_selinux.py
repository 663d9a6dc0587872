"""The selinux collector on small trees: each state go-selinux distinguishes (the recorded tree,
SELinux enforcing by config and permissive now, has its golden file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exporter.conftest import exposition
from vigil.exporter import HostPaths
from vigil.exporter.selinux import SelinuxCollector, config_value

LABEL = b"system_u:system_r:node_exporter_t:s0\x00"


def values(root: Path, enforce: bytes | None, label: bytes | None, config: str | None) -> list[str]:
    files = {
        "sys/fs/selinux/enforce": enforce,
        "proc/self/attr/current": label,
        "rootfs/etc/selinux/config": config.encode() if config is not None else None,
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            (root / name).write_bytes(data)
    paths = HostPaths(
        procfs=str(root / "proc"), sysfs=str(root / "sys"), rootfs=str(root / "rootfs")
    )
    return [line for line in exposition(SelinuxCollector(paths)).splitlines() if line[0] != "#"]


ON = "node_selinux_enabled 1"
# (selinuxfs enforce file, this process's label, /etc/selinux/config, samples)
CASES = [
    (None, LABEL, "SELINUX=enforcing\n", ["node_selinux_enabled 0"]),  # selinuxfs not mounted
    (b"1", b"kernel\x00", "SELINUX=enforcing\n", ["node_selinux_enabled 0"]),
    (b"1", LABEL, "SELINUX=enforcing\n",
     [ON, "node_selinux_config_mode 1", "node_selinux_current_mode 1"]),
    (b"0", LABEL, "# SELINUX=enforcing\nSELINUX=permissive\n",
     [ON, "node_selinux_config_mode 0", "node_selinux_current_mode 0"]),
    (b"1", None, None, [ON, "node_selinux_config_mode -1", "node_selinux_current_mode 1"]),
    (b"1", LABEL, "SELINUX=disabled\n",
     [ON, "node_selinux_config_mode -1", "node_selinux_current_mode 1"]),
    (b"1\n", LABEL, "SELINUX=enforcing\n",  # Go's Atoi refuses the newline
     [ON, "node_selinux_config_mode 1", "node_selinux_current_mode -1"]),
]  # fmt: skip


@pytest.mark.parametrize(("enforce", "label", "config", "want"), CASES)
def test_states(
    tmp_path: Path, enforce: bytes | None, label: bytes | None, config: str | None, want: list[str]
) -> None:
    assert values(tmp_path, enforce, label, config) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (b'SELINUX="enforcing"\n', b"enforcing"),
        (b"; SELINUX=permissive\nSELINUX=enforcing\n", b"enforcing"),
        (b"  SELINUX=permissive  \nSELINUX=enforcing\n", b"permissive"),
        (b"SELINUXTYPE=targeted\n", None),
        (b"SELINUX\n", None),
    ],
)
def test_config_value(text: bytes, want: bytes | None) -> None:
    assert config_value(text, b"SELINUX") == want
