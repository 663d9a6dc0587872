"""The routing tree against `amtool config routes test` (Alertmanager 0.25) on a table of label
sets over the config testdata and the seed's alertmanager.yml, plus inheritance and group keys."""

from __future__ import annotations

import io
import subprocess
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import CONFORMANCE, FIXTURES, peer
from vigil.alerting import build_tree
from vigil.alerting.lint import routes_test_command
from vigil.config.duration import Duration
from vigil.notify.kinds import KINDS, parse_config

TESTDATA = CONFORMANCE / "alertmanager" / "config-testdata"
SEED = FIXTURES / "seed-stack" / "alertmanager.yml"

# (config, labels): vigil must print what amtool prints
CASES: list[tuple[Path, tuple[str, ...]]] = (
    [
        (TESTDATA / "conf.good.yml", labels)
        for labels in [
            (),
            ("service=foo1",),
            ("service=foo1", "severity=critical"),
            ("service=baz", "severity=warning"),
            ("service=foo3", "severity=critical"),
            ("service=files",),
            ("service=files", "severity=critical"),
            ("service=database",),
            ("service=database", "owner2=team-X"),
            ("service=database", "owner=team-Y"),
            ("service=database", "owner2=team-X", "owner=team-Y"),
            ("service=database", "owner2=team-Z", "owner=team-Y"),
            ('service="database"', "owner2=team-X"),
            ("alertname=X", "cluster=c1"),
        ]
    ]
    + [
        (TESTDATA / name, labels)
        for name in (
            "conf.empty-fields.yml",
            "conf.group-by-all.yml",
            "conf.opsgenie-default-apikey.yml",
            "conf.victorops-default-apikey.yml",
            "conf.sns-topic-arn.yml",
        )
        for labels in [
            (),
            ("service=foo",),
            ("service=foo1",),
            ("service=bar", "severity=critical"),
        ]
    ]
    + [
        (SEED, labels)
        for labels in [
            (),
            ("alertname=HighMemoryUsage", "severity=critical"),
            ("severity=warning",),
        ]
    ]
)


def _amtool(case: tuple[Path, tuple[str, ...]]) -> str:
    path, labels = case
    result = subprocess.run(
        [peer("amtool"), "config", "routes", "test", f"--config.file={path}", *labels],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip()


def _vigil(case: tuple[Path, tuple[str, ...]]) -> str:
    path, labels = case
    out, err = io.StringIO(), io.StringIO()
    routes_test_command(str(path), KINDS, labels, None, out, err)
    return out.getvalue().strip()


def test_routes_test_agrees_with_amtool(summary: Callable[[str], None]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        amtool = list(pool.map(_amtool, CASES))
    got = [_vigil(case) for case in CASES]
    disagreements = [
        f"{path.name} {' '.join(labels)}: amtool {want!r}, vigil {have!r}"
        for (path, labels), want, have in zip(CASES, amtool, got, strict=True)
        if want != have
    ]
    summary(
        f"vigil alertmanager config routes test agrees with amtool on"
        f" {len(CASES) - len(disagreements)}/{len(CASES)} label sets"
    )
    assert disagreements == []


TREE = textwrap.dedent(
    """
    route:
      receiver: default
      group_by: [alertname]
      group_wait: 10s
      routes:
        - matchers: ['team="db"']
          receiver: db
          group_by: ['...']
          repeat_interval: 1h
          continue: true
          routes:
            - matchers: [severity=~"crit.*"]
              receiver: db-pager
        - matchers: [team=db]
          receiver: db-log
        - match: {team: web}
    receivers: [{name: default}, {name: db}, {name: db-pager}, {name: db-log}]
    """
)


def test_match_continue_inheritance_and_group_keys() -> None:
    tree = build_tree(parse_config(TREE, "am.yml"))
    labels = {"alertname": "Down", "team": "db", "severity": "critical", "instance": "a"}
    routes = tree.match(labels)
    assert [
        (r.receiver, r.options.group_wait, r.options.repeat_interval, r.group_key(labels))
        for r in routes
    ] == [
        (
            "db-pager",
            Duration(10_000),
            Duration(3_600_000),
            '{}/{team="db"}/{severity=~"crit.*"}:{alertname="Down", instance="a",'
            ' severity="critical", team="db"}',
        ),
        ("db-log", Duration(10_000), Duration(4 * 3_600_000), '{}/{team="db"}:{alertname="Down"}'),
    ]
    web = tree.match({"alertname": "X", "team": "web"})
    assert [(r.receiver, r.group_key({"alertname": "X"})) for r in web] == [
        ("default", '{}/{team="web"}:{alertname="X"}')
    ]
    assert [r.group_key({"alertname": "X"}) for r in tree.match({"alertname": "X"})] == [
        '{}:{alertname="X"}'
    ]


def test_cli_routes_test() -> None:
    from vigil.cmd import main

    config = str(TESTDATA / "conf.good.yml")
    args = ["alertmanager", "config", "routes", "test", f"--config.file={config}"]
    assert main([*args, "service=database", "owner2=team-X", "owner=team-Y"]) == 0
    assert main([*args, "--verify.receivers=team-X-mails", "service=files"]) == 1
    assert main([*args, "service=~x"]) == 1
