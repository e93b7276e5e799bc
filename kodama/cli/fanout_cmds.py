"""compare (the sessions of a fan-out side by side) and usage (what sessions cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kodama.cli.context import get_obj, kube_options
from kodama.cli.output import dump, table

if TYPE_CHECKING:
    from kodama.agent.usage import Usage
    from kodama.engine.fanout import Comparison


@click.command()
@click.argument("name")
@kube_options
@click.option(
    "--diff",
    "diff_session",
    metavar="SESSION",
    help="Print the whole change of one session (NAME-2, or just 2) against the base.",
)
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
def compare(name: str, diff_session: str | None, output: str) -> None:
    """Compare the sessions of fan-out NAME: agent state, commits ahead, change vs the base.

    The change is the whole workspace (uncommitted and new files too) against the commit the
    sessions started from, read from the pods (no fetch needed).
    """
    engine = get_obj().engine()
    if diff_session:
        click.echo(engine.family_diff(name, diff_session), nl=False)
        return
    rows: list[Comparison] = engine.compare(name)
    if output != "table":
        click.echo(
            dump(
                {
                    "apiVersion": "kodama.dev/v1",
                    "kind": "Comparison",
                    "family": name,
                    "items": [r.to_json_dict() for r in rows],
                },
                output,
            )
        )
        return
    click.echo(compare_text(rows))


def compare_text(rows: list[Comparison]) -> str:
    from kodama.present import agent_cell

    cells = []
    for r in rows:
        changed = f"{len(r.files)} files +{r.added} -{r.deleted}" if not r.error else "-"
        cells.append(
            [
                r.name,
                r.status.value,
                agent_cell(r.agent),
                "-" if r.ahead is None else str(r.ahead),
                changed,
                r.branch or "-",
            ]
        )
    out = [table(cells, ["SESSION", "STATUS", "AGENT", "AHEAD", "CHANGED", "BRANCH"])]
    for r in rows:
        out.append("")
        out.append(f"{r.name}:")
        if r.error:
            out.append(f"  ({r.error})")
            continue
        if not r.files:
            out.append("  no change")
        width = max((len(f.path) for f in r.files), default=0)
        for f in r.files:
            stat = "binary" if f.added is None else f"+{f.added} -{f.deleted}"
            out.append(f"  {f.path.ljust(width)}  {stat}")
    return "\n".join(out)


@click.command()
@click.argument("name", required=False)
@kube_options
@click.option("-A", "--all-namespaces", is_flag=True, help="Sessions in every namespace.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table")
def usage(name: str | None, all_namespaces: bool, output: str) -> None:
    """What sessions used: run time, CPU/memory x time, PVC sizes, tokens, estimated cost.

    Tokens are summed from Claude Code's transcripts in each running pod (and remembered for
    when it is stopped). The cost needs prices in the config's `pricing:` section.
    """
    from kodama.validation import validate_session_name

    if name:
        validate_session_name(name)
    items: list[Usage] = get_obj().engine().usage(name, all_namespaces=all_namespaces)
    if output != "table":
        data = {
            "apiVersion": "kodama.dev/v1",
            "kind": "UsageList",
            "items": [u.to_json_dict() for u in items],
        }
        click.echo(dump(data, output))
        return
    if not items:
        click.echo("No sessions found.", err=True)
        return
    click.echo(usage_text(items, all_namespaces=all_namespaces))


def _n(value: int) -> str:
    if value >= 10_000_000:
        return f"{value / 1_000_000:.0f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return str(value)


def usage_text(items: list[Usage], *, all_namespaces: bool = False) -> str:
    from kodama.agent.idle import format_duration

    headers = ["NAME", "STATUS", "RUN TIME", "CPU-H", "MEM GIB-H", "STORAGE", "TOKENS IN/OUT"]
    headers += ["CACHE R/W", "COST"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    rows: list[list[str]] = []
    notes: list[str] = []
    for u in items:
        t = u.tokens
        row = [
            u.name,
            u.status.value,
            format_duration(u.seconds) + (" (running)" if u.running else ""),
            f"{u.cpu_hours:.2f}",
            f"{u.memory_gib_hours:.2f}",
            f"{u.storage.get('workspace', '?')}+{u.storage.get('home', '?')}",
            f"{_n(t.input)}/{_n(t.output)}" if t else "-",
            f"{_n(t.cache_read)}/{_n(t.cache_write)}" if t else "-",
            _cost(u),
        ]
        if all_namespaces:
            row.insert(0, u.namespace)
        rows.append(row)
        if u.tokens_note:
            notes.append(f"{u.name}: tokens {u.tokens_note}")
        if u.lost_runs:
            notes.append(f"{u.name}: {u.lost_runs} run(s) ended unseen, counted as zero")
        if u.cost and u.cost.unpriced:
            notes.append(f"{u.name}: no price for {', '.join(u.cost.unpriced)}")
    cost_notes = {u.cost_note for u in items if u.cost_note}
    out = table(rows, headers)
    extra = sorted(cost_notes) + notes
    return out + ("\n\n" + "\n".join(extra) if extra else "")


def _cost(u: Any) -> str:
    if u.cost is None:
        return "-"
    return f"{u.cost.total:.2f} {u.cost.currency}"


COMMANDS = [compare, usage]
