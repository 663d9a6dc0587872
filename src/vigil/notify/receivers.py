"""From a receiver's configuration to its integrations (one per `<kind>_configs` entry), and
the "send a test notification" action that checks a receiver end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from vigil.alerting._api import Notification, NotifyError
from vigil.config.alertmanager import Config
from vigil.model.alert import Alert
from vigil.model.clock import Clock
from vigil.model.labels import Labels
from vigil.notify.integration import Integration, SenderContext, SendingKind, Unsent
from vigil.notify.kinds import KINDS
from vigil.notify.template import Templates

TEST_TIMEOUT = 30.0


class UnknownReceiver(KeyError):
    """No receiver of that name in the configuration (a KeyError whose text reads plainly)."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnsupportedIntegration(ValueError):
    """A receiver kind vigil cannot send to yet; names the receiver, kind and config line."""


def build_integrations(
    config: Config,
    receiver_name: str,
    templates: Templates,
    external_url: str,
    now: Callable[[], float],
) -> list[Integration]:
    """The receiver's integrations in the order they are written, each numbered within its
    kind; raises UnknownReceiver (a KeyError) for an unknown receiver and UnsupportedIntegration for a kind
    without a sender (so a config vigil cannot honour fails at load, not at 3 a.m.)."""
    receiver = config.receiver(receiver_name)
    if receiver is None:
        raise UnknownReceiver(f'{config.file}: receiver "{receiver_name}" does not exist')
    context = SenderContext(templates, external_url, now)
    integrations: list[Integration] = []
    counts: dict[str, int] = {}
    for entry in receiver.integrations:
        index = counts.get(entry.kind, 0)
        counts[entry.kind] = index + 1
        sender = entry.sender(context) if isinstance(entry, SendingKind) else None
        if sender is None:
            raise UnsupportedIntegration(
                f"{config.file}:{entry.line}: receiver {receiver_name!r}: {entry.kind}_configs"
                f" are not supported by vigil yet (supported: {_supported()})"
            )
        integrations.append(
            Integration(receiver_name, entry.kind, index, entry.send_resolved, sender)
        )
    return integrations


def _supported() -> str:
    """The kinds vigil sends to (this loads every kind: it is only for an error message)."""
    kinds = (load() for load in KINDS.values())
    return ", ".join(sorted(f"{k.kind}_configs" for k in kinds if not issubclass(k, Unsent)))


@dataclass(frozen=True, slots=True)
class ReceiverTestResult:
    """How one integration answered a test notification: the HTTP status or SMTP reply when
    it worked, the error when it did not."""

    integration: str
    ok: bool
    detail: str


def test_notification(receiver: str, now: float) -> Notification:
    """A clearly marked synthetic alert, grouped on its name alone."""
    alert = Alert(
        labels=Labels.from_dict({"alertname": "TestAlert", "instance": "vigil"}),
        annotations=Labels.from_dict(
            {
                "summary": "This is a test notification from vigil",
                "description": f'Sent to check that receiver "{receiver}" works;'
                " no action is needed.",
            }
        ),
        starts_at=now,
    )
    return Notification(
        receiver=receiver,
        group_key='{}:{alertname="TestAlert"}',
        group_labels=Labels.from_dict({"alertname": "TestAlert"}),
        alerts=(alert,),
        now=now,
        deadline=now + TEST_TIMEOUT,
        repeat_interval=0.0,
    )


async def test_receiver(
    config: Config,
    name: str,
    clock: Clock,
    templates: Templates | None = None,
    external_url: str = "",
) -> list[ReceiverTestResult]:
    """Send one test notification through each integration of receiver `name`, at once and
    without retries, and report each outcome."""
    templates = templates or Templates.load(config.templates, clock.now)
    integrations = build_integrations(config, name, templates, external_url, clock.now)
    notification = test_notification(name, clock.now())

    async def one(integration: Integration) -> ReceiverTestResult:
        try:
            async with asyncio.timeout(TEST_TIMEOUT):
                reply = await integration.sender.send(notification)
        except TimeoutError:
            return ReceiverTestResult(str(integration), False, "timed out")
        except NotifyError as err:
            return ReceiverTestResult(str(integration), False, str(err))
        return ReceiverTestResult(str(integration), True, reply)

    return list(await asyncio.gather(*(one(i) for i in integrations)))


# Not tests: keeps pytest from collecting them in a test module that imports them.
test_receiver.__test__ = False  # type: ignore[attr-defined]
test_notification.__test__ = False  # type: ignore[attr-defined]
