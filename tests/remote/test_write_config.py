"""remote_write entries of prometheus.yml: the schema queues are built from, and errors that
name file, line and field."""

from __future__ import annotations

import textwrap

import pytest

from vigil.config import ConfigError
from vigil.config.duration import Duration
from vigil.config.http import Authorization, BasicAuth, HTTPClientConfig
from vigil.config.prometheus import parse_config
from vigil.config.relabel import Action
from vigil.config.remote import MetadataConfig, QueueConfig
from vigil.remote.write import queue_name


def test_full_entry_is_parsed() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            remote_write:
              - url: https://vm.example/api/v1/write
                name: vm
                remote_timeout: 10s
                headers: {X-Scope-OrgID: team-a}
                basic_auth: {username: u, password: p}
                proxy_url: http://proxy:3128
                write_relabel_configs:
                  - {source_labels: [__name__], regex: go_.*, action: drop}
                queue_config:
                  capacity: 2500
                  min_shards: 2
                  max_shards: 20
                  max_samples_per_send: 500
                  batch_send_deadline: 2s
                  min_backoff: 50ms
                  max_backoff: 10s
                  retry_on_http_429: true
                metadata_config: {send: false, send_interval: 2m}
            """
        ),
        "prometheus.yml",
    )
    (rw,) = config.remote_write
    got = (
        rw.url,
        rw.name,
        rw.remote_timeout,
        rw.headers,
        rw.http_client.basic_auth,
        rw.http_client.proxy_url,
        [c.action for c in rw.write_relabel_configs],
        rw.queue_config,
        rw.metadata_config,
        queue_name(rw),
    )
    assert got == (
        "https://vm.example/api/v1/write",
        "vm",
        Duration(10_000),
        (("X-Scope-OrgID", "team-a"),),
        BasicAuth(username="u", password="p"),  # type: ignore[arg-type]
        "http://proxy:3128",
        [Action.DROP],
        QueueConfig(2500, 20, 2, 500, Duration(2000), Duration(50), Duration(10_000), True),
        MetadataConfig(False, Duration(120_000), 2000),
        "vm",
    )


def test_defaults_are_prometheus_ones() -> None:
    (rw,) = parse_config(
        "remote_write: [{url: 'http://r/w', authorization: {credentials: t}}]\n"
    ).remote_write
    assert (rw.remote_timeout, rw.queue_config, rw.metadata_config, rw.http_client) == (
        Duration(30_000),
        QueueConfig(),
        MetadataConfig(),
        HTTPClientConfig(authorization=Authorization("Bearer", "t"), enable_http2=False),  # type: ignore[arg-type]
    )
    assert len(queue_name(rw)) == 6


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ("url: ''", "p.yml:2: remote_write[0]: url for remote_write is empty"),
        (
            "{url: 'http://x', queue_config: {capacity: lots}}",
            'remote_write[0].queue_config.capacity: expected an integer, got "lots"',
        ),
        (
            "{url: 'http://x', queue_config: {batch_send_deadline: soon}}",
            '"soon" is not a duration',
        ),
        (
            "{url: 'http://x', queue_config: {max_shard: 3}}",
            "unknown key in queue_config (did you mean max_shards?)",
        ),
        ("{url: 'http://x', headers: {User-Agent: me}}", "User-Agent is a reserved header"),
        (
            "{url: 'http://x', headers: {Authorization: x}}",
            "set the authorization header with basic_auth",
        ),
        (
            "{url: 'http://x', basic_auth: {username: a}, authorization: {credentials: b}}",
            "at most one of",
        ),
        (
            "{url: 'http://x', write_relabel_configs: [{action: nope}]}",
            'unknown relabel action "nope"',
        ),
        (
            "{url: 'http://x', metadata_config: {send: maybe}}",
            "remote_write[0].metadata_config.send",
        ),
    ],
)
def test_errors_name_file_line_and_field(entry: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"remote_write:\n  - {entry}\n", "p.yml")
    assert error in str(caught.value)
    assert str(caught.value).startswith("p.yml:2: ")


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(
        ConfigError, match=r'p.yml:3: remote_write\[1\]: duplicate remote write name "a"'
    ):
        parse_config(
            "remote_write:\n  - {url: 'http://x', name: a}\n  - {url: 'http://y', name: a}\n",
            "p.yml",
        )
