"""Resolved spec -> Kubernetes objects (plain dicts). Pure: no I/O, no clock, no cluster."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kodama.agent.idle import watcher_command

if TYPE_CHECKING:  # list's selectors and names come from here, pydantic comes with a session
    from kodama.models import SessionSpec

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kodama"
SESSION_LABEL = "kodama.dev/session"
COMPONENT_LABEL = "kodama.dev/component"
FAMILY_LABEL = "kodama.dev/family"  # sessions started together by one fan-out
SPEC_ANNOTATION = "kodama.dev/spec"
RUNS_ANNOTATION = "kodama.dev/runs"  # the intervals the session's pod ran (usage)
TOKENS_ANNOTATION = "kodama.dev/tokens"  # the agent's token counts as last read (usage)
PHASE_ANNOTATION = "kodama.dev/phase"  # "creating" until start finished once, then "ready"
SELECTOR = f"{MANAGED_BY}={MANAGER}"

CONTAINER = "agent"
WORKSPACE_DIR = "/workspace"
HOME_DIR = "/home/kodama"
SECRETS_DIR = "/var/run/kodama/secrets"
# --secret-file files whose destination is under HOME are mounted here and linked into HOME by
# the ensure step: a subPath mount would make the kubelet create their parent folders, owned by
# root, inside the agent's HOME (a ~/.config the agent could no longer write).
FILES_DIR = "/var/run/kodama/files"
RUN_AS = 1000

AGENT_CREDENTIAL_KEYS = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")
# Git credentials are delivered as files only (never env the agent sees without reading a file).
GIT_FILE_KEYS = {
    "git-token": "git/token",
    "ssh-privatekey": "git/ssh-privatekey",
    "known_hosts": "git/known_hosts",
}


def pod_name(name: str) -> str:
    return f"kodama-{name}"


def workspace_pvc_name(name: str) -> str:
    return f"kodama-{name}-workspace"


def home_pvc_name(name: str) -> str:
    return f"kodama-{name}-home"


def credentials_secret_name(name: str) -> str:
    return f"kodama-{name}-credentials"


def env_secret_name(name: str) -> str:
    return f"kodama-{name}-env"


def files_secret_name(name: str) -> str:
    return f"kodama-{name}-files"


def session_selector(name: str) -> str:
    return f"{SELECTOR},{SESSION_LABEL}={name}"


def labels(name: str, component: str, family: str | None = None) -> dict[str, str]:
    out = {MANAGED_BY: MANAGER, SESSION_LABEL: name, COMPONENT_LABEL: component}
    if family:
        out[FAMILY_LABEL] = family
    return out


def family_selector(family: str) -> str:
    return f"{SELECTOR},{FAMILY_LABEL}={family}"


def _meta(spec: SessionSpec, name: str, component: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": spec.namespace,
        "labels": labels(spec.name, component, spec.family),
    }
    meta.update(extra)
    return meta


def spec_annotation(spec: SessionSpec) -> str:
    return json.dumps(
        spec.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True
    )


def pvc(spec: SessionSpec, which: str, phase: str = "creating") -> dict[str, Any]:
    """The workspace PVC (which="workspace", carries the spec) or the home PVC (which="home")."""
    if which == "workspace":
        name, size = workspace_pvc_name(spec.name), spec.workspace_size
        annotations = {SPEC_ANNOTATION: spec_annotation(spec), PHASE_ANNOTATION: phase}
    elif which == "home":
        name, size = home_pvc_name(spec.name), spec.home_size
        annotations = {}
    else:  # pragma: no cover - programming error
        raise ValueError(which)
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(spec, name, which, annotations=annotations)
        if annotations
        else _meta(spec, name, which),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
        },
    }
    if spec.storage_class:
        body["spec"]["storageClassName"] = spec.storage_class
    return body


def secret_names(name: str) -> tuple[str, str, str]:
    """Every Secret a session may own; fixed by its name so nothing needs to list Secrets."""
    return credentials_secret_name(name), env_secret_name(name), files_secret_name(name)


def secret(spec: SessionSpec, name: str, component: str, data: dict[str, str]) -> dict[str, Any]:
    """A Secret; `data` values are already base64-encoded by the caller."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _meta(spec, name, component),
        "data": dict(sorted(data.items())),
    }


def _security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


# The container's main process only keeps the pod alive; the agent itself is launched through
# exec by the idempotent "ensure" step (so correctness never depends on an entrypoint).
KEEPALIVE = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]


