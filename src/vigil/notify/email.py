"""Email notifications over SMTP, following Alertmanager 0.25's conversation: implicit TLS on
port 465, EHLO with `hello`, STARTTLS required unless `require_tls: false`, AUTH with the first
mechanism the server offers that has credentials (CRAM-MD5, PLAIN, LOGIN), then a
multipart/alternative message (text part, then HTML part) built from the templates.

smtplib is blocking, so each send runs in a worker thread with a socket timeout that ends at
the notification's deadline."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import quopri
import random
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from vigil.alerting._api import Notification
from vigil.config.alertmanager import GlobalConfig
from vigil.config.http import Secret, TLSConfig
from vigil.config.http_client import ClientSetupError, ssl_context
from vigil.config.receiver import NO_SECRET, NO_TLS, Entry, HostPort
from vigil.notify.integration import Sender, SenderContext, SendError, read_secret_file
from vigil.notify.template import Templates, notification_data
from vigil.template import TemplateError

DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """`email_configs` entry with smarthost, from, hello, auth and TLS settings from `global:`
    (`smtp_*`). `headers` keep Alertmanager's canonical names (`Subject`, `X-Foo`); Subject, To
    and From get their defaults when the notifier is built, as Alertmanager does."""

    kind: ClassVar[str] = "email"
    line: int = 0
    send_resolved: bool = False
    to: str = ""
    from_: str = ""
    hello: str = "localhost"
    smarthost: HostPort = ""
    auth_username: str = ""
    auth_password: Secret = NO_SECRET
    auth_password_file: str = ""
    auth_secret: Secret = NO_SECRET
    auth_secret_file: str = ""
    auth_identity: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    html: str = '{{ template "email.default.html" . }}'
    text: str = ""
    require_tls: bool = True
    force_implicit_tls: bool | None = None
    tls_config: TLSConfig = NO_TLS

    @staticmethod
    def check(entry: Entry) -> None:
        if not entry.get("to"):
            raise entry.error("missing to address in email config")
        seen: set[str] = set()
        for header, _ in entry.pairs("headers"):
            canonical = canonical_header(header)
            if canonical in seen:
                raise entry.key_error("headers", f'duplicate header "{canonical}" in email config')
            seen.add(canonical)

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        entry.inherit("tls_config", glob.smtp_tls_config)
        if not entry.inherit("smarthost", glob.smtp_smarthost):
            raise entry.error("no global SMTP smarthost set")
        if not entry.inherit("from", glob.smtp_from):
            raise entry.error("no global SMTP from set")
        entry.inherit("hello", glob.smtp_hello)
        entry.inherit("auth_username", glob.smtp_auth_username)
        entry.inherit_pair(
            "auth_password",
            "auth_password_file",
            glob.smtp_auth_password,
            glob.smtp_auth_password_file,
        )
        entry.inherit("auth_secret", glob.smtp_auth_secret)
        entry.inherit("auth_secret_file", glob.smtp_auth_secret_file)
        entry.inherit("auth_identity", glob.smtp_auth_identity)
        entry.setdefault("require_tls", glob.smtp_require_tls)
        if glob.smtp_force_implicit_tls is not None:
            entry.setdefault("force_implicit_tls", glob.smtp_force_implicit_tls)
        entry.set("headers", tuple((canonical_header(k), v) for k, v in entry.pairs("headers")))

    def sender(self, context: SenderContext) -> Sender:
        return Email(self, context.templates, context.external_url, context.now)


def canonical_header(name: str) -> str:
    """Go's strings.Title as Alertmanager applies it to email header names."""
    return re.sub(r"(?:^|(?<=[^A-Za-z0-9_]))([a-z])", lambda m: m.group(1).upper(), name)


@dataclass(frozen=True, slots=True)
class Message:
    """What goes over SMTP: envelope sender and recipients, and the message bytes."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


def headers_of(config: EmailConfig) -> tuple[tuple[str, str], ...]:
    """The configured headers plus Alertmanager's defaults for Subject, To and From."""
    names = {name for name, _ in config.headers}
    defaults = (("Subject", DEFAULT_SUBJECT), ("To", config.to), ("From", config.from_))
    return config.headers + tuple((n, v) for n, v in defaults if n not in names)


def q_encode(value: str) -> str:
    """Go's mime.QEncoding.Encode("utf-8", value): unchanged when plain ASCII, else encoded
    words of at most 75 characters."""
    if all(" " <= c <= "~" or c == "\t" for c in value):
        return value
    words: list[str] = []
    current = ""
    for char in value:
        encoded = "".join(
            chr(b)
            if (0x21 <= b <= 0x7E and chr(b) not in "=?_")
            else "_"
            if b == 0x20
            else f"={b:02X}"
            for b in char.encode()
        )
        if len("=?utf-8?q?") + len(current) + len(encoded) + 2 > 75:
            words.append(current)
            current = ""
        current += encoded
    words.append(current)
    return " ".join(f"=?utf-8?q?{w}?=" for w in words)


