"""Session files under KODAMA_HOME (~/.kodama/sessions). Atomic writes, mode 0600.

One YAML file per session, in the layout README.md documents ("Session files") (`name, namespace, repo,
branch, baseBranch, autoBranch, podName, workspacePVC, claudeHomePVC, commitHash, sync {enabled,
localPath, mutagenSession}, status, createdAt, updatedAt, resources`). The cluster stays the
source of truth: those fields are a readable cache refreshed by every command that reads the
session; the local facts (checkout path, kubeconfig/context, how mutagen reaches the pod) exist
only here. Never secrets.

File names: `<name>.yaml`; a session of the same name in another namespace goes to
`<name>.<namespace>.yaml` (names and namespaces are DNS labels: no dots, so no ambiguity).
Records of the older layout (`<namespace>/<name>.json`) are migrated on first use.

The rest of the engine sees a flat record: `localPath` at the top, and `sync` present only while
this machine syncs the session (mutagen's coordinates: session, pod, container, kube flags ...).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kodama.errors import InvalidInput
from kodama.home import SAFE_LABEL, kodama_home, load_record_file
from kodama.k8s import manifests

if TYPE_CHECKING:  # `list` reads session files before (or without) building any model
    from kodama.models import Session, SessionSpec


def _check_names(namespace: str, name: str) -> None:
    for part in (namespace, name):
        if not SAFE_LABEL.match(part):
            raise InvalidInput(f"refusing a local session record named {part!r}")


SEED_FIELDS = (
    "name",
    "namespace",
    "repo",
    "branch",
    "baseBranch",
    "autoBranch",
    "podName",
    "workspacePVC",
    "claudeHomePVC",
    "commitHash",
    "sync",
    "status",
    "createdAt",
    "updatedAt",
    "resources",
)
# Fields derived from the cluster: a change in any of them rewrites the file.
CLUSTER_FIELDS = tuple(
    f for f in SEED_FIELDS if f not in ("name", "namespace", "sync", "updatedAt")
)


def now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def cluster_fields(
    spec: SessionSpec, session: Session, local_path: str | None = None
) -> dict[str, Any]:
    """The file's fields that come from the cluster (the spec annotation, the pod and PVCs)."""
    resources: dict[str, Any] = {
        "cpu": spec.cpu,
        "memory": spec.memory,
        "storage": spec.workspace_size,
        "homeStorage": spec.home_size,
    }
    if spec.extra_resources:
        resources["extra"] = dict(spec.extra_resources)
    created = spec.created_at.isoformat().replace("+00:00", "Z") if spec.created_at else None
    return {
        # --repo's URL; a shipped session works on the local checkout it came from.
        "repo": spec.repo or local_path,
        "branch": spec.branch,
        "baseBranch": spec.base_branch,
        "autoBranch": spec.auto_branch,
        "podName": manifests.pod_name(spec.name),
        "workspacePVC": manifests.workspace_pvc_name(spec.name),
        "claudeHomePVC": manifests.home_pvc_name(spec.name),
        "commitHash": spec.base_commit,
        "status": session.status.value,
        "createdAt": created,
        "resources": resources,
    }


def to_file(record: dict[str, Any]) -> dict[str, Any]:
    """Flat engine record -> the file's layout (seed fields first, local facts after)."""
    rec = dict(record)
    local = rec.pop("localPath", None)
    internal = rec.pop("sync", None)
    sync: dict[str, Any] = {"enabled": isinstance(internal, dict), "localPath": local}
    if isinstance(internal, dict):
        extra = dict(internal)
        sync["localPath"] = local or extra.pop("local", None)
        extra.pop("local", None)
        sync["mutagenSession"] = extra.pop("session", None)
        sync.update(extra)
    else:
        sync["mutagenSession"] = None
    out: dict[str, Any] = {}
    for key in SEED_FIELDS:
        out[key] = sync if key == "sync" else rec.pop(key, None)
    out.update(rec)  # kubeconfig, context
    return out


def from_file(data: dict[str, Any]) -> dict[str, Any]:
    """The file's layout -> the flat record the engine uses."""
    rec = dict(data)
    sync = rec.pop("sync", None)
    sync = dict(sync) if isinstance(sync, dict) else {}
    rec["localPath"] = sync.pop("localPath", None)
    enabled = sync.pop("enabled", False)
    session = sync.pop("mutagenSession", None)
    if enabled:
        rec["sync"] = {**sync, "session": session, "local": rec["localPath"]}
    return rec


