"""What became of one push of log lines: what the collector does next depends on it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    SHIPPED = "shipped"
    RETRY = "retry"  # the far end is down, busy or limiting: send the same lines again later
    REJECTED = "rejected"  # the far end refuses these lines for good (a 4xx): drop them


@dataclass(frozen=True, slots=True)
class PushResult:
    outcome: Outcome
    reason: str = ""
