"""The UI never turns strings into markup or code: label values, annotations and dashboard
strings reach the page only as text nodes (ui/src/dom.ts). A sink added later fails here,
before any XSS corpus has to find it."""

from __future__ import annotations

import re

from tests.conftest import REPO

SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|"
    r"createContextualFragment|srcdoc"
)


def test_no_markup_or_code_sinks_in_the_ui() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "ui" / "src").rglob("*.ts"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SINKS.search(line)
    ]
    assert found == []