class Store:
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or kodama_home()
        self._migrated = False

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    # -- where a record lives -------------------------------------------------------------------

    def _load(self, path: Path) -> dict[str, Any] | None:
        return load_record_file(path)

    def _candidates(self, name: str) -> list[Path]:
        d = self.sessions_dir
        return [d / f"{name}.yaml", *sorted(d.glob(f"{name}.*.yaml"))]

    def path_of(self, namespace: str, name: str) -> Path | None:
        """The file holding (namespace, name), if there is one."""
        return self._located(namespace, name)[0]

    def _located(self, namespace: str, name: str) -> tuple[Path | None, dict[str, Any] | None]:
        """path_of, with the file's content when finding it meant reading it (`list` reads
        every session file: once each, not twice)."""
        _check_names(namespace, name)
        self._migrate()
        first = self.sessions_dir / f"{name}.yaml"
        data = self._load(first) if first.is_file() else None
        if data is not None and data.get("namespace") == namespace:
            return first, data
        other = self.sessions_dir / f"{name}.{namespace}.yaml"
        return (other if other.is_file() else None), None

    def _target(self, namespace: str, name: str) -> Path:
        """Where (namespace, name) is written: `<name>.yaml` unless another namespace has it."""
        found = self.path_of(namespace, name)
        if found is not None:
            return found
        first = self.sessions_dir / f"{name}.yaml"
        data = self._load(first) if first.is_file() else None
        if data is None or data.get("namespace") in (None, namespace):
            return first
        return self.sessions_dir / f"{name}.{namespace}.yaml"

    # -- read / write ---------------------------------------------------------------------------

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        path, data = self._located(namespace, name)
        if data is None and path is not None:
            data = self._load(path)
        return from_file(data) if data is not None else None

    def find(self, name: str) -> list[dict[str, Any]]:
        """Every record of sessions called `name`, whatever their namespace."""
        _check_names("default", name)
        self._migrate()
        out = []
        for path in self._candidates(name):
            data = self._load(path) if path.is_file() else None
            if data is not None and data.get("name") == name:
                out.append(from_file(data))
        return out

    def write(self, namespace: str, name: str, record: dict[str, Any]) -> None:
        rec = {**record, "name": name, "namespace": namespace, "updatedAt": now_text()}
        self._write_file(self._target(namespace, name), to_file(rec))

    def _write_file(self, path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(self.home, 0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                yaml.safe_dump(data, fh, sort_keys=False, default_flow_style=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Read-modify-write under one lock: `list` refreshing a file (an editor does it every
        few seconds) must not drop the sync record `sync start` writes at the same moment."""
        self.sessions_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.sessions_dir / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update(self, namespace: str, name: str, **fields: Any) -> dict[str, Any]:
        with self._locked():
            record = self.read(namespace, name) or {"name": name, "namespace": namespace}
            record.update(fields)
            self.write(namespace, name, record)
        return record

    def refresh(
        self,
        namespace: str,
        name: str,
        cluster: dict[str, Any],
        new: dict[str, Any] | None = None,
    ) -> bool:
        """Bring the cluster-derived fields up to date; write only when something changed.
        `new` holds the local facts of a record written afresh (kubeconfig, context)."""
        record = self.read(namespace, name)
        if record is not None and all(record.get(k) == cluster.get(k) for k in CLUSTER_FIELDS):
            return False
        with self._locked():
            record = self.read(namespace, name)
            base = record or {"kubeconfig": None, "context": None, "localPath": None, **(new or {})}
            base.update({k: cluster.get(k) for k in CLUSTER_FIELDS})
            self.write(namespace, name, base)
        return True

    def remove(self, namespace: str, name: str) -> None:
        path = self.path_of(namespace, name)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def all(self) -> list[dict[str, Any]]:
        self._migrate()
        out: list[dict[str, Any]] = []
        if not self.sessions_dir.is_dir():
            return out
        for path in sorted(self.sessions_dir.glob("*.yaml")):
            record = self._record_at(path)
            if record is not None:
                out.append(record)
        return out

    def _record_at(self, path: Path) -> dict[str, Any] | None:
        """The flat record in one session file (None: not a readable record)."""
        data = self._load(path)
        return from_file(data) if data is not None else None

    # -- the older layout -----------------------------------------------------------------------

    def _migrate(self) -> None:
        """`<namespace>/<name>.json` (flat records) -> YAML files; once per Store."""
        if self._migrated:
            return
        self._migrated = True
        if not self.sessions_dir.is_dir():
            return
        for old in sorted(self.sessions_dir.glob("*/*.json")):
            try:
                data = json.loads(old.read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(data, dict):
                continue
            ns, name = old.parent.name, old.stem
            if self.path_of(ns, name) is None:
                self.write(ns, name, data)
            with contextlib.suppress(OSError):
                old.unlink()
                old.parent.rmdir()  # only when it was the last record of that namespace
