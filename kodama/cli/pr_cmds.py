"""pr: push the session branch with your own credentials and open a pull request."""

from __future__ import annotations

import click

from kodama.cli.context import get_obj, kube_options, progress
from kodama.cli.output import dump
from kodama.cli.session_cmds import complete_sessions


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option("--base", help="Branch to merge into (default: the session's base branch).")
@click.option("--remote", help="Remote to push to (default: the base branch's, else origin).")
@click.option("--draft", is_flag=True, help="Open the pull request as a draft (gh).")
@click.option("--title", help="Title (default: the session's prompt, else its only commit).")
@click.option("--body", help="Body (default: the prompt and the commits).")
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]), default=None)
def pr(
    name: str,
    base: str | None,
    remote: str | None,
    draft: bool,
    title: str | None,
    body: str | None,
    output: str | None,
) -> None:
    """Open a pull request for session NAME's branch.

    \b
    Fetches the branch over kubectl exec, pushes it from this machine with your own git
    credentials (never the pod's), then opens the pull request with `gh` when it is installed
    and logged in; otherwise prints the compare URL of GitHub or GitLab remotes.
    """
    from kodama.git.pr import open_pull_request

    engine = get_obj().engine_for(name)
    with progress() as (render, cancel):
        result = open_pull_request(
            engine,
            name,
            base=base,
            remote=remote,
            draft=draft,
            title=title,
            body=body,
            events=render,
            cancel=cancel,
        )
    if output:
        click.echo(dump(result.to_json_dict(), output))
    elif result.url:
        click.echo(result.url)


COMMANDS = [pr]
