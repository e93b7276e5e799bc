"""attach (and, with the agent work, logs and wait)."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from .context import get_obj, kube_options, progress
from .session_cmds import complete_sessions


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name", shell_complete=complete_sessions)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@kube_options
def attach(name: str, command: tuple[str, ...]) -> None:
    """Open a terminal into the agent of NAME, or run `-- CMD ARGS…` in its workspace.

    With a command, the exit code of the command is passed through (like kubectl exec).
    """
    engine = get_obj().engine()
    cmd = list(command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if cmd:
        argv = engine.attach_argv(name, cmd)
    else:
        with progress() as (render, cancel):
            argv = engine.prepare_attach(name, events=render, cancel=cancel)
    sys.stdout.flush()
    if not cmd and os.name == "posix":
        os.execvp(argv[0], argv)
    proc = subprocess.run(argv, check=False)
    sys.exit(proc.returncode)


COMMANDS = [attach]
