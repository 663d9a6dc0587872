"""What the serving commands (server, agent, alertmanager) share: `--web.config.file`, read
before anything starts, and one uvicorn server behind the web guard."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import asyncio

    from vigil.web.listeners import Listener
    from vigil.web.webconfig import WebConfigSource


WEB_CONFIG_HELP = "web config (exporter-toolkit's format): TLS, basic_auth_users, headers"
ALLOWED_HOSTS_HELP = (
    "comma-separated Host names POST/PUT/DELETE requests may use (* for any; IP "
    "addresses always pass); default: localhost, the listen address, this machine's "
    "names and --web.external-url's host (refuses DNS-rebinding pages)"
)


def add_web_config_flag(parser: argparse.ArgumentParser) -> None:
    """exporter-toolkit's flag: TLS, response headers and basic-auth users from one file; and
    the Host names state-changing requests may use."""
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default="",
        metavar="FILE",
        help=WEB_CONFIG_HELP,
    )
    parser.add_argument(
        "--web.allowed-hosts",
        dest="allowed_hosts",
        default="",
        metavar="NAMES",
        help=ALLOWED_HOSTS_HELP,
    )


def web_config(command: str, path: str) -> WebConfigSource | None:
    """--web.config.file, checked before anything starts: an unusable file exits 1."""
    if not path:
        return None
    from vigil.web.webconfig import ConfigError, WebConfigSource

    try:
        return WebConfigSource.open(path)
    except ConfigError as err:
        print(f"vigil {command}: --web.config.file: {err}", file=sys.stderr)
        raise SystemExit(1) from None


def serve(
    command: str,
    listen_address: str,
    build: Callable[[], Any],
    serving: Callable[[Any], None] | None = None,
    web: WebConfigSource | None = None,
    external_url: str = "",
    internal_token: str = "",
    allowed_hosts: str = "",
    listeners: Sequence[Listener] = (),
    on_shutdown: Callable[[], None] = lambda: None,
    lean: bool = False,
    max_body_bytes: int = 1 << 20,
) -> int:
    """Build the ASGI app and serve it on --web.listen-address until stopped; `serving` gets
    the uvicorn server (setting its `should_exit` stops it). uvicorn's "auto" takes the C HTTP
    parser (httptools) and event loop (uvloop) when they import, else h11 and asyncio;
    WebSockets (Loki's live tail) through wsproto, a third of the import RSS of websockets,
    imported by the first upgrade.
    The app is always behind WebGuard (CSRF; with `web`, basic auth and headers); `web`'s
    tls_server_config turns on HTTPS; `internal_token` is the bearer token vigil's own
    self-scrape shows the guard instead of a password. Each of `listeners` (optional
    listeners such as --loki.listen-address) is bound too, behind the same guard. When the
    server stops (a signal, or `should_exit`), `on_shutdown` runs before it waits for the
    requests in progress: work that would hold that wait up (a long query) stops there.
    `lean` serves with vigil's small HTTP/1.1 server (`vigil.web.lean_server`: no WebSockets,
    no `serving`) instead of uvicorn, which refuses request bodies over `max_body_bytes`: the
    agent's and the standalone Alertmanager's choice, for their memory."""
    from vigil.web.listen import parse_listen_address

    try:
        host, port = parse_listen_address(listen_address)
    except ValueError as err:
        print(f"vigil {command}: {err}", file=sys.stderr)
        return 2
    try:
        listener = _bind(host, port)
    except OSError as err:
        hint = " (with make run: VIGIL_LISTEN_ADDRESS=HOST:PORT)" if command == "server" else ""
        print(
            f"vigil {command}: cannot listen on {listen_address}: "
            f"{(err.strerror or str(err)).lower()}; choose another address with "
            f"--web.listen-address=HOST:PORT{hint}",
            file=sys.stderr,
        )
        return 1
    extra = _bind_listeners(command, listeners)
    if extra is None:
        listener.close()
        return 1
    from vigil.web.guard import WebGuard
    from vigil.web.hosts import AllowedHosts
    from vigil.web.webconfig import WebConfig, reloading_context

    current = web.current if web is not None else WebConfig
    context = reloading_context(current)
    hosts = AllowedHosts.parse(allowed_hosts, host, external_url)
    main = build()
    if extra:
        from vigil.web.listeners import PortDispatch

        ports = {sock.getsockname()[1]: served.build() for served, sock in extra}
        main = PortDispatch(main, ports)
    app = WebGuard(main, current, external_url, internal_token=internal_token, allowed_hosts=hosts)
    scheme = "https" if context is not None else "http"
    logging.getLogger("vigil").info("%s listening on %s://%s:%d", command, scheme, host, port)
    for served, _ in extra:
        logging.getLogger("vigil").info(
            "%s: --%s listening on %s", command, served.flag, served.address
        )
    sockets = [listener, *(sock for _, sock in extra)]
    if lean:
        from vigil.web.lean_server import LeanServer

        lean_server = LeanServer(app, command, context, max_body_bytes)
        gc.freeze()
        gc.enable()
        return lean_server.run(sockets)
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http="auto",
        loop="auto",
        ws=cast("type[asyncio.Protocol]", _websocket_protocol),
        ssl_context_factory=None if context is None else lambda _config, _default: context,
    )
    server = _logged_server(config, command, on_shutdown)
    if serving is not None:
        serving(server)
    # What start-up built lives as long as the process: kept out of every later collection.
    gc.freeze()
    gc.enable()
    server.run(sockets=sockets)
    return 0


def _bind_listeners(
    command: str, listeners: Sequence[Listener]
) -> list[tuple[Listener, socket.socket]] | None:
    """Every optional listener's socket, or None (said on stderr) when one cannot be bound."""
    from vigil.web.listen import parse_listen_address

    bound: list[tuple[Listener, socket.socket]] = []
    for served in listeners:
        try:
            bound.append((served, _bind(*parse_listen_address(served.address))))
        except (OSError, ValueError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            print(
                f"vigil {command}: cannot listen on {served.address} (--{served.flag}): "
                f"{reason.lower()}; choose another address with --{served.flag}=HOST:PORT, "
                f"or turn it off with --{served.flag}=",
                file=sys.stderr,
            )
            for _, sock in bound:
                sock.close()
            return None
    return bound


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts: an address in use is refused with
    its reason before the storage opens or a "listening" line is logged."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    return listener


def _websocket_protocol(**kwargs: Any) -> Any:
    """uvicorn's wsproto protocol for one upgraded connection; importing it builds wsproto's
    frame tables, a twentieth of start-up CPU for what most processes never serve."""
    from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

    return WSProtocol(**kwargs)


def _logged_server(config: Any, command: str, on_shutdown: Callable[[], None]) -> Any:
    """uvicorn's server (imported here: `vigil check` never loads it), saying which signal
    stopped it, calling `on_shutdown` as it starts to stop, and waking once a second when
    idle instead of ten times."""
    import asyncio
    import contextlib

    import uvicorn

    class LoggedServer(uvicorn.Server):
        """uvicorn's main loop sleeps 0.1 s between checks of `should_exit`: a tenth of an
        idle server's CPU. This one sleeps a second (the Date header's resolution, refreshed
        by each tick) and is woken at once when `should_exit` is set, from any thread."""

        _loop: asyncio.AbstractEventLoop | None = None
        _wake: asyncio.Event | None = None
        _exit_asked = False

        @property
        def should_exit(self) -> bool:
            return self._exit_asked

        @should_exit.setter
        def should_exit(self, value: bool) -> None:
            self._exit_asked = value
            if value and self._loop is not None and self._wake is not None:
                with contextlib.suppress(RuntimeError):  # the loop has already closed
                    self._loop.call_soon_threadsafe(self._wake.set)

        async def main_loop(self) -> None:
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            ticks = 0
            while not await self.on_tick(ticks):
                ticks = (ticks + 10) % 864000  # on_tick counts tenths of a second
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if not self.should_exit:
                logging.getLogger("vigil").info(
                    "%s: %s received, shutting down", command, signal.Signals(sig).name
                )
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: Any = None) -> None:
            on_shutdown()
            await super().shutdown(sockets)
            logging.getLogger("vigil").info("%s stopped", command)

    return LoggedServer(config)
