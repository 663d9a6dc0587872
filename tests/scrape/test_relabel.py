"""Relabeling: Prometheus's documented examples for every action, hashmod values from
Prometheus's own tests, the target-level label rules, and a real Prometheus run to compare."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PATIENCE_S, free_port, peer
from vigil.config import RelabelConfig, parse_config
from vigil.config._yaml import load_yaml
from vigil.config.relabel import parse_relabel_config
from vigil.config.scrape import ScrapeConfig
from vigil.model import Labels
from vigil.scrape.relabel import (
    TargetError,
    alertmanager_labels,
    hashmod,
    populate_labels,
    relabel,
    target_labels,
)


def rules(text: str) -> list[RelabelConfig]:
    root = load_yaml(text, "rules.yml")
    assert root is not None
    return [parse_relabel_config(item) for item in root.sequence()]


def L(**labels: str) -> Labels:
    return Labels.from_dict(labels)


ABC = L(a="foo", b="bar", c="baz")

CASES = [
    # replace (Prometheus relabel_test.go and the configuration docs)
    (
        "replace",
        ABC,
        "- {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}",
        L(a="foo", b="bar", c="baz", d="choo-choo"),
    ),
    (
        "replace joins sources",
        ABC,
        "- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}",
        L(a="boobam", b="bar", c="baz"),
    ),
    (
        "regex is anchored",
        L(a="foo"),
        "- {source_labels: [a], regex: f, target_label: b, replacement: bar}",
        L(a="foo"),
    ),
    (
        "no match leaves labels",
        ABC,
        "- {source_labels: [a], regex: '.*(b).*', target_label: d}",
        ABC,
    ),
    (
        "empty result deletes",
        L(a="foo", b="bar"),
        "- {source_labels: [a], regex: foo, target_label: b, replacement: ''}",
        L(a="foo"),
    ),
    (
        "default regex and $1",
        L(a="foo"),
        "- {source_labels: [a], target_label: b}",
        L(a="foo", b="foo"),
    ),
    (
        "unset source, static value",
        L(a="foo"),
        "- {target_label: env, replacement: prod}",
        L(a="foo", env="prod"),
    ),
    (
        "target label templating",
        L(a="some-name-value"),
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}'}",
        L(a="some-name-value", name="value"),
    ),
    (
        "invalid templated target skipped",
        L(a="foo"),
        "- {source_labels: [a], regex: '(f).*', target_label: '$2', replacement: x}",
        L(a="foo"),
    ),
    (
        "$1x is group 1x (empty)",
        L(a="foo", b="x"),
        "- {source_labels: [a], regex: '(f)oo', target_label: b, replacement: '$1x'}",
        L(a="foo"),
    ),
    (
        "${1}x",
        L(a="foo"),
        "- {source_labels: [a], regex: '(f)oo', target_label: b, replacement: '${1}x'}",
        L(a="foo", b="fx"),
    ),
    (
        "$$ and unknown group",
        L(a="foo"),
        "- {source_labels: [a], regex: '(?P<first>f)(o+)', target_label: b, replacement: '$$${first}-$2-$9-$nope'}",
        L(a="foo", b="$f-oo--"),
    ),
    (
        "(?<name>) groups",
        L(a="foo"),
        "- {source_labels: [a], regex: '(?<x>f)oo', target_label: b, replacement: '$x'}",
        L(a="foo", b="f"),
    ),
    (
        "dot matches newline",
        L(a="foo\nbar"),
        "- {source_labels: [a], regex: 'foo.*', action: keep}",
        L(a="foo\nbar"),
    ),
    (
        "case-insensitive flag",
        L(a="FOO"),
        "- {source_labels: [a], regex: '(?i)foo', action: keep}",
        L(a="FOO"),
    ),
    # keep / drop
    ("keep match", ABC, "- {source_labels: [a], regex: 'f.*', action: keep}", ABC),
    ("keep no match", ABC, "- {source_labels: [a], regex: 'b.*', action: keep}", None),
    ("drop match", ABC, "- {source_labels: [a], regex: 'f.*', action: drop}", None),
    ("drop no match", ABC, "- {source_labels: [a], regex: 'b.*', action: drop}", ABC),
    ("drop missing label matches ''", ABC, "- {source_labels: [z], regex: '', action: drop}", None),
    # keepequal / dropequal
    (
        "keepequal equal",
        L(a="foo", b="foo"),
        "- {source_labels: [a], target_label: b, action: keepequal}",
        L(a="foo", b="foo"),
    ),
    ("keepequal differ", ABC, "- {source_labels: [a], target_label: b, action: keepequal}", None),
    (
        "dropequal equal",
        L(a="foo", b="foo"),
        "- {source_labels: [a], target_label: b, action: dropequal}",
        None,
    ),
    ("dropequal differ", ABC, "- {source_labels: [a], target_label: b, action: dropequal}", ABC),
    # hashmod (values from Prometheus's relabel_test.go)
    (
        "hashmod",
        ABC,
        "- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}",
        L(a="foo", b="bar", c="baz", d="976"),
    ),
    (
        "hashmod newline",
        L(a="foo\nbar"),
        "- {source_labels: [a], target_label: b, modulus: 1000, action: hashmod}",
        L(a="foo\nbar", b="734"),
    ),
    # labelmap / labeldrop / labelkeep
    (
        "labelmap",
        L(a="foo", b1="bar", b2="baz"),
        "- {regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}",
        L(a="foo", b1="bar", b2="baz", bar_b1="bar", bar_b2="baz"),
    ),
    (
        "labelmap meta",
        L(a="foo", __meta_my_bar="aaa", __meta_my_baz="bbb", __meta_other="ccc"),
        "- {regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}",
        L(
            a="foo",
            __meta_my_bar="aaa",
            __meta_my_baz="bbb",
            __meta_other="ccc",
            my_bar="aaa",
            my_baz="bbb",
        ),
    ),
    (
        "labeldrop",
        L(a="foo", b1="bar", b2="baz"),
        "- {regex: 'b.*', action: labeldrop}",
        L(a="foo"),
    ),
    (
        "labelkeep",
        L(a="foo", b1="bar", b2="baz"),
        "- {regex: 'b.*', action: labelkeep}",
        L(b1="bar", b2="baz"),
    ),
    # lowercase / uppercase
    (
        "lowercase",
        L(foo="bAr123Foo"),
        "- {source_labels: [foo], target_label: foo_lower, action: lowercase}",
        L(foo="bAr123Foo", foo_lower="bar123foo"),
    ),
    (
        "uppercase",
        L(foo="bAr123Foo"),
        "- {source_labels: [foo], target_label: foo_upper, action: uppercase}",
        L(foo="bAr123Foo", foo_upper="BAR123FOO"),
    ),
    # rules apply in order, each seeing the previous result
    (
        "chained",
        L(__address__="10.0.0.1:9100"),
        "- {source_labels: [__address__], regex: '([^:]+):.*', target_label: host}\n- {source_labels: [host], regex: '10\\.0\\..*', action: keep}",
        L(__address__="10.0.0.1:9100", host="10.0.0.1"),
    ),
]


@pytest.mark.parametrize(
    ("labels", "yaml_rules", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_relabel(labels: Labels, yaml_rules: str, want: Labels | None) -> None:
    assert relabel(labels, rules(yaml_rules)) == want


def test_hashmod_is_md5_low_64_bits() -> None:
    assert [hashmod(v, 1000) for v in ("baz", "foo\nbar")] == [976, 734]
    assert hashmod("anything", 1) == 0


def _job(extra: str = "") -> ScrapeConfig:
    config = parse_config(
        f"global: {{scrape_interval: 15s}}\nscrape_configs:\n  - job_name: node\n{extra}"
    )
    return config.scrape_configs[0]


def test_target_labels_defaults() -> None:
    final, discovered = target_labels(L(__address__="h:9100", __meta_x="1", team="ops"), _job())
    assert final == L(instance="h:9100", job="node", team="ops")
    assert discovered == L(
        __address__="h:9100",
        __meta_x="1",
        __metrics_path__="/metrics",
        __scheme__="http",
        __scrape_interval__="15s",
        __scrape_timeout__="10s",
        job="node",
        team="ops",
    )


def test_populate_labels_keeps_internal_labels_but_not_meta() -> None:
    job = _job(
        "    params: {module: [icmp]}\n    relabel_configs:\n      - {source_labels: [__meta_x], target_label: instance}\n"
    )
    full, _ = populate_labels(L(__address__="h:9100", __meta_x="box"), job)
    assert full == L(
        __address__="h:9100",
        __metrics_path__="/metrics",
        __param_module="icmp",
        __scheme__="http",
        __scrape_interval__="15s",
        __scrape_timeout__="10s",
        instance="box",
        job="node",
    )


def test_target_dropped_by_relabeling() -> None:
    job = _job("    relabel_configs: [{source_labels: [team], regex: ops, action: drop}]\n")
    final, discovered = target_labels(L(__address__="h:1", team="ops"), job)
    assert final is None and discovered.get("team") == "ops"


@pytest.mark.parametrize(
    ("extra", "labels", "message"),
    [
        (
            "    relabel_configs: [{target_label: __address__, replacement: ''}]\n",
            L(__address__="h:1"),
            "no address",
        ),
        (
            "    relabel_configs: [{target_label: x, replacement: y}]\n",
            L(__address__="http://h:1"),
            '"http://h:1" is not a valid hostname',
        ),
        (
            "    relabel_configs: [{target_label: __scrape_timeout__, replacement: 1m}]\n",
            L(__address__="h:1"),
            'scrape timeout cannot be greater than scrape interval ("1m" > "15s")',
        ),
        (
            "    relabel_configs: [{target_label: __scrape_interval__, replacement: '0'}]\n",
            L(__address__="h:1"),
            "scrape interval cannot be 0",
        ),
    ],
)
def test_target_errors(extra: str, labels: Labels, message: str) -> None:
    with pytest.raises(TargetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        target_labels(labels, _job(extra))


def test_alertmanager_labels() -> None:
    config = parse_config(
        "alerting:\n  alertmanagers:\n    - path_prefix: /am/\n      scheme: https\n      static_configs: [{targets: ['a:9093']}]\n"
    )
    manager = config.alerting.alertmanagers[0]
    assert alertmanager_labels(L(__address__="a:9093"), manager) == L(
        __address__="a:9093", __alerts_path__="/am/api/v2/alerts", __scheme__="https"
    )


# --------------------------------------------------------------------------- real Prometheus

LIVE_CONFIG = """
global: {scrape_interval: 1h, scrape_timeout: 10s}
scrape_configs:
  - job_name: relabel
    params: {module: [http_2xx]}
    static_configs:
      - targets: ['127.0.0.1:1', '127.0.0.2:2', 'Host-Three:3', 'drop-me:4', '10.1.2.3:5']
        labels: {__meta_zone: eu-West-1, team: Ops}
    relabel_configs:
      - {source_labels: [__address__], target_label: shard, modulus: 8, action: hashmod}
      - {source_labels: [__address__], target_label: ring, modulus: 1000, action: hashmod}
      - {source_labels: [__address__], regex: 'drop-.*', action: drop}
      - {source_labels: [__meta_zone], target_label: zone, action: lowercase}
      - {source_labels: [team], target_label: team_upper, action: uppercase}
      - {source_labels: [__address__], regex: '([^:]+):(\\d+)', target_label: 'port_${2}', replacement: '${1}'}
      - {regex: '__meta_(.*)', replacement: 'meta_$1', action: labelmap}
      - {source_labels: [__address__], regex: '10\\..*', target_label: instance, replacement: 'private-$0'}
      - {regex: team, action: labeldrop}
      - {source_labels: [shard], regex: '', action: drop}
