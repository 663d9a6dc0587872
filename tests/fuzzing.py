"""How hard property tests look: `make test` runs a fixed set of examples so CI sees the same
cases every time; `make fuzz` (VIGIL_FUZZ_SCALE=N) runs N times as many, freshly drawn."""

from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("VIGIL_FUZZ_SCALE", "1")))
DERANDOMIZE = SCALE == 1


def examples(n: int) -> int:
    """`n` examples under `make test`, `n × VIGIL_FUZZ_SCALE` under `make fuzz`."""
    return n * SCALE
