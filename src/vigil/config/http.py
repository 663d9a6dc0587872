"""The HTTP client settings every outbound client shares (Prometheus's common `http_config`):
TLS, basic auth, `authorization`, OAuth 2.0, proxies and headers, as frozen types and their
parser. Scrape configs, http_sd, Alertmanager clients, remote storage and every receiver read
them the same way; `vigil.config.http_client` turns them into httpx clients."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from vigil.config._yaml import Mapping, Node
from vigil.config.shown import redact_url

HTTP_CLIENT_KEYS = (
    "basic_auth",
    "authorization",
    "oauth2",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "follow_redirects",
    "enable_http2",
    "http_headers",
)
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-encoding",
        "content-length",
        "content-type",
        "user-agent",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "www-authenticate",
        "accept-encoding",
        "x-prometheus-remote-write-version",
        "x-prometheus-remote-read-version",
        "x-prometheus-scrape-timeout-seconds",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    }
)
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


class Secret(str):
    """A password or token: a str that never shows its value in reprs or logs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('<hidden>')" if self else "Secret('')"


_NO_SECRET = Secret("")


# --------------------------------------------------------------------------- HTTP client


@dataclass(frozen=True, slots=True)
class TLSConfig:
    ca: str = ""
    ca_file: str = ""
    cert: str = ""
    cert_file: str = ""
    key: Secret = _NO_SECRET
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""
    max_version: str = ""


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str = ""
    username_file: str = ""
    password: Secret = _NO_SECRET
    password_file: str = ""


@dataclass(frozen=True, slots=True)
class Authorization:
    """`authorization`, and also where `bearer_token(_file)` ends up, as in Prometheus."""

    type: str = "Bearer"
    credentials: Secret = _NO_SECRET
    credentials_file: str = ""


@dataclass(frozen=True, slots=True)
class OAuth2:
    client_id: str
    token_url: str
    client_secret: Secret = _NO_SECRET
    client_secret_file: str = ""
    scopes: tuple[str, ...] = ()
    endpoint_params: tuple[tuple[str, str], ...] = ()
    tls_config: TLSConfig = TLSConfig()
    proxy_url: str = ""


@dataclass(frozen=True, slots=True)
class HTTPHeader:
    values: tuple[str, ...] = ()
    secrets: tuple[Secret, ...] = ()
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HTTPClientConfig:
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    tls_config: TLSConfig = TLSConfig()
    proxy_url: str = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: tuple[tuple[str, tuple[Secret, ...]], ...] = ()
    follow_redirects: bool = True
    enable_http2: bool = True
    http_headers: tuple[tuple[str, HTTPHeader], ...] = ()


def parse_http_client(
    fields: Mapping, base: str, default: HTTPClientConfig = HTTPClientConfig()
) -> HTTPClientConfig:
    basic = _basic_auth(fields.get("basic_auth"), base)
    authorization = _authorization(fields.get("authorization"), base)
    oauth2 = _oauth2(fields.get("oauth2"), base)
    token = fields.secret("bearer_token")
    token_file = fields.string("bearer_token_file")
    if token and token_file:
        raise fields.key("bearer_token_file").error(
            "at most one of bearer_token and bearer_token_file"
        )
    if (basic or oauth2) and (token or token_file):
        raise fields.key("bearer_token" if token else "bearer_token_file").error(
            "at most one of basic_auth, oauth2, bearer_token and bearer_token_file"
        )
    if authorization is not None:
        if token or token_file:
            raise fields.key("authorization").error(
                "authorization cannot be combined with bearer_token or bearer_token_file"
            )
        if basic or oauth2:
            raise fields.key("authorization").error(
                "at most one of basic_auth, oauth2 and authorization"
            )
    elif token or token_file:
        authorization = Authorization("Bearer", Secret(token), join_dir(base, token_file))
    if oauth2 is not None and basic is not None:
        raise fields.key("oauth2").error("at most one of basic_auth, oauth2 and authorization")
    proxy_url = fields.url("proxy_url")
    if proxy_url:
        parse_url(fields.key("proxy_url"), proxy_url)
    no_proxy = fields.string("no_proxy")
    from_env = fields.boolean("proxy_from_environment", False)
    connect = _proxy_connect_header(fields.get("proxy_connect_header"))
    if connect and not from_env and not proxy_url:
        raise fields.key("proxy_connect_header").error(
            "proxy_connect_header needs proxy_url or proxy_from_environment"
        )
    if from_env and proxy_url:
        raise fields.key("proxy_url").error("proxy_url cannot be set with proxy_from_environment")
    if from_env and no_proxy:
        raise fields.key("no_proxy").error("no_proxy cannot be set with proxy_from_environment")
    if no_proxy and not proxy_url:
        raise fields.key("no_proxy").error("no_proxy needs proxy_url")
    return HTTPClientConfig(
        basic_auth=basic,
        authorization=authorization,
        oauth2=oauth2,
        tls_config=parse_tls_config(fields.get("tls_config"), base),
        proxy_url=proxy_url,
        no_proxy=no_proxy,
        proxy_from_environment=from_env,
        proxy_connect_header=connect,
        follow_redirects=fields.boolean("follow_redirects", default.follow_redirects),
        enable_http2=fields.boolean("enable_http2", default.enable_http2),
        http_headers=_http_headers(fields.get("http_headers"), base),
    )


def _basic_auth(node: Node | None, base: str) -> BasicAuth | None:
    if node is None:
        return None
    fields = node.mapping(("username", "username_file", "password", "password_file"), "basic_auth")
    auth = BasicAuth(
        fields.string("username"),
        join_dir(base, fields.string("username_file")),
        Secret(fields.secret("password")),
        join_dir(base, fields.string("password_file")),
    )
    if auth.username and auth.username_file:
        raise node.error("at most one of basic_auth username and username_file")
    if auth.password and auth.password_file:
        raise node.error("at most one of basic_auth password and password_file")
    return auth


