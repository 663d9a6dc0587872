"""`vigil alertmanager explain`: the route, group, inhibitions and notification timeline of
one alert, offline from the config and live from a running (real) Alertmanager."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES, free_port, peer, running
from vigil.alerting.explain import LiveState, explain, explain_command, timeline
from vigil.alerting.route import build_tree
from vigil.config.duration import Duration
from vigil.config.matchers import parse_matchers
from vigil.model import Labels
from vigil.notify.kinds import KINDS, load_config, parse_config

SEED = FIXTURES / "seed-stack" / "alertmanager.yml"
WARNING = Labels.from_dict(
    {"alertname": "HighMemoryUsage", "severity": "warning", "instance": "a:9100"}
)


def _config(group_wait: str, group_interval: str, repeat: str) -> str:
    return f"""
route:
  receiver: hook
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: {repeat}
receivers:
  - name: hook
    webhook_configs: [{{url: "http://127.0.0.1:1/"}}]
"""


# repeat_interval is checked on group_interval ticks and needs strictly more time than it:
# the first repeat is the first tick after it.
REPEATS = [
    ("30s", "5m", "1h", "t+1h5m30s"),
    ("30s", "5m", "4h", "t+4h5m30s"),
    ("10s", "7m", "1h", "t+1h3m10s"),
    ("0s", "1s", "2s", "t+3s"),
    ("1m", "10m", "1m", "t+11m"),
]


@pytest.mark.parametrize(("wait", "interval", "repeat", "first_repeat"), REPEATS)
def test_timeline_repeats_on_the_first_tick_after_repeat_interval(
    wait: str, interval: str, repeat: str, first_repeat: str
) -> None:
    route = build_tree(parse_config(_config(wait, interval, repeat)))
    steps = timeline(route, [("webhook_configs[0]", True)], Duration.parse("5m"))
    want = [f"t+{wait}", f"every {interval}", first_repeat, "resolved", "timeout"]
    assert [s.at for s in steps] == want


def test_the_seed_alert_explained() -> None:
    text = explain(load_config(str(SEED)), WARNING)
    assert "route {} (line 6) -> receiver 'slack-notifications'" in text
    assert 'group key: {}:{alertname="HighMemoryUsage"}' in text
    assert "no resolved message from slack_configs[0] (send_resolved: false)" in text
    assert (
        'an alert matching {severity="critical"} fires with alertname="HighMemoryUsage", '
        'dev="", instance="a:9100" (inhibit rule at line 24)'
    ) in text


def test_live_state_names_the_silence_and_the_inhibiting_alert() -> None:
    critical = WARNING.with_label("severity", "critical")
    live = LiveState(
        silences=(("s-1", parse_matchers('instance="a:9100"')), ("s-2", parse_matchers("x=y"))),
        firing=(critical, WARNING),
    )
    text = explain(load_config(str(SEED)), WARNING, live)
    assert "silenced by s-1\n" in text
    assert 'inhibited by {alertname="HighMemoryUsage", instance="a:9100", severity="critical"}' in (
        text
    )


@pytest.mark.parametrize(
    ("labels", "error"),
    [
        ("alertname=~X", "labels must be name=value pairs"),
        ("", "--labels names no label"),
        ("a b", "vigil alertmanager explain:"),
    ],
)
def test_bad_labels_are_refused(labels: str, error: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert explain_command(str(SEED), KINDS, labels, None, out, err) == 1
    assert error in err.getvalue()


@pytest.mark.slow
def test_live_state_from_a_real_alertmanager(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        peer("prometheus-alertmanager"),
        f"--config.file={SEED}",
        f"--storage.path={tmp_path}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running(args, f"{url}/-/ready"):
        critical = {**WARNING.to_dict(), "severity": "critical"}
        body = [{"labels": critical}, {"labels": WARNING.to_dict()}]
        httpx.post(f"{url}/api/v2/alerts", json=body).raise_for_status()
        subprocess.run(
            [
                peer("amtool"),
                f"--alertmanager.url={url}",
                "silence",
                "add",
                "instance=a:9100",
                "-c",
                "maintenance",
                "-a",
                "test",
            ],
            check=True,
            capture_output=True,
        )
        out, err = io.StringIO(), io.StringIO()
        labels = "alertname=HighMemoryUsage,severity=warning,instance=a:9100"
        assert explain_command(str(SEED), KINDS, labels, url, out, err) == 0, err.getvalue()
    text = out.getvalue()
    assert "silenced by " in text and "no active silence" not in text
    assert 'inhibited by {alertname="HighMemoryUsage", instance="a:9100", severity="critical"}' in (
        text
    )


@pytest.mark.parametrize("command", ["config", "alertmanager-config"])
def test_check_config_explains_alerts_too(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from vigil import cmd

    labels = "alertname=HighMemoryUsage,severity=warning,instance=a:9100"
    assert cmd.main(["check", command, str(SEED), "--explain", labels]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{SEED}: SUCCESS")
    assert 'group key: {}:{alertname="HighMemoryUsage"}' in out
    assert "no resolved message from slack_configs[0] (send_resolved: false)" in out


def test_explain_without_a_config_file_uses_the_servers_built_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's One-VM example: no alertmanager.yml in the working directory."""
    from vigil import cmd

    monkeypatch.chdir(tmp_path)
    labels = "alertname=HostOutOfMemory,severity=critical"
    assert cmd.main(["alertmanager", "explain", "--labels", labels]) == 0
    captured = capsys.readouterr()
    assert "built-in alertmanager.yml" in captured.err
    assert "receiver 'null' (no integrations: nothing is sent)" in captured.out
