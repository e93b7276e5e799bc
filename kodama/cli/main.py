"""Entry point of `kubectl kodama` (console script kubectl-kodama)."""

from __future__ import annotations

import importlib
import sys
import traceback

import click

from kodama.cli.context import Obj, kube_options
from kodama.errors import KodamaError
from kodama.printable import printable

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Each verb and the module (kodama/cli/NAME.py) whose COMMANDS hold it. A verb's module is imported
# only when that verb runs (or `--help` lists them all): `list` does not pay for start's options,
# sync's or the image builder's imports. tests/unit/test_imports.py checks this table is complete.
VERBS = {
    "start": "session_cmds",
    "list": "session_cmds",
    "get": "session_cmds",
    "stop": "session_cmds",
    "resume": "session_cmds",
    "delete": "session_cmds",
    "compare": "fanout_cmds",
    "usage": "fanout_cmds",
    "attach": "agent_cmds",
    "logs": "agent_cmds",
    "wait": "agent_cmds",
    "fetch": "git_cmds",
    "pr": "pr_cmds",
    "sync": "sync_cmds",
    "doctor": "doctor_cmds",
    "image": "image_cmds",
    "version": "misc_cmds",
    "rbac": "misc_cmds",
    "config": "misc_cmds",
    "completion": "misc_cmds",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = VERBS.get(cmd_name)
        if module is None:
            return None
        commands = importlib.import_module(f"kodama.cli.{module}").COMMANDS
        return next((c for c in commands if c.name == cmd_name), None)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@kube_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run AI coding-agent sessions (Claude Code by default) in Kubernetes pods.

    \b
    Typical flow:
      kubectl kodama start fix-login          # PVCs, Secret, pod, branch kodama/fix-login
      kubectl kodama attach fix-login         # talk to the agent; detach with Ctrl-b d
      kubectl kodama fetch fix-login          # bring the branch back as kodama/fix-login
      kubectl kodama stop fix-login           # pod gone, data kept; `resume` brings it back
      kubectl kodama delete fix-login --yes

    Global flags (--kubeconfig, --context, -n) work before or after the verb.
    """
    if not isinstance(ctx.obj, Obj):
        ctx.obj = Obj()


def _verbose() -> bool:
    return "-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map errors to `error: …` on stderr and exit 1 (kubectl's convention)."""
    try:
        rv = cli.main(args=argv, prog_name="kubectl kodama", standalone_mode=False)
    except KodamaError as exc:
        if _verbose():
            traceback.print_exc()
        # One line on stderr, kubectl style; the hint rides on the same line.
        line = f"error: {exc.message}"
        if exc.hint:
            line += f" (hint: {exc.hint})"
        click.echo(printable(line), err=True)  # messages may quote pod output
        code = exc.exit_code
        sys.exit(code if isinstance(code, int) and code > 0 else 1)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # click lays some messages out on several lines (a Choice's values one per line):
        # kubectl's convention, and our README, is one line.
        msg = " ".join(exc.format_message().split())
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            msg += f" (see `{exc.ctx.command_path} --help`)"
        click.echo(f"error: {msg}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    if isinstance(rv, int):
        sys.exit(rv)
    return 0


def complete_main() -> None:
    """`kubectl_complete-kodama`: kubectl >= 1.26 runs it with the words typed so far.

    Prints one candidate per line, then kubectl's directive line (":4" = no file completion).
    """
    from click.shell_completion import ShellComplete

    args = sys.argv[1:]
    if args and args[0] in ("__complete", "__completeNoDesc"):
        args = args[1:]
    incomplete = args[-1] if args else ""
    words = args[:-1]
    comp = ShellComplete(cli, {}, "kubectl-kodama", "_KUBECTL_KODAMA_COMPLETE")
    try:
        items = comp.get_completions(words, incomplete)
    except Exception:
        items = []
    for item in items:
        print(f"{item.value}\t{item.help}" if item.help else item.value)
    print(":4")


if __name__ == "__main__":  # pragma: no cover
    main()
