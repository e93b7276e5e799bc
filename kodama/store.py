"""Local facts under KODAMA_HOME (~/.kodama): session records. Atomic writes, mode 0600.

Records hold only local facts (where the checkout is, which mutagen session syncs it, which
kubeconfig/context it was started with). Never secrets. They can be rebuilt from the cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from .config import kodama_home
from .errors import InvalidInput

# Session names and namespaces are DNS-1123 labels.
_SAFE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class Store:
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or kodama_home()

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    def _path(self, namespace: str, name: str) -> Path:
        # Names can come from objects others write in a shared namespace: a record must never
        # land outside sessions_dir.
        for part in (namespace, name):
            if not _SAFE.match(part):
                raise InvalidInput(f"refusing a local session record named {part!r}")
        return self.sessions_dir / namespace / f"{name}.json"

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(namespace, name).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, namespace: str, name: str, record: dict[str, Any]) -> None:
        path = self._path(namespace, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(self.home, 0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(record, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def update(self, namespace: str, name: str, **fields: Any) -> dict[str, Any]:
        record = self.read(namespace, name) or {"name": name, "namespace": namespace}
        record.update({k: v for k, v in fields.items()})
        self.write(namespace, name, record)
        return record

    def remove(self, namespace: str, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(namespace, name).unlink()

    def all(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self.sessions_dir.is_dir():
            return out
        for path in sorted(self.sessions_dir.glob("*/*.json")):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text())
                if isinstance(data, dict):
                    out.append(data)
        return out
