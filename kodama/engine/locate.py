"""A session NAME is enough: find its namespace when -n is not given.

The README's quick start is `start fix-login -n agents`, then `attach fix-login`: without -n the
second command looks in the context's namespace. The session file remembers where the session
lives, so a command falls back to that namespace when the current one has no such session.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from kodama.errors import InvalidInput
from kodama.k8s import manifests
from kodama.validation import validate_session_name

if TYPE_CHECKING:
    from kodama.engine import SessionEngine


def resolve_namespace(engine: SessionEngine, name: str) -> str | None:
    """Point `engine` at the namespace of session `name`; return a note when it moved there.

    An explicit -n always wins. The cluster is asked only when the session files know the name
    in another namespace and not in the current one.
    """
    if engine.target.namespace:
        return None
    validate_session_name(name)
    current = engine.namespace()
    found = {str(r.get("namespace")) for r in engine.store.find(name) if r.get("namespace")}
    if not found or current in found:
        return None
    if engine.cluster.get_pvc(manifests.workspace_pvc_name(name), current) is not None:
        return None
    if len(found) > 1:
        raise InvalidInput(
            f"session {name!r} is not in namespace {current}; sessions of that name exist in "
            f"{', '.join(sorted(found))}: pass -n NAMESPACE"
        )
    ns = found.pop()
    engine.target = dataclasses.replace(engine.target, namespace=ns)
    return f"session {name} is not in namespace {current}: using namespace {ns} (from its session file)"
