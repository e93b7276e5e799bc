"""sync start|stop|status|flush|pause|resume|push|pull."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
