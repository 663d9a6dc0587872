"""Load and validate every YAML file vigil reads; errors name file, line and key path.

The names below are imported on first use, so importing one module of the package (the
agent's `vigil.config.duration`) does not load every config type with it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.config._yaml import ConfigError
    from vigil.config.alerting import AlertingConfig, AlertmanagerConfig
    from vigil.config.duration import Duration, DurationError
    from vigil.config.prometheus import Config, GlobalConfig, load_config, parse_config
    from vigil.config.relabel import Action, RelabelConfig, RelabelConfigError
    from vigil.config.remote import RemoteReadConfig, RemoteWriteConfig
    from vigil.config.scrape import ScrapeConfig
    from vigil.config.targetgroup import TargetGroup, load_sd_file
    from vigil.model.regex import Regex, RegexError

_WHERE = {
    "Action": "vigil.config.relabel",
    "AlertingConfig": "vigil.config.alerting",
    "AlertmanagerConfig": "vigil.config.alerting",
    "Config": "vigil.config.prometheus",
    "ConfigError": "vigil.config._yaml",
    "Duration": "vigil.config.duration",
    "DurationError": "vigil.config.duration",
    "GlobalConfig": "vigil.config.prometheus",
    "Regex": "vigil.model.regex",
    "RegexError": "vigil.model.regex",
    "RelabelConfig": "vigil.config.relabel",
    "RelabelConfigError": "vigil.config.relabel",
    "RemoteReadConfig": "vigil.config.remote",
    "RemoteWriteConfig": "vigil.config.remote",
    "ScrapeConfig": "vigil.config.scrape",
    "TargetGroup": "vigil.config.targetgroup",
    "load_config": "vigil.config.prometheus",
    "load_sd_file": "vigil.config.targetgroup",
    "parse_config": "vigil.config.prometheus",
}

__all__ = [
    "Action",
    "AlertingConfig",
    "AlertmanagerConfig",
    "Config",
    "ConfigError",
    "Duration",
    "DurationError",
    "GlobalConfig",
    "Regex",
    "RegexError",
    "RelabelConfig",
    "RelabelConfigError",
    "RemoteReadConfig",
    "RemoteWriteConfig",
    "ScrapeConfig",
    "TargetGroup",
    "load_config",
    "load_sd_file",
    "parse_config",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vigil.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
