"""What a load balancer's or orchestrator's health check looks like: the user agents and
paths that span metrics, the app middleware and log rules leave out of request figures."""

from __future__ import annotations

DEFAULT_HEALTH_USER_AGENTS = ("ELB-HealthChecker/2.0", "kube-probe")
DEFAULT_HEALTH_PATHS = ("/actuator/health", "/health", "/healthz", "/ready")
