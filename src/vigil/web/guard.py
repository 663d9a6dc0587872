"""The ASGI middleware in front of every vigil HTTP app: basic auth, CSRF and response headers.

Basic auth (`basic_auth_users` of `--web.config.file`): every route — UI pages, /static/*,
every API, /metrics, /-/healthy — answers 401 with `WWW-Authenticate: Basic` unless the
request carries a listed user and the password of its bcrypt hash, as exporter-toolkit does.
A bcrypt check costs tens of ms, so successes are cached by (user, stored hash, SHA-256 of the
password given), as exporter-toolkit does; a changed hash misses the cache. Checks run in
worker threads, at most a few at a time: a flood of wrong passwords queues behind that bound
and can neither evict a cached success nor delay a request that has one. Unknown users are
checked against a dummy hash so the answer takes as long as for a known one.

CSRF model. vigil's API is called by programs (curl, Grafana's backend, amtool, Prometheus
remote-write), which send no `Origin`, and by vigil's own UI, served from the same origin.
A browser, whatever page it runs, attaches the user's basic-auth credentials to any request
to vigil, and it always sends `Origin` (and, recent ones, `Sec-Fetch-Site`) on a
state-changing one. So a POST, PUT, PATCH or DELETE is refused with 403 when:
- `Sec-Fetch-Site: cross-site`, or
- `Origin` is present and is neither the request's own scheme://host:port nor that of
  `--web.external-url` (vigil behind a reverse proxy), or
- it carries `X-Vigil-UI: 1` (the UI's mark) and credentials but no `Origin`: a browser
  request that lost the header that proves where it comes from.
Requests without `Origin` pass: a program that can forge headers can also just send the
request, so there is nothing a check could protect. Nothing else is exempt. Before that, a
browser's state-changing request (one with `Origin` or `Sec-Fetch-Site`) whose `Host` is not
one of the server's names (`--web.allowed-hosts`) is refused with 403: a DNS-rebinding page's
requests are same-origin for the browser. Programs (shippers, collectors) call vigil by
whatever name their network gives it and pass.
A WebSocket handshake (Loki's live tail) is checked as a state-changing request: browsers
apply no CORS to WebSockets, so a page elsewhere could otherwise read a tail with the
user's credentials; its refusals are denial responses before the upgrade.

Headers from `http_server_config.headers` are added to every response that does not set the
header itself (the UI's own `X-Frame-Options` and CSP on index.html are kept).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from vigil.config._yaml import ConfigError
from vigil.web.hosts import AllowedHosts
from vigil.web.webconfig import WebConfig

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BROWSER_MARKS = (b"origin", b"sec-fetch-site", b"x-vigil-ui")
_CACHE_SIZE = 100
_BCRYPT_CONCURRENCY = 2  # bcrypt holds a core each: more only queues inside the CPU
# bcrypt of a random password nobody knows: checked for unknown users, so that timing does
# not tell which user names exist.
_DUMMY_HASH = b"$2b$10$R8RxXFMZjY3FCelMDKnirOROzRetEcEeaiFNvYmhPkNsnkrCsjsn."
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> str | None:
    """`scheme://host:port`, lower-cased, with the scheme's default port made explicit."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port or _DEFAULT_PORTS[parts.scheme]}"


class BasicAuthCache:
    """Checks (user, password) against bcrypt hashes off the event loop, at most
    `concurrency` at once, remembering the last `size` successes. bcrypt and anyio are
    imported by the first check: a server without basic_auth_users never loads them."""

    def __init__(self, size: int = _CACHE_SIZE, concurrency: int = _BCRYPT_CONCURRENCY) -> None:
        self._size = size
        self._good: OrderedDict[tuple[str, bytes, bytes], None] = OrderedDict()
        self._lock = threading.Lock()  # guards `_good` only, never held during bcrypt
        self._concurrency = concurrency
        self._slots: Any = None  # anyio.CapacityLimiter, made by the first check
        self.bcrypt_checks = 0

    def cached(self, users: Mapping[str, bytes], user: str, password: bytes) -> bool:
        key = self._key(users, user, password)
        with self._lock:
            if key not in self._good:
                return False
            self._good.move_to_end(key)
            return True

    async def verify(self, users: Mapping[str, bytes], user: str, password: bytes) -> bool:
        """A cached success at once; else bcrypt in a worker thread, queued behind the
        concurrency bound (the wait holds no thread)."""
        if self.cached(users, user, password):
            return True
        import anyio
        import anyio.to_thread

        if self._slots is None:
            self._slots = anyio.CapacityLimiter(self._concurrency)
        return await anyio.to_thread.run_sync(
            self._check, users, user, password, limiter=self._slots
        )

    def _check(self, users: Mapping[str, bytes], user: str, password: bytes) -> bool:
        """Compare in constant time (bcrypt.checkpw); remember a success."""
        if self.cached(users, user, password):  # verified while this one queued
            return True
        import bcrypt

        hashed = users.get(user)
        with self._lock:
            self.bcrypt_checks += 1
        try:
            ok = bcrypt.checkpw(password, hashed or _DUMMY_HASH) and hashed is not None
        except ValueError:  # a password bcrypt refuses (over 72 bytes)
            ok = False
        if ok:
            with self._lock:
                self._good[self._key(users, user, password)] = None
                if len(self._good) > self._size:
                    self._good.popitem(last=False)
        return ok

    @staticmethod
    def _key(users: Mapping[str, bytes], user: str, password: bytes) -> tuple[str, bytes, bytes]:
        return user, users.get(user, b""), hashlib.sha256(password).digest()


