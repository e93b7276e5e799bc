"""version, rbac, config, completion."""

from __future__ import annotations

from typing import Any

import click

from .. import __version__
from .context import get_obj, kube_options
from .output import dump

# Everything the whole lifecycle needs, in one namespace. No cluster scope.
RBAC_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["get", "list", "watch", "create", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {
        "apiGroups": [""],
        "resources": ["persistentvolumeclaims"],
        "verbs": ["get", "list", "create", "delete", "patch"],
    },
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
]


def rbac_objects(
    namespace: str, user: str | None, serviceaccount: str | None, name: str = "kodama"
) -> list[dict[str, Any]]:
    subjects: list[dict[str, Any]] = []
    if user:
        subjects.append({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user})
    if serviceaccount:
        sa_ns, _, sa_name = serviceaccount.rpartition(":")
        subjects.append(
            {"kind": "ServiceAccount", "name": sa_name, "namespace": sa_ns or namespace}
        )
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": RBAC_RULES,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": subjects,
    }
    return [role, binding] if subjects else [role]


@click.command()
@kube_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def version(output: str) -> None:
    """Print Kodama's version."""
    if output == "json":
        click.echo(dump({"kodama": __version__}, "json"))
    else:
        click.echo(f"kodama {__version__}")


@click.command()
@kube_options
@click.option("--user", help="Bind the Role to this user.")
@click.option("--serviceaccount", metavar="[NS:]NAME", help="Bind the Role to this ServiceAccount.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
def rbac(user: str | None, serviceaccount: str | None, output: str) -> None:
    """Print the minimal namespaced Role (and RoleBinding) Kodama needs: pipe to kubectl apply -f -."""
    import yaml

    from ..validation import validate_namespace

    ns = get_obj().namespace
    if not ns:
        ns = get_obj().engine().namespace()
    validate_namespace(ns)
    objs = rbac_objects(ns, user, serviceaccount)
    if output == "json":
        click.echo(dump({"apiVersion": "v1", "kind": "List", "items": objs}, "json"))
    else:
        click.echo(yaml.safe_dump_all(objs, sort_keys=False).rstrip())


@click.group()
def config() -> None:
    """Inspect configuration."""


@config.command()
def schema() -> None:
    """Print the JSON Schema of config.yaml and .kodama.yaml."""
    from ..config import json_schema

    click.echo(dump(json_schema(), "json"))


@config.command()
@kube_options
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
def view(output: str) -> None:
    """Print the merged configuration and the files it came from."""
    from pathlib import Path

    from ..config import load_config

    loaded = load_config(Path.cwd())
    data = loaded.config.model_dump(mode="json", by_alias=True, exclude={"defaults"})
    click.echo(f"# sources: {', '.join(loaded.sources) or '(defaults only)'}", err=True)
    click.echo(dump(data, output))


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print a shell completion script (e.g. `source <(kubectl-kodama completion bash)`)."""
    from click.shell_completion import get_completion_class

    from .main import cli

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "kubectl-kodama", "_KUBECTL_KODAMA_COMPLETE").source())


COMMANDS = [version, rbac, config, completion]
