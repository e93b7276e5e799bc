"""Configuration files and their merge.

Layers, lowest to highest precedence: built-in defaults < global file
(`$KODAMA_HOME/config.yaml`, default `~/.kodama/config.yaml`) < repository file (`.kodama.yaml`,
found by walking up from the working directory to the git root) < command-line flags.

Merge rules, field by field: scalars from a higher layer replace lower ones; maps
(`resources.extra`, `nodeSelector`, `env`) merge key by key, a higher layer winning per key;
lists replace the lower layer's list, except `sync.exclude`, which accumulates (an exclude added
in the global file is never dropped by a repo file).
"""

from kodama.config.keys import ConfigKey, config_key, config_keys
from kodama.config.layers import (
    ConfigIssue,
    Layer,
    LoadedConfig,
    RepoChange,
    find_repo_config,
    global_config_path,
    json_schema,
    kodama_home,
    layer_issues,
    load_config,
    load_layer,
    merge,
    parse_yaml_text,
    validate_layer,
)
from kodama.config.models import (
    DEFAULT_IMAGE,
    REPO_CONFIG_NAME,
    AgentConfig,
    Config,
    CredentialsConfig,
    Defaults,
    GitConfig,
    ModelPrice,
    PricingConfig,
    Resources,
    Storage,
    SyncConfig,
)

__all__ = [
    "DEFAULT_IMAGE",
    "REPO_CONFIG_NAME",
    "AgentConfig",
    "Config",
    "ConfigIssue",
    "ConfigKey",
    "CredentialsConfig",
    "Defaults",
    "GitConfig",
    "Layer",
    "LoadedConfig",
    "ModelPrice",
    "PricingConfig",
    "RepoChange",
    "Resources",
    "Storage",
    "SyncConfig",
    "config_key",
    "config_keys",
    "find_repo_config",
    "global_config_path",
    "json_schema",
    "kodama_home",
    "layer_issues",
    "load_config",
    "load_layer",
    "merge",
    "parse_yaml_text",
    "validate_layer",
]
