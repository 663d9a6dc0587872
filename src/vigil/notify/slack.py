"""Slack incoming-webhook notifications, with the JSON body Alertmanager 0.25 posts (same keys,
order, omissions and escaping), so a Slack-compatible sink cannot tell the two apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from vigil.alerting._api import Notification
from vigil.config.alertmanager import GlobalConfig
from vigil.config.duration import Duration
from vigil.config.http import HTTPClientConfig, Secret
from vigil.config.receiver import (
    NO_DURATION,
    NO_HTTP,
    NO_SECRET,
    URL,
    Entry,
    KindDefaults,
    SecretURL,
)
from vigil.notify.integration import (
    Sender,
    SenderContext,
    SendError,
    build_client,
    go_json,
    post_json,
    read_secret_file,
)
from vigil.notify.template import Data, Templates, notification_data
from vigil.template import TemplateError

MAX_TITLE_RUNES = 1024
_DEFAULT_MRKDWN_IN = ("fallback", "pretext", "text")


@dataclass(frozen=True, slots=True)
class SlackField:
    what: ClassVar[str] = "slack fields"
    title: str
    value: str
    short: bool | None = None


@dataclass(frozen=True, slots=True)
class SlackConfirmationField:
    what: ClassVar[str] = "confirm"
    text: str
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""


@dataclass(frozen=True, slots=True)
class SlackAction:
    what: ClassVar[str] = "actions"
    type: str
    text: str
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirmationField | None = None


_SLACK_DEFAULT = '{{{{ template "slack.default.{}" . }}}}'


@dataclass(frozen=True, slots=True)
class SlackConfig(KindDefaults):
    """`slack_configs` entry with Alertmanager's defaults (templates from default.tmpl) and
    `api_url(_file)`, `app_token(_file)`, `http_config` inherited from `global:`."""

    kind: ClassVar[str] = "slack"
    line: int = 0
    send_resolved: bool = False
    http_config: HTTPClientConfig = NO_HTTP
    api_url: SecretURL = NO_SECRET
    api_url_file: str = ""
    app_token: Secret = NO_SECRET
    app_token_file: str = ""
    app_url: URL = "https://slack.com/api/chat.postMessage"
    channel: str = ""
    username: str = _SLACK_DEFAULT.format("username")
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = _SLACK_DEFAULT.format("title")
    title_link: str = _SLACK_DEFAULT.format("titlelink")
    pretext: str = _SLACK_DEFAULT.format("pretext")
    text: str = _SLACK_DEFAULT.format("text")
    message_text: str = ""
    fields: tuple[SlackField, ...] = ()
    short_fields: bool = False
    footer: str = _SLACK_DEFAULT.format("footer")
    fallback: str = _SLACK_DEFAULT.format("fallback")
    callback_id: str = _SLACK_DEFAULT.format("callbackid")
    icon_emoji: str = _SLACK_DEFAULT.format("iconemoji")
    icon_url: str = _SLACK_DEFAULT.format("iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: tuple[str, ...] = ()
    actions: tuple[SlackAction, ...] = ()
    update_message: bool = False
    timeout: Duration = NO_DURATION

    @staticmethod
    def check(entry: Entry) -> None:
        entry.exclusive("api_url", "api_url_file")
        entry.exclusive("app_token", "app_token_file")
        for item in entry.fields.sequence("fields"):
            part = item.mapping(("title", "value", "short"), "slack fields")
            for key in ("title", "value"):
                if not part.string(key):
                    raise item.error(f"missing {key} in Slack field configuration")
        for item in entry.fields.sequence("actions"):
            action = item.mapping(
                ("type", "text", "url", "style", "name", "value", "confirm"), "actions"
            )
            for key in ("type", "text"):
                if not action.string(key):
                    raise item.error(f"missing {key} in Slack action configuration")
            if not action.string("url") and not action.string("name"):
                raise item.error("missing name or url in Slack action configuration")
            confirm = action.get("confirm")
            if confirm is not None:
                confirm_fields = confirm.mapping(
                    ("text", "title", "ok_text", "dismiss_text"), "confirm"
                )
                if not confirm_fields.string("text"):
                    raise confirm.error("missing text in Slack confirmation configuration")

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        """Alertmanager's order: app URL, then an app token unless the entry authorizes its
        own requests or has a webhook URL, then the webhook URL."""
        KindDefaults.inherit(entry, glob)
        entry.inherit("app_url", glob.slack_app_url)
        http = entry.get("http_config")
        local_auth = isinstance(http, HTTPClientConfig) and http.authorization is not None
        own = ("app_token", "app_token_file", "api_url")
        if not local_auth and not any(entry.get(key) for key in own):
            entry.set("app_token", glob.slack_app_token)
            entry.set("app_token_file", glob.slack_app_token_file)
        entry.inherit_pair("api_url", "api_url_file", glob.slack_api_url, glob.slack_api_url_file)
        has_token = bool(entry.get("app_token") or entry.get("app_token_file"))
        if not entry.get("api_url") and not entry.get("api_url_file") and not has_token:
            raise entry.error("no Slack API URL nor App token set either inline or in a file")
        if has_token and local_auth:
            raise entry.error("http authorization can't be set when using Slack App tokens")
        if entry.get("update_message") and not has_token:
            raise entry.error(
                "update_message needs a Slack app token (app_token or app_token_file):"
                " webhook URLs cannot update messages"
            )

    def sender(self, context: SenderContext) -> Sender:
        return Slack(self, context.templates, context.external_url)


def truncate(text: str, n: int) -> str:
    """Alertmanager's notify.Truncate: at most n characters, the last one an ellipsis."""
    if len(text) <= n:
        return text
    return text[:n] if n <= 3 else text[: n - 1] + "…"