"""


@pytest.mark.slow
def test_labels_match_a_real_prometheus(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(LIVE_CONFIG)
    process = subprocess.Popen(
        [
            peer("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        data = _poll_targets(port, want=4)
    finally:
        process.terminate()
        process.wait(timeout=20)
    job = parse_config(LIVE_CONFIG).scrape_configs[0]
    got: dict[str, tuple[dict[str, str] | None, dict[str, str]]] = {}
    for group in job.discovery.static_configs:
        for discovered in group.discovered():
            final, full = target_labels(discovered, job)
            got[discovered.get("__address__")] = (
                None if final is None else final.to_dict(),
                full.to_dict(),
            )
    want: dict[str, tuple[dict[str, str] | None, dict[str, str]]] = {
        t["discoveredLabels"]["__address__"]: (t["labels"], t["discoveredLabels"])
        for t in data["activeTargets"]
    }
    want.update(
        {
            t["discoveredLabels"]["__address__"]: (None, t["discoveredLabels"])
            for t in data["droppedTargets"]
        }
    )
    assert got == want


def _poll_targets(port: int, want: int) -> dict[str, list[dict[str, dict[str, str]]]]:
    deadline = time.monotonic() + PATIENCE_S
    while True:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/v1/targets", timeout=2
            ) as response:
                data: dict[str, list[dict[str, dict[str, str]]]] = json.load(response)["data"]
            if len(data["activeTargets"]) >= want:
                return data
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("prometheus did not report its targets within 30s")
        time.sleep(0.2)
