"""Configuration files and their merge.

Layers, lowest to highest precedence: built-in defaults < global file
(`$KODAMA_HOME/config.yaml`, default `~/.kodama/config.yaml`) < repository file (`.kodama.yaml`,
found by walking up from the working directory to the git root) < command-line flags.

Merge rules, field by field: scalars from a higher layer replace lower ones; maps
(`resources.extra`, `nodeSelector`, `env`) merge key by key, a higher layer winning per key;
lists replace the lower layer's list, except `sync.exclude`, which accumulates (an exclude added
in the global file is never dropped by a repo file).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from kodama import validation
from kodama.agent import idle
from kodama.errors import ConfigError, InvalidInput
from kodama.models import PermissionMode
from kodama.yaml_limits import bounded_compose

DEFAULT_IMAGE = "ghcr.io/kodama-dev/agent:latest"
REPO_CONFIG_NAME = ".kodama.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, validate_default=True
    )


class Resources(_Model):
    """CPU and memory for the agent container (requests = limits), plus extended resources."""

    cpu: str = Field("1", description="CPU for the agent container, e.g. `500m` or `2`.")
    memory: str = Field("2Gi", description="Memory for the agent container, e.g. `4Gi`.")
    extra: dict[str, str] = Field(
        default_factory=dict,
        description="Extended resources as name: quantity, e.g. `nvidia.com/gpu: 1`.",
    )

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: Any) -> str:
        return _quantity(v, "cpu")

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: Any) -> str:
        return _quantity(v, "memory")

    @field_validator("extra", mode="before")
    @classmethod
    def _extra(cls, v: Any) -> Any:
        if isinstance(v, dict):
            out: dict[str, str] = {}
            for key, qty in v.items():
                _wrap(validation.validate_qualified_name, str(key), "resource name")
                out[str(key)] = _quantity(qty, f"quantity for {key}")
            return out
        return v


class Storage(_Model):
    """Sizes and class of the two PVCs every session gets (workspace and home)."""

    workspace: str = Field("10Gi", description="Size of the workspace PVC (the repository).")
    claude_home: str = Field(
        "2Gi",
        description="Size of the home PVC (the agent's whole HOME: ~/.claude, ~/.claude.json).",
    )
    storage_class: str | None = Field(
        None, description="StorageClass for both PVCs (default: the cluster's default class)."
    )

    @field_validator("workspace", "claude_home")
    @classmethod
    def _size(cls, v: Any) -> str:
        return _quantity(v, "storage size")


class Defaults(_Model):
    """Seed layout: `defaults:` may hold the session defaults; they are lifted to the top level."""

    namespace: str | None = Field(None, description="Namespace for sessions (else the context's).")
    image: str | None = None
    resources: Resources | None = None
    storage: Storage | None = None
    branch_prefix: str | None = None


class GitConfig(_Model):
    """How the repository gets into the pod."""

    secret_name: str | None = Field(
        None,
        description="Existing Secret with git credentials (keys `git-token`, or `ssh-privatekey` "
        "and `known_hosts`), used to clone with --repo.",
    )
    ship_ignored: bool = Field(
        False, description="Also ship files ignored by git into the workspace."
    )


class AgentConfig(_Model):
    """The coding agent run in the pod (Claude Code by default)."""

    command: str = Field(
        "claude", description="Agent command run in the pod (a shell command line)."
    )
    kind: Literal["auto", "claude", "other"] = Field(
        "auto",
        description="`claude` enables Claude Code specifics (--resume, -p, hooks, first-run "
        "answers); `auto` detects them from the command.",
    )
    permission_mode: PermissionMode | None = Field(
        "acceptEdits",
        description="Claude Code's --permission-mode for headless `--prompt` runs (`acceptEdits`: "
        "it may edit files in the workspace; `default`: edits are denied, as nobody can answer "
        "a permission prompt). null: Claude Code's own default.",
    )
    interactive_permission_mode: PermissionMode | None = Field(
        None,
        description="Claude Code's --permission-mode for interactive sessions. null: Claude "
        "Code's own default (its automatic mode).",
    )
    idle_stop: str | None = Field(
        None,
        description="End the pod when the agent has been idle or exited, with nobody attached, "
        "this long (e.g. `30m`, `1h`; at least 10s); PVCs stay and `resume` brings it back. "
        "null or `off`: never.",
    )

    @field_validator("idle_stop", mode="before")
    @classmethod
    def _idle_stop(cls, v: Any) -> Any:
        if v is None:
            return None
        _wrap(idle.parse_duration, v, "agent.idleStop")
        return str(v)


class ModelPrice(_Model):
    """Prices of one model, per million tokens."""

    input: float = Field(0, ge=0, description="Per million input tokens.")
    output: float = Field(0, ge=0, description="Per million output tokens.")
    cache_read: float = Field(0, ge=0, description="Per million cache-read input tokens.")
    cache_write: float = Field(0, ge=0, description="Per million cache-write input tokens.")


class PricingConfig(_Model):
    """Prices for `usage`'s estimated cost. None are built in: unset prices count as unknown."""

    currency: str = Field("USD", description="Label of the amounts.")
    cpu_hour: float | None = Field(None, ge=0, description="Per CPU core requested, per hour.")
    memory_gib_hour: float | None = Field(
        None, ge=0, alias="memoryGiBHour", description="Per GiB of memory requested, per hour."
    )
    storage_gib_month: float | None = Field(
        None, ge=0, alias="storageGiBMonth", description="Per GiB of PVC storage, per 30 days."
    )
    models: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Per model name (as Claude Code reports it, e.g. `claude-sonnet-4-5`, or a "
        "prefix of it), prices per million tokens.",
    )


