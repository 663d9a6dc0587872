"""`--web.config.file`: TLS, response headers and basic-auth users, in the format of
Prometheus's exporter-toolkit (the one Prometheus 2.42, Alertmanager and node_exporter read),
so one file serves vigil and those programs alike.

Strict like exporter-toolkit (an unknown key is an error) and checked at start: a file that
cannot be used stops the server with `file:line: field: why` and what would be valid. Relative
paths are relative to the file's directory. While serving, `WebConfigSource` re-reads the file
when it changes (basic-auth users and headers apply to the next request); TLS settings are read
at start only. What Python's `ssl` cannot do (Go's RequestClientCert, a list of curves) is
refused with the reason rather than silently weakened.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vigil.config._yaml import ConfigError, Node, load_yaml

log = logging.getLogger(__name__)

__all__ = [
    "ConfigError",
    "HTTPServerConfig",
    "TLSServerConfig",
    "WebConfig",
    "WebConfigSource",
    "load_web_config",
    "parse_web_config",
]

_TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users")
_TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "cipher_suites",
    "curve_preferences",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
)
_HTTP_KEYS = ("http2", "headers")

# exporter-toolkit's configurable headers and, where it restricts them, their allowed values.
_HEADERS: Mapping[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}

_VERSIONS: Mapping[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's client auth policies; None: one Python's ssl cannot express (it cannot ask for a
# client certificate without verifying it).
_CLIENT_AUTH: Mapping[str, ssl.VerifyMode | None] = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": None,
    "RequireAnyClientCert": None,
    "RequireClientCert": None,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}

# Go's crypto/tls CipherSuites() (the ones exporter-toolkit accepts) → OpenSSL names. TLS 1.3
# suites map to None: Go ignores them in cipher_suites (they are not configurable), so do we.
_CIPHERS: Mapping[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}

_CURVES: Mapping[str, str] = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}

# What Go's bcrypt.Cost accepts: $2$, $2a$, $2b$ or $2y$, a cost of 4..31, 53 characters.
_BCRYPT = re.compile(r"\$2[aby]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_BCRYPT_HINT = (
    "expected a bcrypt hash such as $2y$10$ followed by 53 characters "
    "(make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n')"
)


def _one_of(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True, slots=True)
class TLSServerConfig:
    """`tls_server_config`, with paths resolved against the web config file's directory."""

    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    cipher_suites: tuple[str, ...] = ()  # OpenSSL names; () is OpenSSL's defaults
    curve: str | None = None  # OpenSSL's name of the one ECDHE group allowed
    prefer_server_cipher_suites: bool = True

    def context(self) -> ssl.SSLContext:
        """The server's SSLContext; raises OSError or ssl.SSLError (load_web_config words them)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = self.min_version
        ctx.maximum_version = self.max_version
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.cipher_suites:
            ctx.set_ciphers(":".join(self.cipher_suites))
        if self.curve is not None:
            ctx.set_ecdh_curve(self.curve)
        if self.prefer_server_cipher_suites:
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        mode = _CLIENT_AUTH[self.client_auth_type]
        assert mode is not None  # refused when parsed
        if mode != ssl.CERT_NONE:
            if self.client_ca_file is not None:
                ctx.load_verify_locations(cafile=self.client_ca_file)
            else:  # as Go with no ClientCAs: the system's roots
                ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        ctx.verify_mode = mode
        return ctx


@dataclass(frozen=True, slots=True)
class HTTPServerConfig:
    """`http_server_config`. vigil serves HTTP/1.1 only: `http2` is accepted and has no effect."""

    http2: bool = True
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class WebConfig:
    """A parsed web config file; `basic_auth_users` maps a user name to its bcrypt hash."""

    tls: TLSServerConfig | None = None
    http: HTTPServerConfig = field(default_factory=HTTPServerConfig)
    basic_auth_users: Mapping[str, bytes] = field(default_factory=dict)


def parse_web_config(text: str, file: str) -> WebConfig:
    """Parse and validate a web config's text (no file is opened); raises ConfigError."""
    root = load_yaml(text, file)
    if root is None:
        return WebConfig()
    top = root.mapping(_TOP_KEYS, "the web config")
    tls_node = top.get("tls_server_config")
    http_node = top.get("http_server_config")
    users_node = top.get("basic_auth_users")
    base = Path(file).parent
    return WebConfig(
        tls=None if tls_node is None else _tls(tls_node, base),
        http=HTTPServerConfig() if http_node is None else _http(http_node),
        basic_auth_users={} if users_node is None else _users(users_node),
    )


