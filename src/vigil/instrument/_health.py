"""Which requests are a load balancer's health checks: machine traffic kept out of the RED
metrics, traces and access logs (and counted on their own)."""

from __future__ import annotations

from dataclasses import dataclass

ELB_HEALTH_CHECKER = "ELB-HealthChecker/2.0"


@dataclass(frozen=True, slots=True)
class HealthChecks:
    """A request is a health check when its path is one of `paths` or its User-Agent starts
    with one of `user_agents` (ELB's carries a version, kube-probe's too)."""

    paths: frozenset[str] = frozenset()
    user_agents: tuple[str, ...] = (ELB_HEALTH_CHECKER,)

    def matches(self, path: str, user_agent: str) -> bool:
        return path in self.paths or (bool(user_agent) and user_agent.startswith(self.user_agents))
