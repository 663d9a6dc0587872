"""Slack incoming-webhook notifications, with the JSON body Alertmanager 0.25 posts (same keys,
order, omissions and escaping), so a Slack-compatible sink cannot tell the two apart."""

from __future__ import annotations

from typing import Any

from vigil.alerting._api import Notification
from vigil.config.alertmanager import SlackAction, SlackConfig
from vigil.notify.gotemplate import TemplateError
from vigil.notify.integration import (
    SendError,
    build_client,
    go_json,
    post_json,
    read_secret_file,
)
from vigil.notify.template import Data, Templates, notification_data

MAX_TITLE_RUNES = 1024
_DEFAULT_MRKDWN_IN = ("fallback", "pretext", "text")


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
