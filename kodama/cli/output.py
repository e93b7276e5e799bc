"""-o table|wide|json|yaml|name rendering. Results go to stdout only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from kodama.printable import printable

if TYPE_CHECKING:  # models import pydantic: keep `--help` fast
    from kodama.models import AgentState, Session

OUTPUT_CHOICES = ["table", "wide", "json", "yaml", "name"]


def age(ts: datetime | None, now: datetime | None = None) -> str:
    """kubectl-style short age: 45s, 3m, 2h, 4d."""
    if ts is None:
        return "<unknown>"
    now = now or datetime.now(UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    secs = max(0, int((now - ts).total_seconds()))
    if secs < 120:
        return f"{secs}s"
    if secs < 3 * 3600:
        return f"{secs // 60}m"
    if secs < 48 * 3600:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def agent_cell(a: AgentState, now: datetime | None = None) -> str:
    if a.state.value == "unknown":
        return "-"
    text = a.state.value
    if a.state.value == "exited" and a.exit_code is not None:
        text = f"exited({a.exit_code})"
    if a.since:
        text += f" {age(a.since, now)}"
    return text


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["   ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def sessions_table(sessions: Sequence[Session], *, wide: bool, all_namespaces: bool) -> str:
    headers = ["NAME", "STATUS", "AGENT", "BRANCH", "AGE"]
    families = any(s.family for s in sessions)
    if families:  # a fan-out's sessions are listed together (the engine sorts them so)
        headers.insert(1, "FAMILY")
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    if wide:
        headers += ["SYNC", "IMAGE", "NODE", "REASON"]
    rows = []
    now = datetime.now(UTC)
    for s in sessions:
        row = [
            s.name,
            s.status.value,
            agent_cell(s.agent, now),
            s.branch or "-",
            age(s.created_at, now),
        ]
        if families:
            row.insert(1, s.family or "-")
        if all_namespaces:
            row.insert(0, s.namespace)
        if wide:
            row += [s.sync.state if s.sync else "-", s.image or "-", s.node or "-", s.reason or ""]
        rows.append([printable(cell) for cell in row])  # before widths: escapes are wider
    return table(rows, headers)


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False)
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip()


def emit_sessions(sessions: Sequence[Session], fmt: str, *, all_namespaces: bool = False) -> None:
    if fmt in ("json", "yaml"):
        data = {
            "apiVersion": "kodama.dev/v1",
            "kind": "SessionList",
            "items": [s.to_json_dict() for s in sessions],
        }
        click.echo(dump(data, fmt))
    elif fmt == "name":
        for s in sessions:
            click.echo(f"session/{s.name}")
    else:
        if not sessions:
            click.echo("No sessions found.", err=True)
            return
        click.echo(sessions_table(sessions, wide=fmt == "wide", all_namespaces=all_namespaces))


def describe(s: Session) -> str:
    """Human view of one session (get without -o)."""
    now = datetime.now(UTC)
    lines = [
        f"Name:        {s.name}",
        f"Namespace:   {s.namespace}",
        f"Status:      {s.status.value}" + (f" ({s.reason})" if s.reason else ""),
        f"Agent:       {agent_cell(s.agent, now)}"
        + (f" — {s.agent.message}" if s.agent.message else ""),
        f"Branch:      {s.branch or '-'}"
        + (f" ({s.ahead} ahead of base)" if s.ahead is not None else ""),
        f"Base:        {s.base_branch or '-'} {(s.base_commit or '')[:12]}".rstrip(),
    ]
    if s.family:
        lines.append(f"Family:      {s.family} (`kubectl kodama compare {s.family}`)")
    if s.idle_stop:
        from kodama.agent.idle import format_duration

        lines.append(f"Idle stop:   after {format_duration(s.idle_stop)} idle, nobody attached")
    if s.repo:
        lines.append(f"Repository:  {s.repo}")
    lines += [
        f"Image:       {s.image or '-'}",
        f"Pod:         {s.pod or '-'}" + (f" on {s.node}" if s.node else ""),
        f"PVCs:        {', '.join(s.pvcs) or '-'}",
        f"Local path:  {s.local_path or '-'}",
        f"Age:         {age(s.created_at, now)}",
    ]
    if s.sync:
        sync = s.sync
        lines.append(f"Sync:        {sync.state}" + (" (connected)" if sync.connected else ""))
        if sync.last_error:
            lines.append(f"  Last error: {sync.last_error}")
        for c in sync.conflicts:
            lines.append(f"  Conflict:   {c.path}")
    if s.events:
        lines.append("Events:")
        lines += [f"  {e}" for e in s.events]
    return printable("\n".join(lines))
