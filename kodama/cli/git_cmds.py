"""fetch: bring the session branch back."""

from __future__ import annotations

import click

from kodama.cli.context import get_obj, kube_options, progress
from kodama.cli.output import dump
from kodama.cli.session_cmds import complete_sessions


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option(
    "--into",
    metavar="BRANCH",
    help="Local branch to fetch into (default: the session branch's name, e.g. kodama/NAME).",
)
@click.option(
    "--force", is_flag=True, help="Replace the local branch even if it has other commits."
)
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "name"]), default=None)
def fetch(name: str, into: str | None, force: bool, output: str | None) -> None:
    """Fetch session NAME's branch into the local repository (over kubectl exec).

    Needs no git credentials and works while the session runs; a stopped session is resumed
    first (`kubectl kodama resume NAME`).
    """
    engine = get_obj().engine_for(name)
    with progress() as (render, cancel):
        result = engine.fetch(name, into=into, force=force, events=render, cancel=cancel)
    if output in ("json", "yaml"):
        click.echo(dump(result.to_json_dict(), output))
    elif output == "name":
        click.echo(f"branch/{result.local_branch}")
    else:
        if result.previous == result.commit:
            change = "already up to date"
        elif result.previous:
            change = f"updated from {result.previous[:12]}"
        else:
            change = "new branch"
        ahead = (
            f"{result.ahead} commit{'s' if result.ahead != 1 else ''} ahead of "
            f"{result.base_branch or 'the base'}"
            + (f" ({result.base_commit[:12]})" if result.base_commit else "")
            if result.ahead is not None
            else "commits ahead of the base: unknown"
        )
        where = f" in {result.repository}" if result.repository else ""
        click.echo(f"{result.local_branch} {result.commit[:12]}{where} ({change}); {ahead}")


COMMANDS: list[click.Command] = [fetch]
