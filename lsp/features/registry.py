"""The one list of server commands: the server registers and advertises these, tests read it."""

from __future__ import annotations

from . import agent_cmds, family, session_cmds, setup_cmds, sync_cmds
from .commands import Handler

COMMANDS: dict[str, Handler] = {
    **session_cmds.COMMANDS,
    **agent_cmds.COMMANDS,
    **sync_cmds.COMMANDS,
    **family.COMMANDS,
    **setup_cmds.COMMANDS,
}

NAMES: tuple[str, ...] = tuple(COMMANDS)
