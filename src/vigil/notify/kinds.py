"""Every receiver kind alertmanager.yml may name, in Alertmanager's order; a new kind is one
module (its settings, checks, inheritance and sender) plus its line here."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.config import alertmanager
from vigil.config.alertmanager import Config
from vigil.notify.email import EmailConfig
from vigil.notify.integration import SendingKind
from vigil.notify.slack import SlackConfig
from vigil.notify.unsupported import (
    DiscordConfig,
    JiraConfig,
    MattermostConfig,
    MSTeamsConfig,
    MSTeamsV2Config,
    OpsGenieConfig,
    PagerDutyConfig,
    PushoverConfig,
    RocketChatConfig,
    SNSConfig,
    TelegramConfig,
    VictorOpsConfig,
    WebexConfig,
    WeChatConfig,
)
from vigil.notify.webhook import WebhookConfig

KINDS: Sequence[type[SendingKind]] = (
    WebhookConfig,
    EmailConfig,
    PagerDutyConfig,
    SlackConfig,
    OpsGenieConfig,
    WeChatConfig,
    VictorOpsConfig,
    PushoverConfig,
    SNSConfig,
    TelegramConfig,
    DiscordConfig,
    WebexConfig,
    MSTeamsConfig,
    MSTeamsV2Config,
    RocketChatConfig,
    MattermostConfig,
    JiraConfig,
)


def load_config(path: str) -> Config:
    """alertmanager.yml with every receiver kind above."""
    return alertmanager.load_config(path, KINDS)


def parse_config(text: str, file: str = "alertmanager.yml") -> Config:
    return alertmanager.parse_config(text, KINDS, file)
