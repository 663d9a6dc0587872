"""Receiver kinds Alertmanager has and vigil reads and validates the same way (defaults,
checks, inheritance from `global:`) but cannot send to yet: a config that routes alerts to one
loads, and fails when its receiver is built, naming the kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

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
    Pairs,
    Raw,
    SecretURL,
)
from vigil.notify.integration import Unsent


@dataclass(frozen=True, slots=True)
class PagerDutyConfig(Unsent):
    kind: ClassVar[str] = "pagerduty"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    service_key: Secret = NO_SECRET
    service_key_file: str = ""
    routing_key: Secret = NO_SECRET
    routing_key_file: str = ""
    url: URL = ""
    client: str = ""
    client_url: str = ""
    description: str = ""
    details: Pairs = ()
    images: Raw = ()
    links: Raw = ()
    source: str = ""
    severity: str = ""
    class_: str = ""
    component: str = ""
    group: str = ""
    timeout: Duration = NO_DURATION

    @staticmethod
    def check(entry: Entry) -> None:
        keys = ("routing_key", "service_key", "routing_key_file", "service_key_file")
        if not any(entry.get(k) for k in keys):
            raise entry.error("missing service or routing key in PagerDuty config")
        entry.exclusive("routing_key", "routing_key_file")
        entry.exclusive("service_key", "service_key_file")

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("url", glob.pagerduty_url)


@dataclass(frozen=True, slots=True)
class OpsGenieConfig(Unsent):
    kind: ClassVar[str] = "opsgenie"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    api_key: Secret = NO_SECRET
    api_key_file: str = ""
    api_url: URL = ""
    message: str = ""
    description: str = ""
    source: str = ""
    details: Pairs = ()
    entity: str = ""
    responders: Raw = ()
    actions: str = ""
    tags: str = ""
    note: str = ""
    priority: str = ""
    update_alerts: bool = False

    @staticmethod
    def check(entry: Entry) -> None:
        entry.exclusive("api_key", "api_key_file")
        valid = ("team", "teams", "user", "escalation", "schedule")
        for item in entry.fields.sequence("responders"):
            responder = item.mapping(("id", "name", "username", "type"), "responders")
            if not any(responder.string(k) for k in ("id", "name", "username")):
                raise item.error(
                    "opsGenieConfig responder has to have at least one of id, username or name"
                    " specified"
                )
            rtype = responder.string("type")
            if "{{" not in rtype and rtype.lower() not in valid:
                raise responder.key("type").error(
                    f'opsGenieConfig responder type "{rtype}" does not match valid options'
                    " ^(team|teams|user|escalation|schedule)$"
                )

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("api_url", glob.opsgenie_api_url)
        entry.inherit("api_key", glob.opsgenie_api_key)
        entry.inherit("api_key_file", glob.opsgenie_api_key_file)
        if not entry.get("api_key") and not entry.get("api_key_file"):
            raise entry.error("no global OpsGenie API Key set either inline or in a file")


@dataclass(frozen=True, slots=True)
class WeChatConfig(Unsent):
    kind: ClassVar[str] = "wechat"
    line: int = 0
    send_resolved: bool = False
    http_config: HTTPClientConfig = NO_HTTP
    api_secret: Secret = NO_SECRET
    api_secret_file: str = ""
    corp_id: str = ""
    message: str = ""
    api_url: URL = ""
    to_user: str = ""
    to_party: str = ""
    to_tag: str = ""
    agent_id: str = ""
    message_type: str = ""

    @staticmethod
    def check(entry: Entry) -> None:
        entry.exclusive("api_secret", "api_secret_file")
        message_type = entry.text("message_type") or "text"
        if message_type not in ("text", "markdown"):
            raise entry.key_error(
                "message_type",
                f'weChat message type "{message_type}" does not match valid options'
                " ^(text|markdown)$",
            )

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("api_url", glob.wechat_api_url)
        if not entry.inherit_pair(
            "api_secret", "api_secret_file", glob.wechat_api_secret, glob.wechat_api_secret_file
        ):
            raise entry.error("no global Wechat Api Secret set either inline or in a file")
        if not entry.inherit("corp_id", glob.wechat_api_corp_id):
            raise entry.error("no global Wechat CorpID set")


@dataclass(frozen=True, slots=True)
class VictorOpsConfig(Unsent):
    kind: ClassVar[str] = "victorops"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    api_key: Secret = NO_SECRET
    api_key_file: str = ""
    api_url: URL = ""
    routing_key: str = ""
    message_type: str = ""
    state_message: str = ""
    entity_display_name: str = ""
    monitoring_tool: str = ""
    custom_fields: Pairs = ()

    @staticmethod
    def check(entry: Entry) -> None:
        if not entry.get("routing_key"):
            raise entry.error("missing Routing key in VictorOps config")
        entry.exclusive("api_key", "api_key_file")
        reserved = (
            "routing_key",
            "message_type",
            "state_message",
            "entity_display_name",
            "monitoring_tool",
            "entity_id",
            "entity_state",
        )
        for key, _ in entry.pairs("custom_fields"):
            if key in reserved:
                raise entry.key_error(
                    "custom_fields",
                    f"victorOps config contains custom field {key} which cannot be used as it"
                    " conflicts with the fixed/static fields",
                )

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("api_url", glob.victorops_api_url)
        entry.inherit("api_key", glob.victorops_api_key)
        entry.inherit("api_key_file", glob.victorops_api_key_file)
        if not entry.get("api_key") and not entry.get("api_key_file"):
            raise entry.error("no global VictorOps API Key set")


@dataclass(frozen=True, slots=True)
class PushoverConfig(Unsent):
    kind: ClassVar[str] = "pushover"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    user_key: Secret = NO_SECRET
    user_key_file: str = ""
    token: Secret = NO_SECRET
    token_file: str = ""
    title: str = ""
    message: str = ""
    url: str = ""
    url_title: str = ""
    device: str = ""
    sound: str = ""
    priority: str = ""
    retry: Duration = NO_DURATION
    expire: Duration = NO_DURATION
    ttl: Duration = NO_DURATION
    html: bool = False
    monospace: bool = False

    @staticmethod
    def check(entry: Entry) -> None:
        entry.one_of("user_key", "user_key_file")
        entry.one_of("token", "token_file")


@dataclass(frozen=True, slots=True)
class SNSSigV4:
    """SNS's `sigv4` block (AWS Signature Version 4 credentials)."""

    what: ClassVar[str] = "sigv4"
    region: str = ""
    access_key: str = ""
    secret_key: Secret = NO_SECRET
    profile: str = ""
    role_arn: str = ""


