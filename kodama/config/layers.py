"""Config files as layers: finding, parsing (bounded YAML, line numbers), checking and merging them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from kodama.config.keys import config_keys, snake_key
from kodama.config.models import REPO_CONFIG_NAME, Config
from kodama.errors import ConfigError, InvalidInput
from kodama.home import kodama_home as kodama_home
from kodama.yaml_limits import bounded_compose


def global_config_path() -> Path:
    return kodama_home() / "config.yaml"


def find_repo_config(start: Path) -> Path | None:
    """Walk up from `start` to the git root (inclusive) looking for .kodama.yaml."""
    cur = start.resolve()
    while True:
        candidate = cur / REPO_CONFIG_NAME
        if candidate.is_file():
            return candidate
        if (cur / ".git").exists() or cur.parent == cur:
            return None
        cur = cur.parent


@dataclass
class Layer:
    source: str  # file path or "flags"
    data: dict[str, Any]
    lines: dict[tuple[str | int, ...], int]


class _LineLoader(yaml.SafeLoader):
    pass


def _key_lines(
    node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], int]
) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = key_node.start_mark.line + 1
            _key_lines(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _key_lines(item, (*path, i), out)


def parse_yaml_text(text: str, source: str) -> Layer:
    """Parse config YAML, remembering the line of every key. Raises ConfigError."""
    try:
        node = bounded_compose(text, source, _LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: expected a mapping of settings at the top level")
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _key_lines(node, (), lines)
    return Layer(source, data, lines)


def load_layer(path: Path, *, repo: bool = False) -> Layer | None:
    if not path.is_file():
        return None
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    layer = parse_yaml_text(text, str(path))
    validate_layer(layer, repo=repo)
    return layer


# What a repository's .kodama.yaml may set: whoever wrote the repository is not the person running
# `start`. Sizing, sync excludes, branch prefix, the agent and its image and environment are the
# project's business (the security-relevant ones are shown and confirmed at start); credentials,
# git Secrets, shipping ignored files and scheduling are the user's and the cluster's.
REPO_ALLOWED = frozenset(
    {
        "namespace",
        "image",
        "resources",
        "storage",
        "branchPrefix",
        "env",
        "agent",
        "sync",
        "timeout",
    }
)
REPO_ALLOWED_DEFAULTS = frozenset({"namespace", "image", "resources", "storage", "branchPrefix"})
REPO_NOT_ALLOWED = "not allowed in a repository's .kodama.yaml (set it in {global_} or with a flag)"


def _camel(key: Any) -> str:
    return to_camel(key) if isinstance(key, str) else str(key)


def _repo_issues(layer: Layer) -> list[ConfigIssue]:
    known = {info.alias or name for name, info in Config.model_fields.items()}
    message = REPO_NOT_ALLOWED.format(global_=global_config_path())
    issues: list[ConfigIssue] = []
    for key, value in layer.data.items():
        name = _camel(key)
        if name == "defaults" and isinstance(value, dict):
            for sub in value:
                if _camel(sub) not in REPO_ALLOWED_DEFAULTS and _camel(sub) in known:
                    path = ("defaults", sub)
                    issues.append(ConfigIssue(path, _line_for(layer, path), message))
        elif name in known and name not in REPO_ALLOWED and name != "defaults":
            issues.append(ConfigIssue((key,), _line_for(layer, (key,)), message))
    return issues


@dataclass
class ConfigIssue:
    path: tuple[str | int, ...]
    line: int | None
    message: str

    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path) or "(top level)"


def layer_issues(layer: Layer, *, repo: bool = False) -> list[ConfigIssue]:
    """Validate one layer on its own; every problem with its key path and line.

    `repo`: the layer is a repository's .kodama.yaml, limited to REPO_ALLOWED.
    """
    issues: list[ConfigIssue] = _repo_issues(layer) if repo else []
    try:
        Config.model_validate(_normalize(layer.data))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_for(layer, loc)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key" + _did_you_mean(loc)
            issues.append(ConfigIssue(loc, line, msg))
    except _LiftConflict as exc:
        issues.append(ConfigIssue(exc.path, _line_for(layer, exc.path), exc.message))
    return issues


def _did_you_mean(loc: tuple[str | int, ...]) -> str:
    """` (did you mean command?)` for a misspelt key, as click does for flags."""
    if not loc or not isinstance(loc[-1], str):
        return ""
    parent = tuple(str(p) for p in loc[:-1])
    keys = config_keys(parent) or []
    names = {k.name: k.name for k in keys} | {snake_key(k.name): k.name for k in keys}
    import difflib  # only for a mistyped key

    close = difflib.get_close_matches(loc[-1], list(names), n=1, cutoff=0.6)
    return f" (did you mean {names[close[0]]}?)" if close else ""


def validate_layer(layer: Layer, *, repo: bool = False) -> None:
    """Every mistake of the file in one line, so one edit fixes them all."""
    issues = sorted(layer_issues(layer, repo=repo), key=lambda i: i.line or 0)
    if len(issues) == 1:
        first = issues[0]
        where = f":{first.line}" if first.line else ""
        raise ConfigError(f"{layer.source}{where}: {first.dotted()}: {first.message}")
    if issues:
        parts = [
            (f"line {i.line} " if i.line else "") + f"{i.dotted()}: {i.message}" for i in issues
        ]
        raise ConfigError(f"{layer.source}: {len(issues)} problems: {'; '.join(parts)}")


def _line_for(layer: Layer, loc: tuple[str | int, ...]) -> int | None:
    # pydantic reports aliases (camelCase) as they appear in the input; walk up until known.
    for n in range(len(loc), 0, -1):
        if loc[:n] in layer.lines:
            return layer.lines[loc[:n]]
        lifted = ("defaults", *loc[:n])
        if lifted in layer.lines:
            return layer.lines[lifted]
    return None


class _LiftConflict(Exception):
    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        self.message = message


_LIFTABLE = ("image", "resources", "storage", "branchPrefix", "branch_prefix", "namespace")


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    """Lift the seed's `defaults.X` keys to the top level (both spellings must not collide)."""
    out = dict(data)
    defaults = out.get("defaults")
    if isinstance(defaults, dict):
        rest = dict(defaults)
        for key in _LIFTABLE:
            if key in rest:
                if key in out:
                    raise _LiftConflict(
                        ("defaults", key), f"set both here and at the top level as {key!r}"
                    )
                out[key] = rest.pop(key)
        out["defaults"] = rest
    return out


