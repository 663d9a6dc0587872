"""DESIGN.md's import arrows are not dodged: no function or method imports another stage's
module. Only the command layer (cli.py, vigil/cmd/) imports lazily, so `vigil --help` and
each command load just the stages they run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
COMMAND_LAYER = ("vigil/cli.py", "vigil/cmd/")


def _stage(module: str) -> str:
    """`vigil.rules.alerting` → `rules`; a module at the package root is its own stage."""
    return module.split(".")[1] if "." in module else module


def _nested_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """Imports of vigil modules below the top level (except `if TYPE_CHECKING:` blocks)."""
    found: list[tuple[int, str]] = []
    for top in tree.body:
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test):
            continue
        if isinstance(top, ast.Import | ast.ImportFrom):
            continue
        for node in ast.walk(top):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = (
                    [node.module]
                    if node.module != "vigil"
                    else [f"vigil.{a.name}" for a in node.names]
                )
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found.extend((node.lineno, name) for name in names if name.startswith("vigil."))
    return found


def test_no_function_level_import_crosses_a_stage() -> None:
    dodges = []
    for path in sorted((SRC / "vigil").rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(COMMAND_LAYER):
            continue
        own = _stage(relative.removesuffix(".py").replace("/", "."))
        for line, module in _nested_imports(ast.parse(path.read_text())):
            if _stage(module) != own:
                dodges.append(f"{relative}:{line} imports {module}")
    assert dodges == []


def test_the_agent_and_alertmanager_never_load_numpy() -> None:
    """`vigil agent` and `vigil alertmanager` sit beside the app on a small VM: numpy is
    ~16 MiB of RSS they have no use for. The command table and each of these two commands'
    whole program load without it."""
    program = (
        "import sys, vigil.cmd, vigil.cmd.agent_app, vigil.cmd.alertmanager_service;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"
