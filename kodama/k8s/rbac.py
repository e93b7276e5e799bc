"""The permissions Kodama uses: the Role `kubectl kodama rbac` prints and `doctor` checks."""

from __future__ import annotations

from typing import Any

# Everything the whole lifecycle needs, in one namespace. No cluster scope, no watch (waits poll),
# no pods/log (the agent log is read through exec). Secrets are never enumerated: their names
# derive from the session name. RBAC cannot restrict `create` by name and the names of future
# sessions are unknown, so the namespace stays the boundary: anyone bound here can exec into every
# pod of it (pods/exec is namespace-wide) - one namespace per person.
RBAC_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "create", "delete"]},
    # Exec over WebSocket is a GET on older API servers, a create on newer ones.
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
    {
        "apiGroups": [""],
        "resources": ["persistentvolumeclaims"],
        "verbs": ["get", "list", "create", "delete", "patch"],
    },
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
]


def permissions() -> list[tuple[str, str]]:
    """(verb, resource) pairs of RBAC_RULES, e.g. ("create", "pods/exec")."""
    return [(v, r) for rule in RBAC_RULES for r in rule["resources"] for v in rule["verbs"]]
