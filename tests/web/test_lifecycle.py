"""Prometheus's lifecycle endpoints: readiness with its reason, reload answering why it failed,
quit after the answer, and both writes refused without --web.enable-lifecycle."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.web.lifecycle import Lifecycle


def _client(
    calls: list[str], *, enabled: bool, problem: str | None, reload_error: str | None
) -> TestClient:
    async def reload() -> str | None:
        return reload_error

    lifecycle = Lifecycle(
        enabled=enabled,
        not_ready=lambda: problem,
        reload=reload,
        quit_=lambda: calls.append("quit"),
    )
    return TestClient(Starlette(routes=lifecycle.routes()))


def _answer(client: TestClient, method: str, path: str) -> tuple[int, str]:
    response = client.request(method, path)
    return response.status_code, response.text


@pytest.mark.parametrize(
    ("enabled", "problem", "reload_error", "want"),
    [
        (
            True,
            None,
            None,
            [(200, "vigil is Healthy.\n"), (200, "vigil is Ready.\n"), (200, ""), (200, "quit")],
        ),
        (
            True,
            "replaying WAL",
            "rule_files: x.yml: no such file",
            [
                (200, "vigil is Healthy.\n"),
                (503, "Service Unavailable: replaying WAL\n"),
                (500, "failed to reload config: rule_files: x.yml: no such file"),
                (200, "quit"),
            ],
        ),
        (
            False,
            None,
            None,
            [
                (200, "vigil is Healthy.\n"),
                (200, "vigil is Ready.\n"),
                (403, "Lifecycle API is not enabled."),
                (403, "Lifecycle API is not enabled."),
            ],
        ),
    ],
    ids=["ready", "not-ready-and-bad-reload", "lifecycle-off"],
)
def test_lifecycle_answers(
    enabled: bool, problem: str | None, reload_error: str | None, want: list[tuple[int, str]]
) -> None:
    calls: list[str] = []
    with _client(calls, enabled=enabled, problem=problem, reload_error=reload_error) as client:
        got = [
            _answer(client, "GET", "/-/healthy"),
            _answer(client, "GET", "/-/ready"),
            _answer(client, "POST", "/-/reload"),
        ]
        status, text = _answer(client, "POST", "/-/quit")
        quit_said = text == "Requesting termination... Goodbye!"
        got.append((status, "quit" if quit_said and calls == ["quit"] else text))
    assert got == want
