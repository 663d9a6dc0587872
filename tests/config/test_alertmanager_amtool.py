"""`vigil check config alertmanager.yml` against `amtool check-config` (Debian, Alertmanager
0.25) on every file of Alertmanager's own config testdata and the seed's alertmanager.yml: the
verdicts must agree, except where current Alertmanager (which vigil follows) accepts settings
0.25 does not know, listed with the reason."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, FIXTURES, peer
from vigil.alerting.lint import check
from vigil.notify.kinds import KINDS

TESTDATA = CONFORMANCE / "alertmanager" / "config-testdata"
SEED = FIXTURES / "seed-stack" / "alertmanager.yml"

_NEWER = "valid for upstream (config_test.go loads it without error); amtool 0.25 rejects"
# file -> why vigil accepts what amtool 0.25 rejects (every one is a `*-default-*` file upstream
# loads successfully; all `*-no-*`, `*-both-*` and `*-invalid` files fail in both).
DIFFERENCES = {
    "conf.mattermost-default-webhook-url-file.yml": f"{_NEWER} mattermost (added in 0.28)",
    "conf.mattermost-default-webhook-url.yml": f"{_NEWER} mattermost (added in 0.28)",
    "conf.rocketchat-default-token-file.yml": f"{_NEWER} rocketchat (added in 0.26)",
    "conf.rocketchat-default-token.yml": f"{_NEWER} rocketchat (added in 0.26)",
    "conf.slack-default-app-token.yml": f"{_NEWER} slack_app_token/app_token/app_url (0.29)",
    "conf.smtp-password-global-and-local.yml": f"{_NEWER} smtp_auth_secret_file (0.28)",
    "conf.telegram-default-bot-token-file.yml": f"{_NEWER} the global telegram_bot_token(_file)",
    "conf.telegram-default-bot-token.yml": f"{_NEWER} the global telegram_bot_token (0.28)",
    "conf.wechat-default-api-secret-file.yml": f"{_NEWER} wechat_api_secret_file (0.28)",
}


def _files() -> list[Path]:
    return [*sorted(TESTDATA.glob("*.yml")), SEED]


def _amtool(path: Path) -> bool:
    result = subprocess.run(
        [peer("amtool"), "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0


def test_file_count() -> None:
    assert len(_files()) == 47


def test_check_config_agrees_with_amtool(summary: Callable[[str], None]) -> None:
    files = _files()
    with ThreadPoolExecutor(max_workers=8) as pool:
        amtool = dict(zip(files, pool.map(_amtool, files), strict=True))
    disagreements = []
    for path in files:
        result = check(str(path), KINDS)
        want = amtool[path]
        if path.name in DIFFERENCES:
            assert not amtool[path], f"{path.name} is listed as a difference but amtool accepts it"
            want = True
        if (result.error is None) != want:
            disagreements.append(f"{path.name}: want ok={want}, vigil: {result.error}")
    agreed = sum(
        (check(str(p), KINDS).error is None) == amtool[p]
        for p in files
        if p.name not in DIFFERENCES
    )
    summary(
        f"vigil check config (alertmanager.yml) agrees with amtool check-config 0.25 on"
        f" {agreed}/{len(files)} files; the {len(DIFFERENCES)} others are Alertmanager ≥0.26"
        " features, where vigil follows upstream's testdata"
    )
    assert disagreements == []


def _name_says_invalid(name: str) -> bool:
    """Upstream's naming: `-no-`/`-both-`/`-invalid`/`nil-` files fail (SMTP without auth is
    valid), as do the opsgenie `teams` key removed in 0.21 and update_message on a webhook."""
    if name == "conf.smtp-no-username-or-password.yml":
        return False
    words = ("-no-", "-both-", "-invalid", "nil-", "old-team", "update-message-and-webhook")
    return any(word in name for word in words)


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_verdict_follows_upstream_file_names(path: Path) -> None:
    result = check(str(path), KINDS)
    assert (result.error is not None) == _name_says_invalid(path.name), result.error


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "conf.smtp-both-password-and-file.yml",
            ":6: global.smtp_auth_password_file: at most one of smtp_auth_password &"
            " smtp_auth_password_file must be configured",
        ),
        (
            "conf.sns-invalid.yml",
            ":7: receivers[0].sns_configs[0]: must provide either a Target ARN, Topic ARN,"
            " or Phone Number for SNS config",
        ),
        (
            "conf.nil-match_re-route.yml",
            ':5: route.routes[0].match_re.invalid_label: invalid regexp value for "invalid_label"',
        ),
        (
            "conf.opsgenie-no-apikey.yml",
            ":14: receivers[0].opsgenie_configs[0]: no global OpsGenie API Key set either"
            " inline or in a file",
        ),
        (
            "conf.telegram-no-bot-token.yml",
            ":7: receivers[0].telegram_configs[0]: missing bot_token or bot_token_file on"
            " telegram_config",
        ),
    ],
)
def test_errors_say_what_amtool_says_with_file_line_and_path(name: str, message: str) -> None:
    error = check(str(TESTDATA / name), KINDS).error
    assert error == f"{TESTDATA / name}{message}"
