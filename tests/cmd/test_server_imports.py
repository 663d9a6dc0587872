"""`vigil server` on its default configuration becomes ready without what only some servers
use: protobuf's runtime and the remote storage stage (remote write/read and OTLP metrics, built
by a config naming them or by their first request; protobuf scrapes), wsproto (Loki's live
tail), LogQL and the template engine (the default pack's log rules and templates are parsed by
its tests, not at each start; an alert's templates are expanded when it fires) and numpy.ma
(np.unique's first call imports it: a trace or log query, not the scrapes and default rules);
each is imported by its first use, which then works as before."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tests.cmd.test_lazy_routes import loaded_when_ready
from tests.conftest import PATIENCE_S, free_port, running

UNUSED = (
    "google.protobuf.descriptor_pool",
    "numpy.ma",
    "vigil.logs.logql.ast",
    "vigil.logs.logql.engine",
    "vigil.exposition.metrics_pb2",
    "vigil.remote.prompb_pb2",
    "vigil.remote.otlp.receiver",
    "vigil.remote.read",
    "vigil.remote.receiver",
    "vigil.remote.write",
    "vigil.template._template",
    "vigil.traces.forward",
    "wsproto",
)


def test_a_ready_server_has_not_imported_what_its_config_does_not_use(tmp_path: Path) -> None:
    assert loaded_when_ready(tmp_path / "data", UNUSED) == []


def test_every_name_logql_lists_is_there() -> None:
    from vigil.logs import logql

    assert [name for name in logql.__all__ if getattr(logql, name, None) is None] == []


@pytest.mark.slow
def test_the_first_websocket_upgrade_imports_wsproto_and_is_accepted(tmp_path: Path) -> None:
    """Loki's live tail over a real socket, on a server that has not imported wsproto (nor
    has this module: the test above reads UNUSED from it in its own process)."""
    import wsproto
    from wsproto.events import AcceptConnection, CloseConnection, Request

    port = free_port()
    args = [
        sys.executable, "-m", "vigil", "server", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--agent.disable",
    ]  # fmt: skip
    with (
        running(args, f"http://127.0.0.1:{port}/-/ready"),
        socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S) as sock,
    ):
        client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        target = "/loki/api/v1/tail?query=%7Bjob%3D%22app%22%7D"
        sock.sendall(client.send(Request(host=f"127.0.0.1:{port}", target=target)))
        events: list[object] = []
        while not events:
            client.receive_data(sock.recv(4096))
            events = list(client.events())
        sock.sendall(client.send(CloseConnection(code=1000)))
    assert [type(event) for event in events] == [AcceptConnection]
