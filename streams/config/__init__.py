"""Configuration: the seed's YAML (schema, loading, compliance), the environment (settings), units and keys.

Imports nothing else of streams: every other room may read it.
"""

from streams.config.loading import load_config, parse_config
from streams.config.schema import (
    DEFAULT_CONFIG_PATH,
    PROVIDER_FAMILIES,
    ConfigError,
    EnvironmentProfile,
    HugaiConfig,
    HumanOversight,
    ModelSpec,
    RouteRule,
)

__all__ = [
    "ConfigError",
    "HugaiConfig",
    "ModelSpec",
    "RouteRule",
    "EnvironmentProfile",
    "HumanOversight",
    "load_config",
    "parse_config",
    "DEFAULT_CONFIG_PATH",
    "PROVIDER_FAMILIES",
]
