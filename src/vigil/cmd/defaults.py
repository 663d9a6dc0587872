"""The files vigil ships as its defaults, for the commands that fall back to them."""

from __future__ import annotations

from importlib import resources

DEFAULT_ALERTMANAGER_CONFIG = resources.files("vigil") / "alerting" / "default" / "alertmanager.yml"
"""The in-process Alertmanager's config without --alertmanager.config.file: no receiver yet."""
