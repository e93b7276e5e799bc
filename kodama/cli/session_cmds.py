"""start, list, get, stop, resume, delete."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from kodama.cli.context import get_obj, kube_options, progress
from kodama.cli.output import OUTPUT_CHOICES, dump, emit_sessions
from kodama.errors import InvalidInput, NeedsConfirmation
from kodama.printable import printable


def complete_sessions(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Session names from the local records (fast; no cluster call while typing)."""
    from click.shell_completion import CompletionItem

    from kodama.store import Store

    names = sorted({r.get("name", "") for r in Store().all()})
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def _read_prompt(prompt: str | None, prompt_file: str | None) -> str | None:
    if prompt is not None and prompt_file is not None:
        raise InvalidInput("--prompt and --prompt-file cannot be used together")
    if prompt_file is None:
        return prompt
    if prompt_file == "-":
        return sys.stdin.read()
    try:
        return Path(prompt_file).read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read --prompt-file {prompt_file}: {exc.strerror}") from None


@click.command()
@click.argument("name", required=False)
@kube_options
@click.option("--image", help="Agent image (default from config).")
@click.option("--cpu", help="CPU request and limit, e.g. 2 or 500m.")
@click.option("--memory", help="Memory request and limit, e.g. 4Gi.")
@click.option(
    "--resource",
    "resources",
    multiple=True,
    metavar="NAME=QTY",
    help="Extended resource, e.g. nvidia.com/gpu=1 (repeatable).",
)
@click.option("--storage", "workspace_size", metavar="SIZE", help="Workspace PVC size, e.g. 20Gi.")
@click.option("--home-storage", "home_size", metavar="SIZE", help="Home PVC size, e.g. 2Gi.")
@click.option("--storage-class", help="StorageClass for both PVCs.")
@click.option(
    "--node-selector",
    "node_selector",
    multiple=True,
    metavar="KEY=VALUE",
    help="Pod nodeSelector entry (repeatable).",
)
@click.option(
    "--toleration",
    "tolerations",
    multiple=True,
    metavar="KEY[=VALUE][:EFFECT]",
    help="Pod toleration (repeatable).",
)
@click.option("--timeout", type=float, help="Seconds to wait for Ready (default 300).")
@click.option("--no-wait", is_flag=True, help="Create the objects and return without waiting.")
@click.option("--agent-command", help="Agent command line (default: claude).")
@click.option(
    "--permission-mode",
    type=click.Choice(["default", "acceptEdits", "plan", "auto", "dontAsk", "bypassPermissions"]),
    help="Claude Code's permission mode for this session, headless and interactive "
    "(default: agent.permissionMode, acceptEdits, for --prompt; Claude Code's own otherwise).",
)
@click.option("--prompt", help="Run the agent headless with this prompt.")
@click.option(
    "--prompt-file", metavar="FILE", help="Read the headless prompt from FILE (- for stdin)."
)
@click.option(
    "--env-file", metavar="FILE", help="dotenv file injected as environment (via a Secret)."
)
@click.option(
    "--secret-file",
    "secret_files",
    multiple=True,
    metavar="SRC:DST",
    help="Local file mounted read-only at DST in the pod (via a Secret; repeatable).",
)
@click.option("--branch", help="Session branch name (default: branchPrefix + NAME).")
@click.option("--base", help="Ref to branch from (default: the current branch).")
@click.option(
    "--repo",
    metavar="URL",
    help="Clone this repository in the cluster instead of shipping the local one.",
)
@click.option(
    "--git-token-env",
    metavar="VAR",
    help="For an HTTPS --repo: environment variable holding the token (stored in a Secret).",
)
@click.option(
    "--git-token-file", metavar="FILE", help="For an HTTPS --repo: file holding the token."
)
@click.option("--git-ssh-key", metavar="FILE", help="For an ssh --repo: private key file.")
@click.option(
    "--git-known-hosts",
    metavar="FILE",
    help="For an ssh --repo: known_hosts file (default: the host's lines of ~/.ssh/known_hosts).",
)
@click.option(
    "--sync/--no-sync",
    "sync",
    default=None,
    help="Start two-way file sync (default: on when mutagen is installed).",
)
@click.option(
    "--idle-stop",
    metavar="DURATION",
    help="End the pod after the agent is idle or exited, nobody attached, this long "
    "(e.g. 30m; `off`: never). PVCs stay; `resume` brings it back. Default: agent.idleStop.",
)
@click.option(
    "--count",
    type=int,
    default=None,
    metavar="N",
    help="Fan-out: start N sessions NAME-1..NAME-N on N branches, concurrently, as one "
    "operation (Ctrl-C rolls all back); `compare NAME` shows what each did.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the objects that would be created; touch nothing."
)
@click.option(
    "-y",
    "--yes",
    "accept_repo_config",
    is_flag=True,
    help="Accept the image, agent command, env and namespace the repository's .kodama.yaml "
    "sets, without asking.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml", "name"]),
    default=None,
    help="Output format of the result.",
)
def start(
    name: str | None,
    resources: tuple[str, ...],
    node_selector: tuple[str, ...],
    tolerations: tuple[str, ...],
    secret_files: tuple[str, ...],
    no_wait: bool,
    prompt_file: str | None,
    dry_run: bool,
    output: str | None,
    count: int | None,
    **kw: Any,
) -> None:
    """Start session NAME: PVCs, Secrets, pod, branch; ship the repo; launch the agent.

    Without NAME, the session is named after the current branch (as the editors suggest)."""
    from kodama.models import StartRequest
    from kodama.validation import parse_key_value

    if not name:
        from kodama.names import suggest_session_name
        from kodama.store import Store

        # Not echoed here: bad input must stay one `error:` line; the result names the session.
        name = suggest_session_name(Path.cwd(), {str(r.get("name", "")) for r in Store().all()})

    prompt = _read_prompt(kw.pop("prompt"), prompt_file)
    req = StartRequest(
        name=name,
        resources=dict(parse_key_value(r, "--resource") for r in resources),
        node_selector=dict(parse_key_value(s, "--node-selector") for s in node_selector),
        tolerations=list(tolerations),
        secret_files=list(secret_files),
        wait=not no_wait,
        prompt=prompt,
        **kw,
    )
    engine = get_obj().engine()
    if count is not None:
        from kodama.engine.fanout import member_requests

        reqs = member_requests(req, count)  # input errors before anything else
    if dry_run:
        fmt = output or "yaml"
        if fmt not in ("yaml", "json"):
            raise InvalidInput("--dry-run prints objects: use -o yaml or -o json")
        plans = [engine.plan_start(r) for r in (reqs if count is not None else [req])]
        objs = [_redact(o) for plan in plans for o in plan.objects]
        if plans[0].repo_changes:
            click.echo(
                f"note: {printable(str(plans[0].repo_config))} sets "
                + "; ".join(plans[0].repo_changes),
                err=True,
            )
        if fmt == "json":
            click.echo(dump({"apiVersion": "v1", "kind": "List", "items": objs}, "json"))
        else:
            import yaml

            click.echo(yaml.safe_dump_all(objs, sort_keys=False).rstrip())
        return

    def run(r: Any) -> Any:
        with progress() as (render, cancel):
            if count is not None:
                return engine.start_family(r, count, events=render, cancel=cancel)
            return engine.start(r, events=render, cancel=cancel)

    try:
        result = run(req)
    except NeedsConfirmation as exc:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise
        click.echo(f"{printable(exc.source)} (from the repository) sets:", err=True)
        for change in exc.changes:
            click.echo(f"  {change}", err=True)
        if not click.confirm("Start with these settings?", default=False, err=True):
            raise click.exceptions.Abort() from None
        result = run(req.model_copy(update={"accepted_repo_changes": exc.changes}))
    if count is not None:
        emit_sessions(result, output or "table")
        return
    session = result
    _emit_one(session, output)


