"""`/api/v1/status/runtimeinfo`: Prometheus's keys where they mean something in a Python
process, the process's own facts where Prometheus has Go's."""

from __future__ import annotations

import os
import platform

from vigil.web.status import RuntimeFacts, runtime_info


def test_runtime_info_has_python_facts_not_gos() -> None:
    info = runtime_info(RuntimeFacts(0.0, True, 0.0, 15 * 86_400_000, 0, corruption_count=2))
    assert not {"goroutineCount", "GOMAXPROCS", "GOGC", "GODEBUG"} & info.keys()
    assert info["corruptionCount"] == 2
    assert info["storageRetention"] == "15d"
    assert info["pythonVersion"] == platform.python_version()
    assert info["pid"] == os.getpid()
    assert info["threadCount"] >= 1
    assert len(info["gcThresholds"].split(",")) == 3