def _authorization(node: Node | None, base: str) -> Authorization | None:
    if node is None:
        return None
    fields = node.mapping(("type", "credentials", "credentials_file"), "authorization")
    auth = Authorization(
        fields.string("type").strip() or "Bearer",
        Secret(fields.secret("credentials")),
        join_dir(base, fields.string("credentials_file")),
    )
    if auth.credentials and auth.credentials_file:
        raise node.error("at most one of authorization credentials and credentials_file")
    if auth.type.lower() == "basic":
        raise fields.key("type").error(
            'authorization type cannot be "basic", use basic_auth instead'
        )
    return auth


_OAUTH2_KEYS = (
    "client_id",
    "client_secret",
    "client_secret_file",
    "scopes",
    "token_url",
    "endpoint_params",
    "tls_config",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
)


def _oauth2(node: Node | None, base: str) -> OAuth2 | None:
    if node is None:
        return None
    fields = node.mapping(_OAUTH2_KEYS, "oauth2")
    auth = OAuth2(
        client_id=fields.string("client_id"),
        token_url=fields.string("token_url"),
        client_secret=Secret(fields.secret("client_secret")),
        client_secret_file=join_dir(base, fields.string("client_secret_file")),
        scopes=fields.strings("scopes"),
        endpoint_params=fields.string_map("endpoint_params"),
        tls_config=parse_tls_config(fields.get("tls_config"), base),
        proxy_url=fields.string("proxy_url"),
    )
    if not auth.client_id:
        raise node.error("oauth2 client_id must be configured")
    if not auth.token_url:
        raise node.error("oauth2 token_url must be configured")
    if auth.client_secret and auth.client_secret_file:
        raise node.error("at most one of oauth2 client_secret and client_secret_file")
    return auth


_TLS_KEYS = (
    "ca",
    "ca_file",
    "cert",
    "cert_file",
    "key",
    "key_file",
    "server_name",
    "insecure_skip_verify",
    "min_version",
    "max_version",
)


def parse_tls_config(node: Node | None, base: str) -> TLSConfig:
    if node is None:
        return TLSConfig()
    fields = node.mapping(_TLS_KEYS, "tls_config")
    for key in ("min_version", "max_version"):
        version = fields.string(key)
        if version and version not in TLS_VERSIONS:
            raise fields.key(key).error(f'"{version}" is not one of {", ".join(TLS_VERSIONS)}')
    tls = TLSConfig(
        ca=fields.string("ca"),
        ca_file=join_dir(base, fields.string("ca_file")),
        cert=fields.string("cert"),
        cert_file=join_dir(base, fields.string("cert_file")),
        key=Secret(fields.secret("key")),
        key_file=join_dir(base, fields.string("key_file")),
        server_name=fields.string("server_name"),
        insecure_skip_verify=fields.boolean("insecure_skip_verify", False),
        min_version=fields.string("min_version"),
        max_version=fields.string("max_version"),
    )
    for inline, path in (("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")):
        if getattr(tls, inline) and getattr(tls, path):
            raise fields.key(path).error(f"at most one of {inline} and {path}")
    if tls.min_version and tls.max_version and tls.max_version < tls.min_version:
        raise fields.key("max_version").error(
            "tls_config.max_version must be greater than or equal to tls_config.min_version"
            " if both are specified"
        )
    has_cert, has_key = bool(tls.cert or tls.cert_file), bool(tls.key or tls.key_file)
    if has_cert and not has_key:
        raise node.error("a client certificate needs key or key_file")
    if has_key and not has_cert:
        raise node.error("a client key needs cert or cert_file")
    return tls


def _proxy_connect_header(node: Node | None) -> tuple[tuple[str, tuple[Secret, ...]], ...]:
    if node is None:
        return ()
    return tuple(
        (key.string(), tuple(Secret(v) for v in value.secrets())) for key, value in node.items()
    )


def _http_headers(node: Node | None, base: str) -> tuple[tuple[str, HTTPHeader], ...]:
    if node is None:
        return ()
    out = []
    for key, value in node.items():
        name = key.string()
        if name.lower() in RESERVED_HEADERS or name.lower() == "authorization":
            raise key.error(f'setting header "{name}" is not allowed')
        if value.is_null:
            out.append((name, HTTPHeader()))
            continue
        fields = value.mapping(("values", "secrets", "files"), "an HTTP header")
        out.append(
            (
                name,
                HTTPHeader(
                    fields.strings("values"),
                    tuple(Secret(s) for s in fields.secrets("secrets")),
                    tuple(join_dir(base, f) for f in fields.strings("files")),
                ),
            )
        )
    return tuple(out)


def parse_headers(node: Node | None) -> tuple[tuple[str, str], ...]:
    """A plain `headers:` map (remote write/read, tracing): one value a name, no secrets."""
    if node is None:
        return ()
    out = []
    for key, value in node.items():
        name = key.string()
        if name.lower() == "authorization":
            raise key.error(
                "set the authorization header with basic_auth, authorization, oauth2 or sigv4"
            )
        if name.lower() in RESERVED_HEADERS:
            raise key.error(f"{name} is a reserved header; it must not be changed")
        out.append((name, value.string()))
    return tuple(out)


def join_dir(base: str, path: str) -> str:
    """Prometheus's config.JoinDir: relative paths are relative to the config file."""
    if not path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))


def parse_url(node: Node, url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as err:
        raise node.error(f'"{redact_url(url)}" is not a valid URL: {err}') from None
    return parts