def pod(spec: SessionSpec) -> dict[str, Any]:
    n = spec.name
    env: list[dict[str, Any]] = [
        {"name": "HOME", "value": HOME_DIR},
        {"name": "KODAMA_WORKSPACE", "value": WORKSPACE_DIR},
        {"name": "KODAMA_SECRETS", "value": SECRETS_DIR},
        {"name": "KODAMA_SESSION", "value": n},
    ]
    env += [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    for key in spec.credential_keys:
        if key in AGENT_CREDENTIAL_KEYS:
            env.append(
                {
                    "name": key,
                    "valueFrom": {"secretKeyRef": {"name": credentials_secret_name(n), "key": key}},
                }
            )
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        # With idle stop the main process watches the agent and ends the pod (kodama/agent/idle.py).
        "command": watcher_command(spec.idle_stop) if spec.idle_stop else KEEPALIVE,
        "workingDir": WORKSPACE_DIR,
        "env": env,
        "resources": {
            "requests": {"cpu": spec.cpu, "memory": spec.memory, **spec.extra_resources},
            "limits": {"cpu": spec.cpu, "memory": spec.memory, **spec.extra_resources},
        },
        "securityContext": _security_context(),
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE_DIR},
            {"name": "home", "mountPath": HOME_DIR},
        ],
        "stdin": True,
        "tty": True,
    }
    volumes: list[dict[str, Any]] = [
        {"name": "workspace", "persistentVolumeClaim": {"claimName": workspace_pvc_name(n)}},
        {"name": "home", "persistentVolumeClaim": {"claimName": home_pvc_name(n)}},
    ]
    git_items = [
        {"key": key, "path": path, "mode": 0o400}
        for key, path in GIT_FILE_KEYS.items()
        if key in spec.credential_keys
    ]
    if git_items or spec.git_secret:
        source = spec.git_secret or credentials_secret_name(n)
        items = (
            git_items
            if not spec.git_secret
            else [{"key": key, "path": path, "mode": 0o400} for key, path in GIT_FILE_KEYS.items()]
        )
        volumes.append(
            {
                "name": "kodama-secrets",
                "secret": {
                    "secretName": source,
                    "items": items,
                    "optional": True,
                    "defaultMode": 0o400,
                },
            }
        )
        container["volumeMounts"].append(
            {"name": "kodama-secrets", "mountPath": SECRETS_DIR, "readOnly": True}
        )
    if spec.env_secret_keys:
        container["envFrom"] = [{"secretRef": {"name": env_secret_name(n)}}]
    if spec.secret_files:
        volumes.append(
            {
                "name": "kodama-files",
                "secret": {"secretName": files_secret_name(n), "defaultMode": 0o400},
            }
        )
        if any(home_relative(f.dest) for f in spec.secret_files):
            container["volumeMounts"].append(
                {"name": "kodama-files", "mountPath": FILES_DIR, "readOnly": True}
            )
            env.append({"name": "KODAMA_FILES", "value": FILES_DIR})
        for f in spec.secret_files:
            if home_relative(f.dest):
                continue
            container["volumeMounts"].append(
                {"name": "kodama-files", "mountPath": f.dest, "subPath": f.key, "readOnly": True}
            )
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(spec, pod_name(n), "agent"),
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            # OnFailure: the idle watcher's clean exit leaves the pod Succeeded, not restarted.
            "restartPolicy": "OnFailure" if spec.idle_stop else "Always",
            "terminationGracePeriodSeconds": 10,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "fsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": volumes,
        },
    }
    if spec.node_selector:
        body["spec"]["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        body["spec"]["tolerations"] = list(spec.tolerations)
    return body


def home_relative(dest: str) -> str | None:
    """`dest` relative to the agent's HOME when it lies inside it (linked there), else None."""
    prefix = HOME_DIR.rstrip("/") + "/"
    if not dest.startswith(prefix):
        return None
    rel = dest[len(prefix) :].strip("/")
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") for p in parts):
        return None
    return rel


def secret_file_links(spec: SessionSpec) -> list[tuple[str, str]]:
    """(Secret key, path under HOME) of each --secret-file the ensure step links into HOME."""
    return [(f.key, rel) for f in spec.secret_files if (rel := home_relative(f.dest))]


def secret_file_key(index: int, dest: str) -> str:
    """A valid Secret key for any destination path: [-._a-zA-Z0-9]+, unique by index."""
    base = dest.rstrip("/").rsplit("/", 1)[-1] or "file"
    safe = (
        "".join(c if (c.isascii() and c.isalnum()) or c in "-._" else "_" for c in base).strip(".")
        or "file"
    )
    return f"f{index}-{safe}"[:253]


def secret_contents(spec: SessionSpec) -> dict[str, list[str]]:
    """What each of the session's own Secrets carries, in words (names only, never values)."""
    out: dict[str, list[str]] = {}
    if spec.credential_keys:
        out[credentials_secret_name(spec.name)] = [
            f"credential {k}" for k in sorted(spec.credential_keys)
        ]
    if spec.env_secret_keys:
        out[env_secret_name(spec.name)] = [f"--env-file {k}" for k in sorted(spec.env_secret_keys)]
    if spec.secret_files:
        out[files_secret_name(spec.name)] = [f"--secret-file {f.dest}" for f in spec.secret_files]
    return out


def without_missing_secrets(spec: SessionSpec, present: set[str]) -> tuple[SessionSpec, list[str]]:
    """The spec minus references to its own Secrets that are gone (`delete --keep-data`), so a
    pod can start without them; and what is missing, in words."""
    held = secret_contents(spec)
    lost = [item for name, items in held.items() if name not in present for item in items]
    update: dict[str, Any] = {}
    if (
        credentials_secret_name(spec.name) in held
        and credentials_secret_name(spec.name) not in present
    ):
        update["credential_keys"] = []
    if env_secret_name(spec.name) in held and env_secret_name(spec.name) not in present:
        update["env_secret_keys"] = []
    if files_secret_name(spec.name) in held and files_secret_name(spec.name) not in present:
        update["secret_files"] = []
    return (spec.model_copy(update=update) if update else spec), lost


def probe_pod(spec: SessionSpec, name: str) -> dict[str, Any]:
    """A session pod without volumes or Secrets: `doctor --image-check` pulls the image with it."""
    body = pod(
        spec.model_copy(
            update={
                "credential_keys": [],
                "env_secret_keys": [],
                "secret_files": [],
                "git_secret": None,
            }
        )
    )
    body["metadata"] = {
        "name": name,
        "namespace": spec.namespace,
        "labels": {MANAGED_BY: MANAGER, COMPONENT_LABEL: "doctor"},
    }
    body["spec"]["volumes"] = []
    body["spec"]["restartPolicy"] = "Never"
    body["spec"]["terminationGracePeriodSeconds"] = 0
    container = body["spec"]["containers"][0]
    container.pop("volumeMounts", None)
    container["workingDir"] = "/"
    return body