def merge(
    lower: dict[str, Any], higher: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Merge two raw config mappings (already normalized) following the documented rules."""
    out = dict(lower)
    for key, value in higher.items():
        if value is None:
            continue
        here = (*path, key)
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge(old, value, here)
        elif here in (("sync", "exclude"),) and isinstance(old, list) and isinstance(value, list):
            out[key] = old + [v for v in value if v not in old]
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class RepoChange:
    """A security-relevant setting the repository's file changes from what the user would get."""

    key: str  # image, agent.command, agent.permissionMode, env.NAME, namespace
    value: str | None

    def describe(self) -> str:
        return f"{self.key}: {self.value if self.value is not None else '(unset)'}"


@dataclass
class LoadedConfig:
    config: Config
    sources: list[str]
    repo_root: Path | None
    repo_changes: list[RepoChange] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """The merged configuration as `config view` shows it (CLI and editors)."""
        return self.config.model_dump(mode="json", by_alias=True, exclude={"defaults"})


def load_config(cwd: Path, flags: dict[str, Any] | None = None) -> LoadedConfig:
    """Load and merge defaults < global < repo < flags, validating each layer on its own."""
    glob = load_layer(global_config_path())
    repo_file = find_repo_config(cwd)
    repo = load_layer(repo_file, repo=True) if repo_file else None
    layers = [layer for layer in (glob, repo) if layer is not None]
    cfg = _merged(layers, flags)
    changes = _repo_changes(_merged([glob] if glob else [], flags), cfg) if repo else []
    return LoadedConfig(
        cfg, [layer.source for layer in layers], repo_file.parent if repo_file else None, changes
    )


def _merged(layers: list[Layer], flags: dict[str, Any] | None) -> Config:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge(merged, _normalize(layer.data))
    if flags:
        merged = merge(merged, flags)
    try:
        cfg = Config.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(
            f"invalid value for {loc}: {err['msg'].removeprefix('Value error, ')}"
        ) from None
    if cfg.namespace is None and cfg.defaults.namespace is not None:
        cfg.namespace = cfg.defaults.namespace
    return cfg


def _repo_changes(without: Config, with_repo: Config) -> list[RepoChange]:
    """What the repository file changes among the settings that decide what runs and where."""
    out: list[RepoChange] = []
    if with_repo.image != without.image:
        out.append(RepoChange("image", with_repo.image))
    if with_repo.agent.command != without.agent.command:
        out.append(RepoChange("agent.command", with_repo.agent.command))
    # What the agent may do without asking (bypassPermissions: anything) is the user's call.
    for key in ("permission_mode", "interactive_permission_mode"):
        value = getattr(with_repo.agent, key)
        if value != getattr(without.agent, key):
            out.append(RepoChange(f"agent.{to_camel(key)}", value))
    for key, value in with_repo.env.items():
        if without.env.get(key) != value:
            out.append(RepoChange(f"env.{key}", value))
    if with_repo.namespace != without.namespace:
        out.append(RepoChange("namespace", with_repo.namespace))
    return out


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Kodama configuration (~/.kodama/config.yaml, .kodama.yaml)"
    return schema
