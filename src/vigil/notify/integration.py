"""One configured integration of a receiver (the second `slack_configs` entry, say): what
sends, under which name and index, and the error type that says why a send failed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx

from vigil import __version__
from vigil.alerting._api import Notification, NotifyError
from vigil.config.http import HTTPClientConfig
from vigil.config.http_client import UnreadableSecret, async_client
from vigil.config.http_client import read_secret_file as _read_file
from vigil.config.receiver import KindDefaults, ReceiverKind
from vigil.notify.template import Templates

USER_AGENT = f"vigil/{__version__} (Alertmanager/0.25.0 compatible)"


class SendError(NotifyError):
    """A failed send with Alertmanager's failure reason (the `reason` label of
    `alertmanager_notifications_failed_total`): clientError, serverError or other."""

    def __init__(self, message: str, *, retry: bool, reason: str = "other") -> None:
        super().__init__(message, retry=retry)
        self.reason = reason


class Sender(Protocol):
    """Sends one notification once; returns what the far end answered ("200 OK", an SMTP
    reply) or raises NotifyError."""

    async def send(self, notification: Notification) -> str: ...


@dataclass(frozen=True, slots=True)
class SenderContext:
    """What a receiver kind's sender may need besides its own settings."""

    templates: Templates
    external_url: str
    now: Callable[[], float]


@runtime_checkable
class SendingKind(ReceiverKind, Protocol):
    """A receiver kind with its sender: None for kinds vigil validates but cannot send to."""

    def sender(self, context: SenderContext) -> Sender | None: ...


class Unsent(KindDefaults):
    """A kind vigil reads and validates but has no sender for (see vigil.notify.unsupported)."""

    __slots__ = ()

    def sender(self, context: SenderContext) -> Sender | None:
        return None


@dataclass(frozen=True, slots=True)
class Integration:
    """A `Stage` that sends once: `RetryStage` wraps it to retry until the deadline.

    `name` is the kind ("slack"), `index` its position among the receiver's entries of that
    kind, as in Alertmanager's logs and notification log keys.
    """

    receiver: str
    name: str
    index: int
    send_resolved: bool
    sender: Sender

    def __str__(self) -> str:
        return f"{self.name}[{self.index}]"

    async def exec(self, notification: Notification) -> Notification | None:
        await self.sender.send(notification)
        return notification


def check_response(response: httpx.Response, what: str = "") -> str:
    """Alertmanager's Retrier.Check: 2xx succeeds, 5xx is retried, anything else is final;
    the error carries the status and the start of the body."""
    status = f"{response.status_code} {response.reason_phrase}".strip()
    if response.status_code // 100 == 2:
        return status
    body = response.text[:1024].strip()
    message = f"unexpected status code {response.status_code}"
    if body:
        message += f": {body}"
    if what:
        message = f"{what}: {message}"
    server = response.status_code // 100 == 5
    raise SendError(message, retry=server, reason="serverError" if server else "clientError")


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    what: str = "",
    headers: dict[str, str] | None = None,
) -> str:
    """POST a JSON body; a connection failure is retried, with the URL's secret parts hidden."""
    try:
        response = await client.post(
            url, content=body, headers={"Content-Type": "application/json", **(headers or {})}
        )
    except httpx.HTTPError as err:
        raise SendError(f"{redact(url)}: {type(err).__name__}: {err}", retry=True) from None
    return check_response(response, what)


def redact(url: str) -> str:
    """A URL as errors may print it: scheme and host only (webhook paths hold tokens)."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{':' + str(parts.port) if parts.port else ''}/<redacted>"


def go_json(value: object) -> bytes:
    """Go's json.Encoder output: compact, `<`, `>`, `&`, U+2028/9 escaped, newline-terminated;
    keys in the order given (Go's struct field order)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _GO_JSON_ESCAPES:
        text = text.replace(raw, escaped)
    return (text + "\n").encode()


_GO_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def read_secret_file(path: str, what: str) -> str:
    """A `*_file` setting's content, trimmed (Alertmanager reads it at each send)."""
    try:
        return _read_file(path)
    except UnreadableSecret as err:
        raise SendError(f"unable to read {what}: {err}", retry=False) from None


def build_client(config: HTTPClientConfig, timeout: float | None = None) -> httpx.AsyncClient:
    """The client a receiver posts with; `timeout` (seconds) bounds each request, None for
    no bound other than the notification's deadline. Settings that cannot be used fail each
    send (retried) with the reason."""
    return async_client(config, timeout=timeout, headers={"User-Agent": USER_AGENT})
