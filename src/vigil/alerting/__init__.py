"""Alertmanager's core: the routing tree (more stages — dispatcher, inhibitor, silences — to come)."""

from vigil.alerting.route import Route, RouteOptions, build_tree

__all__ = ["Route", "RouteOptions", "build_tree"]
