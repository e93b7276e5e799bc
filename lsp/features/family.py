"""Server commands of fan-outs and usage: compare a family, a session's diff, what sessions used."""

from __future__ import annotations

from typing import Any

from .commands import Call, Handler, NameArgs, _Args


class UsageArgs(_Args):
    name: str | None = None
    all_namespaces: bool = False


class DiffArgs(NameArgs):
    session: str


async def usage(call: Call) -> list[dict[str, Any]]:
    a = call.parse(UsageArgs)
    engine = call.engine()
    items = await call.ls.in_thread(lambda: engine.usage(a.name, all_namespaces=a.all_namespaces))
    return [u.to_json_dict() for u in items]


async def compare(call: Call) -> list[dict[str, Any]]:
    name = call.parse(NameArgs).name
    engine = call.engine()
    rows = await call.ls.in_thread(lambda: engine.compare(name))
    return [r.to_json_dict() for r in rows]


async def diff(call: Call) -> dict[str, Any]:
    a = call.parse(DiffArgs)
    engine = call.engine()
    patch = await call.ls.in_thread(lambda: engine.family_diff(a.name, a.session))
    return {"family": a.name, "session": a.session, "patch": patch}


COMMANDS: dict[str, Handler] = {
    "kodama.session.usage": usage,
    "kodama.family.compare": compare,
    "kodama.family.diff": diff,
}
