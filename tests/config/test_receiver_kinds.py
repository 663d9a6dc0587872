"""A receiver kind is one dataclass: a new one, declared here, is read, checked, inherits from
`global:` and reports errors with file:line and "did you mean" without any other change."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import ClassVar

import pytest

from vigil.config._yaml import ConfigError
from vigil.config.alertmanager import Config, GlobalConfig, parse_config
from vigil.config.duration import Duration
from vigil.config.http import HTTPClientConfig, Secret
from vigil.config.receiver import NO_DURATION, NO_HTTP, NO_SECRET, URL, Entry, KindDefaults
from vigil.notify.kinds import KINDS


@dataclass(frozen=True, slots=True)
class PagerConfig(KindDefaults):
    kind: ClassVar[str] = "pager"
    line: int = 0
    send_resolved: bool = False
    http_config: HTTPClientConfig = NO_HTTP
    url: URL = "https://pager.example/"
    token: Secret = NO_SECRET
    token_file: str = ""
    retries: int = 3
    timeout: Duration = NO_DURATION
    from_: str = "vigil"

    @staticmethod
    def check(entry: Entry) -> None:
        entry.one_of("token", "token_file")

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        KindDefaults.inherit(entry, glob)
        entry.inherit("url", glob.pagerduty_url)


def _parse(receivers: str) -> Config:
    text = "route: {receiver: r}\nreceivers:\n  - name: r\n" + textwrap.indent(receivers, "    ")
    return parse_config(text, {**KINDS, "pager": lambda: PagerConfig}, "am.yml")


def test_a_new_kind_is_read_with_its_defaults_and_inheritance() -> None:
    config = _parse("pager_configs: [{token: t, retries: 5, timeout: 10s, from: me}]\n")
    assert config.receivers[0].integrations == (
        PagerConfig(
            line=4,
            url="https://events.pagerduty.com/v2/enqueue",
            token=Secret("t"),
            retries=5,
            timeout=Duration(10_000),
            from_="me",
        ),
    )


@pytest.mark.parametrize(
    ("receivers", "error"),
    [
        (
            "pager_configs: [{token: t, retry: 5}]\n",
            "am.yml:4: receivers[0].pager_configs[0].retry: unknown key in pager_configs"
            " (did you mean retries?)",
        ),
        (
            "pager_configs: [{retries: 5}]\n",
            "am.yml:4: receivers[0].pager_configs[0]: one of token or token_file must be configured",
        ),
        (
            "pager_configs: [{token: t, url: 'ftp://x/'}]\n",
            'am.yml:4: receivers[0].pager_configs[0].url: unsupported scheme "ftp" for URL',
        ),
        (
            "pager_configs: [{token: t, retries: many}]\n",
            'am.yml:4: receivers[0].pager_configs[0].retries: expected an integer, got "many"',
        ),
    ],
)
def test_a_new_kind_reports_errors_with_file_line_and_key(receivers: str, error: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(receivers)
    assert str(info.value) == error
