"""The permissions Kodama uses: the Role `kubectl kodama rbac` prints and `doctor` checks.

Pure: the Role and its RoleBindings as objects, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

# Everything the whole lifecycle needs, in one namespace. No cluster scope; watch only on pods and
# PVCs (the language server follows sessions, and waits follow their pod, with watches); no pods/log (the
# agent log is read through exec). Secrets are never enumerated: their names derive from the
# session name. RBAC cannot restrict `create` by name and the names of future
# sessions are unknown, so the namespace stays the boundary: anyone bound here can exec into every
# pod of it (pods/exec is namespace-wide) - one namespace per person.
RBAC_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["get", "list", "watch", "create", "delete"],
    },
    # Exec over WebSocket is a GET on older API servers, a create on newer ones.
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
    {
        "apiGroups": [""],
        "resources": ["persistentvolumeclaims"],
        "verbs": ["get", "list", "watch", "create", "delete", "patch"],
    },
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
]


def permissions() -> list[tuple[str, str]]:
    """(verb, resource) pairs of RBAC_RULES, e.g. ("create", "pods/exec")."""
    return [(v, r) for rule in RBAC_RULES for r in rule["resources"] for v in rule["verbs"]]


SA_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def check_subjects(user: str | None, serviceaccount: str | None) -> None:
    """Refuse a blank --user or a malformed --serviceaccount [NS:]NAME (the CLI and the server)."""
    from kodama.errors import InvalidInput
    from kodama.validation import validate_namespace

    if user is not None and not user.strip():
        raise InvalidInput("--user must not be empty")
    if serviceaccount is not None:
        sa_ns, _, sa_name = serviceaccount.rpartition(":")
        if sa_ns:
            validate_namespace(sa_ns)
        if not SA_NAME.match(sa_name):
            raise InvalidInput(
                f"invalid --serviceaccount {serviceaccount!r}: expected [NAMESPACE:]NAME"
            )


def rbac_yaml(objs: list[dict[str, Any]]) -> str:
    """The objects as `kubectl kodama rbac` prints them: YAML documents for `kubectl apply -f -`."""
    import yaml

    return yaml.safe_dump_all(objs, sort_keys=False).rstrip()


def _binding_name(base: str, kind: str, subject: str) -> str:
    """One RoleBinding per subject, so binding a second person never replaces the first."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:32].strip("-") or "x"
    digest = hashlib.sha256(f"{kind}:{subject}".encode()).hexdigest()[:8]
    return f"{base}-{kind}-{slug}-{digest}"


def rbac_objects(
    namespace: str, user: str | None, serviceaccount: str | None, name: str = "kodama"
) -> list[dict[str, Any]]:
    bindings: list[tuple[str, dict[str, Any]]] = []
    if user:
        bindings.append(
            (
                _binding_name(name, "user", user),
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user},
            )
        )
    if serviceaccount:
        sa_ns, _, sa_name = serviceaccount.rpartition(":")
        sa_ns = sa_ns or namespace
        bindings.append(
            (
                _binding_name(name, "sa", f"{sa_ns}:{sa_name}"),
                {"kind": "ServiceAccount", "name": sa_name, "namespace": sa_ns},
            )
        )
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": RBAC_RULES,
    }
    return [
        role,
        *(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": bname, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [subject],
            }
            for bname, subject in bindings
        ),
    ]