class SyncConfig(_Model):
    """Two-way file sync (mutagen) between the local checkout and the workspace."""

    enabled: bool = Field(True, description="Start mutagen sync with `start` when installed.")
    mode: Literal["two-way-safe", "two-way-resolved", "one-way-safe", "one-way-replica"] = Field(
        "two-way-safe", description="Mutagen synchronization mode."
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Extra paths to ignore (gitignore syntax; no `!`: git-ignored files stay out).",
    )

    @field_validator("exclude")
    @classmethod
    def _exclude(cls, v: list[str]) -> list[str]:
        for pattern in v:
            if pattern.lstrip().startswith("!"):
                raise ValueError(
                    f"{pattern!r}: a negation cannot be used here (it would re-include files "
                    "git ignores, such as secrets)"
                )
        return v


class CredentialsConfig(_Model):
    """Where the agent's API key or OAuth token comes from (stored in a Secret)."""

    from_env: bool = Field(
        True,
        description="Copy ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN from your environment "
        "into the session's Secret.",
    )
    file: str | None = Field(
        None, description="A dotenv file with ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN."
    )


class Config(_Model):
    """The merged configuration (and the shape of every config file)."""

    defaults: Defaults = Field(default_factory=Defaults)  # type: ignore[arg-type]
    namespace: str | None = Field(None, description="Namespace for sessions (else the context's).")
    image: str = Field(DEFAULT_IMAGE, description="Agent image (needs git, sh; tmux recommended).")
    resources: Resources = Field(default_factory=Resources)  # type: ignore[arg-type]
    storage: Storage = Field(default_factory=Storage)  # type: ignore[arg-type]
    branch_prefix: str = Field("kodama/", description="Prefix of automatic branch names.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Pod nodeSelector.")
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list, description="Pod tolerations (Kubernetes syntax)."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra non-secret environment for the agent."
    )
    git: GitConfig = Field(default_factory=GitConfig)  # type: ignore[arg-type]
    agent: AgentConfig = Field(default_factory=AgentConfig)  # type: ignore[arg-type]
    sync: SyncConfig = Field(default_factory=SyncConfig)  # type: ignore[arg-type]
    credentials: CredentialsConfig = Field(default_factory=CredentialsConfig)  # type: ignore[arg-type]
    pricing: PricingConfig | None = Field(
        None, description="Prices for the estimated cost in `usage` (none built in)."
    )
    timeout: float = Field(300, gt=0, description="Seconds to wait for the pod to be Ready.")

    @field_validator("namespace")
    @classmethod
    def _ns(cls, v: str | None) -> str | None:
        return None if v is None else _wrap(validation.validate_namespace, v)

    @field_validator("node_selector")
    @classmethod
    def _node_selector(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            _wrap(validation.validate_qualified_name, key, "node selector key")
            _wrap(validation.validate_label_value, str(value), "node selector")
        return v

    @field_validator("tolerations")
    @classmethod
    def _tolerations(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [_wrap(validation.validate_toleration, t) for t in v]

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            _wrap(validation.validate_env_name, key)
        return v


def _wrap(fn: Any, *args: Any) -> Any:
    """Turn InvalidInput into ValueError so pydantic reports it with its location."""
    try:
        return fn(*args)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


def _quantity(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"invalid {what}: expected a quantity such as 500m or 4Gi")
    return str(_wrap(validation.validate_quantity, value, what))


# ---------------------------------------------------------------------------------------------
# Loading


def kodama_home() -> Path:
    return Path(os.environ.get("KODAMA_HOME") or Path.home() / ".kodama")


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
    names = {k.name: k.name for k in keys} | {_snake(k.name): k.name for k in keys}
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


# ---------------------------------------------------------------------------------------------
# Introspection for editors (completion and hover of config keys)


@dataclass(frozen=True)
class ConfigKey:
    """One key a config file may hold at some mapping path, as it is spelled in the file."""

    name: str  # camelCase, as written in YAML
    kind: str  # short type label: string, number, boolean, map, list, section, one of …
    description: str
    section: bool  # a mapping of known keys (config_keys() of its path lists them)


def _model_at(path: tuple[str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in path:
        field = _field(model, part)
        if field is None:
            return None
        sub = _sub_model(field.annotation)
        if sub is None:
            return None
        model = sub
    return model


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _sub_model(annotation: Any) -> type[BaseModel] | None:
    if getattr(annotation, "__origin__", None) is dict:
        return None  # a map of models (pricing.models): its keys are the user's own names
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _kind(annotation: Any) -> str:
    if _sub_model(annotation) is not None:
        return "section"
    origin = getattr(annotation, "__origin__", None)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in annotation.__args__)
    if origin is dict:
        return "map"
    if origin is list:
        return "list"
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    base = args[0] if args else annotation
    return {str: "string", bool: "boolean", float: "number", int: "integer"}.get(base, "value")


def config_keys(path: tuple[str, ...] | list[str] = ()) -> list[ConfigKey] | None:
    """Keys allowed in the mapping at `path` (e.g. ("resources",)); None if not a known section."""
    model = _model_at(tuple(path))
    if model is None:
        return None
    out: list[ConfigKey] = []
    for name, info in model.model_fields.items():
        sub = _sub_model(info.annotation)
        doc = info.description or (sub.__doc__ or "" if sub is not None else "")
        out.append(
            ConfigKey(info.alias or name, _kind(info.annotation), doc.strip(), sub is not None)
        )
    return out


def config_key(path: tuple[str, ...] | list[str]) -> ConfigKey | None:
    """The key at `path` (its last element), or None when it is not a known key."""
    if not path:
        return None
    keys = config_keys(tuple(path[:-1])) or []
    return next((k for k in keys if path[-1] in (k.name, _snake(k.name))), None)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