def _redact(obj: dict[str, Any]) -> dict[str, Any]:
    """Secrets are shown with their keys only, never their values."""
    if obj.get("kind") == "Secret":
        obj = dict(obj)
        obj["data"] = {k: "<redacted>" for k in obj.get("data", {})}
    return obj


def _emit_one(session: Any, output: str | None) -> None:
    from kodama.cli.output import describe

    if output in ("json", "yaml"):
        click.echo(dump(session.to_json_dict(), output))
    elif output == "name":
        click.echo(f"session/{session.name}")
    elif output == "table":
        emit_sessions([session], "table")
    else:
        click.echo(describe(session))


@click.command(name="list")
@kube_options
@click.option("-A", "--all-namespaces", is_flag=True, help="List sessions in every namespace.")
@click.option(
    "-o", "--output", type=click.Choice(OUTPUT_CHOICES), default="table", help="Output format."
)
def list_(all_namespaces: bool, output: str) -> None:
    """List sessions (status derived from the cluster on every call)."""
    engine = get_obj().reader()
    sessions = engine.list_sessions(all_namespaces)
    if not sessions and output in ("table", "wide"):
        click.echo(engine.no_sessions_message(all_namespaces), err=True)
        return
    emit_sessions(sessions, output, all_namespaces=all_namespaces)


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "name", "table"]), default=None)
def get(name: str, output: str | None) -> None:
    """Show one session (recent events when it is not healthy)."""
    session = get_obj().engine_for(name).get(name, details=True)
    _emit_one(session, output)


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option("--no-wait", is_flag=True, help="Return without waiting for the pod to be gone.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "name"]), default=None)
def stop(name: str, no_wait: bool, output: str | None) -> None:
    """Stop NAME: delete its pod, keep its PVCs (and so its data)."""
    engine = get_obj().engine_for(name)
    with progress() as (render, cancel):
        session = engine.stop(name, events=render, cancel=cancel, wait=not no_wait)
    if output:
        _emit_one(session, output)


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option("--no-wait", is_flag=True, help="Return without waiting for Ready.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "name"]), default=None)
def resume(name: str, no_wait: bool, output: str | None) -> None:
    """Resume NAME: a new pod on the same PVCs; the agent continues its conversation."""
    engine = get_obj().engine_for(name)
    with progress() as (render, cancel):
        session = engine.resume(name, events=render, cancel=cancel, wait=not no_wait)
    if output:
        _emit_one(session, output)


def delete_question(name: str, keep_data: bool) -> str:
    if keep_data:
        return f"Delete the pod and Secrets of session {name}, keeping its PVCs (its data)?"
    return f"Delete session {name} with its pod, Secrets and PVCs (all its data)?"


@click.command()
@click.argument("name", shell_complete=complete_sessions)
@kube_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-data", is_flag=True, help="Keep the PVCs (workspace and home).")
def delete(name: str, yes: bool, keep_data: bool) -> None:
    """Delete NAME: pod, Secrets and (unless --keep-data) PVCs."""
    from kodama.validation import validate_session_name

    validate_session_name(name)
    engine = get_obj().engine_for(name)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("refusing to delete without confirmation: pass --yes")
        click.confirm(delete_question(name, keep_data), abort=True, err=True)
    with progress() as (render, cancel):
        engine.delete(name, events=render, cancel=cancel, keep_data=keep_data)


COMMANDS = [start, list_, get, stop, resume, delete]
