"""Every receiver kind alertmanager.yml may name, in Alertmanager's order, with the module
that defines it; a new kind is one module (its settings, checks, inheritance and sender) plus
its line here. A kind's module is imported when a config first uses the kind: a server whose
receivers only post to Slack never builds the other sixteen kinds' classes."""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

from vigil.config import alertmanager
from vigil.config.alertmanager import Config, Kinds

if TYPE_CHECKING:
    from vigil.notify.integration import SendingKind

_WHERE = (
    ("webhook", "vigil.notify.webhook", "WebhookConfig"),
    ("email", "vigil.notify.email", "EmailConfig"),
    ("pagerduty", "vigil.notify.unsupported", "PagerDutyConfig"),
    ("slack", "vigil.notify.slack", "SlackConfig"),
    ("opsgenie", "vigil.notify.unsupported", "OpsGenieConfig"),
    ("wechat", "vigil.notify.unsupported", "WeChatConfig"),
    ("victorops", "vigil.notify.unsupported", "VictorOpsConfig"),
    ("pushover", "vigil.notify.unsupported", "PushoverConfig"),
    ("sns", "vigil.notify.unsupported", "SNSConfig"),
    ("telegram", "vigil.notify.unsupported", "TelegramConfig"),
    ("discord", "vigil.notify.unsupported", "DiscordConfig"),
    ("webex", "vigil.notify.unsupported", "WebexConfig"),
    ("msteams", "vigil.notify.unsupported", "MSTeamsConfig"),
    ("msteamsv2", "vigil.notify.unsupported", "MSTeamsV2Config"),
    ("rocketchat", "vigil.notify.unsupported", "RocketChatConfig"),
    ("mattermost", "vigil.notify.unsupported", "MattermostConfig"),
    ("jira", "vigil.notify.unsupported", "JiraConfig"),
)


def _load(module: str, name: str) -> type[SendingKind]:
    kind: type[SendingKind] = getattr(importlib.import_module(module), name)
    return kind


KINDS: Kinds = {kind: functools.partial(_load, module, name) for kind, module, name in _WHERE}


def load_config(path: str) -> Config:
    """alertmanager.yml with every receiver kind above."""
    return alertmanager.load_config(path, KINDS)


def parse_config(text: str, file: str = "alertmanager.yml") -> Config:
    return alertmanager.parse_config(text, KINDS, file)
