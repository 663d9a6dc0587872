"""An Alertmanager whose receivers send nowhere (the default alertmanager.yml's) is loaded,
checked and built without the senders, the HTTP client or the notification templates; the
first receiver with an integration loads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent.parent / "src"
UNLOADED = ("httpx", "vigil.notify.integration", "vigil.notify.template")
PROGRAM = """
import json, sys
from pathlib import Path
from vigil.cmd.alertmanager_service import (
    AlertmanagerOptions, AlertmanagerService, load_service_config)
from vigil.model.clock import SystemClock

config, text = load_service_config(Path(sys.argv[1]))
options = AlertmanagerOptions(storage_path=Path(sys.argv[1]).parent / "data")
service = AlertmanagerService(config, text, options, SystemClock())
print(json.dumps([service.config.receivers[0].name, sorted(m for m in %r if m in sys.modules)]))
"""
DEFAULT = (SRC / "vigil" / "alerting" / "default" / "alertmanager.yml").read_text()
WEBHOOK = """
route: {receiver: hook}
receivers:
  - name: hook
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
"""


@pytest.mark.parametrize(
    ("config", "want"),
    [(DEFAULT, ["null", []]), (WEBHOOK, ["hook", sorted(UNLOADED)])],
    ids=["sends nowhere", "webhook"],
)
def test_senders_are_imported_by_the_first_receiver_that_sends(
    tmp_path: Path, config: str, want: list[object]
) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(config)
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM % (UNLOADED,), str(path)],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == want
