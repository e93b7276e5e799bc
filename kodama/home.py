"""Where Kodama keeps its files on this machine, and how one of its session files is read (no
config parsing and no models: `list` and mutagen's ssh shim need only this)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

# Session names and namespaces are DNS-1123 labels: names can come from objects others write in
# a shared namespace, and a record must never land outside the sessions folder.
SAFE_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def kodama_home() -> Path:
    return Path(os.environ.get("KODAMA_HOME") or Path.home() / ".kodama")


def load_record_file(path: Path) -> dict[str, Any] | None:
    """A session file's mapping; None when it is missing, unreadable or not a mapping."""
    import yaml

    try:
        # libyaml when there: `list` reads every session file (500 in `list -A` at scale).
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None
