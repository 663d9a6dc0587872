"""Every outbound HTTP client, built one way from an `HTTPClientConfig` (Prometheus's
NewClientFromConfig): scrapes, http_sd, the Alertmanager client, remote write and read, and
every receiver.

- TLS: an `ssl.SSLContext` from every `tls_config` field (inline or file CA, client
  certificate and key, `server_name`, `insecure_skip_verify`, TLS versions).
- One `httpx.Auth` sets basic auth, `authorization` or an OAuth 2.0 client-credentials token
  (fetched, cached until it expires, fetched again when the client secret changes) unless the
  request already has an Authorization header, and adds every `http_headers` value as its own
  header line. `*_file` values are read for each request, so a rotated secret is used at once.
- A client that cannot be built (a CA file missing, a bad certificate) is still returned: its
  transport fails every request with the reason, as a `ClientSetupError`, which is an
  `httpx.TransportError` like any other failure to reach the far end. A scrape then reports
  `up` 0 with that reason and a receiver retries; nothing raises at load or reload time.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import os
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from vigil.config.http import HTTPClientConfig, HTTPHeader, OAuth2, TLSConfig

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_TOKEN_EXPIRY_MARGIN = 10.0  # Go's oauth2 treats a token as expired 10 s early


class ClientSetupError(httpx.TransportError):
    """A request not sent because the client's settings cannot be used now (a secret file that
    cannot be read, unusable TLS material, no OAuth 2.0 token); the message says which."""


class UnreadableSecret(Exception):
    """A `*_file` secret that could not be read; `cause` reads like Go's (`open PATH: no such
    file or directory`), the message like Prometheus's."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"unable to read file {path}: {cause}")
        self.cause = cause


def read_secret_file(path: str) -> str:
    """The content of a `*_file` setting, trimmed, read now."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UnreadableSecret(path, f"open {path}: {reason[:1].lower()}{reason[1:]}") from None


def secret_value(inline: str, path: str, what: str) -> str:
    """An inline secret, else the content of its file; raises ClientSetupError naming `what`."""
    if inline or not path:
        return str(inline)
    try:
        return read_secret_file(path)
    except UnreadableSecret as err:
        raise ClientSetupError(f"unable to read {what}: {err}") from None


# --------------------------------------------------------------------------- TLS


def ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """The client side of a `tls_config`; raises ClientSetupError. Built once per config and
    file versions (loading the system CAs takes tens of milliseconds), again when a file
    changes."""
    return _context(tls, _file_versions(tls))


def _file_versions(tls: TLSConfig) -> tuple[int, ...]:
    versions = []
    for path in (tls.ca_file, tls.cert_file, tls.key_file):
        try:
            versions.append(os.stat(path).st_mtime_ns if path else 0)
        except OSError:
            versions.append(-1)
    return tuple(versions)


class _SystemTrust(ssl.SSLContext):
    """A client context trusting the system's CAs, loaded at its first handshake instead of
    when it is built (~60 ms of CPU): a server that only scrapes plain-HTTP targets never
    loads them. (anyio runs a subclass's wrap_bio in a worker thread, where reading the CA
    files belongs anyway.)"""

    _loading = threading.Lock()
    _loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        with self._loading:
            if not self._loaded:
                self.load_default_certs()
                self._loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load()
        return super().wrap_bio(*args, **kwargs)


@functools.lru_cache(maxsize=64)
def _context(tls: TLSConfig, _versions: tuple[int, ...]) -> ssl.SSLContext:
    ca = secret_value(tls.ca, tls.ca_file, "CA cert")
    context = (
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if ca else _SystemTrust(ssl.PROTOCOL_TLS_CLIENT)
    )
    if ca:
        try:
            context.load_verify_locations(cadata=ca)
        except (ssl.SSLError, ValueError):
            where = f"file {tls.ca_file}" if tls.ca_file else "inline"
            raise ClientSetupError(f"unable to use specified CA cert {where}") from None
    if tls.cert or tls.cert_file:
        _load_client_certificate(context, tls)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.min_version:
        context.minimum_version = _TLS_VERSIONS[tls.min_version]
    if tls.max_version:
        context.maximum_version = _TLS_VERSIONS[tls.max_version]
    return context


def _load_client_certificate(context: ssl.SSLContext, tls: TLSConfig) -> None:
    """ssl loads certificates from files only: inline ones go through a private temporary file."""
    cert = secret_value(tls.cert, tls.cert_file, "specified client cert")
    key = secret_value(tls.key, tls.key_file, "specified client key")
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{cert}\n{key}\n")
        context.load_cert_chain(path)
    except ssl.SSLError as err:
        cert_from = tls.cert_file or "inline"
        key_from = tls.key_file or "inline"
        raise ClientSetupError(
            f"unable to use specified client cert ({cert_from}) & key ({key_from}): {err.reason or err}"
        ) from None
    finally:
        os.unlink(path)


# --------------------------------------------------------------------------- auth and headers


@dataclass(slots=True)
class _Token:
    value: str = ""
    expires: float = 0.0
    secret: str = ""


class _OAuth2Tokens:
    """Client-credentials tokens for one `oauth2` block (RFC 6749 section 4.4)."""

    def __init__(self, config: OAuth2, now: Callable[[], float]) -> None:
        self._config = config
        self._now = now
        self._token = _Token()

    def _cached(self) -> tuple[str | None, str]:
        """The current token when still good, and the client secret to ask with."""
        config = self._config
        secret = secret_value(
            config.client_secret, config.client_secret_file, "oauth2 client secret"
        )
        token = self._token
        fresh = token.value and token.secret == secret
        if fresh and (not token.expires or self._now() < token.expires):
            return token.value, secret
        return None, secret

    def _token_request(self, secret: str) -> tuple[dict[str, str], dict[str, str]]:
        config = self._config
        form = {"grant_type": "client_credentials"}
        if config.scopes:
            form["scope"] = " ".join(config.scopes)
        form.update(config.endpoint_params)
        user = urllib.parse.quote_plus(config.client_id)
        password = urllib.parse.quote_plus(secret)
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        return form, {"Authorization": f"Basic {credentials}"}

    def _accept(self, response: httpx.Response, secret: str) -> str:
        if response.status_code // 100 != 2:
            raise ClientSetupError(
                f"oauth2: cannot fetch token: {response.status_code} {response.reason_phrase}"
                f"\nResponse: {response.text[:512]}"
            )
        try:
            body = json.loads(response.text)
            value = str(body["access_token"])
            kind = str(body.get("token_type") or "Bearer")
            lifetime = float(body.get("expires_in") or 0)
        except (ValueError, KeyError, TypeError) as err:
            raise ClientSetupError(f"oauth2: cannot parse token response: {err}") from None
        kind = "Bearer" if kind.lower() == "bearer" else kind
        expires = self._now() + lifetime - _TOKEN_EXPIRY_MARGIN if lifetime else 0.0
        self._token = _Token(f"{kind} {value}", expires, secret)
        return self._token.value

    def _client_options(self) -> dict[str, object]:
        config = self._config
        return {
            "verify": ssl_context(config.tls_config),
            "proxy": config.proxy_url or None,
            "timeout": httpx.Timeout(30.0),
        }

    def sync_header(self) -> str:
        token, secret = self._cached()
        if token is not None:
            return token
        form, headers = self._token_request(secret)
        try:
            with httpx.Client(**self._client_options()) as client:  # type: ignore[arg-type]
                response = client.post(self._config.token_url, data=form, headers=headers)
        except ClientSetupError:
            raise
        except httpx.HTTPError as err:
            raise ClientSetupError(f"oauth2: cannot fetch token: {err}") from None
        return self._accept(response, secret)

    async def async_header(self) -> str:
        token, secret = self._cached()
        if token is not None:
            return token
        form, headers = self._token_request(secret)
        try:
            async with httpx.AsyncClient(**self._client_options()) as client:  # type: ignore[arg-type]
                response = await client.post(self._config.token_url, data=form, headers=headers)
        except ClientSetupError:
            raise
        except httpx.HTTPError as err:
            raise ClientSetupError(f"oauth2: cannot fetch token: {err}") from None
        return self._accept(response, secret)


class _ConfigAuth(httpx.Auth):
    """basic_auth, authorization or oauth2, http_headers and server_name, for every request."""

    def __init__(self, config: HTTPClientConfig, now: Callable[[], float]) -> None:
        self._config = config
        self._oauth2 = _OAuth2Tokens(config.oauth2, now) if config.oauth2 is not None else None

    def _prepare(self, request: httpx.Request) -> None:
        config = self._config
        extra = [
            (name, value)
            for name, header in config.http_headers
            for value in _header_values(header)
        ]
        if extra:
            request.headers = httpx.Headers([*request.headers.multi_items(), *extra])
        if config.tls_config.server_name:
            request.extensions = {
                **request.extensions,
                "sni_hostname": config.tls_config.server_name,
            }
        if "Authorization" in request.headers:
            return
        if config.basic_auth is not None:
            basic = config.basic_auth
            username = secret_value(basic.username, basic.username_file, "basic auth username")
            password = secret_value(basic.password, basic.password_file, "basic auth password")
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            request.headers["Authorization"] = f"Basic {token}"
        elif config.authorization is not None:
            auth = config.authorization
            credentials = secret_value(
                auth.credentials, auth.credentials_file, "authorization credentials"
            )
            request.headers["Authorization"] = f"{auth.type} {credentials}"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        self._prepare(request)
        if self._oauth2 is not None and "Authorization" not in request.headers:
            request.headers["Authorization"] = self._oauth2.sync_header()
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self._prepare(request)
        if self._oauth2 is not None and "Authorization" not in request.headers:
            request.headers["Authorization"] = await self._oauth2.async_header()
        yield request


def _header_values(header: HTTPHeader) -> list[str]:
    values = [*header.values, *map(str, header.secrets)]
    for path in header.files:
        try:
            values.append(read_secret_file(path))
        except UnreadableSecret as err:
            raise ClientSetupError(f"unable to read headers file {path}: {err.cause}") from None
    return values


# --------------------------------------------------------------------------- clients


class _Refusal(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """The transport of a client that could not be built: every request fails with why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise ClientSetupError(self.reason, request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise ClientSetupError(self.reason, request=request)


def _options(
    config: HTTPClientConfig,
    timeout: float | None,
    headers: Mapping[str, str] | None,
    now: Callable[[], float],
) -> tuple[dict[str, object], ssl.SSLContext | None, str]:
    """Settings shared by both client kinds; the SSL context, or why there is none."""
    try:
        context: ssl.SSLContext | None = ssl_context(config.tls_config)
        reason = ""
    except ClientSetupError as err:
        context, reason = None, str(err)
    options: dict[str, object] = {
        "auth": _ConfigAuth(config, now),
        "headers": dict(headers or {}),
        "follow_redirects": config.follow_redirects,
        "trust_env": config.proxy_from_environment,
        "timeout": httpx.Timeout(timeout),
    }
    return options, context, reason


def _proxy(config: HTTPClientConfig) -> httpx.Proxy | None:
    if not config.proxy_url:
        return None
    return httpx.Proxy(
        config.proxy_url,
        headers=[(name, str(v)) for name, values in config.proxy_connect_header for v in values],
    )


def bypasses_proxy(no_proxy: str, host: str, port: int | None = None) -> bool:
    """Whether `no_proxy` (Go's NO_PROXY syntax: `*`, IPs, CIDR ranges, domains, each with an
    optional port) sends requests to `host` directly: `example.com` covers its subdomains,
    `.example.com` only them."""
    host = host.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if address is not None and address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        name = name.strip("[]")
        if not name or (entry_port and port is not None and entry_port != str(port)):
            continue
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _has_port(entry: str) -> bool:
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (":" not in head or head.endswith("]"))


class _AsyncRouted(httpx.AsyncBaseTransport):
    """Through the proxy, except to the `no_proxy` hosts."""

    def __init__(
        self, proxied: httpx.AsyncBaseTransport, direct: httpx.AsyncBaseTransport, no_proxy: str
    ) -> None:
        self._proxied, self._direct, self._no_proxy = proxied, direct, no_proxy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        direct = bypasses_proxy(self._no_proxy, url.host, url.port)
        return await (self._direct if direct else self._proxied).handle_async_request(request)

    async def aclose(self) -> None:
        await self._proxied.aclose()
        await self._direct.aclose()


class _Routed(httpx.BaseTransport):
    """Through the proxy, except to the `no_proxy` hosts."""

    def __init__(
        self, proxied: httpx.BaseTransport, direct: httpx.BaseTransport, no_proxy: str
    ) -> None:
        self._proxied, self._direct, self._no_proxy = proxied, direct, no_proxy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        direct = bypasses_proxy(self._no_proxy, url.host, url.port)
        return (self._direct if direct else self._proxied).handle_request(request)

    def close(self) -> None:
        self._proxied.close()
        self._direct.close()


def async_client(
    config: HTTPClientConfig,
    *,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: httpx.Limits | None = None,
    now: Callable[[], float] = time.monotonic,
) -> httpx.AsyncClient:
    """The asyncio client for `config`; never raises (see the module's note). `timeout` in
    seconds bounds each request (None: no bound), `headers` are sent with every request,
    `limits` size the connection pool, `transport` replaces the network (tests)."""
    options, context, reason = _options(config, timeout, headers, now)
    kwargs: dict[str, object] = {}
    pool = limits or httpx.Limits()
    if context is None:
        kwargs.update(transport=_Refusal(reason), trust_env=False)
    elif transport is not None:
        kwargs["transport"] = transport
    else:
        network: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(
            verify=context, proxy=_proxy(config), limits=pool
        )
        if config.proxy_url and config.no_proxy:
            direct = httpx.AsyncHTTPTransport(verify=context, limits=pool)
            network = _AsyncRouted(network, direct, config.no_proxy)
        kwargs.update(verify=context, transport=network)
    return httpx.AsyncClient(**{**options, **kwargs})  # type: ignore[arg-type]


def sync_client(
    config: HTTPClientConfig,
    *,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], float] = time.monotonic,
) -> httpx.Client:
    """The blocking client for `config` (remote read runs in worker threads); as async_client."""
    options, context, reason = _options(config, timeout, headers, now)
    kwargs: dict[str, object] = {}
    if context is None:
        kwargs.update(transport=_Refusal(reason), trust_env=False)
    elif transport is not None:
        kwargs["transport"] = transport
    else:
        sync_network: httpx.BaseTransport = httpx.HTTPTransport(
            verify=context, proxy=_proxy(config)
        )
        if config.proxy_url and config.no_proxy:
            sync_network = _Routed(
                sync_network, httpx.HTTPTransport(verify=context), config.no_proxy
            )
        kwargs.update(verify=context, transport=sync_network)
    return httpx.Client(**{**options, **kwargs})  # type: ignore[arg-type]
