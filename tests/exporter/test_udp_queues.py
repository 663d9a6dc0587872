"""The udp_queues collector without IPv6, without UDP at all, and on a line it cannot read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exporter.conftest import exposition
from vigil.exporter import HostPaths, NoDataError, SourceError
from vigil.exporter.udp_queues import UDPQueuesCollector

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
SOCKET = "  783: 00000000:0044 00000000:0000 07 {queues} 00:00000000 00000000     0        0 17231 2 0000000000000000 0\n"


def collector(tmp_path: Path, **files: str) -> UDPQueuesCollector:
    (tmp_path / "net").mkdir()
    for name, text in files.items():
        (tmp_path / "net" / name).write_text(text)
    return UDPQueuesCollector(HostPaths(procfs=str(tmp_path)))


def test_without_ipv6_only_v4_is_reported(tmp_path: Path) -> None:
    text = exposition(collector(tmp_path, udp=HEADER + SOCKET.format(queues="00000010:00000100")))
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        'node_udp_queues{ip="v4",queue="tx"} 16',
        'node_udp_queues{ip="v4",queue="rx"} 256',
    ]


def test_without_udp_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        collector(tmp_path).collect()


@pytest.mark.parametrize("queues", ["00000010", "0000001g:00000000"])
def test_unreadable_queues_are_an_error(tmp_path: Path, queues: str) -> None:
    with pytest.raises(SourceError, match="tx_queue:rx_queue"):
        collector(tmp_path, udp=HEADER + SOCKET.format(queues=queues)).collect()
