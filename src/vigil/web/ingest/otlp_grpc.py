"""OTLP/gRPC on --otlp.grpc.listen-address (off by default; `pip install vigil[grpc]`): the
trace, logs and metrics services' Export on a grpc.aio server in the server's event loop,
each storing through its OTLP/HTTP receiver's own decode and store path. grpcio is imported
only when the flag is set. A request that is not valid is INVALID_ARGUMENT, one over a limit
RESOURCE_EXHAUSTED; a store that cannot write is UNAVAILABLE, which exporters retry; bodies
are bounded by gRPC's receive limit."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from vigil.logs.ingest.batch import IngestRejected
from vigil.remote.receiver import StorageRefusals, WriteRejected
from vigil.tsdb import StorageNotReady
from vigil.web.listen import parse_listen_address

log = logging.getLogger(__name__)

FLAG = "--otlp.grpc.listen-address"
TRACES = "opentelemetry.proto.collector.trace.v1.TraceService"
LOGS = "opentelemetry.proto.collector.logs.v1.LogsService"
METRICS = "opentelemetry.proto.collector.metrics.v1.MetricsService"
METHOD = f"/{TRACES}/Export"

Export = Callable[[bytes], bytes]
"""One service's Export, blocking: request bytes → response bytes; raises WriteRejected or
IngestRejected for a request refused, StorageNotReady or OSError when nothing was stored."""


class OTLPGrpc:
    """`exports` by gRPC service name. Checks its address, that it is free and that grpcio is
    installed when built (errors before anything starts), binds when started."""

    def __init__(
        self,
        address: str,
        exports: Mapping[str, Export],
        max_message_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        host, port = parse_listen_address(address, FLAG)
        if importlib.util.find_spec("grpc") is None:
            raise ValueError(f"{FLAG}={address} needs grpcio: pip install 'vigil[grpc]'")
        self.address = address
        self._target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._exports = dict(exports)
        self._max_message_bytes = max_message_bytes
        self._refusals = StorageRefusals(clock, "OTLP/gRPC")
        _check_free(host, port, address)
        self._server: Any = None

    async def start(self) -> None:
        import grpc

        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self._max_message_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    service, {"Export": grpc.unary_unary_rpc_method_handler(self._handler(export))}
                )
                for service, export in self._exports.items()
            ]
        )
        try:
            server.add_insecure_port(self._target)
        except RuntimeError as err:
            raise OSError(f"{FLAG}={self.address}: cannot listen: {err}") from None
        await server.start()
        self._server = server
        log.info("OTLP/gRPC listening on %s", self.address)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=5)
            self._server = None

    def _handler(self, export: Export) -> Callable[[bytes, Any], Awaitable[bytes]]:
        """Bytes in, bytes out: the request is decoded by the receiver, not by grpc."""

        async def handle(body: bytes, context: Any) -> bytes:
            import grpc

            try:
                return await asyncio.to_thread(export, body)
            except (WriteRejected, IngestRejected) as err:
                log.warning("OTLP/gRPC from %s refused: %s", context.peer(), err.message)
                code = (
                    grpc.StatusCode.RESOURCE_EXHAUSTED
                    if err.status in (413, 429)
                    else grpc.StatusCode.INVALID_ARGUMENT
                )
                await context.abort(code, err.message)
            except StorageNotReady as err:
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(err))
            except OSError as err:  # nothing of the request was stored: the exporter retries
                await context.abort(grpc.StatusCode.UNAVAILABLE, self._refusals.note(err))
            raise AssertionError("context.abort returns only by raising")

        return handle


def _check_free(host: str, port: int, address: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            reason = (err.strerror or str(err)).lower()
            raise OSError(f"{FLAG}={address}: cannot listen: {reason}") from None
