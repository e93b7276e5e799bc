"""Server commands of the agent in the pod: attach, logs, wait."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kodama.events import CancelToken, EventSink
from kodama.models import AgentState, AgentStateName

from .commands import Call, Handler, NameArgs, kodama_cli, open_attach, open_terminal


class LogsArgs(NameArgs):
    follow: bool = False
    tail: int = -1
    raw: bool = False


class WaitArgs(NameArgs):
    state: Literal["working", "waiting", "idle", "exited"] = Field(alias="for")
    # Seconds, or the CLI's spelling ("30s", "5m", "1h30m"); none: until cancelled.
    timeout: float | str | None = None


async def attach(call: Call) -> dict[str, Any]:
    name = call.parse(NameArgs).name
    return await open_attach(call.ls, name)


async def logs(call: Call) -> dict[str, Any]:
    """The rendered log (what `kubectl kodama logs` prints), or a terminal that follows it.

    Following is a terminal running `kubectl kodama logs -f`, not a document the server keeps
    appending to: the editor's terminal already scrolls, searches and stops on Ctrl-C, and no
    server-side stream outlives the request."""
    a = call.parse(LogsArgs)
    engine = call.engine()
    if a.follow:

        def check() -> str:
            engine.logs_argv(a.name)  # NotFound / "not running" before a terminal opens
            return engine.spec_of(a.name)[0].namespace

        namespace = await call.ls.in_thread(check)
        argv = [*kodama_cli(), "logs", "-f", *call.ls.options.kube_flags(namespace), a.name]
        root = str(call.ls.workspace_root())
        opened = await open_terminal(
            call.ls, f"kodama logs: {a.name}", argv, root, "follow the log"
        )
        return {"argv": argv, "opened": opened}

    def read(_sink: EventSink, cancel: CancelToken) -> list[str]:
        from kodama.agent import logs as agent_logs

        argv = engine.logs_argv(a.name, tail=a.tail)
        return agent_logs.read(argv, a.name, raw=a.raw, cancel=cancel)

    lines = await call.with_progress(f"Kodama: reading the log of {a.name}", read)
    return {"name": a.name, "text": "".join(f"{line}\n" for line in lines), "lines": len(lines)}


async def wait(call: Call) -> dict[str, Any]:
    """Block (with progress, cancellable) until the agent reaches the state; the AgentState."""
    from kodama.validation import parse_timeout

    a = call.parse(WaitArgs)
    timeout = parse_timeout(a.timeout) if isinstance(a.timeout, str) else a.timeout
    engine = call.engine()

    def work(_sink: EventSink, cancel: CancelToken) -> AgentState:
        return engine.wait_agent(a.name, AgentStateName(a.state), timeout, cancel)

    state = await call.with_progress(f"Kodama: waiting for {a.name} to be {a.state}", work)
    return state.to_json_dict()


COMMANDS: dict[str, Handler] = {
    "kodama.session.attach": attach,
    "kodama.session.logs": logs,
    "kodama.session.wait": wait,
}
