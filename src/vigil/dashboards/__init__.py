"""Grafana dashboards: the store (imported + built-in) that the UI and the API read."""

from vigil.dashboards.store import (
    BUILTIN_UIDS,
    MAX_BYTES,
    BuiltinDashboardError,
    Dashboard,
    DashboardConflictError,
    DashboardError,
    DashboardNotFoundError,
    DashboardStore,
    DashboardSummary,
    count_panels,
    normalize,
    parse_dashboard,
    rows_to_panels,
)

__all__ = [
    "BUILTIN_UIDS",
    "MAX_BYTES",
    "BuiltinDashboardError",
    "Dashboard",
    "DashboardConflictError",
    "DashboardError",
    "DashboardNotFoundError",
    "DashboardStore",
    "DashboardSummary",
    "count_panels",
    "normalize",
    "parse_dashboard",
    "rows_to_panels",
]
