"""`vigil server` on a clock that runs SPEED times as fast as the wall clock, reading T0 at
the system's monotonic instant MONOTONIC0 (so the process that starts it can read the same
clock), for benchmarks that compress hours into minutes: every stage that takes the
server's clock (span store ticks and block cuts, span metrics, scrapes, rules) runs SPEED
times as often.

    python bench/fast_clock.py SPEED T0 MONOTONIC0 server [flags]
"""

from __future__ import annotations

import asyncio
import sys
import time

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # as vigil's __main__

import vigil.cmd.server_process as server_process  # noqa: E402
from vigil.cmd import main  # noqa: E402


class FastClock:
    def __init__(self, speed: float, t0: float, monotonic0: float) -> None:
        self.speed, self.t0, self.monotonic0 = speed, t0, monotonic0

    def now(self) -> float:
        return self.t0 + (time.monotonic() - self.monotonic0) * self.speed

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, (deadline - self.now()) / self.speed))


if __name__ == "__main__":
    speed, t0, monotonic0 = (float(a) for a in sys.argv[1:4])
    server_process.SystemClock = lambda: FastClock(speed, t0, monotonic0)  # type: ignore[assignment,misc]
    raise SystemExit(main(sys.argv[4:]))
