"""The receiver kinds registry: each name loads the kind of that name, and a config loads only
the kinds it uses (a server on the default alertmanager.yml builds none of them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.notify.kinds import KINDS

SRC = Path(__file__).resolve().parents[2] / "src"
KIND_MODULES = ("vigil.notify.email", "vigil.notify.slack", "vigil.notify.unsupported",
                "vigil.notify.webhook")  # fmt: skip


def test_each_name_loads_the_kind_of_that_name() -> None:
    assert {name: load().kind for name, load in KINDS.items()} == {name: name for name in KINDS}


def _kind_modules_loaded(receivers: str) -> list[str]:
    config = "route: {receiver: r}\nreceivers:\n  - name: r\n" + receivers
    program = (
        "import json, sys\n"
        "from vigil.notify.kinds import parse_config\n"
        f"parse_config({config!r})\n"
        f"print(json.dumps(sorted(m for m in {KIND_MODULES!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    ("receivers", "want"),
    [
        ("", []),
        ("    slack_configs: [{api_url: 'http://x/'}]\n", ["vigil.notify.slack"]),
        (
            "    webhook_configs: [{url: 'http://x/'}]\n    pagerduty_configs: [{routing_key: k}]\n",
            ["vigil.notify.unsupported", "vigil.notify.webhook"],
        ),
    ],
)
def test_a_config_loads_only_the_kinds_it_names(receivers: str, want: list[str]) -> None:
    assert _kind_modules_loaded(receivers) == want
