"""Planning a start: request + config -> the spec and every object, before any API call.

Pure apart from reading local files (config, --env-file, --secret-file) and local git.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from kodama.agent.idle import parse_duration
from kodama.config import REPO_CONFIG_NAME, Config, LoadedConfig
from kodama.errors import InvalidInput
from kodama.git import session as git
from kodama.k8s import manifests, spec_check
from kodama.k8s.manifests import AGENT_CREDENTIAL_KEYS
from kodama.models import SecretFile, SessionSpec, StartRequest
from kodama.printable import printable
from kodama.validation import (
    parse_toleration,
    validate_env_name,
    validate_label_value,
    validate_qualified_name,
    validate_quantity,
    validate_session_name,
)


@dataclass
class StartPlan:
    """Everything `start` will create, decided before touching the cluster."""

    spec: SessionSpec
    secrets: list[dict[str, Any]]
    git: git.GitPlan | None
    config: Config
    local_path: Path | None
    prompt: str | None = None
    sync: bool = False
    objects: list[dict[str, Any]] = field(default_factory=list)
    # Security-relevant settings taken from the repository's .kodama.yaml ("key: value").
    repo_changes: list[str] = field(default_factory=list)
    repo_config: Path | None = None


def _b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


def build(
    req: StartRequest,
    *,
    config: Callable[[dict[str, Any] | None], LoadedConfig],
    namespace: str,
    cwd: Path,
) -> StartPlan:
    name = validate_session_name(req.name)
    # Flags are checked first so the error names the flag, not the config key.
    for value, flag in (
        (req.cpu, "--cpu"),
        (req.memory, "--memory"),
        (req.workspace_size, "--storage"),
        (req.home_size, "--home-storage"),
    ):
        if value is not None:
            validate_quantity(value, flag)
    for res_name, qty in req.resources.items():
        validate_qualified_name(res_name, "--resource name")
        validate_quantity(qty, f"--resource {res_name}")
    for key, value in req.node_selector.items():
        validate_qualified_name(key, "--node-selector key")
        validate_label_value(value, "--node-selector")
    flags: dict[str, Any] = {}
    if req.image:
        flags["image"] = req.image
    res: dict[str, Any] = {}
    if req.cpu:
        res["cpu"] = req.cpu
    if req.memory:
        res["memory"] = req.memory
    if req.resources:
        res["extra"] = dict(req.resources)
    if res:
        flags["resources"] = res
    sto: dict[str, Any] = {}
    if req.workspace_size:
        sto["workspace"] = req.workspace_size
    if req.home_size:
        sto["claudeHome"] = req.home_size
    if req.storage_class:
        sto["storageClass"] = req.storage_class
    if sto:
        flags["storage"] = sto
    if req.node_selector:
        flags["nodeSelector"] = dict(req.node_selector)
    if req.tolerations:
        flags["tolerations"] = [parse_toleration(t) for t in req.tolerations]
    agent_flags: dict[str, Any] = {}
    if req.agent_command:
        agent_flags["command"] = req.agent_command
    if req.permission_mode:
        agent_flags["permissionMode"] = req.permission_mode
        agent_flags["interactivePermissionMode"] = req.permission_mode
    if req.idle_stop is not None:
        parse_duration(req.idle_stop, "--idle-stop")
        agent_flags["idleStop"] = req.idle_stop
    if agent_flags:
        flags["agent"] = agent_flags
    if req.timeout is not None:
        if req.timeout <= 0:
            raise InvalidInput("--timeout must be greater than zero")
        flags["timeout"] = req.timeout
    loaded = config(flags or None)
    cfg = loaded.config

    if req.prompt is not None and not req.prompt.strip():
        raise InvalidInput("--prompt must not be empty")
    local_path = Path(req.local_path).resolve() if req.local_path else cwd
    gplan = git.plan(
        local_path,
        name,
        prefix=cfg.branch_prefix,
        branch=req.branch,
        base=req.base,
        repo=req.repo,
    )

    secrets: list[dict[str, Any]] = []
    cred_data = credentials(cfg)
    git_creds = git.credentials(
        gplan.repo,
        local_path,
        token_env=req.git_token_env,
        token_file=req.git_token_file,
        ssh_key=req.git_ssh_key,
        known_hosts=req.git_known_hosts,
    )
    cred_data.update({k: _b64(v) for k, v in git_creds.items()})
    env_data = env_file(req.env_file) if req.env_file else {}
    files: list[SecretFile] = []
    files_data: dict[str, str] = {}
    for i, item in enumerate(req.secret_files):
        src, sep, dest = item.partition(":")
        if not sep or not src or not dest.startswith("/"):
            raise InvalidInput(
                f"invalid --secret-file {item!r}: expected SRC:DST with an absolute DST"
            )
        try:
            content = Path(src).expanduser().read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read --secret-file {src}: {exc.strerror}") from None
        key = manifests.secret_file_key(i, dest)
        files.append(SecretFile(key=key, dest=dest))
        files_data[key] = _b64(content)

    kind = cfg.agent.kind
    if kind == "auto":
        kind = "claude" if cfg.agent.command.split()[:1] == ["claude"] else "other"
    spec = SessionSpec(
        name=name,
        namespace=namespace,
        **pod_fields(cfg),
        agent_kind=kind,
        permission_mode=cfg.agent.permission_mode,
        interactive_permission_mode=cfg.agent.interactive_permission_mode,
        credential_keys=sorted(cred_data),
        env_secret_keys=sorted(env_data),
        secret_files=files,
        git_secret=None if git_creds else cfg.git.secret_name,  # local flags win
        branch=gplan.branch,
        auto_branch=req.branch is None,
        base_branch=gplan.base_branch,
        base_commit=gplan.base_commit,
        repo=gplan.repo,
        ship_ignored=cfg.git.ship_ignored,
        idle_stop=parse_duration(cfg.agent.idle_stop) if cfg.agent.idle_stop else None,
        family=req.family,
    )
    # What `start` writes must be what a later read of the annotation accepts (spec_check).
    spec_check.check(
        spec, label=name, pvc_name=manifests.workspace_pvc_name(name), namespace=namespace
    )
    if cred_data:
        secrets.append(
            manifests.secret(
                spec, manifests.credentials_secret_name(name), "credentials", cred_data
            )
        )
    if env_data:
        secrets.append(manifests.secret(spec, manifests.env_secret_name(name), "env", env_data))
    if files_data:
        secrets.append(
            manifests.secret(spec, manifests.files_secret_name(name), "files", files_data)
        )
    want_sync = cfg.sync.enabled if req.sync is None else req.sync
    plan = StartPlan(
        spec=spec,
        secrets=secrets,
        git=gplan,
        config=cfg,
        local_path=gplan.local_root,
        prompt=req.prompt,
        sync=bool(want_sync and gplan.local_root is not None),
    )
    # The file's namespace only counts when it is the one used (no -n, no context namespace).
    plan.repo_changes = [
        printable(c.describe())
        for c in loaded.repo_changes
        if c.key != "namespace" or namespace == cfg.namespace
    ]
    if loaded.repo_root is not None:
        plan.repo_config = loaded.repo_root / REPO_CONFIG_NAME
    plan.objects = [
        manifests.pvc(spec, "workspace"),
        manifests.pvc(spec, "home"),
        *secrets,
        manifests.pod(spec),
    ]
    return plan


def credentials(cfg: Config) -> dict[str, str]:
    data: dict[str, str] = {}
    if cfg.credentials.file:
        path = Path(cfg.credentials.file).expanduser()
        if not path.is_file():
            raise InvalidInput(f"credentials.file {path} does not exist")
        # No ${VAR} interpolation: a value is what the file says, never a copy of some other
        # local variable that would then land in a Secret.
        for key, value in dotenv_values(path, interpolate=False).items():
            if key in AGENT_CREDENTIAL_KEYS and value:
                data[key] = _b64(value)
    if cfg.credentials.from_env:
        for key in AGENT_CREDENTIAL_KEYS:
            value = os.environ.get(key)
            if value and key not in data:
                data[key] = _b64(value)
    return data


def env_file(path_text: str) -> dict[str, str]:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise InvalidInput(f"--env-file {path} does not exist")
    out: dict[str, str] = {}
    for key, value in dotenv_values(path, interpolate=False).items():  # literal, as above
        validate_env_name(key, "--env-file variable")
        out[key] = _b64(value or "")
    return out


def pod_fields(cfg: Config) -> dict[str, Any]:
    """The SessionSpec fields a configuration decides about the pod (image, sizes, placement)."""
    return {
        "image": cfg.image,
        "cpu": cfg.resources.cpu,
        "memory": cfg.resources.memory,
        "extra_resources": dict(cfg.resources.extra),
        "workspace_size": cfg.storage.workspace,
        "home_size": cfg.storage.claude_home,
        "storage_class": cfg.storage.storage_class,
        "node_selector": dict(cfg.node_selector),
        "tolerations": list(cfg.tolerations),
        "env": dict(cfg.env),
        "agent_command": cfg.agent.command,
    }
