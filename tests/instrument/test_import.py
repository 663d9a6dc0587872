"""`import vigil.instrument` sits in every request-serving process: it loads no numpy, no
framework and no OpenTelemetry, and instrumenting an app without tracing loads no
OpenTelemetry either."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("numpy", "opentelemetry", "fastapi", "starlette", "flask", "django", "prometheus_client")


def _loaded(program: str) -> list[str]:
    report = f";import sys;print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    done = subprocess.run(
        [sys.executable, "-c", program + report],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    return eval(done.stdout)  # type: ignore[no-any-return]


def test_importing_loads_nothing_heavy() -> None:
    assert _loaded("import vigil.instrument") == []


def test_a_flask_app_without_tracing_loads_only_flask_and_prometheus_client() -> None:
    program = (
        "import flask, vigil.instrument;"
        "vigil.instrument.instrument(flask.Flask('app'), service_name='app', env={})"
    )
    assert _loaded(program) == ["flask", "prometheus_client"]
