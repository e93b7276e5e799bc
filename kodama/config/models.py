"""The configuration's models: every key, its default and its rules (pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from kodama import validation
from kodama.agent import idle
from kodama.errors import InvalidInput
from kodama.models import PermissionMode

DEFAULT_IMAGE = "ghcr.io/kodama-dev/agent:latest"
REPO_CONFIG_NAME = ".kodama.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
        defer_build=True,  # validators are built when a model is first used, not at import
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
