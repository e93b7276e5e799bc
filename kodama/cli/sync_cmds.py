"""sync start|stop|status|flush|pause|resume|push|pull."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kodama.cli.context import cancellable, get_obj, kube_options, progress
from kodama.cli.output import dump
from kodama.cli.session_cmds import complete_sessions

if TYPE_CHECKING:
    from kodama.engine import SessionEngine
    from kodama.models import SyncStatus


def _engine(name: str) -> SessionEngine:
    return get_obj().engine_for(name)


def render_status(st: SyncStatus) -> str:
    from kodama.present import sync_report

    return "\n".join(sync_report(st))


@click.group(name="sync")
@kube_options
def sync_group() -> None:
    """Two-way file sync between your checkout and a session's workspace.

    \b
    Live sync uses mutagen (https://mutagen.io) over `kubectl exec`: no sshd, no
    port-forward, nothing extra in the image. `start` turns it on by default when
    mutagen is installed. Mode two-way-safe: conflicts are reported, never resolved
    for you. .git, git-ignored files and `sync.exclude` are never synced.

    \b
    Without mutagen, copy once with `sync push` / `sync pull` (tar over exec).
    """


@sync_group.command("start")
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option(
    "--local",
    metavar="PATH",
    help="Local folder to sync (default: the checkout the session was started from).",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Return once the sync is set up, without waiting for the first cycle to finish.",
)
def start_cmd(name: str, local: str | None, no_wait: bool) -> None:
    """Start (or keep) syncing the local checkout with the workspace.

    Returns once both sides are equal (the first sync cycle is done), unless --no-wait;
    syncing goes on in the background either way, until `sync stop`."""
    engine = _engine(name)
    with progress() as (renderer, token):
        engine.sync_start(name, local, events=renderer, cancel=token, wait=not no_wait)


@sync_group.command("stop")
@click.argument("name", shell_complete=complete_sessions)
@kube_options
def stop_cmd(name: str) -> None:
    """Stop syncing (files stay as they are on both sides)."""
    if _engine(name).sync_stop(name):
        click.echo(f"File sync of {name} stopped", err=True)
    else:
        click.echo(f"File sync of {name} was not running", err=True)


@sync_group.command("status")
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]), default=None)
def status_cmd(name: str, output: str | None) -> None:
    """Connection state, activity, last error and conflicts."""
    st = _engine(name).sync_status(name)
    if output:
        click.echo(dump(st.to_json_dict(), output))
    else:
        click.echo(render_status(st))


def _simple(action: str, doc: str, done: str) -> click.Command:
    @click.command(action, help=doc)
    @click.argument("name", shell_complete=complete_sessions)
    @kube_options
    def cmd(name: str) -> None:
        _engine(name).sync_control(name, action)
        click.echo(done.format(name=name), err=True)

    return cmd


sync_group.add_command(
    _simple("flush", "Run a full sync cycle now and wait for it.", "File sync of {name} flushed")
)
sync_group.add_command(
    _simple("pause", "Pause syncing (resume with `sync resume`).", "File sync of {name} paused")
)
sync_group.add_command(_simple("resume", "Resume a paused sync.", "File sync of {name} resumed"))


@sync_group.command("push")
@click.argument("name", shell_complete=complete_sessions)
@click.argument("path", required=False)
@kube_options
def push_cmd(name: str, path: str | None) -> None:
    """Copy the checkout (or PATH in it) into the workspace once, overwriting.

    Nothing in the pod is deleted. Skips .git, git-ignored files and sync.exclude."""
    with cancellable() as token:
        n = _engine(name).sync_push(name, path, cancel=token)
    click.echo(f"Pushed {n} file{'s' if n != 1 else ''} to {name}", err=True)


@sync_group.command("pull")
@click.argument("name", shell_complete=complete_sessions)
@click.argument("path", required=False)
@kube_options
@click.option("--force", is_flag=True, help="Overwrite local files that have uncommitted changes.")
def pull_cmd(name: str, path: str | None, force: bool) -> None:
    """Copy the workspace (or PATH in it) into the checkout once, overwriting local files.

    Nothing local is deleted. Skips .git, git-ignored files and sync.exclude. Refuses (naming
    them) to overwrite files with uncommitted local changes unless --force."""
    with cancellable() as token:
        n = _engine(name).sync_pull(name, path, force=force, cancel=token)
    click.echo(f"Pulled {n} file{'s' if n != 1 else ''} from {name}", err=True)


COMMANDS: list[click.Command] = [sync_group]