_NO_SIGV4 = SNSSigV4()


@dataclass(frozen=True, slots=True)
class SNSConfig(Unsent):
    kind: ClassVar[str] = "sns"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    api_url: str = ""
    sigv4: SNSSigV4 = _NO_SIGV4
    topic_arn: str = ""
    phone_number: str = ""
    target_arn: str = ""
    subject: str = ""
    message: str = ""
    attributes: Pairs = ()

    @staticmethod
    def check(entry: Entry) -> None:
        arns = [bool(entry.get(k)) for k in ("target_arn", "topic_arn", "phone_number")]
        if sum(arns) != 1:
            raise entry.error(
                "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
            )


@dataclass(frozen=True, slots=True)
class TelegramConfig(Unsent):
    kind: ClassVar[str] = "telegram"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    api_url: URL = ""
    bot_token: Secret = NO_SECRET
    bot_token_file: str = ""
    chat_id: int = 0
    message_thread_id: int = 0
    message: str = ""
    disable_notifications: bool = False
    parse_mode: str = ""

    @staticmethod
    def check(entry: Entry) -> None:
        entry.exclusive("bot_token", "bot_token_file")
        if not entry.get("chat_id"):
            raise entry.error("missing chat_id on telegram_config")
        if entry.text("parse_mode") not in ("", "Markdown", "MarkdownV2", "HTML"):
            raise entry.key_error(
                "parse_mode",
                "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or"
                " empty string",
            )

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("api_url", glob.telegram_api_url)
        if not entry.inherit_pair(
            "bot_token", "bot_token_file", glob.telegram_bot_token, glob.telegram_bot_token_file
        ):
            raise entry.error("missing bot_token or bot_token_file on telegram_config")


@dataclass(frozen=True, slots=True)
class DiscordConfig(Unsent):
    kind: ClassVar[str] = "discord"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    webhook_url: SecretURL = NO_SECRET
    webhook_url_file: str = ""
    title: str = ""
    message: str = ""
    content: str = ""
    username: str = ""
    avatar_url: str = ""

    @staticmethod
    def check(entry: Entry) -> None:
        entry.one_of("webhook_url", "webhook_url_file")


