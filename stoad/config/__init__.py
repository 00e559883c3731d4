"""Configuration: strict INI in, frozen typed objects out (see docs/configuration.md)."""

from stoad.config._load import config_from_file, config_from_string, parse_listen
from stoad.config._model import (
    AdminSettings,
    Config,
    LimitSettings,
    ListenAddress,
    Route,
    ServerSettings,
    TLSSettings,
)
from stoad.config._reader import REQUIRED, ConfigError, Problems, SectionReader

__all__ = [
    "AdminSettings",
    "Config",
    "ConfigError",
    "LimitSettings",
    "ListenAddress",
    "Problems",
    "REQUIRED",
    "Route",
    "SectionReader",
    "ServerSettings",
    "TLSSettings",
    "config_from_file",
    "config_from_string",
    "parse_listen",
]
