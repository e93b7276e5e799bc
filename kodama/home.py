"""Where Kodama keeps its files on this machine (no config parsing: `list` needs only this)."""

from __future__ import annotations

import os
from pathlib import Path


def kodama_home() -> Path:
    return Path(os.environ.get("KODAMA_HOME") or Path.home() / ".kodama")
