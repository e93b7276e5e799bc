"""Typed models the engine takes and returns (pydantic, camelCase in JSON)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Claude Code's --permission-mode values.
PermissionMode = Literal["default", "acceptEdits", "plan", "auto", "dontAsk", "bypassPermissions"]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Status(StrEnum):
    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPED = "Stopped"
    FAILED = "Failed"


class AgentStateName(StrEnum):
    UNKNOWN = "unknown"
    STARTING = "starting"
    WORKING = "working"
    WAITING = "waiting"
    IDLE = "idle"
    EXITED = "exited"


def as_utc(value: datetime | None) -> datetime | None:
    """Times written in a pod may lack a zone; they are UTC there, and comparing a naive time
    with an aware one raises, which must not break listing every other session."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class AgentState(_Model):
    state: AgentStateName = AgentStateName.UNKNOWN
    message: str | None = None
    since: datetime | None = None
    exit_code: int | None = None

    @field_validator("since")
    @classmethod
    def _since(cls, v: datetime | None) -> datetime | None:
        return as_utc(v)


class SecretFile(_Model):
    """A local file delivered read-only into the pod at `dest` (from a Secret)."""

    key: str
    dest: str


class SessionSpec(_Model):
    """Everything needed to (re)build a session's objects. Stored on the workspace PVC.

    Never holds secret values: only names of Secrets and keys.
    """

    name: str
    namespace: str
    image: str
    cpu: str
    memory: str
    extra_resources: dict[str, str] = Field(default_factory=dict)
    workspace_size: str
    home_size: str
    storage_class: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    agent_command: str = "claude"
    agent_kind: str = "claude"
    permission_mode: PermissionMode | None = None  # headless runs (Claude Code)
    interactive_permission_mode: PermissionMode | None = None
    credential_keys: list[str] = Field(default_factory=list)  # keys of the credentials Secret
    env_secret_keys: list[str] = Field(default_factory=list)  # keys from --env-file
    secret_files: list[SecretFile] = Field(default_factory=list)
    git_secret: str | None = None  # existing Secret named by git.secretName
    branch: str | None = None
    auto_branch: bool | None = None  # named by Kodama (branchPrefix + NAME), not by --branch
    base_branch: str | None = None
    base_commit: str | None = None
    repo: str | None = None  # remote URL when cloned with --repo (credential-free)
    ship_ignored: bool = False  # git.shipIgnored at start: ignored files were shipped too
    idle_stop: int | None = None  # seconds idle (nobody attached) before the pod ends itself
    family: str | None = None  # the fan-out this session belongs to (start --count)
    created_at: datetime | None = None

    @field_validator("created_at")
    @classmethod
    def _created(cls, v: datetime | None) -> datetime | None:
        return as_utc(v)


class SyncState(StrEnum):
    """Every state a session's file sync is reported in (docs/lsp-protocol.md lists them)."""

    OFF = "off"  # this machine does not sync the session
    STOPPED = "stopped"  # it did, but mutagen runs no sync for it now (daemon gone, stopped)
    UNAVAILABLE = "unavailable"  # mutagen is not installed here
    PAUSED = "paused"
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    SCANNING = "scanning"
    RECONCILING = "reconciling"
    STAGING = "staging"
    TRANSITIONING = "transitioning"
    SAVING = "saving"
    WATCHING = "watching"
    HALTED = "halted"  # a root was deleted or emptied; mutagen stops rather than propagate it
    UNKNOWN = "unknown"  # a mutagen status this version of Kodama does not know


class SyncConflict(_Model):
    path: str
    alpha: str | None = None
    beta: str | None = None


class SyncStatus(_Model):
    name: str
    state: SyncState = SyncState.OFF
    connected: bool = False
    last_error: str | None = None
    conflicts: list[SyncConflict] = Field(default_factory=list)
    mutagen_session: str | None = None
    local_path: str | None = None
    activity: str | None = None  # mutagen's own status word (watching, staging-beta, ...)
    problems: list[str] = Field(default_factory=list)  # scan/transition problems, per side


class Session(_Model):
    """A session as seen now: derived from the cluster each time."""

    name: str
    namespace: str
    context: str | None = None
    status: Status
    reason: str | None = None
    image: str | None = None
    branch: str | None = None
    base_branch: str | None = None
    base_commit: str | None = None
    ahead: int | None = None
    repo: str | None = None
    local_path: str | None = None
    created_at: datetime | None = None
    family: str | None = None
    idle_stop: int | None = None
    pod: str | None = None
    node: str | None = None
    pvcs: list[str] = Field(default_factory=list)
    agent: AgentState = Field(default_factory=AgentState)
    sync: SyncStatus | None = None
    events: list[str] = Field(default_factory=list)

    @field_validator("created_at")
    @classmethod
    def _created(cls, v: datetime | None) -> datetime | None:
        return as_utc(v)


class StartRequest(_Model):
    """What a front end asks for; resolved with the config into a SessionSpec."""

    name: str
    image: str | None = None
    cpu: str | None = None
    memory: str | None = None
    resources: dict[str, str] = Field(default_factory=dict)
    workspace_size: str | None = None
    home_size: str | None = None
    storage_class: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[str] = Field(default_factory=list)
    timeout: float | None = None
    wait: bool = True
    agent_command: str | None = None
    permission_mode: str | None = None  # Claude Code's --permission-mode, for both run modes
    prompt: str | None = None
    env_file: str | None = None
    secret_files: list[str] = Field(default_factory=list)  # "SRC:DST"
    branch: str | None = None
    base: str | None = None
    repo: str | None = None
    git_token_env: str | None = None  # for --repo: env var holding an HTTPS token
    git_token_file: str | None = None
    git_ssh_key: str | None = None  # for an ssh --repo: private key file (+ known_hosts)
    git_known_hosts: str | None = None
    sync: bool | None = None
    local_path: str | None = None  # the checkout to ship/sync (default: cwd's git root)
    # What the repository's .kodama.yaml changes must be accepted: all of it (--yes), or exactly
    # the settings the user was shown (a prompt), so an edit made meanwhile is asked about again.
    accept_repo_config: bool = False
    accepted_repo_changes: list[str] = Field(default_factory=list)
    idle_stop: str | None = None  # --idle-stop: "30m", "off"
    family: str | None = None  # set by a fan-out on each of its sessions


class FetchResult(_Model):
    name: str
    branch: str | None = None  # the session branch in the workspace
    local_branch: str
    commit: str
    previous: str | None = None  # the local branch's commit before the fetch, if it existed
    ahead: int | None = None
    base_branch: str | None = None
    base_commit: str | None = None
    repository: str | None = None  # the local repository the branch was fetched into