def load_web_config(path: str | Path) -> WebConfig:
    """Read, parse and validate a web config file, including that its certificate and key
    load and match; raises ConfigError naming the file, line and field."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(file, 0, "", f"cannot read the web config: {err}") from None
    config = parse_web_config(text, file)
    if config.tls is not None:
        _check_tls_files(config.tls, text, file)
    return config


def _check_tls_files(tls: TLSServerConfig, text: str, file: str) -> None:
    """Build the context once so a missing file, a cert/key mismatch or a bad CA file stops
    the start with the field at fault."""
    for key, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if not path.is_file():
            raise _field_error(text, file, key, f"{path}: no such file")
    if tls.client_ca_file is not None and not tls.client_ca_file.is_file():
        raise _field_error(text, file, "client_ca_file", f"{tls.client_ca_file}: no such file")
    try:
        tls.context()
    except ssl.SSLError as err:
        reason = str(err.reason or err)
        if "MISMATCH" in reason.upper():
            raise _field_error(
                text,
                file,
                "key_file",
                f"{tls.key_file} is not the private key of {tls.cert_file} ({reason})",
            ) from None
        field_name = "client_ca_file" if "verify" in str(err).lower() else "cert_file"
        raise _field_error(
            text, file, field_name, f"cannot load the certificate or key: {err}"
        ) from None
    except OSError as err:
        raise _field_error(text, file, "cert_file", f"cannot read: {err}") from None


def _field_error(text: str, file: str, key: str, message: str) -> ConfigError:
    root = load_yaml(text, file)
    assert root is not None
    tls = root.mapping(_TOP_KEYS).get("tls_server_config")
    assert tls is not None
    entries = tls.mapping(_TLS_KEYS)
    node = entries.get(key) or entries.key(key)
    return ConfigError(file, node.line, f"tls_server_config.{key}", message)


def _tls(node: Node, base: Path) -> TLSServerConfig:
    m = node.mapping(_TLS_KEYS, "tls_server_config")
    cert, key = m.string("cert_file"), m.string("key_file")
    if not cert:
        raise m.key("cert_file").error("missing cert_file: the server's certificate (PEM)")
    if not key:
        raise m.key("key_file").error("missing key_file: the certificate's private key (PEM)")
    auth = m.string("client_auth_type") or "NoClientCert"
    if auth not in _CLIENT_AUTH:
        raise _at(m.get("client_auth_type"), node).error(
            f"invalid client_auth_type {auth!r}: expected one of {_one_of(_CLIENT_AUTH)}"
        )
    if _CLIENT_AUTH[auth] is None:
        raise _at(m.get("client_auth_type"), node).error(
            f"client_auth_type {auth!r} is not supported by vigil: Python's ssl cannot ask for "
            "a client certificate without verifying it; use RequireAndVerifyClientCert (or "
            "VerifyClientCertIfGiven) with client_ca_file"
        )
    ca = m.string("client_ca_file")
    if ca and auth == "NoClientCert":
        raise m.key("client_ca_file").error(
            "client CA's have been configured without a Client Auth Policy: set "
            "client_auth_type: RequireAndVerifyClientCert"
        )
    return TLSServerConfig(
        cert_file=base / cert,
        key_file=base / key,
        client_auth_type=auth,
        client_ca_file=base / ca if ca else None,
        min_version=_version(m.get("min_version"), ssl.TLSVersion.TLSv1_2),
        max_version=_version(m.get("max_version"), ssl.TLSVersion.TLSv1_3),
        cipher_suites=_ciphers(m.sequence("cipher_suites")),
        curve=_curve(m.get("curve_preferences")),
        prefer_server_cipher_suites=m.boolean("prefer_server_cipher_suites", True),
    )


def _at(node: Node | None, fallback: Node) -> Node:
    return fallback if node is None else node


def _version(node: Node | None, default: ssl.TLSVersion) -> ssl.TLSVersion:
    if node is None:
        return default
    name = node.string()
    if name not in _VERSIONS:
        raise node.error(f"unknown TLS version: {name} (expected one of {_one_of(_VERSIONS)})")
    return _VERSIONS[name]


def _ciphers(nodes: list[Node]) -> tuple[str, ...]:
    available = {c["name"] for c in ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).get_ciphers()}
    names: list[str] = []
    for item in nodes:
        name = item.string()
        if name not in _CIPHERS:
            raise item.error(f"unknown cipher: {name} (expected one of {_one_of(_CIPHERS)})")
        openssl_name = _CIPHERS[name]
        if openssl_name is None:
            continue
        if openssl_name not in available:
            raise item.error(
                f"cipher {name} ({openssl_name}) is not available in this Python's "
                f"{ssl.OPENSSL_VERSION} at its security level; remove it or choose another"
            )
        names.append(openssl_name)
    return tuple(names)


def _curve(node: Node | None) -> str | None:
    if node is None:
        return None
    items = node.sequence()
    for item in items:
        if item.string() not in _CURVES:
            raise item.error(f"unknown curve: {item.string()} (expected one of {_one_of(_CURVES)})")
    if len(items) > 1:
        raise node.error(
            "vigil can use only one curve (Python's ssl sets a single ECDHE group, not a "
            "preference list): list one, or remove curve_preferences for OpenSSL's defaults"
        )
    return _CURVES[items[0].string()] if items else None


def _http(node: Node) -> HTTPServerConfig:
    m = node.mapping(_HTTP_KEYS, "http_server_config")
    headers: list[tuple[str, str]] = []
    headers_node = m.get("headers")
    for key, value in headers_node.items() if headers_node is not None else ():
        name, text = key.string(), value.string()
        if name not in _HEADERS:
            raise key.error(
                f'HTTP header "{name}" can not be configured (expected one of {_one_of(_HEADERS)})'
            )
        allowed = _HEADERS[name]
        if allowed and text not in allowed:
            raise value.error(
                f'invalid value for {name}: expected one of {_one_of(allowed)}, got "{text}"'
            )
        if text:  # blank: unset, as in exporter-toolkit
            headers.append((name, text))
    return HTTPServerConfig(http2=m.boolean("http2", True), headers=tuple(headers))


def _users(node: Node) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for key, value in node.items():
        hashed = value.string()
        if not _BCRYPT.fullmatch(hashed):
            raise value.error(f"the password of {key.string()!r} is not usable: {_BCRYPT_HINT}")
        users[key.string()] = hashed.encode()
    return users


class WebConfigSource:
    """The web config of a running server, re-read when the file changes (its mtime, size or
    inode): as in exporter-toolkit, a change to `basic_auth_users` or `headers` applies to the
    next request. A file that has become unusable makes `current()` raise ConfigError, so the
    guard answers 500 until it is fixed (failing closed, as exporter-toolkit does)."""

    def __init__(self, path: Path, initial: WebConfig, stamp: tuple[int, int, int]) -> None:
        self.path = path
        self._config = initial
        self._stamp = stamp
        self._error: ConfigError | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path) -> WebConfigSource:
        """Load and fully validate the file (ConfigError when it cannot be used)."""
        path = Path(path)
        stamp = _stamp(path)
        return cls(path, load_web_config(path), stamp)

    def current(self) -> WebConfig:
        try:
            stamp = _stamp(self.path)
        except OSError as err:
            raise ConfigError(str(self.path), 0, "", f"cannot read the web config: {err}") from None
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        if self._error is not None:
            raise self._error
        return self._config

    def _reload(self, stamp: tuple[int, int, int]) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
            config = parse_web_config(text, str(self.path))
        except ConfigError as err:
            self._error = err
            log.error("web config %s is unusable, refusing requests: %s", self.path, err)
        except (OSError, UnicodeDecodeError) as err:
            self._error = ConfigError(str(self.path), 0, "", f"cannot read the web config: {err}")
            log.error("web config %s is unreadable, refusing requests: %s", self.path, err)
        else:
            if self._error is not None or config != self._config:
                log.info("web config %s reloaded", self.path)
            self._config, self._error = config, None
        self._stamp = stamp


def _stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size, st.st_ino


def reloading_context(current: Callable[[], WebConfig]) -> ssl.SSLContext | None:
    """The server's SSLContext, which re-reads the certificate and key at each handshake when
    they (or the web config's TLS section) have changed, as exporter-toolkit does per
    connection: a renewed certificate is served without a restart. What an SSL object keeps
    from the context it started with (client_auth_type, client CAs) needs a restart. None
    when the config has no TLS. A change that cannot be loaded is logged and the last good
    context keeps serving."""
    tls = current().tls
    return None if tls is None else _ReloadingTLS(current, tls).context


class _ReloadingTLS:
    """The context a handshake starts with; its SNI callback (run for every ClientHello,
    with or without SNI) swaps in a context built from the files when they have changed."""

    def __init__(self, current: Callable[[], WebConfig], tls: TLSServerConfig) -> None:
        self._current = current
        self._key = _tls_key(tls)
        self.context = self._load(tls)

    def _load(self, tls: TLSServerConfig) -> ssl.SSLContext:
        ctx = tls.context()
        ctx.sni_callback = self._on_hello
        return ctx

    def _on_hello(self, sock: ssl.SSLObject | ssl.SSLSocket, _: str | None, __: object) -> None:
        try:
            tls = self._current().tls
            if tls is not None and (key := _tls_key(tls)) != self._key:
                self.context, self._key = self._load(tls), key
        except (ConfigError, OSError, ssl.SSLError) as err:
            log.warning("web config: keeping the last TLS certificate: %s", err)
        sock.context = self.context


def _tls_key(tls: TLSServerConfig) -> tuple[object, ...]:
    """What a handshake compares to decide whether to load the files again."""
    stamps = []
    for path in (tls.cert_file, tls.key_file):
        try:
            stamps.append(_stamp(Path(path)))
        except OSError:
            stamps.append((0, 0, 0))
    return (tls, *stamps)
