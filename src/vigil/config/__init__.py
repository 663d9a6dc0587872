"""Load and validate every YAML file vigil reads; errors name file, line and key path."""

from vigil.config._yaml import ConfigError
from vigil.config.alerting import AlertingConfig, AlertmanagerConfig
from vigil.config.duration import Duration, DurationError
from vigil.config.prometheus import Config, GlobalConfig, load_config, parse_config
from vigil.config.relabel import Action, RelabelConfig, RelabelConfigError
from vigil.config.remote import RemoteReadConfig, RemoteWriteConfig
from vigil.config.scrape import ScrapeConfig
from vigil.config.targetgroup import TargetGroup, load_sd_file
from vigil.model.regex import Regex, RegexError

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
