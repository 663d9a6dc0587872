"""An httpx.AsyncClient made from a receiver's `http_config` (Prometheus's common HTTP client
settings): TLS, proxy, basic auth, `authorization` (bearer), custom headers, redirects. Secrets
kept in files are read on every request, so a rotated token is picked up without a reload."""

from __future__ import annotations

import base64
import functools
import os
import ssl
import tempfile
from collections.abc import Generator

import httpx

from vigil import __version__
from vigil.config.http import HTTPClientConfig, TLSConfig
from vigil.notify.integration import SendError

USER_AGENT = f"vigil/{__version__} (Alertmanager/0.25.0 compatible)"


class HTTPConfigError(SendError):
    """An `http_config` vigil cannot honour (a missing file, OAuth 2.0, bad TLS material);
    trying again would not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry=False)


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as err:
        raise HTTPConfigError(f"unable to read {what} {path}: {err.strerror or err}") from None


@functools.lru_cache(maxsize=64)
def ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """The client side of a `tls_config`: CA, client certificate, verification, versions
    (built once per distinct config: loading the system CAs takes tens of milliseconds)."""
    context = ssl.create_default_context()
    try:
        if tls.ca_file:
            context.load_verify_locations(cafile=tls.ca_file)
        if tls.ca:
            context.load_verify_locations(cadata=tls.ca)
        if tls.cert_file or tls.cert:
            _load_cert(context, tls)
    except (OSError, ssl.SSLError) as err:
        raise HTTPConfigError(f"tls_config: {err}") from None
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    versions = {
        "TLS10": ssl.TLSVersion.TLSv1,
        "TLS11": ssl.TLSVersion.TLSv1_1,
        "TLS12": ssl.TLSVersion.TLSv1_2,
        "TLS13": ssl.TLSVersion.TLSv1_3,
    }
    if tls.min_version:
        context.minimum_version = versions[tls.min_version]
    if tls.max_version:
        context.maximum_version = versions[tls.max_version]
    return context


def _load_cert(context: ssl.SSLContext, tls: TLSConfig) -> None:
    """ssl wants files; inline `cert`/`key` go through a private temporary file."""
    if tls.cert_file and (tls.key_file or not tls.key):
        context.load_cert_chain(tls.cert_file, tls.key_file or None)
        return
    cert = tls.cert or _read(tls.cert_file, "cert_file")
    key = str(tls.key) or _read(tls.key_file, "key_file")
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{cert}\n{key}\n")
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


class _ConfigAuth(httpx.Auth):
    """basic_auth, authorization and http_headers, with `*_file` values read per request."""

    def __init__(self, config: HTTPClientConfig) -> None:
        self._config = config

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        config = self._config
        if config.basic_auth is not None:
            basic = config.basic_auth
            username = basic.username or (
                _read(basic.username_file, "username_file") if basic.username_file else ""
            )
            password = str(basic.password) or (
                _read(basic.password_file, "password_file") if basic.password_file else ""
            )
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            request.headers["Authorization"] = f"Basic {token}"
        elif config.authorization is not None:
            auth = config.authorization
            credentials = str(auth.credentials) or (
                _read(auth.credentials_file, "credentials_file") if auth.credentials_file else ""
            )
            request.headers["Authorization"] = f"{auth.type} {credentials}"
        for name, header in config.http_headers:
            values = [*header.values, *map(str, header.secrets)]
            values += [_read(path, "http_headers file") for path in header.files]
            for value in values:
                request.headers[name] = value
        yield request


def check_http_config(config: HTTPClientConfig) -> None:
    """Fail at configuration time on what `build_client` would refuse at send time."""
    if config.oauth2 is not None:
        raise HTTPConfigError("http_config.oauth2 is not supported by vigil's receivers yet")
    ssl_context(config.tls_config)


def build_client(config: HTTPClientConfig, timeout: float | None = None) -> httpx.AsyncClient:
    """The client a receiver posts with; `timeout` (seconds) bounds each request, None for
    no bound other than the notification's deadline."""
    if config.oauth2 is not None:
        raise HTTPConfigError("http_config.oauth2 is not supported by vigil's receivers yet")
    return httpx.AsyncClient(
        verify=ssl_context(config.tls_config),
        proxy=config.proxy_url or None,
        trust_env=config.proxy_from_environment,
        follow_redirects=config.follow_redirects,
        auth=_ConfigAuth(config),
        headers={"User-Agent": USER_AGENT},
        timeout=httpx.Timeout(timeout),
    )