@dataclass(frozen=True, slots=True)
class WebexConfig(Unsent):
    kind: ClassVar[str] = "webex"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    api_url: URL = ""
    message: str = ""
    room_id: str = ""

    @staticmethod
    def check(entry: Entry) -> None:
        if not entry.get("room_id"):
            raise entry.error("missing room_id on webex_config")
        http = entry.get("http_config")
        if not isinstance(http, HTTPClientConfig) or http.authorization is None:
            raise entry.error("missing webex_configs.http_config.authorization")

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("api_url", glob.webex_api_url)


@dataclass(frozen=True, slots=True)
class MSTeamsConfig(Unsent):
    kind: ClassVar[str] = "msteams"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    webhook_url: SecretURL = NO_SECRET
    webhook_url_file: str = ""
    title: str = ""
    summary: str = ""
    text: str = ""

    @staticmethod
    def check(entry: Entry) -> None:
        entry.one_of("webhook_url", "webhook_url_file")


@dataclass(frozen=True, slots=True)
class MSTeamsV2Config(Unsent):
    kind: ClassVar[str] = "msteamsv2"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    webhook_url: SecretURL = NO_SECRET
    webhook_url_file: str = ""
    title: str = ""
    text: str = ""

    @staticmethod
    def check(entry: Entry) -> None:
        entry.one_of("webhook_url", "webhook_url_file")


@dataclass(frozen=True, slots=True)
class RocketChatConfig(Unsent):
    kind: ClassVar[str] = "rocketchat"
    line: int = 0
    send_resolved: bool = False
    http_config: HTTPClientConfig = NO_HTTP
    api_url: URL = ""
    channel: str = ""
    token: Secret = NO_SECRET
    token_file: str = ""
    token_id: Secret = NO_SECRET
    token_id_file: str = ""
    color: str = ""
    emoji: str = ""
    icon_url: str = ""
    text: str = ""
    title: str = ""
    title_link: str = ""
    fields: Raw = ()
    short_fields: bool = False
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    actions: Raw = ()

    @staticmethod
    def check(entry: Entry) -> None:
        entry.exclusive("token", "token_file")
        entry.exclusive("token_id", "token_id_file")

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("api_url", glob.rocketchat_api_url)
        entry.inherit("token_id", glob.rocketchat_token_id)
        entry.inherit("token_id_file", glob.rocketchat_token_id_file)
        if not entry.get("token_id") and not entry.get("token_id_file"):
            raise entry.error("no global Rocketchat TokenID set either inline or in a file")
        entry.inherit("token", glob.rocketchat_token)
        entry.inherit("token_file", glob.rocketchat_token_file)
        if not entry.get("token") and not entry.get("token_file"):
            raise entry.error("no global Rocketchat Token set either inline or in a file")


@dataclass(frozen=True, slots=True)
class MattermostConfig(Unsent):
    kind: ClassVar[str] = "mattermost"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    webhook_url: SecretURL = NO_SECRET
    webhook_url_file: str = ""
    channel: str = ""
    username: str = ""
    text: str = ""
    icon_url: str = ""
    icon_emoji: str = ""
    attachments: Raw = ()
    props: Raw = ()
    priority: Raw = ()

    @staticmethod
    def check(entry: Entry) -> None:
        entry.exclusive("webhook_url", "webhook_url_file")

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        if not entry.inherit_pair(
            "webhook_url",
            "webhook_url_file",
            glob.mattermost_webhook_url,
            glob.mattermost_webhook_url_file,
        ):
            raise entry.error("missing webhook_url or webhook_url_file on mattermost_config")


@dataclass(frozen=True, slots=True)
class JiraConfig(Unsent):
    kind: ClassVar[str] = "jira"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    api_url: URL = ""
    project: str = ""
    summary: str = ""
    description: str = ""
    labels: tuple[str, ...] = ()
    priority: str = ""
    issue_type: str = ""
    reopen_transition: str = ""
    resolve_transition: str = ""
    wont_fix_resolution: str = ""
    reopen_duration: Duration = NO_DURATION
    fields: Raw = ()

    @staticmethod
    def check(entry: Entry) -> None:
        if not entry.get("project"):
            raise entry.error("missing project in jira_config")
        if not entry.get("issue_type"):
            raise entry.error("missing issue_type in jira_config")

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        if not entry.inherit("api_url", glob.jira_api_url):
            raise entry.error("no global Jira Cloud URL set")
