"""The syslog listener (`--syslog.listen-address`): UDP datagrams and TCP streams on the same
address, each message parsed as it arrives and queued; one task stores what is queued in
batches through the `LogAppender` (many messages, one push). syslog has no acknowledgement:
a message the store cannot take (a full disk, the queue full) is dropped, logged and
counted in `vigil_syslog_messages_dropped_total{reason}`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from vigil.logs._api import LogAppender
from vigil.logs.ingest.batch import PushBatch
from vigil.logs.ingest.discovery import Discovery, DiscoveryOptions
from vigil.logs.ingest.syslog import Framer, FramingError, Message, parse
from vigil.tsdb import StorageNotReady

log = logging.getLogger(__name__)

_BATCH = 10_000
_READ = 1 << 16
_ONLY_LEVELS = DiscoveryOptions(service_name_sources=())  # labels stay {job, host, app}


class SyslogListener:
    def __init__(
        self,
        address: str,
        appender: Callable[[], LogAppender],
        now_ns: Callable[[], int],
        utc_offset_s: int = 0,
        max_queued: int = 100_000,
        registry: CollectorRegistry | None = None,
    ) -> None:
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            raise ValueError(f"--syslog.listen-address={address!r}: expected HOST:PORT, e.g. :1514")
        self.address = address
        self._host, self._port = host.strip("[]") or "0.0.0.0", int(port)
        self._appender = appender
        self._now_ns = now_ns
        self._utc_offset_s = utc_offset_s
        self._queue: asyncio.Queue[Message] = asyncio.Queue(max_queued)
        self._discovery = Discovery(_ONLY_LEVELS)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._pusher: asyncio.Task[None] | None = None
        self._queue_full = 0
        registry = registry if registry is not None else CollectorRegistry()
        self.received = Counter(
            "vigil_syslog_messages_received",
            "syslog messages received, by transport (udp, tcp).",
            ["transport"],
            registry=registry,
        )
        self.dropped = Counter(
            "vigil_syslog_messages_dropped",
            "syslog messages not stored, by reason: queue_full (the store is not keeping up), "
            "storage (the store cannot write), error (a bug, logged).",
            ["reason"],
            registry=registry,
        )
        for transport in ("udp", "tcp"):
            self.received.labels(transport)
        for reason in ("queue_full", "storage", "error"):
            self.dropped.labels(reason)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(lambda raw, peer: self._received(raw, peer, "udp")),
                local_addr=(self._host, self._port),
            )
            self._tcp = await asyncio.start_server(self._serve, self._host, self._port)
        except OSError as err:
            await self.stop()
            raise OSError(
                err.errno, f"--syslog.listen-address={self.address}: {err.strerror or err}"
            ) from None
        self._pusher = loop.create_task(self._push_loop(), name="syslog-push")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._connections):
                writer.close()
            await self._tcp.wait_closed()
        if self._pusher is not None:
            await self._queue.join()
            self._pusher.cancel()
        self._udp = self._tcp = self._pusher = None

    def _received(self, raw: bytes, peer: str, transport: str) -> None:
        self.received.labels(transport).inc()
        message = parse(raw, peer, self._now_ns(), self._utc_offset_s)
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._queue_full += 1
            self.dropped.labels("queue_full").inc()
            if self._queue_full % 10_000 == 1:
                log.warning(
                    "syslog: %d messages dropped, the store is not keeping up", self._queue_full
                )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername", ("",))[0])
        framer = Framer()
        self._connections.add(writer)
        try:
            while data := await reader.read(_READ):
                for frame in framer.feed(data):
                    self._received(frame, peer, "tcp")
            rest = framer.close()
            if rest:
                self._received(rest, peer, "tcp")
        except FramingError as err:
            log.warning("syslog: closing the connection from %s: %s", peer, err)
        except ConnectionError:
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _push_loop(self) -> None:
        while True:
            messages = [await self._queue.get()]
            while len(messages) < _BATCH and not self._queue.empty():
                messages.append(self._queue.get_nowait())
            try:
                await asyncio.to_thread(self._store, messages)
            except Exception:  # a bug here must not stop the listener: said, counted
                self.dropped.labels("error").inc(len(messages))
                log.exception("syslog: %d messages dropped", len(messages))
            finally:
                for _ in messages:
                    self._queue.task_done()

    def _store(self, messages: list[Message]) -> None:
        batch = PushBatch(self._discovery)
        for m in messages:
            batch.add_stream(m.labels(), [m.time_ns], [m.text.encode()], [m.metadata()])
        try:
            result = batch.push().store(self._appender())
        except (OSError, StorageNotReady) as err:
            self.dropped.labels("storage").inc(len(messages))
            log.error("syslog: %d messages dropped: %s", len(messages), err)
            return
        if result.discarded:
            refused = sum(d.lines for d in result.discarded)
            log.warning("syslog: %d messages refused: %s", refused, result.discarded[0].message)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, received: Callable[[bytes, str], None]) -> None:
        self._received = received

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data.strip():
            self._received(data, str(addr[0]))
