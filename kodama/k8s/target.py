"""Where to talk: kubectl's --kubeconfig/--context/-n, and what the kubeconfig says about them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kodama.errors import ClusterError, KodamaError
from kodama.k8s import kubeconfig


@dataclass(frozen=True)
class KubeTarget:
    """Where to talk: the same flags kubectl takes."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def kubeconfig_path(target: KubeTarget) -> str:
    if target.kubeconfig:
        return os.path.expanduser(target.kubeconfig)
    env = os.environ.get("KUBECONFIG")
    if env:
        return env.split(os.pathsep)[0]
    return os.path.expanduser("~/.kube/config")


def _contexts(path: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None] | None:
    try:
        return kubeconfig.contexts(kubeconfig.read_config(path))
    except KodamaError:
        return None


def context_namespace(target: KubeTarget) -> tuple[str | None, str | None]:
    """(context name, its namespace) from the kubeconfig, without building a client."""
    path = kubeconfig_path(target)
    if not Path(path).is_file():
        return target.context, None
    found = _contexts(path)
    if found is None:
        return target.context, None
    contexts, active = found
    chosen = None
    if target.context:
        chosen = next((c for c in contexts if c.get("name") == target.context), None)
    else:
        chosen = active
    if not chosen:
        return target.context, None
    return chosen.get("name"), (chosen.get("context") or {}).get("namespace")


def check_context(path: str, context: str) -> None:
    """Name the context that is not there and the ones that exist (the client blamed the file)."""
    found = _contexts(path)
    if found is None:
        return  # a broken file gets the loader's own message below
    names = [str(c.get("name")) for c in found[0]]
    if context not in names:
        have = f"its contexts: {', '.join(names)}" if names else "it has no contexts"
        raise ClusterError(
            f"context {context!r} does not exist in kubeconfig {path} ({have})",
            hint="`kubectl config get-contexts` lists them",
        )
