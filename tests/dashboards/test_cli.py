"""`vigil dashboards ...` on a data dir through main(), and with --url against a running
`vigil server` (a real process on a free port)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONFORMANCE, free_port, running
from vigil.cmd import main
from vigil.dashboards import BUILTIN_UIDS, count_panels

NODE_EXPORTER_FULL = CONFORMANCE / "grafana" / "node-exporter-full.json"
WANT_PANELS = count_panels(json.loads(NODE_EXPORTER_FULL.read_bytes())["panels"])


def _write(path: Path, body: Any) -> str:
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return str(path)


def test_import_list_export_delete_on_a_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], summary: Any
) -> None:
    data = f"--storage.tsdb.path={tmp_path / 'data'}"
    good = _write(tmp_path / "good.json", {"uid": "good", "title": "Good", "panels": []})
    bad = _write(tmp_path / "bad.json", '{"title": ')
    missing = str(tmp_path / "missing.json")
    assert main(["dashboards", "import", str(NODE_EXPORTER_FULL), good, bad, missing, data]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{NODE_EXPORTER_FULL}: imported as rYdddlPWk (Node Exporter Full, {WANT_PANELS} panels):"
        " /d/rYdddlPWk on vigil server",
        f"{good}: imported as good (Good, 0 panels): /d/good on vigil server",
        f"{bad}: FAILED: not JSON: Expecting value at line 1, column 11",
        f"{missing}: FAILED: cannot read: No such file or directory",
    ]
    summary(f"dashboards: Node Exporter Full through the CLI: {WANT_PANELS} panels")
    assert main(["dashboards", "import", good, data]) == 1
    assert 'FAILED: a dashboard with uid "good" exists already' in capsys.readouterr().out
    assert main(["dashboards", "import", good, data, "--overwrite"]) == 0
    capsys.readouterr()

    assert main(["dashboards", "list", data]) == 0
    listed = capsys.readouterr()
    rows = [line.split()[0] for line in listed.out.splitlines()[1:]]
    assert rows == [*BUILTIN_UIDS, "good", "rYdddlPWk"]
    assert listed.err == f"dashboards of data dir {tmp_path / 'data'}\n"

    assert main(["dashboards", "export", "rYdddlPWk", data]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert count_panels(exported["panels"]) == WANT_PANELS
    assert main(["dashboards", "export", "nope", data]) == 1
    assert "no dashboard has this uid" in capsys.readouterr().err

    assert main(["dashboards", "delete", "vigil-node", data]) == 1
    assert "built-in dashboard and cannot be deleted" in capsys.readouterr().err
    assert main(["dashboards", "delete", "good", data]) == 0
    assert not (tmp_path / "data" / "dashboards" / "good.json").exists()


def test_url_goes_through_a_running_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    url = f"--url=http://127.0.0.1:{port}"
    server = [
        sys.executable, "-m", "vigil", "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--agent.disable", "--rules.default.disable", "--alertmanager.disable",
        "--no-collector.containers",
    ]  # fmt: skip
    bad = _write(tmp_path / "bad.json", "[]")
    with running(server, f"http://127.0.0.1:{port}/-/ready"):
        assert main(["dashboards", "import", str(NODE_EXPORTER_FULL), bad, url]) == 1
        assert capsys.readouterr().out.splitlines() == [
            f"{NODE_EXPORTER_FULL}: imported as rYdddlPWk (Node Exporter Full, {WANT_PANELS} panels):"
            f" http://127.0.0.1:{port}/d/rYdddlPWk",
            f"{bad}: FAILED: JSON but not a dashboard: the top level is a list, not an object",
        ]
        assert main(["dashboards", "import", str(NODE_EXPORTER_FULL), url]) == 1
        assert "exists already" in capsys.readouterr().out
        assert main(["dashboards", "import", str(NODE_EXPORTER_FULL), url, "--overwrite"]) == 0
        capsys.readouterr()
        assert main(["dashboards", "list", url]) == 0
        rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
        assert rows == [*BUILTIN_UIDS, "rYdddlPWk"]
        assert main(["dashboards", "export", "vigil-containers", url]) == 0
        assert json.loads(capsys.readouterr().out)["title"] == "Containers"
        assert main(["dashboards", "delete", "vigil-node", url]) == 1
        assert "built in and cannot be deleted" in capsys.readouterr().err
        # the server writes where the CLI without --url reads
        assert main(["dashboards", "list", f"--storage.tsdb.path={tmp_path / 'data'}"]) == 0
        assert "rYdddlPWk" in capsys.readouterr().out
        assert main(["dashboards", "delete", "rYdddlPWk", url]) == 0
        assert capsys.readouterr().out == "rYdddlPWk: deleted\n"
    assert not (tmp_path / "data" / "dashboards" / "rYdddlPWk.json").exists()
    assert main(["dashboards", "list", url]) == 1
    assert "cannot reach" in capsys.readouterr().err
