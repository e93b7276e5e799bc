"""-o table|wide|json|yaml|name rendering. Results go to stdout only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from kodama.printable import printable

if TYPE_CHECKING:  # models import pydantic: keep `--help` fast
    from kodama.models import Session

OUTPUT_CHOICES = ["table", "wide", "json", "yaml", "name"]


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
    from kodama.present import age, agent_cell, sync_summary

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
            row += [sync_summary(s.sync), s.image or "-", s.node or "-", s.reason or ""]
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
    from kodama.present import detail_lines

    return printable("\n".join(detail_lines(s)))
