"""alertmanager.yml schema: Alertmanager's defaults and global inheritance, its validation
messages with file:line:path, its matcher syntax (UTF-8 and classic parsers), and the lints."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from vigil.alerting.lint import check, lint, load_alert_rules
from vigil.config._yaml import ConfigError
from vigil.config.alertmanager import looks_like_alertmanager
from vigil.config.duration import Duration
from vigil.config.matchers import (
    MatcherParseError,
    parse_matchers,
    parse_matchers_classic,
    parse_matchers_utf8,
)
from vigil.notify.email import EmailConfig
from vigil.notify.kinds import KINDS, parse_config
from vigil.notify.slack import SlackConfig

BASE = """
route:
  receiver: r
receivers:
  - name: r
"""


def _parse(text: str) -> object:
    return parse_config(textwrap.dedent(text), "am.yml")


def test_defaults_and_global_inheritance() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            global:
              smtp_smarthost: 'mail:25'
              smtp_from: a@example.org
              slack_api_url: https://hooks.slack.com/x
            route:
              receiver: r
            templates: ['t/*.tmpl']
            receivers:
              - name: r
                email_configs: [{to: b@example.org}]
                slack_configs: [{channel: '#c'}]
            """
        ),
        "conf/am.yml",
    )
    email, slack = config.receivers[0].integrations
    assert isinstance(email, EmailConfig)
    assert isinstance(slack, SlackConfig)
    assert (
        config.global_config.resolve_timeout,
        config.templates,
        email.smarthost,
        email.from_,
        email.hello,
        email.require_tls,
        email.send_resolved,
        slack.api_url,
        slack.send_resolved,
    ) == (
        Duration(300_000),
        ("conf/t/*.tmpl",),
        "mail:25",
        "a@example.org",
        "localhost",
        True,
        False,
        "https://hooks.slack.com/x",
        False,
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "route:\n  group_wait: 30s\n",
            "am.yml:2: route: root route must specify a default receiver",
        ),
        (
            "route: {receiver: x}\nreceivers: [{name: y}]\n",
            'am.yml:1: route.receiver: undefined receiver "x" used in route',
        ),
        (
            BASE + "  - name: r\n",
            'am.yml:6: receivers[1]: notification config name "r" is not unique',
        ),
        (
            BASE + "    email_configs: [{to: a@b}]\n",
            "am.yml:6: receivers[0].email_configs[0]: no global SMTP smarthost set",
        ),
        (
            "route:\n  receiver: r\n  group_by: [a, '...']\nreceivers: [{name: r}]\n",
            "am.yml:3: route.group_by: cannot have wildcard group_by (`...`) and other labels at"
            " the same time",
        ),
        (
            "route:\n  receiver: r\n  group_by: [a, a]\nreceivers: [{name: r}]\n",
            'am.yml:3: route.group_by[1]: duplicated label "a" in group_by',
        ),
        (
            "route:\n  receiver: r\n  matchers: [a=b]\nreceivers: [{name: r}]\n",
            "am.yml:2: route: root route must not have any matchers",
        ),
        (
            "route:\n  receiver: r\n  repeat_interval: 0s\nreceivers: [{name: r}]\n",
            "am.yml:3: route.repeat_interval: repeat_interval cannot be zero",
        ),
        (
            BASE + "    slack_configs: [{api_url: 'https://a/', api_url_file: /f}]\n",
            "am.yml:6: receivers[0].slack_configs[0].api_url_file: at most one of api_url &"
            " api_url_file must be configured",
        ),
        (
            BASE + "    webhook_configs: [{url: 'ftp://x/'}]\n",
            'am.yml:6: receivers[0].webhook_configs[0].url: unsupported scheme "ftp" for URL',
        ),
        (
            "route:\n  receiver: r\n  routes: [{receiver: r, mute_time_intervals: [off]}]\n"
            "receivers: [{name: r}]\n",
            'am.yml:3: route.routes[0].mute_time_intervals[0]: undefined time interval "off"'
            " used in route",
        ),
        (
            "route:\n  receiver: r\n  routes: [{matchers: ['a=~(']}]\nreceivers: [{name: r}]\n",
            "am.yml:3: route.routes[0].matchers[0]: invalid regular expression '(': error"
            " parsing regexp: missing closing ): `(`",
        ),
        ("receivers: [{name: r}]\n", "am.yml:1: no routes provided"),
    ],
)
def test_validation_errors(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(text)
    assert str(caught.value) == error


def test_time_intervals() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            route:
              receiver: r
              routes: [{receiver: r, active_time_intervals: [office]}]
            receivers: [{name: r}]
            time_intervals:
              - name: office
                time_intervals:
                  - times: [{start_time: '09:00', end_time: '17:30'}]
                    weekdays: ['monday:friday']
                    days_of_month: ['1:5', '-1']
                    months: ['january:march', '12']
                    location: Europe/Berlin
            """
        ),
        "am.yml",
    )
    (period,) = config.time_intervals[0].ranges
    assert (
        period.times,
        period.weekdays,
        period.days_of_month,
        period.months,
        period.location,
    ) == (
        ((540, 1050),),
        ((1, 5),),
        ((1, 5), (-1, -1)),
        ((1, 3), (12, 12)),
        "Europe/Berlin",
    )


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{a="b", c=~"d.*"}', ['a="b"', 'c=~"d.*"']),
        ("severity=critical", ['severity="critical"']),
        ("a=b,", ['a="b"']),
        ("{}", []),
        ("foo=bar baz", ['foo="bar baz"']),  # classic only: the UTF-8 parser rejects it
        ("foo=", ['foo=""']),
        ('"säure"="x"', ['säure="x"']),  # UTF-8 only
        ('a!~"x|y", b!=c', ['a!~"x|y"', 'b!="c"']),
    ],
)
def test_matcher_syntax(text: str, want: list[str]) -> None:
    assert [str(m) for m in parse_matchers(text)] == want


def test_matcher_parsers_differ_where_alertmanager_documents_it() -> None:
    with pytest.raises(MatcherParseError):
        parse_matchers_utf8("foo=bar baz")
    with pytest.raises(MatcherParseError, match="bad matcher format"):
        parse_matchers_classic('"säure"="x"')
    regex = parse_matchers("job=~node|prom")[0]
    assert (regex.matches("node"), regex.matches("xnode"), regex.matches("a\nnode")) == (
        True,
        False,
        False,
    )


def test_detects_alertmanager_configs() -> None:
    assert looks_like_alertmanager(BASE)
    assert not looks_like_alertmanager("scrape_configs: []\nrule_files: []\n")


def test_seed_inhibition_can_never_happen() -> None:
    seed = FIXTURES / "seed-stack"
    rules = load_alert_rules([str(seed / "rules" / "*.yml")])
    warnings = check(
        str(seed / "alertmanager.yml"), KINDS, [str(seed / "rules" / "*.yml")]
    ).warnings
    assert [r.name for r in rules] == ["HighMemoryUsage", "MediumMemoryUsage"]
    assert len(warnings) == 2
    assert "(HighMemoryUsage)" in warnings[0] and "can never happen" in warnings[0]
    assert 'equal label "dev" is set by no alerting rule' in warnings[1]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            BASE
            + "inhibit_rules:\n  - source_matchers: [alertname=A]\n"
            + "    target_matchers: [alertname=B]\n    equal: [alertname]\n",
            "equal requires the same alertname but source matchers want alertname=A and target"
            " matchers alertname=B: this inhibition can never happen",
        ),
        (
            "route:\n  receiver: r\n  routes:\n    - {matchers: [a=b], receiver: r}\n"
            "    - {matchers: [a=b, c=d], receiver: r}\nreceivers: [{name: r}]\n",
            'route {a="b",c="d"} (line 5) is never reached: the earlier sibling {a="b"} (line 4)',
        ),
        (BASE + "  - name: unused\n", 'receiver "unused" (line 6) is used by no route'),
    ],
)
def test_lints(text: str, fragment: str) -> None:
    warnings = lint(parse_config(text, "am.yml"))
    assert any(fragment in w for w in warnings), warnings


def test_cli_check_config_detects_alertmanager(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vigil.cmd import main

    path = tmp_path / "alertmanager.yml"
    path.write_text(BASE + "  - name: unused\n")
    assert main(["check", "config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"{path}: SUCCESS" and 'receiver "unused"' in out


NOWHERE = [
    ("only a receiver without integrations", BASE, True),
    (
        "a child route reaches a webhook",
        """
        route:
          receiver: "null"
          routes:
            - matchers: ['severity="critical"']
              receiver: hook
        receivers:
          - name: "null"
          - name: hook
            webhook_configs: [{url: "http://127.0.0.1:9/"}]
        """,
        False,
    ),
    (
        "children inherit the root's silent receiver",
        """
        route:
          receiver: "null"
          routes:
            - matchers: ['severity="critical"']
        receivers:
          - name: "null"
          - name: unused
            webhook_configs: [{url: "http://127.0.0.1:9/"}]
        """,
        True,
    ),
]


@pytest.mark.parametrize(
    ("text", "nowhere"), [(t, n) for _, t, n in NOWHERE], ids=[c[0] for c in NOWHERE]
)
def test_sends_nowhere_when_every_routed_receiver_is_silent(text: str, nowhere: bool) -> None:
    assert parse_config(textwrap.dedent(text), "am.yml").sends_nowhere() is nowhere


def test_the_shipped_alertmanager_yml_sends_nowhere() -> None:
    from vigil.cmd.defaults import DEFAULT_ALERTMANAGER_CONFIG

    shipped = parse_config(DEFAULT_ALERTMANAGER_CONFIG.read_text(), "alertmanager.yml")
    assert shipped.sends_nowhere()
