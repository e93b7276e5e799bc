"""version, rbac, config, completion."""

from __future__ import annotations

import click

from kodama import __version__
from kodama.cli.context import get_obj, kube_options
from kodama.cli.output import dump
from kodama.k8s.rbac import check_subjects, rbac_objects, rbac_yaml


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
    from kodama.validation import validate_namespace

    check_subjects(user, serviceaccount)
    ns = get_obj().namespace
    if not ns:
        ns = get_obj().engine().namespace()
    validate_namespace(ns)
    objs = rbac_objects(ns, user, serviceaccount)
    if output == "json":
        click.echo(dump({"apiVersion": "v1", "kind": "List", "items": objs}, "json"))
    else:
        click.echo(rbac_yaml(objs))


@click.group()
def config() -> None:
    """Inspect configuration."""


@config.command()
def schema() -> None:
    """Print the JSON Schema of config.yaml and .kodama.yaml."""
    from kodama.config import json_schema

    click.echo(dump(json_schema(), "json"))


@config.command()
@kube_options
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
def view(output: str) -> None:
    """Print the merged configuration and the files it came from."""
    from pathlib import Path

    from kodama.config import load_config

    loaded = load_config(Path.cwd())
    click.echo(f"# sources: {', '.join(loaded.sources) or '(defaults only)'}", err=True)
    click.echo(dump(loaded.view(), output))


# Completes both `kubectl-kodama …` and `kubectl kodama …`. Candidates come from
# `kubectl_complete-kodama`, the executable kubectl >= 1.26 itself runs for plugin arguments
# (words after the plugin name, the last one being completed; cobra's output: one candidate per
# line, a `:N` directive last). `kubectl` keeps its own completion for everything else.
BASH_COMPLETION = r"""
_kubectl_kodama_words() {
    local line
    COMPREPLY=()
    while IFS= read -r line; do
        case $line in
        :*) ;;
        *) COMPREPLY+=("${line%%$'\t'*}") ;;
        esac
    done < <(kubectl_complete-kodama "$@" 2>/dev/null)
}
_kubectl_kodama() {
    _kubectl_kodama_words "${COMP_WORDS[@]:1:COMP_CWORD}"
}
_kubectl_kodama_kubectl() {
    if [[ $COMP_CWORD -ge 2 && ${COMP_WORDS[1]} == kodama ]]; then
        _kubectl_kodama_words "${COMP_WORDS[@]:2:COMP_CWORD-1}"
    elif [[ -n $_kubectl_kodama_previous ]]; then
        "$_kubectl_kodama_previous" "$@"
    fi
}
complete -o nosort -F _kubectl_kodama kubectl-kodama
if [[ -z ${_kubectl_kodama_previous+set} ]]; then
    _kubectl_kodama_previous=$(complete -p kubectl 2>/dev/null | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
fi
complete -o default -F _kubectl_kodama_kubectl kubectl
""".lstrip()


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print a shell completion script (e.g. `source <(kubectl kodama completion bash)`).

    The bash script completes `kubectl kodama …` as well as `kubectl-kodama …`.
    """
    if shell == "bash":
        click.echo(BASH_COMPLETION, nl=False)
        return
    from click.shell_completion import get_completion_class

    from kodama.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "kubectl-kodama", "_KUBECTL_KODAMA_COMPLETE").source())


COMMANDS = [version, rbac, config, completion]
