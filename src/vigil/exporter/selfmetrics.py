"""vigil's own metrics (process_*, python_*, vigil_build_info), kept in a prometheus_client
registry that each process builds once and passes to what needs it."""

from __future__ import annotations

import platform

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Gauge,
    disable_created_metrics,
)

import vigil


def self_registry() -> CollectorRegistry:
    # Go's clients (Prometheus, Alertmanager, node_exporter) expose no `_created` series in
    # the text format; leaving them out also makes /metrics a third smaller to build.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    registry.register(PROCESS_COLLECTOR)
    registry.register(PLATFORM_COLLECTOR)
    registry.register(GC_COLLECTOR)
    build = Gauge(
        "vigil_build_info",
        "A metric with a constant '1' value labeled by version and Python version of vigil.",
        ["version", "pythonversion"],
        registry=registry,
    )
    build.labels(vigil.__version__, platform.python_version()).set(1)
    return registry
