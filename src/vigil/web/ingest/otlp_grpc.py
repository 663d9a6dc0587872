"""OTLP/gRPC traces on --otlp.grpc.listen-address (off by default; `pip install vigil[grpc]`):
`opentelemetry.proto.collector.trace.v1.TraceService/Export` on a grpc.aio server in the
server's event loop, storing through the OTLP/HTTP route's own decode and store path. grpcio
is imported only when the flag is set (it costs about 20 MiB of RSS). A body that is not a
request is INVALID_ARGUMENT; a store that cannot write is UNAVAILABLE, which exporters retry;
bodies are bounded by gRPC's receive limit (RESOURCE_EXHAUSTED beyond it)."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
from typing import Any

from vigil.remote.otlp.decode import PROTOBUF
from vigil.remote.receiver import WriteRejected
from vigil.traces.otlp import encode_response
from vigil.tsdb import StorageNotReady
from vigil.web.ingest.otlp_traces import OTLPTraces
from vigil.web.listen import parse_listen_address

log = logging.getLogger(__name__)

FLAG = "--otlp.grpc.listen-address"
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class OTLPGrpc:
    """Checks its address, that it is free and that grpcio is installed when built (errors
    before anything starts), binds when started."""

    def __init__(self, address: str, traces: OTLPTraces) -> None:
        host, port = parse_listen_address(address, FLAG)
        if importlib.util.find_spec("grpc") is None:
            raise ValueError(f"{FLAG}={address} needs grpcio: pip install 'vigil[grpc]'")
        self.address = address
        self._target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._traces = traces
        _check_free(host, port, address)
        self._max_message_bytes = traces.limits.max_decoded_bytes
        self._server: Any = None

    async def start(self) -> None:
        import grpc

        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self._max_message_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        handler = grpc.unary_unary_rpc_method_handler(self._export)  # bytes in, bytes out
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(METHOD.split("/")[1], {"Export": handler})]
        )
        try:
            server.add_insecure_port(self._target)
        except RuntimeError as err:
            raise OSError(f"{FLAG}={self.address}: cannot listen: {err}") from None
        await server.start()
        self._server = server
        log.info("OTLP/gRPC traces listening on %s", self.address)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=5)
            self._server = None

    async def _export(self, body: bytes, context: Any) -> bytes:
        import grpc

        try:
            stored = await asyncio.to_thread(self._traces.store, body, "", PROTOBUF)
        except WriteRejected as err:
            log.warning("OTLP/gRPC traces from %s refused: %s", context.peer(), err.message)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, err.message)
        except StorageNotReady as err:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"span store not ready: {err.status}")
        except OSError as err:  # nothing of the request was stored: the exporter retries
            await context.abort(grpc.StatusCode.UNAVAILABLE, self._traces.refused(err))
        if stored.message:
            log.warning("OTLP/gRPC traces from %s: %s", context.peer(), stored.message)
        return encode_response(PROTOBUF, stored.rejected, stored.message)


def _check_free(host: str, port: int, address: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            reason = (err.strerror or str(err)).lower()
            raise OSError(f"{FLAG}={address}: cannot listen: {reason}") from None