def _credentials(header: bytes) -> tuple[str, bytes] | None:
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


async def _plain(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]], websocket: bool = False
) -> None:
    """A plain-text answer; to a WebSocket handshake, as the denial response before upgrade."""
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    prefix = "websocket." if websocket else ""
    await send({"type": f"{prefix}http.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}http.response.body", "body": body})


class WebGuard:
    """ASGI middleware; `config` returns the current WebConfig (raising ConfigError when the
    file has become unusable: every request then gets 500, as with exporter-toolkit)."""

    def __init__(
        self,
        app: ASGIApp,
        config: Callable[[], WebConfig],
        external_url: str = "",
        cache: BasicAuthCache | None = None,
        internal_token: str = "",
        allowed_hosts: AllowedHosts | None = None,
    ) -> None:
        self.app = app
        self._allowed_hosts = allowed_hosts
        # `Authorization: Bearer <token>` from vigil's own default self-scrape.
        self._internal = b"Bearer " + internal_token.encode() if internal_token else b""
        self._config = config
        self._external_origin = _origin(external_url) if external_url else None
        self.cache = cache if cache is not None else BasicAuthCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        try:
            config = self._config()
        except ConfigError as err:
            log.error("refusing %s: %s", scope.get("path"), err)
            await _plain(send, 500, "Internal Server Error\n", [], websocket)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.lower(), value)
        extra = [(k.lower().encode(), v.encode()) for k, v in config.http.headers]
        if websocket or scope.get("method") in STATE_CHANGING:
            refusal = self._unknown_host(headers) or self._cross_origin(scope, headers)
            if refusal is not None:
                await _plain(send, 403, refusal, extra, websocket)
                return
        if config.basic_auth_users and not await self._authorized(config, headers):
            challenge = [(b"www-authenticate", b"Basic"), *extra]
            await _plain(send, 401, "Unauthorized\n", challenge, websocket)
            return
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                added = [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _unknown_host(self, headers: dict[bytes, bytes]) -> str | None:
        """Why a state-changing request's Host is refused (DNS rebinding), or None. Only a
        browser's request can be a rebinding one, and a browser marks every state-changing
        request (`Origin`, `Sec-Fetch-Site`): a program without those marks (a log shipper
        pushing to `http://vigil:3100`, a collector, remote write) passes whatever name it
        calls this server by."""
        if not any(mark in headers for mark in _BROWSER_MARKS):
            return None
        host = headers.get(b"host", b"").decode("latin-1")
        if self._allowed_hosts is None or self._allowed_hosts.allows(host):
            return None
        return (
            f"request refused: Host {host} is not one of this server's names "
            "(--web.allowed-hosts); a page that re-resolved its own name to this server "
            "(DNS rebinding) sends such requests\n"
        )

    def _cross_origin(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """Why a state-changing request is refused as cross-origin, or None."""
        if headers.get(b"sec-fetch-site", b"").lower() == b"cross-site":
            return (
                "cross-site request refused (Sec-Fetch-Site: cross-site): vigil refuses "
                "state-changing requests from other sites (CSRF)\n"
            )
        origin = headers.get(b"origin")
        if origin is None:
            if headers.get(b"x-vigil-ui") and headers.get(b"authorization"):
                return (
                    "request refused: a UI request with credentials must carry an Origin header\n"
                )
            return None
        claimed = _origin(origin.decode("latin-1"))
        scheme = scope.get("scheme", "http")
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        own = _origin(f"{scheme}://{headers.get(b'host', b'').decode('latin-1')}")
        if claimed is not None and claimed in (own, self._external_origin):
            return None
        return (
            f"cross-origin request refused: Origin {origin.decode('latin-1')} is not this "
            f"server's ({own or 'unknown'}); vigil refuses state-changing requests from other "
            "origins (CSRF)\n"
        )

    async def _authorized(self, config: WebConfig, headers: dict[bytes, bytes]) -> bool:
        header = headers.get(b"authorization")
        if header is not None and self._internal and hmac.compare_digest(header, self._internal):
            return True
        credentials = _credentials(header) if header is not None else None
        if credentials is None:
            return False
        user, password = credentials
        return await self.cache.verify(config.basic_auth_users, user, password)