def _quoted_printable(text: str) -> bytes:
    body = quopri.encodestring(text.encode(), quotetabs=False)
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Email:
    """One `email_configs` entry as a sender."""

    def __init__(
        self,
        config: EmailConfig,
        templates: Templates,
        external_url: str,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._templates = templates
        self._external_url = external_url
        self._now = now

    def message(self, notification: Notification) -> Message:
        """Render headers, text and HTML; raises SendError (not retried) on template or
        address errors, as Alertmanager does."""
        conf = self._config
        data = notification_data(notification, self._external_url)
        try:
            sender = self._templates.text(conf.from_, data)
            to = self._templates.text(conf.to, data)
            headers = [(n, self._templates.text(v, data)) for n, v in headers_of(conf)]
            text = self._templates.text(conf.text, data)
            html = self._templates.html(conf.html, data)
        except TemplateError as err:
            raise SendError(f"execute template: {err}", retry=False) from None
        senders = [a for _, a in email.utils.getaddresses([sender]) if a]
        if len(senders) != 1:
            raise SendError(
                f"must be exactly one 'from' address (got: {len(senders)})", retry=False
            )
        recipients = tuple(a for _, a in email.utils.getaddresses([to]) if a)
        if not recipients:
            raise SendError(f"parse 'to' addresses: no address in {to!r}", retry=False)
        boundary = f"{random.getrandbits(240):060x}"
        lines = [f"{name}: {q_encode(value)}" for name, value in headers]
        if "Message-Id" not in {name for name, _ in headers}:
            lines.append(
                f"Message-Id: <{time.time_ns()}.{random.getrandbits(64)}@{socket.gethostname()}>"
            )
        lines.append(f"Date: {email.utils.format_datetime(_local(self._now()))}")
        lines.append(f"Content-Type: multipart/alternative;  boundary={boundary}")
        lines.append("MIME-Version: 1.0")
        out = "\r\n".join(lines).encode() + b"\r\n"
        parts = [(t, body) for t, body in (("plain", text), ("html", html)) if body]
        for kind, body in parts:
            out += (
                f"\r\n--{boundary}\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n"
                f"Content-Type: text/{kind}; charset=UTF-8\r\n\r\n"
            ).encode() + _quoted_printable(body)
        out += f"\r\n--{boundary}--\r\n".encode()
        return Message(senders[0], recipients, out)

    async def send(self, notification: Notification) -> str:
        message = self.message(notification)
        timeout = max(1.0, notification.deadline - self._now())
        return await asyncio.to_thread(self._deliver, message, timeout)

    def _deliver(self, message: Message, timeout: float) -> str:
        conf = self._config
        host, _, port = conf.smarthost.rpartition(":")
        host = host.strip("[]")
        try:
            context = ssl_context(conf.tls_config)
        except ClientSetupError as err:
            raise SendError(str(err), retry=False) from None
        implicit = conf.force_implicit_tls if conf.force_implicit_tls is not None else port == "465"
        try:
            smtp: smtplib.SMTP
            if implicit:
                smtp = smtplib.SMTP_SSL(
                    host, int(port), local_hostname=conf.hello, timeout=timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(host, int(port), local_hostname=conf.hello, timeout=timeout)
        except (OSError, smtplib.SMTPException) as err:
            what = (
                "establish TLS connection to server"
                if implicit
                else "establish connection to server"
            )
            raise SendError(f"{what}: {err}", retry=True) from None
        try:
            return self._converse(smtp, host, implicit, context, message)
        except smtplib.SMTPResponseException as err:
            raise SendError(f"{err.smtp_code} {_text(err.smtp_error)}", retry=True) from None
        except (OSError, smtplib.SMTPException) as err:
            raise SendError(f"{type(err).__name__}: {err}", retry=True) from None
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _converse(
        self,
        smtp: smtplib.SMTP,
        host: str,
        tls: bool,
        context: ssl.SSLContext,
        message: Message,
    ) -> str:
        conf = self._config
        smtp.ehlo_or_helo_if_needed()
        if conf.require_tls and not tls:
            if not smtp.has_extn("starttls"):
                raise SendError(
                    f"'require_tls' is true (default) but \"{conf.smarthost}\" does not"
                    " advertise the STARTTLS extension",
                    retry=True,
                )
            smtp.starttls(context=context)
            smtp.ehlo()
            tls = True
        if smtp.has_extn("auth") and conf.auth_username:
            self._authenticate(smtp, host, tls)
        smtp.mail(message.sender)
        for recipient in message.recipients:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise SendError(f"send RCPT command: {code} {_text(reply)}", retry=True)
        code, reply = smtp.data(message.data)
        return f"{code} {_text(reply)}"

    def _authenticate(self, smtp: smtplib.SMTP, host: str, tls: bool) -> None:
        conf = self._config
        user = conf.auth_username
        password = str(conf.auth_password) or (
            read_secret_file(conf.auth_password_file, "auth_password_file")
            if conf.auth_password_file
            else ""
        )
        secret = str(conf.auth_secret) or (
            read_secret_file(conf.auth_secret_file, "auth_secret_file")
            if conf.auth_secret_file
            else ""
        )
        problems: list[str] = []
        mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
        for mechanism in mechanisms:
            if mechanism == "CRAM-MD5":
                if not secret:
                    problems.append("missing secret for CRAM-MD5 auth mechanism")
                    continue
                smtp.user, smtp.password = user, secret
                smtp.auth("CRAM-MD5", smtp.auth_cram_md5)
                return
            if mechanism in ("PLAIN", "LOGIN"):
                if not password:
                    problems.append(f"missing password for {mechanism} auth mechanism")
                    continue
                if mechanism == "PLAIN" and not tls and host not in _LOCAL_HOSTS:
                    raise SendError("*smtp.plainAuth auth: unencrypted connection", retry=True)
                smtp.user, smtp.password = user, password
                if mechanism == "LOGIN":
                    smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
                    return
                response = f"{conf.auth_identity}\0{user}\0{password}"
                smtp.auth("PLAIN", lambda challenge=None, answer=response: answer)
                return
        raise SendError(
            "find auth mechanism: "
            + ("; ".join(problems) or f"unknown auth mechanism: {' '.join(mechanisms)}"),
            retry=True,
        )


def _local(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds).astimezone()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