class Slack:
    """One `slack_configs` entry as a sender."""

    def __init__(
        self,
        config: SlackConfig,
        templates: Templates,
        external_url: str,
    ) -> None:
        self._config = config
        self._templates = templates
        self._external_url = external_url

    def payload(self, data: Data) -> dict[str, Any]:
        """The request body as a dict in Alertmanager's key order; raises TemplateError."""
        conf = self._config

        def text(template: str) -> str:
            return self._templates.text(template, data)

        attachment: dict[str, Any] = {}
        _put(attachment, "title", truncate(text(conf.title), MAX_TITLE_RUNES))
        _put(attachment, "title_link", text(conf.title_link))
        _put(attachment, "pretext", text(conf.pretext))
        attachment["text"] = text(conf.text)
        attachment["fallback"] = text(conf.fallback)
        attachment["callback_id"] = text(conf.callback_id)
        if conf.fields:
            attachment["fields"] = [
                _omit_empty(
                    {
                        "title": text(f.title),
                        "value": text(f.value),
                        "short": conf.short_fields if f.short is None else f.short,
                    }
                )
                for f in conf.fields
            ]
        if conf.actions:
            attachment["actions"] = [_action(a, text) for a in conf.actions]
        _put(attachment, "image_url", text(conf.image_url))
        _put(attachment, "thumb_url", text(conf.thumb_url))
        attachment["footer"] = text(conf.footer)
        _put(attachment, "color", text(conf.color))
        attachment["mrkdwn_in"] = list(conf.mrkdwn_in or _DEFAULT_MRKDWN_IN)
        body: dict[str, Any] = {}
        _put(body, "channel", text(conf.channel))
        _put(body, "username", text(conf.username))
        _put(body, "icon_emoji", text(conf.icon_emoji))
        _put(body, "icon_url", text(conf.icon_url))
        if conf.link_names:
            body["link_names"] = True
        body["attachments"] = [attachment]
        return body

    async def send(self, notification: Notification) -> str:
        data = notification_data(notification, self._external_url)
        try:
            body = self.payload(data)
        except TemplateError as err:
            raise SendError(str(err), retry=False) from None
        conf = self._config
        headers: dict[str, str] = {}
        if conf.app_token or conf.app_token_file:
            token = str(conf.app_token) or read_secret_file(conf.app_token_file, "app_token_file")
            headers["Authorization"] = f"Bearer {token}"
            url = conf.app_url
        else:
            url = str(conf.api_url) or read_secret_file(conf.api_url_file, "api_url_file")
        timeout = conf.timeout.milliseconds / 1000 or None
        async with build_client(conf.http_config, timeout) as client:
            return await post_json(
                client, url, go_json(body), f'channel "{body.get("channel", "")}"', headers
            )


def _put(target: dict[str, Any], key: str, value: str) -> None:
    """Go's `omitempty` for strings."""
    if value:
        target[key] = value


def _omit_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in ("", None)}


def _action(action: SlackAction, text: Any) -> dict[str, Any]:
    """Alertmanager 0.25 sends no `confirm` (it parses and validates it, then drops it)."""
    out = _omit_empty(
        {
            "type": text(action.type),
            "text": text(action.text),
            "url": text(action.url),
            "style": text(action.style),
            "name": text(action.name),
            "value": text(action.value),
        }
    )
    return out
