"""The session spec read back from a workspace PVC annotation, checked like user input.

Anyone who can write PVCs in a shared namespace can write that annotation: what it says decides
what `resume` creates (image, agent command, env, mounts) and what `fetch` updates (the branch),
and its name and namespace become local file names. So it is validated as if typed on the command
line, and its name and namespace must be the PVC's own.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from kodama.errors import InvalidInput, KodamaError
from kodama.git.branch import validate_branch
from kodama.git.remote import parse_repo
from kodama.k8s.manifests import (
    AGENT_CREDENTIAL_KEYS,
    GIT_FILE_KEYS,
    SESSION_LABEL,
    SPEC_ANNOTATION,
    workspace_pvc_name,
)
from kodama.models import SessionSpec
from kodama.validation import (
    validate_env_name,
    validate_label_value,
    validate_namespace,
    validate_qualified_name,
    validate_quantity,
    validate_session_name,
)

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")
_SECRET_KEY = re.compile(r"^f\d+-[-._a-zA-Z0-9]+$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidSpec(KodamaError):
    """A workspace PVC whose spec annotation cannot be trusted."""


def spec_from_pvc(pvc: dict[str, Any]) -> SessionSpec:
    meta = pvc.get("metadata") or {}
    pvc_name = str(meta.get("name") or "")
    raw = (meta.get("annotations") or {}).get(SPEC_ANNOTATION)
    if not raw:
        raise InvalidSpec(f"PVC {pvc_name} has no {SPEC_ANNOTATION} annotation")
    try:
        spec = SessionSpec.model_validate_json(raw)
        check(spec, label=(meta.get("labels") or {}).get(SESSION_LABEL), pvc_name=pvc_name,
              namespace=meta.get("namespace"))  # fmt: skip
    except (ValidationError, InvalidInput) as exc:
        why = exc.message if isinstance(exc, InvalidInput) else _first_error(exc)
        raise InvalidSpec(
            f"PVC {pvc_name}: the session spec annotation is invalid: {why}"
        ) from None
    return spec


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"


def _text(value: str, what: str, *, allow_newline: bool = False) -> None:
    bad = value.replace("\n", "").replace("\t", "") if allow_newline else value
    if _CONTROL.search(bad):
        raise InvalidInput(f"{what} contains control characters")


def check(spec: SessionSpec, *, label: Any, pvc_name: str, namespace: Any) -> None:
    """Raise InvalidInput unless every field is what `start` itself could have written."""
    validate_session_name(spec.name)
    validate_namespace(spec.namespace)
    if spec.name != label or pvc_name != workspace_pvc_name(spec.name):
        raise InvalidInput(f"name {spec.name!r} is not the PVC's session label {label!r}")
    if spec.namespace != namespace:
        raise InvalidInput(f"namespace {spec.namespace!r} is not the PVC's {namespace!r}")
    if not _IMAGE.match(spec.image):
        raise InvalidInput(f"image {spec.image!r} is not an image reference")
    for value, what in (
        (spec.cpu, "cpu"),
        (spec.memory, "memory"),
        (spec.workspace_size, "workspace size"),
        (spec.home_size, "home size"),
    ):
        validate_quantity(value, what)
    for res, qty in spec.extra_resources.items():
        validate_qualified_name(res, "resource name")
        validate_quantity(qty, f"resource {res}")
    if spec.storage_class is not None and not _DNS_SUBDOMAIN.match(spec.storage_class):
        raise InvalidInput(f"storage class {spec.storage_class!r} is not a valid name")
    for key, value in spec.node_selector.items():
        validate_qualified_name(key, "node selector key")
        validate_label_value(value, "node selector")
    for tol in spec.tolerations:
        if not set(tol) <= _TOLERATION_KEYS:
            raise InvalidInput(
                f"toleration has unknown fields {sorted(set(tol) - _TOLERATION_KEYS)}"
            )
    for key, value in spec.env.items():
        validate_env_name(key)
        _text(value, f"env {key}", allow_newline=True)
    if not spec.agent_command.strip():
        raise InvalidInput("the agent command is empty")
    _text(spec.agent_command, "the agent command", allow_newline=True)
    if spec.agent_kind not in ("claude", "other"):
        raise InvalidInput(f"agent kind {spec.agent_kind!r} is not claude or other")
    allowed = set(AGENT_CREDENTIAL_KEYS) | set(GIT_FILE_KEYS)
    if not set(spec.credential_keys) <= allowed:
        raise InvalidInput(f"unknown credential keys {sorted(set(spec.credential_keys) - allowed)}")
    for key in spec.env_secret_keys:
        validate_env_name(key, "--env-file variable")
    for f in spec.secret_files:
        dest = PurePosixPath(f.dest)
        if not _SECRET_KEY.match(f.key) or not dest.is_absolute() or ".." in dest.parts:
            raise InvalidInput(f"secret file {f.key!r} -> {f.dest!r} is not a valid mount")
        _text(f.dest, "a secret file destination")
    if spec.git_secret is not None and not _DNS_SUBDOMAIN.match(spec.git_secret):
        raise InvalidInput(f"git secret {spec.git_secret!r} is not a valid Secret name")
    if spec.branch is not None:
        validate_branch(spec.branch)
    if spec.base_branch is not None:
        if spec.base_branch.startswith("-") or not spec.base_branch.strip():
            raise InvalidInput(f"base {spec.base_branch!r} is not a branch, tag or commit")
        _text(spec.base_branch, "the base")
    if spec.base_commit is not None and not _COMMIT.match(spec.base_commit):
        raise InvalidInput(f"base commit {spec.base_commit!r} is not a commit id")
    if spec.repo is not None:
        _text(spec.repo, "the repository URL")
        url = parse_repo(spec.repo, Path("/"))
        # A local path was made absolute (and resolved) on the machine that started it.
        if url.url != spec.repo and not (url.kind == "local" and spec.repo.startswith("/")):
            raise InvalidInput(f"repository {spec.repo!r} is not a URL `start` would have stored")
