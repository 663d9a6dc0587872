"""The wheel carries what a pip user needs at run time and cannot build: the UI bundle, the
built-in dashboards, templates and rule packs (so `pip install vigil` needs no Node)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

SHIPPED = [
    "vigil/web/static/index.html",
    "vigil/web/static/app.js",
    "vigil/web/static/app.css",
    "vigil/notify/templates/default.tmpl",
    "vigil/alerting/default/alertmanager.yml",
    "vigil/py.typed",
]


def test_wheel_ships_the_built_ui(tmp_path: Path) -> None:
    assert (REPO / "src/vigil/web/static/app.js").is_file(), "run `make ui` first (make test does)"
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "--wheel-dir", str(tmp_path), str(REPO)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("vigil-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [n for n in SHIPPED if n not in names] == []
    assert any(n.startswith("vigil/rules/default/") and n.endswith(".yml") for n in names)
    assert not [n for n in names if "node_modules" in n or n.startswith("ui/")]
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "vigil = vigil.cmd:main" in scripts.splitlines()
