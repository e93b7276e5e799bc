"""The agent in the pod: launch (idempotent), attach, headless prompts, state."""

from __future__ import annotations

from .events import CancelToken, Reporter
from .models import AgentState
from .runtime import PodContext


def ensure_agent(
    ctx: PodContext,
    reporter: Reporter,
    cancel: CancelToken,
    *,
    prompt: str | None = None,
    resume: bool = False,
) -> None:
    """Make sure the agent runs in the pod (placeholder until the agent work lands)."""
    cancel.check()


def attach_command(ctx: PodContext, command: list[str] | None) -> list[str]:
    """argv of `kubectl exec` that attaches to the agent, or runs `command` in the workspace."""
    if command:
        return ctx.kubectl.exec_argv(
            ctx.pod,
            ["sh", "-c", 'cd "$KODAMA_WORKSPACE" && exec "$@"', "kodama", *command],
            stdin=True,
        )
    return ctx.kubectl.exec_argv(
        ctx.pod, ["sh", "-c", ctx.spec.agent_command], stdin=True, tty=True
    )


def read_state(ctx: PodContext) -> AgentState:
    return AgentState()
