"""Two-way file sync between the local checkout and a session's workspace, with mutagen.

Mutagen has no Kubernetes transport, so Kodama bridges its SSH transport: Kodama runs its own
mutagen daemon (data under $KODAMA_HOME/mutagen) whose MUTAGEN_SSH_PATH holds `ssh` and `scp`
shims (kodama.sync.shims) that become `kubectl exec -i` into the session's pod. One daemon serves
every session; the fake host name `<name>.<namespace>.kodama` says which. When Kodama's last
mutagen session ends, the daemon is stopped too.

Safety: two-way-safe by default (conflicts are reported, never resolved), VCS folders, git-ignored
files and `sync.exclude` stay out, and mutagen's halt on a deleted or emptied root stays on.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kodama.config import SyncConfig, load_config
from kodama.errors import KodamaError
from kodama.events import CancelToken, Reporter
from kodama.k8s.cluster import KubeTarget, context_namespace
from kodama.k8s.kubectl import meaningful
from kodama.k8s.runtime import PodContext
from kodama.models import SyncConflict, SyncState, SyncStatus
from kodama.store import Store
from kodama.sync import seed
from kodama.sync.ignore import mutagen_ignores
from kodama.sync.mutagen import INSTALL_HINT as INSTALL_HINT
from kodama.sync.mutagen import Mutagen as Mutagen
from kodama.sync.mutagen import available as available
from kodama.sync.shims import host_for

SESSION_LABEL = "kodama-session"
NAMESPACE_LABEL = "kodama-namespace"


def session_name(namespace: str, name: str) -> str:
    return f"kodama-{namespace}-{name}"


def selector(namespace: str, name: str) -> str:
    return f"{SESSION_LABEL}={name},{NAMESPACE_LABEL}={namespace}"


# -- status ------------------------------------------------------------------------------------

# mutagen's status words -> Kodama's SyncState (its own word stays in SyncStatus.activity).
_ACTIVITY = {
    "disconnected": SyncState.DISCONNECTED,
    "connecting-alpha": SyncState.CONNECTING,
    "connecting-beta": SyncState.CONNECTING,
    "watching": SyncState.WATCHING,
    "scanning": SyncState.SCANNING,
    "waiting-for-rescan": SyncState.SCANNING,
    "reconciling": SyncState.RECONCILING,
    "staging-alpha": SyncState.STAGING,
    "staging-beta": SyncState.STAGING,
    "transitioning": SyncState.TRANSITIONING,
    "saving": SyncState.SAVING,
    "halted-on-root-emptied": SyncState.HALTED,
    "halted-on-root-deletion": SyncState.HALTED,
    "halted-on-root-type-change": SyncState.HALTED,
}
_HALTED = {
    "halted-on-root-emptied": "one side's folder was emptied; mutagen refuses to propagate that",
    "halted-on-root-deletion": "one side's folder was deleted; mutagen refuses to propagate that",
    "halted-on-root-type-change": "one side's root changed type; mutagen refuses to propagate that",
}


def _describe(changes: list[dict[str, Any]] | None, root: str) -> str | None:
    if not changes:
        return None
    first = changes[0]
    old, new = first.get("old"), first.get("new")
    kind = {"untracked": "ignored content", "problematic": "unreadable entry"}.get(
        str((new or {}).get("kind")), str((new or {}).get("kind", "entry"))
    )
    if new is None:
        text = "deleted"
    elif old is None:
        text = f"created {kind}"
    else:
        text = f"modified {kind}"
    path = first.get("path") or ""
    if path != root:
        text += f" at {path or '.'}"
    if len(changes) > 1:
        text += f" (+{len(changes) - 1} more)"
    return text


def parse_status(name: str, doc: dict[str, Any], local_path: str | None = None) -> SyncStatus:
    """One element of `mutagen sync list --template '{{ json . }}'` -> SyncStatus."""
    raw = str(doc.get("status") or "unknown")
    alpha, beta = doc.get("alpha") or {}, doc.get("beta") or {}
    state = SyncState.PAUSED if doc.get("paused") else _ACTIVITY.get(raw, SyncState.UNKNOWN)
    conflicts = [
        SyncConflict(
            path=c.get("root") or ".",
            alpha=_describe(c.get("alphaChanges"), c.get("root") or ""),
            beta=_describe(c.get("betaChanges"), c.get("root") or ""),
        )
        for c in doc.get("conflicts") or []
    ]
    problems: list[str] = []
    for side, endpoint in (("local", alpha), ("pod", beta)):
        for key in ("scanProblems", "transitionProblems"):
            for p in endpoint.get(key) or []:
                problems.append(f"{side}: {p.get('path') or '.'}: {p.get('error')}")
    last_error = doc.get("lastError") or _HALTED.get(raw)
    if last_error:
        # The transport is `kubectl exec`: its own lines ("command terminated with exit code
        # 1", klog E-lines) say nothing the rest of the message does not.
        last_error = "; ".join(meaningful(str(last_error))) or str(last_error)
    return SyncStatus(
        name=name,
        state=state,
        connected=bool(alpha.get("connected") and beta.get("connected")),
        last_error=last_error or None,
        conflicts=conflicts,
        mutagen_session=doc.get("name"),
        local_path=local_path or alpha.get("path"),
        activity=raw,
        problems=problems,
    )


def _record(store: Store, namespace: str, name: str) -> dict[str, Any] | None:
    record = store.read(namespace, name) or {}
    sync = record.get("sync")
    return sync if isinstance(sync, dict) else None


def status(store: Store, namespace: str, name: str) -> SyncStatus | None:
    """None when this machine does not sync the session; else what mutagen says about it."""
    rec = _record(store, namespace, name)
    if rec is None:
        return None
    base = SyncStatus(
        name=name,
        state=SyncState.STOPPED,
        mutagen_session=rec.get("session"),
        local_path=rec.get("local"),
    )
    if not available():
        return base.model_copy(
            update={"state": SyncState.UNAVAILABLE, "last_error": "mutagen is not installed"}
        )
    m = Mutagen()
    if not m.daemon_running():
        return base
    found = m.list(selector(namespace, name))
    return parse_status(name, found[0], rec.get("local")) if found else base


def statuses(store: Store) -> dict[tuple[str, str], SyncStatus]:
    """Every session this machine syncs, with one mutagen call (for `list`)."""
    wanted = {
        (r.get("namespace"), r.get("name")): r["sync"]
        for r in store.all()
        if isinstance(r.get("sync"), dict)
    }
    out: dict[tuple[str, str], SyncStatus] = {}
    if not wanted:
        return out
    running: dict[tuple[str, str], dict[str, Any]] = {}
    if available():
        m = Mutagen()
        if m.daemon_running():
            for doc in m.list(SESSION_LABEL):
                labels = doc.get("labels") or {}
                key = (str(labels.get(NAMESPACE_LABEL)), str(labels.get(SESSION_LABEL)))
                running[key] = doc
    for (ns, name), rec in wanted.items():
        if not isinstance(ns, str) or not isinstance(name, str):
            continue
        found = running.get((ns, name))
        out[(ns, name)] = (
            parse_status(name, found, rec.get("local"))
            if found
            else SyncStatus(name=name, state=SyncState.STOPPED, mutagen_session=rec.get("session"))
        )
    return out


# -- start / stop ------------------------------------------------------------------------------


def _exec_target(ctx: PodContext) -> dict[str, Any]:
    """Pin everything the shim needs, so a later context switch cannot redirect the sync."""
    kube = ctx.kubectl
    kubeconfig = os.path.abspath(os.path.expanduser(kube.kubeconfig)) if kube.kubeconfig else None
    context, _ = context_namespace(KubeTarget(kubeconfig, kube.context))
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigEnv": None if kubeconfig else os.environ.get("KUBECONFIG"),
        "context": context or kube.context,
        "pod": ctx.pod,
        "container": None,
    }


def start(
    ctx: PodContext, store: Store, reporter: Reporter, cancel: CancelToken, *, wait: bool = False
) -> SyncStatus | None:
    """Create (or keep) the mutagen session of this Kodama session. Idempotent.

    `wait`: return only once a new session's first cycle is done (the trees are equal), as
    `sync start` promises; an interruption then leaves the sync running, as without `wait`."""
    if ctx.local_path is None:
        raise KodamaError("this session has no local checkout to sync")
    local = ctx.local_path.resolve()
    spec = ctx.spec
    ns, name = spec.namespace, spec.name
    m = Mutagen()
    mname = session_name(ns, name)
    reporter.step("sync", f"Starting file sync between {local} and the workspace")
    cancel.check()
    other = synced_elsewhere(store, ns, name, local)
    if other is not None:
        raise KodamaError(
            f"{other['local']} is already synced two-way with session {other['name']} "
            f"(namespace {other['namespace']}); two agents' files would mix in it",
            hint=f"`kubectl kodama sync stop {other['name']}` first, or sync this session into "
            f"another folder: `kubectl kodama sync start {name} --local PATH`",
        )
    # The wish to sync is recorded first, so that `resume` retries it even if this start fails.
    rec = {
        **_exec_target(ctx),
        "session": mname,
        "host": host_for(ns, name),
        "local": str(local),
    }
    store.update(ns, name, sync=rec)
    cfg = load_config(local).config.sync
    with m.lifecycle():
        # No daemon running means no mutagen session yet: it starts while the seed runs.
        spawned = m.spawn_daemon()
        found = [] if spawned else m.list(selector(ns, name))
        if found:
            if found[0].get("paused"):
                m.run("sync", "resume", mname)
            reporter.info(f"File sync {mname} is already running")
            return status(store, ns, name)
        try:
            cancel.check()

            def planned(plan: seed.Plan) -> None:
                rec["workspace"] = plan.workspace
                store.update(ns, name, sync=rec)

            seed.fill(ctx, local, list(cfg.exclude), reporter, cancel, planned)
            cancel.check()
            m.wait_daemon()
            _create(m, mname, ns, name, local, f"{rec['host']}:{rec['workspace']}", cfg)
        except KodamaError:
            with contextlib.suppress(KodamaError):
                if spawned:  # a daemon still starting would outlive this otherwise
                    m.wait_daemon()
                m.stop_daemon_if_idle()
            raise
    if wait:
        reporter.step("compare", "Comparing both sides (mutagen's first cycle)")
        doc = m.first_cycle(selector(ns, name), cancel)
        st = parse_status(name, doc, rec["local"]) if doc else None
    else:
        st = status(store, ns, name)
    reporter.info(f"File sync {mname} ({cfg.mode}) is {st.state.value if st else 'starting'}")
    return st


def synced_elsewhere(store: Store, ns: str, name: str, local: Path) -> dict[str, Any] | None:
    """Another session this machine syncs into `local`, or into a folder inside or around it."""
    for record in store.all():
        sync = record.get("sync")
        if not isinstance(sync, dict) or (record.get("namespace"), record.get("name")) == (
            ns,
            name,
        ):
            continue
        theirs = Path(str(sync.get("local") or ""))
        if theirs.is_absolute() and (
            theirs == local or theirs in local.parents or local in theirs.parents
        ):
            return {"name": record.get("name"), "namespace": record.get("namespace"),
                    "local": str(theirs)}  # fmt: skip
    return None


def _create(
    m: Mutagen, mname: str, ns: str, name: str, local: Path, beta: str, cfg: SyncConfig
) -> None:
    # Ignore paths go through a configuration file: `--ignore` would split them on commas.
    ignores = [*mutagen_ignores(local, cfg.exclude), seed.IGNORE]
    with tempfile.NamedTemporaryFile(
        "w", prefix="kodama-sync-", suffix=".yml", dir=m.data_dir, delete=False
    ) as fh:
        yaml.safe_dump({"sync": {"defaults": {"ignore": {"paths": ignores}}}}, fh)
        config_file = fh.name
    try:
        m.run(
            "sync",
            "create",
            "--name",
            mname,
            "--label",
            f"{SESSION_LABEL}={name}",
            "--label",
            f"{NAMESPACE_LABEL}={ns}",
            "--mode",
            cfg.mode,
            "--ignore-vcs",
            "--ignore-syntax",
            "mutagen",
            # mutagen's portable default for new files is 0600; match a git checkout instead
            "--default-file-mode",
            "0644",
            "--default-directory-mode",
            "0755",
            "--no-global-configuration",  # the user's ~/.mutagen.yml must not weaken safety
            "--configuration-file",
            config_file,
            "--",
            str(local),
            beta,
            timeout=300,
        )
    finally:
        os.unlink(config_file)


def stop(store: Store, namespace: str, name: str, *, forget: bool = False) -> bool:
    """Terminate the session's mutagen session; stop the daemon if it was the last one.

    `forget` also drops the wish to sync (so `resume` does not start it again)."""
    stopped = False
    if available():
        m = Mutagen()
        with m.lifecycle():
            if m.daemon_running():
                stopped = bool(m.list(selector(namespace, name)))
                if stopped:
                    m.run("sync", "terminate", "--label-selector", selector(namespace, name))
                m.stop_daemon_if_idle()
    if forget:
        record = store.read(namespace, name)
        if record is not None and "sync" in record:
            record.pop("sync")
            store.write(namespace, name, record)
    return stopped


def control(store: Store, namespace: str, name: str, action: str, timeout: float = 600) -> None:
    """flush | pause | resume the session's mutagen session."""
    if action not in ("flush", "pause", "resume"):
        raise KodamaError(f"unknown sync action {action!r}")
    rec = _record(store, namespace, name)
    m = Mutagen()
    if rec is None or not m.daemon_running() or not m.list(selector(namespace, name)):
        raise KodamaError(
            f"session {name} is not being synced",
            hint=f"`kubectl kodama sync start {name}` starts it",
        )
    m.run("sync", action, session_name(namespace, name), timeout=timeout)
