"""Session files: the seed's layout, no collision across namespaces, migration of the old one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import yaml

from kodama.models import Session, SessionSpec, Status
from kodama.store import SEED_FIELDS, Store, cluster_fields


def _spec(ns: str = "agents") -> SessionSpec:
    return SessionSpec(
        name="fix-login",
        namespace=ns,
        image="img",
        cpu="2",
        memory="4Gi",
        workspace_size="10Gi",
        home_size="2Gi",
        branch="kodama/fix-login",
        auto_branch=True,
        base_branch="main",
        base_commit="abc123",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_file_holds_every_seed_field_and_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path)
    spec = _spec()
    session = Session(name=spec.name, namespace=spec.namespace, status=Status.RUNNING)
    store.write(
        "agents", "fix-login", {"localPath": "/src/app", "kubeconfig": "/k", "context": None}
    )
    assert store.refresh("agents", "fix-login", cluster_fields(spec, session, "/src/app"))
    path = tmp_path / "sessions" / "fix-login.yaml"
    data = yaml.safe_load(path.read_text())
    assert list(data)[: len(SEED_FIELDS)] == list(SEED_FIELDS)
    assert data["podName"] == "kodama-fix-login"
    assert data["workspacePVC"] == "kodama-fix-login-workspace"
    assert data["claudeHomePVC"] == "kodama-fix-login-home"
    assert data["commitHash"] == "abc123" and data["autoBranch"] is True
    assert data["createdAt"] == "2026-01-02T03:04:05Z" and data["status"] == "Running"
    assert data["resources"] == {
        "cpu": "2",
        "memory": "4Gi",
        "storage": "10Gi",
        "homeStorage": "2Gi",
    }
    assert data["sync"] == {"enabled": False, "localPath": "/src/app", "mutagenSession": None}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # Unchanged cluster fields: no rewrite.
    assert not store.refresh("agents", "fix-login", cluster_fields(spec, session, "/src/app"))
    assert store.read("agents", "fix-login")["localPath"] == "/src/app"


def test_sync_record_maps_to_the_seed_sync_block(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write("ns", "s", {"localPath": "/w"})
    store.update("ns", "s", sync={"session": "kodama-ns-s", "pod": "kodama-s", "local": "/w"})
    data = yaml.safe_load((tmp_path / "sessions" / "s.yaml").read_text())
    assert data["sync"]["enabled"] is True and data["sync"]["mutagenSession"] == "kodama-ns-s"
    assert data["sync"]["localPath"] == "/w" and data["sync"]["pod"] == "kodama-s"
    rec = store.read("ns", "s")
    assert (
        rec is not None and rec["sync"]["session"] == "kodama-ns-s" and rec["sync"]["local"] == "/w"
    )
    rec.pop("sync")
    store.write("ns", "s", rec)
    assert "sync" not in (store.read("ns", "s") or {})


def test_same_name_in_two_namespaces_does_not_collide(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write("a", "web", {"localPath": "/a"})
    store.write("b", "web", {"localPath": "/b"})
    files = sorted(p.name for p in (tmp_path / "sessions").iterdir())
    assert files == ["web.b.yaml", "web.yaml"]
    assert store.read("a", "web")["localPath"] == "/a"  # type: ignore[index]
    assert store.read("b", "web")["localPath"] == "/b"  # type: ignore[index]
    assert sorted(r["namespace"] for r in store.find("web")) == ["a", "b"]
    store.remove("a", "web")
    assert store.read("a", "web") is None and store.read("b", "web") is not None
    store.write("b", "web", {"localPath": "/b2"})  # stays in its own file
    assert sorted(p.name for p in (tmp_path / "sessions").iterdir()) == ["web.b.yaml"]
    assert [r["name"] for r in store.all()] == ["web"]


def test_old_layout_is_migrated_on_first_read(tmp_path: Path) -> None:
    old = tmp_path / "sessions" / "team" / "fix.json"
    old.parent.mkdir(parents=True)
    sync = {"session": "kodama-team-fix", "local": "/src", "pod": "kodama-fix"}
    old.write_text(
        json.dumps({"name": "fix", "namespace": "team", "localPath": "/src", "sync": sync})
    )
    rec = Store(tmp_path).read("team", "fix")
    assert rec is not None and rec["localPath"] == "/src" and rec["sync"]["pod"] == "kodama-fix"
    assert not old.exists() and not old.parent.exists()
    assert (tmp_path / "sessions" / "fix.yaml").is_file()


def test_find_ignores_other_names(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write("a", "web", {})
    store.write("a", "web-2", {})
    assert [r["name"] for r in store.find("web")] == ["web"]
