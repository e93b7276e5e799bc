"""attach, logs and wait: the agent in the pod."""

from __future__ import annotations

import signal
import subprocess
import sys

import click

from kodama.agent.logs import render_line
from kodama.cli.context import cancellable, get_obj, kube_options, progress
from kodama.cli.session_cmds import complete_sessions
from kodama.printable import printable
from kodama.validation import parse_timeout


# Options may follow NAME (`attach NAME -n NS`); the command starts after `--`, like kubectl exec.
@click.command()
@click.argument("name", shell_complete=complete_sessions)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@kube_options
def attach(name: str, command: tuple[str, ...]) -> None:
    """Open a terminal into the agent of NAME, or run `-- CMD ARGS…` in its workspace.

    \b
    The agent runs in the tmux session `kodama` in the pod: detach with Ctrl-b d (or just
    close the terminal) and it keeps working; attach again to find it where it was.
    With a command, the exit code of the command is passed through (like kubectl exec).
    """
    engine = get_obj().engine_for(name)
    cmd = list(command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if cmd:
        argv = engine.attach_argv(name, cmd)
    else:
        with progress() as (render, cancel):
            argv = engine.prepare_attach(name, events=render, cancel=cancel)
    sys.stdout.flush()
    # Not exec'd: kubectl's stderr goes through a filter that drops its own diagnostics
    # ("command terminated with exit code 7", websocket E-lines on detach).
    sys.exit(_run_on_terminal(argv))


def _run_on_terminal(argv: list[str]) -> int:
    """kubectl on this terminal (stdin and stdout inherited), its stderr filtered; its exit
    code. Ctrl-C is kubectl's to handle (a raw terminal sends it to the pod as a byte)."""
    from kodama.errors import ClusterError
    from kodama.k8s.kubectl import StderrFilter

    # A no-op handler, not SIG_IGN: an ignored signal would stay ignored in kubectl after exec,
    # and without a terminal of its own kubectl must still end on Ctrl-C (its code is passed on).
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    try:
        try:
            proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise ClusterError(
                "kubectl not found", hint="install kubectl or set KODAMA_KUBECTL"
            ) from None
        assert proc.stderr is not None
        errors = StderrFilter(proc.stderr, sys.stderr.buffer)
        rc = proc.wait()
        errors.join()
        return rc
    finally:
        signal.signal(signal.SIGINT, previous)


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@click.option("-f", "--follow", is_flag=True, help="Follow the log until the agent exits.")
@click.option("--tail", type=int, default=-1, help="Lines to show from the end (-1: all).")
@click.option("--raw", is_flag=True, help="Print Claude Code's stream-json events as they are.")
@kube_options
def logs(name: str, follow: bool, tail: int, raw: bool) -> None:
    """Show the output of the headless agent run of NAME (`start --prompt`).

    The log lives on the session's home PVC ($HOME/.kodama/agent.log) and survives stop/resume.
    """
    from kodama.agent.control import logs_error
    from kodama.k8s.kubectl import StderrFilter

    argv = get_obj().engine_for(name).logs_argv(name, follow=follow, tail=tail)
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert proc.stdout is not None and proc.stderr is not None
    errors = StderrFilter(proc.stderr)
    try:
        for raw_line in proc.stdout:
            text = raw_line.decode(errors="replace")
            shown = printable(text.rstrip("\n")) if raw else render_line(text)
            if shown is not None:
                click.echo(shown)
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        sys.exit(130)
    if rc != 0:
        raise logs_error(name, rc, errors.join())


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@click.option(
    "--for",
    "for_",
    required=True,
    type=click.Choice(["working", "waiting", "idle", "exited"]),
    help="The agent state to wait for.",
)
@click.option("--timeout", default="", help="Give up after this long (30s, 5m, 1h); default never.")
@kube_options
def wait(name: str, for_: str, timeout: str) -> None:
    """Wait until the agent of NAME is working, waiting (for you), idle or exited.

    \b
    Exits 0 when the state is reached (printing it), 1 on timeout or when the agent exits first:
      kubectl kodama start fix --prompt "fix the login bug" && \\
        kubectl kodama wait fix --for=exited --timeout=30m && kubectl kodama fetch fix
    """
    from kodama.models import AgentStateName  # pydantic stays out of `--help` and `version`
    from kodama.present import agent_cell

    seconds = parse_timeout(timeout) if timeout else None
    engine = get_obj().engine_for(name)
    with cancellable() as cancel:
        state = engine.wait_agent(name, AgentStateName(for_), seconds, cancel)
    msg = f" — {state.message}" if state.message else ""
    click.echo(printable(f"{name}: {agent_cell(state)}{msg}"))


COMMANDS = [attach, logs, wait]
